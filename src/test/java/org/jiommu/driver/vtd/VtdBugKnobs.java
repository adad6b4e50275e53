package org.jiommu.driver.vtd;

import org.jiommu.driver.common.DriverFaults;

/**
 * Tests elsewhere (the stress run in org.jiommu.check) plant driver bugs through the driver's
 * {@link DriverFaults}, which it exposes package-private only; this test-only bridge hands them
 * out, so the plants stay out of the driver's public API.
 */
public final class VtdBugKnobs {
    private VtdBugKnobs() {
    }

    /** The bugs planted in {@code driver}. */
    public static DriverFaults faults(VtdIommuDriver driver) {
        return driver.faults();
    }

    /** The next {@code n} unmap flushes of {@code driver} leave out their IOTLB invalidation. */
    public static void skipIotlbInvalidations(VtdIommuDriver driver, int n) {
        driver.faults().skip(DriverFaults.Skip.IOTLB, n);
    }
}
