package org.jiommu.driver.smmuv3;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.jiommu.bus.Device;
import org.jiommu.bus.dma.DmaEngine;
import org.jiommu.bus.dma.DmaResult;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.core.CoreSnapshot;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.core.spi.ResvRegion;
import org.jiommu.core.spi.ResvType;
import org.jiommu.driver.common.DriverFaults;
import org.jiommu.hw.HwStats;
import org.jiommu.hw.smmuv3.SmmuEvent;
import org.jiommu.pgtable.IoPageTable;
import org.jiommu.platform.EntryView;
import org.jiommu.platform.HardwareView;
import org.jiommu.platform.HwWalk;
import org.jiommu.platform.IommuKind;
import org.jiommu.platform.IommuUnits;
import org.jiommu.platform.KindUnits;
import org.jiommu.platform.Platform;
import org.jiommu.platform.StressPlant;

/**
 * The smmuv3 kind's IOMMUs on one platform: one {@link Smmuv3Driver} per unit, registered with
 * the core at boot ({@link #start}), as {@code arm_smmu_device_probe} ends in
 * {@code iommu_device_register}. A master's stream ids are its firmware's, or for a PCI function
 * its requester id (the IORT ID mapping taken as identity); firmware's direct regions are the
 * master's IORT RMRs, its {@code dma-can-stall} the driver's stall-capable masters; a PCI
 * function's ATC and PRI interface are connected at its stream id.
 */
public final class Smmuv3Units extends KindUnits<Smmuv3Driver> {
    private final Set<String> connected = new HashSet<>();
    private boolean started;

    Smmuv3Units(IommuKind kind, Platform platform) {
        super(kind, platform, "an SMMUv3");
    }

    void add(Smmuv3Driver drv) {
        drivers.put(drv.iommu().name(), drv);
    }

    /**
     * Firmware describes the master: direct regions become its IORT RMRs (other reserved kinds
     * have no IORT form and are refused), its stream ids the fwspec; a PCI function's ATC and PRI
     * are connected at its first stream id unless another function already owns that id (an
     * alias: the SMMU then reaches the owner, as the requests do).
     */
    @Override
    public void enumerate(Firmware fw, boolean hotplug) {
        Device dev = fw.dev();
        Smmuv3Driver drv = drivers.get(fw.iommu());
        if (fw.contextSwitch()) {
            throw new IllegalArgumentException(dev.name() + ": context-switch masters are an SMMUv2 notion");
        }
        for (ResvRegion r : fw.regions()) {
            if (r.type() != ResvType.DIRECT && r.type() != ResvType.DIRECT_RELAXABLE) {
                throw new IllegalArgumentException(dev.name() + ": reserved region of kind " + r.type().sysfsName()
                        + " behind an smmuv3 (IORT gives RMRs only: direct, direct-relaxable)");
            }
            drv.addRmr(dev, r.start(), r.length(), r.type() == ResvType.DIRECT_RELAXABLE);
        }
        if (fw.dmaCanStall()) {
            // dma-can-stall is a platform master's property (a PCIe function cannot stall: it uses PRI)
            if (dev instanceof PciDevice) {
                throw new IllegalArgumentException(dev.name() + ": dma-can-stall applies to platform masters");
            }
            drv.setDmaCanStall(dev);
        }
        if (dev instanceof PciDevice p) {
            int sid = fw.streamIds().isEmpty() ? platform.topology().dmaRequesterId(p) : fw.streamIds().get(0);
            if (connected.add(fw.iommu() + "/" + sid)) {
                if (p.atc() != null) {
                    drv.unit().connectAtc(sid, p.atc());
                }
                if (p.pri() != null) {
                    drv.unit().connectPri(sid, p.pri());
                }
            }
        }
        platform.fwspecAndAdd(dev, drv.iommu(), fw.streamIds(), hotplug);
    }

    @Override
    public void start() {
        if (!started) {
            for (Smmuv3Driver drv : drivers.values()) {
                platform.core().iommuDeviceRegister(drv.iommu());
            }
            started = true;
        }
    }

    @Override
    public DmaEngine engine(Device dev) {
        return new DmaEngine(dev, platform.sourceId(dev), driverOf(dev).unit(), platform.memory());
    }

    /**
     * What each driver programmed, for the devices of {@code s} (the incremental watch's scoped
     * state names one or two groups' devices, a whole state all of them): see
     * {@link Smmuv3View}.
     */
    @Override
    public HardwareView view(CoreSnapshot s) {
        return Smmuv3View.of(platform, drivers, s);
    }

