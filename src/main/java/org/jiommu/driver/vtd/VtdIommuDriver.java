package org.jiommu.driver.vtd;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import java.util.function.Predicate;

import org.jiommu.base.Errno;
import org.jiommu.base.IommuException;
import org.jiommu.base.Prot;
import org.jiommu.base.WarningSink;
import org.jiommu.bus.Device;
import org.jiommu.bus.dma.Pri;
import org.jiommu.bus.pci.DmaAlias;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.core.spi.AllocFlags;
import org.jiommu.core.spi.AuxOps;
import org.jiommu.core.spi.CoreServices;
import org.jiommu.core.spi.DevFeature;
import org.jiommu.core.spi.DomainOps;
import org.jiommu.core.spi.DomainType;
import org.jiommu.core.spi.Geometry;
import org.jiommu.core.spi.GroupRef;
import org.jiommu.core.spi.IommuCap;
import org.jiommu.core.spi.IommuDevice;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.core.spi.IommuOps;
import org.jiommu.core.spi.IopfFault;
import org.jiommu.mm.MmStruct;
import org.jiommu.core.spi.PageResponse;
import org.jiommu.core.spi.ResvRegion;
import org.jiommu.core.spi.ResvType;
import org.jiommu.hw.vtd.VtdRegisters;
import org.jiommu.hw.vtd.VtdUnit;
import org.jiommu.mem.FrameAllocator;
import org.jiommu.pgtable.IoPageTables;
import org.jiommu.pgtable.IoPgtableCfg;
import org.jiommu.pgtable.IotlbGather;
import org.jiommu.pgtable.Mapped;
import org.jiommu.pgtable.PgtableFormat;
import org.jiommu.pgtable.TlbOps;
import org.jiommu.pgtable.x86.VtdSecondLevelPageTable;
import org.jiommu.pgtable.x86.X86RadixPageTable;
/**
 * The Intel VT-d IOMMU driver ({@code drivers/iommu/intel/iommu.c}, {@code pasid.c},
 * {@code cache.c}), implementing the core's driver SPI over {@link VtdUnit} hardware models that
 * it programs only through their registers and through memory.
 *
 * <ul>
 * <li><b>Probe</b> finds the unit whose scope covers the device; in scalable mode it allocates the
 *     device's PASID directory and points the context entry of every DMA alias at it, with
 *     RID_PASID = 0, and enables ATS. In legacy mode context entries are written on attach.</li>
 * <li><b>Attach</b> of a paging domain allocates the domain's id on the unit (first attachment
 *     there), tears the device's current entry down (entry cleared, then context-cache or
 *     PASID-cache, IOTLB and device-TLB invalidation) and writes the new one present-bit last:
 *     a context entry per alias in legacy mode, the RID_PASID PASID entry in scalable mode.</li>
 * <li>Static {@link #identityDomain()} (pass-through: TT = 2 / PGTT = 4, DID 1) and
 *     {@link #blockedDomain()} (entries not present), which is also the release domain.</li>
 * <li><b>Unmap</b> ({@code iotlb_sync}): a page-selective IOTLB invalidation for the domain's DID on
 *     every unit it is attached through, then device-TLB invalidations for its ATS devices
 *     (PASID-based where a PASID carries the domain), then a wait descriptor; the call returns
 *     only when the wait completed.</li>
 * </ul>
 *
 * <p>docs/driver-vtd.md gives the sources and the decisions taken where the kernel's ways were
 * not followed. Thread-safe: see {@link VtdIommu} and {@link VtdDomain} for the lock order.
 */
public final class VtdIommuDriver {
    public static final String NAME = "intel-iommu";
    /** The interrupt-address range every unit reserves for MSIs (IOAPIC_RANGE_START..END). */
    public static final long MSI_RANGE_START = 0xFEE0_0000L;
    public static final long MSI_RANGE_LENGTH = 0x10_0000L;

    /** The invalidations the test knob {@link #skipNextInvalidation} can leave out. */
    enum Invalidation {
        /** The IOTLB descriptor of an unmap or mm-notifier flush. */
        IOTLB,
        /** A device-TLB descriptor of an unmap or mm-notifier flush. */
        DEVICE_TLB,
        /** The PASID-based device-TLB descriptor of a PASID entry's teardown (S08). */
        TEARDOWN_DEVICE_TLB
    }

    private final CoreServices core;
    private final FrameAllocator frames;
    private final WarningSink warnings;
    private final boolean useScalableMode;
    private final IommuOps ops;
    private final IommuDomain identityDomain;
    private final IommuDomain blockedDomain;
    private final DomainOps pagingOps;
    private final DomainOps svaOps;
    private final List<VtdIommu> units = new CopyOnWriteArrayList<>();
    private final Map<Device, DeviceInfo> infos = new ConcurrentHashMap<>();
    private final Map<Device, List<ResvRegion>> rmrrs = new ConcurrentHashMap<>();

    // ---- test knobs (package-private): a driver with a deliberate bug ----
    private final AtomicInteger skipIotlb = new AtomicInteger();
    private final AtomicInteger skipDeviceTlb = new AtomicInteger();
    private final AtomicInteger skipTeardownDeviceTlb = new AtomicInteger();
    private volatile boolean leakIopfRefcount;

    /** A driver that runs every unit with scalable-mode support in scalable mode (intel_iommu=sm_on). */
    public VtdIommuDriver(CoreServices core, FrameAllocator frames) {
        this(core, frames, true);
    }

    /**
     * @param core the core's exported helpers
     * @param frames where the driver's tables (root, context, PASID, queue) and its domains'
     *     page tables come from
     * @param useScalableMode {@code intel_iommu=sm_on}; false runs every unit in legacy mode
     */
    public VtdIommuDriver(CoreServices core, FrameAllocator frames, boolean useScalableMode) {
        if (core == null || frames == null) {
            throw new IllegalArgumentException("the VT-d driver needs the core's services and a frame allocator");
        }
        this.core = core;
        this.frames = frames;
        this.warnings = core.warnings();
        this.useScalableMode = useScalableMode;
        DomainOps blockedOps = DomainOps.builder().attachDev(this::attachDev).setDevPasid(this::setDevPasid).build();
        this.blockedDomain = IommuDomain.staticDomain("intel.blocked", DomainType.BLOCKED, blockedOps);
        this.identityDomain = IommuDomain.staticDomain("intel.identity", DomainType.IDENTITY,
                DomainOps.builder().attachDev(this::attachDev).setDevPasid(this::setDevPasid).build());
        this.pagingOps = DomainOps.builder()
                .attachDev(this::attachDev)
                .setDevPasid(this::setDevPasid)
                .mapPages(this::mapPages)
                .unmapPages(this::unmapPages)
                .iotlbSyncMap(this::iotlbSyncMap)
                .iotlbSync(this::iotlbSync)
                .flushIotlbAll(this::flushIotlbAll)
                .iovaToPhys(this::iovaToPhys)
                .free(this::free)
                .build();
        // An SVA domain only goes on PASIDs and maps nothing itself: the process's page faults do.
        this.svaOps = DomainOps.builder().setDevPasid(this::setDevPasid).free(this::free).build();
        this.ops = IommuOps.builder(NAME)
                .capable(this::capable)
                .domainAllocPaging(this::domainAllocPaging)
                .domainAllocPagingFlags(this::domainAllocPagingFlags)
                .probeDevice(this::probeDevice)
                .releaseDevice(this::releaseDevice)
                .deviceGroup(this::deviceGroup)
                .getResvRegions(this::getResvRegions)
                .defDomainType(this::defDomainType)
                .pgsizeBitmap(X86RadixPageTable.SZ_4K)
                .identityDomain(identityDomain)
                .blockedDomain(blockedDomain)
                // The unit's reset state is "blocked": park released devices there (Linux v6.8+).
                .releaseDomain(blockedDomain)
                .devHasFeat(this::devHasFeat)
                .devFeatEnabled(this::devFeatEnabled)
                .devEnableFeat(this::devEnableFeat)
                .devDisableFeat(this::devDisableFeat)
                // intel_iommu_aux_attach_device: !is_aux_domain() -> -EPERM (seed 001); aux domains
                // are second-level PASID entries at the domain's default PASID.
                .auxOps(new AuxOps(Errno.EPERM, true, null, null))
                .domainAllocSva(this::domainAllocSva)
                .pageResponse(this::pageResponse)
                .build();
    }

