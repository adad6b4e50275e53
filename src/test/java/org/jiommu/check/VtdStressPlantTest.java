package org.jiommu.check;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * The VT-d stress run can fail: a driver that skips the IOTLB invalidation of an unmap lets a
 * worker's DMA land after its unmap returned; a stray PASID entry left in a table is found by I7
 * at a quiescent point. The same seed with nothing planted is clean.
 */
class VtdStressPlantTest {
    private static final StressHarness.Config CFG = new StressHarness.Config(7, 4, 300, 3).withPasids().on("vtd").serialised();

    @Test
    @DisplayName("a driver skipping IOTLB invalidations: a lane DMA after a completed unmap, or an SVA DMA after its process exited, lands (stale IOTLB)")
    void staleIotlb() {
        StressHarness.Result r = StressHarness.run(CFG.planting(StressHarness.Plant.named("skip-iotlb-invalidation")));
        InvariantWatch.drain();
        assertThat(r.clean()).isFalse();
        assertThat(r.unexpected()).as(r.toString())
                .anyMatch(u -> u.startsWith("DMA ") && u.contains("not mapped by its owner") && u.contains("landed")
                        // the exit's secondary TLB invalidation is skipped too (which one the
                        // interleaving catches first is the scheduler's)
                        || u.startsWith("SVA DMA ") && u.contains("(exited)") && u.contains("landed"));
        assertThat(r.toString()).contains("seed 7").contains("last calls");
    }

    @Test
    @DisplayName("a stray present PASID entry in a table the core never asked for is reported by I7 at a quiescent point")
    void strayPasidEntry() {
        StressHarness.Result r = StressHarness.run(CFG.planting(StressHarness.Plant.named("stray-pasid-entry")));
        InvariantWatch.drain();
        assertThat(r.clean()).isFalse();
        assertThat(r.unexpected()).as(r.toString())
                .anyMatch(u -> u.startsWith("I7 at quiescent point 2: ") && u.contains("a2 PASID 5")
                        && u.contains("that the core does not know"));
    }

    @Test
    @DisplayName("the same VT-d seed without a planted bug is clean")
    void controlRun() {
        StressHarness.Result r = StressHarness.run(CFG);
        InvariantWatch.drain();
        assertThat(r.clean()).as(r.toString()).isTrue();
        assertThat(r.dmaChecks()).isPositive();
    }
}
