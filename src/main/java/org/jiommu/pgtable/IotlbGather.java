package org.jiommu.pgtable;

import java.util.ArrayList;
import java.util.List;
import org.jiommu.base.Hex;

/**
 * {@code struct iommu_iotlb_gather}: the range and page size an unmap must invalidate, and the
 * table pages that may only be freed after that invalidation (the freelist).
 * SEMANTICS.md 9.5: init = {start = ULONG_MAX, end = 0, pgsize = 0}; end is inclusive.
 * Not final only so that a per-CPU user can pad it apart from other CPUs' data (the DMA layer).
 */
public class IotlbGather {
    public long start = -1L; // ULONG_MAX, compared unsigned
    public long end;
    public long pgsize;
    /** Set by a flush queue (DMA_FQ) that will invalidate later instead of now. */
    public boolean queued;
    /** Physical addresses of table pages to free once the IOTLB is synced. */
    public final List<Long> freelist = new ArrayList<>();

    public IotlbGather reset() {
        start = -1L;
        end = 0;
        pgsize = 0;
        queued = false;
        if (!freelist.isEmpty()) {
            freelist.clear(); // clear() writes the list even when empty: not on every unmap
        }
        return this;
    }

    public boolean isEmpty() {
        return end == 0 && start == -1L;
    }

    /** {@code iommu_iotlb_gather_is_disjoint}. */
    public boolean isDisjoint(long iova, long size) {
        long last = iova + size - 1;
        return end != 0 && (Long.compareUnsigned(last + 1, start) < 0 || Long.compareUnsigned(iova, end + 1) > 0);
    }

    /** {@code iommu_iotlb_gather_add_range}: widens [start, end]. */
    public void addRange(long iova, long size) {
        long last = iova + size - 1;
        if (Long.compareUnsigned(iova, start) < 0) {
            start = iova;
        }
        if (Long.compareUnsigned(last, end) > 0) {
            end = last;
        }
    }

    @Override
    public String toString() {
        return isEmpty() ? "gather{}"
                : "gather{" + Hex.of(start) + ".." + Hex.of(end) + " pgsize=" + Hex.of(pgsize) + " freelist=" + freelist.size() + "}";
    }
}
