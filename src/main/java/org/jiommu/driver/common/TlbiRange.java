package org.jiommu.driver.common;

import java.util.ArrayList;
import java.util.List;

/**
 * One SMMUv3 address-based TLB invalidation (CMD_TLBI_NH_VA / _S2_IPA / _EL2_VA) as
 * {@code __arm_smmu_tlb_inv_range} (drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.c) splits a range
 * into them. With range invalidation (SMMU_IDR3.RIL) each command covers {@code (num + 1) <<
 * scale} pages of the translation granule {@code tg} (1 = 4 KiB, 2 = 16 KiB, 3 = 64 KiB) from
 * {@code address}; without it each command names one {@code granule}-sized block and the range
 * fields are zero.
 *
 * @param address the first byte the command invalidates
 * @param bytes how many bytes it covers
 * @param tg the TG field (0 without range invalidation)
 * @param scale SCALE: log2 of the chunk in pages
 * @param num NUM: the number of chunks minus one (0..31)
 * @param ttl TTL: the level of the leaf entries (0 = unknown: non-leaf or no range invalidation)
 */
public record TlbiRange(long address, long bytes, int tg, int scale, int num, int ttl) {
    /** CMDQ_TLBI_RANGE_NUM_MAX: NUM is five bits. */
    public static final int RANGE_NUM_MAX = 31;

    /**
     * The commands {@code __arm_smmu_tlb_inv_range} issues for [{@code iova}, {@code iova + size}).
     *
     * @param granule the size of the entries being invalidated (a leaf block or page size)
     * @param pageShift log2 of the domain's smallest page (12, 14 or 16): the TG of range commands
     * @param leaf whether only leaf entries changed (an unmap), which lets the command say TTL
     * @param rangeInvalidation SMMU_IDR3.RIL (ARM_SMMU_FEAT_RANGE_INV)
     */
    public static List<TlbiRange> split(long iova, long size, long granule, int pageShift, boolean leaf,
                                        boolean rangeInvalidation) {
        if (size <= 0 || granule <= 0 || Long.bitCount(granule) != 1) {
            throw new IllegalArgumentException("size " + size + ", granule " + granule);
        }
        List<TlbiRange> out = new ArrayList<>();
        long end = iova + size;
        if (!rangeInvalidation) {
            // One command per granule-sized block.
            for (long a = iova; Long.compareUnsigned(a, end) < 0; a += granule) {
                out.add(new TlbiRange(a, granule, 0, 0, 0, 0));
            }
            return out;
        }
        long pages = size >>> pageShift;
        int tg = (pageShift - 10) / 2;
        int ttl = 0;
        if (leaf) {
            // The level whose block size is the granule: 4 - (log2(granule) - 3) / (pageShift - 3).
            ttl = 4 - (Long.numberOfTrailingZeros(granule) - 3) / (pageShift - 3);
        } else if ((pages & RANGE_NUM_MAX) == 1) {
            // Non-leaf with TTL = 0: never let SCALE and NUM both be 0 (an erratum-prone encoding);
            // one extra page is invalidated instead.
            pages++;
        }
        long a = iova;
        while (pages > 0) {
            // Each command takes the lowest five significant bits of what is left.
            int scale = Long.numberOfTrailingZeros(pages);
            int num = (int) ((pages >>> scale) & RANGE_NUM_MAX);
            long bytes = (long) num << (scale + pageShift);
            out.add(new TlbiRange(a, bytes, tg, scale, num - 1, ttl));
            a += bytes;
            pages -= (long) num << scale;
        }
        return out;
    }
}
