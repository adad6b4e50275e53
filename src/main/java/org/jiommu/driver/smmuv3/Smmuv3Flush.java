package org.jiommu.driver.smmuv3;

import java.util.ArrayList;
import java.util.List;
import org.jiommu.driver.common.DriverFaults;
import org.jiommu.driver.common.TlbiRange;
import org.jiommu.hw.smmuv3.SmmuCommand;
import org.jiommu.pgtable.IoPageTable;
import org.jiommu.pgtable.IotlbGather;
import org.jiommu.pgtable.TlbOps;

/**
 * The invalidation side of a paging domain ({@code arm_smmu_flush_ops} and its helpers): the TLB
 * first, then the ATCs of the ATS masters attached to the domain, only after the TLB
 * invalidation's CMD_SYNC completed (race 9: an ATC refilled from a TLB entry not yet invalidated
 * would keep the stale translation). Each domain's ATC fan-out walks its devices list under its
 * devices lock; commands go out after the lock is dropped, as in {@code arm_smmu_atc_inv_domain}.
 */
final class Smmuv3Flush {
    /** ATC_INV_SIZE_ALL: the whole address space. */
    static final int ATC_INV_SIZE_ALL = 52;

    /**
     * Where a range flush's two command batches meet (the TLBI batch with its CMD_SYNC and the
     * ATC_INV batch): on hardware an ATS endpoint's translation request may arrive there. A test
     * or stress bed makes one arrive: called once per ATS master on the domain's list, with the
     * SubstreamID it is attached at and the first address of the range.
     */
    interface InvalidationGap {
        void translationRequest(org.jiommu.bus.Device dev, int ssid, long iova);
    }

    private final Smmuv3Cmdq cmdq;
    private final DriverFaults faults;
    private final boolean rangeInvalidation;
    private final boolean ats;
    private volatile InvalidationGap gap;

    Smmuv3Flush(Smmuv3Cmdq cmdq, DriverFaults faults, boolean rangeInvalidation, boolean ats) {
        this.cmdq = cmdq;
        this.faults = faults;
        this.rangeInvalidation = rangeInvalidation;
        this.ats = ats;
    }

    /** The io-pgtable flush ops of {@code d} (arm_smmu_flush_ops). */
    TlbOps opsFor(Smmuv3Domain d) {
        return new TlbOps() {
            @Override
            public void tlbFlushAll() {
                invContext(d);
            }

            @Override
            public void tlbFlushWalk(long iova, long size, long granule) {
                invRangeDomain(d, iova, size, granule, false);
            }

            @Override
            public void iotlbSync(IoPageTable table, IotlbGather gather) {
                table.releaseFreelist(gather);
            }
        };
    }

    /**
     * arm_smmu_tlb_inv_context: stage 1 TLBI_NH_ASID (arm_smmu_tlb_inv_asid), stage 2
     * TLBI_S12_VMALL, each with CMD_SYNC; then every ATC of the domain, whole address space.
     */
    void invContext(Smmuv3Domain d) {
        List<long[]> cmds = new ArrayList<>();
        if (!faults.take(DriverFaults.Skip.IOTLB)) {
            cmds.add(d.stage == Smmuv3Domain.Stage.S1 ? SmmuCommand.tlbiNhAsid(0, d.asid)
                    : SmmuCommand.tlbiS12Vmall(d.vmid));
        }
        tlbThenAtc(d, cmds, 0, 0);
    }

    /** arm_smmu_tlb_inv_asid: TLBI_NH_ASID + CMD_SYNC, no ATC. */
    void invAsid(int asid) {
        cmdq.submitSync(List.of(SmmuCommand.tlbiNhAsid(0, asid)));
    }

    /**
     * arm_smmu_tlb_inv_range_domain: TLBI_NH_VA (stage 1, the ASID) or TLBI_S2_IPA (stage 2, the
     * VMID) over the range as {@code __arm_smmu_tlb_inv_range} splits it, one batch ended by
     * CMD_SYNC; then the ATCs (never leaf-only: a whole table may have gone).
     */
    void invRangeDomain(Smmuv3Domain d, long iova, long size, long granule, boolean leaf) {
        if (size == 0) {
            return;
        }
        int pageShift = Long.numberOfTrailingZeros(d.pgsizeBitmap());
        List<long[]> cmds = new ArrayList<>();
        if (!faults.take(DriverFaults.Skip.IOTLB)) {
            for (TlbiRange r : TlbiRange.split(iova, size, granule, pageShift, leaf, rangeInvalidation)) {
                cmds.add(d.stage == Smmuv3Domain.Stage.S1
                        ? SmmuCommand.tlbiRange(SmmuCommand.TLBI_NH_VA, 0, d.asid, r.address(), leaf, r.tg(), r.ttl(),
                                r.scale(), r.num())
                        : SmmuCommand.tlbiRange(SmmuCommand.TLBI_S2_IPA, d.vmid, 0, r.address(), leaf, r.tg(), r.ttl(),
                                r.scale(), r.num()));
            }
        }
        tlbThenAtc(d, cmds, iova, size);
    }

