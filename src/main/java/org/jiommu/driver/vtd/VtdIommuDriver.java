package org.jiommu.driver.vtd;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Function;
import java.util.function.Predicate;

import org.jiommu.base.Errno;
import org.jiommu.base.IommuException;
import org.jiommu.base.Prot;
import org.jiommu.base.WarningSink;
import org.jiommu.bus.Device;
import org.jiommu.bus.pci.DmaAlias;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.core.spi.AuxOps;
import org.jiommu.core.spi.CoreServices;
import org.jiommu.core.spi.DevFeature;
import org.jiommu.core.spi.DomainOps;
import org.jiommu.core.spi.DomainType;
import org.jiommu.core.spi.GroupRef;
import org.jiommu.core.spi.IommuCap;
import org.jiommu.core.spi.IommuDevice;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.core.spi.IommuOps;
import org.jiommu.core.spi.IopfFault;
import org.jiommu.core.spi.PageResponse;
import org.jiommu.core.spi.ResvRegion;
import org.jiommu.core.spi.ResvType;
import org.jiommu.driver.common.DriverFaults;
import org.jiommu.driver.common.IopfRefs;
import org.jiommu.hw.vtd.VtdRegisters;
import org.jiommu.hw.vtd.VtdUnit;
import org.jiommu.mem.FrameAllocator;
import org.jiommu.pgtable.x86.VtdSecondLevelPageTable;
import org.jiommu.pgtable.x86.X86RadixPageTable;
/**
 * The Intel VT-d IOMMU driver ({@code drivers/iommu/intel/iommu.c}, {@code pasid.c},
 * {@code cache.c}), implementing the core's driver SPI over {@link VtdUnit} hardware models that
 * it programs only through their registers and through memory.
 *
 * <ul>
 * <li><b>Probe</b> finds the unit whose scope covers the device; in scalable mode it allocates the
 *     device's PASID directory and points the context entry of each of its own DMA aliases at
 *     it (no bridge's: intel_pasid_setup_sm_context), with RID_PASID = 0, and enables ATS. In
 *     legacy mode context entries (every alias) are written on attach.</li>
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
 * <p>This class is the {@code iommu_ops} / {@code domain_ops} wiring, probe, release, attach and
 * {@code set_dev_pasid}; the package-private {@link VtdEntries} (context and PASID tables),
 * {@link VtdCacheTags} (domain ids, flushes), {@link VtdDomainOps} (domains, map/unmap) and
 * {@link VtdIopf} (IOPF enablement) do the rest, over the shared pieces of
 * {@code org.jiommu.driver.common}; bugs are planted through a {@link DriverFaults}.
 *
 * <p>docs/driver-vtd.md gives the sources and the decisions taken where the kernel's ways were
 * not followed. Thread-safe: see {@link VtdIommu} and {@link VtdDomain} for the lock order.
 */
public final class VtdIommuDriver {
    public static final String NAME = "intel-iommu";
    /** The interrupt-address range every unit reserves for MSIs (IOAPIC_RANGE_START..END). */
    public static final long MSI_RANGE_START = 0xFEE0_0000L;
    public static final long MSI_RANGE_LENGTH = 0x10_0000L;

