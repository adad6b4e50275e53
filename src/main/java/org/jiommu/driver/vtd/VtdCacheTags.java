package org.jiommu.driver.vtd;

import java.util.List;
import java.util.Map;
import org.jiommu.base.Errno;
import org.jiommu.base.WarningSink;
import org.jiommu.core.spi.CoreServices;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.driver.common.DriverFaults;
import org.jiommu.driver.common.InvalidationRange;
import org.jiommu.pgtable.IotlbGather;

/**
 * The VT-d driver's cache tags and invalidations ({@code drivers/iommu/intel/cache.c}): a
 * domain's id per unit ({@code domain_attach_iommu} / {@code domain_detach_iommu}), its
 * device-TLB tags, and the invalidation fan-out of unmap, flush-all and the SVA mmu notifier
 * ({@code cache_tag_flush_range}, {@code cache_tag_flush_all}). Package-private: the driver's
 * domain ops call it.
 */
final class VtdCacheTags {
    private final CoreServices core;
    private final WarningSink warnings;
    private final DriverFaults faults;

    VtdCacheTags(CoreServices core, DriverFaults faults) {
        this.core = core;
        this.warnings = core.warnings();
        this.faults = faults;
    }

    /**
     * domain_attach_iommu: the domain's id on the unit, allocated on its first attachment there.
     * An SVA domain allocates no id: every first-level SVA entry carries FLPT_DEFAULT_DID (cache.c
     * domain_get_id_for_dev, intel_svm_set_dev_pasid), its IOTLB entries being told apart by PASID;
     * the reference only records that the domain has PASIDs behind the unit. Holds the unit's lock.
     */
    int domainAttachIommu(VtdDomain d, VtdIommu u) {
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
    void domainDetachIommu(VtdDomain d, VtdIommu u) {
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
    void assignTag(VtdDomain d, DeviceInfo info, int pasid) {
        synchronized (d.lock) {
            d.devTlbTags.assign(info, pasid);
            if (d.usesPiotlb()) {
                // first-stage and SVA translations are tagged (DID, PASID): RID attachments with
                // IOMMU_NO_PASID (0, the RID_PASID)
                d.pasidTags.add(new VtdDomain.PasidTag(info, pasid));
            }
        }
    }

    void unassignTag(VtdDomain d, DeviceInfo info, int pasid) {
        synchronized (d.lock) {
            d.devTlbTags.unassign(info, pasid);
            d.pasidTags.remove(new VtdDomain.PasidTag(info, pasid));
        }
    }

    /**
     * intel_iommu_iotlb_sync_map: only a domain that needs it at map time (iotlb_sync_map: RWBF,
     * or caching mode for a second-stage domain) flushes, with cache_tag_flush_range_np: per unit
     * the domain is on, a write-buffer flush where the unit does not cache not-present entries,
     * else the IOTLB invalidation of the range; never a device-TLB invalidation (an ATC caches no
     * not-present translation).
     */
    int iotlbSyncMap(IommuDomain dom, long iova, long size) {
        VtdDomain d = (VtdDomain) dom;
        if (d.iotlbSyncMap && size != 0) {
            flush(d, iova, iova + size - 1, false, false, true, false);
        }
        return 0;
    }

    /** intel_iommu_tlb_sync: invalidate what the unmap gathered, then free the table pages it took out. */
    void iotlbSync(IommuDomain dom, IotlbGather gather) {
        VtdDomain d = (VtdDomain) dom;
        if (!gather.isEmpty()) {
            // cache_tag_flush_range(..., ih): with no table page freed the paging-structure caches
            // may be kept (the invalidation hint)
            flush(d, gather.start, gather.end, false, true, false, gather.freelist.isEmpty());
        }
        d.pgtable.releaseFreelist(gather);
    }

    /** intel_flush_iotlb_all: every unit's domain-selective IOTLB invalidation and every ATC in full. */
    void flushIotlbAll(IommuDomain dom) {
        flush((VtdDomain) dom, 0, -1L, true, false, false, false);
    }

    /** cache_tag_flush_range for [start, last] (last inclusive). */
    void flushRange(VtdDomain d, long start, long last) {
        flush(d, start, last, false, true, false, false);
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
     * device can join or leave in between. {@code plants}: whether the skip plants of
     * {@link DriverFaults} apply (unmap and notifier flushes; not flush-all). {@code notPresent}:
     * cache_tag_flush_range_np (a map made entries present): write buffer or IOTLB only. {@code ih}:
     * the IOTLB descriptors' invalidation hint (unmap that freed no table page).
     */
    private void flush(VtdDomain d, long start, long last, boolean all, boolean plants, boolean notPresent,
                       boolean ih) {
        InvalidationRange range = InvalidationRange.alignedPow2(start, last, all, 12, VtdEncoder.DEVTLB_FLUSH_ALL);
        long addr = range.address();
        int mask = range.order();
        synchronized (d.lock) {
            for (Map.Entry<VtdIommu, VtdDomain.UnitRef> e : d.units.entrySet()) {
                VtdIommu u = e.getKey();
                int did = e.getValue().did;
                if (notPresent && !u.cachingMode) {
                    u.flushWriteBuffer();
                    continue;
                }
                // qi_batch: the domain's batch for this unit, posted with its wait by qi_submit_sync
                List<long[]> batch = e.getValue().qiBatch;
                batch.clear();
                if (d.usesPiotlb()) {
                    addPasidIotlbInvalidations(d, u, did, addr, mask, all, ih, batch);
                } else if (!(plants && faults.take(DriverFaults.Skip.IOTLB))) {
                    if (all || !u.pageSelective || mask > u.maxAddressMask) {
                        batch.add(u.iotlbDomain(did));
                    } else {
                        batch.add(VtdEncoder.iotlbInv(VtdEncoder.G_DEVICE_OR_PAGE, did, addr, mask, ih,
                                u.drainWrites, u.drainReads));
                    }
                }
                if (!notPresent) {
                    d.devTlbTags.forEachOn(u, plants ? faults : null, t -> batch.add(t.pasid() == 0
                        ? VtdEncoder.deviceTlbInv(t.master().sid, t.master().sid, 0, addr, mask)
                            : VtdEncoder.pasidDeviceTlbInv(t.master().sid, t.master().sid, t.pasid(), 0, addr, mask)));
                }
                if (!batch.isEmpty() || !d.usesPiotlb()) {
                    try {
                        u.queue.submit(batch); // reads the list under the queue's lock, keeps none of it
                    } finally {
                        batch.clear();
                    }
                }
            }
        }
    }

    /** One PASID-based IOTLB descriptor per PASID the SVA domain has behind {@code u}. Holds the domain's lock. */
    private void addPasidIotlbInvalidations(VtdDomain d, VtdIommu u, int did, long addr, int mask, boolean all,
                                            boolean ih, List<long[]> batch) {
        List<VtdDomain.PasidTag> tags = d.pasidTags;
        for (int i = 0; i < tags.size(); i++) {
            VtdDomain.PasidTag t = tags.get(i);
            if (t.info().iommu != u || seenBefore(tags, i, u) || faults.take(DriverFaults.Skip.IOTLB)) {
                continue;
            }
            boolean whole = all || mask >= VtdEncoder.DEVTLB_FLUSH_ALL || mask > u.maxAddressMask;
            batch.add(whole ? VtdEncoder.pasidIotlbInv(did, t.pasid(), 0, -1, false)
                    : VtdEncoder.pasidIotlbInv(did, t.pasid(), addr, 1L << mask, ih));
        }
    }

    /** Whether a tag before {@code i} on {@code u} has the same PASID (one descriptor per PASID; no set per flush). */
    private static boolean seenBefore(List<VtdDomain.PasidTag> tags, int i, VtdIommu u) {
        int pasid = tags.get(i).pasid();
        for (int j = 0; j < i; j++) {
            VtdDomain.PasidTag o = tags.get(j);
            if (o.info().iommu == u && o.pasid() == pasid) {
                return true;
            }
        }
        return false;
    }
}
