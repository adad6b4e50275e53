package org.jiommu.driver.smmuv2;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jiommu.bus.Device;
import org.jiommu.bus.dma.DmaEngine;
import org.jiommu.bus.dma.DmaResult;
import org.jiommu.bus.dma.DmaTranslator;
import org.jiommu.core.CoreSnapshot;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.hw.HwStats;
import org.jiommu.pgtable.IoPageTable;
import org.jiommu.platform.EntryView;
import org.jiommu.platform.HardwareView;
import org.jiommu.platform.HwWalk;
import org.jiommu.platform.IommuKind;
import org.jiommu.platform.IommuUnits;
import org.jiommu.platform.KindUnits;
import org.jiommu.platform.Platform;

/**
 * The smmuv2 kind's IOMMUs on one platform: one {@link Smmuv2Driver} per unit, registered with
 * the core at boot ({@link #start}) after the boot devices are on their buses, so that
 * registration probes them ({@code arm_smmu_device_probe} ends in {@code iommu_device_register}).
 * A master's stream ids are its firmware's ({@code iommus} in the device tree), or for a PCI
 * function its requester id ({@code iommu-map} identity).
 */
public final class Smmuv2Units extends KindUnits<Smmuv2Driver> {
    /** The context-switching masters (S10), by device. */
    private final Map<Device, Smmuv2Gpu> gpus = new LinkedHashMap<>();
    private boolean started;

    Smmuv2Units(IommuKind kind, Platform platform) {
        super(kind, platform, "an SMMUv2");
    }

    void add(Smmuv2Driver drv) {
        drivers.put(drv.iommu().name(), drv);
    }

    /**
     * Firmware describes the master: its stream ids go into the fwspec; a context-switching
     * master (the GPU of S02/S10) is declared to the driver before its probe and drives its
     * bank's TTBR0 with its first stream id. Its reserved regions (IORT RMRs) are what the
     * driver's get_resv_regions reports.
     */
    @Override
    public void enumerate(Firmware fw, boolean hotplug) {
        Device dev = fw.dev();
        Smmuv2Driver drv = drivers.get(fw.iommu());
        if (!fw.regions().isEmpty()) {
            drv.setFirmwareRegions(dev, fw.regions());
        }
        if (fw.contextSwitch()) {
            drv.declareContextSwitchCapable(dev);
            gpus.put(dev, new Smmuv2Gpu(drv.unit(), platform.sourceId(dev)));
        }
        platform.fwspecAndAdd(dev, drv.iommu(), fw.streamIds(), hotplug);
    }

    @Override
    public void start() {
        if (!started) {
            for (Smmuv2Driver drv : drivers.values()) {
                platform.core().iommuDeviceRegister(drv.iommu());
            }
            started = true;
        }
    }

    /** The context-switching master {@code dev} (its GPU side: plants), or null. */
    public Smmuv2Gpu gpu(Device dev) {
        return gpus.get(dev);
    }

    /** S10's {@code gpu_switch_ttbr0}: the master writes its bank's TTBR0 and invalidates the ASID. */
    @Override
    public void switchContext(Device dev, long ttbr0) {
        Smmuv2Gpu g = gpus.get(dev);
        if (g == null) {
            throw new UnsupportedOperationException(dev.name() + " is not declared context-switch capable"
                    + " (context-switch: true): it cannot write its context bank");
        }
        g.switchTtbr0(ttbr0);
    }

    @Override
    public DmaEngine engine(Device dev) {
        return new DmaEngine(dev, platform.sourceId(dev), driverOf(dev).unit(), platform.memory());
    }

    /**
     * What each driver programmed, for the devices of {@code s} (the incremental watch's scoped
     * state names one or two groups' devices, a whole state all of them): see {@link Smmuv2View}.
     */
    @Override
    public HardwareView view(CoreSnapshot s) {
        return Smmuv2View.of(platform, drivers, s);
    }

