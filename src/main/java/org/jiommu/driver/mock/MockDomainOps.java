package org.jiommu.driver.mock;

import static org.jiommu.driver.mock.MockIommuDriver.ret;

import java.util.List;
import java.util.TreeMap;
import org.jiommu.base.Errno;
import org.jiommu.base.Hex;
import org.jiommu.base.IommuException;
import org.jiommu.bus.Device;
import org.jiommu.core.spi.AllocFlags;
import org.jiommu.core.spi.DomainType;
import org.jiommu.core.spi.Geometry;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.mm.MmStruct;
import org.jiommu.pgtable.IoPageTable;
import org.jiommu.pgtable.IotlbGather;
import org.jiommu.pgtable.Mapped;

/**
 * The mock driver's domain side: {@code domain_alloc_*} and the {@code iommu_domain_ops} of its
 * domains ({@code attach_dev}, {@code map_pages} / {@code unmap_pages}, the IOTLB syncs,
 * {@code free}). A part of {@link MockIommuDriver}: its state lives there, guarded by the
 * driver's monitor; page-table map/unmap run without it.
 */
final class MockDomainOps {
    private final MockIommuDriver drv;

    MockDomainOps(MockIommuDriver drv) {
        this.drv = drv;
    }

    IommuDomain domainAllocPaging(Device dev) {
        if (drv.core.shouldFailAlloc("mock domain_alloc_paging")) {
            drv.record("domain_alloc_paging", null, dev, null, "domain_alloc_paging(" + dev + ") = NULL",
                    Errno.ENOMEM.neg());
            return null; // the core reads NULL as -ENOMEM
        }
        MockDomain d = newPagingDomain(0);
        drv.record("domain_alloc_paging", d, dev, null, "domain_alloc_paging(" + dev + ") = ok", 0);
        return d;
    }

    IommuDomain domainAllocPagingFlags(Device dev, int flags) {
        String text = String.format("domain_alloc_paging_flags(%s, %#x)", dev, flags);
        if ((flags & ~AllocFlags.PASID) != 0 || ((flags & AllocFlags.PASID) != 0 && !drv.config.pasidFlagSupported())) {
            drv.record("domain_alloc_paging_flags", null, dev, null, text + " = " + Errno.EOPNOTSUPP.neg(),
                    Errno.EOPNOTSUPP.neg());
            throw new IommuException(Errno.EOPNOTSUPP, "mock " + drv.config.name() + " does not support flags "
                    + String.format("%#x", flags));
        }
        if (drv.core.shouldFailAlloc("mock domain_alloc_paging_flags")) {
            drv.record("domain_alloc_paging_flags", null, dev, null, text + " = " + Errno.ENOMEM.neg(), Errno.ENOMEM.neg());
            throw new IommuException(Errno.ENOMEM, "mock " + drv.config.name() + ": out of memory for a domain");
        }
        MockDomain d = newPagingDomain(flags);
        drv.record("domain_alloc_paging_flags", d, dev, null, text + " = ok", 0);
        return d;
    }

    MockDomain newPagingDomain(int flags) {
        MockDomain d = new MockDomain(drv, drv.pagingOps, flags);
        // No per-page invalidation hardware: cleared leaves only widen the gather, so the core's
        // single iotlb_sync at the end of an unmap covers them (SEMANTICS.md 13 #90).
        IoPageTable pt = drv.tables.create(drv.config.pgsizeBitmap(), drv.config.ias(), (gather, iova, granule) -> {
            gather.addRange(iova, granule);
            gather.pgsize = granule;
        });
        d.pgtable = pt;
        d.setPgsizeBitmap(pt.pgsizeBitmap());
        d.setGeometry(drv.config.aperture() != null ? drv.config.aperture() : Geometry.ofBits(pt.ias()));
        synchronized (drv) {
            drv.live.add(d);
        }
        return d;
    }

