package org.jiommu.bus.dma;

import java.util.ArrayList;
import java.util.List;

/**
 * An endpoint's Address Translation Cache (PCIe ATS, "device TLB"): translations the device
 * obtained with ATS Translation Requests, keyed by (PASID or {@link DmaTranslator#NO_PASID},
 * translated page), holding the output page, its size and the granted permissions.
 *
 * <p>An entry leaves the cache only by an invalidation from the IOMMU ({@link #invalidate}, the
 * model of an ATS Invalidate Request) or by eviction when the cache is full: it is never
 * checked against the page tables again, so a missing invalidation leaves a stale translation
 * the device keeps using, as on real hardware. Fully associative, {@code capacity} entries,
 * round-robin replacement.
 *
 * <p>Thread-safe; the monitor is the ATC itself. {@link DmaEngine} holds it across an ATC hit
 * and the memory access that uses it, so an invalidation returns only after every access
 * through an entry it drops has finished (PCIe ATS: the Invalidate Completion follows the
 * requests that used the invalidated translations). Nothing is allocated on lookup.
 */
public final class Atc implements DeviceTlb {
    /** Entries of the ATC a {@code PciDevice} with ATS gets. */
    public static final int DEFAULT_ENTRIES = 64;
    /** An invalidation {@code size} reaching the top of the 64-bit space: {@code invalidate(p, all, 0, WHOLE_ADDRESS_SPACE)} drops everything of p. */
    public static final long WHOLE_ADDRESS_SPACE = -1L;

    private final int capacity;
    private final boolean[] valid;
    private final int[] pasid;
    private final long[] iova;
    private final long[] pa;
    private final long[] size;
    private final boolean[] readable;
    private final boolean[] writable;
    private int victim;
    /** Bumped by every invalidation; a fill whose request started before a bump is dropped. */
    private long invalidationSeq;

    private long hits;
    private long misses;
    private long fills;
    private long evictions;
    private long invalidations;
    private long entriesInvalidated;

    public Atc(int capacity) {
        if (capacity < 1) {
            throw new IllegalArgumentException("ATC capacity " + capacity + " < 1");
        }
        this.capacity = capacity;
        valid = new boolean[capacity];
        pasid = new int[capacity];
        iova = new long[capacity];
        pa = new long[capacity];
        size = new long[capacity];
        readable = new boolean[capacity];
        writable = new boolean[capacity];
    }

    public int capacity() {
        return capacity;
    }

    /**
     * Looks up the translation of {@code address} for {@code pasid} with the permission the
     * access needs; counts a hit or a miss. An entry without the needed permission is a miss
     * (the device asks again: the mapping may have gained it).
     *
     * @param out on a hit: {@code pa} of {@code address}, {@code pageSize}, permissions
     * @return true on a hit
     */
    public synchronized boolean lookup(int pasid, long address, boolean write, TranslationResult out) {
        int slot = find(pasid, address, write);
        if (slot < 0) {
            misses++;
            return false;
        }
        hits++;
        out.pa = pa[slot] + (address - iova[slot]);
        out.pageSize = size[slot];
        out.readable = readable[slot];
        out.writable = writable[slot];
        return true;
    }

    /** The slot translating (pasid, address) with the permission needed, or -1. Caller holds the monitor. */
    private int find(int pasid, long address, boolean write) {
        for (int i = 0; i < capacity; i++) {
            if (valid[i] && this.pasid[i] == pasid && Long.compareUnsigned(address - iova[i], size[i]) < 0
                    && (write ? writable[i] : readable[i])) {
                return i;
            }
        }
        return -1;
    }

