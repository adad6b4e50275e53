package org.jiommu.core;

/**
 * Which kernel's behaviour the core follows where releases differ (SEMANTICS.md 1 and 12).
 * jiommu defaults to the newest; the older modes exist to show and test what changed.
 */
public enum KernelVersion {
    /**
     * v6.12..v6.18: {@code attach_dev(domain, dev)} without the old domain (the core passes null),
     * a failed group attach also re-attaches the failing device, no release-time RMR swap.
     */
    V6_18,
    /**
     * v6.19: {@code attach_dev(domain, dev, old)}; the revert loop skips the failing device; a
     * {@code require_direct} device is released onto IDENTITY instead of a BLOCKED release domain.
     */
    V6_19,
    /**
     * v7.0: {@code iommu_deferred_attach} takes the group mutex; {@code iommu_get_domain_for_dev}
     * must not be called with it held and drivers use {@code iommu_driver_get_domain_for_dev};
     * PCI reset hooks with {@code resetting_domain}.
     */
    V7_0;

    public boolean atLeast(KernelVersion v) {
        return compareTo(v) >= 0;
    }
}
