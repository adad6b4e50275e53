package org.jiommu.serve;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import org.jiommu.scenario.InvalidScenarioException;
import org.jiommu.scenario.Scenario;
import org.jiommu.scenario.ScenarioReader;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.DisplayName;

/**
 * "Back" replays the first steps on a fresh platform without re-checking them
 * (ScenarioRunner.replay): the state it reaches must be the state a checked run reaches. In
 * every example, for each step k: back from the end to k gives the platform, statistics and
 * hardware dump a fresh run to k gives, and running forward again from there gives every later
 * step's report exactly as the first run did.
 */
class BackReplayTest {
    static java.util.stream.Stream<Path> examples() throws IOException {
        return WalkAgreesWithDmaTest.examples();
    }

    /** The JSON text with the identity hashes some core messages print (auxhandle@3f29e26) masked: they differ between any two runs. */
    private static String text(JsonNode n) {
        return n.toString().replaceAll("@[0-9a-f]+", "@#");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("examples")
    @DisplayName("back to any step reaches the state of a run to it, and forward again repeats the run")
    void backEqualsRun(Path file) throws IOException, InvalidScenarioException {
        Scenario s = ScenarioReader.read(file);
        ServeApi ref = ServeApi.of(s);
        ref.handle("step", Map.of("n", "end"));
        JsonNode allSteps = ref.handle("steps", Map.of());
        int total = s.steps().size();
        ServeApi back = ServeApi.of(s);
        for (int k = total - 1; k >= 0; k -= Math.max(1, total / 6)) {
            back.handle("step", Map.of("n", "end"));
            back.handle("step", Map.of("n", String.valueOf(k)));
            ServeApi fresh = ServeApi.of(s);
            fresh.handle("step", Map.of("n", String.valueOf(k)));
            String at = file + " back to step " + k;
            for (String what : new String[] {"platform", "stats", "steps"}) {
                assertThat(text(back.handle(what, Map.of()))).as(at + ": " + what).isEqualTo(text(fresh.handle(what, Map.of())));
            }
            back.handle("step", Map.of("n", "end"));
            assertThat(text(back.handle("steps", Map.of()))).as(at + ", then forward to the end").isEqualTo(text(allSteps));
        }
    }
}
