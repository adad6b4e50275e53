package org.jiommu.driver.vtd;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Predicate;
import org.jiommu.driver.common.DriverFaults;
import org.jiommu.base.Errno;
import org.jiommu.base.IommuException;
import org.jiommu.bus.Device;
import org.jiommu.bus.dma.DmaEngine;
import org.jiommu.bus.dma.DmaResult;
import org.jiommu.bus.dma.DmaTranslator;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.bus.pci.PciTopology;
import org.jiommu.core.CoreSnapshot;
import org.jiommu.core.IommuCore;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.core.spi.ResvRegion;
import org.jiommu.core.spi.ResvType;
import org.jiommu.hw.HwStats;
import org.jiommu.hw.vtd.FaultReason;
import org.jiommu.hw.vtd.VtdConfig;
import org.jiommu.hw.vtd.VtdRegisters;
import org.jiommu.hw.vtd.VtdUnit;
import org.jiommu.pgtable.IoPageTable;
import org.jiommu.platform.EntryView;
import org.jiommu.platform.HardwareView;
import org.jiommu.platform.HwWalk;
import org.jiommu.platform.IommuKind;
import org.jiommu.platform.IommuUnits;
import org.jiommu.platform.Platform;
import org.jiommu.platform.StressBed;
import org.jiommu.platform.StressPlant;

/**
 * The VT-d kind's units on one platform: the remapping units, the one VT-d driver programming
 * them (registered with the core when built, as DMAR units are at boot), and the PCI hierarchy
 * whose endpoints DMA through them.
 *
 * <p>Wiring (the part no single layer owns): every device's fwspec names the unit whose scope
 * covers it; its {@link DmaEngine} uses that unit as {@code DmaTranslator} with the requester id
 * the root complex sees ({@link PciTopology#dmaRequesterId}); an ATS-capable device's ATC is
 * connected to the unit under its own requester id, where device-TLB invalidations address it.
 */
public final class VtdUnits implements IommuUnits {
    private final IommuKind kind;
    private final Platform platform;
    private final VtdIommuDriver driver;
    private final PciTopology topology = new PciTopology();
    private final List<VtdIommu> units;
    private final Map<String, VtdIommu> byName = new LinkedHashMap<>();
    private final Map<Device, DmaEngine> engines = new ConcurrentHashMap<>();
    private final Map<Device, Boolean> added = new ConcurrentHashMap<>();

    VtdUnits(IommuKind kind, Platform platform, boolean scalableMode, List<VtdConfig> configs,
             List<Predicate<PciDevice>> scopes) {
        this.kind = kind;
        this.platform = platform;
        IommuCore core = platform.core();
        this.driver = new VtdIommuDriver(core.services(), platform.frames(), scalableMode);
        List<VtdIommu> us = new ArrayList<>();
        for (int i = 0; i < configs.size(); i++) {
            VtdUnit unit = new VtdUnit(configs.get(i), platform.memory(), core.services().warnings());
            us.add(driver.addUnit(unit, scopes.get(i)));
        }
        this.units = List.copyOf(us);
        for (VtdIommu u : units) {
            byName.put(u.name(), u);
            core.iommuDeviceRegister(u.iommuDevice());
        }
    }

    @Override
    public IommuKind kind() {
        return kind;
    }

    Platform platform() {
        return platform;
    }

    @Override
    public List<String> names() {
        return List.copyOf(byName.keySet());
    }

    public VtdIommuDriver driver() {
        return driver;
    }

    /** The driver's units in the order they were configured. */
    public List<VtdIommu> units() {
        return units;
    }

    /**
     * The second-level table pages of the live domains: the root and one per table entry. A
     * failed map keeps the levels it installed, as {@code pfn_to_dma_pte} does, so the fail_nth
     * sweep counts them with their domain, not as lost frames.
     */
    @Override
    public long tablePages() {
        long n = 0;
        for (IommuDomain d : platform.core().liveDomains()) {
            if (d instanceof VtdDomain v && v.pageTable() != null) {
                long[] pages = {1};
                v.pageTable().walk((level, iova, size, pte, leaf) -> {
                    if (!leaf) {
                        pages[0]++;
                    }
                });
                n += pages[0];
            }
        }
        return n;
    }

