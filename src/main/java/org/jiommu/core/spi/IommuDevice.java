package org.jiommu.core.spi;

import java.util.Objects;

/**
 * {@code struct iommu_device}: one hardware IOMMU instance, registered with the core by its
 * driver ({@code iommu_device_register}). Compared by identity. The core keeps the instance's
 * registration state and singleton group on its own side.
 */
public final class IommuDevice {
    private final String name;
    private final IommuOps ops;
    private final int maxPasids;

    /**
     * @param name the instance's name ({@code dmar0}, {@code smmu0}, ...)
     * @param ops the driver's ops
     * @param maxPasids the hardware PASID/SSID limit (number of PASIDs, 0 = none)
     */
    public IommuDevice(String name, IommuOps ops, int maxPasids) {
        if (name == null || name.isEmpty()) {
            throw new IllegalArgumentException("IOMMU instance name must not be empty");
        }
        if (maxPasids < 0) {
            throw new IllegalArgumentException("max PASIDs " + maxPasids + " is negative");
        }
        this.name = name;
        this.ops = Objects.requireNonNull(ops, "ops");
        this.maxPasids = maxPasids;
    }

    public String name() {
        return name;
    }

    public IommuOps ops() {
        return ops;
    }

    public int maxPasids() {
        return maxPasids;
    }

    @Override
    public String toString() {
        return name;
    }
}
