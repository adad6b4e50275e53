package org.jiommu.driver.mock;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.jiommu.base.Errno;
import org.jiommu.base.IommuException;
import org.jiommu.bus.Device;
import org.jiommu.bus.PlatformDevice;
import org.jiommu.bus.dma.Atc;
import org.jiommu.bus.pci.DmaAlias;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.core.spi.AllocFlags;
import org.jiommu.core.spi.AuxOps;
import org.jiommu.core.spi.DevFeature;
import org.jiommu.core.spi.DomainAttr;
import org.jiommu.core.spi.CoreServices;
import org.jiommu.core.spi.DevIommuView;
import org.jiommu.core.spi.DomainOps;
import org.jiommu.core.spi.DomainType;
import org.jiommu.core.spi.Geometry;
import org.jiommu.core.spi.GroupRef;
import org.jiommu.core.spi.IommuDevice;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.core.spi.IommuOps;
import org.jiommu.core.spi.IopfFault;
import org.jiommu.core.spi.IopfQueueRef;
import org.jiommu.mm.MmStruct;
import org.jiommu.core.spi.PageResponse;
import org.jiommu.core.spi.ResvRegion;
import org.jiommu.driver.common.DriverFaults;
import org.jiommu.pgtable.IoPageTable;
import org.jiommu.pgtable.IotlbGather;
import org.jiommu.pgtable.Mapped;

/**
 * A mock IOMMU driver in the manner of the kernel's iommufd selftest driver: it implements the
 * whole driver SPI with configurable behaviour (SEMANTICS.md 12), keeps its "hardware" state (what
 * each device's RID and PASID entries point at) and paging domains over a real page-table format,
 * records every call the core makes ({@link #events()}), and injects faults: the Nth allocation
 * (through the core's fail_nth), attach failures per (domain, device), map failure after N bytes,
 * iotlb_sync_map failure, set_dev_pasid failure, probe and device_group failures.
 *
 * <p>Thread-safe: driver state is guarded by this object's monitor (a driver-internal lock: the
 * core may hold a group mutex when calling in, never the reverse). Page-table map/unmap run
 * without it (the table handles disjoint concurrent ranges).
 */
public final class MockIommuDriver {
    private final MockConfig config;
    private final CoreServices core;
    private final MockPageTableFactory tables;
    private final IommuOps ops;
    private final IommuDevice iommu;
    /** The "hardware" the driver programs; null for a driver model without one. */
    private final MockHardware hardware;

    private final IommuDomain identityDomain;
    private final IommuDomain blockedDomain;
    private final IommuDomain releaseDomain;
    private final IommuDomain legacyDefaultDomain;
    private final DomainOps pagingOps;
    private final DomainOps identityAllocOps;
    private final DomainOps svaOps;

    // ---- state, guarded by this ----
    private final List<MockEvent> events = new ArrayList<>();
    private long eventSeq;
    private final Set<Device> probed = new LinkedHashSet<>();
    private final Map<Device, IommuDomain> programmed = new LinkedHashMap<>();
    private final Map<Device, TreeMap<Integer, IommuDomain>> pasids = new LinkedHashMap<>();
    private final Map<Device, Integer> iopfRefcount = new LinkedHashMap<>();
    private final Set<IommuDomain> live = new LinkedHashSet<>();
    /** Source IDs (stream / requester IDs) of each probed device, learnt at probe. */
    private final Map<Device, List<Integer>> sids = new HashMap<>();

    // ---- knobs, guarded by this ----
    private final Map<Device, DomainType> defDomainType = new HashMap<>();
    private final Set<Device> attachDeferred = new LinkedHashSet<>();
    private final Map<Device, List<ResvRegion>> resvRegions = new HashMap<>();
    private final Map<Device, Device> groupWith = new HashMap<>();
    private final Map<Device, Errno> failProbe = new HashMap<>();
    private final Set<Device> nullGroup = new LinkedHashSet<>();
    /** (domain or null = any, device or null = any) → errno. */
    private final List<Object[]> failAttach = new ArrayList<>();
    private final List<Object[]> failSetDevPasid = new ArrayList<>();
    private long mapBudget = -1;
    private Errno failSyncMap;
    private Lookup lookupInAttach = Lookup.NONE;
    /** Bugs planted on purpose (S19's IOPF leak), shared with the other drivers (driver.common). */
    private final DriverFaults faults = new DriverFaults();
    /** Devices this driver put on its IOPF queue. Guarded by this. */
    private final Set<Device> iopfEnabled = new LinkedHashSet<>();
    /** Page responses sent, oldest first. Guarded by this. */
    private final List<PageResponse> responses = new ArrayList<>();
    /** Guarded by this. */
    private IopfQueueRef iopfQueue;
    /** Per device, the features enabled through {@code dev_enable_feat}. */
    private final Map<Device, EnumSet<DevFeature>> featuresEnabled = new HashMap<>();
    /** Per device, what {@code dev_has_feat} answers instead of the hardware's default. */
    private final Map<Device, EnumMap<DevFeature, Boolean>> featureSupport = new HashMap<>();
    /** Masters declared able to switch their own page tables (the SMMUv2 GPU case, S02). */
    private final Set<Device> contextSwitchCapable = new LinkedHashSet<>();
    /** Table-only aux domains (AuxModel.CONTEXT_SWITCH) and the devices they are aux-attached to. */
    private final Map<IommuDomain, Set<Device>> auxTables = new LinkedHashMap<>();
    /** Devices whose PASID {@link #TEST_PASID_RESERVED} fails its next non-blocked set_dev_pasid. */
    private final Set<Device> pasidReservedArmed = new LinkedHashSet<>();

    /** {@code IOMMU_TEST_PASID_RESERVED}: the PASID whose replace fails once (see {@link MockConfig.Builder#pasidReservedFault}). */
    public static final int TEST_PASID_RESERVED = 1024;

    /** What attach_dev asks the core for the current domain, to show S20's rule. */
    public enum Lookup {
        /** Nothing: the driver uses {@code old} (the rule). */
        NONE,
        /** {@code iommu_get_domain_for_dev} inside the callback: the core reports it. */
        GET_DOMAIN_FOR_DEV,
        /** {@code iommu_driver_get_domain_for_dev}: allowed inside callbacks (Δ7.0). */
        DRIVER_GET_DOMAIN_FOR_DEV
    }

    /**
     * @param config build-time knobs
     * @param core the core's exported helpers
     * @param tables where paging domains get their page table
     */
    public MockIommuDriver(MockConfig config, CoreServices core, MockPageTableFactory tables) {
        this(config, core, tables, null);
    }

