package org.jiommu.bus.pci;

import java.util.List;

import org.jiommu.bus.pci.PciDevice.Kind;

/**
 * A PCI bus, the model of {@code struct pci_bus}: a root bus below a host bridge, or the
 * secondary bus of a bridge or port ({@link #self()}). It is also the fluent builder of the
 * topology: each bridge method creates the bridge on this bus and returns the bus below it, so
 * a hierarchy reads top-down:
 *
 * <pre>{@code
 * PciTopology t = new PciTopology();
 * PciBus root = t.rootBus(0, 0x00);                                    // host bridge, segment 0
 * PciBus sw = root.rootPort("rp0", 0x1c, 0, 0x01, Acs.ISOLATED)        // 00:1c.0, bus 01 below
 *                 .switchUpstreamPort("usp", 0, 0, 0x02, Acs.NONE);    // 01:00.0, bus 02 below
 * sw.switchDownstreamPort("dsp1", 1, 0, 0x03, Acs.ISOLATED).endpoint("nic0", 0, 0);   // 03:00.0
 * sw.switchDownstreamPort("dsp2", 2, 0, 0x04, Acs.ISOLATED).endpoint("nvme0", 0, 0);  // 04:00.0
 * root.pcieToPciBridge("p2p", 0x1e, 0, 0x05).endpoint("legacy0", 1, 0);               // 05:01.0 (PCI)
 * root.rootPort("tbt", 0x07, 0, 0x20, Acs.ISOLATED).externalFacing().endpoint("ext0", 0, 0);
 * }</pre>
 *
 * Every builder method throws {@link org.jiommu.base.IommuException} with {@code EEXIST} for a
 * name, address or bus number already in use, and {@code EINVAL} for a placement PCI does not
 * allow (e.g. a root port below a switch); nothing is added then.
 */
public final class PciBus {
    private final PciTopology topology;
    private final int segment;
    private final int number;
    private final PciDevice self;
    private final boolean pcie;

    PciBus(PciTopology topology, int segment, int number, PciDevice self, boolean pcie) {
        this.topology = topology;
        this.segment = segment;
        this.number = number;
        this.self = self;
        this.pcie = pcie;
    }

    public PciTopology topology() {
        return topology;
    }

    /** PCI segment (domain), {@code pci_domain_nr}. */
    public int segment() {
        return segment;
    }

    /** Bus number, {@code bus->number}. */
    public int number() {
        return number;
    }

    /** The bridge this bus is the secondary bus of ({@code bus->self}); null for a root bus. */
    public PciDevice self() {
        return self;
    }

    /** {@code pci_is_root_bus}: the bus hangs directly below a host bridge. */
    public boolean isRoot() {
        return self == null;
    }

    /** The bus above ({@code bus->parent}); null for a root bus. */
    public PciBus parent() {
        return self == null ? null : self.parentBus();
    }

    /** PCI Express link(s) below; false for a conventional PCI / PCI-X bus. */
    public boolean isPcie() {
        return pcie;
    }

    /** The functions on this bus, in the order they were added. */
    public List<PciDevice> devices() {
        return topology.devicesOn(this);
    }

    // ---- builder ----

    /**
     * A root port on this root bus ({@code PCI_EXP_TYPE_ROOT_PORT}).
     *
     * @return the port's secondary bus, numbered {@code secondaryBus}
     */
    public PciBus rootPort(String name, int slot, int function, int secondaryBus, Acs acs) {
        return topology.addBridge(this, name, slot, function, secondaryBus, Kind.ROOT_PORT, acs);
    }

    /** A switch's upstream port below a root port or downstream port; returns the switch's internal bus. */
    public PciBus switchUpstreamPort(String name, int slot, int function, int secondaryBus, Acs acs) {
        return topology.addBridge(this, name, slot, function, secondaryBus, Kind.SWITCH_UPSTREAM_PORT, acs);
    }

    /** A switch's downstream port on the switch's internal bus; returns the bus below the port. */
    public PciBus switchDownstreamPort(String name, int slot, int function, int secondaryBus, Acs acs) {
        return topology.addBridge(this, name, slot, function, secondaryBus, Kind.SWITCH_DOWNSTREAM_PORT, acs);
    }

    /**
     * A PCIe-to-PCI/PCI-X bridge ({@code PCI_EXP_TYPE_PCI_BRIDGE}); returns the conventional PCI
     * bus below it. The kernel never trusts ACS on such a bridge, so it has none.
     */
    public PciBus pcieToPciBridge(String name, int slot, int function, int secondaryBus) {
        return topology.addBridge(this, name, slot, function, secondaryBus, Kind.PCIE_TO_PCI_BRIDGE, Acs.NONE);
    }

    /** A PCI/PCI-X-to-PCIe (reverse) bridge on a conventional bus; returns the PCIe bus below it. */
    public PciBus pciToPcieBridge(String name, int slot, int function, int secondaryBus) {
        return topology.addBridge(this, name, slot, function, secondaryBus, Kind.PCI_TO_PCIE_BRIDGE, Acs.NONE);
    }

    /** A conventional PCI-to-PCI bridge on a conventional bus; returns the conventional bus below it. */
    public PciBus pciBridge(String name, int slot, int function, int secondaryBus) {
        return topology.addBridge(this, name, slot, function, secondaryBus, Kind.PCI_BRIDGE, Acs.NONE);
    }

    /** A plain endpoint (no ATS, PASID or PRI; no ACS capability) at {@code slot.function}. */
    public PciDevice endpoint(String name, int slot, int function) {
        return endpoint(name, slot, function, false, 0, false, Acs.NONE);
    }

    /** An endpoint with the given capabilities at {@code slot.function}. */
    public PciDevice endpoint(String name, int slot, int function, boolean ats, int pasidBits, boolean pri,
                              Acs acs) {
        PciDevice dev = new PciDevice(name, segment, number, PciTopology.devfnOf(name, slot, function), ats,
                pasidBits, pri, false);
        return add(dev, acs);
    }

    /** Adds an existing endpoint object; its segment and bus must be this bus's. */
    public PciDevice add(PciDevice dev, Acs acs) {
        return topology.addEndpoint(this, dev, acs);
    }

    /**
     * Marks the bridge above this bus external-facing (firmware's {@code ExternalFacingPort} /
     * {@code external-facing}): every function added below is untrusted. Only a root port or a
     * switch downstream port can face outwards.
     *
     * @return this bus, for chaining
     */
    public PciBus externalFacing() {
        topology.markExternalFacing(self);
        return this;
    }

    /** The bus above, for walking back up while building; throws on a root bus. */
    public PciBus up() {
        if (self == null) {
            throw new IllegalStateException("bus " + this + " is a root bus");
        }
        return parent();
    }

    @Override
    public String toString() {
        return String.format("%04x:%02x", segment, number);
    }
}
