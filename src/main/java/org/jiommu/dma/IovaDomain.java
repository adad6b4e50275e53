package org.jiommu.dma;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.locks.ReentrantLock;

/**
 * {@code struct iova_domain} (drivers/iommu/iova.c): the IOVA space of one DMA domain in units
 * of its granule (page frame numbers, "pfns"), a tree of allocated and reserved ranges searched
 * top down, and the per-CPU range caches ({@link IovaRcache}) in front of it.
 *
 * <p>The tree holds disjoint ranges keyed by {@code pfnLo}, plus the anchor node at
 * {@link #IOVA_ANCHOR} that every walk starts below. As in the kernel two cached nodes remember
 * where the last allocation below and above 4 GiB ended, so a walk starts there, and
 * {@code max32AllocSize} remembers the smallest size that already failed below 4 GiB.
 *
 * <p>Thread-safe: the tree is under one lock ({@code iova_rbtree_lock}); the caches have their
 * own per-CPU and depot locks and take the tree lock only to give ranges back.
 */
public final class IovaDomain {
    /** {@code IOVA_ANCHOR}: the dummy node above every pfn (the kernel's ~0UL). */
    public static final long IOVA_ANCHOR = Long.MAX_VALUE;
    /** {@code IOVA_RANGE_CACHE_MAX_SIZE}: sizes of 2^0 .. 2^5 granules are cached (128 KiB at 4 KiB). */
    public static final int IOVA_RANGE_CACHE_MAX_SIZE = 6;

    /** One range in the tree ({@code struct iova}); inclusive bounds. */
    public static final class Iova {
        long pfnLo;
        long pfnHi;

        Iova(long lo, long hi) {
            pfnLo = lo;
            pfnHi = hi;
        }

        public long pfnLo() {
            return pfnLo;
        }

        public long pfnHi() {
            return pfnHi;
        }

        public long size() {
            return pfnHi - pfnLo + 1;
        }

        @Override
        public String toString() {
            return String.format("[%#x..%#x]", pfnLo, pfnHi);
        }
    }

    private final long granule;
    private final int shift;
    private final long startPfn;
    private final long dma32bitPfn;
    private final ReentrantLock treeLock = new ReentrantLock();
    private final TreeMap<Long, Iova> tree = new TreeMap<>();
    private final Iova anchor = new Iova(IOVA_ANCHOR, IOVA_ANCHOR);
    private Iova cachedNode;
    private Iova cached32Node;
    private long max32AllocSize;
    private final IovaRcache[] rcaches;
    private final int cpus;
    /** Every range given to {@link #reserveIova}, as asked (accounting). */
    private final List<long[]> reserved = new ArrayList<>();

    /**
     * {@code init_iova_domain} + {@code iova_domain_init_rcaches}.
     *
     * @param granule bytes per pfn, a power of two (the smallest page size of the domain)
     * @param startPfn lowest pfn ever handed out (the DMA layer uses at least 1: IOVA 0 is never valid)
     * @param cpus number of CPUs with their own caches
     * @param clock runs the depot trim work; null if it never runs
     */
    public IovaDomain(long granule, long startPfn, int cpus, SimClock clock) {
        if (granule <= 0 || Long.bitCount(granule) != 1) {
            throw new IllegalArgumentException("granule must be a power of two: " + granule);
        }
        if (startPfn < 0 || cpus < 1) {
            throw new IllegalArgumentException("start pfn " + startPfn + ", cpus " + cpus);
        }
        this.granule = granule;
        this.shift = Long.numberOfTrailingZeros(granule);
        this.startPfn = startPfn;
        this.dma32bitPfn = 1L << (32 - shift);
        this.max32AllocSize = dma32bitPfn;
        this.cpus = cpus;
        tree.put(anchor.pfnLo, anchor);
        cachedNode = anchor;
        cached32Node = anchor;
        rcaches = new IovaRcache[IOVA_RANGE_CACHE_MAX_SIZE];
        for (int i = 0; i < rcaches.length; i++) {
            rcaches[i] = new IovaRcache(this, cpus, clock);
        }
    }

    public long granule() {
        return granule;
    }

    public int shift() {
        return shift;
    }

    public long startPfn() {
        return startPfn;
    }

    public int cpus() {
        return cpus;
    }