    /**
     * @param hardware the stream table and walker the driver programs on every attach, so DMA
     *     through {@link #hardware()} is translated by what the driver wrote; null for none
     */
    public MockIommuDriver(MockConfig config, CoreServices core, MockPageTableFactory tables, MockHardware hardware) {
        this.hardware = hardware;
        this.config = config;
        this.core = core;
        this.tables = tables;
        String n = config.name();

        DomainOps.Builder blockedOps = DomainOps.builder().attachDev(this::attachDev);
        if (config.blockedSetDevPasid()) {
            blockedOps.setDevPasid(this::setDevPasid);
        }
        this.blockedDomain = config.staticBlocked()
                ? IommuDomain.staticDomain(n + ".blocked", DomainType.BLOCKED, blockedOps.build()) : null;
        this.identityDomain = config.staticIdentity() ? IommuDomain.staticDomain(n + ".identity", DomainType.IDENTITY,
                DomainOps.builder().attachDev(this::attachDev).setDevPasid(this::setDevPasid).build()) : null;
        switch (config.releaseDomain()) {
            case BLOCKED: releaseDomain = blockedDomain; break;
            case IDENTITY: releaseDomain = identityDomain; break;
            case SEPARATE:
                releaseDomain = IommuDomain.staticDomain(n + ".release", DomainType.BLOCKED,
                        DomainOps.builder().attachDev(this::attachDev).build());
                break;
            default: releaseDomain = null;
        }
        this.legacyDefaultDomain = config.legacyDefaultDomain() == null ? null
                : IommuDomain.staticDomain(n + ".default", config.legacyDefaultDomain(),
                        DomainOps.builder().attachDev(this::attachDev).build());

        DomainOps.Builder po = DomainOps.builder()
                .attachDev(this::attachDev)
                .setDevPasid(this::setDevPasid)
                .mapPages(this::mapPages)
                .unmapPages(this::unmapPages)
                .iotlbSync(this::iotlbSync)
                .flushIotlbAll(this::flushIotlbAll)
                .iovaToPhys(this::iovaToPhys)
                .free(this::free);
        if (config.syncMapOp()) {
            po.iotlbSyncMap(this::iotlbSyncMap);
        }
        this.pagingOps = po.build();
        this.identityAllocOps = DomainOps.builder().attachDev(this::attachDev).setDevPasid(this::setDevPasid)
                .free(this::free).build();
        // an SVA domain only goes on PASIDs and has no table of its own to map into
        this.svaOps = DomainOps.builder().setDevPasid(this::setDevPasid).free(this::free).build();

        IommuOps.Builder b = IommuOps.builder("mock-" + n)
                .probeDevice(this::probeDevice)
                .releaseDevice(this::releaseDevice)
                .deviceGroup(this::deviceGroup)
                .getResvRegions(this::getResvRegions)
                .isAttachDeferred(this::isAttachDeferred)
                .defDomainType(this::defDomainTypeOp)
                .identityDomain(identityDomain)
                .blockedDomain(blockedDomain)
                .releaseDomain(releaseDomain)
                .defaultDomain(legacyDefaultDomain);
        switch (config.allocOps()) {
            case BOTH:
                b.domainAllocPaging(this::domainAllocPaging).domainAllocPagingFlags(this::domainAllocPagingFlags);
                break;
            case PAGING_ONLY:
                b.domainAllocPaging(this::domainAllocPaging);
                break;
            case FLAGS_ONLY:
                b.domainAllocPagingFlags(this::domainAllocPagingFlags);
                break;
            default:
                break;
        }
        if (config.identityAllocOp()) {
            b.domainAllocIdentity(this::domainAllocIdentity);
        }
        if (config.svaSupport()) {
            b.domainAllocSva(this::domainAllocSva);
        }
        if (config.pageResponseOp()) {
            b.pageResponse(this::pageResponse);
        }
        b.devHasFeat(this::devHasFeat).devFeatEnabled(this::devFeatEnabled)
                .devEnableFeat(this::devEnableFeat).devDisableFeat(this::devDisableFeat)
                .domainGetAttr(this::domainGetAttr);
        switch (config.auxModel()) {
            case PASID:
                b.auxOps(new AuxOps(config.auxRefusal(), true, null, null));
                break;
            case CONTEXT_SWITCH:
                b.auxOps(new AuxOps(config.auxRefusal(), false, this::auxAttach, this::auxDetach));
                break;
            default:
                break;
        }
        this.ops = b.build();
        this.iommu = new IommuDevice(n, ops, config.maxPasids());
    }

    public MockConfig config() {
        return config;
    }

    /** The hardware instance to register with the core and name in devices' fwspecs. */
    public IommuDevice iommu() {
        return iommu;
    }

    public IommuOps ops() {
        return ops;
    }

    /** The hardware DMA goes through ({@link org.jiommu.bus.dma.DmaTranslator}), or null. */
    public MockHardware hardware() {
        return hardware;
    }

    /** The source IDs the driver programs for a probed device (empty if not probed). */
    public synchronized List<Integer> sourceIds(Device dev) {
        return sids.getOrDefault(dev, List.of());
    }

    /** {@code ops.identity_domain}, or null. */
    public IommuDomain identityDomain() {
        return identityDomain;
    }

    /** {@code ops.blocked_domain}, or null. */
    public IommuDomain blockedDomain() {
        return blockedDomain;
    }

    /** {@code ops.release_domain}, or null. */
    public IommuDomain releaseDomain() {
        return releaseDomain;
    }

    /** The legacy {@code ops.default_domain}, or null. */
    public IommuDomain legacyDefaultDomain() {
        return legacyDefaultDomain;
    }

    // ------------------------------------------------------------------------------------------
    // Knobs
    // ------------------------------------------------------------------------------------------

    /** {@code def_domain_type(dev)}: IDENTITY, DMA, or null for no preference. */
    public synchronized void setDefDomainType(Device dev, DomainType type) {
        if (type == null) {
            defDomainType.remove(dev);
        } else {
            defDomainType.put(dev, type);
        }
    }

    /** {@code is_attach_deferred(dev)}. */
    public synchronized void setAttachDeferred(Device dev, boolean deferred) {
        if (deferred) {
            attachDeferred.add(dev);
        } else {
            attachDeferred.remove(dev);
        }
    }

    /** {@code get_resv_regions(dev)}: what firmware reports for the device. */
    public synchronized void setResvRegions(Device dev, List<ResvRegion> regions) {
        resvRegions.put(dev, List.copyOf(regions));
    }

