package org.jiommu.serve;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Map;
import org.jiommu.scenario.ScenarioReader;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * The generated platform the step time is measured on (256 functions, ServeStepTiming): valid,
 * and shown whole. Run here at 64 functions to keep the suite short; the shape is the same.
 */
class LargePlatformTest {
    private static final int N = 64;

    @Test
    @DisplayName("the generated scenario (64 functions) runs green through the API, each function in its group on its guest domain")
    void runsAndShows() throws Exception {
        ServeApi api = ServeApi.of(ScenarioReader.read("large.yaml", LargePlatform.scenario(N)));
        JsonNode end = api.handle("step", Map.of("n", "end"));
        assertThat(end.get("position").asInt()).isEqualTo(N * 7);
        assertThat(api.handle("steps", Map.of()).get("steps").findValuesAsText("status")).hasSize(N * 7).containsOnly("ok");
        JsonNode p = api.handle("platform", Map.of());
        assertThat(p.get("devices")).hasSize(N);
        assertThat(p.get("groups")).hasSize(N);
        for (JsonNode g : p.get("groups")) {
            assertThat(g.get("devices")).hasSize(1);
            String fn = g.get("devices").get(0).asText();
            assertThat(g.get("domain").get("name").asText()).isEqualTo("g" + fn.substring(2));
            assertThat(g.get("owner").asText()).isEqualTo("vfio");
        }
        JsonNode w = api.handle("walk", Map.of("dev", "fn" + (N - 1), "iova", "0x1234"));
        assertThat(w.get("outputAddress").asText()).isEqualTo("0x" + Long.toHexString(0x4001234L + (N - 1) * 0x10000L));
    }
}
