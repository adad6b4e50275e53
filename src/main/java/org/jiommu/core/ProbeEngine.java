package org.jiommu.core;

import java.util.ArrayList;
import java.util.List;
import org.jiommu.base.Errno;
import org.jiommu.base.IommuException;
import org.jiommu.bus.Device;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.core.spi.CookieType;
import org.jiommu.core.spi.DomainOps;
import org.jiommu.core.spi.DomainType;
import org.jiommu.core.spi.GroupRef;
import org.jiommu.core.spi.IommuDevice;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.core.spi.IommuOps;
import org.jiommu.core.spi.ResvRegion;
import org.jiommu.core.spi.ResvType;

/**
 * Probe, release, groups and default domains: SEMANTICS.md sections 2.2, 4 and 5
 * ({@code iommu_device_register}, {@code __iommu_probe_device}, {@code iommu_init_device},
 * {@code iommu_deinit_device}, {@code iommu_setup_default_domain}, {@code bus_iommu_probe},
 * {@code iommu_create_device_direct_mappings}, the sysfs {@code type} file).
 */
final class ProbeEngine {
    /** "No type" / BLOCKED in the kernel's int encoding of domain types. */
    private static final int NONE = 0;
    /** {@code iommu_get_default_domain_type} refusing the group. */
    private static final int REFUSE = -1;

    private final Tracer tracer;
    private final CoreRegistry registry;
    private final GroupLocks locks;
    private final CoreConfig config;
    private final KernelVersion version;
    private final SubsysDefaults defaults;
    private final DomainLifecycle domains;
    private final AttachEngine attach;
    private final MapEngine mapEngine;
    private final ResvRegions resv;

    ProbeEngine(Tracer tracer, CoreRegistry registry, GroupLocks locks, CoreConfig config, SubsysDefaults defaults,
            DomainLifecycle domains, AttachEngine attach, MapEngine mapEngine, ResvRegions resv) {
        this.tracer = tracer;
        this.registry = registry;
        this.locks = locks;
        this.config = config;
        this.version = config.version();
        this.defaults = defaults;
        this.domains = domains;
        this.attach = attach;
        this.mapEngine = mapEngine;
        this.resv = resv;
    }

    // ------------------------------------------------------------------------------------------
    // Instances
    // ------------------------------------------------------------------------------------------

    void iommuDeviceRegister(IommuDevice iommu) {
        if (iommu == null) {
            throw Args.err(Errno.EINVAL, "iommu_device_register: instance is null");
        }
        locks.probeLock.lock();
        try {
            if (registry.isRegistered(iommu)) {
                throw Args.err(Errno.EEXIST, "iommu_device_register: " + iommu + " is already registered");
            }
            registry.addIommu(iommu);
        } finally {
            locks.probeLock.unlock();
        }
        // iommu_buses order: platform first, then PCI
        for (Device.BusType bus : busOrder()) {
            try {
                busIommuProbe(bus);
            } catch (IommuException e) {
                iommuDeviceUnregister(iommu);
                throw e;
            }
        }
    }

    static List<Device.BusType> busOrder() {
        List<Device.BusType> order = new ArrayList<>();
        for (Device.BusType b : Device.BusType.values()) {
            if (b != Device.BusType.PCI) {
                order.add(b);
            }
        }
        order.add(Device.BusType.PCI);
        return order;
    }

    void iommuDeviceUnregister(IommuDevice iommu) {
        if (iommu == null) {
            throw Args.err(Errno.EINVAL, "iommu_device_unregister: instance is null");
        }
        if (!registry.isRegistered(iommu)) {
            throw Args.err(Errno.ENODEV, "iommu_device_unregister: " + iommu + " is not registered");
        }
        // remove_iommu_group over every device (the kernel walks the buses; the model also
        // knows devices probed without being put on a bus)
        for (CoreDevice c : registry.allDevices()) {
            DevIommu di = c.iommu;
            if (di != null && di.iommuDev == iommu) {
                releaseDevice(c.dev);
            }
        }
        IommuGroup single = registry.removeIommu(iommu);
        if (single != null) {
            registry.groupPut(single);
        }
    }