    /** {@code device_group(dev)} returns the group of {@code peer} if it has one (like fsl_mc's container). */
    public synchronized void groupWith(Device dev, Device peer) {
        groupWith.put(dev, peer);
    }

    /** {@code probe_device(dev)} fails with {@code errno}; null clears. */
    public synchronized void failProbe(Device dev, Errno errno) {
        if (errno == null) {
            failProbe.remove(dev);
        } else {
            failProbe.put(dev, errno);
        }
    }

    /** {@code device_group(dev)} returns NULL (a driver bug the core WARNs about). */
    public synchronized void deviceGroupReturnsNull(Device dev, boolean v) {
        if (v) {
            nullGroup.add(dev);
        } else {
            nullGroup.remove(dev);
        }
    }

    /**
     * {@code attach_dev} fails with {@code errno} for this (domain, device) until cleared; null
     * matches any domain / any device. The failing call leaves the device as it was.
     */
    public synchronized void failAttach(IommuDomain domain, Device dev, Errno errno) {
        failAttach.add(new Object[] {domain, dev, errno});
    }

    /** {@code set_dev_pasid} fails with {@code errno} for this (domain, device, pasid); nulls / -1 match any. */
    public synchronized void failSetDevPasid(IommuDomain domain, Device dev, int pasid, Errno errno) {
        failSetDevPasid.add(new Object[] {domain, dev, pasid, errno});
    }

    /**
     * What {@code dev_has_feat(dev, feature)} answers, overriding the hardware default (S02); null
     * restores the default.
     */
    public synchronized void setFeatureSupport(Device dev, DevFeature feature, Boolean supported) {
        if (supported == null) {
            EnumMap<DevFeature, Boolean> m = featureSupport.get(dev);
            if (m != null) {
                m.remove(feature);
            }
        } else {
            featureSupport.computeIfAbsent(dev, k -> new EnumMap<>(DevFeature.class)).put(feature, supported);
        }
    }

    /** Firmware declares the master able to switch its own page tables (the SMMUv2 GPU, S02). */
    public synchronized void declareContextSwitchCapable(Device dev) {
        contextSwitchCapable.add(dev);
    }

    /**
     * The master itself writes a page-table base into its context bank's TTBR0 (S10's
     * {@code gpu_switch_ttbr0}): from then on its DMA without PASID walks that table. The IOMMU
     * driver is not involved; the table is found by its base to learn its input size and granule.
     */
    public synchronized void gpuSwitchTtbr0(Device dev, long ttbr0) {
        if (hardware == null) {
            throw new IllegalStateException("mock " + config.name() + " has no hardware");
        }
        IoPageTable table = tableAt(ttbr0);
        MockHardware.Entry e = table == null
                ? new MockHardware.Entry(MockHardware.Entry.Kind.TRANSLATE, ttbr0, config.ias(), 12)
                : new MockHardware.Entry(MockHardware.Entry.Kind.TRANSLATE, ttbr0, table.ias(),
                        Long.numberOfTrailingZeros(table.pgsizeBitmap()));
        for (int sid : sids.getOrDefault(dev, List.of())) {
            hardware.writeStream(sid, e);
        }
        record("gpu_switch_ttbr0", null, dev, null, String.format("gpu_switch_ttbr0(%s, %#x)", dev, ttbr0), 0);
    }

    /**
     * S11: the master also loads TTBR1 ({@code ttbr1}, 0 to stop using it): IOVAs with bit
     * {@code splitBit} set are translated by that table, the others by TTBR0.
     */
    public synchronized void gpuSwitchTtbr1(Device dev, long ttbr1, int splitBit) {
        if (hardware == null) {
            throw new IllegalStateException("mock " + config.name() + " has no hardware");
        }
        if (splitBit < 12 || splitBit > 63) {
            throw new IllegalArgumentException("split bit " + splitBit + " outside 12..63");
        }
        MockHardware.Split split = null;
        if (ttbr1 != 0) {
            IoPageTable table = tableAt(ttbr1);
            int ias = table == null ? Math.min(config.ias(), splitBit) : table.ias();
            int granule = table == null ? 12 : Long.numberOfTrailingZeros(table.pgsizeBitmap());
            split = new MockHardware.Split(new MockHardware.Entry(MockHardware.Entry.Kind.TRANSLATE, ttbr1, ias,
                    granule), splitBit);
        }
        for (int sid : sids.getOrDefault(dev, List.of())) {
            hardware.writeSplit(sid, split);
        }
        record("gpu_switch_ttbr1", null, dev, null, String.format("gpu_switch_ttbr1(%s, %#x, bit %d)", dev, ttbr1,
                splitBit), 0);
    }

    /** The live paging domain's table whose base is {@code base}, or null. Holds this. */
    private IoPageTable tableAt(long base) {
        for (IommuDomain d : live) {
            if (d instanceof MockDomain && ((MockDomain) d).pgtable != null && ((MockDomain) d).pgtable.root() == base) {
                return ((MockDomain) d).pgtable;
            }
        }
        return null;
    }

    /** Drops every failAttach / failSetDevPasid / map / sync injection. */
    public synchronized void clearFaults() {
        failAttach.clear();
        failSetDevPasid.clear();
        mapBudget = -1;
        failSyncMap = null;
    }

    /** From now on {@code map_pages} maps at most {@code bytes} in total, then fails -ENOMEM; -1 = off. */
    public synchronized void failMapAfter(long bytes) {
        this.mapBudget = bytes;
    }

    /** {@code iotlb_sync_map} fails with {@code errno}; null clears. */
    public synchronized void failSyncMap(Errno errno) {
        this.failSyncMap = errno;
    }

    /** What attach_dev looks up in the core (S20 demonstration); {@link Lookup#NONE} by default. */
    public synchronized void lookupInAttach(Lookup l) {
        this.lookupInAttach = l;
    }

    /** A driver bug for S19: detaching an IOPF-capable domain forgets to drop the IOPF reference. */
    public synchronized void leakIopfRefcount(boolean v) {
        faults.leakIopfRefcount(v);
    }

    /** The bugs planted in this driver ({@link #leakIopfRefcount} is one of them). */
    public DriverFaults faults() {
        return faults;
    }

    // ------------------------------------------------------------------------------------------
    // Observation
    // ------------------------------------------------------------------------------------------

    /** Every call the core made, oldest first. */
    public synchronized List<MockEvent> events() {
        return List.copyOf(events);
    }

    /** The canonical text of the events with these op names (all if none given), oldest first. */
    public synchronized List<String> calls(String... opNames) {
        List<String> want = Arrays.asList(opNames);
        List<String> out = new ArrayList<>();
        for (MockEvent e : events) {
            if (want.isEmpty() || want.contains(e.op())) {
                out.add(e.text());
            }
        }
        return out;
    }

