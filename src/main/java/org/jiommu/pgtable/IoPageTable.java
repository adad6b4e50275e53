package org.jiommu.pgtable;

import org.jiommu.mem.FrameAllocator;

/**
 * One page table of some format in simulated physical memory: the model of
 * {@code struct io_pgtable_ops} (and of a generic_pt domain's table). Descriptors are real
 * bit-exact words in memory; the hardware walkers read them from there and never call this.
 *
 * <p>Thread safety: map and unmap of disjoint ranges may run concurrently (table pages are
 * installed with compare-and-set); overlapping concurrent calls are the caller's bug.
 */
public interface IoPageTable extends MapPagesOps {
    PgtableFormat format();

    /** The page sizes this table supports (bit n set = 2^n bytes). */
    long pgsizeBitmap();

    /** Input address width in bits. */
    int ias();

    /** Output address width in bits. */
    int oas();

    /** Physical address of the top-level table (what TTBR / VTTBR / SLPTPTR / FLPTPTR point at). */
    long root();

    /** Physical address {@code iova} maps to, or 0 if it is not mapped (as in the kernel, 0 is ambiguous). */
    long iovaToPhys(long iova);

    /** Visits every valid descriptor depth-first in index order (for dumps, checks and tests). */
    void walk(DescriptorVisitor visitor);

    /** Frees every table page. The table must not be used afterwards. */
    void free();

    /** Where the table pages come from (and go back to). */
    FrameAllocator allocator();

    /**
     * {@code iommu_put_pages_list(&gather->freelist)}: frees the table pages an unmap or a
     * table-to-leaf map put on {@code gather}'s freelist. Call it only after the IOTLB and
     * paging-structure caches were invalidated for the gather's range.
     */
    default void releaseFreelist(IotlbGather gather) {
        for (int i = 0; i < gather.freelist.size(); i++) {
            allocator().free(gather.freelist.get(i));
        }
        gather.freelist.clear();
    }

    /** Receives the descriptors of a {@link #walk}. */
    @FunctionalInterface
    interface DescriptorVisitor {
        /**
         * @param level the format's level number of the table holding the descriptor
         * @param iova the first input address the descriptor covers
         * @param size bytes the descriptor covers
         * @param pte the raw descriptor
         * @param leaf true for a block/page (leaf), false for a table pointer
         */
        void visit(int level, long iova, long size, long pte, boolean leaf);
    }
}