    /** {@code domain_alloc_sva}: a domain whose PASID entries point at the mm's page table. */
    IommuDomain domainAllocSva(Device dev, MmStruct mm) {
        if (drv.core.shouldFailAlloc("mock domain_alloc_sva")) {
            drv.record("domain_alloc_sva", null, dev, null, "domain_alloc_sva(" + dev + ", " + mm + ") = -ENOMEM",
                    Errno.ENOMEM.neg());
            throw new IommuException(Errno.ENOMEM, "mock " + drv.config.name() + ": out of memory for an SVA domain");
        }
        MockDomain d = new MockDomain(drv, drv.svaOps, 0, mm);
        synchronized (drv) {
            drv.live.add(d);
        }
        drv.record("domain_alloc_sva", d, dev, null, "domain_alloc_sva(" + dev + ", " + mm + ") = ok", 0);
        return d;
    }

    IommuDomain domainAllocIdentity(Device dev) {
        if (drv.core.shouldFailAlloc("mock domain_alloc_identity")) {
            drv.record("domain_alloc_identity", null, dev, null, "domain_alloc_identity(" + dev + ") = NULL",
                    Errno.ENOMEM.neg());
            return null;
        }
        MockDomain d = new MockDomain(drv, drv.identityAllocOps, 0);
        synchronized (drv) {
            drv.live.add(d);
        }
        drv.record("domain_alloc_identity", d, dev, null, "domain_alloc_identity(" + dev + ") = ok", 0);
        return d;
    }

    boolean ours(IommuDomain d) {
        return d == drv.blockedDomain || d == drv.identityDomain || d == drv.releaseDomain
                || d == drv.legacyDefaultDomain
                || (d instanceof MockDomain && ((MockDomain) d).driver() == drv);
    }

    Errno attachFault(IommuDomain d, Device dev) {
        synchronized (drv) {
            for (Object[] f : drv.failAttach) {
                if ((f[0] == null || f[0] == d) && (f[1] == null || f[1] == dev)) {
                    return (Errno) f[2];
                }
            }
            return null;
        }
    }

    int attachDev(IommuDomain d, Device dev, IommuDomain old) {
        MockIommuDriver.Lookup lookup;
        synchronized (drv) {
            lookup = drv.lookupInAttach;
        }
        if (lookup == MockIommuDriver.Lookup.GET_DOMAIN_FOR_DEV) {
            drv.core.getDomainForDev(dev);
        } else if (lookup == MockIommuDriver.Lookup.DRIVER_GET_DOMAIN_FOR_DEV) {
            drv.core.driverGetDomainForDev(dev);
        }
        String text = "attach_dev(" + d + ", " + dev + ", old=" + old + ")";
        IommuDomain before;
        synchronized (drv) {
            before = drv.programmed.get(dev);
        }
        int r = drv.pasidOps.iopfBefore(dev, before, d);
        if (r != 0) {
            drv.record("attach_dev", d, dev, old, text + " = " + ret(r), r);
            return r;
        }
        synchronized (drv) {
            Errno f = attachFault(d, dev);
            if (f != null) {
                r = f.neg();
            } else if (!drv.probed.contains(dev) || !ours(d)) {
                // a device this instance never probed, or another driver's domain
                r = Errno.EINVAL.neg();
            } else if (drv.config.pasidCompatCheck() && !MockPasidOps.pasidCompat(d)
                    && !drv.pasids.getOrDefault(dev, new TreeMap<>()).isEmpty()) {
                // the PASID entries hang from the RID entry: a table format without PASID support
                // would strand them (iommufd_hwpt_pasid_compat, the RID direction)
                r = Errno.EINVAL.neg();
            } else {
                IommuDomain hw = drv.programmed.get(dev);
                if (old != null && hw != null && old != hw) {
                    drv.core.warnings().warn("mock attach_dev", dev + ": core says old domain is " + old
                            + " but the hardware holds " + hw);
                }
                moveRid(dev, d);
                r = 0;
            }
        }
        drv.record("attach_dev", d, dev, old, text + " = " + ret(r), r);
        drv.pasidOps.iopfAfter(dev);
        return r;
    }

