package org.jiommu.core.spi;

/**
 * {@code IOMMU_DOMAIN_*}: a domain's type, which the kernel keeps as a bit set of the
 * {@code __IOMMU_DOMAIN_*} flags (SEMANTICS.md 2.5). Only these eight combinations exist, so the
 * model uses an enum and keeps the bits for the rules that test them ({@link #isPaging()},
 * {@link #isDmaApi()}).
 */
public enum DomainType {
    /** No DMA at all. */
    BLOCKED(0),
    /** iova == phys (passthrough). */
    IDENTITY(DomainType.PT),
    /** Caller-managed mappings (VFIO, iommufd, drivers with their own domain). */
    UNMANAGED(DomainType.PAGING),
    /** Default kernel DMA-API domain, strict invalidation. */
    DMA(DomainType.PAGING | DomainType.DMA_API),
    /** Default kernel DMA-API domain with a lazy flush queue. */
    DMA_FQ(DomainType.PAGING | DomainType.DMA_API | DomainType.FQ),
    /** Shares a process address space. */
    SVA(DomainType.SVA_BIT),
    /** Legacy drivers doing their own DMA ops. */
    PLATFORM(DomainType.PLATFORM_BIT),
    /** Stage 1 owned by user space, nested on a stage-2 parent. */
    NESTED(DomainType.NESTED_BIT);

    /** {@code __IOMMU_DOMAIN_PAGING}: supports map/unmap. */
    public static final int PAGING = 1 << 0;
    /** {@code __IOMMU_DOMAIN_DMA_API}: owned by the kernel DMA layer. */
    public static final int DMA_API = 1 << 1;
    /** {@code __IOMMU_DOMAIN_PT}: identity. */
    public static final int PT = 1 << 2;
    /** {@code __IOMMU_DOMAIN_DMA_FQ}: flush queue. */
    public static final int FQ = 1 << 3;
    /** {@code __IOMMU_DOMAIN_SVA}. */
    public static final int SVA_BIT = 1 << 4;
    /** {@code __IOMMU_DOMAIN_PLATFORM}. */
    public static final int PLATFORM_BIT = 1 << 5;
    /** {@code __IOMMU_DOMAIN_NESTED}. */
    public static final int NESTED_BIT = 1 << 6;

    /** The kernel's bit value of this type. */
    public final int bits;

    DomainType(int bits) {
        this.bits = bits;
    }

    /** {@code type & __IOMMU_DOMAIN_PAGING}: map/unmap are allowed. */
    public boolean isPaging() {
        return (bits & PAGING) != 0;
    }

    /** {@code iommu_is_dma_domain()}: owned by the DMA API. */
    public boolean isDmaApi() {
        return (bits & DMA_API) != 0;
    }

    /**
     * The word the group's sysfs {@code type} file shows (iommu_group_show_type): PLATFORM,
     * SVA and NESTED have none and show {@code unknown}.
     */
    public String sysfsName() {
        switch (this) {
            case BLOCKED: return "blocked";
            case IDENTITY: return "identity";
            case UNMANAGED: return "unmanaged";
            case DMA: return "DMA";
            case DMA_FQ: return "DMA-FQ";
            default: return "unknown";
        }
    }
}
