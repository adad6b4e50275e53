package org.jiommu.bus.pci;

import org.jiommu.base.Errno;
import org.jiommu.bus.Device;
import org.jiommu.bus.dma.Atc;
import org.jiommu.bus.dma.AtsCapable;
import org.jiommu.bus.dma.Pri;
import org.jiommu.bus.dma.PriCapable;

/**
 * A PCI function, the model of {@code struct pci_dev}: segment, bus, device, function, the
 * capabilities the IOMMU cares about (ATS with its ATC, PASID with its width, PRI) and, once a
 * {@link PciTopology} holds it, where it sits: its {@link Kind}, its ACS capability, the bus it
 * is on and, for a bridge or port, the bus below it.
 *
 * <p>The public constructor makes an endpoint; bridges and ports are made by {@link PciBus}'s
 * builder methods. A function belongs to at most one topology.
 */
public final class PciDevice extends Device implements AtsCapable, PriCapable {
    /** Smallest Smallest Translation Unit {@code pci_enable_ats} accepts ({@code PCI_ATS_MIN_STU}). */
    public static final int ATS_MIN_STU = 12;

    private final Bdf address;
    private final boolean ats;
    private final int pasidBits;
    private final boolean pri;
    private final boolean untrusted;
    private final Atc atc;
    private final Pri priState;

    /** Set once when a topology takes the function; read without a lock. */
    private volatile Placement placement;
    /** {@code pdev->external_facing}: set by firmware on root / downstream ports. */
    private volatile boolean externalFacing;
    /** {@code pdev->ats_enabled}; the STU is meaningful only while enabled. */
    private volatile boolean atsEnabled;
    private volatile int atsStu;
    /** {@code pdev->dma_alias_mask}: quirk aliases on the same bus; guarded by the topology's lock. */
    final long[] dmaAliasMask = new long[4];

    /**
     * An endpoint function.
     *
     * @param pasidBits width of the PASID capability (0 = no PASID capability, else 1..20)
     * @param untrusted forced untrusted; a function below an external-facing port is untrusted anyway
     */
    public PciDevice(String name, int segment, int bus, int devfn, boolean ats, int pasidBits, boolean pri,
                     boolean untrusted) {
        super(name);
        this.address = new Bdf(segment, bus, devfn);
        if (pasidBits < 0 || pasidBits > 20) {
            throw new IllegalArgumentException("pasid bits " + pasidBits + " outside 0..20");
        }
        this.ats = ats;
        this.pasidBits = pasidBits;
        this.pri = pri;
        this.untrusted = untrusted;
        this.atc = ats ? new Atc(Atc.DEFAULT_ENTRIES) : null;
        this.priState = pri ? new Pri() : null;
    }

    /** {@code PCI_DEVFN(slot, func)}. */
    public static int devfn(int slot, int function) {
        return Bdf.devfn(slot, function);
    }

    /** The function's PCI address. */
    public Bdf address() {
        return address;
    }

    public int segment() {
        return address.segment();
    }

    public int bus() {
        return address.bus();
    }

    public int devfn() {
        return address.devfn();
    }

    public int slot() {
        return address.slot();
    }

    public int function() {
        return address.function();
    }

    /** Requester ID: bus << 8 | devfn (the VT-d source id, the SMMUv3 stream id on most platforms). */
    public int requesterId() {
        return address.requesterId();
    }

    public boolean hasAts() {
        return ats;
    }

    public boolean hasPri() {
        return pri;
    }

    public int pasidBits() {
        return pasidBits;
    }

    @Override
    public BusType busType() {
        return BusType.PCI;
    }

    @Override
    public int maxPasids() {
        return pasidBits == 0 ? 0 : 1 << pasidBits;
    }

    /**
     * {@code pdev->untrusted}: forced at construction, or inherited from the topology: a function
     * whose upstream bridge is external-facing or itself untrusted is untrusted
     * ({@code set_pcie_untrusted} in drivers/pci/probe.c). The external-facing port itself is not.
     */
    @Override
    public boolean untrusted() {
        if (untrusted) {
            return true;
        }
        PciDevice up = upstreamBridge();
        return up != null && (up.externalFacing || up.untrusted());
    }

    /** {@code ssss:bb:dd.f}, as lspci prints it. */
    public String bdf() {
        return address.toString();
    }

    // ---- place in the topology ----

    /** What the function is: {@link Kind#ENDPOINT} until a topology places it. */
    public Kind kind() {
        Placement p = placement;
        return p == null ? Kind.ENDPOINT : p.kind;
    }

    /** The function's ACS capability ({@link Acs#NONE} until placed). */
    public Acs acs() {
        Placement p = placement;
        return p == null ? Acs.NONE : p.acs;
    }

    /** A bridge or port: it has a bus below it. */
    public boolean isBridge() {
        return kind().bridge;
    }

    /** {@code pci_is_pcie}: conventional PCI / PCI-X functions (below a PCIe-to-PCI bridge) are not. */
    public boolean isPcie() {
        return kind().pcie;
    }

    /** The bus the function sits on, or null before a topology places it. */
    public PciBus parentBus() {
        Placement p = placement;
        return p == null ? null : p.bus;
    }

