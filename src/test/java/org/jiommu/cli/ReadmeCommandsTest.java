package org.jiommu.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** Issue 14: the README's commands work in a standalone clone (no file outside the repository). */
class ReadmeCommandsTest {
    private static List<String[]> commands() throws IOException {
        List<String[]> cmds = new ArrayList<>();
        for (String line : Files.readAllLines(Path.of("README.md"))) {
            String l = line.strip();
            if (l.startsWith("./jiommu ")) {
                String cmd = l.contains("#") ? l.substring(0, l.indexOf('#')).strip() : l;
                cmds.add(cmd.substring("./jiommu ".length()).split("\\s+"));
            }
        }
        return cmds;
    }

    @Test
    @DisplayName("every ./jiommu command of the README names files inside the repository, and exits 0")
    void readmeCommandsRun() throws IOException {
        List<String[]> cmds = commands();
        assertThat(cmds).hasSizeGreaterThanOrEqualTo(3);
        for (String[] args : cmds) {
            for (String a : args) {
                if (a.contains("/")) {
                    assertThat(a).as(String.join(" ", args)).doesNotStartWith("..").doesNotStartWith("/");
                    assertThat(Path.of(a)).as(String.join(" ", args)).isRegularFile();
                }
            }
            if (args[0].equals("bench")) {
                // the README's measuring run, in this JVM with 5 ms iterations to keep the suite
                // short: the same harness and cases (BenchCommandTest checks what it prints)
                List<String> a = new ArrayList<>(List.of(args));
                a.addAll(List.of("--forks", "0", "--iteration-ms", "5"));
                args = a.toArray(String[]::new);
            }
            if (args[0].equals("serve")) {
                // the README's explorer: started on a free port, fetched once, stopped (it would
                // run until interrupted); ServeCommandTest and the serve tests check the rest
                List<String> a = new ArrayList<>(List.of(args));
                a.addAll(List.of("--port", "0", "--self-test"));
                args = a.toArray(String[]::new);
            }
            Cli r = Cli.run(args);
            assertThat(r.exit).as(String.join(" ", args) + "\n" + r.err).isEqualTo(0);
        }
    }

    @Test
    @DisplayName("the vector shipped in vectors/ is the kernel's, and jiommu's replay of it matches its golden")
    void shippedVectorMatches() throws IOException {
        Path shared = Path.of("../shared/vectors/arm-lpae/09_overlap_eexist.ops");
        Path ops = Path.of("vectors/arm-lpae/09_overlap_eexist.ops");
        Path golden = Path.of("vectors/arm-lpae/09_overlap_eexist.golden");
        if (Files.exists(shared)) { // in the project's checkout: the copy has not drifted
            assertThat(Files.readAllBytes(ops)).isEqualTo(Files.readAllBytes(shared));
            assertThat(Files.readAllBytes(golden)).isEqualTo(Files.readAllBytes(shared.resolveSibling(
                    "09_overlap_eexist.golden")));
        }
        Cli r = Cli.run("pgtable", "replay", ops.toString());
        assertThat(r.exit).isEqualTo(0);
        List<String> want = Files.readAllLines(golden);
        List<String> got = r.out.lines().toList();
        // The first line names the producer (the kernel source vs jiommu); the rest must match.
        assertThat(got.subList(1, got.size())).isEqualTo(want.subList(1, want.size()));
    }
}
