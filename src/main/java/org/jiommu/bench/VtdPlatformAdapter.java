package org.jiommu.bench;

import org.jiommu.base.Prot;
import org.jiommu.bus.dma.DmaTranslator;
import org.jiommu.bus.pci.Acs;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.hw.vtd.VtdConfig;
import org.jiommu.platform.VtdPlatform;

/**
 * The bench package's one door into {@code org.jiommu.platform}: builds a driver-programmed
 * VT-d unit with one PCI endpoint on its default DMA domain and some pages mapped through the
 * core, and hands back only what a translate case needs (the unit as a {@link DmaTranslator}
 * and the requester id). When the platform layer is reshaped into per-kind plug-ins, this is
 * the class to adapt; another IOMMU kind gets a sibling method here.
 */
final class VtdPlatformAdapter {
    private VtdPlatformAdapter() {
    }

    /** A translator and the requester id whose requests it translates. */
    record Target(DmaTranslator translator, int requesterId) {
    }

    /**
     * One 48-bit unit, legacy or scalable mode, {@code iotlbEntries} IOTLB entries (0: every
     * request walks the second-level table from memory); an endpoint without ATS probed onto its
     * default DMA domain; {@code pages} 4K pages mapped from {@code iova} to {@code pa}.
     */
    static Target vtdEndpoint(boolean scalable, int iotlbEntries, long iova, long pa, int pages) {
        VtdConfig cfg = (scalable ? VtdConfig.scalable(48) : VtdConfig.legacy(48)).toBuilder()
                .iotlbEntries(iotlbEntries).build();
        VtdPlatform p = VtdPlatform.builder().unit(cfg).build();
        PciDevice dev = p.topology().rootBus(0, 0).rootPort("rp", 0x1c, 0, 1, Acs.ISOLATED)
                .endpoint("dev", 0, 0, false, 0, false, Acs.NONE);
        p.hotplug(dev);
        IommuDomain d = p.core().groupGet(dev).domain();
        p.core().map(d, iova, pa, pages * 4096L, Prot.RW);
        return new Target(p.unit(0).unit(), p.topology().dmaRequesterId(dev));
    }
}
