package org.jiommu.hw;

import java.util.Collections;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/**
 * The counters of one hardware unit, by name: translations, cache hits and misses per cache,
 * walks and words read, invalidations by kind, faults by reason (ARCHITECTURE.md
 * "Observability"). One object instead of scattered fields, as Caffeine keeps its stats.
 *
 * <p>A unit looks its hot counters up once, at construction, and keeps the {@link Counter}
 * objects: an increment is then a {@link LongAdder} add, allocation-free and cheap under
 * contention. Rare counters (a fault reason seen for the first time) are created on demand.
 */
public final class HwStats {
    /** One monotonically increasing count. */
    public static final class Counter {
        private final String name;
        private final LongAdder adder = new LongAdder();

        private Counter(String name) {
            this.name = name;
        }

        public void increment() {
            adder.increment();
        }

        public void add(long n) {
            adder.add(n);
        }

        public long sum() {
            return adder.sum();
        }

        public String name() {
            return name;
        }

        @Override
        public String toString() {
            return name + "=" + adder.sum();
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
