package org.jiommu.check;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.stream.LongStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The concurrency stress of the core (ARCHITECTURE.md "Concurrency"): four threads attach,
 * detach, replace, claim and release, use and unuse, map and unmap on one platform; the watch
 * checks every call; teardown must leave no violation and the frame allocator at its baseline.
 * The default suite runs a short fixed seed list; {@code -Djiommu.stress=long} runs many more
 * seeds with more threads and calls.
 */
class StressTest {
    static final boolean LONG = "long".equals(System.getProperty("jiommu.stress"));

    static Stream<StressHarness.Config> configs() {
        if (LONG) {
            return LongStream.rangeClosed(1, 200).mapToObj(s -> new StressHarness.Config(s, 4 + (int) (s % 5), 2000, 3));
        }
        return LongStream.of(1, 2, 3, 42).mapToObj(s -> new StressHarness.Config(s, 4, 300, 3));
    }

    @ParameterizedTest(name = "stress seed {0}")
    @MethodSource("configs")
    @DisplayName("concurrent attach/detach/claim/release/map/unmap keeps every invariant and returns every frame")
    void stress(StressHarness.Config cfg) {
        StressHarness.Result r = StressHarness.run(cfg);
        assertThat(r.unexpected()).as(r.toString()).isEmpty();
        assertThat(r.reports()).as(r.toString()).isEmpty();
        assertThat(r.finalViolations()).as(r.toString()).isEmpty();
        assertThat(r.after().allocatedBytes()).as("frames after teardown").isEqualTo(r.baseline().allocatedBytes());
        assertThat(r.after().liveBlocks()).isEqualTo(r.baseline().liveBlocks());
        assertThat(r.clean()).isTrue();
        // the run really did something, and the watch checked every call
        assertThat(r.calls()).isGreaterThan(cfg.threads() * cfg.opsPerThread() / 2);
        assertThat(r.checks()).isGreaterThanOrEqualTo(r.calls());
        assertThat(r.errors().keySet()).as("some calls lost a race").isNotEmpty();
        if (LONG) {
            System.out.println(r);
        }
    }

    /** Keeps the seed list honest: short by default. */
    @org.junit.jupiter.api.Test
    @DisplayName("the default stress list is short; the long run is behind -Djiommu.stress=long")
    void seedList() {
        List<StressHarness.Config> c = configs().toList();
        if (!LONG) {
            assertThat(c).hasSize(4).allMatch(x -> x.threads() >= 4 && x.opsPerThread() <= 300);
        } else {
            assertThat(c.size()).isGreaterThan(100);
        }
    }
}
