package org.jiommu.core;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.jiommu.base.Errno;
import org.jiommu.base.IommuException;
import org.jiommu.bus.Device;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.core.spi.DomainOps;
import org.jiommu.core.spi.DomainType;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.core.spi.IommuOps;

/**
 * The set-domain engine and the RID-level attach APIs: SEMANTICS.md 6
 * ({@code __iommu_device_set_domain}, {@code __iommu_group_set_domain_internal},
 * {@code __iommu_attach_group}, the group-handle APIs, {@code iommu_deferred_attach}, the Δ7.0
 * PCI reset hooks). Everything that changes {@code group->domain} goes through
 * {@link #setDomainInternal}; the rules are enforced there once.
 */
final class AttachEngine {
    /** {@code IOMMU_SET_DOMAIN_MUST_SUCCEED}: keep going past failing devices, record the new domain anyway. */
    static final int MUST_SUCCEED = 1;

    private final Tracer tracer;
    private final CoreRegistry registry;
    private final GroupLocks locks;
    private final KernelVersion version;
    private final DomainLifecycle domains;

    AttachEngine(Tracer tracer, CoreRegistry registry, GroupLocks locks, KernelVersion version, DomainLifecycle domains) {
        this.tracer = tracer;
        this.registry = registry;
        this.locks = locks;
        this.version = version;
        this.domains = domains;
    }

    // ------------------------------------------------------------------------------------------
    // Engine
    // ------------------------------------------------------------------------------------------

    /**
     * {@code __iommu_attach_device}: call the driver. -ENODEV if the domain has no
     * {@code attach_dev}; success clears {@code attach_deferred}. Before v6.19 the op had no
     * {@code old} parameter, which the model shows by passing null.
     */
    int attachDeviceOp(IommuDomain domain, Device dev, IommuDomain old) {
        DomainOps.AttachDev op = domain.ops().attachDev();
        if (op == null) {
            tracer.trace(TraceEvent.Kind.LOG, "__iommu_attach_device", domain + " has no attach_dev op");
            return Errno.ENODEV.neg();
        }
        IommuDomain passOld = version.atLeast(KernelVersion.V6_19) ? old : null;
        int ret = op.attachDev(domain, dev, passOld);
        tracer.trace(TraceEvent.Kind.DRIVER, "attach_dev", "(" + domain + ", " + dev + ", old=" + passOld + ") = "
                + (ret == 0 ? "0" : Errno.describe(ret)));
        if (ret > 0) {
            tracer.warn("__iommu_attach_device", "attach_dev(" + domain + ", " + dev + ") returned positive " + ret);
            ret = Errno.EINVAL.neg();
        }
        if (ret == 0) {
            DevIommu di = registry.devIommuOf(dev);
            if (di != null) {
                di.attachDeferred = false;
            }
        }
        return ret;
    }

    /**
     * {@code __iommu_device_set_domain} (SEMANTICS.md 6.1): the RMR guard, the deferred-attach
     * shortcut, the driver call, and under MUST_SUCCEED the blocking-domain fallback that keeps a
     * failed device from pointing at a domain that may be freed.
     */
    void deviceSetDomain(IommuGroup group, Device dev, IommuDomain newDomain, IommuDomain old, int flags) {
        DevIommu di = registry.devIommuOf(dev);
        if (di.requireDirect && (newDomain.type() == DomainType.BLOCKED || newDomain == group.blockingDomain)) {
            tracer.log("__iommu_device_set_domain", dev + ": Firmware has requested this device have a 1:1 IOMMU"
                    + " mapping, rejecting configuring the device without a 1:1 mapping. Contact your platform vendor.");
            throw Args.err(Errno.EINVAL, dev + " has a direct-mapped reserved region (require_direct) and"
                    + " cannot be attached to blocking domain " + newDomain);
        }
        if (di.attachDeferred) {
            if (newDomain == group.defaultDomain) {
                return; // stays deferred: the DMA layer attaches on first use
            }
            di.attachDeferred = false;
        }
        int ret = attachDeviceOp(newDomain, dev, old);
        if (ret != 0) {
            IommuDomain blk = group.blockingDomain;
            if ((flags & MUST_SUCCEED) != 0 && blk != null && blk != newDomain) {
                attachDeviceOp(blk, dev, old);
            }
            throw Args.driverErr(ret, "driver " + di.ops() + " attach_dev(" + newDomain + ", " + dev + ")");
        }
    }