    public synchronized void clearEvents() {
        events.clear();
    }

    /** What the device's RID entry points at now (null: never programmed). */
    public synchronized IommuDomain programmed(Device dev) {
        return programmed.get(dev);
    }

    /** What the device's PASID entry points at, or null. */
    public synchronized IommuDomain programmedPasid(Device dev, int pasid) {
        TreeMap<Integer, IommuDomain> m = pasids.get(dev);
        return m == null ? null : m.get(pasid);
    }

    /** Page responses the core sent through this driver, oldest first. */
    public synchronized List<PageResponse> pageResponses() {
        return List.copyOf(responses);
    }

    /** Whether the driver has the device on its IOPF queue (PRI/stall enabled). */
    public synchronized boolean iopfEnabled(Device dev) {
        return iopfEnabled.contains(dev);
    }

    /** The driver's IOPF queue, or null before the first IOPF-capable attach. */
    public synchronized IopfQueueRef iopfQueueRef() {
        return iopfQueue;
    }

    public synchronized int iopfRefcount(Device dev) {
        return iopfRefcount.getOrDefault(dev, 0);
    }

    /** Domains allocated and not freed. */
    public synchronized List<IommuDomain> liveDomains() {
        return List.copyOf(live);
    }

    public synchronized MockSnapshot snapshot() {
        Map<Device, Map<Integer, IommuDomain>> p = new LinkedHashMap<>();
        pasids.forEach((d, m) -> {
            if (!m.isEmpty()) {
                p.put(d, Map.copyOf(m));
            }
        });
        Map<IommuDomain, List<MockSnapshot.Leaf>> t = new LinkedHashMap<>();
        for (IommuDomain d : live) {
            if (d instanceof MockDomain && ((MockDomain) d).pgtable != null) {
                List<MockSnapshot.Leaf> leaves = new ArrayList<>();
                ((MockDomain) d).pgtable.walk((level, iova, size, pte, leaf) -> {
                    if (leaf) {
                        leaves.add(new MockSnapshot.Leaf(iova, size, pte));
                    }
                });
                t.put(d, List.copyOf(leaves));
            }
        }
        Map<Device, Integer> refs = new LinkedHashMap<>();
        iopfRefcount.forEach((d, n) -> {
            if (n != 0) {
                refs.put(d, n);
            }
        });
        // A RID entry parked on a static BLOCKED domain is the hardware's reset state (abort), the
        // same as an entry never written: left out so "changed nothing" compares hardware states.
        Map<Device, IommuDomain> rid = new LinkedHashMap<>();
        programmed.forEach((dev, d) -> {
            if (!(d.isStatic() && d.type() == DomainType.BLOCKED)) {
                rid.put(dev, d);
            }
        });
        return new MockSnapshot(List.copyOf(probed), rid, p, refs, List.copyOf(live), t);
    }

    private synchronized MockEvent record(String op, IommuDomain domain, Device dev, IommuDomain old, String text,
                                          long ret) {
        MockEvent e = new MockEvent(++eventSeq, op, domain, dev, old, text, ret);
        events.add(e);
        return e;
    }

    private static String ret(int r) {
        return r == 0 ? "0" : Errno.describe(r);
    }

    // ------------------------------------------------------------------------------------------
    // iommu_ops
    // ------------------------------------------------------------------------------------------

    private IommuDevice probeDevice(Device dev) {
        Errno e;
        synchronized (this) {
            e = failProbe.get(dev);
            if (e == null) {
                if (core.shouldFailAlloc("mock probe_device " + dev)) {
                    e = Errno.ENOMEM;
                }
            }
            if (e == null) {
                probed.add(dev);
                sids.put(dev, sourceIdsOf(dev));
            }
        }
        record("probe_device", null, dev, null, "probe_device(" + dev + ") = " + (e == null ? "0" : e.neg()),
                e == null ? 0 : e.neg());
        if (e != null) {
            throw new IommuException(e, "mock " + config.name() + ": probe_device(" + dev + ") failed");
        }
        return iommu;
    }

    /**
     * The IDs the device's DMA carries: its fwspec IDs if firmware gave any; else a PCI function's
     * requester ID and every DMA alias ({@code pci_for_each_dma_alias}); else a platform device's
     * stream IDs.
     */
    private List<Integer> sourceIdsOf(Device dev) {
        DevIommuView di = core.devIommu(dev);
        if (di != null && !di.fwspecIds().isEmpty()) {
            return List.copyOf(di.fwspecIds());
        }
        if (dev instanceof PciDevice) {
            PciDevice p = (PciDevice) dev;
            if (p.topology() == null) {
                return List.of(p.requesterId());
            }
            List<Integer> out = new ArrayList<>();
            for (DmaAlias a : p.topology().dmaAliases(p)) {
                if (!out.contains(a.requesterId())) {
                    out.add(a.requesterId());
                }
            }
            return List.copyOf(out);
        }
        if (dev instanceof PlatformDevice) {
            return ((PlatformDevice) dev).streamIds();
        }
        return List.of();
    }

    /** What the hardware entry for a device on {@code d} says. */
    private static MockHardware.Entry entryFor(IommuDomain d) {
        if (d == null || d.type() == DomainType.BLOCKED) {
            return MockHardware.Entry.ABORT;
        }
        if (d instanceof MockDomain && ((MockDomain) d).mm != null) {
            MmStruct mm = ((MockDomain) d).mm;
            return new MockHardware.Entry(MockHardware.Entry.Kind.TRANSLATE, mm.pgd().root(), 48, 12,
                    MockHardware.Entry.TableFormat.X86_FIRST_LEVEL);
        }
        if (d instanceof MockDomain && ((MockDomain) d).pgtable != null) {
            IoPageTable pt = ((MockDomain) d).pgtable;
            return new MockHardware.Entry(MockHardware.Entry.Kind.TRANSLATE, pt.root(), pt.ias(),
                    Long.numberOfTrailingZeros(pt.pgsizeBitmap()));
        }
        if (d.type() == DomainType.IDENTITY || d.type() == DomainType.PLATFORM) {
            return MockHardware.Entry.BYPASS;
        }
        return MockHardware.Entry.ABORT;
    }

