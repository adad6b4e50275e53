package org.jiommu.bench;

import java.util.ArrayList;
import java.util.List;
import org.jiommu.base.Prot;
import org.jiommu.bus.dma.DmaTranslator;
import org.jiommu.bus.pci.Acs;
import org.jiommu.bus.pci.PciBus;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.core.CoreConfig;
import org.jiommu.core.IommuCore;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.hw.vtd.VtdConfig;
import org.jiommu.driver.vtd.VtdPlatform;

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

    /**
     * A scalable-mode machine of {@code units} 48-bit units over {@code memoryBytes} of memory,
     * unit {@code i} covering the i-th equal share of the root buses (a DRHD scope per bus range);
     * the RID default domains are identity ({@code iommu.passthrough=1}) unless
     * {@code dmaDefault}, as on a server that gives devices PASID domains of their own.
     */
    static ScaleMachine scaleMachine(int units, int buses, long memoryBytes, boolean dmaDefault) {
        VtdPlatform.Builder b = VtdPlatform.builder().memorySize(memoryBytes)
                .coreConfig(CoreConfig.builder().passthrough(!dmaDefault).build());
        int share = buses / units;
        for (int i = 0; i < units; i++) {
            int lo = i * share;
            int hi = i == units - 1 ? buses : lo + share;
            b.unit(VtdConfig.scalable(48).toBuilder().name("dmar" + i).build(),
                    dev -> dev.bus() >= lo && dev.bus() < hi);
        }
        return new ScaleMachine(b.build(), buses);
    }

    /** The scale platform as the scale run drives it; only this class sees the platform type. */
    static final class ScaleMachine {
        private final VtdPlatform p;
        private final int buses;
        private final List<PciDevice> endpoints = new ArrayList<>();

        private ScaleMachine(VtdPlatform p, int buses) {
            this.p = p;
            this.buses = buses;
        }

        /**
         * {@code perBus} functions on each root bus (root-complex integrated endpoints, 8 per
         * slot), each with ACS and {@code pasidBits} of PASID, so each is its own group.
         */
        List<PciDevice> populate(int perBus, int pasidBits) {
            for (int bus = 0; bus < buses; bus++) {
                PciBus root = p.topology().rootBus(0, bus);
                for (int i = 0; i < perBus; i++) {
                    endpoints.add(root.endpoint(String.format("f%02x.%02x.%d", bus, i >> 3, i & 7), i >> 3, i & 7,
                            false, pasidBits, false, Acs.ISOLATED));
                }
            }
            return endpoints;
        }

        /** Boot: every endpoint added and the PCI bus probed (bus_iommu_probe). */
        void boot() {
            p.boot();
        }

        IommuCore core() {
            return p.core();
        }

        int unitIndex(PciDevice dev) {
            return p.units().indexOf(p.unitOf(dev));
        }

        Target target(PciDevice dev) {
            return new Target(p.unitOf(dev).unit(), p.topology().dmaRequesterId(dev));
        }

        long framesAllocated() {
            return p.frames().stats().allocatedBytes();
        }
    }
}