    // ------------------------------------------------------------------------------------------
    // Probe
    // ------------------------------------------------------------------------------------------

    /** {@code iommu_probe_device}: probe under the probe lock, then {@code probe_finalize} with no lock. */
    void probeDevice(Device dev) {
        locks.probeLock.lock();
        try {
            probeLocked(dev, null);
        } finally {
            locks.probeLock.unlock();
        }
        DevIommu di = registry.devIommuOf(dev);
        if (di != null) {
            IommuOps ops = di.ops();
            if (ops.probeFinalize() != null) {
                ops.probeFinalize().probeFinalize(dev);
                tracer.trace(TraceEvent.Kind.DRIVER, "probe_finalize", "(" + dev + ")");
            }
        }
    }

    /**
     * {@code __iommu_probe_device} (SEMANTICS.md 4.1). Probe lock held.
     *
     * @param groupList null for hot-plug (default domain set up now), else the bus scan's list of
     *     groups whose default domain is set up after every device was probed
     */
    void probeLocked(Device dev, List<IommuGroup> groupList) {
        CoreDevice c = registry.cdevCreate(dev);
        if (c.group != null) {
            return; // I-IDEMPOTENT-PROBE
        }
        initDevice(c);
        IommuGroup group = c.group;
        boolean ok = false;
        locks.lock(group);
        try {
            // The device joins the list before the default domain is set up (the type decision sees it).
            group.devices.add(dev);
            if (group.defaultDomain != null && group.domain == null) {
                tracer.warn("__iommu_probe_device", group + " has default domain " + group.defaultDomain
                        + " but no current domain");
            }
            if (group.defaultDomain != null) {
                // This is where a hot-added device's require_direct is learnt; map errors are ignored.
                try {
                    createDirectMappings(group.defaultDomain, dev);
                } catch (IommuException ignored) {
                    tracer.log("__iommu_probe_device", dev + ": direct mappings failed: " + ignored.getMessage());
                }
            }
            if (group.domain != null) {
                // Join the group on whatever it is attached to now: default, blocking or private.
                attach.deviceSetDomain(group, dev, group.domain, null, 0);
            } else if (group.defaultDomain == null && groupList == null) {
                setupDefaultDomain(group, NONE);
            } else if (group.defaultDomain == null && !group.queuedForSetup) {
                group.queuedForSetup = true;
                groupList.add(group);
            }
            if (group.defaultDomain != null) {
                setupDmaOps(c, group);
            }
            ok = true;
        } catch (IommuException e) {
            // err_remove_gdev, err_put_group
            group.devices.remove(dev);
            groupFreeDeviceCheck(group);
            deinitDevice(c, group);
            throw e;
        } finally {
            group.mutex.unlock();
            if (!ok) {
                registry.groupPut(group);
            }
        }
    }

    /** {@code iommu_setup_dma_ops}: the DMA API uses the IOMMU iff the default domain is a DMA domain. */
    private static void setupDmaOps(CoreDevice c, IommuGroup group) {
        IommuDomain def = group.defaultDomain;
        c.dmaIommu = def != null && def.type().isDmaApi();
    }

