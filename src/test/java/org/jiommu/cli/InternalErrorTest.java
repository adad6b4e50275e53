package org.jiommu.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.concurrent.Callable;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The last-resort handler: anything escaping a command is exit 3 and one line, the trace only with --debug. */
class InternalErrorTest {
    @Command(name = "boom")
    static final class Boom implements Callable<Integer> {
        @CommandLine.Option(names = "--error")
        boolean error;

        @Override
        public Integer call() {
            if (error) {
                throw new StackOverflowError("deep");
            }
            throw new IllegalStateException("model bug \u001b[2J here");
        }
    }

    private static String[] run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int exit = Main.execute(args, new PrintWriter(out, true), new PrintWriter(err, true),
                debug -> Main.commandLine(debug).addSubcommand(new Boom()));
        return new String[] {Integer.toString(exit), out.toString(), err.toString()};
    }

    @Test
    @DisplayName("an exception from a command is exit 3, one sanitised line asking for a report, no stack trace")
    void exception() {
        String[] r = run("boom");
        assertThat(r[0]).isEqualTo("3");
        assertThat(r[1]).isEmpty();
        assertThat(r[2]).isEqualTo("jiommu: internal error: IllegalStateException: model bug \\x1b[2J here (a bug in "
                + "jiommu: please report it with the command and its input; --debug shows the stack trace)\n");
    }

    @Test
    @DisplayName("an Error picocli does not catch (stack overflow) ends the same way")
    void error() {
        String[] r = run("boom", "--error");
        assertThat(r[0]).isEqualTo("3");
        assertThat(r[2]).startsWith("jiommu: internal error: StackOverflowError: deep").doesNotContain("\tat ");
        assertThat(r[2].lines().count()).isEqualTo(1);
    }

    @Test
    @DisplayName("--debug anywhere on the command line adds the stack trace")
    void debug() {
        String[] r = run("boom", "--debug");
        assertThat(r[0]).isEqualTo("3");
        assertThat(r[2]).startsWith("jiommu: internal error: IllegalStateException")
                .contains("\tat org.jiommu.cli.InternalErrorTest$Boom.call");
    }

    @Test
    @DisplayName("bad usage stays exit 2 with a one-line reason and a hint")
    void usage() {
        String[] r = run("run", "--no-such-option", "x.yaml");
        assertThat(r[0]).isEqualTo("2");
        assertThat(r[2].lines().findFirst().orElseThrow()).startsWith("jiommu: Unknown option: '--no-such-option'");
    }
}
