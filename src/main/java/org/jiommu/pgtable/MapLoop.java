package org.jiommu.pgtable;

import org.jiommu.base.Errno;

/**
 * The core's map and unmap loops over any {@link MapPagesOps}: {@code iommu_map_nosync} steps
 * 4-6 and {@code __iommu_unmap} steps 2-4 (SEMANTICS.md 9.2, 9.3). Domain type checks and
 * syncs belong to the core; the loop itself is shared with the page-table replay tool so both
 * split requests exactly as the kernel does.
 */
public final class MapLoop {
    private MapLoop() {
    }

    /** Observes each call the loops make (the replay prints them; the core traces them). */
    public interface Listener {
        Listener NONE = new Listener() { };

        default void unaligned(long minPagesz) { }

        default void mapPages(long iova, long paddr, long pgsize, long count, int ret, long mapped) { }

        /** {@code map_pages} returned success having mapped nothing at {@code iova}; the loop stops with -EINVAL. */
        default void noProgress(long iova) { }

        default void unmapPages(long iova, long pgsize, long count, long unmapped, boolean unroll) { }
    }

    /**
     * Undoes the first {@code size} bytes of a failed map: the kernel calls
     * {@code iommu_unmap(domain, orig_iova, orig_size - size)} (a full unmap with its IOTLB sync)
     * whenever the loop stops on an error, even with nothing mapped.
     */
    @FunctionalInterface
    public interface Unroll {
        /** @return bytes undone */
        long unroll(long iova, long size);
    }

    /** Outcome of {@link #map}: the errno (0 on success), bytes mapped before it stopped, bytes undone. */
    public record MapResult(int ret, long mapped, long unrolled) {
    }

    /**
     * Maps {@code [iova, iova+size)} to {@code paddr} in steps chosen by {@link PageSizes};
     * on error undoes what it mapped with the unmap loop through {@code ops.unmapPages} (no gather).
     */
    public static MapResult map(MapPagesOps ops, long bitmap, long iova, long paddr, long size, int prot,
                                Listener listener) {
        return map(ops, bitmap, iova, paddr, size, prot, listener,
                (i, s) -> unmap(ops, bitmap, i, s, null, listener, true));
    }

    /**
     * Maps {@code [iova, iova+size)} to {@code paddr} in steps chosen by {@link PageSizes}
     * ({@code iommu_map_nosync} steps 4-6); on error calls {@code unroll} for what was mapped
     * (pages a failing call mapped count as mapped).
     */
    public static MapResult map(MapPagesOps ops, long bitmap, long iova, long paddr, long size, int prot,
                                Listener listener, Unroll unroll) {
        long min = PageSizes.minPageSize(bitmap);
        if (((iova | paddr | size) & (min - 1)) != 0) {
            listener.unaligned(min);
            return new MapResult(Errno.EINVAL.neg(), 0, 0);
        }
        long origIova = iova;
        long remaining = size;
        Mapped mapped = new Mapped();
        int ret = 0;
        while (remaining != 0) {
            PageSizes.Step step = PageSizes.pgsize(bitmap, iova, paddr, remaining);
            mapped.reset();
            ret = ops.mapPages(iova, paddr, step.pgsize(), step.count(), prot, mapped);
            listener.mapPages(iova, paddr, step.pgsize(), step.count(), ret, mapped.bytes);
            remaining -= mapped.bytes;
            if (ret != 0) {
                break;
            }
            if (mapped.bytes == 0) {
                // the kernel would loop forever on such a driver bug; the model stops
                listener.noProgress(iova);
                ret = Errno.EINVAL.neg();
                break;
            }
            iova += mapped.bytes;
            paddr += mapped.bytes;
        }
        long done = size - remaining;
        long unrolled = ret != 0 ? unroll.unroll(origIova, done) : 0;
        return new MapResult(ret, done, unrolled);
    }

    /**
     * Unmaps {@code [iova, iova+size)}, stopping at the first call that removes nothing.
     *
     * @return bytes unmapped: may exceed {@code size} when a larger page was covered, or fall
     *     short at a hole; 0 for a misaligned request
     */
    public static long unmap(MapPagesOps ops, long bitmap, long iova, long size, IotlbGather gather,
                             Listener listener) {
        return unmap(ops, bitmap, iova, size, gather, listener, false);
    }

    private static long unmap(MapPagesOps ops, long bitmap, long iova, long size, IotlbGather gather,
                              Listener listener, boolean unroll) {
        long min = PageSizes.minPageSize(bitmap);
        if (((iova | size) & (min - 1)) != 0) {
            listener.unaligned(min);
            return 0;
        }
        long unmapped = 0;
        while (Long.compareUnsigned(unmapped, size) < 0) {
            PageSizes.Step step = PageSizes.pgsize(bitmap, iova, iova, size - unmapped);
            long u = ops.unmapPages(iova, step.pgsize(), step.count(), gather);
            listener.unmapPages(iova, step.pgsize(), step.count(), u, unroll);
            if (u == 0) {
                break;
            }
            iova += u;
            unmapped += u;
        }
        return unmapped;
    }
}