    // ------------------------------------------------------------------------------------------
    // Units and firmware tables
    // ------------------------------------------------------------------------------------------

    /**
     * Takes a remapping unit (a DRHD): reads its capabilities, builds its root table and queue,
     * and turns translation on. Register its {@link VtdIommu#iommuDevice()} with the core and
     * name it in the fwspec of the devices it covers.
     *
     * @param scope the PCI devices the unit's device scope covers; null for INCLUDE_PCI_ALL (the
     *     catch-all unit, consulted after every unit with an explicit scope)
     * @throws IommuException ENOMEM without memory for its tables, EOPNOTSUPP for a unit this
     *     driver cannot run
     */
    public VtdIommu addUnit(VtdUnit unit, Predicate<PciDevice> scope) {
        if (unit == null) {
            throw new IllegalArgumentException("unit must not be null");
        }
        if (unit.memory() != frames.memory()) {
            throw new IllegalArgumentException(unit + " reads other memory than the driver's frame allocator");
        }
        for (VtdIommu u : units) {
            if (u.unit == unit) {
                throw new IllegalArgumentException(unit + " is already driven");
            }
        }
        VtdIommu u = new VtdIommu(unit, frames, warnings, ops, scope, useScalableMode);
        // intel_iommu_enable_prq, for units that can take page requests (intel_iommu_init: ecap_prs,
        // and since v6.x the drain needs ecap_pds).
        if (u.scalable && (u.ecap & VtdRegisters.ECAP_PRS) != 0 && (u.ecap & VtdRegisters.ECAP_PDS) != 0) {
            u.prq = PageRequestQueue.enable(u, frames, core);
        }
        units.add(u);
        return u;
    }

    /**
     * A firmware RMRR for {@code dev}: a range it must always reach 1:1 (IOMMU_RESV_DIRECT; for
     * a USB controller or GPU, {@code relaxable} makes it IOMMU_RESV_DIRECT_RELAXABLE,
     * device_rmrr_is_relaxable).
     */
    public void addRmrr(Device dev, long base, long length, boolean relaxable) {
        ResvRegion r = new ResvRegion(base, length, Prot.READ | Prot.WRITE,
                relaxable ? ResvType.DIRECT_RELAXABLE : ResvType.DIRECT);
        rmrrs.compute(dev, (k, v) -> {
            List<ResvRegion> l = v == null ? new ArrayList<>() : new ArrayList<>(v);
            l.add(r);
            return List.copyOf(l);
        });
    }

    /** The unit whose scope covers {@code dev} (explicit scopes first, then the catch-all), or null. */
    public VtdIommu unitFor(Device dev) {
        if (!(dev instanceof PciDevice)) {
            return null;
        }
        PciDevice p = (PciDevice) dev;
        for (VtdIommu u : units) {
            if (u.scope != null && u.scope.test(p)) {
                return u;
            }
        }
        for (VtdIommu u : units) {
            if (u.scope == null) {
                return u;
            }
        }
        return null;
    }

    public List<VtdIommu> units() {
        return List.copyOf(units);
    }

    public IommuOps ops() {
        return ops;
    }

    /** {@code ops.identity_domain}: pass-through. */
    public IommuDomain identityDomain() {
        return identityDomain;
    }

    /** {@code ops.blocked_domain}, also {@code ops.release_domain}. */
    public IommuDomain blockedDomain() {
        return blockedDomain;
    }

    /** {@code ops.release_domain} (the blocked domain). */
    public IommuDomain releaseDomain() {
        return blockedDomain;
    }

    /** Whether the driver has probed {@code dev} and not released it. */
    public boolean probed(Device dev) {
        return infos.containsKey(dev);
    }

    /**
     * What the device's requests without PASID are programmed for: a paging domain, the
     * identity or blocked domain; null if never attached since probe (nothing programmed) or
     * not probed.
     */
    public IommuDomain programmedDomain(Device dev) {
        return locked(dev, null, info -> info.ridDomain);
    }

    /** The domain set on {@code pasid} of {@code dev} (not RID_PASID), or null. */
    public IommuDomain programmedPasid(Device dev, int pasid) {
        return locked(dev, null, info -> info.pasids.get(pasid));
    }

    /** The driver's IOPF reference count of {@code dev} (0 if not probed). */
    public int iopfRefcount(Device dev) {
        return locked(dev, 0, info -> info.iopfRefcount);
    }

    /** Requester ids the driver programs for {@code dev} (its DMA aliases), own id first; empty if not probed. */
    public int[] requesterIds(Device dev) {
        DeviceInfo info = infos.get(dev);
        return info == null ? new int[0] : info.aliases.clone();
    }

    /** Whether the driver enabled ATS on {@code dev}. */
    public boolean atsEnabled(Device dev) {
        return locked(dev, false, info -> info.atsEnabled);
    }

    /**
     * {@code read} applied to the device's state under its unit's lock; {@code absent} for a
     * device the driver has not probed.
     */
    private <T> T locked(Device dev, T absent, Function<DeviceInfo, T> read) {
        DeviceInfo info = infos.get(dev);
        if (info == null) {
            return absent;
        }
        synchronized (info.iommu.lock) {
            return read.apply(info);
        }
    }

    // ---- test knobs ----

    /** A driver bug on purpose: the next unmap flush leaves out one invalidation of {@code kind}. */
    void skipNextInvalidation(Invalidation kind) {
        switch (kind) {
            case IOTLB: skipIotlb.incrementAndGet(); break;
            case DEVICE_TLB: skipDeviceTlb.incrementAndGet(); break;
            default: skipTeardownDeviceTlb.incrementAndGet(); break;
        }
    }

    /** A driver bug on purpose (S19): detaching an IOPF-capable domain forgets its IOPF reference. */
    void leakIopfRefcount(boolean v) {
        this.leakIopfRefcount = v;
    }

    private static boolean take(AtomicInteger counter) {
        while (true) {
            int n = counter.get();
            if (n == 0) {
                return false;
            }
            if (counter.compareAndSet(n, n - 1)) {
                return true;
            }
        }
    }

    // ------------------------------------------------------------------------------------------
    // iommu_ops
    // ------------------------------------------------------------------------------------------

    /** intel_iommu_capable. */
    private boolean capable(Device dev, IommuCap cap) {
        DeviceInfo info = infos.get(dev);
        switch (cap) {
            case CACHE_COHERENCY:
            case DEFERRED_FLUSH:
                return true;
            case ENFORCE_CACHE_COHERENCY:
                return info != null && (info.iommu.scalable || info.iommu.snoopControl);
            default:
                return false;
        }
    }

    /** device_def_domain_type: without pass-through hardware every device needs a DMA domain. */
    private DomainType defDomainType(Device dev) {
        DeviceInfo info = infos.get(dev);
        if (info != null && !info.iommu.passThrough) {
            return DomainType.DMA;
        }
        return null;
    }

    // ------------------------------------------------------------------------------------------
    // Device features (S01, S02)
    // ------------------------------------------------------------------------------------------

    /**
     * What the hardware behind the device can do (intel_iommu_dev_has_feat, v5.x): AUX needs a
     * scalable-mode unit with PASIDs and a PASID-capable PCI function (S02); SVA also first-level
     * translation (ECAP.FLTS), ATS and PRI (VTD_FLAG_SVM_CAPABLE, pasid/pri/ats supported); IOPF
     * needs PRI. Holds the unit's lock.
     */
    private static boolean hardwareHas(DeviceInfo info, DevFeature f) {
        switch (f) {
            case AUX:
                return info.pasidSupported;
            case SVA:
                return info.pasidSupported && info.iommu.firstLevel && info.atsSupported && info.priSupported;
            default:
                return info.priSupported;
        }
    }

    private boolean devHasFeat(Device dev, DevFeature f) {
        return locked(dev, false, info -> hardwareHas(info, f));
    }

    private boolean devFeatEnabled(Device dev, DevFeature f) {
        return locked(dev, false, info -> info.features.contains(f));
    }

