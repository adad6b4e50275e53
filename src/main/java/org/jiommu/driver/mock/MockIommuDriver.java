package org.jiommu.driver.mock;

import java.util.ArrayList;
import java.util.Arrays;
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
import org.jiommu.bus.pci.DmaAlias;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.core.spi.AllocFlags;
import org.jiommu.core.spi.CoreServices;
import org.jiommu.core.spi.DevIommuView;
import org.jiommu.core.spi.DomainOps;
import org.jiommu.core.spi.DomainType;
import org.jiommu.core.spi.Geometry;
import org.jiommu.core.spi.GroupRef;
import org.jiommu.core.spi.IommuDevice;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.core.spi.IommuOps;
import org.jiommu.core.spi.ResvRegion;
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
    private boolean leakIopfRefcount;

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
        this.leakIopfRefcount = v;
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
        synchronized (this) {
            probed.remove(dev);
            if (releaseDomain == null) {
                // No release_domain: the driver parks the device itself, keeping 1:1 regions alive.
                DevIommuView di = core.devIommu(dev);
                boolean direct = di != null && di.requireDirect();
                IommuDomain park = direct && identityDomain != null ? identityDomain : blockedDomain;
                moveRid(dev, park);
            }
            iopfRefcount.remove(dev);
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
        int r;
        synchronized (this) {
            Errno f = attachFault(d, dev);
            if (f != null) {
                r = f.neg();
            } else if (!probed.contains(dev) || !ours(d)) {
                // a device this instance never probed, or another driver's domain
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
        return r;
    }

    /** Points the device's RID entry at {@code d}, keeping the devices lists and IOPF counts. Holds this. */
    private void moveRid(Device dev, IommuDomain d) {
        IommuDomain prev = programmed.get(dev);
        if (prev instanceof MockDomain) {
            MockDomain pm = (MockDomain) prev;
            pm.attached.remove(dev);
            if (pm.iopfCapable && !leakIopfRefcount) {
                iopfRefcount.merge(dev, -1, Integer::sum);
            }
        }
        if (d instanceof MockDomain) {
            MockDomain nm = (MockDomain) d;
            nm.attached.add(dev);
            if (nm.iopfCapable) {
                iopfRefcount.merge(dev, 1, Integer::sum);
            }
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
        // S19: on a blocked or identity domain with no PASIDs the IOPF count must be zero.
        if (d != null && (d.type() == DomainType.BLOCKED || d.type() == DomainType.IDENTITY)
                && pasids.getOrDefault(dev, new TreeMap<>()).isEmpty() && iopfRefcount.getOrDefault(dev, 0) != 0) {
            core.warnings().warn("mock attach_dev", dev + " on " + d + " with no PASIDs still has iopf_refcount "
                    + iopfRefcount.get(dev));
        }
    }

    private int setDevPasid(IommuDomain d, Device dev, int pasid, IommuDomain old) {
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
            if (f != null) {
                r = f.neg();
            } else if (!probed.contains(dev) || !ours(d)) {
                r = Errno.EINVAL.neg();
            } else {
                TreeMap<Integer, IommuDomain> m = pasids.computeIfAbsent(dev, k -> new TreeMap<>());
                if (d == blockedDomain) {
                    m.remove(pasid);
                } else {
                    m.put(pasid, d);
                }
                if (hardware != null) {
                    for (int sid : sids.getOrDefault(dev, List.of())) {
                        hardware.writePasid(sid, pasid, d == blockedDomain ? null : entryFor(d));
                    }
                }
                r = 0;
            }
        }
        record("set_dev_pasid", d, dev, old, text + " = " + ret(r), r);
        return r;
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
