package org.jiommu.platform;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.jiommu.bus.Device;
import org.jiommu.bus.PlatformDevice;
import org.jiommu.bus.dma.DmaEngine;
import org.jiommu.bus.dma.TranslationResult;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.bus.pci.PciTopology;
import org.jiommu.core.CoreConfig;
import org.jiommu.core.CoreSnapshot;
import org.jiommu.core.IommuCore;
import org.jiommu.core.spi.IommuDevice;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.mem.FrameAllocator;
import org.jiommu.mem.PhysicalMemory;

/**
 * The machine: simulated memory and its page-table frame allocator, the IOMMU core, and the
 * IOMMUs of every kind on it ({@link IommuUnits}, built by their {@link IommuKind} plug-ins),
 * with what firmware says of each device (which IOMMU it is behind) and each device's DMA
 * engine. The scenario runner, the checker, the stress run and the tests all build this one
 * class; none of them names a kind.
 *
 * <p>Kinds are built and started in registration order ({@link IommuKinds}).
 */
public final class Platform {
    private final PhysicalMemory memory;
    private final FrameAllocator frames;
    private final IommuCore core;
    /** The PCI hierarchy of devices whose kind keeps none of its own (and of devices behind no IOMMU). */
    private final PciTopology pci = new PciTopology();
    private final List<IommuUnits> units = new ArrayList<>();
    private final Map<String, IommuUnits> byName = new LinkedHashMap<>();
    /** The IOMMU firmware names for each device, in the order firmware described them. */
    private final Map<Device, String> firmware = Collections.synchronizedMap(new LinkedHashMap<>());
    /** Each device's DMA engine, made on its first DMA and kept (its ATC lives with it). Guarded by itself. */
    private final Map<Device, DmaEngine> engines = new HashMap<>();
    private volatile FrameAllocator.Stats baseline;

    /** A platform with {@code memorySize} bytes of memory and a core configured by {@code cfg}, no IOMMU yet. */
    public Platform(long memorySize, CoreConfig cfg) {
        this.memory = new PhysicalMemory(memorySize);
        this.frames = new FrameAllocator(memory);
        this.core = new IommuCore(cfg);
    }

    /** A platform around parts a test made itself. */
    public Platform(PhysicalMemory memory, FrameAllocator frames, IommuCore core) {
        this.memory = Objects.requireNonNull(memory);
        this.frames = frames;
        this.core = Objects.requireNonNull(core);
    }

    /**
     * A platform with the IOMMUs {@code specs} describe, each built by its registered kind (in
     * registration order), and the frame baseline taken.
     *
     * @throws IllegalArgumentException if a spec names a kind nobody registered
     */
    public static Platform build(long memorySize, CoreConfig cfg, List<UnitSpec> specs) {
        for (UnitSpec s : specs) {
            IommuKinds.require(s.kind());
        }
        Platform p = new Platform(memorySize, cfg);
        for (String kind : IommuKinds.names()) {
            List<UnitSpec> mine = specs.stream().filter(s -> s.kind().equals(kind)).toList();
            if (!mine.isEmpty()) {
                p.add(IommuKinds.require(kind), mine);
            }
        }
        p.takeBaseline();
        return p;
    }

    /** Builds {@code kind}'s IOMMUs from {@code specs} on this platform. */
    public IommuUnits add(IommuKind kind, List<UnitSpec> specs) {
        return adopt(kind.create(this, specs));
    }

    /** Adds IOMMUs built outside {@link #add} (a test's own driver). */
    public <T extends IommuUnits> T adopt(T u) {
        for (String n : u.names()) {
            if (byName.putIfAbsent(n, u) != null) {
                throw new IllegalArgumentException("two IOMMUs named " + n);
            }
        }
        units.add(u);
        return u;
    }

    /**
     * Takes the frame allocator's baseline (I10): no domain may exist yet, so it holds no
     * page-table page of a domain.
     */
    public void takeBaseline() {
        if (!core.liveDomains().isEmpty()) {
            throw new IllegalStateException("describe the platform before any domain exists; live: "
                    + core.liveDomains());
        }
        this.baseline = frames == null ? null : frames.stats();
    }

    /** Sets the baseline to statistics the kind took itself (after a probe/release cycle). */
    public void baseline(FrameAllocator.Stats stats) {
        this.baseline = stats;
    }

    public FrameAllocator.Stats baseline() {
        return baseline;
    }

    public PhysicalMemory memory() {
        return memory;
    }

    public FrameAllocator frames() {
        return frames;
    }

    public IommuCore core() {
        return core;
    }

    /** The platform's own PCI hierarchy. */
    public PciTopology topology() {
        return pci;
    }

    /**
     * What firmware does for a device behind an IOMMU of a stream-id kind (IORT / device tree:
     * {@code iommu_fwspec_init} and the id map): its fwspec names {@code streamIds}, or, where
     * firmware names none, a PCI function's requester id on the platform's topology; then the
     * device goes on its bus, hot-plugged ({@code device_add}, probed at once) or at boot (probed
     * when the IOMMU registers).
     */
    public void fwspecAndAdd(Device dev, IommuDevice iommu, List<Integer> streamIds, boolean hotplug) {
        List<Integer> ids = !streamIds.isEmpty() || !(dev instanceof PciDevice p) ? streamIds
                : List.of(topology().dmaRequesterId(p));
        core.fwspecInit(dev, iommu, ids);
        if (hotplug) {
            core.deviceAdd(dev);
        } else {
            core.busAddDevice(dev);
        }
    }