    /**
     * {@code __iommu_group_set_domain_internal} (SEMANTICS.md 6.2). Group mutex held.
     *
     * @return null on success; the (last) error otherwise. Without MUST_SUCCEED a failure has been
     *     reverted and {@code group->domain} is unchanged; with it the group records the new domain
     *     regardless.
     */
    IommuException setDomainInternal(IommuGroup group, IommuDomain newDomain, int flags) {
        if (group.domain == newDomain) {
            return null; // I-NOOP: no driver call at all
        }
        if (newDomain == null) {
            tracer.warn("__iommu_group_set_domain_internal", "NULL domain for " + group);
            return Args.err(Errno.EINVAL, "no domain to set on " + group);
        }
        if (version.atLeast(KernelVersion.V7_0) && group.resettingDomain != null) {
            return Args.err(Errno.EBUSY, group.describe() + " has a device under PCI reset");
        }
        IommuException last = null;
        List<Device> devs = group.devices;
        for (int i = 0; i < devs.size(); i++) {
            try {
                deviceSetDomain(group, devs.get(i), newDomain, group.domain, flags);
            } catch (IommuException e) {
                last = e;
                if ((flags & MUST_SUCCEED) != 0) {
                    continue;
                }
                revert(group, i, newDomain);
                return e;
            }
        }
        group.domain = newDomain;
        return last;
    }

    /**
     * The revert loop: devices before the failing one go back to {@code group->domain} (Δ6.19;
     * v6.18 also re-attached the failing one). A well-behaved driver always accepts a domain the
     * device was already on, so a failure here is a WARN. Nothing to revert on the very first
     * attach (no domain yet: release cleans up).
     */
    private void revert(IommuGroup group, int failed, IommuDomain newDomain) {
        IommuDomain cur = group.domain;
        if (cur == null) {
            return;
        }
        int end = version.atLeast(KernelVersion.V6_19) ? failed : failed + 1;
        for (int j = 0; j < end; j++) {
            Device d = group.devices.get(j);
            try {
                deviceSetDomain(group, d, cur, newDomain, MUST_SUCCEED);
            } catch (IommuException e) {
                tracer.warn("__iommu_group_set_domain_internal", "revert of " + d + " to " + cur + " failed: "
                        + e.getMessage());
            }
        }
    }

    /** {@code __iommu_group_set_domain}. */
    void setDomain(IommuGroup group, IommuDomain newDomain) {
        IommuException e = setDomainInternal(group, newDomain, 0);
        if (e != null) {
            throw e;
        }
    }

    /** {@code __iommu_group_set_domain_nofail}: WARN on failure, the group records the domain anyway. */
    void setDomainNofail(IommuGroup group, IommuDomain newDomain) {
        IommuException e = setDomainInternal(group, newDomain, MUST_SUCCEED);
        if (e != null) {
            // the group records the new domain and the other devices stay moved: state changed
            tracer.warnCarryingOn("__iommu_group_set_domain_nofail", group + " to " + newDomain + ": "
                    + e.getMessage());
        }
    }

    /** {@code __iommu_group_set_core_domain}: blocking if owned, else default. */
    void setCoreDomain(IommuGroup group) {
        setDomainNofail(group, group.owner != null ? group.blockingDomain : group.defaultDomain);
    }

    /** {@code __iommu_group_alloc_blocking_domain}: the static blocked domain, or an empty paging domain. */
    void allocBlockingDomain(IommuGroup group) {
        if (group.blockingDomain != null) {
            return;
        }
        Device dev = group.devices.get(0);
        IommuOps ops = registry.devIommuOf(dev).ops();
        if (ops.blockedDomain() != null) {
            group.blockingDomain = ops.blockedDomain();
            return;
        }
        // Drivers that do not understand BLOCKED get an empty paging domain instead.
        group.blockingDomain = domains.allocPaging(dev, DomainType.UNMANAGED, 0);
    }

