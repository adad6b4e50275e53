package org.jiommu.driver.vtd;

/**
 * The driver's own writers of VT-d structures and invalidation descriptors, written from the
 * field tables of HARDWARE.md 2.2-2.7 (the kernel's {@code context_set_*}, {@code pasid_set_*}
 * and {@code qi_desc_*} helpers do the same job). They share nothing with the hardware model's
 * decoders in {@code org.jiommu.hw.vtd}: a mistake here shows up as a DMA that goes wrong, not
 * as two halves that agree on a wrong bit.
 *
 * <p>Every method returns the words of one entry or descriptor, lowest first. Addresses must be
 * 4 KiB aligned where a field holds bits 63:12; the methods mask, they do not check (the callers
 * pass frame addresses from the frame allocator).
 */
public final class VtdEncoder {
    private VtdEncoder() {
    }

    private static final long PAGE_MASK = ~0xFFFL;

    // ---- root and context entries (HARDWARE.md 2.2, 2.3) ----

    /** Legacy translation types (context entry TT, bits 3:2). */
    public static final int TT_MULTI_LEVEL = 0;
    public static final int TT_DEV_IOTLB = 1;
    public static final int TT_PASS_THROUGH = 2;

    /** Legacy root entry: P, context-table pointer; the upper qword is reserved. */
    public static long[] rootEntry(long contextTable) {
        return new long[] {(contextTable & PAGE_MASK) | 1, 0};
    }

    /**
     * Scalable-mode root entry: LP/LCTP for devfn 0-127 and UP/UCTP for 128-255; a zero table
     * address leaves that half not present.
     */
    public static long[] scalableRootEntry(long lowerContextTable, long upperContextTable) {
        long lo = lowerContextTable == 0 ? 0 : (lowerContextTable & PAGE_MASK) | 1;
        long hi = upperContextTable == 0 ? 0 : (upperContextTable & PAGE_MASK) | 1;
        return new long[] {lo, hi};
    }

    /**
     * Legacy context entry (128 bit). FPD stays clear ({@code context_set_fault_enable}).
     *
     * @param tt {@link #TT_MULTI_LEVEL}, {@link #TT_DEV_IOTLB} or {@link #TT_PASS_THROUGH}
     * @param secondLevelTable second-level root (ignored by hardware for pass-through)
     * @param aw AGAW of the table (levels - 2); for pass-through the widest AGAW the unit supports
     * @param domainId the DID the unit tags this device's cache entries with
     */
    public static long[] contextEntry(int tt, long secondLevelTable, int aw, int domainId, boolean present) {
        long lo = (secondLevelTable & PAGE_MASK) | ((long) (tt & 3) << 2) | (present ? 1 : 0);
        long hi = (aw & 7) | ((long) (domainId & 0xFFFF) << 8);
        return new long[] {lo, hi};
    }

    /**
     * Scalable-mode context entry (256 bit): P, DTE, PASIDE, PRE, PDTS, PASID-directory pointer
     * and RID_PASID (the PASID that requests without one use).
     *
     * @param pdts the directory has 2^(pdts + 7) entries
     */
    public static long[] scalableContextEntry(long pasidDirectory, int pdts, int ridPasid, boolean deviceTlb,
                                              boolean pasidEnable, boolean pageRequest, boolean present) {
        long v0 = (pasidDirectory & PAGE_MASK) | ((long) (pdts & 7) << 9);
        if (present) {
            v0 |= 1;
        }
        if (deviceTlb) {
            v0 |= 1L << 2;
        }
        if (pasidEnable) {
            v0 |= 1L << 3;
        }
        if (pageRequest) {
            v0 |= 1L << 4;
        }
        return new long[] {v0, ridPasid & 0xFFFFFL, 0, 0};
    }

    /**
     * PDTS for a directory covering {@code maxPasid} PASIDs (Linux {@code context_get_sm_pds}):
     * log2 of the directory entries (maxPasid / 64), minus 7, not below 0.
     */
    public static int pdtsFor(int maxPasid) {
        int maxPde = maxPasid >>> 6;
        int pds = maxPde == 0 ? 0 : Integer.numberOfTrailingZeros(maxPde);
        return pds < 7 ? 0 : pds - 7;
    }

