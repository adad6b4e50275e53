package org.jiommu.pgtable;

import java.util.function.Consumer;

/**
 * The TLB maintenance a page-table format asks of its driver, for every format: the kernel's
 * {@code struct iommu_flush_ops} ({@code io_pgtable_cfg->tlb}) plus the
 * {@code iommu_iotlb_sync(domain, gather)} a generic_pt table makes on its own. Each format
 * calls the part its kernel code calls:
 * <ul>
 * <li>ARM LPAE ({@code io-pgtable-arm.c}): {@link #tlbFlushAll} before the table is freed,
 *     {@link #tlbFlushWalk} before a table page under a range is freed, {@link #tlbAddPage} for
 *     each leaf an unmap clears;</li>
 * <li>the x86 formats (generic_pt, {@code iommu_pt.h}): {@link #iotlbSync} after a map that
 *     replaced empty tables by a large leaf, and after an unmap made without a caller's gather;
 *     cleared leaves are recorded in the gather directly, as the kernel does.</li>
 * </ul>
 * The defaults invalidate nothing ({@link #NONE}: a table no IOMMU walks).
 *
 * <p>Called on the map/unmap paths: implementations must not allocate per call if they care
 * about speed, and must not call back into the table except as {@link #iotlbSync} says.
 */
public interface TlbOps {
    /** No invalidation at all; unmapped pages are still recorded, freed tables still freed. */
    TlbOps NONE = new TlbOps() {
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

    /**
     * {@code iommu_iotlb_sync(domain, gather)} from inside {@code table}: the implementation owns
     * {@code gather}'s freelist. It invalidates {@code [gather.start, gather.end]} and the
     * paging-structure caches (tables were freed), and only then gives the pages back, usually
     * with {@code table.releaseFreelist(gather)}. The default, with no IOTLB to flush, only
     * gives them back.
     */
    default void iotlbSync(IoPageTable table, IotlbGather gather) {
        table.releaseFreelist(gather);
    }

    /**
     * TLB ops whose {@link #iotlbSync} is {@code sync} (which then owns the freelist), the rest
     * the defaults: the shape of a driver's {@code iotlb_sync} for a generic_pt table.
     */
    static TlbOps syncing(Consumer<IotlbGather> sync) {
        return new TlbOps() {
            @Override
            public void iotlbSync(IoPageTable table, IotlbGather gather) {
                sync.accept(gather);
            }
        };
    }
}
