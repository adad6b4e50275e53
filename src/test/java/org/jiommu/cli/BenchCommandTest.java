package org.jiommu.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.ArrayList;
import java.util.List;
import org.jiommu.bench.BenchCase;
import org.jiommu.bench.Cases;
import org.jiommu.bench.KernelReference;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * {@code jiommu bench}: every case runs and reports through the JSON the CI reads.
 * Figures are printed, never asserted (timings are no test outcome): the checks are that every
 * case is there, that its numbers are positive and consistent, and that the kernel reference
 * carries its date.
 */
class BenchCommandTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Test
    @DisplayName("bench --quick --json: every registered case is present with positive figures and dated kernel references")
    void quickJsonHasEveryCase() throws Exception {
        // In this JVM and with 20 ms iterations to keep the suite short; the same harness a fork runs.
        Cli r = Cli.run("bench", "--quick", "--json", "--forks", "0", "--iteration-ms", "20");
        assertThat(r.exit).as(r.err).isZero();
        System.out.println(r.out);
        JsonNode root = JSON.readTree(r.out);
        assertThat(root.get("quick").asBoolean()).isTrue();
        assertThat(root.get("budget").get("iterationMillis").asInt()).isEqualTo(20);
        List<String> names = new ArrayList<>();
        for (JsonNode c : root.get("cases")) {
            names.add(c.get("name").asText());
            assertThat(c.get("median").asDouble()).as(c.toString()).isPositive();
            assertThat(c.get("min").asDouble()).as(c.toString()).isPositive()
                    .isLessThanOrEqualTo(c.get("median").asDouble());
            assertThat(c.get("max").asDouble()).as(c.toString()).isGreaterThanOrEqualTo(c.get("median").asDouble());
            assertThat(c.get("nsPerOp").asDouble()).as(c.toString()).isPositive();
            assertThat(c.get("operations").asLong()).as(c.toString()).isPositive();
            assertThat(c.get("iterations")).as(c.toString()).hasSize(root.get("budget").get("measuredIterations").asInt());
            for (JsonNode it : c.get("iterations")) {
                assertThat(it.asDouble()).as(c.toString()).isPositive();
            }
            BenchCase bc = Cases.byName(c.get("name").asText());
            if (bc.reference() == null) {
                assertThat(c.get("kernel").isNull()).as(c.toString()).isTrue();
            } else {
                // the same-sitting page-table figures (tools/kernel-bench), or a published
                // dma_map_benchmark one (no jiommu figure of its sitting)
                String date = c.get("name").asText().startsWith("dma-api/") ? "2025" : "2026-12-07";
                JsonNode k = c.get("kernel");
                assertThat(k.get("date").asText()).as(c.toString()).isEqualTo(date);
                assertThat(k.get("jiommuMedian").isNull()).as(c.toString()).isEqualTo(date.equals("2025"));
                assertThat(k.get("low").asDouble()).isEqualTo(bc.reference().low());
                assertThat(k.get("median").asDouble()).as(c.toString()).isBetween(k.get("low").asDouble(),
                        k.get("high").asDouble());
                if (!date.equals("2025")) {
                    assertThat(k.get("jiommuMedian").asDouble()).as(c.toString()).isBetween(
                            k.get("jiommuLow").asDouble(), k.get("jiommuHigh").asDouble());
                }
                assertThat(c.get("ratio").asDouble()).isEqualTo(c.get("nsPerOp").asDouble() / k.get("median").asDouble());
                assertThat(c.get("ratioLow").asDouble()).isPositive()
                        .isLessThanOrEqualTo(c.get("ratioHigh").asDouble());
            }
        }
        assertThat(names).containsExactlyElementsOf(Cases.all().stream().map(BenchCase::name).toList());
        assertThat(names).contains("arm-lpae-s1/map-4k", "vtd-sl/unmap-256x4k", "x86-fl/iova-to-phys",
                "vtd-dma/translate-hit", "vtd-dma/translate-walk", "smmuv2-dma/translate-hit",
                "smmuv2-dma/translate-walk", "smmuv3-dma/translate-hit", "smmuv3-dma/translate-walk",
                "dma-api/map-unmap-4k-strict", "dma-api/map-unmap-4k-lazy", "dma-api/iova-alloc-free-4k");
        assertThat(Cases.byName("dma-api/map-unmap-4k-strict").reference().source()).contains("dma_map_benchmark");
        assertThat(root.get("referenceNote").asText()).contains("2026-12-07", "tools/kernel-bench", "only indicative",
                "dma_map_benchmark");
    }

    @Test
    @DisplayName("bench in a forked JVM (thread CPU clock): one case comes back through the fork's result line")
    void forkedCase() throws Exception {
        Cli r = Cli.run("bench", "--quick", "--json", "--iteration-ms", "20", "--cpu-clock", "vtd-sl/iova-to-phys");
        assertThat(r.exit).as(r.err).isZero();
        System.out.println(r.out);
        JsonNode root = JSON.readTree(r.out);
        assertThat(root.get("budget").get("forks").asInt()).isEqualTo(1);
        assertThat(root.get("budget").get("clock").asText()).isEqualTo("thread-cpu");
        assertThat(root.get("cases")).hasSize(1);
        JsonNode c = root.get("cases").get(0);
        assertThat(c.get("name").asText()).isEqualTo("vtd-sl/iova-to-phys");
        assertThat(c.get("median").asDouble()).isPositive();
        assertThat(c.get("iterations")).hasSize(5);
    }

    @Test
    @DisplayName("bench table on a pipe: one row per selected case, the dated reference note, no control characters")
    void tableOnAPipe() {
        Cli r = Cli.run("bench", "--quick", "--forks", "0", "--iteration-ms", "5", "vtd-dma/translate-h",
                "arm-lpae-s1/map-2m", "dma-api/map-unmap-4k-s");
        assertThat(r.exit).as(r.err).isZero();
        System.out.println(r.out);
        KernelReference k = Cases.byName("arm-lpae-s1/map-2m").reference();
        assertThat(r.out).contains("vtd-dma/translate-hit", "arm-lpae-s1/map-2m",
                KernelReference.cell(k.median(), k.low(), k.high()) + " ns", "kernel 2026-12-07", "jiommu 2026-12-07",
                "only indicative", "dma-api/map-unmap-4k-strict", "700 ns (2025)")
                .doesNotContain("vtd-sl/", "dma-api/map-unmap-4k-lazy", "NaN", "\r", "\u001b");
        assertThat(r.err).doesNotContain("\r", "\u001b");
    }

    @Test
    @DisplayName("bench: a pattern matching no case is a usage error (exit 2); --list names every case")
    void usage() {
        Cli bad = Cli.run("bench", "no-such-case");
        assertThat(bad.exit).isEqualTo(Main.EXIT_USAGE);
        assertThat(bad.err).contains("no-such-case");
        Cli list = Cli.run("bench", "--list");
        assertThat(list.exit).isZero();
        for (BenchCase c : Cases.all()) {
            assertThat(list.out).contains(c.name());
        }
        assertThat(Cli.run("bench", "--threads", "0").exit).isEqualTo(Main.EXIT_USAGE);
    }

    @Test
    @DisplayName("bench scale --tiny: every phase runs through the core, with heap and per-object figures, and the translate comparison")
    void scaleTiny() {
        Cli r = Cli.run("bench", "scale", "--tiny");
        assertThat(r.exit).as(r.err).isZero();
        System.out.println(r.out);
        assertThat(r.out).contains("boot: add and probe 64 functions", "attach 1024 PASIDs", "map 1 GiB with 2M pages",
                "map 64 MiB with 4K pages", "heap per function", "heap per attached PASID", "heap per mapped 4K page",
                "of the small platform's rate");
        assertThat(Cli.run("bench", "scale", "--buses", "1").exit).isEqualTo(Main.EXIT_USAGE);
    }
}
