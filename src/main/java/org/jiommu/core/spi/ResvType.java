package org.jiommu.core.spi;

/**
 * {@code enum iommu_resv_type} (SEMANTICS.md 2.8). The declaration order is the kernel's and
 * matters: reserved-region lists sort by (start, type).
 */
public enum ResvType {
    /** Must be identity-mapped at all times (RMRR, IVMD, IORT RMR); sets {@code require_direct}. */
    DIRECT("direct"),
    /** Advertised 1:1 but may be dropped for device assignment (USB, GPU RMRRs). */
    DIRECT_RELAXABLE("direct-relaxable"),
    /** Never map, never hand to a device. */
    RESERVED("reserved"),
    /** Hardware MSI window, untranslated. */
    MSI("msi"),
    /** IOVA window where software maps the MSI doorbell (shows as "msi" in sysfs). */
    SW_MSI("msi");

    private final String sysfsName;

    ResvType(String sysfsName) {
        this.sysfsName = sysfsName;
    }

    /** The word {@code /sys/kernel/iommu_groups/N/reserved_regions} prints. */
    public String sysfsName() {
        return sysfsName;
    }
}
