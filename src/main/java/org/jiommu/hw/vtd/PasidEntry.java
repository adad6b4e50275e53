package org.jiommu.hw.vtd;

/**
 * A scalable-mode PASID-table entry (512 bit, HARDWARE.md 2.4), indexed by PASID & 0x3F.
 *
 * <p>val0: P 0, FPD 1, AW 4:2, SLEE 5, PGTT 8:6, SLADE 9, SLPTPTR 63:12.
 * val1: DID 15:0, PWSNP 23, PGSNP 24, memory-type fields 63:25.
 * val2: SRE 0, ERE 1, FLPM 3:2, WPE 4, NXE 5, SMEP 6, EAFE 7, FLPTPTR 63:12.
 * val3-val7: reserved.
 */
public record PasidEntry(long val0, long val1, long val2, long val3, long val4, long val5, long val6, long val7) {
    public static final int SIZE = 64;
    public static final int PGTT_FIRST_LEVEL = 1;
    public static final int PGTT_SECOND_LEVEL = 2;
    public static final int PGTT_NESTED = 3;
    public static final int PGTT_PASS_THROUGH = 4;

    public static int index(int pasid) {
        return pasid & 0x3F;
    }

    public static PasidEntry of(long[] w) {
        return new PasidEntry(w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]);
    }

    public boolean present() {
        return (val0 & 1) != 0;
    }

    public boolean fpd() {
        return (val0 & 2) != 0;
    }

    /** AW: second-stage agaw; the table has AW + 2 levels. */
    public int addressWidth() {
        return (int) (val0 >>> 2) & 7;
    }

    public int secondLevelLevels() {
        return addressWidth() + 2;
    }

    public boolean secondLevelExecuteEnable() {
        return (val0 & (1L << 5)) != 0;
    }

    /** PASID-granular translation type: 1 first-level, 2 second-level, 3 nested, 4 pass-through. */
    public int pgtt() {
        return (int) (val0 >>> 6) & 7;
    }

    public boolean secondLevelAccessDirtyEnable() {
        return (val0 & (1L << 9)) != 0;
    }

    public long secondLevelPointer() {
        return val0 & ~0xFFFL;
    }

    public int domainId() {
        return (int) (val1 & 0xFFFF);
    }

    public boolean pageWalkSnoop() {
        return (val1 & (1L << 23)) != 0;
    }

    public boolean pageSnoop() {
        return (val1 & (1L << 24)) != 0;
    }

    public boolean supervisorRequestEnable() {
        return (val2 & 1) != 0;
    }

    public boolean executeRequestEnable() {
        return (val2 & 2) != 0;
    }

    /** FLPM: 0 = 4-level (48-bit), 1 = 5-level (57-bit) first stage. */
    public int firstLevelPagingMode() {
        return (int) (val2 >>> 2) & 3;
    }

    public int firstLevelLevels() {
        return 4 + firstLevelPagingMode();
    }

    public boolean writeProtectEnable() {
        return (val2 & (1L << 4)) != 0;
    }

    public boolean noExecuteEnable() {
        return (val2 & (1L << 5)) != 0;
    }

    public boolean extendedAccessFlagEnable() {
        return (val2 & (1L << 7)) != 0;
    }

    public long firstLevelPointer() {
        return val2 & ~0xFFFL;
    }

    /**
     * Reserved bits for a unit without supervisor requests (SRS), execute requests (ERS),
     * second-stage A/D (SLADS), memory-type support (MTS) or extended access flags (EAFS):
     * val0 SLEE, SLADE, 11:10, SLPTPTR at or above HAW; val1 22:16 and 63:25, DID bits above the
     * unit's width; val2 SRE, ERE, EAFE, 11:8, FLPTPTR at or above HAW; val3-val7 entirely.
     */
    public boolean reservedBitsSet(int haw, int domainIdBits) {
        long above = RootEntry.aboveHaw(haw);
        long r0 = (1L << 5) | (1L << 9) | 0xC00L | above;
        long r1 = 0x7F0000L | (-1L << 25);
        if (domainIdBits < 16) {
            r1 |= 0xFFFFL & (-1L << domainIdBits);
        }
        long r2 = 1L | 2L | (1L << 7) | 0xF00L | above;
        return (val0 & r0) != 0 || (val1 & r1) != 0 || (val2 & r2) != 0
                || (val3 | val4 | val5 | val6 | val7) != 0;
    }
}