    private void releaseDevice(Device dev) {
        boolean onQueue;
        synchronized (this) {
            onQueue = iopfEnabled.remove(dev);
            probed.remove(dev);
            if (releaseDomain == null) {
                // No release_domain: the driver parks the device itself, keeping 1:1 regions alive.
                DevIommuView di = core.devIommu(dev);
                boolean direct = di != null && di.requireDirect();
                IommuDomain park = direct && identityDomain != null ? identityDomain : blockedDomain;
                moveRid(dev, park);
            }
            iopfRefcount.remove(dev);
            featuresEnabled.remove(dev); // dev->iommu goes, and with it the driver's per-device state
            pasidReservedArmed.remove(dev);
            auxTables.values().forEach(set -> set.remove(dev));
            auxTables.values().removeIf(Set::isEmpty);
        }
        if (onQueue) {
            // the device goes: PRI off, its pending page requests are answered INVALID
            core.iopfQueueRemoveDevice(iopfQueue(), dev);
        }
        record("release_device", null, dev, null, "release_device(" + dev + ")", 0);
    }

    // ------------------------------------------------------------------------------------------
    // Device features (S01, S02) and the aux side (S03, S10)
    // ------------------------------------------------------------------------------------------

    private int maxPasidsOf(Device dev) {
        DevIommuView di = core.devIommu(dev);
        return di == null ? 0 : di.maxPasids();
    }

    /** What the hardware behind {@code dev} can do. Holds this. */
    private boolean hardwareHas(Device dev, DevFeature f) {
        EnumMap<DevFeature, Boolean> o = featureSupport.get(dev);
        if (o != null && o.containsKey(f)) {
            return o.get(f);
        }
        switch (f) {
            case AUX:
                switch (config.auxModel()) {
                    case PASID: return maxPasidsOf(dev) > 0;
                    case CONTEXT_SWITCH: return contextSwitchCapable.contains(dev);
                    default: return false;
                }
            case SVA:
                return config.svaSupport() && maxPasidsOf(dev) > 0;
            default:
                // recoverable faults need PCI PRI (an SMMU stall master is declared with setFeatureSupport)
                return dev instanceof PciDevice && ((PciDevice) dev).hasPri();
        }
    }

    private synchronized boolean devHasFeat(Device dev, DevFeature f) {
        return probed.contains(dev) && hardwareHas(dev, f);
    }

    private synchronized boolean devFeatEnabled(Device dev, DevFeature f) {
        EnumSet<DevFeature> s = featuresEnabled.get(dev);
        return s != null && s.contains(f);
    }

    private int devEnableFeat(Device dev, DevFeature f) {
        int r;
        synchronized (this) {
            if (!probed.contains(dev)) {
                r = Errno.ENODEV.neg();
            } else if (!hardwareHas(dev, f)) {
                r = Errno.EINVAL.neg(); // the hardware behind this device cannot do it (S01)
            } else {
                featuresEnabled.computeIfAbsent(dev, k -> EnumSet.noneOf(DevFeature.class)).add(f);
                r = 0;
            }
        }
        record("dev_enable_feat", null, dev, null, "dev_enable_feat(" + dev + ", " + f + ") = " + ret(r), r);
        return r;
    }

    private int devDisableFeat(Device dev, DevFeature f) {
        int r;
        synchronized (this) {
            EnumSet<DevFeature> s = featuresEnabled.get(dev);
            if (s == null || !s.contains(f)) {
                r = Errno.EINVAL.neg();
            } else if (f == DevFeature.IOPF && s.contains(DevFeature.SVA)) {
                r = Errno.EBUSY.neg(); // SVA relies on the fault path (arm_smmu_master_disable_iopf)
            } else {
                s.remove(f);
                r = 0;
            }
        }
        record("dev_disable_feat", null, dev, null, "dev_disable_feat(" + dev + ", " + f + ") = " + ret(r), r);
        return r;
    }

    /** Table-only aux attach: the domain becomes an aux domain of {@code dev}; no hardware is touched. */
    private int auxAttach(IommuDomain d, Device dev) {
        int r;
        synchronized (this) {
            if (!probed.contains(dev) || !(d instanceof MockDomain) || ((MockDomain) d).pgtable == null
                    || ((MockDomain) d).driver() != this) {
                r = Errno.EINVAL.neg();
            } else {
                auxTables.computeIfAbsent(d, k -> new LinkedHashSet<>()).add(dev);
                r = 0;
            }
        }
        record("aux_attach_dev", d, dev, null, "aux_attach_dev(" + d + ", " + dev + ") = " + ret(r), r);
        return r;
    }

    private void auxDetach(IommuDomain d, Device dev) {
        synchronized (this) {
            Set<Device> s = auxTables.get(d);
            if (s != null) {
                s.remove(dev);
                if (s.isEmpty()) {
                    auxTables.remove(d);
                }
            }
        }
        record("aux_detach_dev", d, dev, null, "aux_detach_dev(" + d + ", " + dev + ")", 0);
    }

    /** {@code domain_get_attr(PTBASE)}: an aux domain's table base (TTBR0); -ENODEV for any other domain (S10). */
    private long domainGetAttr(IommuDomain d, DomainAttr attr) {
        long base;
        synchronized (this) {
            if (attr != DomainAttr.PTBASE || !auxTables.containsKey(d)) {
                record("domain_get_attr", d, null, null, "domain_get_attr(" + d + ", " + attr + ") = -ENODEV",
                        Errno.ENODEV.neg());
                throw new IommuException(Errno.ENODEV, "mock " + config.name() + ": " + d + " is not an aux domain");
            }
            base = ((MockDomain) d).pgtable.root();
        }
        record("domain_get_attr", d, null, null, String.format("domain_get_attr(%s, %s) = %#x", d, attr, base), 0);
        return base;
    }

    private GroupRef deviceGroup(Device dev) {
        Device peer;
        boolean nul;
        synchronized (this) {
            peer = groupWith.get(dev);
            nul = nullGroup.contains(dev);
        }
        GroupRef g = null;
        if (!nul && peer != null) {
            g = core.groupGet(peer);
        }
        if (nul) {
            g = null;
        } else if (g == null) {
            switch (config.grouping()) {
                case SINGLE: g = core.genericSingleDeviceGroup(dev); break;
                case PCI: g = core.pciDeviceGroup(dev); break;
                default: g = core.genericDeviceGroup(dev);
            }
        }
        record("device_group", null, dev, null, "device_group(" + dev + ") = " + (g == null ? "NULL" : "group" + g.id()),
                g == null ? -1 : g.id());
        return g;
    }

    private synchronized List<ResvRegion> getResvRegions(Device dev) {
        return resvRegions.getOrDefault(dev, List.of());
    }

    private synchronized boolean isAttachDeferred(Device dev) {
        return attachDeferred.contains(dev);
    }

