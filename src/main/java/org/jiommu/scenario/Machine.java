package org.jiommu.scenario;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.jiommu.base.Errno;
import org.jiommu.base.IommuException;
import org.jiommu.base.Prot;
import org.jiommu.bus.Device;
import org.jiommu.bus.PlatformDevice;
import org.jiommu.bus.pci.Acs;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.bus.pci.Bdf;
import org.jiommu.bus.pci.PciBus;
import org.jiommu.bus.pci.PciTopology;
import org.jiommu.core.CoreConfig;
import org.jiommu.core.CoreSnapshot;
import org.jiommu.core.IommuCore;
import org.jiommu.core.IommuGroup;
import org.jiommu.core.Warning;
import org.jiommu.core.spi.DomainType;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.mm.MmStruct;
import org.jiommu.core.spi.ResvRegion;
import org.jiommu.core.spi.ResvType;
import org.jiommu.bus.dma.DmaEngine;
import org.jiommu.mem.FrameAllocator;
import org.jiommu.mem.PhysicalMemory;
import org.jiommu.platform.IommuUnits;
import org.jiommu.platform.Platform;
import org.jiommu.platform.UnitSpec;

/**
 * The running platform of one scenario: simulated memory and its page-table frame pool, the
 * IOMMU core, one driver instance per platform IOMMU, the PCI topology and the devices, all
 * built from the platform section the way a kernel boots (devices enumerated on their buses,
 * firmware naming each device's IOMMU, then each IOMMU registering and probing them), plus the
 * names the steps have bound.
 */
final class Machine {
    final PhysicalMemory memory;
    final FrameAllocator frames;
    final IommuCore core;
    /** The machine: memory, core and every kind's IOMMUs, built by their kind plug-ins. */
    final Platform platform;
    /** The address spaces mm_create made, by name. */
    private final Map<String, MmStruct> mms = new HashMap<>();
    private final Map<String, Device> devices = new LinkedHashMap<>();
    /** The driver bound to each device: "dma-api", "none" (a driver_managed_dma one), or absent. */
    private final Map<Device, String> drivers = new HashMap<>();
    /** Owner tokens: equal strings are one owner cookie (a kernel pointer compared by identity). */
    private final Map<String, Object> owners = new HashMap<>();
    private final Map<String, Value> bindings = new HashMap<>();
    private final Map<Object, String> domainNames = new IdentityHashMap<>();
    private final PlatformSpec spec;

    private Machine(PlatformSpec spec, List<DeviceSpec> hotplugged) {
        this.spec = spec;
        List<UnitSpec> units = new ArrayList<>();
        for (IommuSpec i : spec.iommus()) {
            Map<String, Object> options = new HashMap<>(i.options());
            // firmware puts PCI functions behind it (a mock picks pci_device_group then)
            options.put("pci-masters", java.util.stream.Stream.concat(spec.devices().stream(), hotplugged.stream())
                    .anyMatch(d -> i.name().equals(d.iommu()) && d.bus() == DeviceSpec.Bus.PCI));
            units.add(new UnitSpec(i.name(), i.unit().kind(), options));
        }
        // Each kind builds its units and driver on the platform; the frame baseline is taken
        // before any device exists (I10 is only checked where it means "no domain", see
        // CheckOps.violations).
        this.platform = Platform.build(spec.memory(), coreConfig(spec), units);
        this.memory = platform.memory();
        this.frames = platform.frames();
        this.core = platform.core();
    }

    /**
     * iommu.passthrough / iommu.strict are kernel-wide: the IOMMUs' common options
     * {@code default-domain} and {@code strict} become the command line (the validator makes
     * every IOMMU agree). The contract's defaults are a strict DMA domain.
     */
    private static CoreConfig coreConfig(PlatformSpec p) {
        String type = "dma";
        boolean strict = true;
        if (!p.iommus().isEmpty()) {
            type = p.iommus().get(0).word("default-domain", "dma");
            strict = p.iommus().get(0).bool("strict", true);
        }
        CoreConfig.Builder b = CoreConfig.builder();
        switch (type) {
            case "identity" -> b.passthrough(true);
            case "dma-fq" -> b.passthrough(false).strict(false);
            default -> b.passthrough(false).strict(strict);
        }
        return b.build();
    }

