package org.jiommu.check;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * The seeded serial scheduler makes a stress run a function of its seed: two runs of one seed make
 * the same calls with the same results in the same order (the whole trace, every count, every DMA
 * outcome), on the mock and on VT-d, and another seed makes another run. This is what lets the
 * planted-bug proofs (StressPlantTest, VtdStressPlantTest) pass on every run whatever the load.
 */
class SerialSchedulerTest {
    private static String fingerprint(StressHarness.Result r) {
        return r.calls() + " " + r.errors() + " " + r.successes() + " " + r.unexpected() + " " + r.warnings() + " "
                + r.dmaChecks() + " " + r.hardwareChecks() + " " + r.after().allocatedBytes() + "\n"
                + String.join("\n", r.trace());
    }

    private static StressHarness.Result run(StressHarness.Config cfg) {
        try {
            return StressHarness.run(cfg);
        } finally {
            InvariantWatch.drain();
        }
    }

    @Test
    @DisplayName("a serial mock run with PASIDs is the same run every time for its seed, and clean")
    void mockRepeats() {
        StressHarness.Config cfg = new StressHarness.Config(11, 4, 200, 3).withPasids().serialised();
        StressHarness.Result a = run(cfg);
        StressHarness.Result b = run(cfg);
        assertThat(a.clean()).as(a.toString()).isTrue();
        assertThat(fingerprint(b)).isEqualTo(fingerprint(a));
        assertThat(a.errors()).as("workers still lose logical races (a claim another holds)").isNotEmpty();
        StressHarness.Result other = run(new StressHarness.Config(12, 4, 200, 3).withPasids().serialised());
        assertThat(fingerprint(other)).isNotEqualTo(fingerprint(a));
    }

    @Test
    @DisplayName("a serial VT-d run with PASIDs (lanes, SVA DMAs, page requests, I7) is the same run every time for its seed")
    void vtdRepeats() {
        StressHarness.Config cfg = new StressHarness.Config(7, 4, 200, 3).withPasids().on("vtd").serialised();
        StressHarness.Result a = run(cfg);
        StressHarness.Result b = run(cfg);
        assertThat(a.clean()).as(a.toString()).isTrue();
        assertThat(a.dmaChecks()).isPositive();
        assertThat(a.hardwareChecks()).isEqualTo(cfg.opsPerThread() / StressHarness.QUIESCE + 2);
        assertThat(fingerprint(b)).isEqualTo(fingerprint(a));
    }
}