    /**
     * intel_iommu_dev_enable_feat: -ENODEV for a device the driver does not have, -EINVAL when
     * the hardware behind it cannot do it (intel_iommu_enable_auxd on a legacy-mode unit, S01).
     */
    private int devEnableFeat(Device dev, DevFeature f) {
        DeviceInfo info = infos.get(dev);
        if (info == null) {
            return Errno.ENODEV.neg();
        }
        synchronized (info.iommu.lock) {
            if (!hardwareHas(info, f)) {
                return Errno.EINVAL.neg();
            }
            info.features.add(f);
            return 0;
        }
    }

    /** intel_iommu_dev_disable_feat: -EINVAL when not enabled; IOPF stays while SVA relies on it (-EBUSY). */
    private int devDisableFeat(Device dev, DevFeature f) {
        DeviceInfo info = infos.get(dev);
        if (info == null) {
            return Errno.ENODEV.neg();
        }
        synchronized (info.iommu.lock) {
            if (!info.features.contains(f)) {
                return Errno.EINVAL.neg();
            }
            if (f == DevFeature.IOPF && info.features.contains(DevFeature.SVA)) {
                return Errno.EBUSY.neg();
            }
            info.features.remove(f);
            return 0;
        }
    }

    /** pci_device_group for PCI functions (the driver covers nothing else). */
    private GroupRef deviceGroup(Device dev) {
        return dev instanceof PciDevice ? core.pciDeviceGroup(dev) : core.genericDeviceGroup(dev);
    }

    /** intel_iommu_get_resv_regions: the device's RMRRs, then the MSI window every device has. */
    private List<ResvRegion> getResvRegions(Device dev) {
        List<ResvRegion> out = new ArrayList<>(rmrrs.getOrDefault(dev, List.of()));
        out.add(new ResvRegion(MSI_RANGE_START, MSI_RANGE_LENGTH, 0, ResvType.MSI));
        return out;
    }

    /**
     * intel_iommu_probe_device: the device's state, and in scalable mode its PASID table and the
     * context entry of each of its aliases (intel_pasid_setup_sm_context), then ATS.
     */
    private IommuDevice probeDevice(Device dev) {
        VtdIommu u = unitFor(dev);
        if (u == null) {
            throw new IommuException(Errno.ENODEV, NAME + ": no DMA-remapping unit covers " + dev);
        }
        if (infos.containsKey(dev)) {
            throw new IommuException(Errno.EBUSY, NAME + ": " + dev + " is already probed");
        }
        if (core.shouldFailAlloc("intel_iommu_probe_device " + dev)) {
            throw new IommuException(Errno.ENOMEM, NAME + ": no memory for the state of " + dev);
        }
        PciDevice p = (PciDevice) dev;
        List<DmaAlias> aliasList = p.topology() != null ? p.topology().dmaAliases(p)
                : List.of(new DmaAlias(p, p.requesterId()));
        int[] aliases = aliasList.stream().mapToInt(DmaAlias::requesterId).distinct().toArray();
        boolean ats = u.deviceTlb && p.hasAts();
        boolean pasid = u.scalable && u.maxPasids > 0 && p.pasidBits() > 0;
        // pri_supported: a unit with a page request queue (ECAP.PRS, PDS), scalable mode, and only
        // on top of ATS (a page request asks for a translation the device then caches; PCIe gives
        // PRI only with ATS): intel_iommu_probe_device, docs/driver-vtd.md 8.
        boolean pri = u.scalable && u.prq != null && ats && p.hasPri();
        DeviceInfo info = new DeviceInfo(p, u, aliases, ats, pasid, pri);
        synchronized (u.lock) {
            if (u.scalable) {
                allocPasidTable(info);
                if (!setupScalableContexts(info)) {
                    freePasidTable(info);
                    throw new IommuException(Errno.ENOMEM, NAME + ": no memory for the context tables of " + dev);
                }
                if (info.atsSupported) {
                    enableAts(info);
                }
            } else {
                adoptLegacyContexts(info);
            }
            infos.put(dev, info);
        }
        return u.iommuDevice;
    }

    /**
     * intel_pasid_alloc_table: a directory of max_pasid / 64 entries, max_pasid = min(device,
     * unit) PASIDs (a device without PASID gets one page, as Linux), rounded to a power-of-two
     * number of pages.
     */
    private void allocPasidTable(DeviceInfo info) {
        VtdIommu u = info.iommu;
        int devMax = info.pasidSupported ? Math.min(info.pdev.maxPasids(), u.maxPasids) : 0;
        long bytes = (long) devMax >>> 3; // 8-byte directory entries of 64 PASIDs each
        int order = bytes <= 4096 ? 0 : 64 - Long.numberOfLeadingZeros(bytes - 1) - 12;
        RetainedTables kept = retained.remove(key(u, info.sid));
        if (kept != null && kept.order == order) {
            info.pasidDir = kept.dir;
            info.pasidTables.putAll(kept.tables);
        } else {
            if (kept != null) {
                freeTables(kept.dir, kept.tables);
            }
            long dir = frames.alloc(order);
            if (dir < 0) {
                throw new IommuException(Errno.ENOMEM, NAME + ": no memory for the PASID directory of " + info.dev);
            }
            info.pasidDir = dir;
        }
        info.pasidDirOrder = order;
        info.maxPasid = 1 << (order + 12 + 3);
        info.pdts = VtdEncoder.pdtsFor(info.maxPasid);
    }

    private void freePasidTable(DeviceInfo info) {
        freeTables(info.pasidDir, info.pasidTables);
        info.pasidTables.clear();
        info.pasidDir = 0;
    }

    private void freeTables(long dir, Map<Integer, Long> tables) {
        for (long t : tables.values()) {
            frames.free(t);
        }
        frames.free(dir);
    }

    /**
     * Points the context entry of each alias at the device's PASID directory (present bit last).
     * An alias another device already set up keeps that device's directory (Linux skips a present
     * context entry). A not-present to present change needs no invalidation unless the unit
     * caches not-present entries (caching mode, domain 0). Holds the unit's lock.
     *
     * @return false when a context table could not be allocated
     */
    private boolean setupScalableContexts(DeviceInfo info) {
        VtdIommu u = info.iommu;
        for (int alias : info.aliases) {
            if (u.contextEntryAddress(alias, true) == 0) {
                return false;
            }
        }
        for (int alias : info.aliases) {
            long a = u.contextEntryAddress(alias, false);
            long[] cur = u.readEntry(a, 4);
            if ((cur[0] & 1) != 0) {
                if ((cur[0] & ~0xFFFL) == info.pasidDir && alias == info.sid) {
                    // Re-probe of a device whose tables were kept: its RID_PASID entry is pass-through.
                    adoptRetainedPasidEntry(info);
                }
                continue;
            }
            u.writeEntry(a, scalableContext(info, true));
            if (u.cachingMode) {
                u.queue.submit(List.of(u.contextDevice(0, alias), u.iotlbDomain(0)));
            }
        }
        return true;
    }

    private long[] scalableContext(DeviceInfo info, boolean present) {
        return VtdEncoder.scalableContextEntry(info.pasidDir, info.pdts, 0, info.atsSupported, info.pasidSupported,
                info.priSupported, present);
    }

    private void adoptRetainedPasidEntry(DeviceInfo info) {
        long a = pasidEntryAddress(info, 0, false);
        if (a != 0 && (info.iommu.mem.readLong(a) & 1) != 0) {
            info.ridDomain = identityDomain;
        }
    }

    /** Legacy re-probe: a context left in pass-through by a release onto identity is the device's state. */
    private void adoptLegacyContexts(DeviceInfo info) {
        VtdIommu u = info.iommu;
        long a = u.contextEntryAddress(info.sid, false);
        if (a != 0) {
            long lo = u.mem.readLong(a);
            if ((lo & 1) != 0 && ((lo >>> 2) & 3) == VtdEncoder.TT_PASS_THROUGH) {
                info.ridDomain = identityDomain;
            }
        }
    }

    /** Tables of a device released while parked on identity, kept so its direct mappings keep working. */
    private record RetainedTables(long dir, int order, Map<Integer, Long> tables) {
    }