    /** A bridge's secondary bus ({@code pdev->subordinate}), or null for an endpoint. */
    public PciBus secondaryBus() {
        Placement p = placement;
        return p == null ? null : p.secondary;
    }

    /** {@code pci_upstream_bridge}: the bridge above the function's bus; null on a root bus. */
    public PciDevice upstreamBridge() {
        Placement p = placement;
        return p == null ? null : p.bus.self();
    }

    /** The topology holding the function, or null. */
    public PciTopology topology() {
        Placement p = placement;
        return p == null ? null : p.bus.topology();
    }

    /**
     * {@code pdev->multifunction}: another function shares the slot on the same bus. (The kernel
     * reads the header-type bit; the model derives it from the functions present, which is what
     * a correctly built device reports.)
     */
    public boolean multifunction() {
        PciTopology t = topology();
        return t != null && t.hasSlotSibling(this);
    }

    /** {@code pdev->external_facing}: firmware marks a root or downstream port facing an external slot. */
    public boolean externalFacing() {
        return externalFacing;
    }

    void setExternalFacing() {
        externalFacing = true;
    }

    void place(Placement p) {
        placement = p;
    }

    boolean placed() {
        return placement != null;
    }

    // ---- ATS ----

    @Override
    public Atc atc() {
        return atc;
    }

    /** The PRI capability's state (Enable, outstanding groups), or null without PRI. */
    @Override
    public Pri pri() {
        return priState;
    }

    @Override
    public boolean atsEnabled() {
        return atsEnabled;
    }

    /** The Smallest Translation Unit (log2 bytes) programmed by {@link #enableAts}; 0 while disabled. */
    public int atsStu() {
        return atsEnabled ? atsStu : 0;
    }

    /**
     * {@code pci_enable_ats(pdev, ps)}: sets the ATS Enable bit and the STU.
     *
     * @return 0, {@code -EINVAL} without an ATS capability or for {@code pageShift < 12},
     *     {@code -EBUSY} if already enabled (the kernel WARNs there)
     */
    public synchronized int enableAts(int pageShift) {
        if (!ats || pageShift < ATS_MIN_STU) {
            return Errno.EINVAL.neg();
        }
        if (atsEnabled) {
            return Errno.EBUSY.neg();
        }
        atsStu = pageShift;
        atsEnabled = true;
        return 0;
    }

    /**
     * {@code pci_disable_ats}: clears the Enable bit. The ATC's contents are dropped: a function
     * must not use translations it cached under a previous enable (PCIe leaves them undefined
     * across Enable changes; dropping them is the conservative reading).
     *
     * @return false if ATS was not enabled (the kernel WARNs and does nothing)
     */
    public synchronized boolean disableAts() {
        if (!atsEnabled) {
            return false;
        }
        atsEnabled = false;
        atc.clear();
        return true;
    }

    /**
     * What a function is, by its PCI Express capability's device/port type
     * ({@code PCI_EXP_TYPE_*}) or, for conventional PCI, by its header type.
     */
    public enum Kind {
        /** {@code PCI_EXP_TYPE_ENDPOINT}: a PCIe endpoint below a port. */
        ENDPOINT(true, false),
        /** {@code PCI_EXP_TYPE_RC_END}: an endpoint integrated in the root complex (on a root bus). */
        RC_INTEGRATED_ENDPOINT(true, false),
        /** {@code PCI_EXP_TYPE_ROOT_PORT}. */
        ROOT_PORT(true, true),
        /** {@code PCI_EXP_TYPE_UPSTREAM}: a switch's upstream port. */
        SWITCH_UPSTREAM_PORT(true, true),
        /** {@code PCI_EXP_TYPE_DOWNSTREAM}: a switch's downstream port. */
        SWITCH_DOWNSTREAM_PORT(true, true),
        /** {@code PCI_EXP_TYPE_PCI_BRIDGE}: PCIe-to-PCI/PCI-X bridge; conventional PCI below it. */
        PCIE_TO_PCI_BRIDGE(true, true),
        /** {@code PCI_EXP_TYPE_PCIE_BRIDGE}: PCI/PCI-X-to-PCIe (reverse) bridge. */
        PCI_TO_PCIE_BRIDGE(true, true),
        /** A conventional PCI / PCI-X function (no PCIe capability). */
        PCI_FUNCTION(false, false),
        /** A conventional PCI-to-PCI bridge. */
        PCI_BRIDGE(false, true);

        final boolean pcie;
        final boolean bridge;

        Kind(boolean pcie, boolean bridge) {
            this.pcie = pcie;
            this.bridge = bridge;
        }

        public boolean isPcie() {
            return pcie;
        }

        public boolean isBridge() {
            return bridge;
        }
    }

    /** Where a topology put the function. Immutable. */
    static final class Placement {
        final PciBus bus;
        final Kind kind;
        final Acs acs;
        final PciBus secondary;

        Placement(PciBus bus, Kind kind, Acs acs, PciBus secondary) {
            this.bus = bus;
            this.kind = kind;
            this.acs = acs;
            this.secondary = secondary;
        }
    }
}
