package org.jiommu.core.spi;

/** {@code IOMMU_HWPT_ALLOC_*} flags of {@code domain_alloc_paging_flags}. */
public final class AllocFlags {
    /** The domain must be attachable to PASIDs (asked for default domains of PASID-capable devices). */
    public static final int PASID = 1 << 3;
    /** A nesting parent. */
    public static final int NEST_PARENT = 1 << 0;
    /** Dirty tracking. */
    public static final int DIRTY_TRACKING = 1 << 1;

    private AllocFlags() {
    }
}
