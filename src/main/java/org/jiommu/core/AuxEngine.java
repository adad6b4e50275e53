package org.jiommu.core;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import org.jiommu.base.Errno;
import org.jiommu.base.IommuException;
import org.jiommu.bus.Device;
import org.jiommu.core.spi.AuxOps;
import org.jiommu.core.spi.DevFeature;
import org.jiommu.core.spi.DomainAttr;
import org.jiommu.core.spi.DomainType;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.core.spi.IommuOps;

/**
 * The 2019 aux-domain API (v5.2-v5.17, SEMANTICS.md 8.6, seed threads 001/002/000, S03-S12) built
 * on the modern PASID machinery: {@code iommu_aux_attach_device} installs the domain at its
 * default PASID with {@code iommu_attach_device_pasid}, {@code iommu_aux_detach_device} removes it
 * with {@code iommu_detach_device_pasid}, and the default PASID comes from the platform-wide
 * allocator. What the 2019 drivers did privately (VT-d's {@code default_pasid} and
 * {@code auxd_refcnt}, SMMUv3's {@code ssid} and {@code aux_nr_devs}) is kept here once for every
 * driver; what differs per driver comes from {@link AuxOps}.
 *
 * <p><b>Locking.</b> {@link #lock}'s write lock is the one lock S05 asks for (the kernel's
 * {@code device_domain_lock} in the reviewed patch): PASID allocation, linking, unlinking and
 * freeing all happen under it, so a final detach racing a new attach can neither strand the new
 * attach without a PASID nor free a PASID twice. It sits between the probe lock and the group
 * mutexes. Once the aux API has been used on this platform ({@link #used}), the RID attach paths
 * that take a caller's domain hold its read lock around their group mutex, so the "aux here, RID
 * there" refusal (S04) is checked against a stable picture both ways. Before that the RID paths
 * take no aux lock at all: the 2019 core had none, and today's core has no aux API, so an
 * ordinary RID attach must not pay for it. (A RID attach racing the very first aux attach of the
 * same domain is not serialised, as it was not in the kernel.)
 */
final class AuxEngine {
    /** One aux domain: its default PASID and the devices it is aux-attached to (with their group). */
    static final class AuxDomain {
        /** The default PASID, or {@link IommuCore#IOMMU_PASID_INVALID} for a table-only driver. */
        final int pasid;
        /** Device → the group it was attached through, in attach order. */
        final LinkedHashMap<Device, IommuGroup> devices = new LinkedHashMap<>();

        AuxDomain(int pasid) {
            this.pasid = pasid;
        }

        /** {@code auxd_refcnt}. */
        int refcnt() {
            return devices.size();
        }
    }

    /** What the core stores in the PASID slot of an aux attachment: the PASID API sees it as busy (S12). */
    static final class AuxHandle extends AttachHandle {
        @Override
        public String toString() {
            return "aux" + super.toString();
        }
    }

    private final Tracer tracer;
    private final CoreRegistry registry;
    private final GroupLocks locks;
    private final PasidEngine pasids;
    private final GlobalPasidAllocator globalPasids;
    /** Write: aux attach/detach. Read: RID attaches of caller domains, aux queries. Above the group mutexes. */
    final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    /** Aux domains. Written under the write lock; read locklessly by {@code domainFree} and snapshots. */
    final Map<IommuDomain, AuxDomain> domains = new ConcurrentHashMap<>();
    /** Set (for good) by the first aux attach; until then RID attaches skip {@link #lock}. */
    private volatile boolean used;

    AuxEngine(Tracer tracer, CoreRegistry registry, GroupLocks locks, PasidEngine pasids, GlobalPasidAllocator globalPasids) {
        this.tracer = tracer;
        this.registry = registry;
        this.locks = locks;
        this.pasids = pasids;
        this.globalPasids = globalPasids;
    }

    private IommuOps opsOf(Device dev) {
        DevIommu di = registry.devIommuOf(dev);
        return di == null || di.iommuDev == null ? null : di.ops();
    }