    /** Builds the platform: memory, drivers, devices on their buses, then each IOMMU registers and probes. */
    static Machine build(PlatformSpec platform) {
        return build(platform, List.of());
    }

    /**
     * @param hotplugged the devices device_add steps will add (they decide, with the boot
     *     devices, which bus each IOMMU serves)
     */
    static Machine build(PlatformSpec platform, List<DeviceSpec> hotplugged) {
        Machine m = new Machine(platform, hotplugged);
        for (DeviceSpec d : platform.devices()) {
            m.enumerate(d, false);
        }
        // boot: each kind registers its units (if it has not yet) and probes its devices
        m.platform.start();
        for (DeviceSpec d : platform.devices()) {
            if (d.driver().equals("dma-api")) {
                m.driverBind(m.device(d.name()), "dma-api");
            }
        }
        return m;
    }

    /**
     * Creates the device, places it in the PCI topology (its IOMMU kind's, or the platform's),
     * has firmware describe it (the IOMMU behind it, stream ids, reserved regions), and puts it on
     * its bus: at boot without probing ({@code hotplug} false), or hot-plugged ({@code device_add},
     * the IOMMU bus notifier probes it). The kind does the part that is its own.
     */
    Device enumerate(DeviceSpec d, boolean hotplug) {
        Device dev;
        IommuUnits units = platform.unitsNamed(d.iommu());
        if (d.bus() == DeviceSpec.Bus.PCI) {
            PciTopology topo = units != null && units.topology() != null ? units.topology() : platform.topology();
            PciBridgeSpec bridge = spec.bridges().get(d.name());
            PciDevice p;
            if (bridge != null) {
                p = placeBridge(topo, bridge);
            } else {
                // on the bus its bdf names: below a declared port or bridge, else a root bus
                p = new PciDevice(d.name(), d.bdf().segment(), d.bdf().bus(), d.bdf().devfn(),
                        d.caps().contains("ats"), d.pasidBits(), d.caps().contains("pri"),
                        d.caps().contains("untrusted"));
                topo.add(p, d.acs() ? Acs.ISOLATED : Acs.NONE);
            }
            if (d.aliasOf() != null) {
                topo.addDmaAlias(p, d.aliasOf());
            }
            dev = p;
        } else {
            dev = new PlatformDevice(d.name(), d.streamIds(), d.pasidBits());
        }
        devices.put(d.name(), dev);
        if (units == null) {
            if (hotplug) {
                core.deviceAdd(dev);
            } else {
                core.busAddDevice(dev);
            }
            return dev;
        }
        platform.describe(dev, d.iommu());
        List<ResvRegion> regions = new ArrayList<>();
        for (DeviceSpec.Reserved r : d.reserved()) {
            regions.add(region(r));
        }
        units.enumerate(new IommuUnits.Firmware(dev, d.iommu(), d.streamIds(), regions, d.contextSwitch(),
                d.dmaCanStall()), hotplug);
        return dev;
    }

    /**
     * A port or bridge of platform.pci, on its parent's bus (placed before it) or a root bus;
     * the reader has checked the placement in a topology of the same shape.
     */
    private static PciDevice placeBridge(PciTopology topo, PciBridgeSpec b) {
        Bdf a = b.bdf();
        PciBus on = topo.bus(a.segment(), a.bus());
        if (on == null) {
            on = topo.rootBus(a.segment(), a.bus());
        }
        b.place(on);
        return topo.byName(b.name());
    }

    private static ResvRegion region(DeviceSpec.Reserved r) {
        return switch (r.kind()) {
            case DIRECT -> new ResvRegion(r.base(), r.size(), Prot.RW, ResvType.DIRECT);
            case DIRECT_RELAXABLE -> new ResvRegion(r.base(), r.size(), Prot.RW, ResvType.DIRECT_RELAXABLE);
            case RESERVED -> new ResvRegion(r.base(), r.size(), 0, ResvType.RESERVED);
            case MSI -> new ResvRegion(r.base(), r.size(), Prot.WRITE | Prot.MMIO, ResvType.MSI);
        };
    }

