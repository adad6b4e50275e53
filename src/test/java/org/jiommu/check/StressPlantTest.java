package org.jiommu.check;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * The stress run can fail: each planted bug (a driver fault, a rogue caller) must make the run
 * unclean, with the seed and the last calls in its description. The watch's reports of these
 * runs are the runs' own (StressHarness collects them for its core only); they are drained so the
 * test extension does not report them again.
 */
class StressPlantTest {
    private static StressHarness.Result run(StressHarness.Plant plant) {
        try {
            return StressHarness.run(new StressHarness.Config(7, 4, 300, 3).withPasids().serialised().planting(plant));
        } finally {
            InvariantWatch.drain();
        }
    }

    @Test
    @DisplayName("a driver that leaks IOPF references (S19) makes the run report its WARN")
    void iopfRefcountLeak() {
        StressHarness.Result r = run(StressHarness.Plant.named("iopf-refcount-leak"));
        assertThat(r.clean()).isFalse();
        assertThat(r.warnings()).as(r.toString()).anyMatch(w -> w.contains("iopf_refcount"));
        assertThat(r.toString()).contains("seed 7").contains("last calls");
    }

    @Test
    @DisplayName("a driver whose set_dev_pasid fails with -EIO makes the run report an errno no race explains")
    void setDevPasidEio() {
        StressHarness.Result r = run(StressHarness.Plant.named("set-dev-pasid-eio"));
        assertThat(r.clean()).isFalse();
        assertThat(r.unexpected()).as(r.toString()).anyMatch(u -> u.contains("EIO"));
        assertThat(r.trace()).isNotEmpty();
    }

    @Test
    @DisplayName("a caller freeing a bound process's global PASID makes the watch report I-MM-PASID")
    void roguePasidFree() {
        StressHarness.Result r = run(StressHarness.Plant.ROGUE_PASID_FREE);
        assertThat(r.clean()).isFalse();
        assertThat(r.reports()).as(r.toString()).flatMap(CoreWatch.Report::violations)
                .anyMatch(v -> v.invariant() == Invariant.MM_PASID);
    }

    @Test
    @DisplayName("the same seed without a planted bug is clean (the plants, not the churn, fail the runs above)")
    void controlRun() {
        StressHarness.Result r = run(StressHarness.Plant.NONE);
        assertThat(r.clean()).as(r.toString()).isTrue();
    }
}
