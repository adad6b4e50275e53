package org.jiommu.serve;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.jiommu.scenario.InvalidScenarioException;
import org.jiommu.scenario.ScenarioReader;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The walk view of every kind (vtd, mock, smmuv2) against the hardware itself: in every example,
 * at each dma step that was translated, the walk decoded from memory for the same device, PASID
 * and address ends at the address the DMA's first byte reached; at each one refused as blocked,
 * not-present or bad-pasid, the walk translates nothing.
 */
class WalkAgreesWithDmaTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    static Stream<Path> examples() throws IOException {
        try (Stream<Path> s = Files.list(Path.of("examples"))) {
            return s.filter(p -> p.toString().endsWith(".yaml")).sorted().toList().stream();
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("examples")
    @DisplayName("the walk of each dma step agrees with where the DMA went")
    void walkAgrees(Path file) throws IOException, InvalidScenarioException {
        ServeApi api = ServeApi.of(ScenarioReader.read(file));
        JsonNode steps = api.handle("steps", Map.of()).get("steps");
        int compared = 0;
        for (JsonNode st : steps) {
            JsonNode ran = api.handle("step", Map.of("n", st.get("step").asText())).get("step");
            if (!ran.get("op").asText().equals("dma")) {
                continue;
            }
            Map<String, String> q = new HashMap<>();
            q.put("dev", ran.get("args").get("dev").asText());
            q.put("iova", ran.get("args").get("iova").asText());
            if (ran.get("args").has("pasid")) {
                q.put("pasid", ran.get("args").get("pasid").asText());
            }
            if (!q.get("iova").matches("0x[0-9a-f]+|\\d+")) {
                continue; // an address bound by a step: the walk API takes numbers there
            }
            ObjectNode w;
            try {
                w = api.handle("walk", q);
            } catch (BadRequest noWalk) {
                assertThat(noWalk.getMessage()).as(ran.toString()).containsAnyOf("behind no IOMMU", "shows no walk");
                continue;
            }
            String where = file + " step " + ran.get("step") + " " + ran.get("call").asText() + "\n" + w.toPrettyString();
            if (ran.has("paddr")) {
                assertThat(w.get("outputAddress").asText()).as(where).isEqualTo(ran.get("paddr").asText());
                compared++;
            } else if (ran.has("fault") && List.of("blocked", "not-present", "bad-pasid").contains(ran.get("fault").asText())) {
                assertThat(w.get("outputAddress").isNull()).as(where).isTrue();
                compared++;
            }
            assertThat(w.get("entries").size()).as(where).isPositive();
        }
        if (Files.readString(file).contains("dma: {")) {
            assertThat(compared).as(file + ": dma steps compared").isPositive();
        }
    }
}
