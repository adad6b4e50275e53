package org.jiommu.hw;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.lang.ref.WeakReference;
import java.util.Collections;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The counters of one hardware unit, by name: translations, cache hits and misses per cache,
 * walks and words read, invalidations by kind, faults by reason (ARCHITECTURE.md
 * "Observability"). One object instead of scattered fields, as Caffeine keeps its stats.
 *
 * <p>A unit looks its hot counters up once, at construction, and keeps the {@link Counter}
 * objects: an increment is then a plain store into the calling thread's own cell (see {@link
 * Counter}), allocation-free, without an atomic instruction, and cheap under contention. Rare counters (a fault reason seen for the first time) are created on demand.
 */
public final class HwStats {
    /**
     * One monotonically increasing count, exact: every increment is kept and {@link #sum} adds
     * them all.
     *
     * <p>An increment is a plain store into a cell only the calling thread writes (found by its
     * thread id in a small slot array), so the hot paths (a translation bumps several counters)
     * pay no atomic read-modify-write: an uncontended {@code LongAdder} still issues a locked
     * compare-and-set per increment, which was about half of an IOTLB hit. {@link #sum} adds the
     * cells, as {@code LongAdder.sum} does: exact once the incrementing threads are done (or
     * ordered before the read), and otherwise between the values before and after the increments
     * in flight. A cell is created the first time a thread counts; the cells of threads that
     * have ended are folded into a base when a new thread's cell is made, so a counter holds
     * one cell per live counting thread.
     */
    public static final class Counter {
        private static final int SLOTS = 32;
        private final String name;
        /** Cells by thread id modulo SLOTS: a lookup aid only; racy reads are checked by owner. */
        private final Cell[] slots = new Cell[SLOTS];
        /** Every cell not yet folded, and the counts of the folded ones; replaced whole under {@code this}. */
        private volatile Cells cells = new Cells(0, new Cell[0]);
        /** Unnamed counters whose counts this one's {@link #sum} includes (see {@link HwStats#combined}). */
        private volatile Counter[] includes = new Counter[0];

        private Counter(String name) {
            this.name = name;
        }

        public void increment() {
            cell().add(1);
        }

        public void add(long n) {
            cell().add(n);
        }

        private Cell cell() {
            long id = Thread.currentThread().getId();
            Cell c = slots[(int) id & (SLOTS - 1)];
            // Only the thread of that id ever creates a cell with that owner: a match is ours.
            return c != null && c.owner == id ? c : cellSlow(id);
        }

        private synchronized Cell cellSlow(long id) {
            Cells now = cells;
            Cell mine = null;
            for (Cell c : now.cells) {
                if (c.owner == id) {
                    mine = c;
                    break;
                }
            }
            if (mine == null) {
                mine = new Cell(id, Thread.currentThread());
                long folded = now.folded;
                java.util.List<Cell> live = new java.util.ArrayList<>(now.cells.length + 1);
                for (Cell c : now.cells) {
                    if (c.thread.get() == null) {
                        folded += c.get(); // its thread ended and was collected: it counts no more
                    } else {
                        live.add(c);
                    }
                }
                live.add(mine);
                cells = new Cells(folded, live.toArray(new Cell[0]));
            }
            slots[(int) id & (SLOTS - 1)] = mine;
            return mine;
        }

        /** This counter's increments, plus those of the combined counters it includes. */
        public long sum() {
            long s = own();
            for (Counter c : includes) {
                s += c.own();
            }
            return s;
        }

        private long own() {
            Cells now = cells;
            long s = now.folded;
            for (Cell c : now.cells) {
                s += c.get();
            }
            return s;
        }

        private synchronized void include(Counter c) {
            Counter[] a = java.util.Arrays.copyOf(includes, includes.length + 1);
            a[a.length - 1] = c;
            includes = a;
        }

        public String name() {
            return name;
        }

        @Override
        public String toString() {
            return name + "=" + sum();
        }
    }

    /** The cells of a {@link Counter} and what its folded cells had counted; immutable. */
    private static final class Cells {
        final long folded;
        final Cell[] cells;

        Cells(long folded, Cell[] cells) {
            this.folded = folded;
            this.cells = cells;
        }
    }

    /** One thread's share of a {@link Counter}: written by that thread only. */
    private static final class Cell {
        private static final VarHandle VALUE;

