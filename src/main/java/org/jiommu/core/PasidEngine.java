package org.jiommu.core;

import org.jiommu.base.Errno;
import org.jiommu.base.IommuException;
import org.jiommu.bus.Device;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.core.spi.IommuOps;

/**
 * The PASID attach API (SEMANTICS.md 8.1/8.2, v6.15+ shape): {@code iommu_attach_device_pasid},
 * {@code iommu_replace_device_pasid}, {@code iommu_detach_device_pasid} and their group helpers.
 * A PASID attachment lives in the group's {@code pasid_array} (one slot per PASID, shared by the
 * group's PASID-capable members) and in every such member's PASID entry, which the driver writes
 * through {@code set_dev_pasid}; the blocked domain's {@code set_dev_pasid} takes it off again.
 *
 * <p>All changes run under the group mutex; the slot is reserved first and only made visible once
 * the driver accepted the domain on every member (reserve-then-store, 5e9f822c9c68), so the
 * lockless {@code attach_handle_get} never sees a half-done attach.
 */
final class PasidEngine {
    private final Tracer tracer;
    private final CoreRegistry registry;
    private final GroupLocks locks;
    private final KernelVersion version;
    private final AttachEngine attach;

    PasidEngine(Tracer tracer, CoreRegistry registry, GroupLocks locks, KernelVersion version, AttachEngine attach) {
        this.tracer = tracer;
        this.registry = registry;
        this.locks = locks;
        this.version = version;
        this.attach = attach;
    }

    /** Checks shared by attach and replace, before the lock (SEMANTICS.md 8.2, in the kernel's order). */
    private IommuOps checkPasidTarget(IommuDomain d, Device dev, int pasid, String fn, boolean needBlocked,
            boolean handleMissing) {
        IommuOps ops = registry.probedOps(dev);
        if (ops == null) {
            throw Args.err(Errno.ENODEV, fn + ": " + dev + " has no IOMMU");
        }
        if (d.ops().setDevPasid() == null) {
            throw Args.err(Errno.EOPNOTSUPP, fn + ": domain " + d + " has no set_dev_pasid op");
        }
        if (needBlocked) {
            IommuDomain blocked = ops.blockedDomain();
            if (blocked == null || blocked.ops().setDevPasid() == null) {
                // The blocked domain's set_dev_pasid is the only way to take a PASID off again.
                throw Args.err(Errno.EOPNOTSUPP, fn + ": driver " + ops
                        + " has no blocked domain with set_dev_pasid to remove a PASID");
            }
        }
        if (!DomainLifecycle.opsCompatible(ops, d)) {
            throw Args.err(Errno.EINVAL, fn + ": domain " + d + " (driver "
                    + (d.owner() == null ? "static" : d.owner()) + ") is not compatible with " + dev
                    + " (driver " + ops + ")");
        }
        if (pasid == IommuCore.IOMMU_NO_PASID) {
            throw Args.err(Errno.EINVAL, fn + ": PASID 0 is IOMMU_NO_PASID (the RID): use the RID APIs");
        }
        if (pasid < 0) {
            throw Args.err(Errno.EINVAL, fn + ": PASID " + Integer.toUnsignedString(pasid)
                    + " is not a valid PASID");
        }
        if (handleMissing) {
            // iommu_replace_device_pasid: a missing handle is in the same -EINVAL test as PASID 0
            throw Args.err(Errno.EINVAL, fn + ": a handle must be given");
        }
        return ops;
    }

    /**
     * {@code iommu_attach_device_pasid}: install {@code d} at {@code pasid} on every PASID-capable
     * member of the device's group and store it in the group's PASID slot (with {@code h}, whose
     * domain the core sets, or bare when {@code h} is null). -ENODEV without a group or IOMMU;
     * -EOPNOTSUPP without the domain's or the blocked domain's {@code set_dev_pasid}; -EINVAL for an
     * incompatible domain, PASID 0 or a PASID beyond the range of a PASID-capable member (members
     * without PASIDs are skipped, b3f6fcd8404f, so naming one of them gives the same result; a
     * group with no PASID-capable member stores the slot without a driver call); blocked and
     * release domains are not refused (the kernel has no such check);
     * -EBUSY for an occupied slot or (Δ7.0) a reset in progress; the driver's errno after rollback.
     */
    void attachDevicePasid(IommuDomain d, Device dev, int pasid, AttachHandle h) {
        final String fn = "iommu_attach_device_pasid";
        Args.requireDomain(d, fn);
        IommuGroup group = registry.requireGroupOf(dev, fn);
        checkPasidTarget(d, dev, pasid, fn, true, false);
        locks.lock(group);
        try {
            attachDevicePasidLocked(d, dev, group, pasid, h, fn);
        } finally {
            group.mutex.unlock();
        }
    }

