package org.jiommu.scenario;

import java.util.ArrayList;
import java.util.EnumSet;
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
import org.jiommu.bus.dma.DmaTranslator;
import org.jiommu.driver.mock.MockConfig;
import org.jiommu.driver.mock.MockHardware;
import org.jiommu.driver.mock.MockIommuDriver;
import org.jiommu.driver.mock.MockPageTableFactory;
import org.jiommu.driver.mock.MockSnapshot;
import org.jiommu.driver.vtd.VtdIommu;
import org.jiommu.hw.vtd.VtdConfig;
import org.jiommu.platform.VtdPlatform;
import org.jiommu.mem.FrameAllocator;
import org.jiommu.mem.PhysicalMemory;

/**
 * The running platform of one scenario: simulated memory and its page-table frame pool, the
 * IOMMU core, one driver instance per platform IOMMU, the PCI topology and the devices, all
 * built from the platform section the way a kernel boots (devices enumerated on their buses,
 * firmware naming each device's IOMMU, then each IOMMU registering and probing them), plus the
 * names the steps have bound.
 */
final class Machine {
    /** IOMMU kinds whose driver exists in the model (validation refuses the others). */
    static final Set<IommuSpec.Kind> SUPPORTED_KINDS = EnumSet.of(IommuSpec.Kind.MOCK, IommuSpec.Kind.VTD);

    final PhysicalMemory memory;
    final FrameAllocator frames;
    final IommuCore core;
    /** The PCI hierarchy of the devices behind mocks or no IOMMU (VT-d devices live in {@link #vtd}'s). */
    final PciTopology pci = new PciTopology();
    /** The VT-d machine when the platform has VT-d units (it owns memory, frames and the core then), else null. */
    final VtdPlatform vtd;
    private final Map<String, VtdIommu> vtdUnits = new LinkedHashMap<>();
    private final Map<String, MockIommuDriver> mocks = new LinkedHashMap<>();
    /** The address spaces mm_create made, by name. */
    private final Map<String, MmStruct> mms = new HashMap<>();
    /** The checker's view of the platform (mock drivers and the frame baseline), taken before probe. */
    private org.jiommu.check.Platform checkPlatform;
    private final Map<String, Device> devices = new LinkedHashMap<>();
    /** The driver bound to each device: "dma-api", "none" (a driver_managed_dma one), or absent. */
    private final Map<Device, String> drivers = new HashMap<>();
    /** Each device's DMA engine, made on its first DMA and kept (its ATC lives with it). */
    private final Map<Device, DmaEngine> engines = new HashMap<>();
    /** The IOMMU firmware names for each device. */
    private final Map<Device, String> deviceIommu = new HashMap<>();
    /** Owner tokens: equal strings are one owner cookie (a kernel pointer compared by identity). */
    private final Map<String, Object> owners = new HashMap<>();
    private final Map<String, Value> bindings = new HashMap<>();
    private final Map<Object, String> domainNames = new IdentityHashMap<>();
    private final PlatformSpec platform;
    private final List<DeviceSpec> hotplugged;

    private Machine(PlatformSpec platform, List<DeviceSpec> hotplugged) {
        this.platform = platform;
        this.hotplugged = List.copyOf(hotplugged);
        List<IommuSpec> vtdSpecs = platform.iommus().stream().filter(i -> i.kind() == IommuSpec.Kind.VTD).toList();
        if (vtdSpecs.isEmpty()) {
            this.vtd = null;
            this.memory = new PhysicalMemory(platform.memory());
            this.frames = new FrameAllocator(memory);
            this.core = new IommuCore(coreConfig(platform));
        } else {
            // The VT-d machine is the composition root: memory, frame allocator, core, driver and
            // units, each unit registered with the core. Mocks, if any, join the same core.
            VtdPlatform.Builder b = VtdPlatform.builder().memorySize(platform.memory()).coreConfig(coreConfig(platform));
            for (IommuSpec spec : vtdSpecs) {
                String name = spec.name();
                // Each unit's DRHD scope is the devices the file puts behind it.
                b.unit(vtdConfig(spec), dev -> name.equals(deviceIommu.get(dev)));
            }
            this.vtd = b.build();
            this.memory = vtd.memory();
            this.frames = vtd.frames();
            this.core = vtd.core();
            for (VtdIommu u : vtd.units()) {
                vtdUnits.put(u.name(), u);
            }
        }
    }

