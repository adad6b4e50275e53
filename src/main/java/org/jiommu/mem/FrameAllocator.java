package org.jiommu.mem;

import java.util.HashMap;
import java.util.Map;
import java.util.TreeSet;

/**
 * Allocates naturally aligned, zeroed blocks of 2^order frames for page-table pages (order 0 =
 * one 4 KiB page; larger orders for 16K/64K granule tables and concatenated stage-2 PGDs).
 *
 * <p>A binary buddy allocator over a fixed pool of physical memory. It always hands out the
 * lowest free address, so table addresses, and therefore dumps and traces, are reproducible.
 * Blocks are zeroed on allocation (and backed, up to {@link #BACKED_MAX_ORDER}) and dropped from memory on free (a stale pointer into a freed
 * table then reads zeros, i.e. "not present", as after real reuse). Counters let tests prove
 * that nothing leaks (invariant I10).
 *
 * <p>Thread-safe: one lock guards the free lists; allocation is off the DMA read path.
 */
public final class FrameAllocator {
    /** Largest block: 2^10 frames = 4 MiB (16 concatenated 64 KiB tables need 1 MiB). */
    public static final int MAX_ORDER = 10;
    /**
     * Largest order handed out backed (every frame present, zero): table pages up to a 16 KiB
     * granule's, where descriptor writes are dense. Larger blocks are handed out zero but unbacked.
     */
    static final int BACKED_MAX_ORDER = 2;

    private final PhysicalMemory memory;
    private final long poolBase;
    private final long poolSize;

    /** Guards everything below. */
    private final Object lock = new Object();
    /**
     * Free blocks of each order. Max-order blocks at or above {@link #untouched} are free too
     * without being listed: the pool is handed out from its bottom, so the sets hold only what
     * was split or returned, and a pool of any size (a 52-bit memory's top quarter is 2^28
     * blocks) costs nothing until it is used.
     */
    @SuppressWarnings("unchecked")
    private final TreeSet<Long>[] free = new TreeSet[MAX_ORDER + 1];
    /** Lowest max-order block never handed out; every block from here to the pool's end is free. */
    private long untouched;
    /** Live blocks: base address → order. A free of anything else is a model bug. */
    private final Map<Long, Integer> live = new HashMap<>();
    private long allocatedBytes;
    private long peakBytes;
    private long totalAllocations;
    private long totalFrees;
    /** Test hook: the Nth next allocation (1-based) fails; 0 = off. */
    private long failNth;

    /** A pool at the top quarter of memory (at least one max-order block). */
    public FrameAllocator(PhysicalMemory memory) {
        this(memory, defaultPoolBase(memory.size()), memory.size() - defaultPoolBase(memory.size()));
    }

    /** The pool PhysicalMemory direct-maps: page-table words there are cheapest to reach. */
    private static long defaultPoolBase(long size) {
        return PhysicalMemory.defaultPoolBase(size);
    }

    /**
     * @param poolBase start of the pool, aligned to the largest block (4 MiB)
     * @param poolSize bytes in the pool, a multiple of the largest block
     */
    public FrameAllocator(PhysicalMemory memory, long poolBase, long poolSize) {
        long block = (long) PhysicalMemory.FRAME_SIZE << MAX_ORDER;
        if ((poolBase & (block - 1)) != 0 || poolSize <= 0 || (poolSize & (block - 1)) != 0
                || !memory.contains(poolBase, poolSize)) {
            throw new IllegalArgumentException(String.format(
                    "frame pool [%#x, +%#x) must be 4 MiB aligned and inside memory of size %#x",
                    poolBase, poolSize, memory.size()));
        }
        this.memory = memory;
        this.poolBase = poolBase;
        this.poolSize = poolSize;
        for (int i = 0; i <= MAX_ORDER; i++) {
            free[i] = new TreeSet<>();
        }
        this.untouched = poolBase;
    }

    public PhysicalMemory memory() {
        return memory;
    }

    public long poolBase() {
        return poolBase;
    }

    public long poolSize() {
        return poolSize;
    }

    /** True if {@code pa} lies in the page-table pool (callers keep DMA data elsewhere). */
    public boolean inPool(long pa) {
        return pa >= poolBase && pa - poolBase < poolSize;
    }

    /** The order of the smallest block holding {@code bytes}. */
    public static int orderFor(long bytes) {
        long frames = Math.max(1, (bytes + PhysicalMemory.FRAME_SIZE - 1) >>> PhysicalMemory.FRAME_SHIFT);
        return 64 - Long.numberOfLeadingZeros(frames - 1);
    }