    /**
     * {@code iommu_init_device} (SEMANTICS.md 4.2): {@code dev->iommu}, {@code probe_device},
     * {@code device_group}, max PASIDs and the deferred-attach bit. Unwinds itself on error.
     */
    private void initDevice(CoreDevice c) {
        Device dev = c.dev;
        IommuDevice fw = c.fwspecIommu;
        if (fw == null) {
            throw Args.err(Errno.ENODEV, dev + " has no IOMMU in its firmware description (no fwspec)");
        }
        if (!registry.isRegistered(fw)) {
            throw Args.err(Errno.ENODEV, dev + ": its IOMMU " + fw + " is not registered");
        }
        if (tracer.shouldFailAlloc("dev_iommu_get")) {
            throw Args.err(Errno.ENOMEM, dev + ": cannot allocate dev->iommu");
        }
        DevIommu di = new DevIommu(dev, fw, c.fwspecIds);
        c.iommu = di;
        IommuOps ops = fw.ops();
        IommuDevice iommuDev;
        try {
            iommuDev = ops.probeDevice().probeDevice(dev);
            tracer.trace(TraceEvent.Kind.DRIVER, "probe_device", "(" + dev + ") = "
                    + (iommuDev == null ? "NULL" : iommuDev));
        } catch (IommuException e) {
            tracer.trace(TraceEvent.Kind.DRIVER, "probe_device", "(" + dev + ") = " + e.errno().neg()
                    + "(" + e.errno() + ")");
            c.iommu = null;
            throw e;
        }
        if (iommuDev == null) {
            // iommu_init_device tests probe_device's result with IS_ERR only: NULL is taken as
            // success and dereferenced by iommu_device_link (an oops, no errno). A driver bug;
            // the model stops here, with dev->iommu undone so the core stays consistent.
            c.iommu = null;
            throw new IllegalStateException("driver " + ops + " probe_device(" + dev
                    + ") returned NULL: iommu_init_device takes it as success and oopses in iommu_device_link");
        }
        di.iommuDev = iommuDev;
        IommuGroup group;
        try {
            GroupRef ref;
            try {
                ref = ops.deviceGroup().deviceGroup(dev);
                tracer.trace(TraceEvent.Kind.DRIVER, "device_group", "(" + dev + ") = " + ref);
            } catch (IommuException e) {
                tracer.trace(TraceEvent.Kind.DRIVER, "device_group", "(" + dev + ") = " + e.errno().neg());
                throw e;
            }
            if (ref == null) {
                tracer.warn("iommu_init_device", "driver " + ops + " device_group(" + dev + ") returned NULL");
                throw Args.err(Errno.EINVAL, "driver " + ops + " device_group(" + dev + ") returned NULL");
            }
            if (!(ref instanceof IommuGroup) || ((IommuGroup) ref).isReleased()
                    || !registry.isLiveGroup((IommuGroup) ref)) {
                tracer.warn("iommu_init_device", "driver " + ops + " device_group(" + dev
                        + ") returned a group the core did not give out: " + ref);
                throw Args.err(Errno.EINVAL, "device_group(" + dev + ") returned a foreign group " + ref);
            }
            group = (IommuGroup) ref;
        } catch (IommuException e) {
            // err_release: release_device, then free dev->iommu
            callReleaseDevice(ops, dev);
            di.iommuDev = null;
            c.iommu = null;
            throw e;
        }
        c.group = group; // holds the reference device_group returned
        di.maxPasids = Math.min(dev.maxPasids(), iommuDev.maxPasids());
        di.attachDeferred = ops.isAttachDeferred() != null && ops.isAttachDeferred().isAttachDeferred(dev);
    }

    private void callReleaseDevice(IommuOps ops, Device dev) {
        if (ops.releaseDevice() != null) {
            ops.releaseDevice().releaseDevice(dev);
            tracer.trace(TraceEvent.Kind.DRIVER, "release_device", "(" + dev + ")");
        }
    }

    /**
     * {@code __iommu_group_free_device}'s check: a group losing its last device must have been
     * given back (I-EMPTY), else WARN.
     */
    private void groupFreeDeviceCheck(IommuGroup group) {
        if (group.devices.isEmpty() && (group.ownerCnt != 0 || group.domain != group.defaultDomain)) {
            tracer.warn("__iommu_group_free_device", group + " lost its last device while "
                    + (group.ownerCnt != 0 ? "owner_cnt is " + group.ownerCnt
                    : "attached to " + group.domain + " instead of default " + group.defaultDomain));
        }
    }

