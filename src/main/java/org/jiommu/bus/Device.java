package org.jiommu.bus;

/**
 * A client device, the model of {@code struct device}: what the IOMMU core probes, groups and
 * attaches. Compared by identity, like a kernel pointer. The core keeps its per-device state
 * ({@code dev->iommu}) on its own side; this class knows nothing above {@code bus}.
 */
public abstract class Device {
    private final String name;

    protected Device(String name) {
        if (name == null || name.isEmpty()) {
            throw new IllegalArgumentException("device name must not be empty");
        }
        this.name = name;
    }

    /** The device's name as scenarios and traces show it (e.g. {@code nic0}). */
    public final String name() {
        return name;
    }

    /** The bus this device sits on. */
    public abstract BusType busType();

    /**
     * The number of PASIDs / SubstreamIDs the device can issue (the PCI PASID capability's width,
     * or a platform device's {@code pasid-num-bits}); 0 when it cannot issue PASIDs.
     */
    public abstract int maxPasids();

    /** An untrusted device (external-facing port) always gets a strict DMA domain. */
    public abstract boolean untrusted();

    @Override
    public final String toString() {
        return name;
    }

    /** The kernel's bus types, as far as the IOMMU core tells them apart. */
    public enum BusType { PCI, PLATFORM }
}
