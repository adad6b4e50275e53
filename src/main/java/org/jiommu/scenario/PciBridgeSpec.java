package org.jiommu.scenario;

import org.jiommu.bus.pci.Acs;
import org.jiommu.bus.pci.Bdf;
import org.jiommu.bus.pci.PciBus;

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

    /**
     * Adds the port or bridge on {@code on} (its primary bus) with {@code PciBus}'s builder
     * method of the same kind. @return its secondary bus
     * @throws org.jiommu.base.IommuException when the topology refuses the placement
     */
    PciBus place(PciBus on) {
        Acs a = acs ? Acs.ISOLATED : Acs.NONE;
        int slot = bdf.slot();
        int fn = bdf.function();
        return switch (kind) {
            case ROOT_PORT -> on.rootPort(name, slot, fn, secondaryBus, a);
            case SWITCH_UPSTREAM_PORT -> on.switchUpstreamPort(name, slot, fn, secondaryBus, a);
            case SWITCH_DOWNSTREAM_PORT -> on.switchDownstreamPort(name, slot, fn, secondaryBus, a);
            case PCIE_TO_PCI_BRIDGE -> on.pcieToPciBridge(name, slot, fn, secondaryBus);
            case PCI_TO_PCIE_BRIDGE -> on.pciToPcieBridge(name, slot, fn, secondaryBus);
            default -> on.pciBridge(name, slot, fn, secondaryBus);
        };
    }
}
