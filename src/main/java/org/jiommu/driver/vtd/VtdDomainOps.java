package org.jiommu.driver.vtd;

import org.jiommu.base.Errno;
import org.jiommu.base.IommuException;
import org.jiommu.base.WarningSink;
import org.jiommu.bus.Device;
import org.jiommu.core.spi.AllocFlags;
import org.jiommu.core.spi.CoreServices;
import org.jiommu.core.spi.Geometry;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.mem.FrameAllocator;
import org.jiommu.mm.MmStruct;
import org.jiommu.pgtable.IoPageTables;
import org.jiommu.pgtable.IoPgtableCfg;
import org.jiommu.pgtable.IotlbGather;
import org.jiommu.pgtable.Mapped;
import org.jiommu.pgtable.PgtableFormat;
import org.jiommu.pgtable.TlbOps;
import org.jiommu.pgtable.x86.X86RadixPageTable;

/**
 * The VT-d driver's domains ({@code intel_iommu_domain_alloc_paging_flags},
 * {@code intel_svm_domain_alloc}, {@code intel_iommu_domain_free}) and the page-table half of
 * their ops (map, unmap, iova_to_phys); the flush half is {@link VtdCacheTags}. Package-private:
 * the driver's {@code iommu_ops} and {@code domain_ops} point here.
 */
final class VtdDomainOps {
    private final VtdIommuDriver driver;
    private final CoreServices core;
    private final FrameAllocator frames;
    private final WarningSink warnings;
    private final VtdCacheTags tags;

    VtdDomainOps(VtdIommuDriver driver, CoreServices core, FrameAllocator frames, VtdCacheTags tags) {
        this.driver = driver;
        this.core = core;
        this.frames = frames;
        this.warnings = core.warnings();
        this.tags = tags;
    }


    IommuDomain domainAllocPaging(Device dev) {
        return allocPaging(dev, 0);
    }

    IommuDomain domainAllocPagingFlags(Device dev, int flags) {
        return allocPaging(dev, flags);
    }