    private record RetainedKey(VtdIommu unit, int sid) {
    }

    private final Map<RetainedKey, RetainedTables> retained = new ConcurrentHashMap<>();

    private static RetainedKey key(VtdIommu u, int sid) {
        return new RetainedKey(u, sid);
    }

    /**
     * intel_iommu_release_device. The release domain (blocked, or identity for a device with
     * direct mappings) is attached already. ATS goes off; in scalable mode the context entries
     * of the device's aliases are torn down and its PASID table freed (intel_pasid_teardown_sm_context)
     * unless the device was parked on identity: then its entries and tables stay, so the RMRR
     * ranges stay reachable after removal (SEED-POINTS S18; a decision, docs/driver-vtd.md).
     */
    private void releaseDevice(Device dev) {
        DeviceInfo info = infos.get(dev);
        if (info == null) {
            return;
        }
        VtdIommu u = info.iommu;
        synchronized (u.lock) {
            if (info.ridDomain instanceof VtdDomain) {
                warnings.warn("intel_iommu_release_device", dev + " released while attached to " + info.ridDomain
                        + ": blocking it");
                blockTranslation(info);
            }
            for (int pasid : new ArrayList<>(info.pasids.keySet())) {
                removeDevPasid(info, pasid);
            }
            if (info.iopfRefcount != 0) {
                warnings.warn("intel_iommu_release_device", dev + " released with iopf_refcount " + info.iopfRefcount);
            }
            disableAts(info);
            if (u.scalable) {
                if (info.ridDomain == identityDomain) {
                    retained.put(key(u, info.sid), new RetainedTables(info.pasidDir, info.pasidDirOrder,
                            Map.copyOf(info.pasidTables)));
                } else {
                    teardownScalableContexts(info);
                    freePasidTable(info);
                }
            }
            infos.remove(dev);
        }
    }

    /**
     * Clears (or hands over) the context entries that point at this device's PASID directory: an
     * alias another probed device shares is re-pointed at that device's directory instead of
     * going dark. Holds the unit's lock.
     */
    private void teardownScalableContexts(DeviceInfo info) {
        VtdIommu u = info.iommu;
        for (int alias : info.aliases) {
            long a = u.contextEntryAddress(alias, false);
            if (a == 0) {
                continue;
            }
            long[] cur = u.readEntry(a, 4);
            if ((cur[0] & 1) == 0 || (cur[0] & ~0xFFFL) != info.pasidDir) {
                continue;
            }
            clearContextEntry(info, alias, a, cur, 0);
            DeviceInfo heir = otherUser(info, alias, false);
            if (heir != null) {
                u.writeEntry(a, scalableContext(heir, true));
            }
        }
    }

    /** Another device probed on the same unit with {@code alias}; with {@code attached}, only one that has a domain. */
    private DeviceInfo otherUser(DeviceInfo info, int alias, boolean attached) {
        for (DeviceInfo o : infos.values()) {
            if (o != info && o.iommu == info.iommu && o.hasAlias(alias)
                    && (!attached || (o.ridDomain != null && o.ridDomain != blockedDomain))) {
                return o;
            }
        }
        return null;
    }

    // ------------------------------------------------------------------------------------------
    // Domain allocation
    // ------------------------------------------------------------------------------------------

    private IommuDomain domainAllocPaging(Device dev) {
        return allocPaging(dev, 0);
    }

    private IommuDomain domainAllocPagingFlags(Device dev, int flags) {
        return allocPaging(dev, flags);
    }

    /**
     * intel_iommu_domain_alloc_second_stage: a second-level table of the unit's AGAW (39, 48 or
     * 57 bits), its superpage sizes, the aperture the table covers. Flags: PASID is accepted
     * (second-stage domains can serve PASIDs); nesting parents and dirty tracking are not
     * modelled (-EOPNOTSUPP).
     */
    private IommuDomain allocPaging(Device dev, int flags) {
        DeviceInfo info = infos.get(dev);
        if (info == null) {
            throw new IommuException(Errno.ENODEV, NAME + ": " + dev + " is not probed by this driver");
        }
        if ((flags & ~AllocFlags.PASID) != 0) {
            throw new IommuException(Errno.EOPNOTSUPP, String.format("%s: allocation flags %#x not supported", NAME,
                    flags & ~AllocFlags.PASID));
        }
        VtdIommu u = info.iommu;
        if (!u.secondLevel) {
            throw new IommuException(Errno.EOPNOTSUPP, NAME + ": " + u + " has no second-level translation");
        }
        if (core.shouldFailAlloc("intel_iommu_domain_alloc_paging")) {
            throw new IommuException(Errno.ENOMEM, NAME + ": no memory for a domain");
        }
        long sizes = X86RadixPageTable.SZ_4K | (u.superpage2M ? X86RadixPageTable.SZ_2M : 0)
                | (u.superpage1G ? X86RadixPageTable.SZ_1G : 0);
        int width = VtdIommu.agawToWidth(u.agaw);
        VtdSecondLevelPageTable table = (VtdSecondLevelPageTable) IoPageTables.alloc(PgtableFormat.VTD_SECOND_LEVEL,
                IoPgtableCfg.builder(frames).ias(width).pgsizeBitmap(sizes).warnings(warnings).build(), TlbOps.NONE);
        int aperture = Math.min(width, u.mgaw);
        VtdDomain d = new VtdDomain(this, pagingOps, table, aperture);
        d.setPgsizeBitmap(table.pgsizeBitmap());
        d.setGeometry(Geometry.ofBits(aperture));
        // Tables a map replaces by a large leaf go back only after the caches forgot them.
        table.setTlb(TlbOps.syncing(g -> {
            if (!g.isEmpty()) {
                flushRange(d, g.start, g.end);
            }
            table.releaseFreelist(g);
        }));
        return d;
    }

    /**
     * intel_svm_domain_alloc: an SVA domain sharing the process's first-level table, with an mmu
     * notifier registered on the mm so that PTE changes reach the IOTLB and the device TLBs
     * (intel_arch_invalidate_secondary_tlbs). -ENODEV for a device the driver does not have;
     * -ENOMEM (fail_nth).
     */
    private IommuDomain domainAllocSva(Device dev, MmStruct mm) {
        if (infos.get(dev) == null) {
            throw new IommuException(Errno.ENODEV, NAME + ": " + dev + " is not probed by this driver");
        }
        if (core.shouldFailAlloc("intel_svm_domain_alloc")) {
            throw new IommuException(Errno.ENOMEM, NAME + ": no memory for an SVA domain");
        }
        VtdDomain d = new VtdDomain(this, svaOps, mm);
        d.notifier = (m, start, end) -> {
            if (Long.compareUnsigned(end, start) > 0) {
                flushRange(d, start, end - 1); // intel_arch_invalidate_secondary_tlbs: end is exclusive
            }
        };
        mm.mmuNotifierRegister(d.notifier);
        return d;
    }

    // ------------------------------------------------------------------------------------------
    // attach_dev
    // ------------------------------------------------------------------------------------------

    private DeviceInfo info(Device dev) {
        return infos.get(dev);
    }

    private boolean ours(IommuDomain d) {
        return d == identityDomain || d == blockedDomain || (d instanceof VtdDomain && ((VtdDomain) d).driver == this);
    }

    /**
     * The core hands the driver the domain the device is leaving (S20): compare it with what this
     * driver programmed, and say so when they differ. Holds the unit's lock.
     */
    private void checkOld(DeviceInfo info, IommuDomain old, String op) {
        IommuDomain hw = info.ridDomain;
        if (old != null && hw != null && old != hw) {
            warnings.warn(NAME + " " + op, info.dev + ": core says the old domain is " + old
                    + " but the hardware is programmed for " + hw);
        }
    }

    private int attachDev(IommuDomain domain, Device dev, IommuDomain old) {
        DeviceInfo info = info(dev);
        if (info == null) {
            return Errno.ENODEV.neg();
        }
        if (!ours(domain) || domain.isFreed() || (domain instanceof VtdDomain && ((VtdDomain) domain).freedByDriver)) {
            return Errno.EINVAL.neg();
        }
        VtdIommu u = info.iommu;
        synchronized (u.lock) {
            checkOld(info, old, "attach_dev");
            if (domain == blockedDomain) {
                return attachBlocked(info);
            }
            if (domain == identityDomain) {
                return attachIdentity(info);
            }
            if (((VtdDomain) domain).mm != null) {
                return Errno.EINVAL.neg(); // an SVA domain only goes on PASIDs
            }
            return attachPaging((VtdDomain) domain, info);
        }
    }

