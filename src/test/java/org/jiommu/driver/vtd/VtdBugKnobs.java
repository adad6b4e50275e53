package org.jiommu.driver.vtd;

/**
 * Tests elsewhere (the stress run in org.jiommu.check) plant driver bugs through the driver's
 * package-private knobs; this test-only bridge is the one way in, so the knobs stay out of the
 * driver's public API.
 */
public final class VtdBugKnobs {
    private VtdBugKnobs() {
    }

    /** The next {@code n} unmap flushes of {@code driver} leave out their IOTLB invalidation. */
    public static void skipIotlbInvalidations(VtdIommuDriver driver, int n) {
        for (int i = 0; i < n; i++) {
            driver.skipNextInvalidation(VtdIommuDriver.Invalidation.IOTLB);
        }
    }
}