    /** Every kind's IOMMUs on the platform, in the order they were added. */
    public List<IommuUnits> units() {
        return Collections.unmodifiableList(units);
    }

    /** The IOMMUs a unit named {@code iommu} belongs to, or null. */
    public IommuUnits unitsNamed(String iommu) {
        return iommu == null ? null : byName.get(iommu);
    }

    /** The IOMMUs the device is behind, by what firmware said, or null. */
    public IommuUnits unitsOf(Device dev) {
        return unitsNamed(iommuOf(dev));
    }

    /** Firmware puts {@code dev} behind the IOMMU named {@code iommu}. */
    public void describe(Device dev, String iommu) {
        firmware.put(dev, iommu);
    }

    /** The IOMMU firmware names for the device, or null. */
    public String iommuOf(Device dev) {
        return firmware.get(dev);
    }

    /** The devices firmware put behind {@code iommu}, in the order it described them. */
    public List<Device> devicesOn(String iommu) {
        synchronized (firmware) {
            return firmware.entrySet().stream().filter(e -> iommu.equals(e.getValue())).map(Map.Entry::getKey)
                    .toList();
        }
    }

    /** The devices firmware put behind any unit of {@code u}, in the order it described them. */
    public List<Device> devicesOn(IommuUnits u) {
        synchronized (firmware) {
            return firmware.entrySet().stream().filter(e -> byName.get(e.getValue()) == u).map(Map.Entry::getKey)
                    .toList();
        }
    }

    /** Boot: every kind probes its boot devices, in registration order. */
    public void start() {
        for (IommuUnits u : units) {
            u.start();
        }
    }

    /**
     * The device's DMA engine: its requests carry its requester ID (the one the root complex
     * sees, {@code pci_for_each_dma_alias}'s last) or its first stream ID and reach the hardware
     * of its IOMMU (the kind wires it); a device behind no IOMMU reaches memory untranslated.
     */
    public DmaEngine engine(Device dev) {
        synchronized (engines) {
            DmaEngine e = engines.get(dev);
            if (e == null) {
                IommuUnits u = unitsOf(dev);
                e = u != null ? u.engine(dev) : new DmaEngine(dev, sourceId(dev), Platform::noIommu, memory);
                engines.put(dev, e);
            }
            return e;
        }
    }

    /** Every DMA engine made so far. */
    public Map<Device, DmaEngine> engines() {
        synchronized (engines) {
            return new LinkedHashMap<>(engines);
        }
    }

    /** The id a device's requests carry on the platform's own hierarchy: requester id, else first stream id. */
    public int sourceId(Device d) {
        if (d instanceof PciDevice p) {
            return pci.dmaRequesterId(p);
        }
        List<Integer> sids = ((PlatformDevice) d).streamIds();
        return sids.isEmpty() ? 0 : sids.get(0);
    }

    /** Without an IOMMU above it, a bus address is a physical address. */
    private static boolean noIommu(int sourceId, int pasid, long iova, boolean write, boolean translationRequest,
                                   TranslationResult out) {
        out.clear();
        out.pa = iova;
        out.pageSize = 1L << 12;
        out.readable = true;
        out.writable = true;
        return true;
    }

    /** What the hardware holds for every device, each from the view of the kind it is behind. */
    public HardwareView view(CoreSnapshot s) {
        List<HardwareView> views = new ArrayList<>();
        for (IommuUnits u : units) {
            views.add(u.view(s));
        }
        return views.size() == 1 ? views.get(0) : new Composite(views);
    }

    /** Whether the frame baseline means "no domain" on every kind (I10 after each call). */
    public boolean exactFrames() {
        return units.stream().allMatch(IommuUnits::exactFrames);
    }

    /** Whether some kind decodes its entries from memory (I7 can run). */
    public boolean hasAgreement() {
        return units.stream().anyMatch(u -> u.entries() != null);
    }

    /** Invariant I7 over every kind ({@link HardwareAgreement}). */
    public List<String> agreement() {
        return HardwareAgreement.check(this);
    }

    /** The views of several kinds: each device is answered by the view that knows it. */
    private record Composite(List<HardwareView> views) implements HardwareView {
        private HardwareView of(Device dev) {
            for (HardwareView v : views) {
                if (v.knows(dev)) {
                    return v;
                }
            }
            return HardwareView.NONE;
        }

        @Override
        public boolean knows(Device dev) {
            return of(dev) != HardwareView.NONE;
        }

        @Override
        public IommuDomain rid(Device dev) {
            return of(dev).rid(dev);
        }

        @Override
        public Map<Integer, IommuDomain> pasids(Device dev) {
            return of(dev).pasids(dev);
        }

        @Override
        public Boolean driverHolds(Device dev) {
            return of(dev).driverHolds(dev);
        }

        @Override
        public int liveDriverDomains() {
            int n = 0;
            for (HardwareView v : views) {
                int k = v.liveDriverDomains();
                if (k < 0) {
                    return -1;
                }
                n += k;
            }
            return n;
        }
    }
}