    /** {@code __iommu_attach_group} (SEMANTICS.md 6.3). Group mutex held. */
    void attachGroupLocked(IommuDomain d, IommuGroup group) {
        IommuDomain cur = group.domain;
        if (cur != null && cur != group.defaultDomain && cur != group.blockingDomain) {
            throw Args.err(Errno.EBUSY, group.describe() + " is attached to private domain " + cur);
        }
        if (group.devices.isEmpty()) {
            throw Args.err(Errno.ENODEV, group + " has no devices");
        }
        Device dev = group.devices.get(0);
        DevIommu di = registry.devIommuOf(dev);
        if (di == null || di.iommuDev == null) {
            throw Args.err(Errno.EINVAL, dev + " has no IOMMU");
        }
        if (!DomainLifecycle.opsCompatible(di.ops(), d)) {
            throw Args.err(Errno.EINVAL, "domain " + d + " (driver " + (d.owner() == null ? "static" : d.owner())
                    + ") is not compatible with " + dev + " (driver " + di.ops() + ")");
        }
        setDomain(group, d);
    }

    // ------------------------------------------------------------------------------------------
    // Public RID-level APIs
    // ------------------------------------------------------------------------------------------

    void attachDevice(IommuDomain d, Device dev) {
        Args.requireDomain(d, "iommu_attach_device");
        IommuGroup group = registry.requireGroupOf(dev, "iommu_attach_device");
        locks.whileMemberOrFail(group, dev, "", () -> {
            // Multi-device groups must use the group API under ownership (S13).
            if (group.devices.size() != 1) {
                throw Args.err(Errno.EINVAL, dev + " shares " + group.describe()
                        + ": use iommu_attach_group");
            }
            attachGroupLocked(d, group);
        });
    }

    void detachDevice(IommuDomain d, Device dev) {
        Args.requireDevice(dev, "iommu_detach_device");
        IommuGroup group = registry.groupOf(dev);
        // no group, or released meanwhile: nothing to detach
        locks.whileMember(group, dev, () -> {
            if (d != group.domain) {
                tracer.warn("iommu_detach_device", dev + ": " + d + " is not the domain of " + group
                        + " (" + group.domain + ")");
                return;
            }
            if (group.devices.size() != 1) {
                tracer.warn("iommu_detach_device", dev + " is not alone in " + group.describe());
                return;
            }
            setCoreDomain(group);
        });
    }

    void attachGroup(IommuDomain d, IommuGroup group) {
        Args.requireDomain(d, "iommu_attach_group");
        registry.requireGroup(group, "iommu_attach_group");
        locks.lock(group);
        try {
            attachGroupLocked(d, group);
        } finally {
            group.mutex.unlock();
        }
    }

    void detachGroup(IommuDomain d, IommuGroup group) {
        registry.requireGroup(group, "iommu_detach_group");
        locks.lock(group);
        try {
            if (group.devices.isEmpty()) {
                return;
            }
            setCoreDomain(group);
        } finally {
            group.mutex.unlock();
        }
    }

    void groupReplaceDomain(IommuGroup group, IommuDomain d) {
        registry.requireGroup(group, "iommu_group_replace_domain");
        Args.requireDomain(d, "iommu_group_replace_domain");
        locks.lock(group);
        try {
            Args.requireMembers(group, "iommu_group_replace_domain");
            setDomain(group, d);
        } finally {
            group.mutex.unlock();
        }
    }

    void attachGroupHandle(IommuDomain d, IommuGroup group, AttachHandle h) {
        if (h == null) {
            throw Args.err(Errno.EINVAL, "iommu_attach_group_handle: handle is null");
        }
        Args.requireDomain(d, "iommu_attach_group_handle");
        registry.requireGroup(group, "iommu_attach_group_handle");
        locks.lock(group);
        try {
            // xa_insert: reserve slot 0, refusing an occupied one (before any allocation)
            if (group.pasidArray.containsKey(0)) {
                throw Args.err(Errno.EBUSY, group + " already has a handle in PASID slot 0 ("
                        + group.pasidArray.get(0) + ")");
            }
            if (tracer.shouldFailAlloc("xa_insert pasid_array[0]")) {
                throw Args.err(Errno.ENOMEM, "cannot reserve PASID slot 0 of " + group);
            }
            group.pasidArray.put(0, PasidEntry.Reserved.INSTANCE);
            try {
                attachGroupLocked(d, group);
            } catch (IommuException e) {
                group.pasidArray.remove(0, PasidEntry.Reserved.INSTANCE);
                throw e;
            }
            // Visible only now that the attach succeeded.
            h.setDomain(d);
            group.pasidArray.put(0, new PasidEntry.HandleEntry(h));
        } finally {
            group.mutex.unlock();
        }
    }

