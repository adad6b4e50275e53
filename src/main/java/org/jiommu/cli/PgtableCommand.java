package org.jiommu.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.jiommu.pgtable.replay.LpaeReplay;
import org.jiommu.scenario.InvalidScenarioException;
import org.jiommu.scenario.Problem;
import org.jiommu.scenario.ScenarioReaderInput;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/** {@code jiommu pgtable}: page-table tools. */
@Command(name = "pgtable",
        mixinStandardHelpOptions = true,
        description = "Page-table formats: replay golden page-table programs.",
        subcommands = {PgtableCommand.Replay.class})
public final class PgtableCommand implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    /** {@code jiommu pgtable replay FILE.ops}: prints what the kernel's anchor harness printed. */
    @Command(name = "replay",
            mixinStandardHelpOptions = true,
            description = {
                "Run a .ops page-table program (see vectors/*/README.md) through jiommu's",
                "ARM LPAE format (cfg s1|s2) or its VT-d second-stage / x86-64 formats as",
                "generic_pt (cfg vtdss|x86_64) and print it in the .golden format (the first",
                "comment line names jiommu instead).",
                "Exit codes: 0 ok, 2 unreadable file or bad .ops input (reported as",
                "file:line: message)."
            })
    static final class Replay implements Callable<Integer> {
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Parameters(paramLabel = "FILE.ops", description = "the program to replay")
        Path file;

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            PrintWriter err = spec.commandLine().getErr();
            LpaeReplay.Result result;
            try {
                // The scenario reader's file rules: a regular file within the size limit, UTF-8.
                String text = ScenarioReaderInput.readText(file, ScenarioReaderInput.Limits.current().maxBytes());
                result = LpaeReplay.replay(file.toString(), text.lines().toList());
            } catch (LpaeReplay.OpsException e) {
                err.println(Problem.printable(e.getMessage()));
                err.flush();
                return Main.EXIT_USAGE;
            } catch (InvalidScenarioException e) {
                err.println("jiommu: " + e.problems().get(0));
                err.flush();
                return Main.EXIT_USAGE;
            }
            out.print(result.output());
            out.flush();
            return Main.EXIT_OK;
        }
    }
}
