package org.jiommu.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every malformed file under src/test/resources/scenarios/malformed (one per error class) is
 * refused with exit 2, before any step runs, with a message at the position its first line
 * names: {@code # expect: LINE:COLUMN: message}.
 */
class MalformedScenarioTest {
    static final Path DIR = Path.of("src/test/resources/scenarios/malformed");

    static Stream<Path> files() throws IOException {
        try (Stream<Path> s = Files.list(DIR)) {
            return s.filter(p -> p.toString().endsWith(".yaml")).sorted().toList().stream();
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("files")
    @DisplayName("a malformed scenario exits 2 with the problem at its line and column")
    void refusedWithPosition(Path file) throws IOException {
        String first = Files.readAllLines(file).get(0);
        assertThat(first).startsWith("# expect: ");
        String expected = file + ":" + first.substring("# expect: ".length());

        Cli r = Cli.run("run", file.toString());

        assertThat(r.exit).isEqualTo(2);
        assertThat(r.out).as("nothing runs").isEmpty();
        assertThat(r.err.lines()).as(r.err).anyMatch(l -> l.startsWith(expected));
        assertThat(r.err).contains("nothing was run");
    }

    @Test
    @DisplayName("at least 15 error classes have a malformed example")
    void enoughClasses() throws IOException {
        assertThat(files().count()).isGreaterThanOrEqualTo(15);
    }

    @Test
    @DisplayName("every problem of a file is reported, in file order, not just the first")
    void allProblemsReported() throws IOException {
        Path f = Files.createTempFile("many", ".yaml");
        Files.writeString(f, String.join("\n", List.of(
                "name: three problems",
                "steps:",
                "  - mem_read: {paddr: 0x1z, size: 4}",
                "  - mem_write: {paddr: 0x1000}",
                "  - mem_raed: {paddr: 0, size: 1}",
                "")));
        Cli r = Cli.run("run", f.toString());
        assertThat(r.exit).isEqualTo(2);
        assertThat(r.err.lines().filter(l -> l.startsWith(f.toString())).map(l -> l.substring(f.toString().length())))
                .containsExactly(
                        ":3:23: mem_read argument 'paddr': bad number '0x1z': 'z' is not a hex digit",
                        ":4:16: missing argument 'data' of mem_write (hex string of bytes, e.g. \"deadbeef\")",
                        ":5:5: unknown op 'mem_raed' (did you mean 'mem_read'?) (jiommu ops lists them)");
        assertThat(r.err).contains("3 problems; nothing was run");
    }

    @Test
    @DisplayName("a missing file exits 2 and names the file")
    void missingFile() {
        Cli r = Cli.run("run", "no/such/file.yaml");
        assertThat(r.exit).isEqualTo(2);
        assertThat(r.err).contains("no/such/file.yaml: no such file");
    }

    @Test
    @DisplayName("when one of several files is invalid, no file runs")
    void oneInvalidStopsAll() throws IOException {
        Path good = Files.createTempFile("good", ".yaml");
        Files.writeString(good, "name: fine\nsteps:\n  - mem_write: {paddr: 0x1000, data: \"01\"}\n");
        Path bad = DIR.resolve("05-unknown-op.yaml");
        Cli r = Cli.run("run", good.toString(), bad.toString());
        assertThat(r.exit).isEqualTo(2);
        assertThat(r.out).isEmpty();
    }
}
