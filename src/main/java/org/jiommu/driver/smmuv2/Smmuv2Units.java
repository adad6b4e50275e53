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
import org.jiommu.platform.Platform;

/**
 * The smmuv2 kind's IOMMUs on one platform: one {@link Smmuv2Driver} per unit, registered with
 * the core at boot ({@link #start}) after the boot devices are on their buses, so that
 * registration probes them ({@code arm_smmu_device_probe} ends in {@code iommu_device_register}).
 * A master's stream ids are its firmware's ({@code iommus} in the device tree), or for a PCI
 * function its requester id ({@code iommu-map} identity).
 */
public final class Smmuv2Units implements IommuUnits {
    private final IommuKind kind;
    private final Platform platform;
    private final Map<String, Smmuv2Driver> drivers = new LinkedHashMap<>();
    private boolean started;

    Smmuv2Units(IommuKind kind, Platform platform) {
        this.kind = kind;
        this.platform = platform;
    }

    void add(Smmuv2Driver drv) {
        drivers.put(drv.iommu().name(), drv);
    }

    @Override
    public IommuKind kind() {
        return kind;
    }

    @Override
    public List<String> names() {
        return List.copyOf(drivers.keySet());
    }

    /** The driver of unit {@code name}, or null. */
    public Smmuv2Driver driver(String name) {
        return drivers.get(name);
    }

    private Smmuv2Driver driverOf(Device dev) {
        Smmuv2Driver d = drivers.get(platform.iommuOf(dev));
        if (d == null) {
            throw new IllegalArgumentException(dev.name() + " is not behind an SMMUv2");
        }
        return d;
    }

    /**
     * Firmware describes the master: its stream ids go into the fwspec. Reserved regions and
     * context-switching masters (the GPU of S02/S10) are refused: the driver reports no
     * reserved regions and has no aux domains yet (docs/driver-smmuv2.md).
     */
    @Override
    public void enumerate(Firmware fw, boolean hotplug) {
        Device dev = fw.dev();
        Smmuv2Driver drv = drivers.get(fw.iommu());
        if (!fw.regions().isEmpty()) {
            throw new IllegalArgumentException(dev.name() + ": reserved regions behind an smmuv2 are not supported"
                    + " (the driver has no get_resv_regions)");
        }
        if (fw.contextSwitch()) {
            throw new IllegalArgumentException(dev.name() + ": context-switch masters (aux domains, S02/S10)"
                    + " are not supported by the smmuv2 driver yet");
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

    @Override
    public DmaEngine engine(Device dev) {
        return new DmaEngine(dev, platform.sourceId(dev), driverOf(dev).unit(), platform.memory());
    }

    /** What each driver programmed: a master's S2CRs point at one domain; SMMUv2 has no PASIDs. */
    @Override
    public HardwareView view(CoreSnapshot s) {
        Map<Device, IommuDomain> rid = new LinkedHashMap<>();
        Map<Device, Boolean> held = new LinkedHashMap<>();
        for (Smmuv2Driver d : drivers.values()) {
            rid.putAll(d.attachedDomains());
            for (Device dev : platform.devicesOn(d.iommu().name())) {
                held.put(dev, d.streamMapEntries(dev).length > 0);
            }
        }
        return new HardwareView() {
            @Override
            public boolean knows(Device dev) {
                return held.containsKey(dev);
            }

            @Override
            public IommuDomain rid(Device dev) {
                return rid.get(dev);
            }

            @Override
            public Map<Integer, IommuDomain> pasids(Device dev) {
                return Map.of();
            }

            @Override
            public Boolean driverHolds(Device dev) {
                return held.get(dev);
            }

            @Override
            public int liveDriverDomains() {
                return -1; // the driver keeps no list of its domains (arm-smmu.c has none)
            }
        };
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