    /** The unit named {@code name}, or null. */
    public VtdIommu unit(String name) {
        return byName.get(name);
    }

    @Override
    public PciTopology topology() {
        return topology;
    }

    /** The unit whose scope covers {@code dev}. @throws IommuException ENODEV if none */
    public VtdIommu unitOf(PciDevice dev) {
        VtdIommu u = driver.unitFor(dev);
        if (u == null) {
            throw new IommuException(Errno.ENODEV, "no VT-d unit covers " + dev);
        }
        return u;
    }

    /**
     * Firmware describes {@code dev} (its fwspec names its unit) and the device is connected to
     * its unit (ATC for device-TLB invalidations). Idempotent.
     */
    private void describe(PciDevice dev) {
        Objects.requireNonNull(dev, "dev");
        if (added.putIfAbsent(dev, Boolean.TRUE) != null) {
            return;
        }
        VtdIommu u = unitOf(dev);
        if (platform.iommuOf(dev) == null) {
            platform.describe(dev, u.name()); // a device the unit's scope claims (INCLUDE_PCI_ALL)
        }
        platform.core().fwspecInit(dev, u.iommuDevice());
        if (dev.atc() != null) {
            u.unit().registerDeviceTlb(dev.requesterId(), dev.atc());
        }
    }

    /** Hot-plug: {@code device_add} of a device of the topology; the core probes it at once. */
    public void hotplug(PciDevice dev) {
        describe(dev);
        platform.core().deviceAdd(dev);
    }

    /**
     * Boot: every endpoint of the topology not yet added is put on its bus, then the PCI bus is
     * scanned ({@code bus_iommu_probe}), so group default domains see all their devices.
     */
    public void boot() {
        for (PciDevice d : topology.devices()) {
            if (added.containsKey(d)) {
                continue;
            }
            describe(d);
            platform.core().busAddDevice(d);
        }
        platform.core().busIommuProbe(Device.BusType.PCI);
    }

    /** Hot-unplug: {@code device_del} (release domain, release_device). */
    public void remove(PciDevice dev) {
        platform.core().deviceDel(dev);
    }

    /** The device's DMA engine: its requests reach its unit with the requester id the root complex sees. */
    public DmaEngine dma(PciDevice dev) {
        return engines.computeIfAbsent(dev, d -> {
            VtdIommu u = unitOf(dev);
            if (dev.atc() != null) {
                u.unit().registerDeviceTlb(dev.requesterId(), dev.atc());
            }
            return new DmaEngine(dev, topology.dmaRequesterId(dev), u.unit(), platform.memory());
        });
    }

    /**
     * A PCI function behind a unit: firmware's RMRRs for it (the only reserved regions a DMAR
     * table gives per device; the scenario validator refuses other kinds), then at boot nothing
     * more ({@link #boot} describes and probes every function of the hierarchy at once), or
     * hot-plugged (fwspec, device_add, probe).
     */
    @Override
    public void enumerate(Firmware fw, boolean hotplug) {
        PciDevice p = (PciDevice) fw.dev();
        for (ResvRegion r : fw.regions()) {
            driver.addRmrr(p, r.start(), r.length(), r.type() == ResvType.DIRECT_RELAXABLE);
        }
        if (hotplug) {
            hotplug(p);
        } else if (p.isBridge()) {
            // boot() puts the topology's endpoints on the bus; a port or bridge firmware declared is
            // a PCI device the kernel's bus scan finds too (before what is below it), probed with them
            describe(p);
            platform.core().busAddDevice(p);
        }
    }

    @Override
    public void start() {
        boot();
    }

    @Override
    public DmaEngine engine(Device dev) {
        return dma((PciDevice) dev);
    }

    @Override
    public HardwareView view(CoreSnapshot s) {
        return new VtdDriverView(driver, s);
    }

    @Override
    public HwWalk walk(Device dev, int pasid, long iova) {
        if (!(dev instanceof PciDevice p) || driver.unitFor(p) == null) {
            return null;
        }
        return VtdWalk.walk(platform.memory(), unitOf(p), topology.dmaRequesterId(p), pasid, iova);
    }