    /** Where {@code d} is in RID use (a group's domain, default or blocking domain, or slot 0), or null. */
    private String ridUser(IommuDomain d) {
        for (IommuGroup g : registry.liveGroups()) {
            if (g.domain == d || g.defaultDomain == d || g.blockingDomain == d) {
                return g + " uses it for DMA without PASID";
            }
            PasidEntry e0 = g.pasidArray.get(IommuCore.IOMMU_NO_PASID);
            if (e0 != null && e0.domain() == d) {
                return g + " holds it in PASID slot 0";
            }
        }
        return null;
    }

    /** True if {@code d} is attached as an aux domain anywhere (S04, the RID direction). */
    boolean isAux(IommuDomain d) {
        return domains.containsKey(d);
    }

    /** The RID attach paths' S04 check; call with {@link #lock}'s read lock held. */
    void refuseAuxAsRid(IommuDomain d, String fn) {
        AuxDomain a = domains.get(d);
        if (a != null) {
            throw Args.err(Errno.EINVAL, fn + ": " + d + " is attached as an aux domain to " + a.devices.keySet()
                    + " and cannot be a RID domain");
        }
    }

    /**
     * Runs a RID attach; while the aux API is in use, under the read lock with the S04 refusal
     * (-EINVAL for an aux domain), else bare.
     */
    void ridAttach(IommuDomain d, String fn, Runnable body) {
        if (!used) {
            body.run();
            return;
        }
        lock.readLock().lock();
        try {
            if (d != null) {
                refuseAuxAsRid(d, fn);
            }
            body.run();
        } finally {
            lock.readLock().unlock();
        }
    }

    /**
     * {@code iommu_aux_attach_device}: attach {@code d} to {@code dev} as an aux domain. With a
     * PASID-capable driver the domain's default PASID is allocated on its first aux attach (within
     * the device's PASID width), shared by later ones and installed with the PASID API; a
     * table-only driver (SMMUv2) only sets the domain up. -ENODEV without an IOMMU or aux support
     * or when no default PASID is left; the driver's refusal errno (VT-d -EPERM, else -EINVAL)
     * without AUX enabled or for a non-UNMANAGED domain; -EINVAL for a RID domain (S04) or a
     * blocked RID; -EBUSY if already attached to {@code dev} or the PASID is taken (S12);
     * -EOVERFLOW if the domain's PASID is beyond the device's width. A failure undoes exactly what
     * the call did (S06).
     */
    void attach(IommuDomain d, Device dev) {
        final String fn = "iommu_aux_attach_device";
        Args.requireDomain(d, fn);
        Args.requireDevice(dev, fn);
        IommuGroup group = registry.groupOf(dev);
        IommuOps ops = opsOf(dev);
        if (group == null || ops == null) {
            throw Args.err(Errno.ENODEV, fn + ": " + dev + " has no IOMMU");
        }
        AuxOps aux = ops.auxOps();
        if (aux == null) {
            throw Args.err(Errno.ENODEV, fn + ": driver " + ops + " has no aux-domain support");
        }
        lock.writeLock().lock();
        try {
            used = true;
            attachLocked(d, dev, group, ops, aux, fn);
        } finally {
            lock.writeLock().unlock();
        }
    }