    /** {@code iova_shift}-based helpers: the pfn of an address, the offset in its granule, the size rounded up. */
    public long iovaPfn(long addr) {
        return addr >>> shift;
    }

    public long iovaOffset(long addr) {
        return addr & (granule - 1);
    }

    public long iovaAlign(long size) {
        return (size + granule - 1) & -granule;
    }

    /** The CPU index a thread uses when the caller names none (a stand-in for {@code raw_smp_processor_id}). */
    public int currentCpu() {
        return (int) Math.floorMod(Thread.currentThread().getId(), (long) cpus);
    }

    // ------------------------------------------------------------------ the tree

    private Iova prev(Iova n) {
        Map.Entry<Long, Iova> e = tree.lowerEntry(n.pfnLo);
        return e == null ? null : e.getValue();
    }

    private Iova next(Iova n) {
        Map.Entry<Long, Iova> e = tree.higherEntry(n.pfnLo);
        return e == null ? null : e.getValue();
    }

    /** {@code __get_cached_rbnode}. */
    private Iova cachedRbnode(long limitPfn) {
        return limitPfn <= dma32bitPfn ? cached32Node : cachedNode;
    }

    /** {@code __cached_rbnode_insert_update}. */
    private void cachedInsertUpdate(Iova n) {
        if (n.pfnHi < dma32bitPfn) {
            cached32Node = n;
        } else {
            cachedNode = n;
        }
    }

    /** {@code __cached_rbnode_delete_update}: a freed node moves the cached node up past it. */
    private void cachedDeleteUpdate(Iova free) {
        Iova c32 = cached32Node;
        if (free == c32 || (free.pfnHi < dma32bitPfn && free.pfnLo >= c32.pfnLo)) {
            cached32Node = next(free);
        }
        if (free.pfnLo < dma32bitPfn) {
            max32AllocSize = dma32bitPfn;
        }
        if (free.pfnLo >= cachedNode.pfnLo) {
            cachedNode = next(free);
        }
    }

    /** {@code iova_find_limit}: the lowest node ending at or above {@code limitPfn} (the anchor above 4 GiB). */
    private Iova findLimit(long limitPfn) {
        if (limitPfn > dma32bitPfn) {
            return anchor;
        }
        Long from = tree.floorKey(limitPfn);
        for (Iova n : tree.tailMap(from == null ? Long.MIN_VALUE : from, true).values()) {
            if (n.pfnHi >= limitPfn) {
                return n;
            }
        }
        return anchor;
    }

    /**
     * {@code __alloc_and_insert_iova_range}: walk down from the cached node for the highest gap
     * of {@code size} pfns whose start, rounded down to the size's power of two when
     * {@code sizeAligned}, stays above the previous node and at or above the start pfn; if that
     * fails and the walk did not start at the top, retry once in the space above where it
     * started. Returns null when nothing fits (and remembers the size if below 4 GiB).
     */
    private Iova allocAndInsert(long size, long limitPfn, boolean sizeAligned) {
        long alignMask = sizeAligned ? -1L << (64 - Long.numberOfLeadingZeros(size - 1)) : -1L;
        long highPfn = limitPfn;
        long lowPfn = startPfn;
        treeLock.lock();
        try {
            if (limitPfn <= dma32bitPfn && size >= max32AllocSize) {
                return null;
            }
            Iova curr = cachedRbnode(limitPfn);
            long retryPfn = curr.pfnHi;
            long newPfn;
            Iova prev;
            while (true) {
                do {
                    highPfn = Math.min(highPfn, curr.pfnLo);
                    newPfn = (highPfn - size) & alignMask;
                    prev = curr;
                    curr = prev(curr);
                } while (curr != null && newPfn <= curr.pfnHi && newPfn >= lowPfn);
                if (highPfn < size || newPfn < lowPfn) {
                    if (lowPfn == startPfn && retryPfn < limitPfn) {
                        highPfn = limitPfn;
                        lowPfn = retryPfn + 1;
                        curr = findLimit(limitPfn);
                        continue;
                    }
                    max32AllocSize = size;
                    return null;
                }
                break;
            }
            Iova n = new Iova(newPfn, newPfn + size - 1);
            tree.put(n.pfnLo, n);
            cachedInsertUpdate(n);
            return n;
        } finally {
            treeLock.unlock();
        }
    }

