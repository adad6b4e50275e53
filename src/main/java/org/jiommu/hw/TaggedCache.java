package org.jiommu.hw;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.ArrayList;
import java.util.List;
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
    private volatile long epoch; // written under lock

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

    private static int hash(long key1, long key2) {
        long h = key1 * 0x9E3779B97F4A7C15L + key2 * 0xC2B2AE3D27D4EB4FL;
        h ^= h >>> 31;
        h *= 0x94D049BB133111EBL;
        return (int) (h ^ (h >>> 32));
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
            if (newKey && size >= capacity) {
                clearLocked(); // full: empty it (QEMU vtd_update_iotlb policy); keeps the epoch
                without = null;
            }
            if (newKey) {
                size++;
            }
            SLOT.setRelease(table, i, new Node<>(key1, key2, value, without));
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

    private void clearLocked() {
        for (int i = 0; i < table.length; i++) {
            SLOT.setRelease(table, i, null);
        }
        size = 0;
    }

    /** Drops every entry. @return how many were dropped */
    public int invalidateAll() {
        synchronized (lock) {
            epoch++;
            int n = size;
            clearLocked();
            return n;
        }
    }

    /** Drops every entry whose value matches. @return how many were dropped */
    @SuppressWarnings("unchecked")
    public int invalidateIf(Predicate<? super V> matches) {
        synchronized (lock) {
            epoch++;
            int dropped = 0;
            for (int i = 0; i < table.length; i++) {
                Node<V> head = (Node<V>) SLOT.getAcquire(table, i);
                if (head == null) {
                    continue;
                }
                boolean any = false;
                for (Node<V> n = head; n != null; n = n.next) {
                    if (matches.test(n.value)) {
                        any = true;
                        break;
                    }
                }
                if (!any) {
                    continue;
                }
                List<Node<V>> keep = new ArrayList<>();
                for (Node<V> n = head; n != null; n = n.next) {
                    if (matches.test(n.value)) {
                        dropped++;
                    } else {
                        keep.add(n);
                    }
                }
                Node<V> rebuilt = null;
                for (int k = keep.size() - 1; k >= 0; k--) {
                    Node<V> m = keep.get(k);
                    rebuilt = new Node<>(m.key1, m.key2, m.value, rebuilt);
                }
                SLOT.setRelease(table, i, rebuilt);
            }
            size -= dropped;
            return dropped;
        }
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
