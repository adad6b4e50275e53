package org.jiommu.hw;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.function.LongPredicate;
import java.util.function.Predicate;

/**
 * A bounded concurrent cache keyed by a pair of primitive longs: the storage behind the
 * hardware models' translation caches (IOTLB, PASID cache, SMMU configuration caches).
 *
 * <p><b>Reads</b> ({@link #get}) take no lock and allocate nothing: the table is an array of
 * immutable chains, read with acquire semantics. A reader sees either the chain before or
 * after a concurrent change, never a torn one. <b>Writes</b> (fill, invalidate) take the cache's
 * own lock and publish new chains with release semantics (copy-on-write of one chain).
 *
 * <p><b>Fills never resurrect invalidated data.</b> A translation walks memory outside any
 * lock; if an invalidation runs between the start of that walk and the fill, the walk may
 * have read the old tables, and filling its result would leave a stale entry behind an
 * invalidation that already completed. So every invalidation bumps an epoch under the lock,
 * the walker reads {@link #epoch()} before reading memory, and {@link #put} drops the fill
 * if the epoch moved. Real hardware has the same obligation (an invalidation completes only
 * after walks in flight can no longer fill).
 *
 * <p><b>Capacity.</b> When a fill finds the cache full the whole cache is emptied first, as
 * QEMU's VT-d IOTLB does (HARDWARE.md 5.3): dropping entries is always allowed to a cache,
 * and emptying is deterministic, which keeps tests reproducible. Capacity 0 disables the cache.
 *
 * <p><b>Index by first key.</b> Under the lock the cache also keeps, per {@code key1} (the tag:
 * a domain id, an ASID/VMID, a PASID), the {@code key2}s cached under it, so an invalidation
 * that names its tags ({@link #invalidateIf(LongPredicate, Predicate)}, {@link
 * #invalidateKey1If}) visits only those entries instead of every bucket; a DMA unmap's
 * page-selective invalidation then costs the entries of its domain, not the cache's size.
 *
 * @param <V> the immutable cached value
 */
public final class TaggedCache<V> {
    private static final VarHandle SLOT = MethodHandles.arrayElementVarHandle(Node[].class);

    /** One immutable chain link; chains are replaced, never modified. */
    private static final class Node<V> {
        final long key1;
        final long key2;
        final V value;
        final Node<V> next;

        Node(long key1, long key2, V value, Node<V> next) {
            this.key1 = key1;
            this.key2 = key2;
            this.value = value;
            this.next = next;
        }
    }

    private final int capacity;
    private final int mask;
    /** Buckets; the array itself never changes, only its slots. */
    private final Node<V>[] table;
    /** Guards size, epoch updates and every slot write. Taken after any lock of the owning unit. */
    private final Object lock = new Object();
    private int size; // guarded by lock
    /** The key2s cached under each key1 with at least one entry; guarded by lock. */
    private final Map<Long, Keys> byKey1 = new HashMap<>();
    /** The last {@link #byKey1} lookup of {@link #put}, so refills of one tag skip the map; guarded by lock. */
    private long lastKey1;
    private Keys lastKeys;
    private volatile long epoch; // written under lock
    /** Bumped under lock after any entry is removed or replaced; see {@link #generation()}. */
    private volatile long generation;

    /** @param capacity most entries held at once; 0 disables caching */
    @SuppressWarnings("unchecked")
    public TaggedCache(int capacity) {
        if (capacity < 0 || capacity > (1 << 24)) {
            throw new IllegalArgumentException("cache capacity " + capacity + " outside 0..2^24");
        }
        this.capacity = capacity;
        int buckets = Integer.highestOneBit(Math.max(2, capacity) * 2 - 1) << 1;
        this.table = (Node<V>[]) new Node[buckets];
        this.mask = buckets - 1;
    }

    /** A growable list of the key2s under one key1 (order irrelevant). */
    private static final class Keys {
        long[] keys = new long[4];
        int n;