    /**
     * A VT-d unit from its options: {@code scalable} is ECAP.SMTS, {@code address-width} MGAW
     * (SAGAW every table width that fits), {@code pasid-bits} ECAP.PSS + 1, {@code ecap} the
     * extended capabilities that are on (all of them by default), {@code iotlb-entries} the
     * IOTLB's size.
     */
    static VtdConfig vtdConfig(IommuSpec spec) {
        VtdConfig.Builder b = VtdConfig.builder().name(spec.name())
                .scalableMode(spec.bool("scalable", true))
                .addressWidth((int) spec.number("address-width", 48))
                .pasidBits((int) spec.number("pasid-bits", 20))
                .iotlbEntries((int) spec.number("iotlb-entries", 1024));
        if (spec.options().containsKey("ecap")) {
            List<Object> on = spec.list("ecap", List.of());
            b.queuedInvalidation(on.contains("qi"))
                    .deviceTlb(on.contains("dt"))
                    .passThrough(on.contains("pt"))
                    .snoopControl(on.contains("sc"))
                    .nested(on.contains("nest"))
                    .firstLevel(on.contains("flts"))
                    .secondLevel(on.contains("slts"));
        }
        return b.build();
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
     *     devices, which bus each mock serves)
     */
    static Machine build(PlatformSpec platform, List<DeviceSpec> hotplugged) {
        Machine m = new Machine(platform, hotplugged);
        for (IommuSpec spec : platform.iommus()) {
            if (spec.kind() == IommuSpec.Kind.MOCK) {
                m.mocks.put(spec.name(), m.newMock(spec));
            }
        }
        // The checker's baseline: no domain exists yet (VT-d's root tables and queues are
        // already allocated; I10 is only checked on mock-only platforms, see checkInvariants).
        m.checkPlatform = new org.jiommu.check.Platform(m.core, m.frames,
                m.mocks.values().toArray(new MockIommuDriver[0]));
        for (DeviceSpec d : platform.devices()) {
            m.enumerate(d, false);
        }
        for (MockIommuDriver drv : m.mocks.values()) {
            m.core.iommuDeviceRegister(drv.iommu());
        }
        if (m.vtd != null) {
            // bus_iommu_probe for the VT-d units (registered when the VtdPlatform was built):
            // fwspec for every device of their PCI hierarchy, then one probe pass.
            m.vtd.boot();
        }
        for (DeviceSpec d : platform.devices()) {
            if (d.contextSwitch() && m.mocks.containsKey(d.iommu())) {
                // Firmware says the master can switch its own tables (the seed-002 GPU).
                m.mocks.get(d.iommu()).declareContextSwitchCapable(m.device(d.name()));
            }
        }
        for (DeviceSpec d : platform.devices()) {
            if (d.driver().equals("dma-api")) {
                m.driverBind(m.device(d.name()), "dma-api");
            }
        }
        return m;
    }

    private MockIommuDriver newMock(IommuSpec spec) {
        MockConfig.Builder b = MockConfig.builder(spec.name());
        long bits = spec.number("pasid-bits", 20);
        b.maxPasids(bits == 0 ? 0 : 1 << bits);
        b.staticBlocked(spec.bool("blocked-domain", true));
        b.staticIdentity(spec.bool("identity-domain", true));
        b.releaseDomain(switch (spec.word("release-domain", "blocked")) {
            case "identity" -> MockConfig.ReleaseDomain.IDENTITY;
            case "none" -> MockConfig.ReleaseDomain.NONE;
            default -> MockConfig.ReleaseDomain.BLOCKED;
        });
        long bitmap = 0;
        for (Object size : spec.list("page-sizes", List.of(0x1000L, 0x200000L, 0x40000000L))) {
            bitmap |= (Long) size;
        }
        b.pgsizeBitmap(bitmap);
        b.auxModel(switch (spec.word("aux-model", "pasid")) {
            case "context-switch" -> MockConfig.AuxModel.CONTEXT_SWITCH;
            case "none" -> MockConfig.AuxModel.NONE;
            default -> MockConfig.AuxModel.PASID;
        });
        b.svaSupport(spec.bool("sva", true));
        // The mock has one device_group: pci_device_group for PCI masters, generic_device_group
        // for platform ones; the validator keeps one mock to one bus.
        b.grouping(servesPci(spec.name()) ? MockConfig.Grouping.PCI : MockConfig.Grouping.GENERIC);
        // The four-argument driver programs its hardware stream table on every attach, so a
        // device's DMA is translated by what the driver wrote (MockHardware walks the tables).
        return new MockIommuDriver(b.build(), core.services(),
                MockPageTableFactory.armLpae(frames, core.services().warnings()), new MockHardware(memory));
    }

