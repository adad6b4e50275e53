package org.jiommu.core.spi;

/**
 * {@code struct iommu_domain_geometry}: the IOVA window a domain translates.
 *
 * @param apertureStart first IOVA the domain can map
 * @param apertureEnd last IOVA the domain can map (inclusive, compared unsigned)
 * @param forceAperture DMA outside the aperture is blocked rather than passed through
 */
public record Geometry(long apertureStart, long apertureEnd, boolean forceAperture) {
    /** The whole 64-bit space, not forced: what a domain gets until its driver says otherwise. */
    public static final Geometry FULL = new Geometry(0, -1L, false);

    public Geometry {
        if (Long.compareUnsigned(apertureStart, apertureEnd) > 0) {
            throw new IllegalArgumentException(String.format(
                    "aperture start %#x above its end %#x", apertureStart, apertureEnd));
        }
    }

    /** A window of {@code bits} input address bits from 0, forced. */
    public static Geometry ofBits(int bits) {
        if (bits < 1 || bits > 64) {
            throw new IllegalArgumentException("aperture width " + bits + " outside 1..64");
        }
        return new Geometry(0, bits == 64 ? -1L : (1L << bits) - 1, true);
    }

    /** True if {@code [iova, iova + size)} lies inside the aperture. */
    public boolean contains(long iova, long size) {
        if (size == 0) {
            return true;
        }
        long last = iova + size - 1;
        return Long.compareUnsigned(last, iova) >= 0
                && Long.compareUnsigned(iova, apertureStart) >= 0
                && Long.compareUnsigned(last, apertureEnd) <= 0;
    }
}
