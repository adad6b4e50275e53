package org.jiommu.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Issue 14: the error paths of ops and pgtable end in exit 2 with one sanitised line too. */
class CliErrorPathsTest {
    @TempDir
    Path tmp;

    @Test
    @DisplayName("pgtable replay refuses a device and a directory without reading them")
    void replayNotRegular() {
        Cli r = Cli.run("pgtable", "replay", "/dev/zero");
        assertThat(r.exit).isEqualTo(2);
        assertThat(r.err).isEqualTo("jiommu: /dev/zero: not a regular file (a device, pipe or socket): "
                + "jiommu reads its input from files\n");
        r = Cli.run("pgtable", "replay", tmp.toString());
        assertThat(r.exit).isEqualTo(2);
        assertThat(r.err).isEqualTo("jiommu: " + tmp + ": is a directory, not a file\n");
    }

    @Test
    @DisplayName("pgtable replay refuses bytes that are not UTF-8 at their line and column")
    void replayBinary() throws IOException {
        Path ops = tmp.resolve("bin.ops");
        Files.write(ops, new byte[] {'c', 'f', 'g', '\n', 'm', (byte) 0xff, '\n'});
        Cli r = Cli.run("pgtable", "replay", ops.toString());
        assertThat(r.exit).isEqualTo(2);
        assertThat(r.err).startsWith("jiommu: " + ops + ":2:2: not UTF-8: byte 0xff");
        assertThat(r.err.lines().count()).isEqualTo(1);
    }

    @Test
    @DisplayName("an op name or option with escape characters is echoed escaped")
    void sanitisedEcho() {
        Cli r = Cli.run("ops", "x\u001b[2J");
        assertThat(r.exit).isEqualTo(2);
        assertThat(r.err).isEqualTo("jiommu: unknown op 'x\\x1b[2J' (jiommu ops lists them)\n");
        r = Cli.run("run", "--x\u001b]0;t\u0007", "f.yaml");
        assertThat(r.exit).isEqualTo(2);
        assertThat(r.err).doesNotContain("\u001b").contains("--x\\x1b]0;t\\x07");
    }
}