    private boolean servesPci(String iommu) {
        return java.util.stream.Stream.concat(platform.devices().stream(), hotplugged.stream())
                .anyMatch(d -> iommu.equals(d.iommu()) && d.bus() == DeviceSpec.Bus.PCI);
    }

    /**
     * Creates the device, places it in the PCI topology, has firmware describe it (fwspec and
     * reserved regions), and puts it on its bus: at boot without probing ({@code hotplug} false),
     * or hot-plugged ({@code device_add}, the IOMMU bus notifier probes it).
     */
    Device enumerate(DeviceSpec d, boolean hotplug) {
        Device dev;
        List<Integer> ids;
        VtdIommu unit = d.iommu() == null ? null : vtdUnits.get(d.iommu());
        if (d.bus() == DeviceSpec.Bus.PCI) {
            PciDevice p = new PciDevice(d.name(), d.bdf().segment(), d.bdf().bus(), d.bdf().devfn(),
                    d.caps().contains("ats"), d.pasidBits(), d.caps().contains("pri"), false);
            PciTopology topo = unit != null ? vtd.topology() : pci;
            topo.add(p, d.acs() ? Acs.ISOLATED : Acs.NONE);
            if (d.aliasOf() != null) {
                topo.addDmaAlias(p, d.aliasOf());
            }
            dev = p;
            if (unit != null) {
                return enumerateVtd(d, p, hotplug);
            }
            ids = d.streamIds().isEmpty() ? List.of(pci.dmaRequesterId(p)) : d.streamIds();
        } else {
            dev = new PlatformDevice(d.name(), d.streamIds(), d.pasidBits());
            ids = d.streamIds();
        }
        devices.put(d.name(), dev);
        if (d.iommu() != null) {
            deviceIommu.put(dev, d.iommu());
        }
        if (d.iommu() != null) {
            MockIommuDriver drv = mocks.get(d.iommu());
            List<ResvRegion> regions = new ArrayList<>();
            for (DeviceSpec.Reserved r : d.reserved()) {
                regions.add(region(r));
            }
            if (!regions.isEmpty()) {
                drv.setResvRegions(dev, regions);
            }
            core.fwspecInit(dev, drv.iommu(), ids);
        }
        if (hotplug) {
            core.deviceAdd(dev);
        } else {
            core.busAddDevice(dev);
        }
        return dev;
    }

    /**
     * A PCI function behind a VT-d unit: firmware's RMRRs for it (the only reserved regions a
     * DMAR table gives per device; the validator refuses other kinds), then at boot nothing more
     * (VtdPlatform.boot describes and probes every function of its hierarchy at once), or
     * hot-plugged through the VT-d platform (fwspec, device_add, probe).
     */
    private Device enumerateVtd(DeviceSpec d, PciDevice p, boolean hotplug) {
        devices.put(d.name(), p);
        deviceIommu.put(p, d.iommu());
        for (DeviceSpec.Reserved r : d.reserved()) {
            vtd.driver().addRmrr(p, r.base(), r.size(), r.kind() == DeviceSpec.Reserved.Kind.DIRECT_RELAXABLE);
        }
        if (hotplug) {
            vtd.hotplug(p);
        }
        return p;
    }