    /** The IOMMU firmware names for the device, or null. */
    String iommuOf(Device dev) {
        return platform.iommuOf(dev);
    }

    /** The IOMMUs (of one kind) unit {@code iommu} belongs to. */
    IommuUnits units(String iommu) {
        IommuUnits u = platform.unitsNamed(iommu);
        if (u == null) {
            throw new StepError("no IOMMU '" + iommu + "' on the platform");
        }
        return u;
    }

    /** The IOMMUs the device is behind (hardware-side ops of its kind). */
    IommuUnits unitsOf(Device dev) {
        IommuUnits u = platform.unitsOf(dev);
        if (u == null) {
            throw new StepError(dev.name() + " is behind no IOMMU");
        }
        return u;
    }

    /**
     * mm_create: a process address space whose page table comes from the platform's frames, in
     * the CPU format of the platform's IOMMU kinds (arm64 when every unit says so, x86-64 otherwise).
     */
    void mmCreate(String name) {
        org.jiommu.mm.CpuFormat f = platform.units().isEmpty() ? org.jiommu.mm.CpuFormat.X86_64
                : platform.units().get(0).kind().cpuFormat();
        for (IommuUnits u : platform.units()) {
            if (u.kind().cpuFormat() != f) {
                f = org.jiommu.mm.CpuFormat.X86_64;
            }
        }
        mms.put(name, new MmStruct(name, frames, f, f.defaultLevels()));
    }

    MmStruct mm(String name) {
        MmStruct mm = mms.get(name);
        if (mm == null) {
            throw new StepError("no address space '" + name + "'");
        }
        return mm;
    }

    boolean hasMms() {
        return !mms.isEmpty();
    }

    /**
     * The device's DMA engine: its requests carry its requester ID or its first stream ID and
     * reach the hardware of its IOMMU; a device without an IOMMU reaches memory untranslated.
     */
    DmaEngine engine(Device dev) {
        return platform.engine(dev);
    }

    /** Every DMA engine made so far. */
    Map<Device, DmaEngine> engines() {
        return platform.engines();
    }

    /** The devices firmware puts behind this IOMMU, in platform order (removed ones included). */
    List<Device> devicesOn(String iommu) {
        return platform.devicesOn(iommu);
    }

    Device device(String name) {
        Device d = devices.get(name);
        if (d == null) {
            throw new StepError("no device '" + name + "' on the platform");
        }
        return d;
    }

    /**
     * The device's group, for ops that take {@code group}: the kernel caller holds one from
     * {@code iommu_group_get}; a device without a group has none to pass, -ENODEV.
     */
    IommuGroup group(String devName) {
        Device d = device(devName);
        IommuGroup g = core.groupGet(d);
        if (g == null) {
            throw new IommuException(Errno.ENODEV, devName + " has no IOMMU group (no IOMMU, or released)");
        }
        return g;
    }

    Object owner(String token) {
        return owners.computeIfAbsent(token, t -> new Object() {
            @Override
            public String toString() {
                return t;
            }
        });
    }

    /**
     * Binds a driver, as the driver core does: {@code dma_configure} calls
     * {@code iommu_device_use_default_domain} unless the driver manages DMA itself
     * ({@code driver_managed_dma}: vfio-pci, written {@code none} here). A bound device is -EBUSY
     * ({@code device_bind_driver} refuses a second driver).
     */
    void driverBind(Device dev, String driver) {
        if (drivers.containsKey(dev)) {
            throw new IommuException(Errno.EBUSY, dev + " already has a driver (" + drivers.get(dev) + ")");
        }
        if (driver.equals("dma-api")) {
            core.deviceUseDefaultDomain(dev);
        }
        drivers.put(dev, driver);
    }

    /** The driver bound to {@code dev}, or null. */
    String driverOf(Device dev) {
        return drivers.get(dev);
    }

