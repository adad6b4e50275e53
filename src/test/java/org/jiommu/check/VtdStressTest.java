package org.jiommu.check;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.stream.LongStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The stress run on the VT-d platform (docs/check.md 4): the same churn as {@link StressTest}
 * through the VT-d driver and hardware model (scalable mode), with DMA lanes whose every DMA is
 * checked against the worker's own mappings, and the hardware agreement I7 at quiescent points,
 * at the end and after teardown. The default suite runs two short seeds; {@code
 * -Djiommu.stress=long} runs many. As in {@link StressTest}, each seed runs free (asserting what
 * holds in every interleaving) and under the seeded serial scheduler (asserting the coverage too).
 */
class VtdStressTest {
    static Stream<StressHarness.Config> configs() {
        if (StressTest.LONG) {
            return LongStream.rangeClosed(1, 100)
                    .mapToObj(s -> new StressHarness.Config(s, 4 + (int) (s % 5), 1000, 3).on("vtd"));
        }
        return LongStream.of(1, 42).mapToObj(s -> new StressHarness.Config(s, 4, 300, 3).on("vtd"));
    }

    @ParameterizedTest(name = "VT-d stress seed {0}")
    @MethodSource("configs")
    @DisplayName("concurrent attach/claim/map churn on VT-d: invariants, I7 and every lane DMA as its owner mapped it")
    void stress(StressHarness.Config cfg) {
        assertClean(cfg, StressHarness.run(cfg));
        StressHarness.Config serial = cfg.serialised();
        StressHarness.Result r = StressHarness.run(serial);
        assertClean(serial, r);
        assertCoverage(serial, r);
    }

    @ParameterizedTest(name = "VT-d stress seed {0} with PASIDs")
    @MethodSource("configs")
    @DisplayName("the same on VT-d racing PASID attach/replace/detach, global PASIDs, features, aux, SVA with mm exit and IOPF")
    void stressPasids(StressHarness.Config part1) {
        StressHarness.Config free = part1.withPasids();
        assertClean(free, StressHarness.run(free));
        StressHarness.Config cfg = free.serialised();
        StressHarness.Result r = StressHarness.run(cfg);
        assertClean(cfg, r);
        assertCoverage(cfg, r);
        // every part-2 call succeeded somewhere, page requests included: devices' DMA through their
        // SVA bonds demand-paged untouched pages (PAGE_REQUEST), faulted outside the VMA, and faulted
        // at PASID attachments (whose requests domain 0's handler answers, fails or keeps; whether a
        // kept one meets a PAGE_RESPONSE step is the scheduler's, so that is not required here)
        assertThat(r.successes().keySet()).as(r.toString())
                .containsAll(StressTest.PART2_DONE)
                .contains("SVA_DMA_FAULT", "PASID_DMA_FAULT");
    }

    static void assertClean(StressHarness.Config cfg, StressHarness.Result r) {
        assertThat(r.unexpected()).as(r.toString()).isEmpty();
        assertThat(r.warnings()).as(r.toString()).isEmpty();
        assertThat(r.reports()).as(r.toString()).isEmpty();
        assertThat(r.finalViolations()).as(r.toString()).isEmpty();
        assertThat(r.after().allocatedBytes()).as("frames after teardown (I10)").isEqualTo(r.baseline().allocatedBytes());
        assertThat(r.after().liveBlocks()).isEqualTo(r.baseline().liveBlocks());
        assertThat(r.clean()).isTrue();
        // the watch checked every call, I7 ran at every quiescent point (one per QUIESCE calls of
        // each worker, plus the end and teardown)
        assertThat(r.checks()).isGreaterThanOrEqualTo(r.calls());
        assertThat(r.hardwareChecks()).isEqualTo(cfg.opsPerThread() / StressHarness.QUIESCE + 2);
        if (StressTest.LONG) {
            System.out.println(r);
        }
    }

    /**
     * The run really churned and the lanes DMAd (a quarter of each worker's steps go to its lane:
     * DMAs are not core calls). Asserted on serial runs only: what a run covers depends on the
     * interleaving, and a serial run's interleaving is its seed's.
     */
    static void assertCoverage(StressHarness.Config cfg, StressHarness.Result r) {
        assertThat(cfg.serial()).isTrue();
        assertThat(r.calls()).isGreaterThan(cfg.threads() * cfg.opsPerThread() / 3);
        assertThat(r.dmaChecks()).isGreaterThan(cfg.threads() * cfg.opsPerThread() / 8);
        assertThat(r.successes().keySet()).contains("LANE_ATTACH", "UNMAP");
        assertThat(r.errors().keySet()).as("some calls lost a race").isNotEmpty();
    }

    @Test
    @DisplayName("the default VT-d list is short; the long run is behind -Djiommu.stress=long")
    void seedList() {
        List<StressHarness.Config> c = configs().toList();
        assertThat(c).allMatch(x -> x.kind().equals("vtd"));
        if (!StressTest.LONG) {
            assertThat(c).hasSize(2).allMatch(x -> x.threads() >= 4 && x.opsPerThread() <= 300);
        } else {
            assertThat(c.size()).isGreaterThan(50);
        }
    }
}
