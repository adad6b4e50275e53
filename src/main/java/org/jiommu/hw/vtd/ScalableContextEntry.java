package org.jiommu.hw.vtd;

/**
 * A scalable-mode 256-bit context entry (HARDWARE.md 2.3): 128 of them per context table,
 * indexed by devfn & 0x7F. It carries no domain id; translation is set per PASID.
 *
 * @param val0 P bit 0, FPD bit 1, DTE bit 2, PASIDE bit 3, PRE bit 4, PDTS bits 11:9, PASIDDIRPTR 63:12
 * @param val1 RID_PASID bits 19:0, RID_PRIV bit 20
 */
public record ScalableContextEntry(long val0, long val1, long val2, long val3) {
    public static final int SIZE = 32;

    public boolean present() {
        return (val0 & 1) != 0;
    }

    public boolean fpd() {
        return (val0 & 2) != 0;
    }

    /** Device-TLB enable: ATS translation requests are served. */
    public boolean deviceTlbEnable() {
        return (val0 & 4) != 0;
    }

    public boolean pasidEnable() {
        return (val0 & 8) != 0;
    }

    public boolean pageRequestEnable() {
        return (val0 & 0x10) != 0;
    }

    /** PDTS: the PASID directory has 2^(PDTS + 7) entries. */
    public int pasidDirectorySize() {
        return (int) (val0 >>> 9) & 7;
    }

    public int pasidDirectoryEntries() {
        return 1 << (pasidDirectorySize() + 7);
    }

    public long pasidDirectoryPointer() {
        return val0 & ~0xFFFL;
    }

    /** PASID used for requests without PASID (RID2PASID). */
    public int ridPasid() {
        return (int) (val1 & 0xFFFFF);
    }

    public boolean ridPriv() {
        return (val1 & (1L << 20)) != 0;
    }

    /** Reserved: val0 bits 8:5 and the pointer at or above HAW; val1 63:21; val2; val3 (QEMU masks). */
    public boolean reservedBitsSet(int haw) {
        return (val0 & (0x1E0L | RootEntry.aboveHaw(haw))) != 0
                || (val1 & 0xFFFFFFFFFFE00000L) != 0
                || val2 != 0 || val3 != 0;
    }
}