    private synchronized DomainType defDomainTypeOp(Device dev) {
        return defDomainType.get(dev);
    }

    private IommuDomain domainAllocPaging(Device dev) {
        if (core.shouldFailAlloc("mock domain_alloc_paging")) {
            record("domain_alloc_paging", null, dev, null, "domain_alloc_paging(" + dev + ") = NULL", Errno.ENOMEM.neg());
            return null; // the core reads NULL as -ENOMEM
        }
        MockDomain d = newPagingDomain(0);
        record("domain_alloc_paging", d, dev, null, "domain_alloc_paging(" + dev + ") = ok", 0);
        return d;
    }

    private IommuDomain domainAllocPagingFlags(Device dev, int flags) {
        String text = String.format("domain_alloc_paging_flags(%s, %#x)", dev, flags);
        if ((flags & ~AllocFlags.PASID) != 0 || ((flags & AllocFlags.PASID) != 0 && !config.pasidFlagSupported())) {
            record("domain_alloc_paging_flags", null, dev, null, text + " = " + Errno.EOPNOTSUPP.neg(),
                    Errno.EOPNOTSUPP.neg());
            throw new IommuException(Errno.EOPNOTSUPP, "mock " + config.name() + " does not support flags "
                    + String.format("%#x", flags));
        }
        if (core.shouldFailAlloc("mock domain_alloc_paging_flags")) {
            record("domain_alloc_paging_flags", null, dev, null, text + " = " + Errno.ENOMEM.neg(), Errno.ENOMEM.neg());
            throw new IommuException(Errno.ENOMEM, "mock " + config.name() + ": out of memory for a domain");
        }
        MockDomain d = newPagingDomain(flags);
        record("domain_alloc_paging_flags", d, dev, null, text + " = ok", 0);
        return d;
    }

    private MockDomain newPagingDomain(int flags) {
        MockDomain d = new MockDomain(this, pagingOps, flags);
        // No per-page invalidation hardware: cleared leaves only widen the gather, so the core's
        // single iotlb_sync at the end of an unmap covers them (SEMANTICS.md 13 #90).
        IoPageTable pt = tables.create(config.pgsizeBitmap(), config.ias(), (gather, iova, granule) -> {
            gather.addRange(iova, granule);
            gather.pgsize = granule;
        });
        d.pgtable = pt;
        d.setPgsizeBitmap(pt.pgsizeBitmap());
        d.setGeometry(config.aperture() != null ? config.aperture() : Geometry.ofBits(pt.ias()));
        synchronized (this) {
            live.add(d);
        }
        return d;
    }

    /** {@code domain_alloc_sva}: a domain whose PASID entries point at the mm's page table. */
    private IommuDomain domainAllocSva(Device dev, MmStruct mm) {
        if (core.shouldFailAlloc("mock domain_alloc_sva")) {
            record("domain_alloc_sva", null, dev, null, "domain_alloc_sva(" + dev + ", " + mm + ") = -ENOMEM",
                    Errno.ENOMEM.neg());
            throw new IommuException(Errno.ENOMEM, "mock " + config.name() + ": out of memory for an SVA domain");
        }
        MockDomain d = new MockDomain(this, svaOps, 0, mm);
        synchronized (this) {
            live.add(d);
        }
        record("domain_alloc_sva", d, dev, null, "domain_alloc_sva(" + dev + ", " + mm + ") = ok", 0);
        return d;
    }

    private IommuDomain domainAllocIdentity(Device dev) {
        if (core.shouldFailAlloc("mock domain_alloc_identity")) {
            record("domain_alloc_identity", null, dev, null, "domain_alloc_identity(" + dev + ") = NULL",
                    Errno.ENOMEM.neg());
            return null;
        }
        MockDomain d = new MockDomain(this, identityAllocOps, 0);
        synchronized (this) {
            live.add(d);
        }
        record("domain_alloc_identity", d, dev, null, "domain_alloc_identity(" + dev + ") = ok", 0);
        return d;
    }

    // ------------------------------------------------------------------------------------------
    // iommu_domain_ops
    // ------------------------------------------------------------------------------------------

    private boolean ours(IommuDomain d) {
        return d == blockedDomain || d == identityDomain || d == releaseDomain || d == legacyDefaultDomain
                || (d instanceof MockDomain && ((MockDomain) d).driver() == this);
    }

    private synchronized Errno attachFault(IommuDomain d, Device dev) {
        for (Object[] f : failAttach) {
            if ((f[0] == null || f[0] == d) && (f[1] == null || f[1] == dev)) {
                return (Errno) f[2];
            }
        }
        return null;
    }

    private int attachDev(IommuDomain d, Device dev, IommuDomain old) {
        Lookup lookup;
        synchronized (this) {
            lookup = lookupInAttach;
        }
        if (lookup == Lookup.GET_DOMAIN_FOR_DEV) {
            core.getDomainForDev(dev);
        } else if (lookup == Lookup.DRIVER_GET_DOMAIN_FOR_DEV) {
            core.driverGetDomainForDev(dev);
        }
        String text = "attach_dev(" + d + ", " + dev + ", old=" + old + ")";
        IommuDomain before;
        synchronized (this) {
            before = programmed.get(dev);
        }
        int r = iopfBefore(dev, before, d);
        if (r != 0) {
            record("attach_dev", d, dev, old, text + " = " + ret(r), r);
            return r;
        }
        synchronized (this) {
            Errno f = attachFault(d, dev);
            if (f != null) {
                r = f.neg();
            } else if (!probed.contains(dev) || !ours(d)) {
                // a device this instance never probed, or another driver's domain
                r = Errno.EINVAL.neg();
            } else if (config.pasidCompatCheck() && !pasidCompat(d)
                    && !pasids.getOrDefault(dev, new TreeMap<>()).isEmpty()) {
                // the PASID entries hang from the RID entry: a table format without PASID support
                // would strand them (iommufd_hwpt_pasid_compat, the RID direction)
                r = Errno.EINVAL.neg();
            } else {
                IommuDomain hw = programmed.get(dev);
                if (old != null && hw != null && old != hw) {
                    core.warnings().warn("mock attach_dev", dev + ": core says old domain is " + old
                            + " but the hardware holds " + hw);
                }
                moveRid(dev, d);
                r = 0;
            }
        }
        record("attach_dev", d, dev, old, text + " = " + ret(r), r);
        iopfAfter(dev);
        return r;
    }