    @Override
    public IoPageTable pageTable(IommuDomain d) {
        return d instanceof VtdDomain v ? v.pageTable() : null;
    }

    @Override
    public EntryView entries() {
        return new VtdAgreement(driver, platform.memory());
    }

    @Override
    public String dump(String iommu, DomainLabels labels) {
        return VtdDump.dump(platform.memory(), byName.get(iommu), driver, platform.devicesOn(iommu));
    }

    /**
     * A unit's counters (hw.HwStats): translations, each cache's hits and misses, page walks,
     * invalidation descriptors by type, and faults by reason, plus the fault log the driver read
     * from the fault recording registers.
     */
    @Override
    public String stats(String iommu) {
        VtdIommu u = byName.get(iommu);
        SortedMap<String, Long> c = u.unit().stats().snapshot().asMap();
        StringBuilder sb = new StringBuilder();
        sb.append(String.format("%s: %d translations (%d ATS translation requests, %d identity), %d walks, "
                        + "%d words read%n", u.name(), c.getOrDefault("translations", 0L),
                c.getOrDefault("translations.ats-requests", 0L), c.getOrDefault("translations.identity", 0L),
                c.getOrDefault("walks", 0L), c.getOrDefault("memory.words-read", 0L)));
        sb.append(String.format("  caches: IOTLB %d hits / %d misses, context cache %d / %d, PASID cache %d / %d%n",
                c.getOrDefault("iotlb.hits", 0L), c.getOrDefault("iotlb.misses", 0L),
                c.getOrDefault("context-cache.hits", 0L), c.getOrDefault("context-cache.misses", 0L),
                c.getOrDefault("pasid-cache.hits", 0L), c.getOrDefault("pasid-cache.misses", 0L)));
        sb.append("  invalidations: ").append(byPrefix(c, "inv.", "descriptors", "queue-errors")).append('\n');
        sb.append("  faults: ").append(byPrefix(c, "faults.", "", "")).append('\n');
        List<DmarFault> log = u.faults();
        for (int i = Math.max(0, log.size() - 4); i < log.size(); i++) {
            sb.append("  fault log: ").append(log.get(i)).append('\n');
        }
        return sb.toString();
    }

    /** The counters under {@code prefix}, "name n" joined, skipping two totals; "none" if empty. */
    private static String byPrefix(SortedMap<String, Long> c, String prefix, String skip1, String skip2) {
        List<String> parts = new ArrayList<>();
        for (Map.Entry<String, Long> e : c.entrySet()) {
            String k = e.getKey();
            if (k.startsWith(prefix) && e.getValue() != 0) {
                String n = k.substring(prefix.length());
                if (!n.equals(skip1) && !n.equals(skip2)) {
                    parts.add(n + " " + e.getValue());
                }
            }
        }
        return parts.isEmpty() ? "none" : String.join(", ", parts);
    }

    @Override
    public long[] cacheStats() {
        long hits = 0;
        long lookups = 0;
        for (VtdIommu u : units) {
            HwStats st = u.unit().stats();
            hits += st.get("iotlb.hits");
            lookups += st.get("iotlb.hits") + st.get("iotlb.misses");
        }
        return new long[] {hits, lookups};
    }

    /**
     * What the driver has programmed: per device its RID entry's domain and the PASID entries
     * at every PASID the core knows of (slots, global, mm PASIDs), per unit the domain ids in
     * use. The driver writes memory only through these, so equal states mean no entry changed
     * (I7 checks memory against the same records).
     */
    @Override
    public Object state(CoreSnapshot cs) {
        TreeSet<Integer> pasids = VtdDriverView.knownPasids(cs);
        List<Object> out = new ArrayList<>();
        for (Device d : platform.devicesOn(this)) {
            Map<Integer, IommuDomain> entries = new TreeMap<>();
            for (int p : pasids) {
                IommuDomain dom = driver.programmedPasid(d, p);
                if (dom != null) {
                    entries.put(p, dom);
                }
            }
            out.add(List.of(d.name(), driver.probed(d), java.util.Optional.ofNullable(driver.programmedDomain(d)),
                    entries));
        }
        for (VtdIommu u : units) {
            out.add(u.domainIdsInUse());
        }
        return out;
    }

