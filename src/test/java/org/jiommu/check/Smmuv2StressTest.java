package org.jiommu.check;

import java.util.stream.Stream;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The stress run on the smmuv2 kind's bed (docs/check.md 4, docs/driver-smmuv2.md): the same
 * churn as {@link VtdStressTest} through the arm-smmu driver and the SMMUv2 unit, with DMA lanes
 * checked against each worker's mappings and I7 from the unit's registers at quiescent points.
 * One short seed, free and under the serial scheduler.
 */
class Smmuv2StressTest {
    static Stream<StressHarness.Config> configs() {
        return Stream.of(new StressHarness.Config(3, 4, 300, 3).on("smmuv2"));
    }

    @ParameterizedTest(name = "SMMUv2 stress seed {0}")
    @MethodSource("configs")
    @DisplayName("concurrent attach/claim/map churn on SMMUv2: invariants, I7 and every lane DMA as its owner mapped it")
    void stress(StressHarness.Config cfg) {
        VtdStressTest.assertClean(cfg, StressHarness.run(cfg));
        StressHarness.Config serial = cfg.serialised();
        StressHarness.Result r = StressHarness.run(serial);
        VtdStressTest.assertClean(serial, r);
        VtdStressTest.assertCoverage(serial, r);
    }

    @ParameterizedTest(name = "SMMUv2 stress seed {0} with PASIDs")
    @MethodSource("configs")
    @DisplayName("the same with the PASID churn, which an SMMUv2 refuses as the kernel does (no PASIDs, AUX for "
            + "context-switching masters only): nothing else may fail")
    void stressPasids(StressHarness.Config part1) {
        StressHarness.Config cfg = part1.withPasids().serialised();
        VtdStressTest.assertClean(cfg, StressHarness.run(cfg));
    }
}