    private final CoreServices core;
    private final FrameAllocator frames;
    private final WarningSink warnings;
    private final boolean useScalableMode;
    private final IommuOps ops;
    private final IommuDomain identityDomain;
    private final IommuDomain blockedDomain;
    final DomainOps pagingOps;
    final DomainOps svaOps;
    private final List<VtdIommu> units = new CopyOnWriteArrayList<>();
    private final Map<Device, DeviceInfo> infos = new ConcurrentHashMap<>();
    private final Map<Device, List<ResvRegion>> rmrrs = new ConcurrentHashMap<>();
    /** The bugs planted in this driver (none unless a test plants one). */
    private final DriverFaults faults;
    private final VtdEntries entries;
    private final VtdCacheTags tags;
    private final VtdIopf iopf;
    private final VtdDomainOps domains;

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
        this(core, frames, useScalableMode, new DriverFaults());
    }

    /**
     * A driver with {@code faults} injected: the bugs the stale-translation and stress-plant
     * tests plant (docs/driver-common.md). {@link #faults()} is the same object.
     */
    VtdIommuDriver(CoreServices core, FrameAllocator frames, boolean useScalableMode, DriverFaults faults) {
        if (core == null || frames == null) {
            throw new IllegalArgumentException("the VT-d driver needs the core's services and a frame allocator");
        }
        this.core = core;
        this.frames = frames;
        this.warnings = core.warnings();
        this.useScalableMode = useScalableMode;
        this.faults = faults;
        this.entries = new VtdEntries(this, frames, warnings, faults);
        this.tags = new VtdCacheTags(core, faults);
        this.iopf = new VtdIopf(core, faults);
        this.domains = new VtdDomainOps(this, core, frames, tags);
        DomainOps blockedOps = DomainOps.builder().attachDev(this::attachDev).setDevPasid(this::setDevPasid).build();
        this.blockedDomain = IommuDomain.staticDomain("intel.blocked", DomainType.BLOCKED, blockedOps);
        this.identityDomain = IommuDomain.staticDomain("intel.identity", DomainType.IDENTITY,
                DomainOps.builder().attachDev(this::attachDev).setDevPasid(this::setDevPasid).build());
        this.pagingOps = DomainOps.builder()
                .attachDev(this::attachDev)
                .setDevPasid(this::setDevPasid)
                // a generic_pt domain (IOMMU_PT_DOMAIN_OPS): iommu_map / iommu_unmap call
                // map_range / unmap_range once for the whole range; no map_pages split
                .pageTableRange(domains::mapRange, domains::unmapRange)
                .iotlbSyncMap(tags::iotlbSyncMap)
                .iotlbSync(tags::iotlbSync)
                .flushIotlbAll(tags::flushIotlbAll)
                .iovaToPhys(domains::iovaToPhys)
                .free(domains::free)
                .build();
        // An SVA domain only goes on PASIDs and maps nothing itself: the process's page faults do.
        this.svaOps = DomainOps.builder().setDevPasid(this::setDevPasid).free(domains::free).build();
        this.ops = IommuOps.builder(NAME)
                .capable(this::capable)
                .domainAllocPaging(domains::domainAllocPaging)
                .domainAllocPagingFlags(domains::domainAllocPagingFlags)
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
                .domainAllocSva(domains::domainAllocSva)
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
        return locked(dev, null, info -> info.ridDomain());
    }

    /** The domain set on {@code pasid} of {@code dev} (not RID_PASID), or null. */
    public IommuDomain programmedPasid(Device dev, int pasid) {
        return locked(dev, null, info -> info.pasids().get(pasid));
    }

    /** The driver's IOPF reference count of {@code dev} (0 if not probed). */
    public int iopfRefcount(Device dev) {
        return locked(dev, 0, info -> info.iopfRefcount());
    }

    /**
     * Requester ids the driver programs for {@code dev}, own id first; empty if not probed. Legacy
     * mode: every DMA alias (domain_context_mapping); scalable mode: only those whose pdev is the
     * device itself, no bridge's (intel_pasid_setup_sm_context).
     */
    public int[] requesterIds(Device dev) {
        DeviceInfo info = infos.get(dev);
        return info == null ? new int[0] : (info.iommu.scalable ? info.ownAliases : info.aliases).clone();
    }

    /** Whether the driver enabled ATS on {@code dev}. */
    public boolean atsEnabled(Device dev) {
        return locked(dev, false, info -> info.atsEnabled());
    }

    /** The bugs planted in this driver: the tests' and the stress run's way to make it misbehave. */
    DriverFaults faults() {
        return faults;
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
        return locked(dev, false, info -> info.features().contains(f));
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
            info.features().add(f);
            return 0;
        }
    }

    /**
     * intel_iommu_dev_disable_feat: -EINVAL when not enabled; IOPF stays while SVA relies on it
     * (-EBUSY). AUX is v5.x's intel_iommu_disable_auxd: it clears the flag and returns 0 whether
     * or not it was enabled (a WARN without the device's info), aux domains staying attached.
     */
    private int devDisableFeat(Device dev, DevFeature f) {
        DeviceInfo info = infos.get(dev);
        if (f == DevFeature.AUX) {
            if (info == null) {
                warnings.warn("intel_iommu_disable_auxd", dev + " has no device_domain_info");
                return 0;
            }
            synchronized (info.iommu.lock) {
                info.features().remove(f);
            }
            return 0;
        }
        if (info == null) {
            return Errno.ENODEV.neg();
        }
        synchronized (info.iommu.lock) {
            if (!info.features().contains(f)) {
                return Errno.EINVAL.neg();
            }
            if (f == DevFeature.IOPF && info.features().contains(DevFeature.SVA)) {
                return Errno.EBUSY.neg();
            }
            info.features().remove(f);
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
     * context entry of each of its own aliases, never a bridge's (intel_pasid_setup_sm_context),
     * then ATS.
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
        int[] ownAliases = aliasList.stream().filter(a -> a.device() == p).mapToInt(DmaAlias::requesterId)
                .distinct().toArray();
        boolean ats = u.deviceTlb && p.hasAts();
        boolean pasid = u.scalable && u.maxPasids > 0 && p.pasidBits() > 0;
        // pri_supported: a unit with a page request queue (ECAP.PRS, PDS), scalable mode, and only
        // on top of ATS (a page request asks for a translation the device then caches; PCIe gives
        // PRI only with ATS): intel_iommu_probe_device, docs/driver-vtd.md 8.
        boolean pri = u.scalable && u.prq != null && ats && p.hasPri();
        DeviceInfo info = new DeviceInfo(p, u, aliases, ownAliases, ats, pasid, pri);
        synchronized (u.lock) {
            if (u.scalable) {
                entries.allocPasidTable(info);
                if (!entries.setupScalableContexts(info)) {
                    entries.freePasidTable(info);
                    throw new IommuException(Errno.ENOMEM, NAME + ": no memory for the context tables of " + dev);
                }
                if (info.atsSupported) {
                    info.enableAts(warnings);
                }
            } else {
                entries.adoptLegacyContexts(info);
            }
            infos.put(dev, info);
            if (u.prq != null && p.hasAts()) {
                u.prq.addDevice(info.sid, dev); // device_rbtree_insert: pci_ats_supported, whether IOPF is on or not
            }
        }
        return u.iommuDevice;
    }

    /**
     * intel_iommu_release_device. The release domain (blocked, or identity for a device with
     * direct mappings) is attached already. ATS goes off; in scalable mode the context entries
     * of the device's own aliases are torn down and its PASID table freed (intel_pasid_teardown_sm_context,
     * intel_pasid_free_table) whatever the release domain was: a require_direct device parked on
     * identity faults once release has run (issue 13 item 3). Legacy mode leaves its context
     * entries as the release domain programmed them.
     */
    private void releaseDevice(Device dev) {
        DeviceInfo info = infos.get(dev);
        if (info == null) {
            return;
        }
        VtdIommu u = info.iommu;
        synchronized (u.lock) {
            if (u.prq != null) {
                u.prq.removeDevice(info.sid); // device_rbtree_remove, first, under iopf_lock
            }
            if (info.ridDomain() instanceof VtdDomain) {
                warnings.warn("intel_iommu_release_device", dev + " released while attached to " + info.ridDomain()
                        + ": blocking it");
                blockTranslation(info);
            }
            for (int pasid : new ArrayList<>(info.pasids().keySet())) {
                removeDevPasid(info, pasid);
            }
            if (info.iopfRefcount() != 0) {
                warnings.warn("intel_iommu_release_device", dev + " released with iopf_refcount " + info.iopfRefcount());
            }
            info.disableAts();
            if (u.scalable) {
                entries.teardownScalableContexts(info);
                entries.freePasidTable(info);
            }
            infos.remove(dev);
        }
    }

    // ------------------------------------------------------------------------------------------
    // attach_dev
    // ------------------------------------------------------------------------------------------

    DeviceInfo info(Device dev) {
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
        IommuDomain hw = info.ridDomain();
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
        info.setRidDomain(blockedDomain);
        checkIopfIdle(info);
        return 0;
    }

    /**
     * identity_domain_attach_dev: a pass-through context entry per alias (legacy, TT = 2, DID 1,
     * AW = the widest SAGAW) or a pass-through RID_PASID entry (scalable, PGTT = 4, DID 1).
     */
    private int attachIdentity(DeviceInfo info) {
        VtdIommu u = info.iommu;
        if (info.ridDomain() == identityDomain) {
            return 0;
        }
        if (!u.passThrough) {
            return Errno.EINVAL.neg();
        }
        // identity_domain_attach_dev blocks first too; a failed setup leaves the device blocked
        blockTranslation(info);
        int r = entries.prepareEntries(info, 0);
        if (r != 0) {
            return r;
        }
        if (u.scalable) {
            entries.setupPasidEntry(info, 0, VtdEncoder.passThroughPasidEntry(u.agaw, VtdIommu.FLPT_DEFAULT_DID,
                    u.pageWalkSnoop, true), VtdIommu.FLPT_DEFAULT_DID);
        } else {
            long[] e = VtdEncoder.contextEntry(VtdEncoder.TT_PASS_THROUGH, 0, u.msagaw, VtdIommu.FLPT_DEFAULT_DID, true);
            for (int alias : info.aliases) {
                entries.programContext(info, alias, e, VtdIommu.FLPT_DEFAULT_DID);
            }
        }
        info.setRidDomain(identityDomain);
        checkIopfIdle(info);
        return 0;
    }

    /** S19: on a blocked or identity domain with no PASID attached the IOPF count must be zero. */
    private void checkIopfIdle(DeviceInfo info) {
        IopfRefs.checkIdle(info, warnings, NAME + " attach_dev");
    }

    /**
     * intel_iommu_attach_device + dmar_domain_attach_device: device_block_translation first, then
     * the compatibility check, IOPF, tables and the domain id; a failure after the block leaves
     * the device blocked (the core's v6.19+ revert skips the failing device; I7 reports it).
     */
    private int attachPaging(VtdDomain d, DeviceInfo info) {
        VtdIommu u = info.iommu;
        if (info.ridDomain() == d) {
            return 0;
        }
        blockTranslation(info);
        int r = d.compatibleWith(u);
        if (r != 0) {
            return r;
        }
        int iopfState = iopf.prepare(info, d);
        if (iopfState < 0) {
            return iopfState;
        }
        r = entries.prepareEntries(info, 0);
        if (r == 0) {
            r = tags.domainAttachIommu(d, u);
        }
        if (r != 0) {
            iopf.undo(info, iopfState);
            return r;
        }
        int did = d.domainId(u);
        if (u.scalable) {
            // dmar_domain_attach_device: domain_setup_first_level or domain_setup_second_level for
            // IOMMU_NO_PASID
            entries.setupPasidEntry(info, 0, pagingPasidEntry(d, u, did), did);
        } else {
            VtdSecondLevelPageTable t = (VtdSecondLevelPageTable) d.pgtable;
            int tt = info.atsSupported ? VtdEncoder.TT_DEV_IOTLB : VtdEncoder.TT_MULTI_LEVEL;
            long[] e = VtdEncoder.contextEntry(tt, t.root(), t.aw(), did, true);
            for (int alias : info.aliases) {
                entries.programContext(info, alias, e, did);
            }
            // ATS only once every context entry is in place (domain_context_mapping).
            if (info.atsSupported) {
                info.enableAts(warnings);
            }
        }
        tags.assignTag(d, info, 0);
        iopf.get(info, d);
        info.setRidDomain(d);
        return 0;
    }

    /**
     * device_block_translation: the device's requests without PASID reach nothing any more. Legacy:
     * each alias context cleared and flushed (domain_context_clear_one, present or not) and ATS
     * off; scalable: the RID_PASID entry torn down. Then the old domain's tags and id reference
     * go. Holds the unit's lock.
     */
    private void blockTranslation(DeviceInfo info) {
        IommuDomain cur = info.ridDomain();
        if (cur == null || cur == blockedDomain) {
            return;
        }
        VtdIommu u = info.iommu;
        if (u.scalable) {
            entries.tearDownPasidEntry(info, 0);
        } else {
            // domain_context_clear: every DMA alias, a bridge alias another function behind the
            // same bridge still uses included; the kernel keeps no count of an alias's users
            // ("intel-iommu lacks any sort of reference counting"), so that sibling loses DMA.
            for (int alias : info.aliases) {
                long a = u.contextEntryAddress(alias, false);
                if (a != 0) {
                    long[] e = u.readEntry(a, 2);
                    entries.clearContextEntry(info, alias, a, e, (int) (e[1] >>> 8) & 0xFFFF);
                }
            }
            info.disableAts();
        }
        if (cur instanceof VtdDomain) {
            VtdDomain d = (VtdDomain) cur;
            tags.unassignTag(d, info, 0);
            tags.domainDetachIommu(d, u);
            iopf.put(info, d);
        }
        info.setRidDomain(null);
    }

    // ------------------------------------------------------------------------------------------
    // IOPF: page responses (enablement on the attach path: VtdIopf)
    // ------------------------------------------------------------------------------------------

    /** {@code intel_iommu_page_response}: a page group response descriptor and a wait. */
    private void pageResponse(Device dev, IopfFault last, PageResponse msg) {
        DeviceInfo info = infos.get(dev);
        if (info == null || info.iommu.prq == null) {
            warnings.warn("intel_iommu_page_response", "page response for " + dev + ", which has no page request queue");
            return;
        }
        iopf.pageResponse(info, last, msg);
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
            IommuDomain cur = info.pasids().get(pasid);
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
            int r = entries.prepareEntries(info, pasid);
            if (r != 0) {
                return r;
            }
            if (domain == identityDomain) {
                if (!u.passThrough) {
                    return Errno.EOPNOTSUPP.neg();
                }
                // identity_domain_set_dev_pasid: domain_setup_passthrough (a replace over a present
                // entry), then domain_remove_dev_pasid(old)
                long[] entry = VtdEncoder.passThroughPasidEntry(u.agaw, VtdIommu.FLPT_DEFAULT_DID, u.pageWalkSnoop,
                        true);
                if (cur != null) {
                    entries.replacePasidEntry(info, pasid, entry);
                    forgetDevPasid(info, pasid);
                } else {
                    entries.setupPasidEntry(info, pasid, entry, VtdIommu.FLPT_DEFAULT_DID);
                }
                info.pasids().put(pasid, identityDomain);
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
                r = d.compatibleWith(u);
                if (r != 0) {
                    return r;
                }
            }
            int iopfState = iopf.prepare(info, d);
            if (iopfState < 0) {
                return iopfState;
            }
            r = tags.domainAttachIommu(d, u);
            if (r != 0) {
                iopf.undo(info, iopfState);
                return r;
            }
            int did = d.domainId(u);
            long[] entry;
            if (d.mm != null) {
                entry = VtdEncoder.firstLevelPasidEntry(d.mm.pgd().root(), fiveLevel, u.agaw, did, u.pageWalkSnoop,
                        true);
            } else {
                entry = pagingPasidEntry(d, u, did);
            }
            // iopf_for_domain_replace: the new domain's IOPF reference before the old one's goes,
            // so a replace between two IOPF domains never takes the device off its IOPF queue
            iopf.get(info, d);
            // intel_iommu_set_dev_pasid: domain_setup_* with old replaces the present entry without
            // a not-present window and flushes the old DID; then domain_remove_dev_pasid(old)
            if (cur != null) {
                entries.replacePasidEntry(info, pasid, entry);
                forgetDevPasid(info, pasid);
            } else {
                entries.setupPasidEntry(info, pasid, entry, did);
            }
            tags.assignTag(d, info, pasid);
            info.pasids().put(pasid, d);
            return 0;
        }
    }

    /**
     * The PASID entry of a paging domain: domain_setup_first_level (first-level table, FLPM for 5
     * levels, AW = the unit's AGAW; intel_pasid_setup_first_level) or domain_setup_second_level
     * (intel_pasid_setup_second_level). Holds the unit's lock.
     */
    private static long[] pagingPasidEntry(VtdDomain d, VtdIommu u, int did) {
        if (d.firstStage) {
            return VtdEncoder.firstLevelPasidEntry(d.pgtable.root(), d.pgtable.levels() == 5, u.agaw, did,
                    u.pageWalkSnoop, true);
        }
        VtdSecondLevelPageTable t = (VtdSecondLevelPageTable) d.pgtable;
        return VtdEncoder.secondLevelPasidEntry(t.root(), t.aw(), did, u.pageWalkSnoop, true);
    }

    /** Tears a PASID entry down and drops the domain's tag and id reference (blocking_domain_set_dev_pasid). Holds the unit's lock. */
    private void removeDevPasid(DeviceInfo info, int pasid) {
        if (!info.pasids().containsKey(pasid)) {
            return;
        }
        entries.tearDownPasidEntry(info, pasid);
        forgetDevPasid(info, pasid);
    }

    /**
     * domain_remove_dev_pasid: the domain that was on {@code pasid} loses its tag and id reference
     * there (the entry itself was torn down or replaced already). Holds the unit's lock.
     */
    private void forgetDevPasid(DeviceInfo info, int pasid) {
        IommuDomain cur = info.pasids().remove(pasid);
        if (cur instanceof VtdDomain) {
            VtdDomain d = (VtdDomain) cur;
            tags.unassignTag(d, info, pasid);
            tags.domainDetachIommu(d, info.iommu);
            iopf.put(info, d);
        }
    }

    @Override
    public String toString() {
        return NAME + " " + units;
    }
}