    /** blocking_domain_attach_dev: tear the entries down (device_block_translation). */
    private int attachBlocked(DeviceInfo info) {
        blockTranslation(info);
        info.ridDomain = blockedDomain;
        checkIopfIdle(info);
        return 0;
    }

    /**
     * identity_domain_attach_dev: a pass-through context entry per alias (legacy, TT = 2, DID 1,
     * AW = the widest SAGAW) or a pass-through RID_PASID entry (scalable, PGTT = 4, DID 1).
     */
    private int attachIdentity(DeviceInfo info) {
        VtdIommu u = info.iommu;
        if (info.ridDomain == identityDomain) {
            return 0;
        }
        if (!u.passThrough) {
            return Errno.EINVAL.neg();
        }
        int r = prepareEntries(info, 0);
        if (r != 0) {
            return r;
        }
        blockTranslation(info);
        if (u.scalable) {
            setupPasidEntry(info, 0, VtdEncoder.passThroughPasidEntry(u.agaw, VtdIommu.FLPT_DEFAULT_DID,
                    u.pageWalkSnoop, true), VtdIommu.FLPT_DEFAULT_DID);
        } else {
            long[] e = VtdEncoder.contextEntry(VtdEncoder.TT_PASS_THROUGH, 0, u.msagaw, VtdIommu.FLPT_DEFAULT_DID, true);
            for (int alias : info.aliases) {
                programContext(info, alias, e, VtdIommu.FLPT_DEFAULT_DID);
            }
        }
        info.ridDomain = identityDomain;
        checkIopfIdle(info);
        return 0;
    }

    /** S19: on a blocked or identity domain with no PASID attached the IOPF count must be zero. */
    private void checkIopfIdle(DeviceInfo info) {
        if (info.pasids.isEmpty() && info.iopfRefcount != 0) {
            warnings.warn(NAME + " attach_dev", info.dev + " on " + info.ridDomain + " with no PASIDs still has "
                    + "iopf_refcount " + info.iopfRefcount);
        }
    }

    /**
     * paging_domain_compatible: the unit must take the domain's table as it is (its AGAW in SAGAW,
     * its superpage sizes, second-level support in scalable mode); else -EINVAL and nothing
     * changes.
     */
    private int compatible(VtdDomain d, VtdIommu u) {
        if (!u.secondLevel) {
            return Errno.EINVAL.neg();
        }
        if ((u.sagaw & (1 << d.pgtable.aw())) == 0) {
            return Errno.EINVAL.neg();
        }
        long sizes = d.pgsizeBitmap();
        if ((sizes & X86RadixPageTable.SZ_2M) != 0 && !u.superpage2M) {
            return Errno.EINVAL.neg();
        }
        if ((sizes & X86RadixPageTable.SZ_1G) != 0 && !u.superpage1G) {
            return Errno.EINVAL.neg();
        }
        return 0;
    }

    /**
     * intel_iommu_attach_device + dmar_domain_attach_device. Unlike Linux, which blocks the device
     * first, every check and allocation (compatibility, tables, the domain id) happens before the
     * old entry is touched, so a failed attach leaves the device as it was (SEMANTICS.md 2.7).
     */
    private int attachPaging(VtdDomain d, DeviceInfo info) {
        VtdIommu u = info.iommu;
        if (info.ridDomain == d) {
            return 0;
        }
        int r = compatible(d, u);
        if (r != 0) {
            return r;
        }
        int iopf = iopfEnableForAttach(info, d);
        if (iopf < 0) {
            return iopf;
        }
        boolean iopfAdded = iopf == 1;
        r = prepareEntries(info, 0);
        if (r == 0) {
            r = domainAttachIommu(d, u);
        }
        if (r != 0) {
            if (iopfAdded) {
                disableIopf(info);
            }
            return r;
        }
        blockTranslation(info);
        int did = d.domainId(u);
        VtdSecondLevelPageTable t = d.pgtable;
        if (u.scalable) {
            setupPasidEntry(info, 0, VtdEncoder.secondLevelPasidEntry(t.root(), t.aw(), did, u.pageWalkSnoop, true),
                    did);
        } else {
            int tt = info.atsSupported ? VtdEncoder.TT_DEV_IOTLB : VtdEncoder.TT_MULTI_LEVEL;
            long[] e = VtdEncoder.contextEntry(tt, t.root(), t.aw(), did, true);
            for (int alias : info.aliases) {
                programContext(info, alias, e, did);
            }
            // ATS only once every context entry is in place (domain_context_mapping).
            if (info.atsSupported) {
                enableAts(info);
            }
        }
        assignTag(d, info, 0);
        if (d.iopfCapable()) {
            info.iopfRefcount++;
        }
        info.ridDomain = d;
        return 0;
    }

    /**
     * Allocates what a new entry for {@code pasid} will need (context tables of every alias in
     * legacy mode, the PASID-table page in scalable mode) so that nothing can fail once the old
     * entry is gone. Holds the unit's lock.
     */
    private int prepareEntries(DeviceInfo info, int pasid) {
        VtdIommu u = info.iommu;
        if (u.scalable) {
            return pasidEntryAddress(info, pasid, true) == 0 ? Errno.ENOMEM.neg() : 0;
        }
        for (int alias : info.aliases) {
            if (u.contextEntryAddress(alias, true) == 0) {
                return Errno.ENOMEM.neg();
            }
        }
        return 0;
    }

    /**
     * domain_attach_iommu: the domain's id on the unit, allocated on its first attachment there.
     * An SVA domain allocates no id: every first-level SVA entry carries FLPT_DEFAULT_DID (cache.c
     * domain_get_id_for_dev, intel_svm_set_dev_pasid), its IOTLB entries being told apart by PASID;
     * the reference only records that the domain has PASIDs behind the unit. Holds the unit's lock.
     */
    private int domainAttachIommu(VtdDomain d, VtdIommu u) {
        synchronized (d.lock) {
            VtdDomain.UnitRef ref = d.units.get(u);
            if (ref != null) {
                ref.refcnt++;
                return 0;
            }
        }
        if (core.shouldFailAlloc(d.mm != null ? "intel_svm_set_dev_pasid" : "domain_attach_iommu")) {
            return Errno.ENOMEM.neg();
        }
        int did = d.mm != null ? VtdIommu.FLPT_DEFAULT_DID : u.allocDomainId();
        if (did < 0) {
            warnings.warn("domain_attach_iommu", u + ": No free domain ids");
            return Errno.ENOSPC.neg();
        }
        VtdDomain.UnitRef ref = new VtdDomain.UnitRef(did);
        ref.refcnt = 1;
        synchronized (d.lock) {
            d.units.put(u, ref);
        }
        return 0;
    }

    /** domain_detach_iommu: the id goes back to the unit with the domain's last attachment there. Holds the unit's lock. */
    private void domainDetachIommu(VtdDomain d, VtdIommu u) {
        int freeDid = -1;
        synchronized (d.lock) {
            VtdDomain.UnitRef ref = d.units.get(u);
            if (ref == null) {
                warnings.warn("domain_detach_iommu", d + " is not attached through " + u);
                return;
            }
            if (--ref.refcnt == 0) {
                d.units.remove(u);
                freeDid = ref.did;
            }
        }
        if (freeDid >= 0 && freeDid != VtdIommu.FLPT_DEFAULT_DID) {
            u.freeDomainId(freeDid);
        }
    }

    /** cache_tag_assign_domain: a device-TLB tag for an ATS device (the IOTLB tag is the unit's DID). */
    private void assignTag(VtdDomain d, DeviceInfo info, int pasid) {
        if (!info.atsEnabled) {
            return;
        }
        synchronized (d.lock) {
            d.devTlbTags.add(new VtdDomain.DevTlbTag(info, pasid));
        }
    }