    /** Unbinds ({@code dma_cleanup} un-uses the default domain); -ENODEV when nothing is bound (unbind_store). */
    void driverUnbind(Device dev) {
        String driver = drivers.get(dev);
        if (driver == null) {
            throw new IommuException(Errno.ENODEV, dev + " has no driver bound");
        }
        if (driver.equals("dma-api")) {
            core.deviceUnuseDefaultDomain(dev);
        }
        drivers.remove(dev);
    }

    /** device_del: the driver is released first (bus_remove_device), then the IOMMU notifier releases the device. */
    void deviceDel(Device dev) {
        if (drivers.containsKey(dev)) {
            driverUnbind(dev);
        }
        core.deviceDel(dev);
    }

    /**
     * How a result shows a domain: its bound name; else default / blocked / identity for the
     * core's and driver's own; else the core's name for it.
     */
    Value.Domain showDomain(IommuDomain d, IommuGroup g) {
        if (d == null) {
            return new Value.Domain(null, "none");
        }
        String bound = domainNames.get(d);
        if (bound != null) {
            return new Value.Domain(d, bound);
        }
        if (g != null && d == g.defaultDomain()) {
            return new Value.Domain(d, "default");
        }
        if (g != null && d == g.blockingDomain() || d.type() == DomainType.BLOCKED) {
            return new Value.Domain(d, "blocked");
        }
        if (d.type() == DomainType.IDENTITY) {
            return new Value.Domain(d, "identity");
        }
        return new Value.Domain(d, d.name());
    }

    /** One line saying what was built, for the run's header. */
    String summary() {
        StringBuilder sb = new StringBuilder("memory " + Numbers.formatSize(memory.size()));
        sb.append(String.format(" (page-table pool %s..%s)", Numbers.format(frames.poolBase()),
                Numbers.format(frames.poolBase() + frames.poolSize())));
        int n = spec.iommus().size();
        sb.append(", ").append(n).append(n == 1 ? " IOMMU" : " IOMMUs");
        if (n > 0) {
            sb.append(" (").append(String.join(", ", spec.iommus().stream()
                    .map(i -> i.name() + ": " + i.kind()).toList())).append(')');
        }
        sb.append(", ").append(devices.size()).append(devices.size() == 1 ? " device" : " devices");
        sb.append(", default domain ").append(core.defDomainType());
        return sb.toString();
    }

    /**
     * Translation-cache hits and lookups over every IOMMU unit and device ATC, as {hits, lookups};
     * {-1, -1} when there were no lookups.
     */
    long[] cacheStats() {
        long hits = 0;
        long lookups = 0;
        for (IommuUnits u : platform.units()) {
            long[] c = u.cacheStats();
            hits += c[0];
            lookups += c[1];
        }
        for (DmaEngine e : engines().values()) {
            DmaEngine.Stats st = e.stats();
            hits += st.atcHits();
            lookups += st.atcHits() + st.atcMisses();
        }
        return lookups == 0 ? new long[] {-1, -1} : new long[] {hits, lookups};
    }

    /** The core's state and every kind's driver state, for "a failed call changed nothing". */
    State snapshot() {
        CoreSnapshot cs = core.snapshot();
        List<Object> drivers = new ArrayList<>();
        for (IommuUnits u : platform.units()) {
            drivers.add(u.state(cs));
        }
        return new State(cs, platform.units(), drivers);
    }

