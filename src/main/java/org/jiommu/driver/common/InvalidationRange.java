package org.jiommu.driver.common;

/**
 * An address range turned into what one IOTLB invalidation command can carry.
 *
 * <p>{@link #alignedPow2}: VT-d's page-selective invalidations (and its device-TLB ones) name a
 * naturally aligned power-of-two number of pages by an address and a mask; the range is widened
 * to the smallest such block containing it ({@code calculate_psi_aligned_address} in
 * drivers/iommu/intel/cache.c). SMMUv3 range TLBIs (TG/SCALE/NUM) are {@link TlbiRange}.
 *
 * @param address the block's first byte (0 when {@link #order} is the caller's "all")
 * @param order log2 of the number of pages in the block
 */
public record InvalidationRange(long address, int order) {
    /**
     * The smallest naturally aligned block of 2^order pages of {@code 1 << pageShift} bytes
     * containing [{@code start}, {@code last}] (last inclusive); when no block short of the whole
     * space covers it, or {@code all}, the order is {@code allOrder} and the address 0.
     */
    public static InvalidationRange alignedPow2(long start, long last, boolean all, int pageShift, int allOrder) {
        if (all) {
            return new InvalidationRange(0, allOrder);
        }
        long pfn = start >>> pageShift;
        long pages = (last >>> pageShift) - pfn + 1;
        long aligned = pages <= 1 ? 1 : Long.highestOneBit(pages - 1) << 1;
        if (aligned <= 0) {
            aligned = Long.MIN_VALUE; // 2^63 pages: beyond any table
        }
        long bitmask = aligned - 1;
        int order = Long.numberOfTrailingZeros(aligned);
        if ((bitmask & pfn) != 0) {
            // Not aligned to its own size: widen until the first and last page share the high bits.
            long endPfn = pfn + pages - 1;
            long shared = ~(pfn ^ endPfn) & ~bitmask;
            order = shared != 0 ? Long.numberOfTrailingZeros(shared) : allOrder;
        }
        long address = order >= allOrder ? 0 : start & -((1L << pageShift) << order);
        return new InvalidationRange(address, order);
    }
}