    /**
     * {@code alloc_iova}: {@code size} pfns at or below {@code limitPfn} (inclusive), from the
     * tree only; null if there is no room.
     */
    public Iova allocIova(long size, long limitPfn, boolean sizeAligned) {
        if (size <= 0 || limitPfn < 0) {
            throw new IllegalArgumentException("alloc_iova of " + size + " pfns below " + limitPfn);
        }
        return allocAndInsert(size, Math.min(limitPfn, IOVA_ANCHOR - 1) + 1, sizeAligned);
    }

    /** {@code private_find_iova}: the node containing {@code pfn}, caller holds the lock. */
    private Iova findLocked(long pfn) {
        Map.Entry<Long, Iova> e = tree.floorEntry(pfn);
        if (e == null || e.getValue() == anchor || e.getValue().pfnHi < pfn) {
            return null;
        }
        return e.getValue();
    }

    /** {@code find_iova}. */
    public Iova findIova(long pfn) {
        treeLock.lock();
        try {
            return findLocked(pfn);
        } finally {
            treeLock.unlock();
        }
    }

    private void removeLocked(Iova n) {
        cachedDeleteUpdate(n);
        tree.remove(n.pfnLo);
    }

    /** {@code free_iova}: frees the range containing {@code pfn}; nothing if none does. */
    public void freeIova(long pfn) {
        treeLock.lock();
        try {
            Iova n = findLocked(pfn);
            if (n != null) {
                removeLocked(n);
            }
        } finally {
            treeLock.unlock();
        }
    }

    /** Frees every pfn of {@code pfns[0..n)} back to the tree ({@code iova_magazine_free_pfns}). */
    void freePfns(long[] pfns, int n) {
        treeLock.lock();
        try {
            for (int i = 0; i < n; i++) {
                Iova node = findLocked(pfns[i]);
                if (node != null) { // WARN_ON(!iova) in the kernel: a cached pfn is always in the tree
                    removeLocked(node);
                }
            }
        } finally {
            treeLock.unlock();
        }
    }

    /**
     * {@code reserve_iova}: takes {@code [pfnLo, pfnHi]} out of the space. Where it overlaps
     * existing ranges the kernel grows them ({@code __adjust_overlap_range}) and inserts what is
     * left as a new range; the reserved pfns are never handed out and never freed.
     */
    public void reserveIova(long pfnLo, long pfnHi) {
        if (pfnLo < 0 || pfnHi < pfnLo || pfnHi >= IOVA_ANCHOR) {
            throw new IllegalArgumentException(String.format("reserve_iova [%#x..%#x]", pfnLo, pfnHi));
        }
        treeLock.lock();
        try {
            reserved.add(new long[] {pfnLo, pfnHi});
            boolean overlap = false;
            long lo = pfnLo;
            long hi = pfnHi;
            for (Iova n : new ArrayList<>(tree.values())) {
                if (n == anchor) {
                    break;
                }
                if (n.pfnLo <= hi && lo <= n.pfnHi) {
                    if (lo < n.pfnLo) { // __adjust_overlap_range grows the node down
                        tree.remove(n.pfnLo);
                        n.pfnLo = lo;
                        tree.put(n.pfnLo, n);
                    }
                    if (hi > n.pfnHi) {
                        lo = n.pfnHi + 1;
                    }
                    if (lo >= n.pfnLo && hi <= n.pfnHi) {
                        return;
                    }
                    overlap = true;
                } else if (overlap) {
                    break;
                }
            }
            tree.put(lo, new Iova(lo, hi));
        } finally {
            treeLock.unlock();
        }
    }

    // ------------------------------------------------------------------ the caches

    /** {@code order_base_2}. */
    static int orderBase2(long n) {
        return n <= 1 ? 0 : 64 - Long.numberOfLeadingZeros(n - 1);
    }

    /**
     * {@code alloc_iova_fast} on the current thread's CPU: the CPU's cache for this size, then
     * the tree; if the tree is full and {@code flushRcache}, every cache is given back to the
     * tree and the tree tried once more. Returns the first pfn, or 0 if nothing fits.
     */
    public long allocIovaFast(long size, long limitPfn, boolean flushRcache) {
        return allocIovaFast(currentCpu(), size, limitPfn, flushRcache);
    }

