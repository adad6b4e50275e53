package org.jiommu.hw.vtd;

import org.jiommu.bus.dma.TranslationResult;
import org.jiommu.hw.HwStats;
import org.jiommu.mem.MemoryFault;
import org.jiommu.mem.PhysicalMemory;

/**
 * The second-level (second-stage) page walk, written from the VT-d format description
 * (HARDWARE.md 2.1, 2.5, 5.3) and nothing else: it shares no code with the page-table writer.
 *
 * <p>Per level, from the top (AW + 2 levels): read the 8-byte entry at
 * {@code table + ((iova >> (12 + 9 (level - 1))) & 0x1FF) * 8}; AND its R (bit 0) and W (bit 1)
 * into the permissions; an untranslated request without the permission it needs faults
 * (0x6 read, 0x5 write) right there, before reserved bits are looked at, as QEMU
 * vtd_iova_to_slpte does (an entry with R = W = 0 is "not present" and never reserved-checked);
 * reserved bits fault 0xC; a leaf is level 1 or PS (bit 7) at a level with large-page support;
 * otherwise descend to bits [HAW-1:12]. A memory error fetching the top-level entry faults with
 * the caller's code (0x3, "invalid context programming", as QEMU), deeper ones with 0x7.
 *
 * <p>Reserved bits (QEMU VTD_SPTE_*_RSVD_MASK, refined by the unit's capabilities): address
 * bits [51:HAW] and bit 62 (TM) in every entry; SNP (bit 11) except in a leaf of a unit with
 * snoop control; PS (bit 7) at levels 4 and 5, or at level 2/3 without 2 MiB/1 GiB support;
 * in a large leaf the address bits below the page size. Bits 63 and 61:52, A/D, EMT and X are
 * ignored. Level-1 bit 7 is ignored.
 */
final class SecondLevelWalker {
    /** {@link #walk} result for an ATS translation request that found no permission at all. */
    static final int NO_ACCESS = -1;

    private static final long TM = 1L << 62;
    private static final long SNP = 1L << 11;
    private static final long PS = 1L << 7;

    private final PhysicalMemory memory;
    private final HwStats.Counter walks;
    private final HwStats.Counter wordsRead;
    private final long addressMask;
    private final long commonReserved;
    private final long leafSnoopReserved;
    private final boolean large2M;
    private final boolean large1G;

    SecondLevelWalker(PhysicalMemory memory, VtdConfig cfg, HwStats.Counter walks, HwStats.Counter wordsRead) {
        this.memory = memory;
        this.walks = walks;
        this.wordsRead = wordsRead;
        int haw = cfg.hostAddressWidth();
        this.addressMask = ((1L << haw) - 1) & ~0xFFFL;
        this.commonReserved = (((1L << 52) - 1) & ~((1L << haw) - 1)) | TM;
        this.leafSnoopReserved = cfg.snoopControl() ? 0 : SNP;
        this.large2M = cfg.secondLevel2M();
        this.large1G = cfg.secondLevel1G();
    }

    static int levelShift(int level) {
        return 12 + 9 * (level - 1);
    }

    /**
     * Walks the table for one request. The caller has done the input-range check.
     *
     * @param topAccessFault fault code for a memory error on the top-level entry
     * @param out on success: {@code pa} = output page base, {@code pageSize}, {@code readable},
     *     {@code writable} (the permissions AND-ed over the walk)
     * @return 0 on success, {@link #NO_ACCESS}, or a fault reason
     */
    int walk(long table, int levels, long iova, boolean write, boolean translationRequest, int topAccessFault,
             TranslationResult out) {
        walks.increment();
        boolean r = true;
        boolean w = true;
        long base = table & addressMask;
        for (int level = levels; level >= 1; level--) {
            int shift = levelShift(level);
            long entryAddress = base + (((iova >>> shift) & 0x1FF) << 3);
            long pte;
            try {
                pte = memory.readLong(entryAddress);
            } catch (MemoryFault e) {
                return level == levels ? topAccessFault : FaultReason.PAGING_ENTRY_ACCESS;
            }
            wordsRead.increment();
            r &= (pte & 1) != 0;
            w &= (pte & 2) != 0;
            if (translationRequest) {
                if (!r && !w) {
                    return NO_ACCESS;
                }
            } else if (write ? !w : !r) {
                return write ? FaultReason.WRITE : FaultReason.READ;
            }
            boolean ps = (pte & PS) != 0 && level > 1;
            boolean leaf = level == 1 || ps;
            long reserved = commonReserved;
            if (leaf) {
                reserved |= leafSnoopReserved;
                if (ps) {
                    boolean supported = (level == 2 && large2M) || (level == 3 && large1G);
                    if (!supported) {
                        return FaultReason.PAGING_ENTRY_RESERVED;
                    }
                    reserved |= ((1L << shift) - 1) & ~0xFFFL;
                }
            } else {
                reserved |= SNP;
            }
            if ((pte & reserved) != 0) {
                return FaultReason.PAGING_ENTRY_RESERVED;
            }
            if (leaf) {
                out.pa = pte & addressMask & ~((1L << shift) - 1);
                out.pageSize = 1L << shift;
                out.readable = r;
                out.writable = w;
                return 0;
            }
            base = pte & addressMask;
        }
        throw new AssertionError("second-level walk of " + levels + " levels ended without a leaf");
    }
}