    private void unassignTag(VtdDomain d, DeviceInfo info, int pasid) {
        synchronized (d.lock) {
            d.devTlbTags.remove(new VtdDomain.DevTlbTag(info, pasid));
        }
    }

    /**
     * device_block_translation: the device's requests without PASID reach nothing any more. Legacy:
     * each alias context cleared (unless another attached device still uses that alias) and ATS
     * off; scalable: the RID_PASID entry torn down. Then the old domain's tags and id reference
     * go. Holds the unit's lock.
     */
    private void blockTranslation(DeviceInfo info) {
        IommuDomain cur = info.ridDomain;
        if (cur == null || cur == blockedDomain) {
            return;
        }
        VtdIommu u = info.iommu;
        if (u.scalable) {
            tearDownPasidEntry(info, 0);
        } else {
            for (int alias : info.aliases) {
                if (otherUser(info, alias, true) != null) {
                    continue; // a shared alias (bridge) still serves another device of the group
                }
                long a = u.contextEntryAddress(alias, false);
                if (a != 0) {
                    long[] e = u.readEntry(a, 2);
                    if ((e[0] & 1) != 0) {
                        clearContextEntry(info, alias, a, e, (int) (e[1] >>> 8) & 0xFFFF);
                    }
                }
            }
            disableAts(info);
        }
        if (cur instanceof VtdDomain) {
            VtdDomain d = (VtdDomain) cur;
            unassignTag(d, info, 0);
            domainDetachIommu(d, u);
            if (d.iopfCapable() && !leakIopfRefcount) {
                info.iopfRefcount--;
                if (info.iopfRefcount == 0) {
                    disableIopf(info);
                }
            }
        }
        info.ridDomain = null;
    }

    /**
     * domain_context_clear_one / device_pasid_table_teardown: P cleared first, then the
     * device-selective context-cache invalidation, the domain-selective IOTLB invalidation for the
     * DID the entry carried and a global device-TLB invalidation, then the whole entry zeroed.
     * Holds the unit's lock.
     */
    private void clearContextEntry(DeviceInfo info, int alias, long address, long[] cur, int did) {
        VtdIommu u = info.iommu;
        u.mem.writeLongRelease(address, cur[0] & ~1L);
        List<long[]> batch = new ArrayList<>();
        batch.add(u.contextDevice(did, alias));
        if (!u.scalable) {
            batch.add(u.iotlbDomain(did));
        }
        if (info.atsEnabled) {
            batch.add(VtdEncoder.deviceTlbInv(info.sid, info.sid, 0, 0, VtdEncoder.DEVTLB_FLUSH_ALL));
        }
        u.queue.submit(batch);
        u.writeEntry(address, new long[cur.length]);
    }

    /**
     * domain_context_mapping_one: writes a legacy context entry present-bit last. A present entry
     * with other contents is torn down (with its invalidations) first; an identical one is left.
     * Holds the unit's lock.
     */
    private void programContext(DeviceInfo info, int alias, long[] entry, int did) {
        VtdIommu u = info.iommu;
        long a = u.contextEntryAddress(alias, true);
        long[] cur = u.readEntry(a, 2);
        if ((cur[0] & 1) != 0) {
            if (Arrays.equals(cur, entry)) {
                return;
            }
            clearContextEntry(info, alias, a, cur, (int) (cur[1] >>> 8) & 0xFFFF);
        }
        u.writeEntry(a, entry);
        // context_present_cache_flush: only caching-mode hardware caches the not-present entry (in DID 0).
        if (u.cachingMode) {
            u.queue.submit(List.of(u.contextDevice(0, alias), u.iotlbDomain(did)));
        }
    }

    // ------------------------------------------------------------------------------------------
    // PASID entries
    // ------------------------------------------------------------------------------------------

    /**
     * intel_pasid_get_entry: the address of the PASID-table entry of {@code pasid}, allocating
     * its table page (and making the directory entry present) when {@code alloc}; 0 if there is
     * none, the PASID is beyond the directory, or memory ran out. Holds the unit's lock.
     */
    private long pasidEntryAddress(DeviceInfo info, int pasid, boolean alloc) {
        if (pasid < 0 || pasid >= info.maxPasid || info.pasidDir == 0) {
            return 0;
        }
        int di = VtdEncoder.pasidDirIndex(pasid);
        Long table = info.pasidTables.get(di);
        if (table == null) {
            if (!alloc) {
                return 0;
            }
            long t = info.iommu.allocTable();
            if (t < 0) {
                return 0;
            }
            // A directory entry going present is never cached while not present: no flush.
            info.iommu.mem.writeLongRelease(info.pasidDir + 8L * di, VtdEncoder.pasidDirEntry(t));
            info.pasidTables.put(di, t);
            table = t;
        }
        return table + 64L * VtdEncoder.pasidTableIndex(pasid);
    }

    /**
     * intel_pasid_setup_second_level / _pass_through: the entry written present-bit last; only
     * caching-mode hardware needs the PASID-cache and PASID-IOTLB invalidation after it
     * (pasid_flush_caches). Holds the unit's lock.
     */
    private void setupPasidEntry(DeviceInfo info, int pasid, long[] entry, int did) {
        VtdIommu u = info.iommu;
        long a = pasidEntryAddress(info, pasid, true);
        if ((u.mem.readLong(a) & 1) != 0) {
            // The caller tore the entry down; a present one here is stale state: clear it properly.
            warnings.warn("intel_pasid_setup", info.dev + " PASID " + pasid + " entry still present");
            tearDownPasidEntry(info, pasid);
        }
        u.writeEntry(a, entry);
        if (u.cachingMode) {
            u.queue.submit(List.of(VtdEncoder.pasidCacheInv(VtdEncoder.PC_G_PASID, did, pasid),
                    VtdEncoder.pasidIotlbInv(did, pasid, 0, -1, false)));
        }
    }

    /**
     * intel_pasid_tear_down_entry: the entry cleared (P first), then a PASID-selective PASID-cache
     * invalidation with the DID it carried, a PASID-based IOTLB invalidation of the whole PASID for
     * pass-through / first-level entries or a domain-selective IOTLB invalidation for second-level
     * ones, then the device-TLB (without PASID for RID_PASID). Holds the unit's lock.
     */
    private void tearDownPasidEntry(DeviceInfo info, int pasid) {
        VtdIommu u = info.iommu;
        long a = pasidEntryAddress(info, pasid, false);
        if (a == 0) {
            return;
        }
        long[] cur = u.readEntry(a, 8);
        if ((cur[0] & 1) == 0) {
            if (cur[0] != 0) {
                u.writeEntry(a, new long[8]); // a non-present entry with FPD set: just clear it
            }
            return;
        }
        int did = (int) (cur[1] & 0xFFFF);
        int pgtt = (int) (cur[0] >>> 6) & 7;
        u.mem.writeLongRelease(a, cur[0] & ~1L);
        u.writeEntry(a, new long[8]);
        List<long[]> batch = new ArrayList<>();
        batch.add(VtdEncoder.pasidCacheInv(VtdEncoder.PC_G_PASID, did, pasid));
        if (pgtt == VtdEncoder.PGTT_PASS_THROUGH || pgtt == VtdEncoder.PGTT_FIRST_LEVEL) {
            batch.add(VtdEncoder.pasidIotlbInv(did, pasid, 0, -1, false));
        } else {
            batch.add(u.iotlbDomain(did));
        }
        if (info.atsEnabled && !(pasid != 0 && take(skipTeardownDeviceTlb))) {
            batch.add(pasid == 0
                    ? VtdEncoder.deviceTlbInv(info.sid, info.sid, 0, 0, VtdEncoder.DEVTLB_FLUSH_ALL)
                    : VtdEncoder.pasidDeviceTlbInv(info.sid, info.sid, pasid, 0, 0, VtdEncoder.DEVTLB_FLUSH_ALL));
        }
        u.queue.submit(batch);
        // intel_pasid_tear_down_entry -> intel_iommu_drain_pasid_prq: no request for this PASID is
        // left in the queue, or reported, once the teardown returns.
        if (info.iopfEnabled && u.prq != null) {
            u.prq.drain(info.sid, pasid, did, info.atsEnabled);
        }
    }