    private void attachLocked(IommuDomain d, Device dev, IommuGroup group, IommuOps ops, AuxOps aux, String fn) {
        // is_aux_domain(): AUX enabled on the device and an unmanaged (paging) domain (S03)
        if (!Features.enabled(registry, dev, DevFeature.AUX) || d.type() != DomainType.UNMANAGED) {
            throw Args.err(aux.refusal(), fn + ": " + (d.type() != DomainType.UNMANAGED
                    ? d + " is a " + d.type() + " domain, not an unmanaged paging domain"
                    : "AUX is not enabled on " + dev));
        }
        if (!DomainLifecycle.opsCompatible(ops, d)) {
            throw Args.err(Errno.EINVAL, fn + ": " + d + " was not allocated by " + ops);
        }
        String rid = ridUser(d);
        if (rid != null) {
            throw Args.err(Errno.EINVAL, fn + ": " + d + " is a RID domain (" + rid + "), not an aux domain (S04)");
        }
        AuxDomain a = domains.get(d);
        if (a != null && a.devices.containsKey(dev)) {
            throw Args.err(Errno.EBUSY, fn + ": " + d + " is already aux-attached to " + dev);
        }
        // The PASID entries hang from the RID's translation: no real RID domain, nothing to hang them from.
        IommuDomain cur = group.domain;
        if (cur == null || cur.type() == DomainType.BLOCKED || cur == group.blockingDomain) {
            throw Args.err(Errno.EINVAL, fn + ": " + group + " of " + dev + " is blocked (" + cur
                    + "): no RID domain to hang PASID entries from");
        }
        boolean fresh = a == null;
        int pasid = IommuCore.IOMMU_PASID_INVALID;
        if (aux.usesPasid()) {
            int max = registry.devIommuOf(dev).maxPasids;
            if (fresh) {
                pasid = globalPasids.allocFor(max, fn + " default PASID of " + d);
                if (pasid == IommuCore.IOMMU_PASID_INVALID) {
                    tracer.log(fn, "Can't allocate default pasid for " + d + " on " + dev);
                    throw Args.err(Errno.ENODEV, fn + ": no default PASID for " + d + " within the "
                            + max + " PASIDs of " + dev);
                }
            } else {
                pasid = a.pasid;
                if (Integer.compareUnsigned(pasid, max) >= 0) {
                    throw Args.err(Errno.EOVERFLOW, fn + ": " + d + " uses PASID " + pasid + ", beyond the "
                            + max + " PASIDs of " + dev);
                }
            }
        }
        try {
            if (aux.usesPasid()) {
                installPasid(d, dev, group, pasid, a, fn);
            } else if (aux.attach() != null) {
                int ret = aux.attach().auxAttach(d, dev);
                tracer.trace(TraceEvent.Kind.DRIVER, "aux_attach_dev", "(" + d + ", " + dev + ") = " + Errno.describe(ret));
                if (ret != 0) {
                    throw Args.driverErr(ret, "driver " + ops + " aux_attach_dev(" + d + ", " + dev + ")");
                }
            }
        } catch (IommuException | IllegalStateException e) {
            // S06: undo exactly this call; the PASID only if nobody else holds it
            if (fresh && pasid != IommuCore.IOMMU_PASID_INVALID) {
                globalPasids.release(pasid, fn);
            }
            throw e;
        }
        if (fresh) {
            a = new AuxDomain(pasid);
            domains.put(d, a);
        }
        a.devices.put(dev, group);
    }

    /** The PASID half: once per group (its members share the slot), through the PASID API. */
    private void installPasid(IommuDomain d, Device dev, IommuGroup group, int pasid, AuxDomain a, String fn) {
        locks.lock(group);
        try {
            if (a != null && a.devices.containsValue(group)) {
                // A group sibling already installed d at this PASID on every member: link only.
                PasidEntry e = group.pasidArray.get(pasid);
                if (e == null || e.domain() != d) {
                    throw new IllegalStateException(group + " lost aux PASID " + pasid + " of " + d);
                }
                if (!group.devices.contains(dev)) {
                    throw Args.err(Errno.ENODEV, fn + ": " + dev + " left " + group);
                }
                return;
            }
            pasids.attachDevicePasidLocked(d, dev, group, pasid, new AuxHandle(), fn);
        } finally {
            group.mutex.unlock();
        }
    }

