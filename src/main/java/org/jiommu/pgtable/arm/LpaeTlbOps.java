package org.jiommu.pgtable.arm;

import org.jiommu.pgtable.IotlbGather;

/**
 * The TLB maintenance an io-pgtable format asks of its driver: the kernel's
 * {@code struct iommu_flush_ops} ({@code cfg->tlb}). The SMMU drivers implement it by issuing
 * invalidation commands; the defaults do nothing except record unmapped pages in the gather,
 * which is what a driver without its own {@code tlb_add_page} would leave to the core.
 *
 * <p>Called on the map/unmap paths: implementations must not allocate per call if they care
 * about speed, and must not call back into the page table.
 */
public interface LpaeTlbOps {
    /** No invalidation at all; unmapped pages are still recorded in the caller's gather. */
    LpaeTlbOps NONE = new LpaeTlbOps() {
    };

    /** {@code tlb_flush_all}: invalidate everything for this table (before it is freed). */
    default void tlbFlushAll() {
    }

    /**
     * {@code tlb_flush_walk}: invalidate cached walks (and leaves) for {@code [iova, iova+size)}
     * because a table page under it is about to be freed. Must complete before returning.
     */
    default void tlbFlushWalk(long iova, long size, long granule) {
    }

    /**
     * {@code tlb_add_page}: one leaf of {@code granule} bytes at {@code iova} was cleared; queue
     * its invalidation in {@code gather} (non-null, not queued). The default widens the gather's
     * range and sets its page size, without the sync-on-disjoint of
     * {@code iommu_iotlb_gather_add_page}, which needs the domain (SEMANTICS.md 9.5).
     */
    default void tlbAddPage(IotlbGather gather, long iova, long granule) {
        gather.addRange(iova, granule);
        gather.pgsize = granule;
    }
}
