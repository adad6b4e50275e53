package org.jiommu.core.spi;

/** {@code enum iommu_domain_cookie_type} (v6.15+): which user's cookie a domain carries. */
public enum CookieType {
    NONE,
    /** The DMA-API IOVA allocator of a default DMA/DMA_FQ domain. */
    DMA_IOVA,
    /** An MSI-only cookie (unmanaged domains used by VFIO with a software MSI window). */
    DMA_MSI,
    /** {@code iommu_set_fault_handler} was called. */
    FAULT_HANDLER,
    /** An SVA domain holding an mm. */
    SVA,
    /** Owned by iommufd. */
    IOMMUFD
}
