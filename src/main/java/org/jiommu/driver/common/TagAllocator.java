package org.jiommu.driver.common;

import java.util.BitSet;

/**
 * A cache-tag allocator (VT-d domain ids, SMMU ASIDs and VMIDs) with the kernel's {@code ida}
 * behaviour as the drivers use it ({@code ida_alloc_range}): the lowest free value in
 * [{@code first}, {@code limit}), values below {@code first} reserved, a freed value handed out
 * again by the next allocation that reaches it. Not thread-safe: the owning unit's lock guards it
 * (VT-d: {@code iommu->lock} around {@code domain_attach_iommu}).
 */
public final class TagAllocator {
    private final String name;
    private final int first;
    private final int limit;
    private final BitSet used = new BitSet();

    /**
     * @param name what the tags are, for messages (e.g. "dmar0 domain id")
     * @param first the lowest value handed out; every value below it is reserved (VT-d: 0 for
     *     caching mode, 1 for FLPT_DEFAULT_DID, so IDA_START_DID = 2)
     * @param limit one past the highest value (VT-d: cap_ndoms; SMMU: 1 << ASID/VMID bits)
     */
    public TagAllocator(String name, int first, int limit) {
        if (first < 0 || limit < first) {
            throw new IllegalArgumentException(name + ": tag range [" + first + ", " + limit + ") is empty or negative");
        }
        this.name = name;
        this.first = first;
        this.limit = limit;
    }

    /** The lowest free tag, now in use; -1 when every tag is in use (the caller's -ENOSPC). */
    public int alloc() {
        int t = used.nextClearBit(first);
        if (t >= limit) {
            return -1;
        }
        used.set(t);
        return t;
    }

    /**
     * Gives {@code tag} back. A reserved or unallocated tag is left alone and reported as false
     * (the caller WARNs, as {@code ida_free} does on a value it does not hold).
     */
    public boolean free(int tag) {
        if (tag < first || tag >= limit || !used.get(tag)) {
            return false;
        }
        used.clear(tag);
        return true;
    }

    public boolean inUse(int tag) {
        return used.get(tag);
    }

    /** A copy of the tags in use. */
    public BitSet snapshot() {
        return (BitSet) used.clone();
    }

    public int first() {
        return first;
    }

    public int limit() {
        return limit;
    }

    @Override
    public String toString() {
        return name + " " + used;
    }
}
