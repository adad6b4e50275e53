package org.jiommu.cli;

import static org.assertj.core.api.Assertions.assertThat;

import org.assertj.core.api.SoftAssertions;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** Issue 14: every command's `--help` is printed as written, never wrapped in the middle of a sentence. */
class HelpTextTest {
    @Test
    @DisplayName("run --help fits 80 columns and shows every description and footer line whole")
    void runHelpNotWrapped() {
        SoftAssertions soft = new SoftAssertions();
        assertPrintedWhole(soft, List.of("run"));
        soft.assertAll();
    }

    @Test
    @DisplayName("every command's --help fits 80 columns and shows every description and footer line whole")
    void everyHelpNotWrapped() {
        List<List<String>> paths = new ArrayList<>();
        collect(Main.commandLine(), new ArrayList<>(), paths);
        assertThat(paths).hasSizeGreaterThan(8);
        SoftAssertions soft = new SoftAssertions();
        for (List<String> path : paths) {
            assertPrintedWhole(soft, path);
        }
        soft.assertAll();
    }

    private static void collect(CommandLine cl, List<String> path, List<List<String>> out) {
        if (cl.getCommandSpec().userObject() instanceof CommandLine.HelpCommand) {
            return;
        }
        out.add(List.copyOf(path));
        for (var e : cl.getSubcommands().entrySet()) {
            List<String> sub = new ArrayList<>(path);
            sub.add(e.getKey());
            collect(e.getValue(), sub, out);
        }
    }

    private static void assertPrintedWhole(SoftAssertions soft, List<String> path) {
        List<String> args = new ArrayList<>(path);
        args.add("--help");
        Cli r = Cli.run(args.toArray(String[]::new));
        soft.assertThat(r.exit).as(String.join(" ", args)).isEqualTo(0);
        List<String> lines = r.out.lines().toList();
        for (String l : lines) {
            soft.assertThat(l.length()).as(String.join(" ", args) + " line within 80 columns: " + l).isLessThanOrEqualTo(80);
        }
        CommandLine cl = Main.commandLine();
        for (String p : path) {
            cl = cl.getSubcommands().get(p);
        }
        List<String> written = new ArrayList<>(List.of(cl.getCommandSpec().usageMessage().description()));
        written.addAll(List.of(cl.getCommandSpec().usageMessage().footer()));
        for (String w : written) {
            if (!w.isBlank()) {
                soft.assertThat(lines).as(String.join(" ", args) + " prints whole: " + w).contains(w.stripTrailing());
            }
        }
    }
}