    // ------------------------------------------------------------------------------------------
    // IOPF: the device on its unit's fault queue (intel_iommu_enable_iopf / disable_iopf)
    // ------------------------------------------------------------------------------------------

    /**
     * First IOPF-capable attachment of the device: {@code iopf_queue_add_device}, the unit learns
     * where to send its responses, then PRI Enable ({@code pci_enable_pri}). Holds the unit's lock.
     */
    /**
     * Before an attachment of {@code d}: an IOPF-capable domain needs PRI (intel_iommu_enable_iopf,
     * -ENODEV without it), and the device's first IOPF-capable attachment enables page requests.
     * Returns -errno, 1 when this call enabled them (the caller's rollback disables them), else 0.
     */
    private int iopfEnableForAttach(DeviceInfo info, VtdDomain d) {
        if (!d.iopfCapable()) {
            return 0;
        }
        if (!info.priSupported) {
            return Errno.ENODEV.neg();
        }
        if (info.iopfRefcount != 0) {
            return 0;
        }
        int r = enableIopf(info);
        return r != 0 ? r : 1;
    }

    private int enableIopf(DeviceInfo info) {
        VtdIommu u = info.iommu;
        if (u.prq == null || info.iopfEnabled) {
            return 0;
        }
        int r = core.iopfQueueAddDevice(u.prq.iopfQueue, info.dev);
        if (r != 0) {
            return r;
        }
        u.prq.addDevice(info.sid, info.dev);
        Pri pri = info.pdev.pri();
        if (pri != null) {
            u.unit.registerPageResponseReceiver(info.sid, pri);
            pri.setEnabled(true);
        }
        info.iopfEnabled = true;
        return 0;
    }

    /** Last IOPF-capable attachment gone: PRI off, then {@code iopf_queue_remove_device}. Holds the unit's lock. */
    private void disableIopf(DeviceInfo info) {
        VtdIommu u = info.iommu;
        if (u.prq == null || !info.iopfEnabled) {
            return;
        }
        Pri pri = info.pdev.pri();
        if (pri != null) {
            pri.setEnabled(false);
        }
        u.prq.removeDevice(info.sid);
        core.iopfQueueRemoveDevice(u.prq.iopfQueue, info.dev);
        u.unit.unregisterPageResponseReceiver(info.sid);
        info.iopfEnabled = false;
    }

    /** {@code intel_iommu_page_response}: a page group response descriptor and a wait. */
    private void pageResponse(Device dev, IopfFault last, PageResponse msg) {
        DeviceInfo info = infos.get(dev);
        if (info == null || info.iommu.prq == null) {
            warnings.warn("intel_iommu_page_response", "page response for " + dev + ", which has no page request queue");
            return;
        }
        info.iommu.prq.pageResponse(info.sid, last, msg);
    }

    // ------------------------------------------------------------------------------------------
    // set_dev_pasid (second-level and pass-through PASID entries)
    // ------------------------------------------------------------------------------------------

    /**
     * set_dev_pasid of the three kinds of domain: the blocked domain removes the PASID
     * (blocking_domain_set_dev_pasid), the identity domain sets a pass-through entry, a paging
     * domain a second-level entry (intel_iommu_set_dev_pasid); {@code old} is torn down first
     * and its tags and id reference dropped after. Scalable mode only (-EOPNOTSUPP otherwise).
     */
    private int setDevPasid(IommuDomain domain, Device dev, int pasid, IommuDomain old) {
        DeviceInfo info = info(dev);
        if (info == null) {
            return Errno.ENODEV.neg();
        }
        if (!ours(domain) || (domain instanceof VtdDomain && ((VtdDomain) domain).freedByDriver)) {
            return Errno.EINVAL.neg();
        }
        VtdIommu u = info.iommu;
        synchronized (u.lock) {
            IommuDomain cur = info.pasids.get(pasid);
            if (old != null && cur != null && old != cur) {
                warnings.warn(NAME + " set_dev_pasid", dev + " PASID " + pasid + ": core says the old domain is "
                        + old + " but the hardware is programmed for " + cur);
            }
            if (domain == blockedDomain) {
                removeDevPasid(info, pasid);
                return 0;
            }
            if (pasid == 0 || !info.pasidSupported) {
                return Errno.EOPNOTSUPP.neg();
            }
            if (pasid >= info.maxPasid || pasid >= info.pdev.maxPasids()) {
                return Errno.ENODEV.neg();
            }
            if (cur == domain) {
                return 0;
            }
            int r = prepareEntries(info, pasid);
            if (r != 0) {
                return r;
            }
            if (domain == identityDomain) {
                if (!u.passThrough) {
                    return Errno.EOPNOTSUPP.neg();
                }
                removeDevPasid(info, pasid);
                setupPasidEntry(info, pasid, VtdEncoder.passThroughPasidEntry(u.agaw, VtdIommu.FLPT_DEFAULT_DID,
                        u.pageWalkSnoop, true), VtdIommu.FLPT_DEFAULT_DID);
                info.pasids.put(pasid, identityDomain);
                return 0;
            }
            VtdDomain d = (VtdDomain) domain;
            boolean fiveLevel = d.mm != null && d.mm.levels() == 5;
            if (d.mm != null) {
                // intel_pasid_setup_first_level: the unit must walk x86-64 tables of the mm's depth.
                if (!u.firstLevel || (fiveLevel && !u.firstLevel5Level)) {
                    return Errno.EINVAL.neg();
                }
            } else {
                r = compatible(d, u);
                if (r != 0) {
                    return r;
                }
            }
            int iopf = iopfEnableForAttach(info, d);
            if (iopf < 0) {
                return iopf;
            }
            boolean iopfAdded = iopf == 1;
            r = domainAttachIommu(d, u);
            if (r != 0) {
                if (iopfAdded) {
                    disableIopf(info);
                }
                return r;
            }
            removeDevPasid(info, pasid);
            int did = d.domainId(u);
            long[] entry;
            if (d.mm != null) {
                entry = VtdEncoder.firstLevelPasidEntry(d.mm.pgd().root(), fiveLevel, u.agaw, did, u.pageWalkSnoop,
                        true);
            } else {
                VtdSecondLevelPageTable t = d.pgtable;
                entry = VtdEncoder.secondLevelPasidEntry(t.root(), t.aw(), did, u.pageWalkSnoop, true);
            }
            setupPasidEntry(info, pasid, entry, did);
            assignTag(d, info, pasid);
            if (d.mm != null) {
                synchronized (d.lock) {
                    d.pasidTags.add(new VtdDomain.PasidTag(info, pasid));
                }
            }
            if (d.iopfCapable()) {
                info.iopfRefcount++;
            }
            info.pasids.put(pasid, d);
            return 0;
        }
    }

    /** Tears a PASID entry down and drops the domain's tag and id reference (domain_remove_dev_pasid). Holds the unit's lock. */
    private void removeDevPasid(DeviceInfo info, int pasid) {
        IommuDomain cur = info.pasids.remove(pasid);
        if (cur == null) {
            return;
        }
        tearDownPasidEntry(info, pasid);
        if (cur instanceof VtdDomain) {
            VtdDomain d = (VtdDomain) cur;
            unassignTag(d, info, pasid);
            synchronized (d.lock) {
                d.pasidTags.remove(new VtdDomain.PasidTag(info, pasid));
            }
            domainDetachIommu(d, info.iommu);
            if (d.iopfCapable() && !leakIopfRefcount) {
                info.iopfRefcount--;
                if (info.iopfRefcount == 0) {
                    disableIopf(info);
                }
            }
        }
    }

    // ------------------------------------------------------------------------------------------
    // ATS
    // ------------------------------------------------------------------------------------------

    /** iommu_enable_pci_ats. Holds the unit's lock. */
    private void enableAts(DeviceInfo info) {
        if (info.atsEnabled || !info.atsSupported) {
            return;
        }
        int r = info.pdev.atsEnabled() ? 0 : info.pdev.enableAts(12);
        if (r == 0) {
            info.atsEnabled = true;
        } else {
            warnings.warn("iommu_enable_pci_ats", info.dev + ": Failed to enable ATS on device (" + r + ")");
        }
    }