    /**
     * Allocates a zeroed, naturally aligned block of 2^order frames.
     *
     * @return its physical address, or -1 when the pool is exhausted (or an injected failure
     *     hit), the model of a NULL return from the kernel's page allocator
     */
    public long alloc(int order) {
        if (order < 0 || order > MAX_ORDER) {
            throw new IllegalArgumentException("order " + order + " outside 0.." + MAX_ORDER);
        }
        long pa;
        synchronized (lock) {
            if (failNth > 0 && --failNth == 0) {
                return -1;
            }
            int o = order;
            while (o < MAX_ORDER && free[o].isEmpty()) {
                o++;
            }
            if (!free[o].isEmpty()) {
                pa = free[o].pollFirst();
            } else if (untouched - poolBase < poolSize) {
                // Listed max-order blocks all lie below the untouched part, so taking them
                // first keeps "lowest free address" exactly as one set of every block would.
                pa = untouched;
                untouched += (long) PhysicalMemory.FRAME_SIZE << MAX_ORDER;
            } else {
                return -1;
            }
            while (o > order) { // split, keeping the lower half
                o--;
                free[o].add(pa + ((long) PhysicalMemory.FRAME_SIZE << o));
            }
            live.put(pa, order);
            allocatedBytes += (long) PhysicalMemory.FRAME_SIZE << order;
            peakBytes = Math.max(peakBytes, allocatedBytes);
            totalAllocations++;
        }
        long bytes = (long) PhysicalMemory.FRAME_SIZE << order;
        if (order <= BACKED_MAX_ORDER) {
            // A zeroed page, backed at once: descriptor writes into it then never create a frame.
            memory.zeroBacked(pa, bytes);
        } else {
            // A large block (a VT-d PASID directory is 32 frames for 20-bit PASIDs, and holds a
            // few entries): zeroed by dropping its frames, so it reads zero (__GFP_ZERO) without
            // 32 fresh frames, and readers skip it a frame at a time until something is written.
            memory.zero(pa, bytes);
        }
        return pa;
    }

    /** Allocates a zeroed block of at least {@code bytes}, naturally aligned; -1 on failure. */
    public long allocBytes(long bytes) {
        return alloc(orderFor(bytes));
    }

    /** Frees a block returned by {@link #alloc}; its memory reads as zero afterwards. */
    public void free(long pa) {
        int order;
        synchronized (lock) {
            Integer o = live.remove(pa);
            if (o == null) {
                throw new IllegalStateException(String.format("free of %#x, which is not an allocated block", pa));
            }
            order = o;
            allocatedBytes -= (long) PhysicalMemory.FRAME_SIZE << order;
            totalFrees++;
        }
        memory.zero(pa, (long) PhysicalMemory.FRAME_SIZE << order);
        synchronized (lock) {
            long a = pa;
            int o = order;
            while (o < MAX_ORDER) {
                long buddy = ((a - poolBase) ^ ((long) PhysicalMemory.FRAME_SIZE << o)) + poolBase;
                if (!free[o].remove(buddy)) {
                    break;
                }
                a = Math.min(a, buddy);
                o++;
            }
            long block = (long) PhysicalMemory.FRAME_SIZE << MAX_ORDER;
            if (o == MAX_ORDER && a + block == untouched) {
                // The top handed-out block came back whole: the untouched part grows down over
                // it and over any whole blocks listed just below, so the sets stay as small as
                // what is in use.
                untouched = a;
                while (free[MAX_ORDER].remove(untouched - block)) {
                    untouched -= block;
                }
            } else {
                free[o].add(a);
            }
        }
    }

    /** True if {@code pa} is the base of a live block. */
    public boolean isAllocated(long pa) {
        synchronized (lock) {
            return live.containsKey(pa);
        }
    }

    /** Makes the Nth next allocation (1-based) fail, as the kernel's fail_nth does; 0 turns it off. */
    public void failNthAllocation(long n) {
        synchronized (lock) {
            failNth = Math.max(0, n);
        }
    }

    public Stats stats() {
        synchronized (lock) {
            return new Stats(allocatedBytes, peakBytes, totalAllocations, totalFrees, live.size());
        }
    }

    /**
     * @param allocatedBytes bytes allocated now
     * @param peakBytes the most ever allocated at once
     * @param totalAllocations allocations since creation
     * @param totalFrees frees since creation
     * @param liveBlocks blocks allocated now
     */
    public record Stats(long allocatedBytes, long peakBytes, long totalAllocations, long totalFrees, long liveBlocks) {
    }
}
