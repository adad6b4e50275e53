package org.jiommu.check;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.stream.LongStream;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.DisplayName;

/**
 * SVA in the SMMUv3 stress bed (docs/check.md 4): the world's processes take the kind's CPU
 * format (arm64), so SVA binds and its DMA walks the processes' AArch64 tables. The bed's PCI
 * functions do not stall, so the driver takes no page faults for them (a PCIe page request is
 * {@code arm_smmu_handle_ppr}'s, answered DENY): an untouched page faults, a page the process
 * wrote lands at the frame its mm maps. Under x86-64 processes every bind was -EOPNOTSUPP and
 * none of this ran.
 */
class Smmuv3SvaStressTest {
    static Stream<StressHarness.Config> configs() {
        return LongStream.of(1, 42).mapToObj(s -> new StressHarness.Config(s, 4, 300, 3).on("smmuv3").withPasids());
    }

    @ParameterizedTest(name = "SMMUv3 SVA stress seed {0}")
    @MethodSource("configs")
    @DisplayName("SMMUv3 stress with PASIDs binds arm64 processes: clean, and SVA DMA landed on written pages and faulted on untouched ones")
    void svaOnArm64(StressHarness.Config free) {
        assertClean(StressHarness.run(free));
        StressHarness.Config cfg = free.serialised();
        StressHarness.Result r = StressHarness.run(cfg);
        assertClean(r);
        assertThat(r.successes().keySet()).as(r.toString())
                .contains("SVA_BIND", "SVA_UNBIND", "SVA_DMA", "SVA_DMA_NO_IOPF", "SVA_DMA_FAULT");
        assertThat(r.errors().keySet()).as(r.toString()).noneMatch(k -> k.equals("SVA_BIND EOPNOTSUPP"));
    }

    private static void assertClean(StressHarness.Result r) {
        assertThat(r.unexpected()).as(r.toString()).isEmpty();
        assertThat(r.warnings()).as(r.toString()).isEmpty();
        assertThat(r.reports()).as(r.toString()).isEmpty();
        assertThat(r.finalViolations()).as(r.toString()).isEmpty();
        assertThat(r.after().allocatedBytes()).as("frames after teardown (I10)").isEqualTo(r.baseline().allocatedBytes());
        assertThat(r.clean()).isTrue();
    }
}