    /**
     * Caches a Translation Completion: the page of {@code tr.pageSize} containing {@code address}
     * maps to the page containing {@code tr.pa}. A completion granting nothing is not cached.
     *
     * @return false if nothing was cached (no permission, or a page size that is not a power of two of at least 4 KiB)
     */
    public synchronized boolean fill(int pasid, long address, TranslationResult tr) {
        long ps = tr.pageSize;
        if ((!tr.readable && !tr.writable) || ps < 4096 || Long.bitCount(ps) != 1) {
            return false;
        }
        long base = address & -ps;
        long paBase = tr.pa & -ps;
        int slot = -1;
        for (int i = 0; i < capacity; i++) {
            if (valid[i] && this.pasid[i] == pasid && iova[i] == base && size[i] == ps) {
                slot = i;
                break;
            }
        }
        if (slot < 0) {
            for (int i = 0; i < capacity && slot < 0; i++) {
                if (!valid[i]) {
                    slot = i;
                }
            }
        }
        if (slot < 0) {
            slot = victim;
            victim = (victim + 1) % capacity;
            evictions++;
        }
        valid[slot] = true;
        this.pasid[slot] = pasid;
        iova[slot] = base;
        pa[slot] = paBase;
        size[slot] = ps;
        readable[slot] = tr.readable;
        writable[slot] = tr.writable;
        fills++;
        return true;
    }

    /** The invalidation sequence number, to pair with {@link #fillIfNoInvalidationSince}. */
    public synchronized long invalidationSeq() {
        return invalidationSeq;
    }

    /**
     * {@link #fill} unless an invalidation arrived since {@code seq} was read: a Translation
     * Completion that was outstanding when an Invalidate Request arrived may carry the old
     * translation and must not be cached (PCIe ATS invalidation rules).
     */
    public synchronized boolean fillIfNoInvalidationSince(long seq, int pasid, long address, TranslationResult tr) {
        return invalidationSeq == seq && fill(pasid, address, tr);
    }

    /**
     * An ATS Invalidate Request: drops the entries of {@code pasid} (every PASID's, and the
     * PASID-less ones, when {@code allPasids}) whose page overlaps
     * {@code [address, address + size)}, the size read as unsigned; a range running past the
     * top of the 64-bit space stops there ({@link #WHOLE_ADDRESS_SPACE}). A zero size drops
     * nothing. Returns after every access using a dropped entry has finished.
     */
    @Override
    public synchronized void invalidate(int pasid, boolean allPasids, long address, long size) {
        invalidations++;
        invalidationSeq++;
        if (size == 0) {
            return;
        }
        long last = address + size - 1;
        if (Long.compareUnsigned(last, address) < 0) {
            last = -1L;
        }
        for (int i = 0; i < capacity; i++) {
            if (valid[i] && (allPasids || this.pasid[i] == pasid)
                    && Long.compareUnsigned(iova[i], last) <= 0
                    && Long.compareUnsigned(address, iova[i] + this.size[i] - 1) <= 0) {
                valid[i] = false;
                entriesInvalidated++;
            }
        }
    }

    /** Drops every entry (ATS disabled, function reset). Not counted as an invalidation. */
    public synchronized void clear() {
        invalidationSeq++;
        for (int i = 0; i < capacity; i++) {
            valid[i] = false;
        }
    }

    /** Whether a valid entry translates (pasid, address) for reading or writing. */
    public synchronized boolean contains(int pasid, long address) {
        return find(pasid, address, false) >= 0 || find(pasid, address, true) >= 0;
    }

    /** The valid entries, in slot order. */
    public synchronized List<Entry> entries() {
        List<Entry> out = new ArrayList<>();
        for (int i = 0; i < capacity; i++) {
            if (valid[i]) {
                out.add(new Entry(pasid[i], iova[i], pa[i], size[i], readable[i], writable[i]));
            }
        }
        return out;
    }

    public synchronized Stats stats() {
        return new Stats(hits, misses, fills, evictions, invalidations, entriesInvalidated);
    }

    /** One cached translation: the untranslated page {@code iova} of {@code size} bytes maps to {@code pa}. */
    public record Entry(int pasid, long iova, long pa, long size, boolean readable, boolean writable) {
        @Override
        public String toString() {
            return String.format("[pasid %s] %#x -> %#x (%#x, %s%s)", pasid == DmaTranslator.NO_PASID ? "-" : pasid,
                    iova, pa, size, readable ? "r" : "", writable ? "w" : "");
        }
    }

    /**
     * Counters: lookups that hit or missed, completions cached, entries evicted for room,
     * Invalidate Requests received and entries they dropped.
     */
    public record Stats(long hits, long misses, long fills, long evictions, long invalidations,
                        long entriesInvalidated) {
    }
}
