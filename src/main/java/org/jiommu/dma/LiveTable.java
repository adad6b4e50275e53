package org.jiommu.dma;

import java.util.function.Consumer;

/**
 * The DMA layer's record of its live mappings, for the invariant checker (the kernel keeps no
 * such table: {@code iommu_dma_unmap_page} finds the physical address with
 * {@code iommu_iova_to_phys} and needs nothing else). Since it is the model's own bookkeeping on
 * the map/unmap path, it must not become a line every CPU writes: one table per CPU, as the
 * kernel's per-CPU data ({@code raw_cpu_ptr}), each with its own lock and no shared counter.
 *
 * <p>A map records its mapping in its CPU's table; an unmap looks first in its own CPU's table
 * (the usual case: a driver unmaps where it mapped) and then in the others' (a completion handled
 * on another CPU), each under that table's lock. Each table is an open-addressed hash of the
 * IOVA with linear probing and backward-shift deletion, so neither a put nor a remove allocates.
 * The tables are padded apart: two CPUs writing their own tables never write one cache line.
 *
 * <p>Before this, one {@code ConcurrentHashMap} per domain: its {@code addCount} on every put
 * summed the other CPU's counter cell, one cross-core line per map (a JFR profile of two
 * mapping threads had 30 % of the samples in it).
 */
final class LiveTable<E extends LiveTable.Entry> {
    /** What the table holds: anything with the IOVA it is keyed by (fixed for the entry's life). */
    abstract static class Entry {
        final long iova;

        Entry(long iova) {
            this.iova = iova;
        }
    }

    /** One CPU's table: its entries and their count, guarded by the slot's monitor. */
    abstract static class Fields {
        /** {@code mask + 1} buckets, then unused ones ({@link #newTable}). */
        Entry[] table = newTable(INITIAL);
        int mask = INITIAL - 1;
        int size;
    }

    /** A table of {@code buckets} buckets and {@link CpuPad#REFS} unused ones after them. */
    static Entry[] newTable(int buckets) {
        return new Entry[buckets + CpuPad.REFS];
    }

    /** A slot, padded ({@link CpuPad}): its CPU takes its monitor and writes its fields on every map and unmap. */
    static final class Slot extends Fields {
        long q00, q01, q02, q03, q04, q05, q06, q07, q08, q09, q10, q11, q12, q13, q14, q15;
    }

    /** Entries per table to start with (power of two); a table doubles at half full. */
    static final int INITIAL = 64;

    /** One per CPU, then {@link CpuPad#REFS} unused slots: every CPU reads this array, slot 0 may follow it. */
    private final Slot[] slots;
    private final int cpus;

    LiveTable(int cpus) {
        this.cpus = cpus;
        slots = new Slot[cpus + CpuPad.REFS];
        for (int i = 0; i < cpus; i++) {
            slots[i] = new Slot();
        }
    }

    /** Fibonacci hashing of the whole IOVA: neighbouring IOVAs land far apart in the table. */
    private static int index(long iova, int mask) {
        return (int) ((iova * 0x9E37_79B9_7F4A_7C15L) >>> 40) & mask;
    }

    /** Records {@code e} in CPU {@code cpu}'s table (the caller never puts an IOVA that is live). */
    void put(int cpu, E e) {
        Slot s = slots[cpu];
        synchronized (s) {
            insertLocked(s, e);
        }
    }

    /**
     * Records {@code e} in CPU {@code cpu}'s table unless some table holds its IOVA; false if one
     * does. Takes every table's lock in CPU order (a rare path: the MSI doorbell page).
     */
    boolean putIfAbsent(int cpu, E e) {
        return putIfAbsentFrom(0, cpu, e);
    }

    private boolean putIfAbsentFrom(int i, int cpu, E e) {
        if (i == cpus) {
            insertLocked(slots[cpu], e);
            return true;
        }
        Slot s = slots[i];
        synchronized (s) {
            return findLocked(s, e.iova) < 0 && putIfAbsentFrom(i + 1, cpu, e);
        }
    }

    /** Removes and returns the entry of {@code iova}, looking in CPU {@code cpu}'s table first; null if none. */
    E remove(int cpu, long iova) {
        int n = cpus;
        for (int k = 0; k < n; k++) {
            Slot s = slots[(cpu + k) % n];
            synchronized (s) {
                E e = removeLocked(s, iova);
                if (e != null) {
                    return e;
                }
            }
        }
        return null;
    }

    /** Every entry, each table under its lock (the checker: call it when no map or unmap is running). */
    @SuppressWarnings("unchecked")
    void forEach(Consumer<? super E> action) {
        for (int cpu = 0; cpu < cpus; cpu++) {
            Slot s = slots[cpu];
            Entry[] copy;
            synchronized (s) {
                copy = s.table.clone();
            }
            for (Entry e : copy) {
                if (e != null) {
                    action.accept((E) e);
                }
            }
        }
    }

    /** Entries in every table. */
    int size() {
        int n = 0;
        for (int cpu = 0; cpu < cpus; cpu++) {
            Slot s = slots[cpu];
            synchronized (s) {
                n += s.size;
            }
        }
        return n;
    }

    private static int findLocked(Slot s, long iova) {
        Entry[] t = s.table;
        int mask = s.mask;
        for (int i = index(iova, mask);; i = (i + 1) & mask) {
            Entry x = t[i];
            if (x == null) {
                return -1;
            }
            if (x.iova == iova) {
                return i;
            }
        }
    }

    private static void insertLocked(Slot s, Entry e) {
        if ((s.size + 1) * 2 > s.mask + 1) {
            Entry[] old = s.table;
            s.mask = s.mask * 2 + 1;
            s.table = newTable(s.mask + 1);
            for (Entry x : old) {
                if (x != null) {
                    place(s.table, s.mask, x);
                }
            }
        }
        place(s.table, s.mask, e);
        s.size++;
    }

    private static void place(Entry[] t, int mask, Entry e) {
        int i = index(e.iova, mask);
        while (t[i] != null) {
            i = (i + 1) & mask;
        }
        t[i] = e;
    }

    /** Removes the entry of {@code iova} and closes the gap (backward shift: no tombstones). */
    @SuppressWarnings("unchecked")
    private static <E> E removeLocked(Slot s, long iova) {
        int i = findLocked(s, iova);
        if (i < 0) {
            return null;
        }
        Entry[] t = s.table;
        int mask = s.mask;
        Entry found = t[i];
        int gap = i;
        for (int j = (i + 1) & mask; t[j] != null; j = (j + 1) & mask) {
            int home = index(t[j].iova, mask);
            // t[j] may move into the gap unless its home lies cyclically in (gap, j]
            boolean stays = gap <= j ? gap < home && home <= j : gap < home || home <= j;
            if (!stays) {
                t[gap] = t[j];
                gap = j;
            }
        }
        t[gap] = null;
        s.size--;
        return (E) found;
    }
}