    private static ResvRegion region(DeviceSpec.Reserved r) {
        return switch (r.kind()) {
            case DIRECT -> new ResvRegion(r.base(), r.size(), Prot.RW, ResvType.DIRECT);
            case DIRECT_RELAXABLE -> new ResvRegion(r.base(), r.size(), Prot.RW, ResvType.DIRECT_RELAXABLE);
            case RESERVED -> new ResvRegion(r.base(), r.size(), 0, ResvType.RESERVED);
            case MSI -> new ResvRegion(r.base(), r.size(), Prot.WRITE | Prot.MMIO, ResvType.MSI);
        };
    }

    MockIommuDriver mock(String iommu) {
        MockIommuDriver d = mocks.get(iommu);
        if (d == null) {
            throw new StepError("no mock IOMMU '" + iommu + "' on the platform");
        }
        return d;
    }

    /** The VT-d unit of that name, or null. */
    VtdIommu vtdUnit(String iommu) {
        return vtdUnits.get(iommu);
    }

    /** Every VT-d unit by name. */
    Map<String, VtdIommu> vtdUnits() {
        return java.util.Collections.unmodifiableMap(vtdUnits);
    }

    /** The IOMMU firmware names for the device, or null. */
    String iommuOf(Device dev) {
        return deviceIommu.get(dev);
    }

    /** The mock driver behind the device (hardware-side ops that only the mock models). */
    MockIommuDriver mockOf(Device dev) {
        String iommu = deviceIommu.get(dev);
        MockIommuDriver d = iommu == null ? null : mocks.get(iommu);
        if (d == null) {
            throw new StepError(dev.name() + " is not behind a mock IOMMU");
        }
        return d;
    }

