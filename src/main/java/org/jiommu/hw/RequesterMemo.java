package org.jiommu.hw;

/**
 * A translation unit's per-requester memo: for a (source id, PASID) whose configuration the
 * unit last found in its configuration caches (VT-d context and PASID caches, SMMUv3 STE and
 * CD caches), what the configuration steps of {@link TranslationPipeline} decided, so the next
 * request of that requester goes straight to the IOTLB step.
 *
 * <p>It is not a cache of the hardware model (no invalidation command reaches it): an entry
 * records the {@link TaggedCache#generation()} of the configuration caches it was derived from,
 * read before their lookups, and the unit uses it only while those generations are unchanged,
 * that is while the configuration caches would still return the very entries it was derived
 * from. So a memo never outlives an invalidation (a stale configuration-cache entry stays in use
 * exactly as long as the cache keeps it, as before), and the counters the unit bumps on the
 * memo path are the configuration-cache hits the full path would have counted.
 *
 * <p>Direct-mapped and racy by design: slots hold immutable entries with final fields, written
 * and read plainly; a reader sees some entry or none, checks its key and its generations, and
 * falls back to the full path otherwise. Lock-free and allocation-free on lookup.
 *
 * @param <E> the unit's entry type
 */
public final class RequesterMemo<E extends RequesterMemo.Entry> {
    /** Slots: a power of two. */
    static final int SLOTS = 256;

    /** The key every memo entry carries; the unit's subclass adds what it decided. */
    public abstract static class Entry {
        final int sourceId;
        final int pasid;

        protected Entry(int sourceId, int pasid) {
            this.sourceId = sourceId;
            this.pasid = pasid;
        }

        public final int sourceId() {
            return sourceId;
        }

        public final int pasid() {
            return pasid;
        }
    }

    private final Entry[] slots = new Entry[SLOTS];

    private static int index(int sourceId, int pasid) {
        int h = sourceId * 0x9E3779B1 + pasid * 0x85EBCA77;
        return (h ^ h >>> 16) & (SLOTS - 1);
    }

    /** The entry of that requester, or null; the caller still checks its generations. */
    @SuppressWarnings("unchecked")
    public E get(int sourceId, int pasid) {
        Entry e = slots[index(sourceId, pasid)];
        return e != null && e.sourceId == sourceId && e.pasid == pasid ? (E) e : null;
    }

    /** Remembers {@code e}, replacing whatever shared its slot. */
    public void put(E e) {
        slots[index(e.sourceId, e.pasid)] = e;
    }
}
