package org.jiommu.hw;

/**
 * One cached translation: a naturally aligned input page of {@code 2^pageShift} bytes, tagged
 * with the address space it belongs to, mapped to an output page with some permissions.
 * Immutable; shared by the VT-d and SMMU models.
 *
 * <p>The {@link #tag} names the address space the way the architecture tags its TLB: VT-d uses
 * domain id and PASID ({@code did << 32 | pasid}), SMMUv3 VMID and ASID. {@link #attributes}
 * carries what the architecture's invalidation rules look at besides the tag and the address
 * (VT-d: the PASID-granular translation type, because a page-selective IOTLB invalidation
 * treats first-stage entries differently from second-stage ones).
 */
public final class IotlbEntry {
    public static final int READ = 1;
    public static final int WRITE = 2;

    public final long tag;
    /** Input page base, aligned to the page size. */
    public final long iovaBase;
    public final int pageShift;
    /** Output page base, aligned to the page size. */
    public final long outputBase;
    /** {@link #READ} | {@link #WRITE}. */
    public final int permissions;
    public final int attributes;

    public IotlbEntry(long tag, long iovaBase, int pageShift, long outputBase, int permissions, int attributes) {
        if (pageShift < 12 || pageShift > 63) {
            throw new IllegalArgumentException("page shift " + pageShift);
        }
        long m = pageMask(pageShift);
        if ((iovaBase & m) != 0 || (outputBase & m) != 0) {
            throw new IllegalArgumentException(String.format(
                    "iova %#x / output %#x not aligned to the 2^%d page", iovaBase, outputBase, pageShift));
        }
        this.tag = tag;
        this.iovaBase = iovaBase;
        this.pageShift = pageShift;
        this.outputBase = outputBase;
        this.permissions = permissions;
        this.attributes = attributes;
    }

    /** Low-bit mask of a 2^shift page (the offset bits). */
    public static long pageMask(int shift) {
        return shift >= 64 ? -1L : (1L << shift) - 1;
    }

    public long pageSize() {
        return 1L << pageShift;
    }

    public boolean readable() {
        return (permissions & READ) != 0;
    }

    public boolean writable() {
        return (permissions & WRITE) != 0;
    }

    /** Output address of an iova inside this page. */
    public long translate(long iova) {
        return outputBase | (iova & pageMask(pageShift));
    }

    /** True if this page and {@code [start, start + size)} share a byte (unsigned arithmetic). */
    public boolean overlaps(long start, long size) {
        long end = start + size - 1; // inclusive
        long myEnd = iovaBase + pageSize() - 1;
        return Long.compareUnsigned(iovaBase, end) <= 0 && Long.compareUnsigned(start, myEnd) <= 0;
    }

    @Override
    public String toString() {
        return String.format("tag %#x iova %#x/2^%d -> %#x %s%s attr %#x", tag, iovaBase, pageShift, outputBase,
                readable() ? "r" : "-", writable() ? "w" : "-", attributes);
    }
}
