package org.jiommu.dma;

import java.util.BitSet;

/**
 * Physically contiguous pages for the DMA layer, first fit over a fixed range of memory: the
 * backing of {@code dma_alloc_coherent} buffers and the swiotlb pool's slots. Lowest-first so
 * addresses are the same run to run. Thread-safe.
 */
final class PagePool {
    private final long base;
    private final long unit;
    private final int units;
    private final BitSet used;

    PagePool(long base, long size, long unit) {
        if (base % unit != 0 || size <= 0 || size % unit != 0) {
            throw new IllegalArgumentException(String.format("pool [%#x, +%#x) in units of %#x", base, size, unit));
        }
        this.base = base;
        this.unit = unit;
        this.units = (int) (size / unit);
        this.used = new BitSet(units);
    }

    long base() {
        return base;
    }

    long end() {
        return base + units * unit;
    }

    boolean contains(long pa) {
        return pa >= base && pa < end();
    }

    /** {@code n} contiguous units whose first is a multiple of {@code alignUnits}; the address, or -1 if none is free. */
    synchronized long alloc(int n, int alignUnits) {
        for (int i = 0; i + n <= units; i += alignUnits) {
            int busy = used.nextSetBit(i);
            if (busy < 0 || busy >= i + n) {
                used.set(i, i + n);
                return base + i * unit;
            }
            i = (busy / alignUnits) * alignUnits;
        }
        return -1;
    }

    synchronized void free(long pa, int n) {
        int i = (int) ((pa - base) / unit);
        used.clear(i, i + n);
    }

    /** Units in use (accounting). */
    synchronized int usedUnits() {
        return used.cardinality();
    }
}
