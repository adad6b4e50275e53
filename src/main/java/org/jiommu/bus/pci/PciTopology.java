package org.jiommu.bus.pci;

import java.util.ArrayList;
import java.util.List;

/**
 * The PCI hierarchy of a platform: host bridges, root ports, switches and PCIe-to-PCI bridges,
 * with ACS flags and DMA aliases, and the functions below them. The IOMMU core asks it which
 * functions must share an IOMMU group (SEMANTICS.md 4.3).
 */
public final class PciTopology {
    private final List<PciDevice> devices = new ArrayList<>();

    /** Adds a function directly on a root bus (no bridge above it). */
    public synchronized PciDevice add(PciDevice dev) {
        devices.add(dev);
        return dev;
    }

    public synchronized List<PciDevice> devices() {
        return List.copyOf(devices);
    }
}