        static {
            try {
                VALUE = MethodHandles.lookup().findVarHandle(Cell.class, "value", long.class);
            } catch (ReflectiveOperationException e) {
                throw new ExceptionInInitializerError(e);
            }
        }

        final long owner;
        /** Only to notice that the owner ended; the owner test uses {@link #owner}. */
        final WeakReference<Thread> thread;
        private long value;

        Cell(long owner, Thread thread) {
            this.owner = owner;
            this.thread = new WeakReference<>(thread);
        }

        /** By the owner only: a single writer, so a plain read and an opaque (untorn) write suffice. */
        void add(long n) {
            VALUE.setOpaque(this, value + n);
        }

        long get() {
            return (long) VALUE.getOpaque(this);
        }
    }

    /**
     * A counter resolved by name on its first increment and kept from then on: for counters a
     * unit bumps on a hot path but that must not appear in a snapshot before they first count
     * (as {@link #counter} creates them). The racy first resolution is benign: {@link #counter}
     * returns the same object to every caller, and a {@link Counter} is safely published.
     */
    public static final class LazyCounter {
        private final HwStats stats;
        private final String name;
        private Counter counter;

        private LazyCounter(HwStats stats, String name) {
            this.stats = stats;
            this.name = name;
        }

        public void increment() {
            Counter c = counter;
            if (c == null) {
                c = stats.counter(name);
                counter = c;
            }
            c.increment();
        }
    }

    /** A consistent-enough copy of every counter (each read once), sorted by name. */
    public static final class Snapshot {
        private final SortedMap<String, Long> values;

        private Snapshot(SortedMap<String, Long> values) {
            this.values = Collections.unmodifiableSortedMap(values);
        }

        /** The value of a counter, 0 if it never counted. */
        public long get(String name) {
            Long v = values.get(name);
            return v == null ? 0L : v;
        }

        public SortedMap<String, Long> asMap() {
            return values;
        }

        /** Counter by counter difference {@code this - earlier}, for "what did this step do". */
        public Snapshot minus(Snapshot earlier) {
            SortedMap<String, Long> d = new TreeMap<>();
            for (Map.Entry<String, Long> e : values.entrySet()) {
                long delta = e.getValue() - earlier.get(e.getKey());
                if (delta != 0) {
                    d.put(e.getKey(), delta);
                }
            }
            return new Snapshot(d);
        }

        @Override
        public String toString() {
            StringBuilder sb = new StringBuilder();
            for (Map.Entry<String, Long> e : values.entrySet()) {
                if (e.getValue() != 0) {
                    sb.append(e.getKey()).append(' ').append(e.getValue()).append('\n');
                }
            }
            return sb.toString();
        }
    }

    private final String unitName;
    private final ConcurrentHashMap<String, Counter> counters = new ConcurrentHashMap<>();

    public HwStats(String unitName) {
        this.unitName = unitName;
    }

    public String unitName() {
        return unitName;
    }

    /** The counter of that name, created at zero on first use; always the same object. */
    public Counter counter(String name) {
        Counter c = counters.get(name);
        return c != null ? c : counters.computeIfAbsent(name, Counter::new);
    }

    /**
     * An unnamed counter whose every increment counts as one of each named counter (created
     * if absent): their {@link Counter#sum}, {@link #get} and {@link #snapshot} include it. For
     * a hot path that would otherwise bump several counters for one event (a translation that
     * hits every cache is a translation, a context-cache hit, ... and an IOTLB hit): one
     * increment instead of several, with the same figures.
     */
    public Counter combined(String... names) {
        Counter c = new Counter(String.join("+", names));
        for (String n : names) {
            counter(n).include(c);
        }
        return c;
    }

    /** A handle on the counter of that name that creates it only when it first counts. */
    public LazyCounter lazyCounter(String name) {
        return new LazyCounter(this, name);
    }

    /** Current value of a counter, 0 if it does not exist. */
    public long get(String name) {
        Counter c = counters.get(name);
        return c == null ? 0L : c.sum();
    }

    public Snapshot snapshot() {
        SortedMap<String, Long> m = new TreeMap<>();
        for (Counter c : counters.values()) {
            m.put(c.name, c.sum());
        }
        return new Snapshot(m);
    }

    @Override
    public String toString() {
        return unitName + ":\n" + snapshot();
    }
}