    /**
     * {@code iommu_deinit_device} (SEMANTICS.md 5.2). Group mutex held; the device is already off
     * the group's list.
     */
    private void deinitDevice(CoreDevice c, IommuGroup group) {
        Device dev = c.dev;
        DevIommu di = c.iommu;
        IommuOps ops = di.ops();
        // A deferred device never reached the hardware: leave its configuration alone.
        if (!di.attachDeferred && ops.releaseDomain() != null) {
            IommuDomain rd = ops.releaseDomain();
            // Δ6.19 (e94160488e65): a require_direct device keeps its 1:1 regions while idle.
            if (version.atLeast(KernelVersion.V6_19) && di.requireDirect && ops.identityDomain() != null
                    && rd == ops.blockedDomain()) {
                rd = ops.identityDomain();
            }
            DomainOps.AttachDev op = rd.ops().attachDev();
            if (op == null) {
                tracer.warn("iommu_deinit_device", "release domain " + rd + " of " + ops + " has no attach_dev");
            } else {
                IommuDomain old = version.atLeast(KernelVersion.V6_19) ? group.domain : null;
                int ret = op.attachDev(rd, dev, old);
                tracer.trace(TraceEvent.Kind.DRIVER, "attach_dev", "(" + rd + ", " + dev + ", old=" + old + ") = "
                        + ret + " [release]");
            }
        }
        callReleaseDevice(ops, dev);
        if (group.devices.isEmpty()) {
            IommuDomain def = group.defaultDomain;
            IommuDomain blk = group.blockingDomain;
            group.defaultDomain = null;
            group.blockingDomain = null;
            group.domain = null;
            domains.free(def);
            if (blk != def) {
                domains.free(blk);
            }
        }
        c.group = null;
        di.iommuDev = null;
        c.iommu = null;
        c.dmaIommu = false;
    }

    // ------------------------------------------------------------------------------------------
    // Release
    // ------------------------------------------------------------------------------------------

    /**
     * {@code iommu_release_device}. The model takes the probe lock around it: the kernel's driver
     * core never runs a device's add and removal at once, and this keeps a racing caller from
     * releasing a device half way through its probe.
     */
    void releaseDevice(Device dev) {
        locks.probeLock.lock();
        try {
            CoreDevice c = registry.cdev(dev);
            if (c == null) {
                return;
            }
            IommuGroup group = c.group;
            if (group != null) {
                groupRemoveDevice(c, group);
            }
            // fwspec without a successful probe: just drop dev->iommu
            c.iommu = null;
        } finally {
            locks.probeLock.unlock();
        }
    }

    /** {@code __iommu_group_remove_device}. */
    private void groupRemoveDevice(CoreDevice c, IommuGroup group) {
        locks.lock(group);
        try {
            if (group.devices.remove(c.dev)) {
                groupFreeDeviceCheck(group);
                if (c.iommu != null && c.iommu.iommuDev != null) {
                    deinitDevice(c, group);
                } else {
                    c.group = null;
                }
            } else {
                tracer.warn("__iommu_group_remove_device", c.dev + " is not on the list of " + group);
                c.group = null;
            }
        } finally {
            group.mutex.unlock();
        }
        registry.groupPut(group);
    }

    // ------------------------------------------------------------------------------------------
    // Hotplug: the driver core's device_add / device_del with the IOMMU bus notifier
    // ------------------------------------------------------------------------------------------

    /**
     * {@code device_add}: the device joins its bus (-EEXIST if there) and the notifier probes it.
     * The kernel only logs a probe error (the device stays on the bus without an IOMMU); the model
     * stays that way too but reports the probe's errno to the caller.
     */
    void deviceAdd(Device dev) {
        Args.requireDevice(dev, "device_add");
        registry.busAdd(dev);
        try {
            probeDevice(dev);
        } catch (IommuException e) {
            tracer.log("iommu_bus_notifier", dev + ": IOMMU probe failed: " + e.getMessage());
            throw e;
        }
    }

    /** {@code device_del}: the notifier releases the device, then it leaves its bus; -ENODEV if not on a bus. */
    void deviceDel(Device dev) {
        Args.requireDevice(dev, "device_del");
        CoreDevice c = registry.cdev(dev);
        if (c == null || !c.onBus) {
            throw Args.err(Errno.ENODEV, dev + " is not on its bus");
        }
        releaseDevice(dev);
        registry.removeFromBus(dev);
    }

    // ------------------------------------------------------------------------------------------
    // Bus scan
    // ------------------------------------------------------------------------------------------

