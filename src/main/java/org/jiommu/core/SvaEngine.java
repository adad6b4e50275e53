package org.jiommu.core;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.locks.ReentrantLock;
import org.jiommu.base.Errno;
import org.jiommu.base.IommuException;
import org.jiommu.bus.Device;
import org.jiommu.core.spi.CookieType;
import org.jiommu.core.spi.DomainType;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.core.spi.IommuOps;
import org.jiommu.mm.MmStruct;

/**
 * Shared virtual addressing ({@code iommu-sva.c}, SEMANTICS.md 8.5, ≥v6.11 handle logic, v6.16
 * allocation): a process address space is bound to devices at one PASID per mm, taken from the
 * global allocator on the first bind and kept for the life of the mm; devices share the mm's SVA
 * domains where their driver accepts them; a bond is counted per (group, PASID) handle.
 *
 * <p><b>Locking.</b> {@link #lock} is {@code iommu_sva_lock}: bind, unbind and the mm's PASID
 * drop run under it. It sits between the probe lock and the group mutexes (the PASID API takes
 * the group mutex inside it) and is never held together with the aux lock.
 */
final class SvaEngine {
    /** {@code struct iommu_mm_data}: the mm's PASID and its SVA domains. */
    static final class IommuMm {
        final int pasid;
        final List<IommuDomain> svaDomains = new ArrayList<>();

        IommuMm(int pasid) {
            this.pasid = pasid;
        }
    }

    /** The SVA fields of an SVA domain: {@code domain->mm}, {@code domain->users}. */
    static final class SvaDomain {
        final MmStruct mm;
        int users;

        SvaDomain(MmStruct mm) {
            this.mm = mm;
        }
    }

    private final Tracer tracer;
    private final CoreRegistry registry;
    private final DomainLifecycle lifecycle;
    private final AttachEngine attach;
    private final PasidEngine pasids;
    private final IopfEngine iopf;
    private final GlobalPasidAllocator globalPasids;
    final ReentrantLock lock = new ReentrantLock();
    /** {@code mm->iommu_mm}. Guarded by {@link #lock}. */
    final Map<MmStruct, IommuMm> mms = new IdentityHashMap<>();
    /** Live SVA domains. Guarded by {@link #lock}. */
    final Map<IommuDomain, SvaDomain> domains = new LinkedHashMap<>();

    SvaEngine(Tracer tracer, CoreRegistry registry, DomainLifecycle lifecycle, AttachEngine attach, PasidEngine pasids, IopfEngine iopf, GlobalPasidAllocator globalPasids) {
        this.tracer = tracer;
        this.registry = registry;
        this.lifecycle = lifecycle;
        this.attach = attach;
        this.pasids = pasids;
        this.iopf = iopf;
        this.globalPasids = globalPasids;
    }

    /** {@code iommu_alloc_mm_data}: reuse the mm's PASID if the device can address it, else allocate one. */
    private IommuMm allocMmData(MmStruct mm, Device dev, DevIommu di, String fn) {
        if (!mm.dmaCompatible()) {
            throw Args.err(Errno.EBUSY, fn + ": " + mm + " uses features the IOMMU cannot follow");
        }
        IommuMm im = mms.get(mm);
        if (im != null) {
            if (Integer.compareUnsigned(im.pasid, di.maxPasids) >= 0) {
                throw Args.err(Errno.EOVERFLOW, fn + ": " + mm + " has PASID " + im.pasid + ", beyond the "
                        + di.maxPasids + " PASIDs of " + dev);
            }
            return im;
        }
        if (tracer.shouldFailAlloc("iommu_mm_data " + mm)) {
            throw Args.err(Errno.ENOMEM, fn + ": no memory for the iommu_mm of " + mm);
        }
        int pasid = globalPasids.allocFor(di.maxPasids, fn + " " + mm);
        if (pasid == IommuCore.IOMMU_PASID_INVALID) {
            throw Args.err(Errno.ENOSPC, fn + ": no global PASID for " + mm + " within the " + di.maxPasids
                    + " PASIDs of " + dev);
        }
        im = new IommuMm(pasid);
        mms.put(mm, im);
        return im;
    }

    /**
     * {@code iommu_sva_bind_device}: bind {@code mm} to {@code dev} at the mm's PASID (allocated
     * from the global namespace on the mm's first bind and kept until {@link #mmPasidDrop}).
     * Binding again where the group already has the bond returns the same handle with one more
     * user; a new bond shares an existing SVA domain of the mm if the driver accepts it, else the
     * driver allocates one ({@code domain_alloc_sva}). -ENODEV without a group; -EBUSY for an mm
     * the IOMMU cannot follow or a PASID slot holding another domain; -EOVERFLOW when the mm's
     * PASID is beyond the device's width; -ENOSPC when no PASID is left; -EOPNOTSUPP without
     * {@code domain_alloc_sva}; PASID API errors. A failure after the mm got its PASID keeps the
     * PASID (the kernel does; it belongs to the mm).
     */
    SvaHandle bind(Device dev, MmStruct mm) {
        final String fn = "iommu_sva_bind_device";
        Args.requireDevice(dev, fn);
        if (mm == null) {
            throw Args.err(Errno.EINVAL, fn + ": mm is null");
        }
        IommuGroup group = registry.groupOf(dev);
        DevIommu di = registry.devIommuOf(dev);
        if (group == null || di == null || di.iommuDev == null) {
            throw Args.err(Errno.ENODEV, fn + ": " + dev + " has no IOMMU group");
        }
        lock.lock();
        try {
            IommuMm im = allocMmData(mm, dev, di, fn);
            // A bond of this group at the mm's PASID already exists: one more user of it.
            try {
                AttachHandle ah = attach.attachHandleGet(group, im.pasid, DomainType.SVA);
                SvaDomain sd = domains.get(ah.domain());
                if (!(ah instanceof SvaHandle) || sd == null || sd.mm != mm) {
                    throw Args.err(Errno.EBUSY, fn + ": PASID " + im.pasid + " of " + group
                            + " is bound to another address space");
                }
                ((SvaHandle) ah).users++;
                return (SvaHandle) ah;
            } catch (IommuException e) {
                if (e.errno() != Errno.ENOENT) {
                    throw e; // the slot holds a non-SVA domain: -EBUSY
                }
            }
            if (tracer.shouldFailAlloc("iommu_sva handle " + dev)) {
                throw Args.err(Errno.ENOMEM, fn + ": no memory for a bond of " + dev);
            }
            SvaHandle h = new SvaHandle(dev);
            // Share an existing SVA domain of this mm if the device's driver takes it.
            for (IommuDomain d : im.svaDomains) {
                try {
                    pasids.attachDevicePasid(d, dev, im.pasid, h);
                } catch (IommuException e) {
                    continue;
                }
                domains.get(d).users++;
                h.users = 1;
                return h;
            }
            IommuDomain d = allocSvaDomain(dev, mm, di.ops(), fn);
            try {
                pasids.attachDevicePasid(d, dev, im.pasid, h);
            } catch (IommuException e) {
                freeSvaDomain(d);
                throw e;
            }
            SvaDomain sd = new SvaDomain(mm);
            sd.users = 1;
            domains.put(d, sd);
            im.svaDomains.add(d);
            h.users = 1;
            return h;
        } finally {
            lock.unlock();
        }
    }

