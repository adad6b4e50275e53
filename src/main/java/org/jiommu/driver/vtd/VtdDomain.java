package org.jiommu.driver.vtd;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jiommu.base.Errno;
import org.jiommu.core.spi.DomainOps;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.driver.common.DevTlbTags;
import org.jiommu.mm.MmStruct;
import org.jiommu.pgtable.x86.X86RadixPageTable;

/**
 * A VT-d paging domain ({@code struct dmar_domain}): its page table (first-stage x86-64 format by
 * default on a scalable unit with first-level support, else second-stage), its
 * and, per unit it is attached through, the domain id it carries there and what caches may hold
 * its translations (the kernel's {@code iommu_array} and cache tags).
 *
 * <p>Locking: {@link #lock} ({@code domain->lock} / {@code cache_lock}) guards the per-unit ids
 * and the device-TLB tags; it nests inside a unit's lock and outside the invalidation queue's.
 */
public final class VtdDomain extends IommuDomain {
    /** One unit the domain is attached through: its DID there and how many attachments use it. */
    static final class UnitRef {
        final int did;
        int refcnt;
        /**
         * The descriptors of one flush being gathered for this unit, under the domain's lock: the
         * kernel's per-domain {@code qi_batch} (cache.c {@code qi_batch_add_*}), reused by every
         * flush instead of a new batch per call.
         */
        final java.util.ArrayList<long[]> qiBatch = new java.util.ArrayList<>(4);

        UnitRef(int did) {
            this.did = did;
        }
    }

    /**
     * A first-level (SVA) attachment: the unit's IOTLB tags its translations with (DID, PASID),
     * so invalidations are PASID-based (cache tag CACHE_TAG_IOTLB with a PASID).
     */
    record PasidTag(DeviceInfo info, int pasid) {
    }

    final VtdIommuDriver driver;
    /**
     * The domain's table: a {@code VtdSecondLevelPageTable}, or an {@code X86FirstLevelPageTable}
     * for a first-stage domain; null for an SVA domain.
     */
    final X86RadixPageTable pgtable;
    /** dmar_domain->use_first_level: a paging domain with a first-stage table. */
    final boolean firstStage;
    /** dmar_domain->gaw and ->agaw: the guest address width and the AGAW the table was built for. */
    int gaw;
    int agaw;
    /** dmar_domain->iommu_superpage and ->iommu_coherency, as paging_domain_compatible compares them. */
    int iommuSuperpage;
    boolean iommuCoherency;
    /** IOMMU_HWPT_ALLOC_NEST_PARENT: a second-stage parent of nested domains. */
    boolean nestedParent;
    /** dmar_domain->iotlb_sync_map: map must flush (RWBF, or caching mode for second stage). */
    boolean iotlbSyncMap;
    /** The process address space of an SVA domain (its first-level table is {@code mm->pgd}); else null. */
    final MmStruct mm;
    /** The mmu notifier an SVA domain registered on {@link #mm}. */
    MmStruct.MmuNotifier notifier;
    final int apertureBits;
    final Object lock = new Object();
    /** Units in first-attach order. Guarded by {@link #lock}. */
    final Map<VtdIommu, UnitRef> units = new LinkedHashMap<>();
    /** The ATCs that may cache this domain's translations, per (device, PASID; 0 = RID). Guarded by {@link #lock}. */
    final DevTlbTags<DeviceInfo> devTlbTags = new DevTlbTags<>();
    /** First-level attachments (SVA). Guarded by {@link #lock}. */
    final List<PasidTag> pasidTags = new ArrayList<>();
    private volatile boolean iopfCapable;
    volatile boolean freedByDriver;

    VtdDomain(VtdIommuDriver driver, DomainOps ops, X86RadixPageTable pgtable, boolean firstStage, int apertureBits) {
        super(ops);
        this.driver = driver;
        this.pgtable = pgtable;
        this.firstStage = firstStage;
        this.mm = null;
        this.apertureBits = apertureBits;
    }

    /** An SVA domain ({@code intel_svm_domain_alloc}): no table of its own, the mm's is walked. */
    VtdDomain(VtdIommuDriver driver, DomainOps ops, MmStruct mm) {
        super(ops);
        this.driver = driver;
        this.pgtable = null;
        this.firstStage = false;
        this.mm = mm;
        this.apertureBits = 0;
        // SVA faults go to the mm (the core sets the handler): the attach path enables IOPF.
        this.iopfCapable = true;
    }