    /** iommu_disable_pci_ats. Holds the unit's lock. */
    private void disableAts(DeviceInfo info) {
        if (!info.atsEnabled) {
            return;
        }
        info.pdev.disableAts();
        info.atsEnabled = false;
    }

    // ------------------------------------------------------------------------------------------
    // Map, unmap, invalidation (cache.c)
    // ------------------------------------------------------------------------------------------

    private int mapPages(IommuDomain dom, long iova, long paddr, long pgsize, long pgcount, int prot, Mapped mapped) {
        return ((VtdDomain) dom).pgtable.mapPages(iova, paddr, pgsize, pgcount, prot, mapped);
    }

    private long unmapPages(IommuDomain dom, long iova, long pgsize, long pgcount, IotlbGather gather) {
        return ((VtdDomain) dom).pgtable.unmapPages(iova, pgsize, pgcount, gather);
    }

    /**
     * intel_iommu_iotlb_sync_map: needed only where a unit caches not-present entries (caching
     * mode) or needs its write buffer flushed (RWBF); the modelled units do neither.
     */
    private int iotlbSyncMap(IommuDomain dom, long iova, long size) {
        VtdDomain d = (VtdDomain) dom;
        boolean needed;
        synchronized (d.lock) {
            needed = d.units.keySet().stream().anyMatch(u -> u.cachingMode || u.writeBufferFlush);
        }
        if (needed && size != 0) {
            flushRange(d, iova, iova + size - 1);
        }
        return 0;
    }

    /** intel_iommu_tlb_sync: invalidate what the unmap gathered, then free the table pages it took out. */
    private void iotlbSync(IommuDomain dom, IotlbGather gather) {
        VtdDomain d = (VtdDomain) dom;
        if (!gather.isEmpty()) {
            flushRange(d, gather.start, gather.end);
        }
        d.pgtable.releaseFreelist(gather);
    }

    /** intel_flush_iotlb_all: every unit's domain-selective IOTLB invalidation and every ATC in full. */
    private void flushIotlbAll(IommuDomain dom) {
        flush((VtdDomain) dom, 0, -1L, true, false);
    }

    /** cache_tag_flush_range for [start, last] (last inclusive). */
    void flushRange(VtdDomain d, long start, long last) {
        flush(d, start, last, false, true);
    }

    /**
     * The invalidation fan-out (cache_tag_flush_range / cache_tag_flush_all): for each unit the
     * domain is attached through, its IOTLB descriptors, then the device-TLB descriptors of the
     * domain's ATS devices behind that unit (PASID-based for a PASID attachment), then the wait.
     * The range is the smallest aligned power-of-two range covering [start, last]. IOTLB: for a
     * second-level domain one descriptor for its DID (page-selective, domain-selective when the
     * unit lacks PSI or the mask exceeds MAMV, cache_tag_flush_iotlb); for an SVA domain one
     * PASID-based descriptor per (DID, PASID) it is attached with there (page-selective within the
     * PASID, all of the PASID when the range exceeds MAMV; intel_domain_use_piotlb), since the unit
     * tags first-level translations with the PASID. The domain's lock is held throughout, so no
     * device can join or leave in between.
     */
    private void flush(VtdDomain d, long start, long last, boolean all, boolean knobs) {
        long[] range = psiRange(start, last, all);
        long addr = range[0];
        int mask = (int) range[1];
        synchronized (d.lock) {
            for (Map.Entry<VtdIommu, VtdDomain.UnitRef> e : d.units.entrySet()) {
                VtdIommu u = e.getKey();
                int did = e.getValue().did;
                List<long[]> batch = new ArrayList<>();
                if (d.mm != null) {
                    addPasidIotlbInvalidations(d, u, did, addr, mask, all, batch);
                } else if (!(knobs && take(skipIotlb))) {
                    if (all || !u.pageSelective || mask > u.maxAddressMask) {
                        batch.add(u.iotlbDomain(did));
                    } else {
                        batch.add(VtdEncoder.iotlbInv(VtdEncoder.G_DEVICE_OR_PAGE, did, addr, mask, false,
                                u.drainWrites, u.drainReads));
                    }
                }
                addDeviceTlbInvalidations(d, u, addr, mask, knobs, batch);
                if (!batch.isEmpty() || d.mm == null) {
                    u.queue.submit(batch);
                }
            }
        }
    }

    /** One PASID-based IOTLB descriptor per PASID the SVA domain has behind {@code u}. Holds the domain's lock. */
    private void addPasidIotlbInvalidations(VtdDomain d, VtdIommu u, int did, long addr, int mask, boolean all,
                                            List<long[]> batch) {
        Set<Integer> pasids = new HashSet<>();
        for (VtdDomain.PasidTag t : d.pasidTags) {
            if (t.info().iommu != u || !pasids.add(t.pasid()) || take(skipIotlb)) {
                continue;
            }
            boolean whole = all || mask >= VtdEncoder.DEVTLB_FLUSH_ALL || mask > u.maxAddressMask;
            batch.add(whole ? VtdEncoder.pasidIotlbInv(did, t.pasid(), 0, -1, false)
                    : VtdEncoder.pasidIotlbInv(did, t.pasid(), addr, 1L << mask, false));
        }
    }

    /** The device-TLB descriptors of the domain's ATS devices behind {@code u}. Holds the domain's lock. */
    private void addDeviceTlbInvalidations(VtdDomain d, VtdIommu u, long addr, int mask, boolean knobs,
                                           List<long[]> batch) {
        for (VtdDomain.DevTlbTag t : d.devTlbTags) {
            if (t.info().iommu != u || (knobs && take(skipDeviceTlb))) {
                continue;
            }
            DeviceInfo info = t.info();
            batch.add(t.pasid() == 0
                    ? VtdEncoder.deviceTlbInv(info.sid, info.sid, 0, addr, mask)
                    : VtdEncoder.pasidDeviceTlbInv(info.sid, info.sid, t.pasid(), 0, addr, mask));
        }
    }

    /**
     * calculate_psi_aligned_address: the smallest naturally aligned power-of-two range of pages
     * containing [start, last], as {address, mask} (mask = log2 pages; DEVTLB_FLUSH_ALL for all).
     */
    private static long[] psiRange(long start, long last, boolean all) {
        int mask;
        long addr;
        if (all) {
            mask = VtdEncoder.DEVTLB_FLUSH_ALL;
            addr = 0;
        } else {
            long pfn = start >>> 12;
            long pages = (last >>> 12) - pfn + 1;
            long aligned = pages <= 1 ? 1 : Long.highestOneBit(pages - 1) << 1;
            if (aligned <= 0) {
                aligned = Long.MIN_VALUE; // 2^63 pages: beyond any table
            }
            long bitmask = aligned - 1;
            mask = Long.numberOfTrailingZeros(aligned);
            if ((bitmask & pfn) != 0) {
                // Not aligned to its own size: widen until pfn and the end share the high bits.
                long endPfn = pfn + pages - 1;
                long shared = ~(pfn ^ endPfn) & ~bitmask;
                mask = shared != 0 ? Long.numberOfTrailingZeros(shared) : VtdEncoder.DEVTLB_FLUSH_ALL;
            }
            addr = mask >= VtdEncoder.DEVTLB_FLUSH_ALL ? 0 : start & -(4096L << mask);
        }
        return new long[] {addr, mask};
    }

    private long iovaToPhys(IommuDomain dom, long iova) {
        return ((VtdDomain) dom).pgtable.iovaToPhys(iova);
    }

    /** intel_iommu_domain_free: the core only frees an unattached domain; the table goes back whole. */
    private void free(IommuDomain dom) {
        VtdDomain d = (VtdDomain) dom;
        synchronized (d.lock) {
            if (!d.units.isEmpty()) {
                warnings.warn("intel_iommu_domain_free", "freeing " + d + " while attached through " + d.units.keySet());
            }
        }
        d.freedByDriver = true;
        if (d.mm != null) {
            // intel_svm_domain_free: mmu_notifier_put; the table is the process's.
            d.mm.mmuNotifierUnregister(d.notifier);
        } else {
            d.pgtable.free();
        }
    }

    @Override
    public String toString() {
        return NAME + " " + units;
    }
}