    /** mm_create: a process address space whose page table comes from the platform's frames. */
    void mmCreate(String name) {
        mms.put(name, new MmStruct(name, frames));
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

    org.jiommu.check.Platform checkPlatform() {
        return checkPlatform;
    }

    /**
     * The device's DMA engine: its requests carry its requester ID (the one the root complex
     * sees, {@code pci_for_each_dma_alias}'s last) or its first stream ID, and reach the
     * hardware of its IOMMU. A device without an IOMMU reaches memory untranslated.
     */
    synchronized DmaEngine engine(Device dev) {
        return engines.computeIfAbsent(dev, d -> {
            String iommu = deviceIommu.get(d);
            if (iommu != null && vtdUnits.containsKey(iommu)) {
                // The VT-d platform wires the engine to its unit and the ATC to device-TLB invalidations.
                return vtd.dma((PciDevice) d);
            }
            int sid = d instanceof PciDevice p ? pci.dmaRequesterId(p)
                    : ((PlatformDevice) d).streamIds().isEmpty() ? 0 : ((PlatformDevice) d).streamIds().get(0);
            DmaTranslator t = iommu != null ? mocks.get(iommu).hardware() : Machine::noIommu;
            return new DmaEngine(d, sid, t, memory);
        });
    }

    /** Without an IOMMU above it, a bus address is a physical address. */
    private static boolean noIommu(int sourceId, int pasid, long iova, boolean write, boolean translationRequest,
                                   org.jiommu.bus.dma.TranslationResult out) {
        out.clear();
        out.pa = iova;
        out.pageSize = 1L << 12;
        out.readable = true;
        out.writable = true;
        return true;
    }

    /** Every DMA engine made so far. */
    synchronized Map<Device, DmaEngine> engines() {
        return new LinkedHashMap<>(engines);
    }

    /** Every IOMMU driver by name. */
    Map<String, MockIommuDriver> mocks() {
        return java.util.Collections.unmodifiableMap(mocks);
    }

    /** The devices firmware puts behind this IOMMU, in platform order (removed ones included). */
    List<Device> devicesOn(String iommu) {
        return devices.values().stream().filter(d -> iommu.equals(deviceIommu.get(d))).toList();
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
        int n = platform.iommus().size();
        sb.append(", ").append(n).append(n == 1 ? " IOMMU" : " IOMMUs");
        if (n > 0) {
            sb.append(" (").append(String.join(", ", platform.iommus().stream()
                    .map(i -> i.name() + ": " + i.kind().word).toList())).append(')');
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
        // The mock hardware has no IOTLB (every request walks); VT-d units have their IOTLBs.
        long hits = 0;
        long lookups = 0;
        for (VtdIommu u : vtdUnits.values()) {
            org.jiommu.hw.HwStats st = u.unit().stats();
            hits += st.get("iotlb.hits");
            lookups += st.get("iotlb.hits") + st.get("iotlb.misses");
        }
        for (DmaEngine e : engines().values()) {
            DmaEngine.Stats st = e.stats();
            hits += st.atcHits();
            lookups += st.atcHits() + st.atcMisses();
        }
        return lookups == 0 ? new long[] {-1, -1} : new long[] {hits, lookups};
    }

    /** The core's state and every driver's, for "a failed call changed nothing". */
    State snapshot() {
        List<MockSnapshot> drivers = new ArrayList<>();
        for (MockIommuDriver d : mocks.values()) {
            drivers.add(d.snapshot());
        }
        CoreSnapshot cs = core.snapshot();
        return new State(cs, drivers, vtdState(cs));
    }

    /**
     * What the VT-d driver has programmed: per device its RID entry's domain and the PASID
     * entries at every PASID the core knows of (slots, global, mm PASIDs), per unit the domain
     * ids in use. The driver writes memory only through these, so equal states mean no entry
     * changed (VtdHardwareAgreement checks memory against the same records).
     */
    private List<Object> vtdState(CoreSnapshot cs) {
        if (vtd == null) {
            return List.of();
        }
        java.util.TreeSet<Integer> pasids = new java.util.TreeSet<>(cs.globalPasids().keySet());
        for (CoreSnapshot.GroupState g : cs.groups()) {
            pasids.addAll(g.pasids().keySet());
        }
        for (CoreSnapshot.MmState mm : cs.mms().values()) {
            pasids.add(mm.pasid());
        }
        pasids.remove(0);
        List<Object> out = new ArrayList<>();
        for (Device d : devices.values()) {
            if (!vtdUnits.containsKey(deviceIommu.get(d))) {
                continue;
            }
            Map<Integer, IommuDomain> entries = new java.util.TreeMap<>();
            for (int p : pasids) {
                IommuDomain dom = vtd.driver().programmedPasid(d, p);
                if (dom != null) {
                    entries.put(p, dom);
                }
            }
            out.add(List.of(d.name(), vtd.driver().probed(d), java.util.Optional.ofNullable(vtd.driver()
                    .programmedDomain(d)), entries));
        }
        for (VtdIommu u : vtdUnits.values()) {
            out.add(u.domainIdsInUse());
        }
        return out;
    }

    /** The whole model's state at one instant. */
    record State(CoreSnapshot core, List<MockSnapshot> drivers, List<Object> vtd) {
        /**
         * Whether {@code after} is this state "with nothing changed", as SCENARIOS.md means it
         * for a failed or warning call. One kernel exception is allowed: a group's blocking
         * domain is allocated on the first claim attempt and kept until the group empties, even
         * when the claim then fails (SEMANTICS 7.2 takeOwnership, 13 #58, invariant 18).
         */
        boolean unchangedBy(State after) {
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
            List<MockSnapshot> drv = new ArrayList<>();
            for (MockSnapshot s : after.drivers) {
                Map<IommuDomain, List<MockSnapshot.Leaf>> tables = new LinkedHashMap<>(s.tables());
                tables.keySet().removeIf(created::contains);
                drv.add(new MockSnapshot(s.probed(), s.programmed(), s.pasids(), s.iopfRefcount(),
                        s.liveDomains().stream().filter(d -> !created.contains(d)).toList(), tables));
            }
            return equals(new State(trimmed, drv, after.vtd));
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

    List<String> warningsSince(int mark) {
        List<Warning> all = core.warnings();
        List<String> out = new ArrayList<>();
        for (int i = mark; i < all.size(); i++) {
            out.add(all.get(i).where() + ": " + all.get(i).message());
        }
        return out;
    }
}
