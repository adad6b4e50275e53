package org.jiommu.check;

import static org.assertj.core.api.Assertions.assertThat;

import net.jqwik.api.ForAll;
import net.jqwik.api.Label;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.LongRange;

/**
 * Random single-threaded call sequences (the stress harness with one worker): with no overlap,
 * every call gets its transition invariants checked too, and nothing may be reported.
 */
class RandomSequenceTest {
    @Property(tries = 25)
    @Label("random call sequences keep every state and call invariant and return every frame")
    void randomSequences(@ForAll @LongRange(min = 1, max = 1_000_000) long seed) {
        StressHarness.Result r = StressHarness.run(new StressHarness.Config(seed, 1, 200, 2));
        assertThat(r.clean()).as(r.toString()).isTrue();
        assertThat(r.transitionChecks()).as("one thread: no call overlaps another").isEqualTo(r.checks());
    }

    @Property(tries = 15)
    @Label("random sequences with PASID, aux, SVA and IOPF calls keep every invariant, transitions included")
    void randomPasidSequences(@ForAll @LongRange(min = 1, max = 1_000_000) long seed) {
        StressHarness.Result r = StressHarness.run(new StressHarness.Config(seed, 1, 300, 2).withPasids());
        assertThat(r.clean()).as(r.toString()).isTrue();
        assertThat(r.transitionChecks()).as("one thread: no call overlaps another").isEqualTo(r.checks());
    }
}
