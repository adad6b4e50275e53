package org.jiommu.pgtable;

/**
 * The two calls the core's map/unmap loops make into a page table or a driver:
 * {@code map_pages} and {@code unmap_pages} of {@code iommu_domain_ops} / {@code io_pgtable_ops}.
 * Kernel conventions are kept on purpose: map returns 0 or a negative errno and adds the bytes it
 * mapped to {@code mapped} (even on error); unmap returns the bytes it removed (0 for nothing).
 */
public interface MapPagesOps {
    /**
     * Maps {@code pgcount} pages of {@code pgsize} from {@code iova} to {@code paddr}. May map
     * fewer than asked (e.g. only to the end of one table); the caller loops.
     *
     * @return 0, or a negative errno ({@link org.jiommu.base.Errno#neg()})
     */
    int mapPages(long iova, long paddr, long pgsize, long pgcount, int prot, Mapped mapped);

    /**
     * Unmaps up to {@code pgcount} pages of {@code pgsize} at {@code iova}, recording what must be
     * invalidated in {@code gather} (may be null).
     *
     * @return bytes unmapped; 0 if nothing was (a hole, or a partial large page)
     */
    long unmapPages(long iova, long pgsize, long pgcount, IotlbGather gather);
}