    void detachGroupHandle(IommuDomain d, IommuGroup group) {
        registry.requireGroup(group, "iommu_detach_group_handle");
        locks.lock(group);
        try {
            if (!group.devices.isEmpty()) {
                setCoreDomain(group);
            }
            group.pasidArray.remove(0);
        } finally {
            group.mutex.unlock();
        }
    }

    /**
     * {@code iommu_replace_group_handle}. The kernel writes {@code h->domain} before trying; the
     * model writes it only on success, so a failed call leaves the caller's handle untouched.
     */
    void replaceGroupHandle(IommuGroup group, IommuDomain d, AttachHandle h) {
        if (d == null || h == null) {
            throw Args.err(Errno.EINVAL, "iommu_replace_group_handle: domain and handle must be given");
        }
        Args.requireDomain(d, "iommu_replace_group_handle");
        registry.requireGroup(group, "iommu_replace_group_handle");
        locks.lock(group);
        try {
            Args.requireMembers(group, "iommu_replace_group_handle");
            // xa_reserve: succeeds whether or not the slot holds an entry
            if (tracer.shouldFailAlloc("xa_reserve pasid_array[0]")) {
                throw Args.err(Errno.ENOMEM, "cannot reserve PASID slot 0 of " + group);
            }
            boolean reserved = group.pasidArray.putIfAbsent(0, PasidEntry.Reserved.INSTANCE) == null;
            try {
                setDomain(group, d);
            } catch (IommuException e) {
                if (reserved) {
                    group.pasidArray.remove(0, PasidEntry.Reserved.INSTANCE); // xa_release: only a placeholder
                }
                throw e;
            }
            h.setDomain(d);
            group.pasidArray.put(0, new PasidEntry.HandleEntry(h));
        } finally {
            group.mutex.unlock();
        }
    }

    /**
     * {@code iommu_attach_handle_get}: the handle at {@code pasid}; -ENOENT if none (or a bare
     * domain), -EBUSY if {@code type} is given and the handle's domain is of another type.
     *
     * @param type the wanted domain type, or null for any ({@code 0})
     */
    AttachHandle attachHandleGet(IommuGroup group, int pasid, DomainType type) {
        registry.requireGroup(group, "iommu_attach_handle_get");
        PasidEntry e = group.pasidArray.get(pasid);
        if (!(e instanceof PasidEntry.HandleEntry)) {
            throw Args.err(Errno.ENOENT, group + " has no attach handle at PASID " + pasid);
        }
        AttachHandle h = ((PasidEntry.HandleEntry) e).handle();
        if (type != null && h.domain().type() != type) {
            throw Args.err(Errno.EBUSY, group + " PASID " + pasid + " holds a " + h.domain().type()
                    + " domain, not " + type);
        }
        return h;
    }

    void deferredAttach(Device dev, IommuDomain d) {
        Args.requireDevice(dev, "iommu_deferred_attach");
        Args.requireDomain(d, "iommu_deferred_attach");
        DevIommu di = registry.devIommuOf(dev);
        if (di == null || !di.attachDeferred) {
            return;
        }
        IommuGroup group = registry.groupOf(dev);
        if (version.atLeast(KernelVersion.V7_0) && group != null) {
            locks.whileMember(group, dev, () -> {
                if (resetBlocked.contains(dev)) { // gdev->blocked (b296ca1fb43a)
                    throw Args.err(Errno.EBUSY, dev + " is under PCI reset");
                }
                deferredAttachLocked(dev, d, di);
            });
        } else {
            deferredAttachLocked(dev, d, di);
        }
    }

    private void deferredAttachLocked(Device dev, IommuDomain d, DevIommu di) {
        if (!di.attachDeferred) {
            return; // lost a race with another first user
        }
        int ret = attachDeviceOp(d, dev, null);
        if (ret != 0) {
            throw Args.driverErr(ret, "driver " + di.ops() + " attach_dev(" + d + ", " + dev + ")");
        }
    }