    /** {@code bus_iommu_probe} (SEMANTICS.md 4.6). */
    void busIommuProbe(Device.BusType bus) {
        if (bus == null) {
            throw Args.err(Errno.EINVAL, "bus_iommu_probe: bus is null");
        }
        List<IommuGroup> groupList = new ArrayList<>();
        locks.probeLock.lock();
        try {
            try {
                for (Device dev : registry.busDevices(bus)) {
                    try {
                        probeLocked(dev, groupList);
                    } catch (IommuException e) {
                        if (e.errno() != Errno.ENODEV) { // "not mine" is normal during a scan
                            throw e;
                        }
                    }
                }
                for (IommuGroup group : groupList) {
                    List<Device> members;
                    locks.lock(group);
                    try {
                        group.queuedForSetup = false;
                        setupDefaultDomain(group, NONE);
                        for (Device d : group.devices) {
                            setupDmaOps(registry.cdev(d), group);
                        }
                        members = List.copyOf(group.devices);
                    } finally {
                        group.mutex.unlock();
                    }
                    for (Device d : members) {
                        DevIommu di = registry.devIommuOf(d);
                        if (di != null && di.ops().probeFinalize() != null) {
                            di.ops().probeFinalize().probeFinalize(d);
                            tracer.trace(TraceEvent.Kind.DRIVER, "probe_finalize", "(" + d + ")");
                        }
                    }
                }
            } finally {
                for (IommuGroup g : groupList) {
                    g.queuedForSetup = false;
                }
            }
        } finally {
            locks.probeLock.unlock();
        }
    }

    // ------------------------------------------------------------------------------------------
    // Default domain (SEMANTICS.md 4.5)
    // ------------------------------------------------------------------------------------------

    private static int bits(DomainType t) {
        return t == null ? NONE : t.bits;
    }

    private static DomainType typeOf(int bits) {
        for (DomainType t : DomainType.values()) {
            if (t.bits == bits) {
                return t;
            }
        }
        throw new IllegalArgumentException("no domain type with bits " + bits);
    }

    /** {@code iommu_get_def_domain_type}: fold one device's driver preference into {@code cur}. */
    private int getDefDomainType(IommuGroup group, Device dev, int cur) {
        IommuOps ops = registry.devIommuOf(dev).ops();
        int type;
        if (ops.defaultDomain() != null) {
            type = ops.defaultDomain().type().bits;
        } else if (ops.defDomainType() != null) {
            type = bits(ops.defDomainType().defDomainType(dev));
        } else {
            return cur;
        }
        if (type == NONE || type == cur) {
            return cur;
        }
        if (cur == NONE) {
            return type;
        }
        tracer.log("iommu_get_def_domain_type", "IOMMU driver error, requesting conflicting def_domain_type, "
                + typeOf(cur) + " and " + typeOf(type) + ", for devices in " + group);
        // Drivers may force IDENTITY or DMA; IDENTITY takes precedence.
        return type == DomainType.IDENTITY.bits ? type : cur;
    }

    /** {@code iommu_get_default_domain_type}: the group's type, 0 for "the global default", -1 to refuse. */
    private int getDefaultDomainType(IommuGroup group, int target) {
        int driverType = config.armDmaUseIommu() ? DomainType.IDENTITY.bits : NONE;
        Device untrusted = null;
        for (Device dev : group.devices) {
            driverType = getDefDomainType(group, dev, driverType);
            if (dev instanceof PciDevice && dev.untrusted() && untrusted == null) {
                untrusted = dev;
            }
        }
        if (!config.iommuDma()) {
            if (driverType == DomainType.DMA.bits) {
                return REFUSE;
            }
            if (driverType == NONE) {
                driverType = DomainType.IDENTITY.bits;
            }
        }
        if (untrusted != null) {
            if (driverType != NONE && driverType != DomainType.DMA.bits) {
                tracer.log("iommu_get_default_domain_type", untrusted + ": Device is not trusted, but driver is"
                        + " overriding " + group + " to " + typeOf(driverType) + ", refusing to probe.");
                return REFUSE;
            }
            driverType = DomainType.DMA.bits;
        }
        if (target != NONE) {
            if (driverType != NONE && target != driverType) {
                return REFUSE;
            }
            return target;
        }
        return driverType;
    }