    /**
     * Points the device's RID entry at {@code d}, keeping the devices lists and IOPF counts. Holds
     * the driver's lock.
     */
    void moveRid(Device dev, IommuDomain d) {
        IommuDomain prev = drv.programmed.get(dev);
        if (prev instanceof MockDomain) {
            ((MockDomain) prev).attached.remove(dev);
        }
        if (MockPasidOps.isIopf(prev) && !drv.faults.leakIopfRefcount()) {
            drv.iopfRefcount.merge(dev, -1, Integer::sum);
        }
        if (d instanceof MockDomain) {
            ((MockDomain) d).attached.add(dev);
        }
        if (MockPasidOps.isIopf(d)) {
            drv.iopfRefcount.merge(dev, 1, Integer::sum);
        }
        if (d == null) {
            drv.programmed.remove(dev);
        } else {
            drv.programmed.put(dev, d);
        }
        if (drv.hardware != null) {
            MockHardware.Entry e = entryFor(d);
            for (int sid : drv.sids.getOrDefault(dev, List.of())) {
                drv.hardware.writeStream(sid, e);
            }
        }
        drv.pasidOps.checkIopfRefcount(dev, "mock attach_dev");
    }

    int mapPages(IommuDomain dom, long iova, long paddr, long pgsize, long pgcount, int prot, Mapped mapped) {
        MockDomain d = (MockDomain) dom;
        long allowed = pgcount;
        boolean fail = false;
        synchronized (drv) {
            if (drv.mapBudget >= 0) {
                allowed = Math.min(pgcount, drv.mapBudget / pgsize);
                fail = allowed < pgcount;
            }
        }
        int r = 0;
        long before = mapped.bytes;
        if (allowed > 0) {
            r = d.pgtable.mapPages(iova, paddr, pgsize, allowed, prot, mapped);
        }
        long done = mapped.bytes - before;
        synchronized (drv) {
            if (drv.mapBudget >= 0) {
                drv.mapBudget -= done;
            }
        }
        if (r == 0 && fail && done == allowed * pgsize) {
            r = Errno.ENOMEM.neg();
        }
        drv.record("map_pages", d, null, null, "map_pages(" + d + ", " + Hex.of(iova) + ", " + Hex.of(paddr)
                + ", " + Hex.of(pgsize) + " x " + pgcount + ") = " + ret(r) + " mapped " + Hex.of(done), r);
        return r;
    }

    long unmapPages(IommuDomain dom, long iova, long pgsize, long pgcount, IotlbGather gather) {
        MockDomain d = (MockDomain) dom;
        long u = d.pgtable.unmapPages(iova, pgsize, pgcount, gather);
        drv.record("unmap_pages", d, null, null, "unmap_pages(" + d + ", " + Hex.of(iova) + ", " + Hex.of(pgsize)
                + " x " + pgcount + ") = " + Hex.of(u), u);
        return u;
    }

    int iotlbSyncMap(IommuDomain d, long iova, long size) {
        Errno f;
        synchronized (drv) {
            f = drv.failSyncMap;
        }
        int r = f == null ? 0 : f.neg();
        drv.record("iotlb_sync_map", d, null, null, "iotlb_sync_map(" + d + ", " + Hex.of(iova) + ", " + Hex.of(size)
                + ") = " + ret(r), r);
        return r;
    }

    void iotlbSync(IommuDomain d, IotlbGather gather) {
        String range = gather.isEmpty() ? "empty" : Hex.of(gather.start) + ".." + Hex.of(gather.end);
        drv.record("iotlb_sync", d, null, null, "iotlb_sync(" + d + ", " + range + ")", 0);
    }

    void flushIotlbAll(IommuDomain d) {
        drv.record("flush_iotlb_all", d, null, null, "flush_iotlb_all(" + d + ")", 0);
    }

    long iovaToPhys(IommuDomain dom, long iova) {
        IoPageTable pt = ((MockDomain) dom).pgtable;
        return pt == null ? 0 : pt.iovaToPhys(iova);
    }

    void free(IommuDomain dom) {
        MockDomain d = (MockDomain) dom;
        synchronized (drv) {
            if (!d.attached.isEmpty()) {
                drv.core.warnings().warn("mock free", "freeing " + d + " while devices " + d.attached
                        + " still point at it");
            }
            drv.live.remove(d);
            d.freedByDriver = true;
        }
        if (d.pgtable != null) {
            d.pgtable.free();
        }
        drv.record("free", d, null, null, "free(" + d + ")", 0);
    }

    /** What the hardware entry for a device on {@code d} says. */
    static MockHardware.Entry entryFor(IommuDomain d) {
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
}