    /**
     * {@code iommu_aux_detach_device}: the PASID entry goes with the last aux user of its group, the
     * default PASID with the domain's last aux attachment (exactly once, S05). Not attached: nothing.
     */
    void detach(IommuDomain d, Device dev) {
        final String fn = "iommu_aux_detach_device";
        Args.requireDevice(dev, fn);
        if (d == null) {
            throw Args.err(Errno.EINVAL, fn + ": domain is null");
        }
        lock.writeLock().lock();
        try {
            AuxDomain a = domains.get(d);
            if (a == null || !a.devices.containsKey(dev)) {
                // the 2019 drivers return silently (is_aux_domain() false, or aux_nr_devs == 0)
                tracer.trace(TraceEvent.Kind.LOG, fn, d + " is not aux-attached to " + dev);
                return;
            }
            IommuGroup group = a.devices.remove(dev);
            DevIommu di = registry.devIommuOf(dev);
            IommuOps ops = di != null && di.iommuDev != null ? di.ops() : d.owner();
            AuxOps aux = ops == null ? null : ops.auxOps();
            if (a.pasid != IommuCore.IOMMU_PASID_INVALID) {
                if (!a.devices.containsValue(group)) {
                    // last user in this group: clear the PASID entries (the driver invalidates ATCs, S08)
                    locks.lock(group);
                    try {
                        pasids.detachDevicePasidLocked(d, dev, group, a.pasid, fn);
                    } finally {
                        group.mutex.unlock();
                    }
                }
            } else if (aux != null && aux.detach() != null) {
                aux.detach().auxDetach(d, dev);
                tracer.trace(TraceEvent.Kind.DRIVER, "aux_detach_dev", "(" + d + ", " + dev + ")");
            }
            if (a.refcnt() == 0) {
                // S05: the default PASID goes exactly once, with the last attachment, under this lock
                domains.remove(d);
                if (a.pasid != IommuCore.IOMMU_PASID_INVALID) {
                    globalPasids.release(a.pasid, fn);
                }
            }
        } finally {
            lock.writeLock().unlock();
        }
    }

    /** {@code iommu_aux_get_pasid}: the domain's PASID while it is aux-attached to {@code dev} (S07). */
    int getPasid(IommuDomain d, Device dev) {
        final String fn = "iommu_aux_get_pasid";
        Args.requireDevice(dev, fn);
        lock.readLock().lock();
        try {
            AuxDomain a = d == null ? null : domains.get(d);
            if (a == null || !a.devices.containsKey(dev) || a.pasid == IommuCore.IOMMU_PASID_INVALID) {
                throw Args.err(Errno.EINVAL, fn + ": " + d + " is not aux-attached to " + dev + " with a PASID");
            }
            return a.pasid;
        } finally {
            lock.readLock().unlock();
        }
    }

    /**
     * {@code iommu_domain_get_attr}: -EINVAL without the driver op (the 2019 core); PTBASE names an
     * aux domain's table, so the core answers -ENODEV for any other domain on every driver (S10).
     */
    long getAttr(IommuDomain d, DomainAttr attr) {
        final String fn = "iommu_domain_get_attr";
        Args.requireDomain(d, fn);
        if (attr == null) {
            throw Args.err(Errno.EINVAL, fn + ": attribute is null");
        }
        IommuOps owner = d.owner();
        if (owner == null || owner.domainGetAttr() == null) {
            throw Args.err(Errno.EINVAL, fn + ": " + d + " has no domain_get_attr op");
        }
        lock.readLock().lock();
        try {
            if (attr == DomainAttr.PTBASE && !domains.containsKey(d)) {
                throw Args.err(Errno.ENODEV, fn + ": " + d + " is not an aux domain: no PTBASE");
            }
            try {
                long v = owner.domainGetAttr().domainGetAttr(d, attr);
                tracer.trace(TraceEvent.Kind.DRIVER, "domain_get_attr", "(" + d + ", " + attr + ") = " + v);
                return v;
            } catch (IommuException e) {
                tracer.trace(TraceEvent.Kind.DRIVER, "domain_get_attr", "(" + d + ", " + attr + ") = " + e.errno());
                throw e;
            }
        } finally {
            lock.readLock().unlock();
        }
    }

    /** The aux domains attached to {@code dev} (for feature disable and snapshots). */
    List<IommuDomain> domainsOf(Device dev) {
        lock.readLock().lock();
        try {
            return domains.entrySet().stream().filter(e -> e.getValue().devices.containsKey(dev))
                    .map(Map.Entry::getKey).toList();
        } finally {
            lock.readLock().unlock();
        }
    }
}
