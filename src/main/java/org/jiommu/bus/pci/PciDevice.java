package org.jiommu.bus.pci;

import org.jiommu.bus.Device;

/**
 * A PCI function: segment, bus, device, function, and the capabilities the IOMMU cares about
 * (ATS, PASID with its width, PRI). Where it sits in the topology (bridges, ACS, DMA aliases)
 * is kept by {@link PciTopology}.
 */
public final class PciDevice extends Device {
    private final int segment;
    private final int bus;
    private final int devfn;
    private final boolean ats;
    private final int pasidBits;
    private final boolean pri;
    private final boolean untrusted;

    /**
     * @param pasidBits width of the PASID capability (0 = no PASID capability, else 1..20)
     */
    public PciDevice(String name, int segment, int bus, int devfn, boolean ats, int pasidBits, boolean pri,
                     boolean untrusted) {
        super(name);
        if (segment < 0 || segment > 0xffff || bus < 0 || bus > 0xff || devfn < 0 || devfn > 0xff) {
            throw new IllegalArgumentException(String.format("bad PCI address %x:%x:%x", segment, bus, devfn));
        }
        if (pasidBits < 0 || pasidBits > 20) {
            throw new IllegalArgumentException("pasid bits " + pasidBits + " outside 0..20");
        }
        this.segment = segment;
        this.bus = bus;
        this.devfn = devfn;
        this.ats = ats;
        this.pasidBits = pasidBits;
        this.pri = pri;
        this.untrusted = untrusted;
    }

    public int segment() {
        return segment;
    }

    public int bus() {
        return bus;
    }

    public int devfn() {
        return devfn;
    }

    public int slot() {
        return devfn >> 3;
    }

    public int function() {
        return devfn & 7;
    }

    /** Requester ID: bus << 8 | devfn (the VT-d source id, the SMMUv3 stream id on most platforms). */
    public int requesterId() {
        return bus << 8 | devfn;
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

    @Override
    public boolean untrusted() {
        return untrusted;
    }

    /** {@code ssss:bb:dd.f}, as lspci prints it. */
    public String bdf() {
        return String.format("%04x:%02x:%02x.%x", segment, bus, slot(), function());
    }
}