    /** {@code __iommu_group_alloc_default_domain}: exactly this type (current default if it already is). */
    private IommuDomain allocDefaultExact(IommuGroup group, int req) {
        Device dev = group.devices.get(0);
        if (group.defaultDomain != null && group.defaultDomain.type().bits == req) {
            return group.defaultDomain;
        }
        if ((req & DomainType.PAGING) != 0) {
            DomainType type = typeOf(req);
            DevIommu di = registry.devIommuOf(dev);
            int flags = di.maxPasids > 0 ? org.jiommu.core.spi.AllocFlags.PASID : 0;
            try {
                return domains.allocPaging(dev, type, flags);
            } catch (IommuException e) {
                // A driver without PASID support for this domain: try a non-PASID domain.
                if (e.errno() == Errno.EOPNOTSUPP) {
                    return domains.allocPaging(dev, type, 0);
                }
                throw e;
            }
        }
        if (req == DomainType.IDENTITY.bits) {
            return domains.allocIdentity(dev);
        }
        throw Args.err(Errno.EINVAL, "cannot allocate a default domain of type " + typeOf(req) + " for " + group);
    }

    /** {@code iommu_group_alloc_default_domain}. */
    private IommuDomain allocDefaultDomain(IommuGroup group, int req) {
        Device dev = group.devices.get(0);
        IommuOps ops = registry.devIommuOf(dev).ops();
        if (ops.defaultDomain() != null) {
            if (req != ops.defaultDomain().type().bits) {
                throw Args.err(Errno.EINVAL, "driver " + ops + " has static default domain "
                        + ops.defaultDomain() + " of type " + ops.defaultDomain().type() + ", not " + typeOf(req));
            }
            return ops.defaultDomain();
        }
        if (req != NONE) {
            return allocDefaultExact(group, req);
        }
        DomainType global = defaults.defDomainType();
        try {
            return allocDefaultExact(group, global.bits);
        } catch (IommuException first) {
            if (global == DomainType.DMA) {
                throw Args.err(Errno.EINVAL, "cannot allocate the default DMA domain for " + group + ": "
                        + first.getMessage());
            }
            IommuDomain dom = allocDefaultExact(group, DomainType.DMA.bits);
            tracer.log("iommu_group_alloc_default_domain", dev + ": Failed to allocate default IOMMU domain of type "
                    + global + " for " + group + " - Falling back to IOMMU_DOMAIN_DMA");
            return dom;
        }
    }

    /**
     * {@code iommu_setup_default_domain} (SEMANTICS.md 4.5). Group mutex held.
     *
     * @param target 0, or the type the sysfs file asked for
     */
    void setupDefaultDomain(IommuGroup group, int target) {
        int req = getDefaultDomainType(group, target);
        if (req < 0) {
            throw Args.err(Errno.EINVAL, "no acceptable default domain type for " + group.describe());
        }
        IommuDomain dom = allocDefaultDomain(group, req);
        if (dom == group.defaultDomain) {
            return;
        }
        if (dom.type().isDmaApi()) {
            // iommu_get_dma_cookie: the DMA-IOVA allocator of the domain
            if (tracer.shouldFailAlloc("iommu_get_dma_cookie")) {
                domains.free(dom);
                throw Args.err(Errno.ENOMEM, "cannot allocate the DMA cookie of " + dom);
            }
            dom.setCookieType(CookieType.DMA_IOVA);
        }
        boolean directFailed = false;
        for (Device dev : group.devices) {
            try {
                createDirectMappings(dom, dev);
            } catch (IommuException e) {
                if (!directFailed) {
                    tracer.log("iommu_setup_default_domain", group + ": IOMMU driver was not able to establish"
                            + " FW requested direct mapping: " + e.getMessage());
                }
                directFailed = true;
            }
        }
        IommuDomain old = group.defaultDomain;
        // Before the attach: the deferred-attach shortcut compares against the default domain.
        group.defaultDomain = dom;
        IommuException result = null;
        if (group.domain == null) {
            result = attach.setDomainInternal(group, dom, AttachEngine.MUST_SUCCEED);
            if (result != null) {
                tracer.warn("iommu_setup_default_domain", "first attach of " + group + " to " + dom
                        + " failed: " + result.getMessage());
                freeOld(old);
                throw result;
            }
        } else {
            IommuException e = attach.setDomainInternal(group, dom, 0);
            if (e != null) {
                restoreDefault(group, dom, old);
                throw e;
            }
        }
        if (directFailed) {
            for (Device dev : group.devices) {
                try {
                    createDirectMappings(dom, dev);
                } catch (IommuException e) {
                    if (old != null) {
                        attach.setDomainInternal(group, old, AttachEngine.MUST_SUCCEED);
                    }
                    restoreDefault(group, dom, old);
                    throw e;
                }
            }
        }
        freeOld(old);
    }

