package org.jiommu.hw;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.List;
import java.util.function.LongPredicate;
import java.util.function.Predicate;

/**
 * An IOTLB: translations cached by (tag, input page, page size), as the VT-d and SMMU
 * models both need it (the shared-cache split of QEMU's smmu-common, ARCHITECTURE.md).
 *
 * <p>A lookup names the page size it probes, because the walker does not know in advance
 * which level the leaf was at; a unit probes its supported sizes smallest first. Lookups are
 * lock-free and allocate nothing (see {@link TaggedCache}). Entries go away only through an
 * invalidation the unit executes (or capacity pressure), so a missing invalidation leaves a
 * stale translation usable, as on a real machine.
 */
public final class Iotlb {
    private static final VarHandle SIZES;

    static {
        try {
            SIZES = MethodHandles.lookup().findVarHandle(Iotlb.class, "sizesSeen", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final TaggedCache<IotlbEntry> cache;
    /**
     * Bit {@code s} set once an entry of 2^s bytes was offered to the cache; never cleared (a
     * clear racing with a fill could otherwise hide a cached entry). A unit need not probe a
     * size whose bit is clear: no entry of that size can be there.
     */
    private volatile long sizesSeen;

    /** @param capacity most entries held; 0 disables the IOTLB (every request walks) */
    public Iotlb(int capacity) {
        this.cache = new TaggedCache<>(capacity);
    }

    private static long key2(long iova, int pageShift) {
        return (iova >>> pageShift) << 6 | pageShift;
    }

    /** The entry of {@code tag} caching the 2^pageShift page that holds {@code iova}, or null. */
    public IotlbEntry lookup(long tag, long iova, int pageShift) {
        return cache.get(tag, key2(iova, pageShift));
    }

    /** Read before the walk whose result will be inserted (see {@link TaggedCache#put}). */
    public long epoch() {
        return cache.epoch();
    }

    /** @return false if the fill was dropped because an invalidation ran since {@code epochSeen} */
    public boolean insert(IotlbEntry entry, long epochSeen) {
        long bit = 1L << entry.pageShift;
        if ((sizesSeen & bit) == 0) {
            SIZES.getAndBitwiseOr(this, bit); // before the entry can be seen
        }
        return cache.put(entry.tag, key2(entry.iovaBase, entry.pageShift), entry, epochSeen);
    }

    /**
     * The page sizes (bit {@code s} for 2^s) of every entry ever inserted: a lookup may skip
     * the others. Read it before the lookups it prunes.
     */
    public long sizesSeen() {
        return sizesSeen;
    }

    public int invalidateAll() {
        return cache.invalidateAll();
    }

    public int invalidateIf(Predicate<? super IotlbEntry> matches) {
        return cache.invalidateIf(matches);
    }

    /**
     * Drops the entries whose tag {@code tagMatches} accepts and that {@code matches}, visiting
     * only the entries of those tags (not the whole IOTLB), as domain- and page-selective
     * invalidations need. @return how many were dropped
     */
    public int invalidateTagsIf(LongPredicate tagMatches, Predicate<? super IotlbEntry> matches) {
        return cache.invalidateIf(tagMatches, matches);
    }

    /** {@link #invalidateTagsIf} for one tag. @return how many were dropped */
    public int invalidateTagIf(long tag, Predicate<? super IotlbEntry> matches) {
        return cache.invalidateKey1If(tag, matches);
    }

    /** Drops the entries of {@code tag} that overlap {@code [start, start + size)}. */
    public int invalidateRange(long tag, long start, long size) {
        return cache.invalidateKey1If(tag, e -> e.overlaps(start, size));
    }

    public int size() {
        return cache.size();
    }

    public int capacity() {
        return cache.capacity();
    }

    public List<IotlbEntry> entries() {
        return cache.values();
    }
}