        void add(long key2) {
            if (n == keys.length) {
                keys = java.util.Arrays.copyOf(keys, n * 2);
            }
            keys[n++] = key2;
        }
    }

    /**
     * Two independent multiplies folded high into low: the bucket bits then depend on every
     * bit of both keys, with a dependency chain half as long as a full mix (this hash is on
     * every IOTLB, PASID-cache and STE/CD-cache lookup).
     */
    private static int hash(long key1, long key2) {
        long h = key1 * 0x9E3779B97F4A7C15L + key2 * 0xC2B2AE3D27D4EB4FL;
        return (int) (h >>> 32) ^ (int) h;
    }

    public int capacity() {
        return capacity;
    }

    /** The value cached under the key, or null. Lock-free and allocation-free. */
    @SuppressWarnings("unchecked")
    public V get(long key1, long key2) {
        Node<V> n = (Node<V>) SLOT.getAcquire(table, hash(key1, key2) & mask);
        while (n != null) {
            if (n.key1 == key1 && n.key2 == key2) {
                return n.value;
            }
            n = n.next;
        }
        return null;
    }

    /** Read before walking memory for a fill; pass to {@link #put}. */
    public long epoch() {
        return epoch;
    }

    /**
     * A count of the changes that can alter what {@link #get} returns for a key already
     * cached: every removal (invalidation, the clear of a full cache) and every replacement,
     * bumped after the change is visible. So if {@code generation()} reads the same value
     * before a {@link #get} and again later, that get's result still holds for its key: a
     * caller may remember it instead of asking again (the translation units' per-requester
     * memo). Adding a new key does not bump it.
     */
    public long generation() {
        return generation;
    }

    /**
     * Caches {@code value} under the key (replacing any entry with the same key) unless an
     * invalidation ran since {@code epochSeen} was read.
     *
     * @return true if cached, false if the fill was dropped (raced with an invalidation, or disabled)
     */
    @SuppressWarnings("unchecked")
    public boolean put(long key1, long key2, V value, long epochSeen) {
        if (capacity == 0) {
            return false;
        }
        synchronized (lock) {
            if (epoch != epochSeen) {
                return false;
            }
            int i = hash(key1, key2) & mask;
            Node<V> head = (Node<V>) SLOT.getAcquire(table, i);
            Node<V> without = remove(head, key1, key2);
            boolean newKey = without == head; // decided before any clear below
            boolean cleared = false;
            if (newKey && size >= capacity) {
                clearLocked(); // full: empty it (QEMU vtd_update_iotlb policy); keeps the epoch
                without = null;
                cleared = true;
            }
            if (newKey) {
                size++;
                keysOf(key1).add(key2);
            }
            SLOT.setRelease(table, i, new Node<>(key1, key2, value, without));
            if (!newKey || cleared) {
                generation++; // replaced the key's entry, or emptied the full cache first
            }
            return true;
        }
    }

    /** The chain without the node of that key (the same chain object if the key is absent). */
    private static <V> Node<V> remove(Node<V> head, long key1, long key2) {
        Node<V> n = head;
        while (n != null && !(n.key1 == key1 && n.key2 == key2)) {
            n = n.next;
        }
        if (n == null) {
            return head;
        }
        Node<V> rest = n.next;
        // Copy the links before the removed node onto the rest.
        List<Node<V>> before = new ArrayList<>();
        for (Node<V> m = head; m != n; m = m.next) {
            before.add(m);
        }
        for (int k = before.size() - 1; k >= 0; k--) {
            Node<V> m = before.get(k);
            rest = new Node<>(m.key1, m.key2, m.value, rest);
        }
        return rest;
    }

    /** The key2 list of key1, created empty if absent. Under lock. */
    private Keys keysOf(long key1) {
        if (lastKeys != null && lastKey1 == key1) {
            return lastKeys;
        }
        Keys k = byKey1.computeIfAbsent(key1, x -> new Keys());
        lastKey1 = key1;
        lastKeys = k;
        return k;
    }

