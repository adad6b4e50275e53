package org.jiommu.driver.mock;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.HashSet;
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
import org.jiommu.bus.pci.DmaAlias;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.core.spi.AuxOps;
import org.jiommu.core.spi.DevFeature;
import org.jiommu.core.spi.CoreServices;
import org.jiommu.core.spi.DevIommuView;
import org.jiommu.core.spi.DomainOps;
import org.jiommu.core.spi.DomainType;
import org.jiommu.core.spi.GroupRef;
import org.jiommu.core.spi.IommuDevice;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.core.spi.IommuOps;
import org.jiommu.core.spi.IopfQueueRef;
import org.jiommu.core.spi.PageResponse;
import org.jiommu.core.spi.ResvRegion;
import org.jiommu.driver.common.DriverFaults;
import org.jiommu.pgtable.IoPageTable;

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
    final MockConfig config;
    final CoreServices core;
    final MockPageTableFactory tables;
    private final IommuOps ops;
    private final IommuDevice iommu;
    /** The "hardware" the driver programs; null for a driver model without one. */
    final MockHardware hardware;

    final IommuDomain identityDomain;
    final IommuDomain blockedDomain;
    final IommuDomain releaseDomain;
    final IommuDomain legacyDefaultDomain;
    final DomainOps pagingOps;
    final DomainOps identityAllocOps;
    final DomainOps svaOps;

    // ---- the driver's parts (package-private classes sharing this state and this monitor) ----
    private final MockDevFeatures features = new MockDevFeatures(this);
    final MockDomainOps domains = new MockDomainOps(this);
    final MockPasidOps pasidOps = new MockPasidOps(this);

    // ---- state, guarded by this ----
    private final List<MockEvent> events = new ArrayList<>();
    private long eventSeq;
    final Set<Device> probed = new LinkedHashSet<>();
    final Map<Device, IommuDomain> programmed = new LinkedHashMap<>();
    final Map<Device, TreeMap<Integer, IommuDomain>> pasids = new LinkedHashMap<>();
    final Map<Device, Integer> iopfRefcount = new LinkedHashMap<>();
    final Set<IommuDomain> live = new LinkedHashSet<>();
    /** Source IDs (stream / requester IDs) of each probed device, learnt at probe. */
    final Map<Device, List<Integer>> sids = new HashMap<>();

    // ---- knobs, guarded by this ----
    private final Map<Device, DomainType> defDomainType = new HashMap<>();
    private final Set<Device> attachDeferred = new LinkedHashSet<>();
    private final Map<Device, List<ResvRegion>> resvRegions = new HashMap<>();
    private final Map<Device, Device> groupWith = new HashMap<>();
    private final Map<Device, Errno> failProbe = new HashMap<>();
    private final Set<Device> probeNull = new HashSet<>();
    private final Set<Device> nullGroup = new LinkedHashSet<>();
    /** (domain or null = any, device or null = any) → errno. */
    final List<Object[]> failAttach = new ArrayList<>();
    final List<Object[]> failSetDevPasid = new ArrayList<>();
    long mapBudget = -1;
    Errno failSyncMap;
    Lookup lookupInAttach = Lookup.NONE;
    /** Bugs planted on purpose (S19's IOPF leak), shared with the other drivers (driver.common). */
    final DriverFaults faults = new DriverFaults();
    /** Devices this driver put on its IOPF queue. Guarded by this. */
    final Set<Device> iopfEnabled = new LinkedHashSet<>();
    /** Page responses sent, oldest first. Guarded by this. */
    final List<PageResponse> responses = new ArrayList<>();
    /** Guarded by this. */
    IopfQueueRef iopfQueue;
    /** Per device, the features enabled through {@code dev_enable_feat}. */
    final Map<Device, EnumSet<DevFeature>> featuresEnabled = new HashMap<>();
    /** Per device, what {@code dev_has_feat} answers instead of the hardware's default. */
    final Map<Device, EnumMap<DevFeature, Boolean>> featureSupport = new HashMap<>();
    /** Masters declared able to switch their own page tables (the SMMUv2 GPU case, S02). */
    final Set<Device> contextSwitchCapable = new LinkedHashSet<>();
    /** Table-only aux domains (AuxModel.CONTEXT_SWITCH) and the devices they are aux-attached to. */
    final Map<IommuDomain, Set<Device>> auxTables = new LinkedHashMap<>();
    /** Devices whose PASID {@link #TEST_PASID_RESERVED} fails its next non-blocked set_dev_pasid. */
    final Set<Device> pasidReservedArmed = new LinkedHashSet<>();

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

        DomainOps.Builder blockedOps = DomainOps.builder().attachDev(domains::attachDev);
        if (config.blockedSetDevPasid()) {
            blockedOps.setDevPasid(pasidOps::setDevPasid);
        }
        this.blockedDomain = config.staticBlocked()
                ? IommuDomain.staticDomain(n + ".blocked", DomainType.BLOCKED, blockedOps.build()) : null;
        this.identityDomain = config.staticIdentity() ? IommuDomain.staticDomain(n + ".identity", DomainType.IDENTITY,
                DomainOps.builder().attachDev(domains::attachDev).setDevPasid(pasidOps::setDevPasid).build()) : null;
        switch (config.releaseDomain()) {
            case BLOCKED: releaseDomain = blockedDomain; break;
            case IDENTITY: releaseDomain = identityDomain; break;
            case SEPARATE:
                releaseDomain = IommuDomain.staticDomain(n + ".release", DomainType.BLOCKED,
                        DomainOps.builder().attachDev(domains::attachDev).build());
                break;
            default: releaseDomain = null;
        }
        this.legacyDefaultDomain = config.legacyDefaultDomain() == null ? null
                : IommuDomain.staticDomain(n + ".default", config.legacyDefaultDomain(),
                        DomainOps.builder().attachDev(domains::attachDev).build());

        DomainOps.Builder po = DomainOps.builder()
                .attachDev(domains::attachDev)
                .setDevPasid(pasidOps::setDevPasid)
                .mapPages(domains::mapPages)
                .unmapPages(domains::unmapPages)
                .iotlbSync(domains::iotlbSync)
                .flushIotlbAll(domains::flushIotlbAll)
                .iovaToPhys(domains::iovaToPhys)
                .free(domains::free);
        if (config.syncMapOp()) {
            po.iotlbSyncMap(domains::iotlbSyncMap);
        }
        this.pagingOps = po.build();
        this.identityAllocOps = DomainOps.builder().attachDev(domains::attachDev).setDevPasid(pasidOps::setDevPasid)
                .free(domains::free).build();
        // an SVA domain only goes on PASIDs and has no table of its own to map into
        this.svaOps = DomainOps.builder().setDevPasid(pasidOps::setDevPasid).free(domains::free).build();

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
                b.domainAllocPaging(domains::domainAllocPaging).domainAllocPagingFlags(domains::domainAllocPagingFlags);
                break;
            case PAGING_ONLY:
                b.domainAllocPaging(domains::domainAllocPaging);
                break;
            case FLAGS_ONLY:
                b.domainAllocPagingFlags(domains::domainAllocPagingFlags);
                break;
            default:
                break;
        }
        if (config.identityAllocOp()) {
            b.domainAllocIdentity(domains::domainAllocIdentity);
        }
        if (config.svaSupport()) {
            b.domainAllocSva(domains::domainAllocSva);
        }
        if (config.pageResponseOp()) {
            b.pageResponse(pasidOps::pageResponse);
        }
        b.devHasFeat(features::devHasFeat).devFeatEnabled(features::devFeatEnabled)
                .devEnableFeat(features::devEnableFeat).devDisableFeat(features::devDisableFeat)
                .domainGetAttr(features::domainGetAttr);
        switch (config.auxModel()) {
            case PASID:
                b.auxOps(new AuxOps(config.auxRefusal(), true, null, null));
                break;
            case CONTEXT_SWITCH:
                b.auxOps(new AuxOps(config.auxRefusal(), false, features::auxAttach, features::auxDetach));
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

    /** {@code probe_device(dev)} returns NULL instead of a pointer or an ERR_PTR (a driver bug). */
    public synchronized void probeReturnsNull(Device dev, boolean v) {
        if (v) {
            probeNull.add(dev);
        } else {
            probeNull.remove(dev);
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

    /** A copy of the device's PASID entries (empty if none); the caller holds this driver's monitor. */
    Map<Integer, IommuDomain> pasidEntriesLocked(Device dev) {
        TreeMap<Integer, IommuDomain> m = pasids.get(dev);
        return m == null || m.isEmpty() ? Map.of() : Map.copyOf(m);
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

    public MockSnapshot snapshot() {
        return snapshot(true);
    }

    /**
     * The snapshot; with {@code tables} false its page-table leaves are left out (empty): the
     * hardware view the invariant watch reads after every call needs the entries, not the
     * mappings, and walking every live table twice per call was most of the watch's cost
     * (docs/PERFORMANCE.md "stress").
     */
    public synchronized MockSnapshot snapshot(boolean tables) {
        Map<Device, Map<Integer, IommuDomain>> p = new LinkedHashMap<>();
        pasids.forEach((d, m) -> {
            if (!m.isEmpty()) {
                p.put(d, Map.copyOf(m));
            }
        });
        Map<IommuDomain, List<MockSnapshot.Leaf>> t = new LinkedHashMap<>();
        for (IommuDomain d : tables ? live : List.<IommuDomain>of()) {
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

    synchronized MockEvent record(String op, IommuDomain domain, Device dev, IommuDomain old, String text,
                                          long ret) {
        MockEvent e = new MockEvent(++eventSeq, op, domain, dev, old, text, ret);
        events.add(e);
        return e;
    }

    static String ret(int r) {
        return r == 0 ? "0" : Errno.describe(r);
    }

    // ------------------------------------------------------------------------------------------
    // iommu_ops
    // ------------------------------------------------------------------------------------------

    private IommuDevice probeDevice(Device dev) {
        Errno e;
        synchronized (this) {
            if (probeNull.contains(dev)) {
                record("probe_device", null, dev, null, "probe_device(" + dev + ") = NULL", 0);
                return null;
            }
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
                domains.moveRid(dev, park);
            }
            iopfRefcount.remove(dev);
            featuresEnabled.remove(dev); // dev->iommu goes, and with it the driver's per-device state
            pasidReservedArmed.remove(dev);
            auxTables.values().forEach(set -> set.remove(dev));
            auxTables.values().removeIf(Set::isEmpty);
        }
        if (onQueue) {
            // the device goes: PRI off, its pending page requests are answered INVALID
            core.iopfQueueRemoveDevice(pasidOps.iopfQueue(), dev);
        }
        record("release_device", null, dev, null, "release_device(" + dev + ")", 0);
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

    @Override
    public String toString() {
        return "mock " + config.name();
    }
}
