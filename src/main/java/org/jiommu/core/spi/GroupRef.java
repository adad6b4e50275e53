package org.jiommu.core.spi;

/**
 * A driver's view of an {@code iommu_group}: opaque, as in the kernel, where drivers only pass
 * group pointers between the core's helpers and {@code device_group}. The core's group class
 * implements it; a {@code device_group} op must return a reference the core gave out.
 */
public interface GroupRef {
    /** The group's id (the sysfs directory name). */
    int id();
}