    /** Points the device's RID entry at {@code d}, keeping the devices lists and IOPF counts. Holds this. */
    private void moveRid(Device dev, IommuDomain d) {
        IommuDomain prev = programmed.get(dev);
        if (prev instanceof MockDomain) {
            ((MockDomain) prev).attached.remove(dev);
        }
        if (isIopf(prev) && !faults.leakIopfRefcount()) {
            iopfRefcount.merge(dev, -1, Integer::sum);
        }
        if (d instanceof MockDomain) {
            ((MockDomain) d).attached.add(dev);
        }
        if (isIopf(d)) {
            iopfRefcount.merge(dev, 1, Integer::sum);
        }
        if (d == null) {
            programmed.remove(dev);
        } else {
            programmed.put(dev, d);
        }
        if (hardware != null) {
            MockHardware.Entry e = entryFor(d);
            for (int sid : sids.getOrDefault(dev, List.of())) {
                hardware.writeStream(sid, e);
            }
        }
        checkIopfRefcount(dev, "mock attach_dev");
    }

    /**
     * S19: on a blocked or identity RID domain with no PASIDs the device's IOPF count must be zero;
     * a violation is reported as a WARN and the model carries on. Holds this.
     */
    private void checkIopfRefcount(Device dev, String where) {
        IommuDomain d = programmed.get(dev);
        if (d != null && (d.type() == DomainType.BLOCKED || d.type() == DomainType.IDENTITY)
                && pasids.getOrDefault(dev, new TreeMap<>()).isEmpty() && iopfRefcount.getOrDefault(dev, 0) != 0) {
            core.warnings().warn(where, dev + " on " + d + " with no PASIDs still has iopf_refcount "
                    + iopfRefcount.get(dev));
        }
    }

    /** The domain carries a fault handler: attaching it takes an IOPF reference (v6.16 attach-path IOPF). */
    private static boolean isIopf(IommuDomain d) {
        return d != null && (d.hasIopfHandler() || d instanceof MockDomain && ((MockDomain) d).iopfCapable);
    }

    /** The driver's IOPF queue, allocated on first use. */
    private synchronized IopfQueueRef iopfQueue() {
        if (iopfQueue == null) {
            iopfQueue = core.iopfQueueAlloc("mock-" + config.name() + "-iopf");
        }
        return iopfQueue;
    }

    /**
     * Before {@code dev} moves from {@code prev} to {@code next} (RID or one PASID): the first
     * IOPF-capable attachment puts the device on the driver's IOPF queue (PRI/stall enabled);
     * failing that fails the attach. Called without this lock (the core takes its IOPF locks).
     */
    private int iopfBefore(Device dev, IommuDomain prev, IommuDomain next) {
        boolean need;
        synchronized (this) {
            need = isIopf(next) && !isIopf(prev) && !iopfEnabled.contains(dev) && probed.contains(dev);
        }
        if (!need || !config.pageResponseOp()) {
            return 0;
        }
        int r;
        try {
            r = core.iopfQueueAddDevice(iopfQueue(), dev);
        } catch (IommuException e) {
            r = e.errno().neg(); // the queue itself could not be allocated (fail_nth)
        }
        synchronized (this) {
            if (r == 0) {
                iopfEnabled.add(dev);
            }
            record("iopf_queue_add_device", null, dev, null, "iopf_queue_add_device(" + dev + ") = " + ret(r), r);
        }
        return r;
    }

    /** After an attachment change: the last IOPF reference gone, the device leaves the queue. Without this lock. */
    private void iopfAfter(Device dev) {
        boolean drop;
        synchronized (this) {
            drop = iopfEnabled.contains(dev) && iopfRefcount.getOrDefault(dev, 0) == 0;
            if (drop) {
                iopfEnabled.remove(dev);
            }
        }
        if (drop) {
            core.iopfQueueRemoveDevice(iopfQueue(), dev);
            record("iopf_queue_remove_device", null, dev, null, "iopf_queue_remove_device(" + dev + ")", 0);
        }
    }

    /** {@code page_response}: the answer goes to the device (recorded, and kept for {@link #pageResponses()}). */
    private void pageResponse(Device dev, IopfFault last, PageResponse msg) {
        synchronized (this) {
            responses.add(msg);
        }
        record("page_response", null, dev, null, "page_response(" + dev + ", "
                + (msg.pasidValid() ? "pasid=" + msg.pasid() + ", " : "") + "grp=" + msg.grpid() + ", " + msg.code() + ")", 0);
    }

    private int setDevPasid(IommuDomain d, Device dev, int pasid, IommuDomain old) {
        IommuDomain before;
        synchronized (this) {
            before = programmedPasid(dev, pasid);
        }
        int r = iopfBefore(dev, before, d == blockedDomain ? null : d);
        if (r != 0) {
            record("set_dev_pasid", d, dev, old, "set_dev_pasid(" + d + ", " + dev + ", " + pasid + ", old=" + old
                    + ") = " + ret(r), r);
            return r;
        }
        r = setDevPasidLocked(d, dev, pasid, old);
        iopfAfter(dev);
        return r;
    }

    private int setDevPasidLocked(IommuDomain d, Device dev, int pasid, IommuDomain old) {
        String text = "set_dev_pasid(" + d + ", " + dev + ", " + pasid + ", old=" + old + ")";
        int r;
        synchronized (this) {
            Errno f = null;
            for (Object[] x : failSetDevPasid) {
                if ((x[0] == null || x[0] == d) && (x[1] == null || x[1] == dev)
                        && ((int) x[2] == -1 || (int) x[2] == pasid)) {
                    f = (Errno) x[3];
                    break;
                }
            }
            if (f == null) {
                f = pasidRefusal(d, dev, pasid);
            }
            if (f != null) {
                r = f.neg();
            } else if (!probed.contains(dev) || !ours(d)) {
                r = Errno.EINVAL.neg();
            } else {
                TreeMap<Integer, IommuDomain> m = pasids.computeIfAbsent(dev, k -> new TreeMap<>());
                IommuDomain prev = d == blockedDomain ? m.remove(pasid) : m.put(pasid, d);
                if (isIopf(prev) && !faults.leakIopfRefcount()) {
                    iopfRefcount.merge(dev, -1, Integer::sum);
                }
                if (d != blockedDomain && isIopf(d)) {
                    iopfRefcount.merge(dev, 1, Integer::sum);
                }
                if (hardware != null) {
                    for (int sid : sids.getOrDefault(dev, List.of())) {
                        hardware.writePasid(sid, pasid, d == blockedDomain ? null : entryFor(d));
                    }
                }
                record("set_dev_pasid", d, dev, old, text + " = 0", 0);
                if (prev != null && prev != d) {
                    // the entry is written; flush the PASID-tagged ATCs under the same lock (S08)
                    invalidatePasidAtcs(dev, pasid, prev);
                }
                checkIopfRefcount(dev, "mock set_dev_pasid");
                return 0;
            }
            record("set_dev_pasid", d, dev, old, text + " = " + ret(r), r);
            return r;
        }
    }