    private void restoreDefault(IommuGroup group, IommuDomain dom, IommuDomain old) {
        if (old != null) {
            domains.free(dom);
            group.defaultDomain = old;
        }
    }

    private void freeOld(IommuDomain old) {
        if (old != null) {
            domains.free(old);
        }
    }

    /**
     * {@code iommu_create_device_direct_mappings} (SEMANTICS.md 4.4): learn {@code require_direct}
     * and map DIRECT / DIRECT_RELAXABLE regions 1:1 into a DMA-API domain, skipping pages already
     * mapped (another device's overlapping region; IOVA 0 is probed at 1 from v6.19).
     */
    void createDirectMappings(IommuDomain domain, Device dev) {
        long bitmap = domain.pgsizeBitmap();
        long pg = bitmap == 0 ? 0 : Long.lowestOneBit(bitmap);
        boolean dma = domain.type().isDmaApi();
        if (dma && pg == 0) {
            tracer.warn("iommu_create_device_direct_mappings", "DMA domain " + domain + " has no page sizes");
            throw Args.err(Errno.EINVAL, "DMA domain " + domain + " has no page sizes");
        }
        DevIommu di = registry.devIommuOf(dev);
        for (ResvRegion r : resv.ofDevice(dev)) {
            if (r.type() == ResvType.DIRECT) {
                di.requireDirect = true;
            }
            if ((r.type() != ResvType.DIRECT && r.type() != ResvType.DIRECT_RELAXABLE) || !dma) {
                continue;
            }
            // The start is rounded up: a partial first page is not mapped (kernel ALIGN).
            long start = alignUp(r.start(), pg);
            long end = alignUp(r.start() + r.length(), pg);
            long runLen = 0;
            for (long addr = start; Long.compareUnsigned(addr, end) <= 0; addr += pg) {
                // iova_to_phys answers 0 both for "not mapped" and for IOVA 0 mapped 1:1; since
                // v6.19 (0a4d00e2e99a) IOVA 0 is looked up at 1 instead, so a region starting at
                // 0 that another device already mapped is skipped rather than mapped again.
                long probe = addr == 0 && version.atLeast(KernelVersion.V6_19) ? 1 : addr;
                if (addr != end && mapEngine.iovaToPhys(domain, probe) == 0) {
                    runLen += pg;
                    continue;
                }
                if (runLen != 0) {
                    long runStart = addr - runLen;
                    mapEngine.map(domain, runStart, runStart, runLen, r.prot());
                    runLen = 0;
                }
                if (addr == end) {
                    break;
                }
            }
        }
    }

    private static long alignUp(long v, long a) {
        return (v + a - 1) & -a;
    }

    // ------------------------------------------------------------------------------------------
    // Group helpers for drivers (SEMANTICS.md 4.3)
    // ------------------------------------------------------------------------------------------

    IommuGroup genericDeviceGroup(Device dev) {
        return registry.groupAlloc();
    }