    /**
     * intel_iommu_domain_alloc_paging_flags: a first-stage domain where the unit runs in scalable
     * mode with first-level support and nothing asks for second stage (first_level_by_default,
     * intel_iommu_domain_alloc_first_stage), else a second-stage one
     * (intel_iommu_domain_alloc_second_stage): a nesting parent or dirty tracking, a legacy unit,
     * or a scalable unit without ECAP.FLTS. Dirty tracking needs ECAP.SLADS, which the modelled
     * units lack (-EOPNOTSUPP); a nesting parent needs ECAP.NEST and refuses read-only maps
     * (ERRATA_772415_SPR17).
     */
    private IommuDomain allocPaging(Device dev, int flags) {
        DeviceInfo info = driver.info(dev);
        if (info == null) {
            throw new IommuException(Errno.ENODEV, VtdIommuDriver.NAME + ": " + dev + " is not probed by this driver");
        }
        int known = AllocFlags.PASID | AllocFlags.NEST_PARENT | AllocFlags.DIRTY_TRACKING;
        if ((flags & ~known) != 0) {
            throw new IommuException(Errno.EOPNOTSUPP, String.format("%s: allocation flags %#x not supported",
                    VtdIommuDriver.NAME, flags & ~known));
        }
        VtdIommu u = info.iommu;
        boolean nestedParent = (flags & AllocFlags.NEST_PARENT) != 0;
        if (nestedParent && !u.nestedSupported) {
            throw new IommuException(Errno.EOPNOTSUPP, VtdIommuDriver.NAME + ": " + u + " cannot nest");
        }
        if ((flags & AllocFlags.DIRTY_TRACKING) != 0) {
            throw new IommuException(Errno.EOPNOTSUPP, VtdIommuDriver.NAME + ": " + u
                    + " has no second-stage dirty tracking (ECAP.SLADS)");
        }
        boolean firstStage = (flags & ~AllocFlags.PASID) == 0 && u.scalable && u.firstLevel;
        if (!firstStage && !u.secondLevel) {
            throw new IommuException(Errno.EOPNOTSUPP, VtdIommuDriver.NAME + ": " + u + " has no second-level translation");
        }
        if (core.shouldFailAlloc("intel_iommu_domain_alloc_paging")) {
            throw new IommuException(Errno.ENOMEM, VtdIommuDriver.NAME + ": no memory for a domain");
        }
        // paging_domain_alloc: the guest width, the superpage sizes of the chosen stage
        int gaw = u.domainGaw();
        int superpage = u.superpageCapability(firstStage);
        long sizes = X86RadixPageTable.SZ_4K | (superpage >= 1 ? X86RadixPageTable.SZ_2M : 0)
                | (superpage >= 2 ? X86RadixPageTable.SZ_1G : 0);
        X86RadixPageTable table;
        int aperture;
        if (firstStage) {
            // First-stage input addresses are canonical: the aperture skips bit gaw - 1.
            aperture = gaw - 1;
            table = (X86RadixPageTable) IoPageTables.alloc(PgtableFormat.X86_64_FIRST_LEVEL,
                    IoPgtableCfg.builder(frames).ias(aperture).pgsizeBitmap(sizes).warnings(warnings).build(),
                    TlbOps.NONE);
        } else {
            aperture = gaw;
            table = (X86RadixPageTable) IoPageTables.alloc(PgtableFormat.VTD_SECOND_LEVEL,
                    IoPgtableCfg.builder(frames).ias(VtdIommu.agawToWidth(u.agaw)).pgsizeBitmap(sizes)
                            .features(nestedParent ? IoPgtableCfg.FEAT_VTDSS_FORCE_WRITEABLE : 0)
                            .warnings(warnings).build(), TlbOps.NONE);
        }
        VtdDomain d = new VtdDomain(driver, driver.pagingOps, table, firstStage, aperture);
        d.gaw = gaw;
        d.agaw = u.agaw;
        d.iommuSuperpage = superpage;
        d.iommuCoherency = u.pagingStructureCoherency();
        d.nestedParent = nestedParent;
        // intel_iommu_domain_alloc_first_stage / _second_stage: map must flush the write buffer
        // where RWBF is required, and a second-stage domain also on caching-mode hardware.
        d.iotlbSyncMap = u.writeBufferFlush || (!firstStage && u.cachingMode);
        d.setPgsizeBitmap(table.pgsizeBitmap());
        d.setGeometry(Geometry.ofBits(aperture));
        // Tables a map replaces by a large leaf go back only after the caches forgot them.
        table.setTlb(TlbOps.syncing(g -> {
            if (!g.isEmpty()) {
                tags.flushRange(d, g.start, g.end);
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
    IommuDomain domainAllocSva(Device dev, MmStruct mm) {
        if (driver.info(dev) == null) {
            throw new IommuException(Errno.ENODEV, VtdIommuDriver.NAME + ": " + dev + " is not probed by this driver");
        }
        if (core.shouldFailAlloc("intel_svm_domain_alloc")) {
            throw new IommuException(Errno.ENOMEM, VtdIommuDriver.NAME + ": no memory for an SVA domain");
        }
        VtdDomain d = new VtdDomain(driver, driver.svaOps, mm);
        d.notifier = (m, start, end) -> {
            if (Long.compareUnsigned(end, start) > 0) {
                tags.flushRange(d, start, end - 1); // intel_arch_invalidate_secondary_tlbs: end is exclusive
            }
        };
        mm.mmuNotifierRegister(d.notifier);
        return d;
    }


    /** The table's map_range (iommu_pt.h): the whole range in one call. */
    int mapRange(IommuDomain dom, long iova, long paddr, long len, int prot, Mapped mapped) {
        return ((VtdDomain) dom).pgtable.mapRange(iova, paddr, len, prot, mapped);
    }

    /** The table's unmap_range: up to the first hole; the caller's gather collects the range. */
    long unmapRange(IommuDomain dom, long iova, long len, IotlbGather gather) {
        return ((VtdDomain) dom).pgtable.unmapRange(iova, len, gather);
    }

    long iovaToPhys(IommuDomain dom, long iova) {
        return ((VtdDomain) dom).pgtable.iovaToPhys(iova);
    }

    /** intel_iommu_domain_free: the core only frees an unattached domain; the table goes back whole. */
    void free(IommuDomain dom) {
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
}
