package org.jiommu.core.spi;

import org.jiommu.base.Prot;

/**
 * {@code struct iommu_resv_region}: a range firmware or the driver reports for a device.
 *
 * @param start first address
 * @param length bytes, non-zero
 * @param prot IOMMU_* protection for direct mappings ({@link Prot})
 * @param type what the core does with it
 */
public record ResvRegion(long start, long length, int prot, ResvType type) {
    public ResvRegion {
        if (length == 0) {
            throw new IllegalArgumentException("reserved region of length 0");
        }
        if (type == null) {
            throw new IllegalArgumentException("reserved region without a type");
        }
        if (Long.compareUnsigned(start + length - 1, start) < 0) {
            throw new IllegalArgumentException(String.format("reserved region [%#x, +%#x) wraps", start, length));
        }
    }

    /** A DIRECT region mapped read/write, the usual RMRR/RMR shape. */
    public static ResvRegion direct(long start, long length) {
        return new ResvRegion(start, length, Prot.RW, ResvType.DIRECT);
    }

    /** Last address (inclusive). */
    public long end() {
        return start + length - 1;
    }

    /** The sysfs line: {@code 0x%016x 0x%016x type}, end inclusive. */
    public String sysfsLine() {
        return String.format("0x%016x 0x%016x %s", start, end(), type.sysfsName());
    }
}
