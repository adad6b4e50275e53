package org.jiommu.scenario;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Label;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/**
 * Whatever a file holds, the reader answers with a scenario or with problems that each name a
 * position inside the file: never an exception of its own (ARCHITECTURE: bad input gets a
 * message, never a stack trace).
 */
class ReaderRobustnessProperties {
    private static final List<String> SOURCES = load();

    private static List<String> load() {
        try (Stream<Path> s = Files.list(Path.of("examples"))) {
            return s.filter(p -> p.toString().endsWith(".yaml")).sorted().map(p -> {
                try {
                    return Files.readString(p);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }).toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** An example with a few characters deleted, replaced or inserted. */
    @Provide
    Arbitrary<String> mutated() {
        Arbitrary<String> source = Arbitraries.of(SOURCES);
        Arbitrary<List<int[]>> edits = Combinators.combine(
                Arbitraries.integers().between(0, 2),
                Arbitraries.integers().between(0, Integer.MAX_VALUE),
                Arbitraries.of((int) ' ', (int) ':', (int) '-', (int) '{', (int) '}', (int) '[', (int) '"', (int) '\n',
                        (int) 'x', (int) '0', (int) '#'))
                .as((kind, pos, ch) -> new int[] {kind, pos, ch}).list().ofMinSize(1).ofMaxSize(4);
        return Combinators.combine(source, edits).as((text, es) -> {
            StringBuilder sb = new StringBuilder(text);
            for (int[] e : es) {
                int at = e[1] % Math.max(1, sb.length());
                switch (e[0]) {
                    case 0 -> sb.deleteCharAt(at);
                    case 1 -> sb.setCharAt(at, (char) e[2]);
                    default -> sb.insert(at, (char) e[2]);
                }
            }
            return sb.toString();
        });
    }

    @Property(tries = 100)
    @Label("a mutated example is refused with positioned problems, or runs to its end without a model error")
    void neverThrows(@ForAll("mutated") String text) {
        long lines = text.lines().count() + 1;
        try {
            Scenario s = ScenarioReader.read("m.yaml", text);
            assertThat(s.name()).isNotNull();
            // A valid mutant also runs to its end: failed steps are reports, not exceptions.
            ScenarioRunner.FileReport r = new ScenarioRunner(false).run(s, new ScenarioRunner.StepListener() {
                @Override
                public void begin(Scenario sc, String platformSummary) {
                }

                @Override
                public void step(Scenario sc, ScenarioRunner.StepReport report) {
                    if (report.outcome() instanceof Outcome.Error e) {
                        assertThat(e.message()).as(report.step().written()).doesNotStartWith("model error");
                    }
                }

                @Override
                public void end(Scenario sc, ScenarioRunner.FileReport report) {
                }
            });
            assertThat(r.steps() + (r.platformError() == null ? 0 : 1)).isPositive();
        } catch (InvalidScenarioException e) {
            assertThat(e.problems()).isNotEmpty();
            for (Problem p : e.problems()) {
                assertThat(p.loc().line()).isBetween(1, (int) lines);
                assertThat(p.loc().column()).isPositive();
                assertThat(p.message()).isNotBlank();
            }
        }
    }
}