    // ---- PASID directory and table (HARDWARE.md 2.4) ----

    /** Directory index of a PASID: bits 19:6. */
    public static int pasidDirIndex(int pasid) {
        return pasid >>> 6;
    }

    /** Table index of a PASID: bits 5:0. */
    public static int pasidTableIndex(int pasid) {
        return pasid & 0x3F;
    }

    /** PASID-directory entry: P and the PASID-table pointer. */
    public static long pasidDirEntry(long pasidTable) {
        return (pasidTable & PAGE_MASK) | 1;
    }

    /** PGTT values (PASID entry bits 8:6). */
    public static final int PGTT_FIRST_LEVEL = 1;
    public static final int PGTT_SECOND_LEVEL = 2;
    public static final int PGTT_NESTED = 3;
    public static final int PGTT_PASS_THROUGH = 4;

    private static final long PASID_PWSNP = 1L << 23;

    /**
     * Second-level PASID entry ({@code pasid_pte_config_second_level}): DID, SLPTPTR, AW,
     * PGTT = 2, FPD clear, PWSNP when the unit snoops page walks, P last.
     */
    public static long[] secondLevelPasidEntry(long secondLevelTable, int aw, int domainId, boolean pageWalkSnoop,
                                               boolean present) {
        long[] e = new long[8];
        e[0] = (secondLevelTable & PAGE_MASK) | ((long) (aw & 7) << 2) | ((long) PGTT_SECOND_LEVEL << 6)
                | (present ? 1 : 0);
        e[1] = (domainId & 0xFFFFL) | (pageWalkSnoop ? PASID_PWSNP : 0);
        return e;
    }

    /**
     * Pass-through PASID entry ({@code intel_pasid_setup_pass_through}): DID = FLPT_DEFAULT_DID,
     * AW = the unit's AGAW, PGTT = 4, FPD clear, PWSNP, P.
     */
    public static long[] passThroughPasidEntry(int aw, int domainId, boolean pageWalkSnoop, boolean present) {
        long[] e = new long[8];
        e[0] = ((long) (aw & 7) << 2) | ((long) PGTT_PASS_THROUGH << 6) | (present ? 1 : 0);
        e[1] = (domainId & 0xFFFFL) | (pageWalkSnoop ? PASID_PWSNP : 0);
        return e;
    }

    /**
     * First-level PASID entry ({@code intel_pasid_setup_first_level}, HARDWARE.md 2.4): FLPTPTR =
     * the x86-64 table (an SVA domain: the process's {@code mm->pgd}), FLPM = 1 for a 5-level
     * table, DID, AW = the unit's AGAW, PWSNP, PGTT = 1, FPD clear, P last. SRE stays clear: SVA
     * binds user address spaces, whose requests are user requests (supervisor SVA is gone from
     * Linux), so a page without U/S faults (0x81).
     */
    public static long[] firstLevelPasidEntry(long firstLevelTable, boolean fiveLevel, int aw, int domainId,
                                              boolean pageWalkSnoop, boolean present) {
        long[] e = new long[8];
        e[0] = ((long) (aw & 7) << 2) | ((long) PGTT_FIRST_LEVEL << 6) | (present ? 1 : 0);
        e[1] = (domainId & 0xFFFFL) | (pageWalkSnoop ? PASID_PWSNP : 0);
        e[2] = (firstLevelTable & PAGE_MASK) | (fiveLevel ? 1L << 2 : 0);
        return e;
    }

    // ---- invalidation descriptors (HARDWARE.md 2.7) ----

    public static final int INV_CONTEXT_CACHE = 1;
    public static final int INV_IOTLB = 2;
    public static final int INV_DEVICE_TLB = 3;
    public static final int INV_WAIT = 5;
    public static final int INV_PASID_IOTLB = 6;
    public static final int INV_PASID_CACHE = 7;
    public static final int INV_PASID_DEVICE_TLB = 8;

