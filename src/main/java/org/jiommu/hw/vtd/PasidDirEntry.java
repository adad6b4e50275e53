package org.jiommu.hw.vtd;

/**
 * A scalable-mode PASID-directory entry (64 bit, HARDWARE.md 2.4), indexed by PASID >> 6.
 *
 * @param value P bit 0, FPD bit 1, PASID-table pointer bits 63:12
 */
public record PasidDirEntry(long value) {
    public static final int SIZE = 8;

    public static int index(int pasid) {
        return pasid >>> 6;
    }

    public boolean present() {
        return (value & 1) != 0;
    }

    public boolean fpd() {
        return (value & 2) != 0;
    }

    public long pasidTablePointer() {
        return value & ~0xFFFL;
    }

    /** Reserved: bits 11:2 and the pointer at or above HAW. */
    public boolean reservedBitsSet(int haw) {
        return (value & (0xFFCL | RootEntry.aboveHaw(haw))) != 0;
    }
}
