package org.jiommu.bus.pci;

/**
 * One requester ID the IOMMU may see for a function's DMA, as {@code pci_for_each_dma_alias}
 * reports it: the function passed to the callback ({@code device}: the function itself for its
 * own and its quirk aliases, or the upstream bridge that takes ownership of the requests) and
 * the 16-bit {@code requesterId} (bus << 8 | devfn) in that function's segment.
 */
public record DmaAlias(PciDevice device, int requesterId) {
    public DmaAlias {
        if (device == null || requesterId < 0 || requesterId > 0xffff) {
            throw new IllegalArgumentException("bad DMA alias " + device + " " + requesterId);
        }
    }

    public int segment() {
        return device.segment();
    }

    public int bus() {
        return requesterId >> 8;
    }

    public int devfn() {
        return requesterId & 0xff;
    }

    @Override
    public String toString() {
        return String.format("%04x:%02x:%02x.%x(%s)", segment(), bus(), devfn() >> 3, devfn() & 7, device.name());
    }
}