    /**
     * The kind's stress plants: {@code skip-iotlb-invalidation} (every unmap flush leaves out its
     * TLBI, through the driver's {@code DriverFaults}), {@code atc-before-tlb-sync} (race 9: the
     * ATC_INVs go before the TLBI and its sync, through {@code DriverFaults}) and {@code skip-cfgi} (every STE / CD write
     * leaves out its CFGI_STE / CFGI_CD: after a domain switch the SMMU keeps the old CD).
     */
    @Override
    public Map<String, StressPlant> plants() {
        Map<String, StressPlant> m = new LinkedHashMap<>();
        m.put("skip-iotlb-invalidation", StressPlant.of(
                StressPlant.When.BUILD,
                "every unmap flush leaves out its TLBI: a DMA after the unmap lands",
                bed -> drivers.values().forEach(d -> d.faults().skip(
                        DriverFaults.Skip.IOTLB, 1_000_000))));
        m.put("atc-before-tlb-sync", StressPlant.of(StressPlant.When.BUILD,
                "every flush invalidates the ATCs before the TLBI and its CMD_SYNC: an ATS request between"
                        + " refills a stale ATC entry",
                bed -> drivers.values().forEach(d -> d.faults().devTlbBeforeIotlbSync(true))));
        m.put("skip-cfgi", StressPlant.of(StressPlant.When.BUILD,
                "STE / CD writes leave out CFGI_STE / CFGI_CD: after a domain switch DMA walks the old domain",
                bed -> drivers.values().forEach(d -> d.tables().skipCfgi = true)));
        return m;
    }

    /** I7: each master's STEs and CDs decoded from memory by the hardware model. */
    @Override
    public EntryView entries() {
        return new Smmuv3EntryView(platform, drivers);
    }

    @Override
    public HwWalk walk(Device dev, int pasid, long iova) {
        Smmuv3Driver d = drivers.get(platform.iommuOf(dev));
        return d == null ? null : Smmuv3Walk.walk(d.unit(), platform.memory(), platform.sourceId(dev), pasid, iova);
    }

    @Override
    public IoPageTable pageTable(IommuDomain d) {
        return d instanceof Smmuv3Domain s ? s.table : null;
    }

    @Override
    public String dump(String iommu, DomainLabels labels) {
        return Smmuv3Dump.dump(drivers.get(iommu), platform.devicesOn(iommu), labels, platform::sourceId);
    }

    @Override
    public String stats(String iommu) {
        HwStats st = drivers.get(iommu).unit().stats();
        return String.format("%s: TLB %d hits, %d misses; STE cache %d hits, %d misses; CD cache %d hits, %d misses;"
                        + " %d walks; %d events%n", iommu, st.get("iotlb.hits"), st.get("iotlb.misses"),
                st.get("ste-cache.hits"), st.get("ste-cache.misses"), st.get("cd-cache.hits"), st.get("cd-cache.misses"),
                st.get("walks"), st.get("events"));
    }

    @Override
    public long[] cacheStats() {
        long hits = 0;
        long lookups = 0;
        for (Smmuv3Driver d : drivers.values()) {
            HwStats st = d.unit().stats();
            hits += st.get("iotlb.hits");
            lookups += st.get("iotlb.hits") + st.get("iotlb.misses");
        }
        return new long[] {hits, lookups};
    }

    /** Per unit: each master's RID and PASID domains and ATS, the ASIDs and VMIDs in use. */
    @Override
    public Object state(CoreSnapshot s) {
        List<Object> out = new ArrayList<>();
        for (Smmuv3Driver d : drivers.values()) {
            Map<Device, List<Object>> m = new LinkedHashMap<>();
            for (Device dev : d.masters()) {
                m.put(dev, List.of(String.valueOf(d.ridDomain(dev)), d.pasidDomains(dev).toString(),
                        d.atsEnabled(dev)));
            }
            out.add(List.of(m, d.asidsInUse(), d.vmidsInUse()));
        }
        return out;
    }

    /**
     * The fault in the scenario's words, from the event the SMMU records: F_TRANSLATION and
     * F_ADDR_SIZE read not-present / out-of-range, F_PERMISSION and F_ACCESS permission, an abort
     * STE (no event) or a terminated substream blocked; the detail names the event.
     */
    @Override
    public FaultText fault(DmaResult r, int pasid, String where) {
        String name = r.faultName();
        String word = switch (r.faultCode()) {
            case SmmuEvent.F_TRANSLATION -> "not-present";
            case SmmuEvent.F_ADDR_SIZE -> "out-of-range";
            case SmmuEvent.F_PERMISSION, SmmuEvent.F_ACCESS -> "permission";
            case SmmuEvent.F_STREAM_DISABLED, SmmuEvent.C_BAD_SUBSTREAMID -> "blocked";
            default -> name != null && name.startsWith("STE.Config = abort") ? "blocked" : null;
        };
        return new FaultText(word, name + " " + where);
    }
}
