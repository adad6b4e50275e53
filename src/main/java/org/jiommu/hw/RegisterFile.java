package org.jiommu.hw;

/**
 * An IOMMU's MMIO register file in the style of QEMU's {@code vtd_define_quad / _long} (and its
 * SMMU models): each register is defined once with its width, reset value and which bits
 * software may write (RW), which it clears by writing 1 (RW1C); everything else is read-only
 * to software. The unit's own logic sets status bits with {@link #set} / {@link #setBits},
 * which ignore the masks. Side effects of a write (a command starting, an event firing) stay
 * in the unit; the file only answers what a register holds.
 *
 * <p>Offsets are byte offsets in one 4 KiB page (or more, by {@code size}); a 64-bit register
 * may be read in 32-bit halves. Not thread-safe: a unit accesses it under its register lock.
 */
public final class RegisterFile {
    private final int size;
    private final byte[] width;
    private final long[] value;
    private final long[] writable;
    private final long[] writeOneToClear;
    private final long[] reset;

    /** @param size bytes of register space (multiple of 8) */
    public RegisterFile(int size) {
        if (size <= 0 || size % 8 != 0) {
            throw new IllegalArgumentException("size " + size);
        }
        this.size = size;
        int slots = size / 4;
        this.width = new byte[slots];
        this.value = new long[slots];
        this.writable = new long[slots];
        this.writeOneToClear = new long[slots];
        this.reset = new long[slots];
    }

    /** Defines a 32-bit register. */
    public RegisterFile define32(int offset, int resetValue, int rwMask, int w1cMask) {
        return define(offset, 4, resetValue & 0xFFFFFFFFL, rwMask & 0xFFFFFFFFL, w1cMask & 0xFFFFFFFFL);
    }

    /** Defines a 64-bit register. */
    public RegisterFile define64(int offset, long resetValue, long rwMask, long w1cMask) {
        return define(offset, 8, resetValue, rwMask, w1cMask);
    }

    private RegisterFile define(int offset, int bytes, long resetValue, long rw, long w1c) {
        if (offset < 0 || offset + bytes > size || offset % bytes != 0) {
            throw new IllegalArgumentException(String.format("register %#x of %d bytes", offset, bytes));
        }
        if ((rw & w1c) != 0) {
            throw new IllegalArgumentException(String.format("register %#x: bits %#x both RW and RW1C", offset,
                    rw & w1c));
        }
        int s = offset / 4;
        if (width[s] != 0 || (bytes == 8 && width[s + 1] != 0)) {
            throw new IllegalArgumentException(String.format("register %#x defined twice", offset));
        }
        width[s] = (byte) bytes;
        if (bytes == 8) {
            width[s + 1] = -1; // upper half of a 64-bit register
        }
        value[s] = resetValue;
        reset[s] = resetValue;
        writable[s] = rw;
        writeOneToClear[s] = w1c;
        return this;
    }

    /** 4 or 8 for a register defined at {@code offset}, 0 otherwise (the upper half of a 64-bit one too). */
    public int width(int offset) {
        if (offset < 0 || offset >= size || (offset & 3) != 0) {
            return 0;
        }
        byte w = width[offset / 4];
        return w < 0 ? 0 : w;
    }

    public boolean is32(int offset) {
        return width(offset) == 4;
    }

    public boolean is64(int offset) {
        return width(offset) == 8;
    }

    /** The value of the register at {@code offset}. */
    public long get(int offset) {
        return value[slot(offset)];
    }

    /** Either half of a 64-bit register, or a 32-bit register; 0 for undefined offsets. */
    public int read32(int offset) {
        if (offset < 0 || offset >= size || (offset & 3) != 0) {
            return 0;
        }
        int s = offset / 4;
        if (width[s] == 4) {
            return (int) value[s];
        }
        if (width[s] == 8) {
            return (int) value[s];
        }
        if (width[s] < 0) {
            return (int) (value[s - 1] >>> 32);
        }
        return 0;
    }

    /**
     * A software write: RW bits take the new value, RW1C bits written as 1 clear, read-only bits
     * keep theirs. @return the register's new value
     */
    public long write(int offset, long newValue) {
        int s = slot(offset);
        long v = value[s];
        v = (v & ~writable[s]) | (newValue & writable[s]);
        v &= ~(newValue & writeOneToClear[s]);
        value[s] = v;
        return v;
    }

    /** Sets the whole register as the hardware does (no masks). */
    public void set(int offset, long newValue) {
        value[slot(offset)] = newValue;
    }

    /** Hardware sets {@code bits}. */
    public void setBits(int offset, long bits) {
        value[slot(offset)] |= bits;
    }

    /** Hardware clears {@code bits}. */
    public void clearBits(int offset, long bits) {
        value[slot(offset)] &= ~bits;
    }

    /** Every register back to its reset value. */
    public void reset() {
        System.arraycopy(reset, 0, value, 0, value.length);
    }

    private int slot(int offset) {
        if (offset < 0 || offset >= size || (offset & 3) != 0 || width[offset / 4] <= 0) {
            throw new IllegalArgumentException(String.format("no register at %#x", offset));
        }
        return offset / 4;
    }

    @Override
    public String toString() {
        int n = 0;
        for (byte w : width) {
            if (w > 0) {
                n++;
            }
        }
        return "RegisterFile[" + size + " bytes, " + n + " registers]";
    }
}
