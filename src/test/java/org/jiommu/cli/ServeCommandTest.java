package org.jiommu.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code jiommu serve}: its URL, loopback by default, and the refusals `run` makes. */
class ServeCommandTest {
    @Test
    @DisplayName("serve prints its URL on 127.0.0.1 with the port it really bound (port 0), and answers")
    void printsUrl() {
        Cli r = Cli.run("serve", "examples/vtd-vfio-passthrough.yaml", "--port", "0", "--self-test");
        assertThat(r.exit).as(r.err).isEqualTo(0);
        assertThat(r.out).containsPattern("^jiommu serve: http://127\\.0\\.0\\.1:[1-9][0-9]*/\n")
                .contains("GET /: 200").contains("GET /api/scenario: 200");
    }

    @Test
    @DisplayName("--host binds the address given")
    void host() {
        Cli r = Cli.run("serve", "--host", "localhost", "--port", "0", "--self-test");
        assertThat(r.exit).as(r.err).isEqualTo(0);
        assertThat(r.out).containsPattern("http://(127\\.0\\.0\\.1|\\[0:0:0:0:0:0:0:1\\]):[1-9]");
    }

    @Test
    @DisplayName("a missing file is reported as run reports it (the page shows it too); a bad port is refused, exit 2")
    void refusals() {
        Cli missing = Cli.run("serve", "no-such.yaml", "--port", "0", "--self-test");
        assertThat(missing.err).isEqualTo(Cli.run("run", "no-such.yaml").err).contains("no-such.yaml: no such file");
        Cli port = Cli.run("serve", "--port", "70000", "--self-test");
        assertThat(port.exit).isEqualTo(2);
        assertThat(port.err).contains("--port 70000: a TCP port is 0..65535");
    }

    @Test
    @DisplayName("an invalid scenario: the same file:line:column lines as run, and the page still serves them")
    void invalidFile(@TempDir Path dir) throws IOException {
        Path f = dir.resolve("bad.yaml");
        Files.writeString(f, "name: bad\nplatform:\n  memory: 1MiB\nsteps:\n  - no_such_op: {dev: x}\n");
        Cli run = Cli.run("run", f.toString());
        assertThat(run.exit).isEqualTo(2);
        Cli serve = Cli.run("serve", f.toString(), "--port", "0", "--self-test");
        assertThat(serve.err).isEqualTo(run.err).contains(f + ":5:");
        assertThat(serve.exit).isEqualTo(0);
        assertThat(serve.out).contains("GET /api/scenario: 200");
    }
}