    /** Context-cache and IOTLB granularities (G, bits 5:4). */
    public static final int G_GLOBAL = 1;
    public static final int G_DOMAIN = 2;
    /** Context cache: device-selective; IOTLB: page-selective. */
    public static final int G_DEVICE_OR_PAGE = 3;

    /** PASID-cache granularities. */
    public static final int PC_G_DOMAIN = 0;
    public static final int PC_G_PASID = 1;
    public static final int PC_G_GLOBAL = 3;

    /** PASID-based IOTLB granularities. */
    public static final int PIOTLB_G_PASID = 2;
    public static final int PIOTLB_G_PAGE = 3;

    /** The "invalidate everything" size order of the device-TLB helpers (MAX_AGAW_PFN_WIDTH). */
    public static final int DEVTLB_FLUSH_ALL = 52;

    /** Queue depth above which a device-TLB descriptor says 0 ("32 or more"). */
    private static final int MAX_INVS_PENDING = 32;

    /** Context-cache invalidate: G, DID, SID, FM (HARDWARE.md 2.7, Linux qi_flush_context). */
    public static long[] contextCacheInv(int granularity, int domainId, int sourceId, int functionMask) {
        long q0 = INV_CONTEXT_CACHE | ((long) (granularity & 3) << 4) | ((long) (domainId & 0xFFFF) << 16)
                | ((long) (sourceId & 0xFFFF) << 32) | ((long) (functionMask & 3) << 48);
        return new long[] {q0, 0};
    }

    /**
     * IOTLB invalidate ({@code qi_desc_iotlb}): G, DW/DR when the unit asks for draining, DID;
     * address, AM (invalidate 2^AM pages) and IH in qw1.
     */
    public static long[] iotlbInv(int granularity, int domainId, long address, int addressMask, boolean hint,
                                  boolean drainWrites, boolean drainReads) {
        long q0 = INV_IOTLB | ((long) (granularity & 3) << 4) | ((long) (domainId & 0xFFFF) << 16);
        if (drainWrites) {
            q0 |= 1L << 6;
        }
        if (drainReads) {
            q0 |= 1L << 7;
        }
        long q1 = (address & PAGE_MASK) | (hint ? 1L << 6 : 0) | (addressMask & 0x3F);
        return new long[] {q0, q1};
    }

    /**
     * Device-TLB invalidate without PASID ({@code qi_desc_dev_iotlb}): the ATS range encoding
     * (S set and the lowest clear bit at or above 12 giving the size) for 2^mask pages at
     * {@code address}; mask {@link #DEVTLB_FLUSH_ALL} with address 0 invalidates everything.
     */
    public static long[] deviceTlbInv(int sourceId, int pfsid, int queueDepth, long address, int mask) {
        long q1;
        if (mask > 0) {
            long a = address | ((1L << (12 + mask - 1)) - 1);
            q1 = (a & PAGE_MASK) | 1;
        } else {
            q1 = address & PAGE_MASK;
        }
        int qdep = queueDepth >= MAX_INVS_PENDING ? 0 : queueDepth;
        long q0 = INV_DEVICE_TLB | ((long) (qdep & 0x1F) << 16) | ((long) (sourceId & 0xFFFF) << 32)
                | pfsidBits(pfsid);
        return new long[] {q0, q1};
    }

    /**
     * PASID-based device-TLB invalidate ({@code qi_desc_dev_iotlb_pasid}): 2^sizeOrder pages at
     * {@code address} for one PASID; sizeOrder {@link #DEVTLB_FLUSH_ALL} invalidates everything.
     */
    public static long[] pasidDeviceTlbInv(int sourceId, int pfsid, int pasid, int queueDepth, long address,
                                           int sizeOrder) {
        long q1 = address & PAGE_MASK;
        if (sizeOrder > 0) {
            // Ones below the size bit, then the size bit itself cleared: the lowest clear bit says the size.
            int top = sizeOrder + 11; // GENMASK(size_order + 11, 12)
            q1 |= (top >= 63 ? -1L : (1L << (top + 1)) - 1) & PAGE_MASK;
            q1 &= ~(1L << (12 + sizeOrder - 1));
            q1 |= 1L << 11;
        }
        int qdep = queueDepth >= MAX_INVS_PENDING ? 0 : queueDepth;
        long q0 = INV_PASID_DEVICE_TLB | ((long) (qdep & 0x1F) << 4) | ((long) (sourceId & 0xFFFF) << 16)
                | ((long) (pasid & 0xFFFFF) << 32) | pfsidBits(pfsid);
        return new long[] {q0, q1};
    }

