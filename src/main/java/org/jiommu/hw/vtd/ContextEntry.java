package org.jiommu.hw.vtd;

/**
 * A legacy-mode 128-bit context entry (HARDWARE.md 2.3), indexed by devfn.
 *
 * @param lo P bit 0, FPD bit 1, TT bits 3:2, SLPTPTR bits 63:12
 * @param hi AW bits 2:0, AVAIL bits 6:3 (software), DID bits 23:8
 */
public record ContextEntry(long lo, long hi) {
    public static final int SIZE = 16;
    /** TT: untranslated requests translated through the second level; ATS refused. */
    public static final int TT_MULTI_LEVEL = 0;
    /** TT: as 0, and ATS translation requests served (Device-TLB enabled). */
    public static final int TT_DEV_IOTLB = 1;
    /** TT: untranslated requests pass through (output = input). */
    public static final int TT_PASS_THROUGH = 2;

    public boolean present() {
        return (lo & 1) != 0;
    }

    /** Fault Processing Disable: meaningful even when P is clear (QEMU reads it from any entry). */
    public boolean fpd() {
        return (lo & 2) != 0;
    }

    public int translationType() {
        return (int) (lo >>> 2) & 3;
    }

    public long secondLevelPointer() {
        return lo & ~0xFFFL;
    }

    public int addressWidth() {
        return (int) (hi & 7);
    }

    /** Levels of the second-level table: AW + 2. */
    public int levels() {
        return addressWidth() + 2;
    }

    public int available() {
        return (int) (hi >>> 3) & 0xF;
    }

    public int domainId() {
        return (int) (hi >>> 8) & 0xFFFF;
    }

    /**
     * Reserved bits: lo 11:4 and SLPTPTR at or above HAW; hi bit 7, 63:24 (QEMU
     * VTD_CONTEXT_ENTRY_RSVD_LO/HI), and DID bits above the unit's domain-id width.
     */
    public boolean reservedBitsSet(int haw, int domainIdBits) {
        long loRsvd = 0xFF0L | RootEntry.aboveHaw(haw);
        long hiRsvd = 0xFFFFFFFFFF000080L;
        if (domainIdBits < 16) {
            hiRsvd |= (0xFFFFL & (-1L << domainIdBits)) << 8;
        }
        return (lo & loRsvd) != 0 || (hi & hiRsvd) != 0;
    }
}
