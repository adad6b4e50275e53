package org.jiommu.dma;

/**
 * Padding that keeps one CPU's hot data off the cache lines of every other CPU's, wherever the
 * garbage collector places the objects. The DMA layer's per-CPU structures (IOVA magazines and
 * their CPU caches, flush-queue rings, live-mapping tables, the per-thread gather) are written by
 * their CPU on every map or unmap, as the kernel's per-CPU data is; two of them on one line (or
 * one of them beside an array every CPU reads) would make each write of one CPU a cache miss for
 * the other, which the kernel's per-CPU allocator never does. 128 bytes, because the adjacent-line
 * prefetcher fetches lines in pairs.
 *
 * <p>How: a per-CPU object is a final class whose superclass declares its fields and which itself
 * declares sixteen unused longs (HotSpot lays out a subclass's fields after its superclass's, so
 * the padding always follows the fields and separates them from the next object's header); a
 * per-CPU array, or an array of per-CPU objects that every CPU reads, ends in unused elements.
 */
final class CpuPad {
    /** Unused {@code long} elements at the end of a per-CPU {@code long[]}: 128 bytes. */
    static final int LONGS = 16;
    /** Unused reference elements at the end of an array of references: 128 bytes even with compressed oops. */
    static final int REFS = 32;

    private CpuPad() {
    }
}