    /** PFSID: bits 3:0 at 15:12 and bits 15:4 at 63:52 of qw0. */
    private static long pfsidBits(int pfsid) {
        return ((long) (pfsid & 0xF) << 12) | ((long) (pfsid & 0xFFF0) << 48);
    }

    /** PASID-cache invalidate: G, DID, PASID. */
    public static long[] pasidCacheInv(int granularity, int domainId, int pasid) {
        long q0 = INV_PASID_CACHE | ((long) (granularity & 3) << 4) | ((long) (domainId & 0xFFFF) << 16)
                | ((long) (pasid & 0xFFFFF) << 32);
        return new long[] {q0, 0};
    }

    /**
     * PASID-based IOTLB invalidate ({@code qi_desc_piotlb}): {@code npages} -1 invalidates every
     * (non-global) entry of the PASID; else 2^AM pages, AM = log2 of npages rounded up to a power
     * of two, at the address aligned down to that size.
     */
    public static long[] pasidIotlbInv(int domainId, int pasid, long address, long npages, boolean hint) {
        long q0 = INV_PASID_IOTLB | ((long) (domainId & 0xFFFF) << 16) | ((long) (pasid & 0xFFFFF) << 32);
        if (npages == -1) {
            return new long[] {q0 | ((long) PIOTLB_G_PASID << 4), 0};
        }
        int am = 64 - Long.numberOfLeadingZeros(Math.max(npages, 1) - 1);
        long aligned = address & -(1L << (12 + am));
        long q1 = (aligned & PAGE_MASK) | (hint ? 1L << 6 : 0) | am;
        return new long[] {q0 | ((long) PIOTLB_G_PAGE << 4), q1};
    }

    /** Invalidation wait: IF, SW, FN, status data; qw1 the status address (4-byte aligned). */
    public static long[] invWait(boolean statusWrite, boolean interrupt, boolean fence, int statusData,
                                 long statusAddress) {
        long q0 = INV_WAIT | (interrupt ? 1L << 4 : 0) | (statusWrite ? 1L << 5 : 0) | (fence ? 1L << 6 : 0)
                | ((statusData & 0xFFFFFFFFL) << 32);
        return new long[] {q0, statusAddress & ~3L};
    }

    /** Page group response codes (QI_RESP_SUCCESS / _INVALID / _FAILURE). */
    public static final int RESPONSE_SUCCESS = 0x0;
    public static final int RESPONSE_INVALID = 0x1;
    public static final int RESPONSE_FAILURE = 0xF;
    /** Invalidation wait PD bit: drain page requests (QI_IWD_PRQ_DRAIN). */
    public static final long INV_WAIT_PAGE_DRAIN = 1L << 7;

    /**
     * Page group response (type 9, {@code QI_PGRP_*}): qw0 PASID 51:32, requester id 31:16,
     * response code 15:12, PASID present bit 4; qw1 group index 11:3, LPIG bit 2.
     */
    public static long[] pageGroupResponse(int requesterId, boolean pasidPresent, int pasid, int code, int prgIndex,
                                           boolean lastPage) {
        long q0 = 0x9L | (pasidPresent ? 1L << 4 : 0) | ((long) (code & 0xF) << 12)
                | ((long) (requesterId & 0xFFFF) << 16) | ((long) (pasid & 0xFFFFF) << 32);
        long q1 = ((long) (prgIndex & 0x1FF) << 3) | (lastPage ? 1L << 2 : 0);
        return new long[] {q0, q1};
    }
}
