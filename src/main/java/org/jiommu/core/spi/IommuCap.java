package org.jiommu.core.spi;

/** {@code enum iommu_cap}: what {@code device_iommu_capable} asks a driver. */
public enum IommuCap {
    CACHE_COHERENCY,
    NOEXEC,
    PRE_BOOT_PROTECTION,
    ENFORCE_CACHE_COHERENCY,
    DEFERRED_FLUSH,
    DIRTY_TRACKING
}