    /** The locked part of attach, shared with the aux and SVA layers (they hold their own lock first). */
    void attachDevicePasidLocked(IommuDomain d, Device dev, IommuGroup group, int pasid, AttachHandle h, String fn) {
        if (!group.devices.contains(dev)) {
            throw Args.err(Errno.ENODEV, fn + ": " + dev + " left " + group);
        }
        if (version.atLeast(KernelVersion.V7_0) && group.resettingDomain != null) {
            throw Args.err(Errno.EBUSY, fn + ": " + group.describe() + " has a device under PCI reset");
        }
        for (Device m : group.devices) {
            DevIommu mi = registry.devIommuOf(m);
            int max = mi == null ? 0 : mi.maxPasids;
            if (max > 0 && Integer.compareUnsigned(pasid, max) >= 0) {
                throw Args.err(Errno.EINVAL, fn + ": PASID " + pasid + " is beyond the " + max
                        + " PASIDs of " + m + " in " + group);
            }
        }
        // xa_insert of a reservation: an occupied slot (even by a placeholder) is -EBUSY
        PasidEntry cur = group.pasidArray.get(pasid);
        if (cur != null) {
            throw Args.err(Errno.EBUSY, fn + ": PASID " + pasid + " of " + group + " is in use by " + cur
                    + " (attach does not overwrite: use replace)");
        }
        if (tracer.shouldFailAlloc("xa_insert pasid_array[" + pasid + "]")) {
            throw Args.err(Errno.ENOMEM, fn + ": cannot reserve PASID " + pasid + " of " + group);
        }
        group.pasidArray.put(pasid, PasidEntry.Reserved.INSTANCE);
        try {
            attach.setGroupPasid(d, group, pasid, null);
        } catch (IommuException e) {
            group.pasidArray.remove(pasid, PasidEntry.Reserved.INSTANCE);
            throw e;
        }
        group.pasidArray.put(pasid, entryFor(d, h));
    }

    private static PasidEntry entryFor(IommuDomain d, AttachHandle h) {
        if (h == null) {
            return new PasidEntry.DomainEntry(d);
        }
        h.setDomain(d);
        return new PasidEntry.HandleEntry(h);
    }

    /**
     * {@code iommu_replace_device_pasid} (iommufd-internal): switch an attached PASID to {@code d}
     * with handle {@code h}; only the handle changes when {@code d} is already there. -EINVAL for
     * an empty slot, a null handle or the very handle already stored (WARN); on a driver failure
     * the old domain stays on every member.
     */
    void replaceDevicePasid(IommuDomain d, Device dev, int pasid, AttachHandle h) {
        final String fn = "iommu_replace_device_pasid";
        Args.requireDomain(d, fn);
        IommuGroup group = registry.requireGroupOf(dev, fn);
        // the kernel's order: -ENODEV (no group), -EOPNOTSUPP (no set_dev_pasid), then one -EINVAL
        // test for an incompatible domain, PASID 0 or a missing handle
        checkPasidTarget(d, dev, pasid, fn, false, h == null);
        locks.whileMemberOrFail(group, dev, fn + ": ", () -> {
            if (version.atLeast(KernelVersion.V7_0) && group.resettingDomain != null) {
                throw Args.err(Errno.EBUSY, fn + ": " + group.describe() + " has a device under PCI reset");
            }
            // xa_cmpxchg(NULL -> reservation): may need memory even when the slot turns out empty
            if (tracer.shouldFailAlloc("xa_cmpxchg pasid_array[" + pasid + "]")) {
                throw Args.err(Errno.ENOMEM, fn + ": cannot reserve PASID " + pasid + " of " + group);
            }
            PasidEntry cur = group.pasidArray.get(pasid);
            if (cur == null) {
                throw Args.err(Errno.EINVAL, fn + ": PASID " + pasid + " of " + group
                        + " is not attached: nothing to replace");
            }
            if (cur instanceof PasidEntry.HandleEntry && ((PasidEntry.HandleEntry) cur).handle() == h) {
                tracer.warn(fn, "handle " + h + " is already stored at PASID " + pasid + " of " + group
                        + ": handles must not be reused");
                throw Args.err(Errno.EINVAL, fn + ": handle " + h + " is the one already stored at PASID " + pasid);
            }
            IommuDomain curDomain = cur.domain();
            if (curDomain != d) {
                attach.setGroupPasid(d, group, pasid, curDomain);
            }
            group.pasidArray.put(pasid, entryFor(d, h));
        });
    }

    /**
     * {@code iommu_detach_device_pasid}: the blocked domain's {@code set_dev_pasid} on every
     * PASID-capable member, then the slot is erased. A PASID never attached is not an error.
     */
    void detachDevicePasid(IommuDomain d, Device dev, int pasid) {
        final String fn = "iommu_detach_device_pasid";
        Args.requireDevice(dev, fn);
        IommuGroup group = registry.groupOf(dev);
        if (group == null) {
            return; // the caller is a bound driver, so the kernel has no check; nothing attached anyway
        }
        locks.lock(group);
        try {
            detachDevicePasidLocked(d, dev, group, pasid, fn);
        } finally {
            group.mutex.unlock();
        }
    }

    /**
     * The locked part of {@code iommu_detach_device_pasid}: the kernel checks nothing here. The
     * blocked domain's {@code set_dev_pasid} is called on every PASID-capable member with the
     * caller's domain as the old one (an empty slot, or a slot holding another domain, included:
     * what the driver makes of that is its business), then the slot is erased.
     */
    void detachDevicePasidLocked(IommuDomain d, Device dev, IommuGroup group, int pasid, String fn) {
        attach.removeGroupPasid(group, pasid, d);
        group.pasidArray.remove(pasid);
    }
}
