package org.jiommu.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** Every scenario in examples/ runs green through `jiommu run`. */
class ExamplesTest {
    static Stream<Path> examples() throws IOException {
        try (Stream<Path> s = Files.list(Path.of("examples"))) {
            return s.filter(p -> p.toString().endsWith(".yaml")).sorted().toList().stream();
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("examples")
    @DisplayName("an example scenario runs green")
    void runsGreen(Path example) {
        Cli r = Cli.run("run", example.toString());
        assertThat(r.exit).as(r.out + r.err).isEqualTo(0);
        assertThat(r.out).contains("PASSED").doesNotContain("FAILED");
        assertThat(r.err).isEmpty();
    }
}
