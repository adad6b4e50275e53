package org.jiommu.bench;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.jiommu.base.Prot;
import org.jiommu.bus.dma.DmaEngine;
import org.jiommu.bus.dma.DmaTranslator;
import org.jiommu.bus.pci.Acs;
import org.jiommu.bus.pci.PciBus;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.bus.pci.PciTopology;
import org.jiommu.core.CoreConfig;
import org.jiommu.core.IommuCore;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.platform.IommuUnits;
import org.jiommu.platform.Platform;
import org.jiommu.platform.UnitSpec;

/**
 * The bench package's one door into {@code org.jiommu.platform}: builds a driver-programmed
 * unit (VT-d, SMMUv2 or SMMUv3) with one PCI endpoint on its default DMA domain and some pages mapped through the
 * core, and hands back only what a translate case needs (the unit as a {@link DmaTranslator}
 * and the requester id). The units come from the registered {@code vtd} kind with the options a
 * scenario file would give ({@code platform.IommuKinds}); another IOMMU kind gets a sibling
 * method here.
 */
final class PlatformAdapter {
    private static final String KIND = "vtd";

    private PlatformAdapter() {
    }

    /** A translator and the requester id whose requests it translates. */
    record Target(DmaTranslator translator, int requesterId) {
        /** What {@code dev}'s requests reach and carry (its unit, its requester id as the root complex sees it). */
        static Target of(Platform p, PciDevice dev) {
            DmaEngine e = p.engine(dev);
            return new Target(e.translator(), e.sourceId());
        }
    }

    /** A 48-bit unit {@code name}: scalable or legacy mode, {@code iotlbEntries} IOTLB entries. */
    private static UnitSpec unit(String name, boolean scalable, int iotlbEntries) {
        Map<String, Object> o = new HashMap<>();
        o.put("scalable", scalable);
        o.put("address-width", 48L);
        o.put("iotlb-entries", (long) iotlbEntries);
        return new UnitSpec(name, KIND, o);
    }

    /** Firmware puts {@code dev} behind {@code iommu}; hot-plugged (probed at once) or left for boot. */
    private static void enumerate(Platform p, PciDevice dev, String iommu, boolean hotplug) {
        p.describe(dev, iommu);
        p.unitsNamed(iommu).enumerate(new IommuUnits.Firmware(dev, iommu, List.of(), List.of(), false), hotplug);
    }

    /**
     * One 48-bit unit, legacy or scalable mode, {@code iotlbEntries} IOTLB entries (0: every
     * request walks the second-level table from memory); an endpoint without ATS probed onto its
     * default DMA domain; {@code pages} 4K pages mapped from {@code iova} to {@code pa}.
     */
    static Target vtdEndpoint(boolean scalable, int iotlbEntries, long iova, long pa, int pages) {
        return endpoint(unit("dmar0", scalable, iotlbEntries), iova, pa, pages);
    }

    /**
     * One SMMUv2 with {@code tlbEntries} TLB entries (0: every request walks the bank's stage-1
     * table); a PCI endpoint (stream id = requester id) on its default DMA domain, which the
     * driver gives a context bank at attach; {@code pages} 4K pages mapped from {@code iova}.
     */
    static Target smmuv2Endpoint(int tlbEntries, long iova, long pa, int pages) {
        return endpoint(new UnitSpec("smmu0", "smmuv2", Map.of("iotlb-entries", (long) tlbEntries)), iova, pa, pages);
    }

    /**
     * One SMMUv3 (the kind's defaults: stage 1 and 2, linear stream table) with {@code tlbEntries}
     * TLB entries; a PCI endpoint on its default DMA domain, a stage-1 STE with a CD (ASID) and a
     * 4-level 4K table; {@code pages} 4K pages mapped from {@code iova}.
     */
    static Target smmuv3Endpoint(int tlbEntries, long iova, long pa, int pages) {
        return endpoint(new UnitSpec("smmu0", "smmuv3", Map.of("iotlb-entries", (long) tlbEntries)), iova, pa, pages);
    }

    /** A platform of the one unit {@code spec}, an endpoint behind a root port of its own, probed and mapped. */
    private static Target endpoint(UnitSpec spec, long iova, long pa, int pages) {
        Platform p = Platform.build(16L << 30, CoreConfig.defaults(), List.of(spec));
        PciTopology pci = p.unitsNamed(spec.name()).topology(); // null: the platform's own
        PciDevice dev = (pci != null ? pci : p.topology()).rootBus(0, 0).rootPort("rp", 0x1c, 0, 1, Acs.ISOLATED)
                .endpoint("dev", 0, 0, false, 0, false, Acs.NONE);
        enumerate(p, dev, spec.name(), false);
        p.start(); // boot: units registered, the bus probed (an SMMU registers at boot, not before)
        IommuDomain d = p.core().groupGet(dev).domain();
        p.core().map(d, iova, pa, pages * 4096L, Prot.RW);
        return Target.of(p, dev);
    }

    /**
     * A scalable-mode machine of {@code units} 48-bit units over {@code memoryBytes} of memory,
     * unit {@code i} covering the i-th equal share of the root buses (a DRHD scope per bus range);
     * the RID default domains are identity ({@code iommu.passthrough=1}) unless
     * {@code dmaDefault}, as on a server that gives devices PASID domains of their own.
     */
    static ScaleMachine scaleMachine(int units, int buses, long memoryBytes, boolean dmaDefault) {
        List<UnitSpec> specs = new ArrayList<>();
        for (int i = 0; i < units; i++) {
            specs.add(unit("dmar" + i, true, 1024));
        }
        Platform p = Platform.build(memoryBytes, CoreConfig.builder().passthrough(!dmaDefault).build(), specs);
        return new ScaleMachine(p, units, buses);
    }

    /** The scale platform as the scale run drives it; only this class sees the platform type. */
    static final class ScaleMachine {
        private final Platform p;
        private final IommuUnits vtd;
        private final int units;
        private final int buses;
        private final List<PciDevice> endpoints = new ArrayList<>();

        private ScaleMachine(Platform p, int units, int buses) {
            this.p = p;
            this.vtd = p.unitsNamed("dmar0");
            this.units = units;
            this.buses = buses;
        }

        /** The unit whose DRHD scope covers root bus {@code bus}: the i-th equal share of the buses. */
        private String unitOfBus(int bus) {
            int share = buses / units;
            return "dmar" + Math.min(bus / share, units - 1);
        }

        /**
         * {@code perBus} functions on each root bus (root-complex integrated endpoints, 8 per
         * slot), each with ACS and {@code pasidBits} of PASID, so each is its own group.
         */
        List<PciDevice> populate(int perBus, int pasidBits) {
            for (int bus = 0; bus < buses; bus++) {
                PciBus root = vtd.topology().rootBus(0, bus);
                for (int i = 0; i < perBus; i++) {
                    PciDevice d = root.endpoint(String.format("f%02x.%02x.%d", bus, i >> 3, i & 7), i >> 3, i & 7,
                            false, pasidBits, false, Acs.ISOLATED);
                    enumerate(p, d, unitOfBus(bus), false);
                    endpoints.add(d);
                }
            }
            return endpoints;
        }

        /** Boot: every endpoint added and the PCI bus probed (bus_iommu_probe). */
        void boot() {
            p.start();
        }

        IommuCore core() {
            return p.core();
        }

        int unitIndex(PciDevice dev) {
            return vtd.names().indexOf(p.iommuOf(dev));
        }

        Target target(PciDevice dev) {
            return Target.of(p, dev);
        }

        long framesAllocated() {
            return p.frames().stats().allocatedBytes();
        }
    }
}
