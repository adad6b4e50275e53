package org.jiommu.dma;

import java.util.ArrayDeque;
import java.util.List;
import java.util.concurrent.locks.ReentrantLock;

/**
 * {@code struct iova_rcache}: the cache of one size class. Each CPU has two magazines
 * ({@code loaded} and {@code prev}) of up to {@link #IOVA_MAG_SIZE} pfns under its own lock;
 * full magazines go to a shared depot under the cache's lock. The depot is trimmed by delayed
 * work ({@code iova_depot_work_func}) back to one magazine per CPU, 100 ms after a push.
 */
public final class IovaRcache {
    /** {@code IOVA_MAG_SIZE}: 127 pfns plus the size word make a 1 KiB magazine in the kernel. */
    public static final int IOVA_MAG_SIZE = 127;
    /** {@code IOVA_DEPOT_DELAY}: the trim work runs 100 ms after it is scheduled. */
    public static final long IOVA_DEPOT_DELAY_MS = 100;

    /** The fields of a magazine, laid out before {@link Magazine}'s padding. */
    abstract static class MagazineFields {
        /** {@code capacity} pfns, then {@link CpuPad#LONGS} unused words. */
        final long[] pfns;
        final int capacity;
        int size;

        MagazineFields(int capacity) {
            this.capacity = capacity;
            pfns = new long[capacity + CpuPad.LONGS];
        }
    }

    /** {@code struct iova_magazine}, padded ({@link CpuPad}): its CPU writes it on every alloc and free. */
    static final class Magazine extends MagazineFields {
        long q00, q01, q02, q03, q04, q05, q06, q07, q08, q09, q10, q11, q12, q13, q14, q15;

        Magazine(int capacity) {
            super(capacity);
        }

        boolean full() {
            return size == capacity;
        }

        boolean empty() {
            return size == 0;
        }

        /**
         * {@code iova_magazine_pop}: the top pfn if it is within the limit, else the highest
         * slot that is, which takes the top one's place; 0 if none is.
         */
        long pop(long limitPfn) {
            int i = size - 1;
            while (pfns[i] > limitPfn) {
                if (i == 0) {
                    return 0;
                }
                i--;
            }
            long pfn = pfns[i];
            pfns[i] = pfns[--size];
            return pfn;
        }

        void push(long pfn) {
            pfns[size++] = pfn;
        }
    }

    /** The fields of a CPU's cache, laid out before {@link CpuRcache}'s padding. */
    abstract static class CpuRcacheFields {
        Magazine loaded;
        Magazine prev;
    }

    /**
     * {@code struct iova_cpu_rcache}; its monitor is {@code cpu_rcache->lock}. Padded
     * ({@link CpuPad}): its CPU writes its lock word (the object header) on every alloc and free.
     */
    static final class CpuRcache extends CpuRcacheFields {
        long q00, q01, q02, q03, q04, q05, q06, q07, q08, q09, q10, q11, q12, q13, q14, q15;

        CpuRcache(int magSize) {
            loaded = new Magazine(magSize);
            prev = new Magazine(magSize);
        }
    }

    private final IovaDomain iovad;
    /** Pfns per magazine: {@link #IOVA_MAG_SIZE}; smaller only in the model-checking test. */
    private final int magSize;
    /**
     * False only for the model-checking test's planted bug: the CPU's magazines without the
     * CPU's lock (which the kernel's {@code cpu_rcache->lock} exists to prevent).
     */
    private final boolean cpuLocked;
    private final ReentrantLock lock = new ReentrantLock();
    private final ArrayDeque<Magazine> depot = new ArrayDeque<>();
    /** One per CPU, then {@link CpuPad#REFS} unused slots: every CPU reads this array, CPU 0's cache may follow it. */
    private final CpuRcache[] cpuRcaches;
    private final int cpus;
    private final SimClock.Timer depotWork;

    IovaRcache(IovaDomain iovad, int cpus, SimClock clock) {
        this(iovad, cpus, clock, IOVA_MAG_SIZE, true);
    }

    /** A cache of {@code magSize}-pfn magazines (tests), {@code cpuLocked} false only as a planted bug. */
    IovaRcache(IovaDomain iovad, int cpus, SimClock clock, int magSize, boolean cpuLocked) {
        if (magSize < 1) {
            throw new IllegalArgumentException("magazine size " + magSize);
        }
        this.iovad = iovad;
        this.magSize = magSize;
        this.cpuLocked = cpuLocked;
        this.cpus = cpus;
        cpuRcaches = new CpuRcache[cpus + CpuPad.REFS];
        for (int i = 0; i < cpus; i++) {
            cpuRcaches[i] = new CpuRcache(magSize);
        }
        depotWork = clock == null ? null : clock.timer(this::depotWorkFunc);
    }