    /**
     * S08, after a PASID entry of {@code dev} changed away from {@code old}: ATC entries are
     * PASID-tagged, so the leaving device's ATC is invalidated for that PASID; when no device holds
     * {@code old} at that PASID any more, the tag may be reused, so every device that could have
     * cached it (those translating through the same RID domain, whose PASID table the entry hung
     * from) is invalidated too. Runs under this driver's lock together with the entry change, so
     * no device can join or leave in between. Holds this.
     */
    private void invalidatePasidAtcs(Device dev, int pasid, IommuDomain old) {
        atcInvalidate(dev, pasid);
        if (old == null) {
            return;
        }
        for (TreeMap<Integer, IommuDomain> m : pasids.values()) {
            if (m.get(pasid) == old) {
                return; // other devices still use the entry: only the leaving device is flushed
            }
        }
        IommuDomain parent = programmed.get(dev);
        for (Map.Entry<Device, IommuDomain> e : programmed.entrySet()) {
            if (e.getKey() != dev && parent != null && e.getValue() == parent && probed.contains(e.getKey())) {
                atcInvalidate(e.getKey(), pasid);
            }
        }
    }

    /** A PASID-selective ATC invalidation of one device (its ATS cache, if it has one). Holds this. */
    private void atcInvalidate(Device dev, int pasid) {
        if (dev instanceof PciDevice && ((PciDevice) dev).atc() != null) {
            ((PciDevice) dev).atc().invalidate(pasid, false, 0, Atc.WHOLE_ADDRESS_SPACE);
        }
        MockEvent e = new MockEvent(++eventSeq, "atc_inv", null, dev, null, "atc_inv(" + dev + ", pasid=" + pasid + ")", 0);
        events.add(e);
    }

    /**
     * The driver's own reasons to refuse a {@code set_dev_pasid}, or null: the PASID-compat rule
     * (when configured) and the selftest's PASID-1024 fault. Holds this.
     */
    private Errno pasidRefusal(IommuDomain d, Device dev, int pasid) {
        boolean removal = d == blockedDomain;
        if (!removal && config.pasidCompatCheck()) {
            IommuDomain rid = programmed.get(dev);
            if (!pasidCompat(d) || (rid != null && !pasidCompat(rid))) {
                return Errno.EINVAL;
            }
        }
        if (pasid == TEST_PASID_RESERVED && config.pasidReservedFault() && probed.contains(dev) && ours(d)) {
            if (removal) {
                pasidReservedArmed.remove(dev);
            } else if (pasidReservedArmed.remove(dev)) {
                return Errno.ENOMEM; // the replace after a first attach fails, once
            } else {
                pasidReservedArmed.add(dev);
            }
        }
        return null;
    }

    /**
     * A domain whose table format can sit under a PASID (and carry PASID entries under its RID):
     * static and table-less domains, and paging domains allocated with {@code IOMMU_HWPT_ALLOC_PASID}.
     */
    private static boolean pasidCompat(IommuDomain d) {
        if (!(d instanceof MockDomain) || ((MockDomain) d).pgtable == null) {
            return true;
        }
        return (((MockDomain) d).allocFlags & AllocFlags.PASID) != 0;
    }

    private int mapPages(IommuDomain dom, long iova, long paddr, long pgsize, long pgcount, int prot, Mapped mapped) {
        MockDomain d = (MockDomain) dom;
        long allowed = pgcount;
        boolean fail = false;
        synchronized (this) {
            if (mapBudget >= 0) {
                allowed = Math.min(pgcount, mapBudget / pgsize);
                fail = allowed < pgcount;
            }
        }
        int r = 0;
        long before = mapped.bytes;
        if (allowed > 0) {
            r = d.pgtable.mapPages(iova, paddr, pgsize, allowed, prot, mapped);
        }
        long done = mapped.bytes - before;
        synchronized (this) {
            if (mapBudget >= 0) {
                mapBudget -= done;
            }
        }
        if (r == 0 && fail && done == allowed * pgsize) {
            r = Errno.ENOMEM.neg();
        }
        record("map_pages", d, null, null, String.format("map_pages(%s, %#x, %#x, %#x x %d) = %s mapped %#x", d, iova,
                paddr, pgsize, pgcount, ret(r), done), r);
        return r;
    }

    private long unmapPages(IommuDomain dom, long iova, long pgsize, long pgcount, IotlbGather gather) {
        MockDomain d = (MockDomain) dom;
        long u = d.pgtable.unmapPages(iova, pgsize, pgcount, gather);
        record("unmap_pages", d, null, null, String.format("unmap_pages(%s, %#x, %#x x %d) = %#x", d, iova, pgsize,
                pgcount, u), u);
        return u;
    }

    private int iotlbSyncMap(IommuDomain d, long iova, long size) {
        Errno f;
        synchronized (this) {
            f = failSyncMap;
        }
        int r = f == null ? 0 : f.neg();
        record("iotlb_sync_map", d, null, null, String.format("iotlb_sync_map(%s, %#x, %#x) = %s", d, iova, size,
                ret(r)), r);
        return r;
    }

    private void iotlbSync(IommuDomain d, IotlbGather gather) {
        String range = gather.isEmpty() ? "empty" : String.format("%#x..%#x", gather.start, gather.end);
        record("iotlb_sync", d, null, null, "iotlb_sync(" + d + ", " + range + ")", 0);
    }

    private void flushIotlbAll(IommuDomain d) {
        record("flush_iotlb_all", d, null, null, "flush_iotlb_all(" + d + ")", 0);
    }

    private long iovaToPhys(IommuDomain dom, long iova) {
        IoPageTable pt = ((MockDomain) dom).pgtable;
        return pt == null ? 0 : pt.iovaToPhys(iova);
    }

    private void free(IommuDomain dom) {
        MockDomain d = (MockDomain) dom;
        synchronized (this) {
            if (!d.attached.isEmpty()) {
                core.warnings().warn("mock free", "freeing " + d + " while devices " + d.attached
                        + " still point at it");
            }
            live.remove(d);
            d.freedByDriver = true;
        }
        if (d.pgtable != null) {
            d.pgtable.free();
        }
        record("free", d, null, null, "free(" + d + ")", 0);
    }

    @Override
    public String toString() {
        return "mock " + config.name();
    }
}
