package org.jiommu.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class PgtableReplayCommandTest {
    @TempDir
    Path tmp;

    private final StringWriter out = new StringWriter();
    private final StringWriter err = new StringWriter();

    private int run(String... args) {
        CommandLine cl = Main.commandLine();
        cl.setOut(new PrintWriter(out));
        cl.setErr(new PrintWriter(err));
        return cl.execute(args);
    }

    @Test
    @DisplayName("jiommu pgtable replay prints the golden format and exits 0")
    void replaysGolden() throws Exception {
        Path ops = Paths.get("..", "shared", "vectors", "arm-lpae", "09_overlap_eexist.ops");
        assertThat(run("pgtable", "replay", ops.toString())).isEqualTo(Main.EXIT_OK);
        List<String> golden = Files.readAllLines(ops.resolveSibling("09_overlap_eexist.golden"),
                StandardCharsets.UTF_8);
        List<String> printed = out.toString().lines().toList();
        assertThat(printed.get(0)).startsWith("# jiommu pgtable replay");
        assertThat(printed.subList(1, printed.size())).containsExactlyElementsOf(golden.subList(1, golden.size()));
    }

    @Test
    @DisplayName("jiommu pgtable replay takes cfg vtdss / x86_64 programs and prints their golden format")
    void replaysGenericPtGolden() throws Exception {
        Path ops = Paths.get("..", "shared", "vectors", "vtd-x86", "11_x86_64_48.ops");
        assertThat(run("pgtable", "replay", ops.toString())).isEqualTo(Main.EXIT_OK);
        List<String> golden = Files.readAllLines(ops.resolveSibling("11_x86_64_48.golden"), StandardCharsets.UTF_8);
        List<String> printed = out.toString().lines().toList();
        assertThat(printed.subList(1, printed.size())).containsExactlyElementsOf(golden.subList(1, golden.size()));
    }

    @Test
    @DisplayName("a bad vtdss cfg option exits 2 with file:line")
    void badGenericPtOption() throws Exception {
        Path ops = tmp.resolve("bad.ops");
        Files.writeString(ops, "cfg vtdss 48\nmap 0 0 1000 rw\ncfg x86_64 48 snp\n");
        assertThat(run("pgtable", "replay", ops.toString())).isEqualTo(Main.EXIT_USAGE);
        assertThat(err.toString()).contains("bad.ops:3:").contains("vtdss feature").doesNotContain("Exception");
        assertThat(out.toString()).isEmpty();
    }

    @Test
    @DisplayName("an unknown command exits 2 with file:line and no stack trace")
    void unknownCommand() throws Exception {
        Path ops = tmp.resolve("bad.ops");
        Files.writeString(ops, "# comment\ncfg s1 4k 48 48\nfrobnicate 1000\n");
        assertThat(run("pgtable", "replay", ops.toString())).isEqualTo(Main.EXIT_USAGE);
        assertThat(err.toString()).startsWith(ops + ":3: unknown command 'frobnicate'").doesNotContain("Exception");
        assertThat(out.toString()).isEmpty();
    }

    @Test
    @DisplayName("a bad number exits 2 with file:line")
    void badNumber() throws Exception {
        Path ops = tmp.resolve("num.ops");
        Files.writeString(ops, "cfg s1 4k 48 48\nmap 0 0x12g 1000 rw\n");
        assertThat(run("pgtable", "replay", ops.toString())).isEqualTo(Main.EXIT_USAGE);
        assertThat(err.toString()).startsWith(ops + ":2: bad number '0x12g'");
    }

    @Test
    @DisplayName("a missing file exits 2")
    void missingFile() {
        assertThat(run("pgtable", "replay", tmp.resolve("none.ops").toString())).isEqualTo(Main.EXIT_USAGE);
        assertThat(err.toString()).contains("no such file");
    }
}
