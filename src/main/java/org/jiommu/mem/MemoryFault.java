package org.jiommu.mem;

/**
 * An access outside the configured physical memory. Hardware models catch it and turn it into
 * the architecture's address / table-access fault; it never reaches a user.
 */
public final class MemoryFault extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final long address;

    public MemoryFault(long address, long length, long size) {
        super(String.format("physical access [%#x, +%#x) beyond memory size %#x", address, length, size), null,
                false, false);
        this.address = address;
    }

    public long address() {
        return address;
    }
}
