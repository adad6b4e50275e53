package org.jiommu.hw.vtd;

/**
 * A 128-bit root-table entry (HARDWARE.md 2.2), indexed by bus number. In legacy mode
 * {@code lo} holds P (bit 0) and the context-table pointer; {@code hi} is reserved. In scalable
 * mode {@code lo} points at the context table of devfn 0-127 (LP, LCTP) and {@code hi} at the one
 * of devfn 128-255 (UP, UCTP).
 */
public record RootEntry(long lo, long hi) {
    public static final int SIZE = 16;

    /** Legacy P, scalable LP. */
    public boolean present() {
        return (lo & 1) != 0;
    }

    /** Scalable UP. */
    public boolean upperPresent() {
        return (hi & 1) != 0;
    }

    /** Legacy CTP, scalable LCTP. */
    public long contextTablePointer() {
        return lo & ~0xFFFL;
    }

    /** Scalable UCTP. */
    public long upperContextTablePointer() {
        return hi & ~0xFFFL;
    }

    /** Whether the half that serves {@code devfn} is present. */
    public boolean presentFor(boolean scalable, int devfn) {
        return scalable && devfn > 127 ? upperPresent() : present();
    }

    /** The context table that holds {@code devfn}'s entry. */
    public long contextTableFor(boolean scalable, int devfn) {
        return scalable && devfn > 127 ? upperContextTablePointer() : contextTablePointer();
    }

    /**
     * Reserved bits set: bits 11:1 and the pointer bits at or above HAW in each used qword
     * (QEMU VTD_ROOT_ENTRY_RSVD); in legacy mode the whole upper qword is reserved.
     */
    public boolean reservedBitsSet(boolean scalable, int haw) {
        long rsvd = 0xFFEL | aboveHaw(haw);
        if (!scalable) {
            return hi != 0 || (lo & rsvd) != 0;
        }
        return (lo & rsvd) != 0 || (hi & rsvd) != 0;
    }

    /** Mask of bits [63:haw]. */
    static long aboveHaw(int haw) {
        return haw >= 64 ? 0 : -1L << haw;
    }
}