    /**
     * {@code iommu_get_domain_for_dev}: the group's domain (null without a group). Δ7.0: called
     * with the group mutex held it records the lockdep warning (drivers must use
     * {@link CoreServices#driverGetDomainForDev}).
     */
    IommuDomain getDomainForDev(Device dev) {
        IommuGroup g = registry.groupOf(dev);
        if (g == null) {
            return null;
        }
        if (version.atLeast(KernelVersion.V7_0) && g.mutex.isHeldByCurrentThread()) {
            tracer.warn("iommu_get_domain_for_dev", "called for " + dev + " with the mutex of " + g
                    + " held: drivers get the old domain as an argument (iommu_driver_get_domain_for_dev)");
        }
        return g.domain;
    }

    /**
     * iommu_driver_get_domain_for_dev: the blocking domain for a device its reset blocked
     * ({@code gdev->blocked}, b296ca1fb43a), else the group's domain.
     */
    IommuDomain driverGetDomainForDev(Device dev) {
        IommuGroup g = registry.groupOf(dev);
        if (g == null) {
            return null;
        }
        if (!g.mutex.isHeldByCurrentThread()) {
            tracer.warn("iommu_driver_get_domain_for_dev", "called for " + dev + " without the mutex of " + g);
        }
        return resetBlocked.contains(dev) ? g.blockingDomain : g.domain;
    }

    // ------------------------------------------------------------------------------------------
    // PCI reset (Δ7.0, SEMANTICS.md 6.5), as of the 7.0 stable fixes: per-device state
    // (b296ca1fb43a: struct group_device's blocked flag, the group's recovery_cnt) and nesting
    // (0d5fd7a9323c: gdev->reset_depth, so cxl_reset_bus_function's inner
    // pci_reset_bus_function prepare/done pair is a no-op inside the outer one).
    // ------------------------------------------------------------------------------------------

    /** {@code gdev->reset_depth} of each device with one above zero; changed under its group's mutex. */
    private final Map<Device, Integer> resetDepth = new ConcurrentHashMap<>();
    /** Devices whose {@code gdev->blocked} is set: parked on the blocking domain by a reset. */
    private final Set<Device> resetBlocked = ConcurrentHashMap.newKeySet();
    /**
     * {@code group->recovery_cnt} of each group with one above zero. While it is, the group's
     * {@code resettingDomain} is its blocking domain (the model's mark that attaches are refused).
     */
    private final Map<IommuGroup, Integer> recoveryCnt = new ConcurrentHashMap<>();

    private boolean resetApplies(Device dev, String fn) {
        if (!version.atLeast(KernelVersion.V7_0)) {
            throw Args.err(Errno.EOPNOTSUPP, fn + " exists from v7.0 on (running " + version + ")");
        }
        return dev instanceof PciDevice && ((PciDevice) dev).hasAts() && registry.devHasIommu(dev);
    }

    /** The device's reset depth, 0 when it is not resetting (tests and the snapshot's readers). */
    int resetDepth(Device dev) {
        return resetDepth.getOrDefault(dev, 0);
    }

