package org.jiommu.scenario;

import org.jiommu.bus.pci.Bdf;

/**
 * A port or bridge of a {@code platform.pci} tree: its kind (the word of the scenario file),
 * where it sits, the bus number below it and whether its ACS capability isolates. It is also a
 * device of the platform (a {@link DeviceSpec} of the same name, probed by its IOMMU like any
 * PCI function); this record says how to place it in the PCI hierarchy.
 */
public record PciBridgeSpec(String name, Loc loc, String kind, Bdf bdf, int secondaryBus, boolean acs) {
    public static final String ROOT_PORT = "root-port";
    public static final String SWITCH_UPSTREAM_PORT = "switch-upstream-port";
    public static final String SWITCH_DOWNSTREAM_PORT = "switch-downstream-port";
    public static final String PCIE_TO_PCI_BRIDGE = "pcie-to-pci-bridge";
    public static final String PCI_TO_PCIE_BRIDGE = "pci-to-pcie-bridge";
    public static final String PCI_BRIDGE = "pci-bridge";

    /** Ports have an ACS capability; the kernel never uses one on the other bridge kinds. */
    public boolean isPort() {
        return kind.equals(ROOT_PORT) || kind.equals(SWITCH_UPSTREAM_PORT) || kind.equals(SWITCH_DOWNSTREAM_PORT);
    }
}