    /**
     * The TLBI batch waits for its CMD_SYNC before the ATC_INVs are queued (race 9); the planted
     * {@code devTlbBeforeIotlbSync} swaps the two. The gap between them is where an ATS request
     * may fall.
     */
    private void tlbThenAtc(Smmuv3Domain d, List<long[]> tlbi, long iova, long size) {
        if (faults.devTlbBeforeIotlbSync()) {
            atcInvDomain(d, iova, size);
            inGap(d, iova);
            cmdq.submitSync(tlbi);
            return;
        }
        cmdq.submitSync(tlbi);
        inGap(d, iova);
        atcInvDomain(d, iova, size);
    }

    void gap(InvalidationGap g) {
        this.gap = g;
    }

    private void inGap(Smmuv3Domain d, long iova) {
        InvalidationGap g = gap;
        if (g == null || !ats) {
            return;
        }
        List<Smmuv3Domain.MasterDomain> atsMasters = new ArrayList<>();
        synchronized (d.devicesLock) {
            for (Smmuv3Domain.MasterDomain md : d.devices) {
                if (md.master().atsEnabled()) {
                    atsMasters.add(md);
                }
            }
        }
        for (Smmuv3Domain.MasterDomain md : atsMasters) {
            g.translationRequest(md.master().dev, md.ssid(), iova);
        }
    }

    /** arm_smmu_iotlb_sync: the gathered range, leaf only, at the gathered page size. */
    void iotlbSync(Smmuv3Domain d, IotlbGather gather) {
        if (gather.pgsize == 0) {
            return;
        }
        invRangeDomain(d, gather.start, gather.end - gather.start + 1, gather.pgsize, true);
    }

    /**
     * arm_smmu_atc_inv_domain: one ATC_INV per stream of every ATS master attached to the domain,
     * for the SubstreamID it is attached with, then CMD_SYNC. Nothing when the SMMU has no ATS or
     * no ATS master is attached.
     */
    void atcInvDomain(Smmuv3Domain d, long iova, long size) {
        if (!ats) {
            return;
        }
        List<long[]> cmds = new ArrayList<>();
        synchronized (d.devicesLock) {
            if (d.nrAtsMasters == 0) {
                return;
            }
            for (Smmuv3Domain.MasterDomain md : d.devices) {
                if (!md.master().atsEnabled() || faults.take(DriverFaults.Skip.DEVICE_TLB)) {
                    continue;
                }
                for (int sid : md.master().streams) {
                    cmds.add(atcInvCmd(sid, md.ssid(), iova, size));
                }
            }
        }
        cmdq.submitSync(cmds);
    }

    /** arm_smmu_atc_inv_master: the whole ATC of {@code m} for {@code ssid} (0: every entry). */
    void atcInvMaster(Smmuv3Master m, int ssid) {
        List<long[]> cmds = new ArrayList<>();
        for (int sid : m.streams) {
            cmds.add(atcInvCmd(sid, ssid, 0, 0));
        }
        cmdq.submitSync(cmds);
    }

    /**
     * arm_smmu_atc_inv_to_cmd: SubstreamID 0 goes without SSV (which then invalidates every
     * PASID's entries too); size 0 is everything; otherwise the smallest naturally aligned
     * power-of-two span of 4 KiB pages covering the range.
     */
    static long[] atcInvCmd(int sid, int ssid, long iova, long size) {
        int ssidOrNone = ssid == 0 ? -1 : ssid;
        if (size == 0) {
            return SmmuCommand.atcInv(sid, ssidOrNone, false, 0, ATC_INV_SIZE_ALL);
        }
        long pageStart = iova >>> 12;
        long pageEnd = (iova + size - 1) >>> 12;
        int log2Span = 64 - Long.numberOfLeadingZeros(pageStart ^ pageEnd);
        long spanMask = (1L << log2Span) - 1;
        pageStart &= ~spanMask;
        return SmmuCommand.atcInv(sid, ssidOrNone, false, pageStart << 12, log2Span);
    }
}