    /**
     * The table every context or PASID entry of this domain points at (second-stage, or first-stage
     * when {@link #firstStage()}); null for an SVA domain.
     */
    public X86RadixPageTable pageTable() {
        return pgtable;
    }

    /** Whether this paging domain translates with a first-stage table (intel_domain_is_fs_paging). */
    public boolean firstStage() {
        return firstStage;
    }

    /**
     * Whether the unit tags this domain's translations with (DID, PASID), so that its IOTLB
     * invalidations are PASID-based (cache.c intel_domain_use_piotlb): first-stage paging and SVA.
     */
    boolean usesPiotlb() {
        return firstStage || mm != null;
    }

    /** The address space of an SVA domain, whose first-level table its PASID entries point at; null otherwise. */
    public MmStruct mm() {
        return mm;
    }

    /** The DID this domain carries on {@code unit}, or -1 if it is not attached through it. */
    public int domainId(VtdIommu unit) {
        synchronized (lock) {
            UnitRef r = units.get(unit);
            return r == null ? -1 : r.did;
        }
    }

    /** Attachments (RID and PASID) through {@code unit}. */
    public int attachments(VtdIommu unit) {
        synchronized (lock) {
            UnitRef r = units.get(unit);
            return r == null ? 0 : r.refcnt;
        }
    }

    /**
     * Whether the domain has an I/O page-fault handler ({@code domain->iopf_handler}): attaching
     * it takes an IOPF reference on the device (iopf_for_domain_set tests only
     * {@code domain->iopf_handler}). True for an SVA domain, for a domain the core gave a handler
     * ({@code iommu_domain_set_iopf_handler}), and for one marked by {@link #setIopfCapable}.
     * Without the second, a paging domain with a handler at a PASID held no reference: the
     * device's last SVA bond going took it off its IOPF queue while the handle stayed, and a page
     * request at that PASID hit {@code iommu_report_device_fault}'s WARN (issue 16).
     */
    public boolean iopfCapable() {
        return iopfCapable || hasIopfHandler();
    }

    /** Gives the domain an IOPF handler (or takes it away); set before attaching it anywhere. */
    public void setIopfCapable(boolean v) {
        this.iopfCapable = v;
    }

    /**
     * paging_domain_compatible (v6.17+, with paging_domain_compatible_first_stage / _second_stage):
     * whether the unit can take the domain's table as it is. First stage: scalable mode with
     * ECAP.FLTS, 1G pages only with CAP.FL1GP, a map-time flush where RWBF is required. Second
     * stage: ECAP.NEST for a nesting parent, ECAP.SLTS in scalable mode, 2M / 1G pages only with
     * their SLLPS bits, a map-time flush where RWBF or caching mode needs one. Then for both: the
     * same paging-structure coherency, and a guest width and AGAW not above the unit's. -EINVAL
     * for any of these.
     */
    int compatibleWith(VtdIommu u) {
        long sizes = pgsizeBitmap();
        if (firstStage) {
            if (!u.scalable || !u.firstLevel) {
                return Errno.EINVAL.neg();
            }
            if (!u.firstLevel1G && (sizes & X86RadixPageTable.SZ_1G) != 0) {
                return Errno.EINVAL.neg();
            }
            if (u.writeBufferFlush && !iotlbSyncMap) {
                return Errno.EINVAL.neg();
            }
        } else {
            if (nestedParent && !u.nestedSupported) {
                return Errno.EINVAL.neg();
            }
            if (!u.secondLevel) {
                return Errno.EINVAL.neg(); // legacy mode always has second stage
            }
            if (!u.superpage2M && (sizes & X86RadixPageTable.SZ_2M) != 0) {
                return Errno.EINVAL.neg();
            }
            if (!u.superpage1G && (sizes & X86RadixPageTable.SZ_1G) != 0) {
                return Errno.EINVAL.neg();
            }
            if ((u.writeBufferFlush || u.cachingMode) && !iotlbSyncMap) {
                return Errno.EINVAL.neg();
            }
        }
        if (iommuCoherency != u.pagingStructureCoherency()) {
            return Errno.EINVAL.neg();
        }
        if (gaw > u.domainGaw() || agaw > u.agaw) {
            return Errno.EINVAL.neg();
        }
        return 0;
    }
}