    /** {@link #allocIovaFast(long, long, boolean)} as CPU {@code cpu}. */
    public long allocIovaFast(int cpu, long size, long limitPfn, boolean flushRcache) {
        checkCpu(cpu);
        if (size <= 0 || limitPfn < 0) {
            throw new IllegalArgumentException("alloc_iova_fast of " + size + " pfns below " + limitPfn);
        }
        long pfn = rcacheGet(cpu, size, limitPfn + 1);
        if (pfn != 0) {
            return pfn;
        }
        while (true) {
            Iova n = allocIova(size, limitPfn, true);
            if (n != null) {
                return n.pfnLo;
            }
            if (!flushRcache) {
                return 0;
            }
            flushRcache = false;
            for (int c = 0; c < cpus; c++) {
                freeCpuCachedIovas(c);
            }
            freeGlobalCachedIovas();
        }
    }

    /** {@code free_iova_fast}: into the current thread's CPU cache if the size is cached and it has room, else the tree. */
    public void freeIovaFast(long pfn, long size) {
        freeIovaFast(currentCpu(), pfn, size);
    }

    /** {@link #freeIovaFast(long, long)} as CPU {@code cpu}. */
    public void freeIovaFast(int cpu, long pfn, long size) {
        checkCpu(cpu);
        int log = orderBase2(size);
        if (log < IOVA_RANGE_CACHE_MAX_SIZE && rcaches[log].insert(cpu, pfn)) {
            return;
        }
        freeIova(pfn);
    }

    /** {@code iova_rcache_get}: a cached range of this size class ending below {@code limitPfn}, or 0. */
    private long rcacheGet(int cpu, long size, long limitPfn) {
        int log = orderBase2(size);
        if (log >= IOVA_RANGE_CACHE_MAX_SIZE) {
            return 0;
        }
        return rcaches[log].get(cpu, limitPfn - size);
    }

    /** {@code free_cpu_cached_iovas}: CPU {@code cpu}'s two magazines of every size back to the tree. */
    public void freeCpuCachedIovas(int cpu) {
        checkCpu(cpu);
        for (IovaRcache r : rcaches) {
            r.freeCpu(cpu);
        }
    }

    /** {@code free_global_cached_iovas}: every depot magazine back to the tree. */
    public void freeGlobalCachedIovas() {
        for (IovaRcache r : rcaches) {
            r.freeDepot();
        }
    }

    private void checkCpu(int cpu) {
        if (cpu < 0 || cpu >= cpus) {
            throw new IllegalArgumentException("cpu " + cpu + " of " + cpus);
        }
    }

    /** The cache of size class {@code 2^log} granules (tests, accounting). */
    public IovaRcache rcache(int log) {
        return rcaches[log];
    }

    // ------------------------------------------------------------------ accounting

    /** Every range in the tree except the anchor, lowest first (allocated, cached and reserved alike). */
    public List<Iova> ranges() {
        treeLock.lock();
        try {
            List<Iova> out = new ArrayList<>();
            for (Iova n : tree.values()) {
                if (n != anchor) {
                    out.add(new Iova(n.pfnLo, n.pfnHi));
                }
            }
            return out;
        } finally {
            treeLock.unlock();
        }
    }

    /** Whether {@code pfn} lies in a range given to {@link #reserveIova}. */
    public boolean isReserved(long pfn) {
        treeLock.lock();
        try {
            for (long[] r : reserved) {
                if (pfn >= r[0] && pfn <= r[1]) {
                    return true;
                }
            }
            return false;
        } finally {
            treeLock.unlock();
        }
    }

    /** Ranges held in the caches (per-CPU magazines and depot), all size classes. */
    public long cachedRanges() {
        long n = 0;
        for (IovaRcache r : rcaches) {
            n += r.cachedCount();
        }
        return n;
    }

    /** Every cached pfn, all size classes (accounting checks: each must be a tree range). */
    public List<Long> cachedPfns() {
        List<Long> out = new ArrayList<>();
        for (IovaRcache r : rcaches) {
            r.collect(out);
        }
        return out;
    }

    @Override
    public String toString() {
        return "iova_domain granule " + granule + " start_pfn " + startPfn + " " + ranges();
    }
}