    /**
     * A VT-d fault in the scenario's words, with the unit's fault reason code and name in the
     * detail. The hardware's own classes (FaultReason.category) are kept except for one: a
     * request without PASID refused because its RID entry is not present (legacy 0x2, scalable
     * 0x59/0x51 at RID_PASID) is what the driver's blocked domain programs (it clears the entry,
     * docs/driver-vtd.md "Blocked"), so it reads {@code blocked}; a root entry not present (0x1)
     * stays {@code not-present}: no device on that bus was ever probed.
     */
    @Override
    public FaultText fault(DmaResult r, int pasid, String where) {
        int code = r.faultCode();
        String word = FaultReason.category(code);
        boolean ridEntryGone = code == FaultReason.CONTEXT_ENTRY_NOT_PRESENT
                || pasid == DmaTranslator.NO_PASID && (code == FaultReason.PASID_ENTRY_NOT_PRESENT
                        || code == FaultReason.PASID_DIR_ENTRY_NOT_PRESENT);
        if (ridEntryGone) {
            word = "blocked";
        }
        return new FaultText(word, String.format("VT-d fault reason %#x (%s) %s", code, FaultReason.name(code), where));
    }

    /**
     * The frame baseline is not "no domain": context and PASID tables and the tables kept for an
     * RMRR device are not domains.
     */
    @Override
    public boolean exactFrames() {
        return false;
    }

    @Override
    public Map<String, StressPlant> plants() {
        Map<String, StressPlant> m = new LinkedHashMap<>(driverFaultPlants());
        m.put("stray-pasid-entry", StressPlant.of(StressPlant.When.FIRST_QUIESCENT_POINT,
                "a present pass-through PASID entry at PASID 5 of a device without PASIDs (I7 reports it)",
                bed -> VtdKind.strayPasidRefusal(this, bed), bed -> VtdKind.plantStrayPasidEntry(this, bed)));
        return m;
    }

    /**
     * The plants that reach the driver's fault hooks: {@code skip-iotlb-invalidation}, every
     * unmap flush of the run leaves out its IOTLB invalidation (and so does the exit's
     * secondary TLB invalidation).
     */
    private Map<String, StressPlant> driverFaultPlants() {
        return Map.of("skip-iotlb-invalidation", StressPlant.of(StressPlant.When.BUILD,
                "every unmap flush leaves out its IOTLB invalidation: a DMA after the unmap lands",
                // only a DMA shows it: a lane's after its unmap, or an SVA DMA after its process exited
                bed -> !bed.lanes().isEmpty() || bed.shape().pasids() ? null : "it is seen only by DMA, and the bed"
                        + " has neither DMA lanes nor the PASID churn's SVA DMA",
                bed -> driver.faults().skip(DriverFaults.Skip.IOTLB, 1_000_000)));
    }

    /**
     * After a stress run's teardown the drain left nothing behind (docs/driver-vtd.md 9,
     * {@code intel_iommu_drain_pasid_prq}): every unit's page request ring is empty (PQH = PQT, no
     * pending event) and no PRI function still has PRI enabled, so no page request can be
     * reported any more; a report after its device left the IOPF queue would also have WARNed.
     */
    @Override
    public void afterStress(StressBed bed, List<String> problems) {
        for (VtdIommu u : units) {
            long head = u.unit().read64(VtdRegisters.PQH_REG);
            long tail = u.unit().read64(VtdRegisters.PQT_REG);
            int prs = u.unit().read32(VtdRegisters.PRS_REG);
            if (head != tail || (prs & VtdRegisters.PRS_PPR) != 0) {
                problems.add("after teardown: " + u + " page request queue not drained: PQH " + head
                        + ", PQT " + tail + ", PRS " + prs);
            }
        }
        for (PciDevice d : bed.pasidDevices()) {
            if (d.pri().enabled()) {
                problems.add("after teardown: " + d + " still has PRI enabled");
            }
        }
    }
}