    /**
     * pci_dev_reset_iommu_prepare: re-entrant per device. The outermost call parks the device's
     * RID and PASIDs on the blocking domain (the group's domain and PASID slots stay), sets its
     * blocked flag and counts it in the group's recovery_cnt; an inner call only deepens the
     * count and returns 0 (no WARN, no -EBUSY: 0d5fd7a9323c). A failure undoes the depth.
     */
    void resetPrepare(Device dev) {
        Args.requireDevice(dev, "pci_dev_reset_iommu_prepare");
        if (!resetApplies(dev, "pci_dev_reset_iommu_prepare")) {
            return;
        }
        IommuGroup group = registry.groupOf(dev);
        locks.whileMemberOrFail(group, dev, "", () -> {
            int depth = resetDepth(dev);
            resetDepth.put(dev, depth + 1);
            if (depth > 0) {
                return; // if (gdev->reset_depth++) return 0;
            }
            boolean hadBlocking = group.blockingDomain != null;
            try {
                allocBlockingDomain(group);
                IommuDomain blk = group.blockingDomain;
                if (group.domain != blk) {
                    int ret = attachDeviceOp(blk, dev, group.domain);
                    if (ret != 0) {
                        throw Args.driverErr(ret, "attach_dev(" + blk + ", " + dev + ") for reset");
                    }
                }
            } catch (RuntimeException e) {
                resetDepth.remove(dev); // gdev->reset_depth-- on each failure
                throw e;
            }
            IommuDomain blk = group.blockingDomain;
            // gdev->blocked before the PASIDs go: set_dev_pasid may ask iommu_driver_get_domain_for_dev
            resetBlocked.add(dev);
            // Stop every PASID of this device too; the slots themselves stay.
            for (Map.Entry<Integer, PasidEntry> e : group.pasidArray.tailMap(1).entrySet()) {
                IommuDomain pd = e.getValue().domain();
                if (pd != null && registry.devIommuOf(dev).maxPasids > 0) {
                    removeDevPasid(dev, e.getKey(), pd);
                }
            }
            recoveryCnt.merge(group, 1, Integer::sum);
            group.resettingDomain = blk;
            if (!hadBlocking) {
                tracer.trace(TraceEvent.Kind.LOG, "pci_dev_reset_iommu_prepare", "allocated blocking domain " + blk);
            }
        });
    }

    /**
     * pci_dev_reset_iommu_done: an unbalanced call (depth 0) WARNs and changes nothing; an inner
     * one only lowers the depth; the outermost re-attaches the group's domain, clears the device's
     * blocked flag, restores the device's PASIDs and counts it out of the group's recovery_cnt
     * (0d5fd7a9323c, b296ca1fb43a, 1615e8896a8f).
     */
    void resetDone(Device dev) {
        Args.requireDevice(dev, "pci_dev_reset_iommu_done");
        if (!resetApplies(dev, "pci_dev_reset_iommu_done")) {
            return;
        }
        IommuGroup group = registry.groupOf(dev);
        locks.whileMember(group, dev, () -> {
            int depth = resetDepth(dev);
            if (depth == 0) {
                // "Unbalanced done() calls would underflow the counter"
                tracer.warn("pci_dev_reset_iommu_done", dev + " is not being reset (reset_depth 0)");
                return;
            }
            if (depth > 1) {
                resetDepth.put(dev, depth - 1);
                return;
            }
            resetDepth.remove(dev);
            IommuDomain blk = group.blockingDomain;
            if (blk == null) {
                tracer.warn("pci_dev_reset_iommu_done", group + " is resetting without a blocking domain");
                return;
            }
            if (group.domain != blk) {
                int ret = attachDeviceOp(group.domain, dev, blk);
                if (ret != 0) {
                    tracer.warnCarryingOn("pci_dev_reset_iommu_done", "re-attach of " + dev + " to " + group.domain
                            + " failed: " + Errno.describe(ret));
                }
            }
            resetBlocked.remove(dev);
            // Each PASID back on the reset device only, by its domain's set_dev_pasid with the
            // blocking domain as old, when the device has PASIDs (1615e8896a8f: per-device, as
            // prepare took them off this device only; it replaced __iommu_set_group_pasid)
            if (registry.devIommuOf(dev).maxPasids > 0) {
                for (Map.Entry<Integer, PasidEntry> e : group.pasidArray.tailMap(1).entrySet()) {
                    IommuDomain pd = e.getValue().domain();
                    if (pd == null) {
                        continue;
                    }
                    int ret = setDevPasidOp(pd, dev, e.getKey(), blk);
                    if (ret != 0) {
                        tracer.warnCarryingOn("pci_dev_reset_iommu_done", "restoring " + pd + " at PASID " + e.getKey()
                                + " of " + dev + " failed: " + Errno.describe(ret));
                    }
                }
            }
            int cnt = recoveryCnt.getOrDefault(group, 0);
            if (cnt == 0) {
                tracer.warnCarryingOn("pci_dev_reset_iommu_done", group + " has recovery_cnt 0");
            } else if (cnt == 1) {
                recoveryCnt.remove(group);
                group.resettingDomain = null;
            } else {
                recoveryCnt.put(group, cnt - 1);
            }
        });
    }