    /** I7: each master's entries decoded from the unit's stream-match and bank registers. */
    @Override
    public EntryView entries() {
        return new Smmuv2Entries(platform, drivers);
    }

    @Override
    public HwWalk walk(Device dev, int pasid, long iova) {
        Smmuv2Driver d = drivers.get(platform.iommuOf(dev));
        // an SMMUv2 has no PASIDs: a request with one has nothing to walk
        return d == null || pasid != DmaTranslator.NO_PASID ? null
                : Smmuv2Walk.walk(d.unit(), platform.memory(), platform.sourceId(dev), iova);
    }

    @Override
    public IoPageTable pageTable(IommuDomain d) {
        return d instanceof Smmuv2Domain s ? s.table : null;
    }

    @Override
    public String dump(String iommu, DomainLabels labels) {
        Smmuv2Driver d = drivers.get(iommu);
        return Smmuv2Dump.dump(d, platform.devicesOn(iommu), labels);
    }

    @Override
    public String stats(String iommu) {
        HwStats st = drivers.get(iommu).unit().stats();
        return String.format("%s: TLB %d hits, %d misses, %d fills; %d invalidations, %d syncs; faults: %d context,"
                        + " %d global%n", iommu, st.get("iotlb.hits"), st.get("iotlb.misses"), st.get("iotlb.fills"),
                st.get("tlb.invalidations"), st.get("tlb.syncs"), st.get("faults.context"), st.get("faults.global"));
    }

    @Override
    public long[] cacheStats() {
        long hits = 0;
        long lookups = 0;
        for (Smmuv2Driver d : drivers.values()) {
            HwStats st = d.unit().stats();
            hits += st.get("iotlb.hits");
            lookups += st.get("iotlb.hits") + st.get("iotlb.misses");
        }
        return new long[] {hits, lookups};
    }

    /**
     * The table pages of the live domains (their own tables and aux tables): a failed map keeps
     * the levels io-pgtable-arm installed, so fail_nth counts them with their domain.
     */
    @Override
    public long tablePages() {
        java.util.concurrent.atomic.AtomicLong pages = new java.util.concurrent.atomic.AtomicLong();
        for (IommuDomain d : platform.core().liveDomains()) {
            if (d instanceof Smmuv2Domain s && s.table != null) {
                pages.incrementAndGet(); // the root
                s.table.walk((level, iova, size, pte, leaf) -> pages.addAndGet(leaf ? 0 : 1));
            }
        }
        return pages.get();
    }

    /** Per unit: what each master's S2CRs point at, its stream-map entries, the banks in use. */
    @Override
    public Object state(CoreSnapshot s) {
        List<Object> out = new ArrayList<>();
        for (Smmuv2Driver d : drivers.values()) {
            Map<Device, List<Integer>> smes = new LinkedHashMap<>();
            for (Device dev : platform.devicesOn(d.iommu().name())) {
                smes.put(dev, java.util.Arrays.stream(d.streamMapEntries(dev)).boxed().toList());
            }
            out.add(List.of(d.attachedDomains(), smes, d.contextBanksInUse()));
        }
        return out;
    }

    /**
     * The fault in the scenario's words: a context fault's FSR class (TF: not-present, PF:
     * permission, ASF: out-of-range), a stream that is refused before any bank (S2CR fault type,
     * sGFSR.USF unidentified stream) is blocked; the detail is the unit's own description (the
     * FSR/sGFSR bit and the bank).
     */
    @Override
    public FaultText fault(DmaResult r, int pasid, String where) {
        String name = r.faultName();
        String word;
        if (name.startsWith("context fault TF")) {
            word = "not-present";
        } else if (name.startsWith("context fault PF")) {
            word = "permission";
        } else if (name.startsWith("context fault ASF")) {
            word = "out-of-range";
        } else if (name.equals("S2CR fault") || name.equals("unidentified stream")) {
            word = "blocked";
        } else {
            return new FaultText(null, name + " " + where);
        }
        return new FaultText(word, name + " " + where);
    }
}