    /** {@code iommu_sva_domain_alloc} (v6.16: {@code domain_alloc_sva} only, no fallback). */
    private IommuDomain allocSvaDomain(Device dev, MmStruct mm, IommuOps ops, String fn) {
        if (ops.domainAllocSva() == null) {
            throw Args.err(Errno.EOPNOTSUPP, fn + ": driver " + ops + " has no domain_alloc_sva");
        }
        IommuDomain d = lifecycle.driverAlloc("domain_alloc_sva", dev, () -> ops.domainAllocSva().domainAllocSva(dev, mm));
        if (d == null) {
            throw Args.err(Errno.ENOMEM, fn + ": driver " + ops + " domain_alloc_sva returned NULL");
        }
        lifecycle.init(d, DomainType.SVA, ops);
        d.setCookieType(CookieType.SVA); // holds the mm (mmgrab)
        iopf.setSvaHandler(d, mm);
        return d;
    }

    private void freeSvaDomain(IommuDomain d) {
        iopf.clearHandler(d);
        lifecycle.free(d);
    }

    void unbind(SvaHandle h) {
        final String fn = "iommu_sva_unbind_device";
        if (h == null) {
            throw Args.err(Errno.EINVAL, fn + ": handle is null");
        }
        lock.lock();
        try {
            if (h.users == 0) {
                tracer.warn(fn, h + " is not bound");
                return;
            }
            if (--h.users > 0) {
                return;
            }
            IommuDomain d = h.domain();
            SvaDomain sd = domains.get(d);
            IommuMm im = mms.get(sd.mm);
            pasids.detachDevicePasid(d, h.device(), im.pasid);
            if (--sd.users == 0) {
                im.svaDomains.remove(d);
                domains.remove(d);
                freeSvaDomain(d);
            }
            // The mm keeps its PASID until it is torn down (I-MM-PASID).
        } finally {
            lock.unlock();
        }
    }

    int getPasid(SvaHandle h) {
        if (h == null || h.domain() == null) {
            throw Args.err(Errno.EINVAL, "iommu_sva_get_pasid: not a bond");
        }
        lock.lock();
        try {
            SvaDomain sd = domains.get(h.domain());
            IommuMm im = sd == null ? null : mms.get(sd.mm);
            return im == null ? IommuCore.IOMMU_PASID_INVALID : im.pasid;
        } finally {
            lock.unlock();
        }
    }

    int mmPasid(MmStruct mm) {
        lock.lock();
        try {
            IommuMm im = mms.get(mm);
            return im == null ? IommuCore.IOMMU_PASID_INVALID : im.pasid;
        } finally {
            lock.unlock();
        }
    }

    /**
     * {@code mm_pasid_drop} at mm teardown: the PASID returns to the global namespace. The model
     * refuses (-EBUSY) while SVA domains still hold the mm; the kernel only gets here after they
     * dropped their mmgrab.
     */
    void mmPasidDrop(MmStruct mm) {
        final String fn = "mm_pasid_drop";
        if (mm == null) {
            throw Args.err(Errno.EINVAL, fn + ": mm is null");
        }
        lock.lock();
        try {
            IommuMm im = mms.get(mm);
            if (im == null) {
                return;
            }
            if (!mm.exited()) {
                throw Args.err(Errno.EBUSY, fn + ": " + mm + " has not exited: its PASID lives as long as it does");
            }
            if (!im.svaDomains.isEmpty()) {
                throw Args.err(Errno.EBUSY, fn + ": " + mm + " is still held by SVA domains " + im.svaDomains);
            }
            mms.remove(mm);
            globalPasids.release(im.pasid, fn);
        } finally {
            lock.unlock();
        }
    }

    /** The mm an SVA domain shares, or null (for the fault handler). */
    MmStruct mmOf(IommuDomain d) {
        lock.lock();
        try {
            SvaDomain sd = domains.get(d);
            return sd == null ? null : sd.mm;
        } finally {
            lock.unlock();
        }
    }

    /** mm → (PASID, SVA domains with their users), for snapshots. Call with {@link #lock} held. */
    Map<MmStruct, IommuMm> mmsLocked() {
        return mms;
    }
}
