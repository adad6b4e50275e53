package org.jiommu.hw.vtd;

import org.jiommu.bus.dma.TranslationResult;
import org.jiommu.hw.HwStats;
import org.jiommu.mem.MemoryFault;
import org.jiommu.mem.PhysicalMemory;

/**
 * The first-level (first-stage) walk of x86-64 4- or 5-level tables (HARDWARE.md 2.5, 5.3),
 * written from the format description only, and the nested walk that runs it on top of the
 * second level.
 *
 * <p>The input must be canonical for the 48- or 57-bit width (else 0x80). Per level: read the
 * entry (memory error: 0x73 at the top, 0x70 below); P (bit 0) clear faults 0x71; U/S (bit 2)
 * clear faults 0x81, because every request is a user request (the model has no privileged
 * requests, QEMU likewise); a write through RW (bit 1) = 0 faults 0x85; reserved bits fault
 * 0x72; then A (bit 5) is set in the entry, and D (bit 6) in the leaf for a write (an update
 * that cannot be written faults 0x91). Leaf: level 1, or PS (bit 7) at level 2, or at level 3
 * with 1 GiB support.
 *
 * <p>Reserved bits (QEMU VTD_FPTE_*_RSVD): address bits [51:HAW]; PS at levels 4/5; PS at
 * level 3 without FL1GP; bits 20:13 of a 2 MiB leaf and 29:13 of a 1 GiB leaf (bit 12 is PAT).
 * Bits 63:52 are ignored (XD included: execute requests are not modelled).
 *
 * <p>A read caches the write permission only if the leaf is already dirty, so that the first
 * write through a cached entry walks again and sets D, as an x86 TLB does.
 */
final class FirstLevelWalker {
    private static final long P = 1;
    private static final long RW = 1L << 1;
    private static final long US = 1L << 2;
    private static final long A = 1L << 5;
    private static final long D = 1L << 6;
    private static final long PS = 1L << 7;

    /** The second stage under a nested (PGTT = 3) first stage. */
    record Nested(SecondLevelWalker walker, long table, int levels, int inputBits) {
    }

    private final PhysicalMemory memory;
    private final HwStats.Counter walks;
    private final HwStats.Counter wordsRead;
    private final long addressMask;
    private final long addressReserved;
    private final boolean large1G;

    FirstLevelWalker(PhysicalMemory memory, VtdConfig cfg, HwStats.Counter walks, HwStats.Counter wordsRead) {
        this.memory = memory;
        this.walks = walks;
        this.wordsRead = wordsRead;
        int haw = cfg.hostAddressWidth();
        this.addressMask = ((1L << haw) - 1) & ~0xFFFL;
        this.addressReserved = ((1L << 52) - 1) & ~((1L << haw) - 1);
        this.large1G = cfg.firstLevel1G();
    }

    /**
     * @param levels 4 or 5
     * @param updateAccessed false for a side-effect-free probe (no A/D writes)
     * @param nested the second stage translating table addresses and the output, or null
     * @return 0, {@link SecondLevelWalker#NO_ACCESS}, or a fault reason
     */
    int walk(long table, int levels, long iova, boolean write, boolean translationRequest, boolean updateAccessed,
             Nested nested, TranslationResult out) {
        walks.increment();
        int width = levels == 5 ? 57 : 48;
        long top = iova >> (width - 1);
        if (top != 0 && top != -1) {
            return FaultReason.FS_NON_CANONICAL;
        }
        TranslationResult stage2 = nested == null ? null : new TranslationResult();
        boolean w = true;
        long base = table & addressMask;
        for (int level = levels; level >= 1; level--) {
            int shift = SecondLevelWalker.levelShift(level);
            long entryAddress = base + (((iova >>> shift) & 0x1FF) << 3);
            if (nested != null) {
                // The table address is a guest-physical address: translate it through the second stage.
                int f = secondStage(nested, entryAddress, false, false, stage2);
                if (f != 0) {
                    return f;
                }
                entryAddress = stage2.pa | (entryAddress & (stage2.pageSize - 1));
            }
            long pte;
            try {
                pte = memory.readLong(entryAddress);
            } catch (MemoryFault e) {
                return level == levels ? FaultReason.FS_PTPTR_INVALID : FaultReason.FS_PAGING_ENTRY_ACCESS;
            }
            wordsRead.increment();
            if ((pte & P) == 0) {
                return translationRequest ? SecondLevelWalker.NO_ACCESS : FaultReason.FS_PAGING_ENTRY_NOT_PRESENT;
            }
            if ((pte & US) == 0) {
                return translationRequest ? SecondLevelWalker.NO_ACCESS : FaultReason.FS_USER_SUPERVISOR;
            }
            w &= (pte & RW) != 0;
            if (write && !w && !translationRequest) {
                return FaultReason.SM_WRITE;
            }
            boolean ps = (pte & PS) != 0 && level > 1;
            boolean leaf = level == 1 || ps;
            long reserved = addressReserved;
            if (ps) {
                if (level == 2 || (level == 3 && large1G)) {
                    reserved |= ((1L << shift) - 1) & ~0x1FFFL;
                } else {
                    return FaultReason.FS_PAGING_ENTRY_RESERVED;
                }
            }
            if ((pte & reserved) != 0) {
                return FaultReason.FS_PAGING_ENTRY_RESERVED;
            }
            long flags = A | (leaf && write && w ? D : 0);
            if (updateAccessed && (pte & flags) != flags) {
                if (!setFlags(entryAddress, flags)) {
                    return FaultReason.FS_BIT_UPDATE_FAILED;
                }
                pte |= flags;
            }
            if (leaf) {
                boolean dirty = (pte & D) != 0 || !updateAccessed;
                long pageBase = pte & addressMask & ~((1L << shift) - 1);
                out.pa = pageBase;
                out.pageSize = 1L << shift;
                out.readable = true;
                out.writable = w && dirty;
                if (nested != null) {
                    long gpa = pageBase | (iova & ((1L << shift) - 1));
                    int f = secondStage(nested, gpa, write, translationRequest, stage2);
                    if (f != 0) {
                        return f;
                    }
                    long size = Math.min(out.pageSize, stage2.pageSize);
                    long hpa = stage2.pa | (gpa & (stage2.pageSize - 1));
                    out.pa = hpa & ~(size - 1);
                    out.pageSize = size;
                    out.readable = stage2.readable;
                    out.writable = out.writable && stage2.writable;
                }
                return 0;
            }
            base = pte & addressMask;
        }
        throw new AssertionError("first-level walk of " + levels + " levels ended without a leaf");
    }

    /** Second-stage translation of a guest-physical address inside a nested walk. */
    private static int secondStage(Nested n, long gpa, boolean write, boolean translationRequest,
                                   TranslationResult r) {
        if (n.inputBits() < 64 && (gpa >>> n.inputBits()) != 0) {
            return FaultReason.ADDRESS_BEYOND_MGAW;
        }
        return n.walker().walk(n.table(), n.levels(), gpa, write, translationRequest,
                FaultReason.CONTEXT_ENTRY_INVALID, r);
    }

    /** Atomically ORs A/D into an entry (a locked update, as hardware does). */
    private boolean setFlags(long entryAddress, long flags) {
        try {
            while (true) {
                long cur = memory.readLong(entryAddress);
                if ((cur & flags) == flags || memory.compareAndSetLong(entryAddress, cur, cur | flags)) {
                    return true;
                }
            }
        } catch (MemoryFault e) {
            return false;
        }
    }
}