    /** The device can issue PASIDs ({@code dev->iommu->max_pasids} non-zero). */
    private boolean pasidCapable(Device dev) {
        DevIommu di = registry.devIommuOf(dev);
        return di != null && di.maxPasids > 0;
    }

    /** One driver call of {@code set_dev_pasid}, traced; a positive return is a driver bug read as -EINVAL. */
    private int setDevPasidOp(IommuDomain d, Device dev, int pasid, IommuDomain old) {
        DomainOps.SetDevPasid op = d.ops().setDevPasid();
        if (op == null) {
            return Errno.EOPNOTSUPP.neg();
        }
        int ret = op.setDevPasid(d, dev, pasid, old);
        tracer.trace(TraceEvent.Kind.DRIVER, "set_dev_pasid", "(" + d + ", " + dev + ", " + pasid + ", old=" + old
                + ") = " + (ret == 0 ? "0" : Errno.describe(ret)));
        if (ret > 0) {
            tracer.warn("set_dev_pasid", d + " returned positive " + ret + " for " + dev + " PASID " + pasid);
            ret = Errno.EINVAL.neg();
        }
        return ret;
    }

    /**
     * {@code __iommu_set_group_pasid}: install {@code d} at {@code pasid} on every PASID-capable
     * member in list order (v6.15: members with {@code max_pasids == 0} cannot issue PASID TLPs and
     * are skipped, b3f6fcd8404f). On a failure the members done so far go back to {@code old}
     * (or lose the PASID if there was none); a failing restore is a WARN and removes the PASID.
     * Group mutex held.
     */
    void setGroupPasid(IommuDomain d, IommuGroup group, int pasid, IommuDomain old) {
        List<Device> done = new ArrayList<>();
        for (Device dev : group.devices) {
            if (!pasidCapable(dev)) {
                continue;
            }
            int ret = setDevPasidOp(d, dev, pasid, old);
            if (ret == 0) {
                done.add(dev);
                continue;
            }
            for (Device prev : done) {
                if (old == null) {
                    removeDevPasid(prev, pasid, d);
                    continue;
                }
                int r = setDevPasidOp(old, prev, pasid, d);
                if (r != 0) {
                    tracer.warnCarryingOn("__iommu_set_group_pasid", "restoring " + old + " at PASID " + pasid + " of " + prev
                            + " failed: " + Errno.describe(r));
                    removeDevPasid(prev, pasid, d);
                }
            }
            throw Args.driverErr(ret, "driver " + registry.probedOps(dev) + " set_dev_pasid(" + d + ", " + dev + ", "
                    + pasid + ")");
        }
    }

    /**
     * {@code __iommu_remove_group_pasid}: the blocked domain's set_dev_pasid on every PASID-capable
     * member, except one a reset blocked, whose PASIDs are off already (fc3523b16d2b: a repeated
     * removal could time out ATS invalidations).
     */
    void removeGroupPasid(IommuGroup group, int pasid, IommuDomain d) {
        for (Device dev : group.devices) {
            if (pasidCapable(dev) && !resetBlocked.contains(dev)) {
                removeDevPasid(dev, pasid, d);
            }
        }
    }

    /**
     * {@code iommu_remove_dev_pasid}: the blocked domain's {@code set_dev_pasid} takes a PASID
     * off one device; a failure is a WARN. Shared with the PASID API (part 2).
     */
    void removeDevPasid(Device dev, int pasid, IommuDomain domain) {
        IommuOps ops = registry.devIommuOf(dev).ops();
        IommuDomain blocked = ops.blockedDomain();
        if (blocked == null || blocked.ops().setDevPasid() == null) {
            tracer.warn("iommu_remove_dev_pasid", "driver " + ops + " cannot remove PASID " + pasid + " of " + dev);
            return;
        }
        int ret = blocked.ops().setDevPasid().setDevPasid(blocked, dev, pasid, domain);
        tracer.trace(TraceEvent.Kind.DRIVER, "set_dev_pasid", "(" + blocked + ", " + dev + ", " + pasid + ", old="
                + domain + ") = " + ret);
        if (ret != 0) {
            tracer.warnCarryingOn("iommu_remove_dev_pasid", "removing PASID " + pasid + " of " + dev + " failed: "
                    + Errno.describe(ret));
        }
    }
}