    /** The whole model's state at one instant: the core's and, per kind, its driver's. */
    record State(CoreSnapshot core, List<IommuUnits> units, List<Object> drivers) {
        /**
         * Whether {@code after} is this state "with nothing changed", as SCENARIOS.md means it
         * for a failed or warning call. What the kernel itself keeps after such a call is allowed:
         * a group's blocking domain, allocated on the first claim attempt and kept until the
         * group empties even when the claim then fails (SEMANTICS 7.2 takeOwnership, 13 #58,
         * invariant 18), and an mm's global PASID, allocated by a bind that then failed and kept
         * until the mm goes ({@code iommu_sva_bind_device} never frees it: it belongs to the mm).
         */
        boolean unchangedBy(State after) {
            if (equals(after)) {
                return true;
            }
            after = withoutNewMmPasids(after);
            if (equals(after)) {
                return true;
            }
            Set<IommuDomain> created = java.util.Collections.newSetFromMap(new IdentityHashMap<>());
            List<CoreSnapshot.GroupState> groups = new ArrayList<>();
            for (CoreSnapshot.GroupState g : after.core.groups()) {
                CoreSnapshot.GroupState was = core.group(g.id());
                if (was != null && was.blockingDomain() == null && g.blockingDomain() != null) {
                    created.add(g.blockingDomain());
                    g = new CoreSnapshot.GroupState(g.id(), g.devices(), g.domain(), g.defaultDomain(), null,
                            g.resettingDomain(), g.owner(), g.ownerCnt(), g.pasids());
                }
                groups.add(g);
            }
            if (created.isEmpty()) {
                return false;
            }
            CoreSnapshot c = after.core;
            CoreSnapshot trimmed = new CoreSnapshot(c.defDomainType(), c.dmaStrict(), c.iommus(), groups, c.devices(),
                    c.domains().stream().filter(d -> !created.contains(d.domain())).toList(), c.globalPasids(),
                    c.mms(), c.svaDomains(), c.auxDomains(), c.iopf(), c.reservedPasidSlots());
            List<Object> drv = new ArrayList<>();
            for (int i = 0; i < after.drivers.size(); i++) {
                drv.add(after.units.get(i).stateWithout(after.drivers.get(i), created));
            }
            return equals(new State(trimmed, after.units, drv));
        }

        /** {@code after} without the mms that got their PASID since this state (and without those PASIDs). */
        private State withoutNewMmPasids(State after) {
            CoreSnapshot c = after.core;
            Map<MmStruct, CoreSnapshot.MmState> mms = new LinkedHashMap<>();
            Map<Integer, Integer> pasids = new LinkedHashMap<>(c.globalPasids());
            boolean trimmed = false;
            for (Map.Entry<MmStruct, CoreSnapshot.MmState> e : c.mms().entrySet()) {
                CoreSnapshot.MmState ms = e.getValue();
                if (!core.mms().containsKey(e.getKey()) && ms.svaDomains().isEmpty()
                        && !core.globalPasids().containsKey(ms.pasid())) {
                    pasids.remove(ms.pasid());
                    trimmed = true;
                } else {
                    mms.put(e.getKey(), ms);
                }
            }
            if (!trimmed) {
                return after;
            }
            CoreSnapshot t = new CoreSnapshot(c.defDomainType(), c.dmaStrict(), c.iommus(), c.groups(), c.devices(),
                    c.domains(), pasids, mms, c.svaDomains(), c.auxDomains(), c.iopf(), c.reservedPasidSlots());
            return new State(t, after.units, after.drivers);
        }
    }

    /** Remembers the name a domain was bound to, so results and the core's messages show it. */
    void nameDomain(Object domain, String name) {
        domainNames.put(domain, name);
        if (domain instanceof IommuDomain d && !d.isStatic()) {
            d.setName(name);
        }
    }

    Value binding(String name) {
        Value v = bindings.get(name);
        if (v == null) {
            throw new StepError("'" + name + "' is unbound: the step that binds it did not succeed");
        }
        return v;
    }

    void bind(String name, Value v) {
        bindings.put(name, v);
    }

    int warningCount() {
        return core.warningCount();
    }

    /**
     * Whether a WARN since {@code mark} is one after which the kernel goes on changing state (a
     * {@code nofail} path moving the other devices, a PASID erased although its removal failed).
     */
    boolean carriedOnSince(int mark) {
        List<Warning> all = core.warnings();
        for (int i = mark; i < all.size(); i++) {
            if (all.get(i).carriesOn()) {
                return true;
            }
        }
        return false;
    }

    List<String> warningsSince(int mark) {
        List<Warning> all = core.warnings();
        List<String> out = new ArrayList<>();
        for (int i = mark; i < all.size(); i++) {
            out.add(all.get(i).where() + ": " + all.get(i).message());
        }
        return out;
    }
}