    private void clearLocked() {
        for (int i = 0; i < table.length; i++) {
            SLOT.setRelease(table, i, null);
        }
        size = 0;
        byKey1.clear();
        lastKeys = null;
    }

    /** Drops every entry. @return how many were dropped */
    public int invalidateAll() {
        synchronized (lock) {
            epoch++;
            int n = size;
            clearLocked();
            generation++;
            return n;
        }
    }

    /**
     * Drops every entry whose value matches. @return how many were dropped
     *
     * <p>Visits the entries through the {@link #byKey1} index, so it costs the entries cached,
     * not the bucket count (a 1024-entry PASID cache has 2048 buckets, and a stress run's PASID
     * cache invalidation, VT-d spec 6.5.2.4, finds a handful of entries in them).
     */
    public int invalidateIf(Predicate<? super V> matches) {
        return invalidateIf(key1 -> true, matches);
    }

    /**
     * Drops every entry cached under a {@code key1} that {@code key1Matches} accepts and whose
     * value {@code matches}, visiting only the entries of those keys. The same as {@link
     * #invalidateIf(Predicate)} with both tests combined, for callers whose value predicate
     * implies a condition on the entry's key1 (its tag). @return how many were dropped
     */
    public int invalidateIf(LongPredicate key1Matches, Predicate<? super V> matches) {
        synchronized (lock) {
            epoch++;
            int dropped = 0;
            for (Iterator<Map.Entry<Long, Keys>> it = byKey1.entrySet().iterator(); it.hasNext(); ) {
                Map.Entry<Long, Keys> e = it.next();
                if (key1Matches.test(e.getKey())) {
                    Keys k = e.getValue();
                    dropped += dropUnderLocked(e.getKey(), k, matches);
                    if (k.n == 0) {
                        it.remove();
                        if (lastKeys == k) {
                            lastKeys = null;
                        }
                    }
                }
            }
            size -= dropped;
            if (dropped != 0) {
                generation++;
            }
            return dropped;
        }
    }

    /** {@link #invalidateIf(LongPredicate, Predicate)} for one key1. @return how many were dropped */
    public int invalidateKey1If(long key1, Predicate<? super V> matches) {
        synchronized (lock) {
            epoch++;
            Keys k = byKey1.get(key1);
            if (k == null) {
                return 0;
            }
            int dropped = dropUnderLocked(key1, k, matches);
            if (k.n == 0) {
                byKey1.remove(key1);
                if (lastKeys == k) {
                    lastKeys = null;
                }
            }
            size -= dropped;
            if (dropped != 0) {
                generation++;
            }
            return dropped;
        }
    }

    /**
     * Drops the matching entries among key1's; compacts its key list in place. Removing a node
     * keeps its chain's other nodes in order, as the full scan does. Under lock.
     */
    @SuppressWarnings("unchecked")
    private int dropUnderLocked(long key1, Keys k, Predicate<? super V> matches) {
        int dropped = 0;
        int kept = 0;
        for (int j = 0; j < k.n; j++) {
            long key2 = k.keys[j];
            int i = hash(key1, key2) & mask;
            Node<V> head = (Node<V>) SLOT.getAcquire(table, i);
            Node<V> n = head;
            while (n != null && !(n.key1 == key1 && n.key2 == key2)) {
                n = n.next;
            }
            if (n != null && matches.test(n.value)) {
                SLOT.setRelease(table, i, remove(head, key1, key2));
                dropped++;
            } else {
                k.keys[kept++] = key2;
            }
        }
        k.n = kept;
        return dropped;
    }

    /** Entries currently cached. */
    public int size() {
        synchronized (lock) {
            return size;
        }
    }

    /** A copy of the cached values (for inspection and tests), in no particular order. */
    @SuppressWarnings("unchecked")
    public List<V> values() {
        List<V> out = new ArrayList<>();
        synchronized (lock) {
            for (int i = 0; i < table.length; i++) {
                for (Node<V> n = (Node<V>) SLOT.getAcquire(table, i); n != null; n = n.next) {
                    out.add(n.value);
                }
            }
        }
        return out;
    }
}
