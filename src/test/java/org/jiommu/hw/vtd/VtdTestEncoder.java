package org.jiommu.hw.vtd;

/**
 * TEST-ONLY encoder of VT-d structures, written from HARDWARE.md 2.2-2.8 with literal bit
 * positions. It shares nothing with the production decoders (or with the page-table writers),
 * so a wrong bit in one is not mirrored by the other; the vectors C3-C23 pin both to the doc.
 */
final class VtdTestEncoder {
    private VtdTestEncoder() {
    }

    // ---- 2.2 root entries ----

    static long[] legacyRoot(long contextTable) {
        return new long[] {contextTable | 1, 0};
    }

    /** Scalable root: lower half for devfn 0-127, upper for 128-255 (0 = not present). */
    static long[] scalableRoot(long lowerContextTable, long upperContextTable) {
        return new long[] {lowerContextTable == 0 ? 0 : lowerContextTable | 1,
                upperContextTable == 0 ? 0 : upperContextTable | 1};
    }

    // ---- 2.3 context entries ----

    /** Legacy: lo = SLPTPTR | TT << 2 | FPD << 1 | P; hi = DID << 8 | AW. */
    static long[] legacyContext(long slpt, int tt, int aw, int did, boolean fpd) {
        long lo = slpt | (long) tt << 2 | (fpd ? 2 : 0) | 1;
        long hi = (long) did << 8 | aw;
        return new long[] {lo, hi};
    }

    /** Scalable: val0 = PASIDDIRPTR | PDTS << 9 | DTE << 2 | FPD << 1 | P; val1 = RID_PASID. */
    static long[] scalableContext(long pasidDir, int pdts, boolean dte, boolean fpd, int ridPasid) {
        long v0 = pasidDir | (long) pdts << 9 | (dte ? 4 : 0) | (fpd ? 2 : 0) | 1;
        return new long[] {v0, ridPasid, 0, 0};
    }

    // ---- 2.4 PASID structures ----

    static int pasidDirIndex(int pasid) {
        return pasid >> 6;
    }

    static int pasidTableIndex(int pasid) {
        return pasid & 0x3F;
    }

    static long pasidDirEntry(long pasidTable, boolean fpd) {
        return pasidTable | (fpd ? 2 : 0) | 1;
    }

    /** Second-level PASID entry (Linux recipe): SLPTPTR, AW, PGTT = 2, P; DID (+ PWSNP bit 87). */
    static long[] pasidEntrySecondLevel(long slpt, int aw, int did, boolean pwsnp) {
        long[] e = new long[8];
        e[0] = slpt | 2L << 6 | (long) aw << 2 | 1;
        e[1] = did | (pwsnp ? 1L << 23 : 0);
        return e;
    }

    /** First-level PASID entry: FLPTPTR in val2, FLPM (bits 131:130) = 1 for 5-level, AW, PGTT = 1, DID. */
    static long[] pasidEntryFirstLevel(long flpt, int aw, int did, boolean fiveLevel) {
        long[] e = new long[8];
        e[0] = 1L << 6 | (long) aw << 2 | 1;
        e[1] = did;
        e[2] = flpt | (fiveLevel ? 1L << 2 : 0);
        return e;
    }

    /** Nested PASID entry: first level on top of second level, PGTT = 3. */
    static long[] pasidEntryNested(long flpt, long slpt, int aw, int did) {
        long[] e = new long[8];
        e[0] = slpt | 3L << 6 | (long) aw << 2 | 1;
        e[1] = did;
        e[2] = flpt;
        return e;
    }

    /** Pass-through PASID entry: AW, PGTT = 4, DID (Linux uses FLPT_DEFAULT_DID = 1). */
    static long[] pasidEntryPassThrough(int aw, int did) {
        long[] e = new long[8];
        e[0] = 4L << 6 | (long) aw << 2 | 1;
        e[1] = did;
        return e;
    }

    // ---- 2.5 page-table entries ----

    /** Second-level entry: R bit 0, W bit 1, PS bit 7, SNP bit 11, address. */
    static long slPte(long pa, boolean r, boolean w, boolean ps, boolean snp) {
        return pa | (r ? 1 : 0) | (w ? 2 : 0) | (ps ? 0x80 : 0) | (snp ? 0x800 : 0);
    }

    /** First-level entry: P 0, RW 1, US 2, A 5, D 6, PS 7, address. */
    static long flPte(long pa, boolean rw, boolean us, boolean a, boolean d, boolean ps) {
        return pa | 1 | (rw ? 2 : 0) | (us ? 4 : 0) | (a ? 0x20 : 0) | (d ? 0x40 : 0) | (ps ? 0x80 : 0);
    }

    // ---- 2.7 invalidation descriptors (qw0, qw1) ----