    IommuGroup genericSingleDeviceGroup(Device dev) {
        DevIommu di = registry.devIommuOf(dev);
        if (di == null || di.iommuDev == null) {
            tracer.warn("generic_single_device_group", dev + " has no IOMMU instance yet");
            throw Args.err(Errno.EINVAL, dev + " has no IOMMU instance");
        }
        IommuDevice iommu = di.iommuDev;
        IommuGroup g = registry.singletonGroup(iommu);
        if (g == null) {
            g = registry.groupAlloc();
            registry.setSingletonGroup(iommu, g); // the cache keeps the allocation's reference
        }
        return registry.groupRefGet(g);
    }

    /**
     * {@code pci_device_group} (SEMANTICS.md 4.3). Non-PCI devices are a driver bug (WARN,
     * -EINVAL). The PCI rule (DMA aliases, the first ACS-isolated bridge on the way to the root,
     * alias and multifunction groups) is the topology's ({@link
     * org.jiommu.bus.pci.PciTopology#mustShareWith}): the group of the first function that must
     * share with {@code dev} and already has one, else a new group. A function outside any
     * topology is alone.
     */
    IommuGroup pciDeviceGroup(Device dev) {
        if (!(dev instanceof PciDevice)) {
            tracer.warn("pci_device_group", dev + " is not a PCI device");
            throw Args.err(Errno.EINVAL, "pci_device_group: " + dev + " is not a PCI device");
        }
        PciDevice pdev = (PciDevice) dev;
        if (pdev.topology() != null) {
            for (PciDevice peer : pdev.topology().mustShareWith(pdev)) {
                IommuGroup g = registry.groupOf(peer);
                if (g != null) {
                    return registry.groupRefGet(g);
                }
            }
        }
        return registry.groupAlloc();
    }

    // ------------------------------------------------------------------------------------------
    // sysfs type (SEMANTICS.md 4.7)
    // ------------------------------------------------------------------------------------------

    String groupShowType(IommuGroup group) {
        locks.lock(group);
        try {
            IommuDomain def = group.defaultDomain;
            return def == null ? "unknown" : def.type().sysfsName();
        } finally {
            group.mutex.unlock();
        }
    }

    int groupStoreType(IommuGroup group, String buf, boolean capSysAdmin) {
        if (!capSysAdmin) {
            throw Args.err(Errno.EACCES, "writing the type of " + group + " needs CAP_SYS_ADMIN and CAP_SYS_RAWIO");
        }
        registry.requireGroup(group, "iommu_group_store_type");
        if (buf == null) {
            throw Args.err(Errno.EINVAL, "iommu_group_store_type: no input");
        }
        if (group.defaultDomain == null) {
            throw Args.err(Errno.EINVAL, group + " has no default domain");
        }
        // sysfs_streq: a trailing newline is ignored
        String s = buf.endsWith("\n") ? buf.substring(0, buf.length() - 1) : buf;
        int req;
        switch (s) {
            case "identity": req = DomainType.IDENTITY.bits; break;
            case "DMA": req = DomainType.DMA.bits; break;
            case "DMA-FQ": req = DomainType.DMA_FQ.bits; break;
            case "auto": req = NONE; break;
            default: throw Args.err(Errno.EINVAL, "unknown default domain type \"" + s + "\" for " + group);
        }
        locks.lock(group);
        try {
            IommuDomain def = group.defaultDomain;
            // A flush queue can be brought up without tearing the domain down.
            if (req == DomainType.DMA_FQ.bits && def != null && def.type() == DomainType.DMA) {
                if (tracer.shouldFailAlloc("iommu_dma_init_fq")) {
                    throw Args.err(Errno.ENOMEM, "cannot allocate the flush queue of " + def);
                }
                def.retagType(DomainType.DMA_FQ);
                return buf.length();
            }
            if (group.devices.isEmpty() || group.ownerCnt != 0) {
                throw Args.err(Errno.EPERM, group.describe() + " has a bound driver or owner (owner_cnt "
                        + group.ownerCnt + ")");
            }
            setupDefaultDomain(group, req);
            for (Device d : group.devices) {
                setupDmaOps(registry.cdev(d), group);
            }
            return buf.length();
        } finally {
            group.mutex.unlock();
        }
    }
}
