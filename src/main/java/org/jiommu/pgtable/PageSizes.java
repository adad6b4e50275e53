package org.jiommu.pgtable;

/**
 * The core's page-size choice for one step of a map or unmap loop: {@code iommu_pgsize()},
 * SEMANTICS.md 9.1. A pure function so every front end (core, replay, DMA API) uses one rule.
 */
public final class PageSizes {
    private PageSizes() {
    }

    /** One step: map/unmap {@code count} pages of {@code pgsize}. */
    public record Step(long pgsize, long count) {
    }

    /**
     * @param bitmap supported page sizes (bit n = 2^n bytes)
     * @param iova input address of the remaining run
     * @param paddr output address of the remaining run (iova again for unmap)
     * @param size bytes remaining, non-zero
     */
    public static Step pgsize(long bitmap, long iova, long paddr, long size) {
        if (size == 0) {
            throw new IllegalArgumentException("iommu_pgsize: size 0");
        }
        // 1. sizes no larger than the largest power of two <= size
        long candidates = bitmap & lowBitsThrough(Long.highestOneBit(size));
        // 2. sizes no larger than the alignment of iova | paddr
        long merge = iova | paddr;
        if (merge != 0) {
            candidates &= lowBitsThrough(Long.lowestOneBit(merge));
        }
        // 3. nothing fits: a kernel BUG(); callers check min-page alignment first
        if (candidates == 0) {
            throw new IllegalStateException(String.format(
                    "iommu_pgsize: no page size in %#x fits iova %#x paddr %#x size %#x", bitmap, iova, paddr, size));
        }
        // 4. the largest candidate
        long pgsize = Long.highestOneBit(candidates);
        int idx = Long.numberOfTrailingZeros(pgsize);
        // 5.-7. stop at the next boundary of a bigger page so the next step can use it
        long bigger = bitmap & ~lowBitsThrough(pgsize);
        if (bigger != 0) {
            long next = Long.lowestOneBit(bigger);
            if (((iova ^ paddr) & (next - 1)) == 0) {
                long offset = next - (merge & (next - 1));
                long end = offset + next;
                if (Long.compareUnsigned(end, offset) >= 0 && Long.compareUnsigned(end, size) <= 0) {
                    size = offset;
                }
            }
        }
        return new Step(pgsize, size >>> idx);
    }

    /** All bits at or below the single bit {@code bit}. */
    private static long lowBitsThrough(long bit) {
        return bit == 0 ? 0 : (bit << 1) - 1 | bit;
    }

    /** Smallest page size in {@code bitmap}. */
    public static long minPageSize(long bitmap) {
        return Long.lowestOneBit(bitmap);
    }
}