    static long[] ccGlobal() {
        return new long[] {0x1 | 1 << 4, 0};
    }

    static long[] ccDomain(int did) {
        return new long[] {0x1 | 2 << 4 | (long) did << 16, 0};
    }

    static long[] ccDevice(int sid, int did, int fm) {
        return new long[] {0x1 | 3 << 4 | (long) did << 16 | (long) sid << 32 | (long) fm << 48, 0};
    }

    static long[] iotlbGlobal() {
        return new long[] {0x2 | 1 << 4, 0};
    }

    static long[] iotlbDomain(int did) {
        return new long[] {0x2 | 2 << 4 | (long) did << 16, 0};
    }

    static long[] iotlbPage(int did, long addr, int am, boolean ih, boolean drainReads, boolean drainWrites) {
        long q0 = 0x2 | 3 << 4 | (long) did << 16 | (drainWrites ? 1 << 6 : 0) | (drainReads ? 1 << 7 : 0);
        long q1 = addr | (ih ? 1 << 6 : 0) | am;
        return new long[] {q0, q1};
    }

    /** Device-TLB: the Linux size encoding (addr |= (1 << (12 + mask - 1)) - 1, then S). */
    static long[] devTlb(int sid, int pfsid, int qdep, long addr, int mask) {
        long q0 = 0x3 | (long) sid << 32 | (long) (qdep >= 32 ? 0 : qdep) << 16
                | (long) (pfsid & 0xF) << 12 | (long) (pfsid >> 4) << 52;
        long q1;
        if (mask > 0) {
            addr |= (1L << (12 + mask - 1)) - 1;
            q1 = (addr & ~0xFFFL) | 1;
        } else {
            q1 = addr & ~0xFFFL;
        }
        return new long[] {q0, q1};
    }

    static long[] iecGlobal() {
        return new long[] {0x4, 0};
    }

    static long[] invWait(boolean sw, boolean intr, boolean fence, int data, long statusAddress) {
        long q0 = 0x5 | (intr ? 1 << 4 : 0) | (sw ? 1 << 5 : 0) | (fence ? 1 << 6 : 0) | (long) data << 32;
        return new long[] {q0, statusAddress};
    }

    static long[] piotlbPasid(int did, int pasid) {
        return new long[] {0x6 | 2 << 4 | (long) did << 16 | (long) pasid << 32, 0};
    }

    /** PIOTLB page-selective: AM = log2(roundup_pow2(npages)), address aligned down to it. */
    static long[] piotlbPages(int did, int pasid, long addr, long npages, boolean ih) {
        int am = 64 - Long.numberOfLeadingZeros(npages - 1);
        long aligned = addr & ~((1L << (12 + am)) - 1);
        long q0 = 0x6 | 3 << 4 | (long) did << 16 | (long) pasid << 32;
        return new long[] {q0, aligned | (ih ? 1 << 6 : 0) | am};
    }

    /** PASID-cache: g 0 = all PASIDs of DID, 1 = PASID-selective, 3 = global. */
    static long[] pasidCache(int g, int did, int pasid) {
        return new long[] {0x7 | (long) g << 4 | (long) did << 16 | (long) pasid << 32, 0};
    }

    /** PASID-based device-TLB: size via GENMASK(size_order + 11, 12) minus bit (12 + size_order - 1), S bit 11. */
    static long[] devPiotlb(int sid, int pfsid, int pasid, int qdep, long addr, int sizeOrder, boolean global) {
        long q0 = 0x8 | (long) (qdep >= 32 ? 0 : qdep) << 4 | (long) sid << 16 | (long) pasid << 32
                | (long) (pfsid & 0xF) << 12 | (long) (pfsid >> 4) << 52;
        long q1 = global ? 1 : 0;
        if (sizeOrder > 0) {
            long genmask = sizeOrder + 11 >= 63 ? -1L << 12 : ((1L << (sizeOrder + 12)) - 1) & ~0xFFFL;
            q1 |= (addr | genmask) & ~(1L << (12 + sizeOrder - 1)) & ~0xFFFL;
            q1 |= 1L << 11;
        } else {
            q1 |= addr & ~0xFFFL;
        }
        return new long[] {q0, q1};
    }

    // ---- 2.8 fault recording, expected register contents ----

    /** FRCD high qword: F 63 | T 62 (read) | PV 59:40 | FR 39:32 | PP 31 | SID. */
    static long frcdHi(int sid, int reason, boolean read, int pasid) {
        long hi = 1L << 63 | (read ? 1L << 62 : 0) | (long) reason << 32 | sid;
        if (pasid >= 0) {
            hi |= 1L << 31 | (long) pasid << 40;
        }
        return hi;
    }
}