    /**
     * {@code __iova_rcache_insert}: push into {@code loaded}; if it is full, swap with
     * {@code prev} and push there; if both are full, the loaded one goes to the depot and a new
     * empty one takes its place. Always succeeds here (the kernel fails only if the GFP_ATOMIC
     * magazine allocation does).
     */
    boolean insert(int cpu, long pfn) {
        CpuRcache c = cpuRcaches[cpu];
        synchronized (guard(c)) {
            if (c.loaded.full()) {
                if (!c.prev.full()) {
                    swap(c);
                } else {
                    lock.lock();
                    try {
                        depot.push(c.loaded);
                    } finally {
                        lock.unlock();
                    }
                    if (depotWork != null) {
                        depotWork.scheduleIn(IOVA_DEPOT_DELAY_MS);
                    }
                    c.loaded = new Magazine(magSize);
                }
            }
            c.loaded.push(pfn);
            return true;
        }
    }

    /** The CPU's lock: its cache's monitor, or (the planted bug) a fresh object that excludes no one. */
    private Object guard(CpuRcache c) {
        return cpuLocked ? c : new Object();
    }

    /**
     * {@code __iova_rcache_get}: pop from {@code loaded}; if empty, swap with a non-empty
     * {@code prev}; if both are empty, the (empty) loaded magazine is replaced by a full one
     * from the depot. Returns 0 if nothing cached fits at or below {@code limitPfn}.
     */
    long get(int cpu, long limitPfn) {
        CpuRcache c = cpuRcaches[cpu];
        synchronized (guard(c)) {
            boolean has = false;
            if (!c.loaded.empty()) {
                has = true;
            } else if (!c.prev.empty()) {
                swap(c);
                has = true;
            } else {
                lock.lock();
                try {
                    if (!depot.isEmpty()) {
                        c.loaded = depot.pop();
                        has = true;
                    }
                } finally {
                    lock.unlock();
                }
            }
            return has ? c.loaded.pop(limitPfn) : 0;
        }
    }

    private static void swap(CpuRcache c) {
        Magazine t = c.loaded;
        c.loaded = c.prev;
        c.prev = t;
    }

    /** {@code iova_depot_work_func}: while the depot holds more magazines than CPUs, one goes back to the tree per run. */
    private void depotWorkFunc() {
        Magazine m = null;
        lock.lock();
        try {
            if (depot.size() > cpus) {
                m = depot.pop();
            }
        } finally {
            lock.unlock();
        }
        if (m != null) {
            iovad.freePfns(m.pfns, m.size);
            depotWork.scheduleIn(IOVA_DEPOT_DELAY_MS);
        }
    }

    /** Part of {@code free_cpu_cached_iovas}. */
    void freeCpu(int cpu) {
        CpuRcache c = cpuRcaches[cpu];
        synchronized (c) {
            iovad.freePfns(c.loaded.pfns, c.loaded.size);
            c.loaded.size = 0;
            iovad.freePfns(c.prev.pfns, c.prev.size);
            c.prev.size = 0;
        }
    }

    /** Part of {@code free_global_cached_iovas}. */
    void freeDepot() {
        lock.lock();
        try {
            while (!depot.isEmpty()) {
                Magazine m = depot.pop();
                iovad.freePfns(m.pfns, m.size);
            }
        } finally {
            lock.unlock();
        }
    }

    /** Magazines in the depot now. */
    public int depotSize() {
        lock.lock();
        try {
            return depot.size();
        } finally {
            lock.unlock();
        }
    }

    /** Pfns in CPU {@code cpu}'s loaded and prev magazines. */
    public int cpuCached(int cpu) {
        CpuRcache c = cpuRcaches[cpu];
        synchronized (c) {
            return c.loaded.size + c.prev.size;
        }
    }

    long cachedCount() {
        List<Long> l = new java.util.ArrayList<>();
        collect(l);
        return l.size();
    }

    /** Every cached pfn: each CPU's magazines (each under its lock), then the depot. */
    void collect(List<Long> out) {
        for (int cpu = 0; cpu < cpus; cpu++) {
            CpuRcache c = cpuRcaches[cpu];
            synchronized (c) {
                for (int i = 0; i < c.loaded.size; i++) {
                    out.add(c.loaded.pfns[i]);
                }
                for (int i = 0; i < c.prev.size; i++) {
                    out.add(c.prev.pfns[i]);
                }
            }
        }
        lock.lock();
        try {
            for (Magazine m : depot) {
                for (int i = 0; i < m.size; i++) {
                    out.add(m.pfns[i]);
                }
            }
        } finally {
            lock.unlock();
        }
    }
}
