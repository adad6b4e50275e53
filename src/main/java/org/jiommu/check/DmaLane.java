package org.jiommu.check;

import java.util.Arrays;
import java.util.Random;
import org.jiommu.base.IommuException;
import org.jiommu.bus.dma.DmaEngine;
import org.jiommu.bus.dma.DmaResult;
import org.jiommu.bus.dma.DmaTranslator;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.core.IommuGroup;
import org.jiommu.core.spi.IommuDomain;

/**
 * VT-d stress runs: DMA from the worker threads, checked against what the worker itself owns.
 * Each worker has a lane, an endpoint alone in its group that no other worker touches; the worker
 * attaches one of the shared paging domains to it (others map their own windows in the same
 * domain, attach it elsewhere and unmap concurrently) and DMAs into its own IOVA window of that
 * domain, where only it maps and unmaps. So the outcome of every lane DMA is known exactly:
 * a page the worker has mapped must be reached at its physical address (and nowhere else), a
 * page it has not mapped, or has unmapped, must fault. In particular a DMA after a completed
 * unmap never lands (the unmap's IOTLB and device-TLB invalidations completed before
 * {@code iommu_unmap} returned: qi_submit_sync waits for them, cache_tag_flush_range).
 */
final class DmaLane {
    /** Bytes each lane DMA moves (inside one page). */
    private static final int LEN = 16;

    private DmaLane() {
    }

    /** A lane: the endpoint, its group and its DMA engine. */
    record Lane(PciDevice dev, IommuGroup group, DmaEngine dma) {
    }

    /** What a worker holds of its lane: the shared domain attached to it, or -1 for its default domain. */
    static final class Holdings {
        final Lane lane;
        int domain = -1;
        long seq;

        Holdings(Lane lane) {
            this.lane = lane;
        }
    }

    /** One lane action: attach another shared domain, go back to the default domain, or DMA. */
    static void step(StressWorld w, StressHarness.Holdings h, int tid, Random rnd, StressHarness.Run run) {
        Holdings l = h.lane;
        int choice = rnd.nextInt(8);
        String what;
        try {
            if (choice == 0) {
                int di = rnd.nextInt(w.domains.size());
                if (di == l.domain) {
                    return;
                }
                if (l.domain >= 0) {
                    detach(w, l, tid, run);
                }
                IommuDomain d = w.domains.get(di);
                what = "LANE_ATTACH " + d + " " + l.lane.group();
                run.call();
                w.core.attachGroup(d, l.lane.group());
                l.domain = di;
                run.ok("LANE_ATTACH");
                run.trace(tid, what + " -> ok");
            } else if (choice == 1) {
                if (l.domain >= 0) {
                    detach(w, l, tid, run);
                }
            } else {
                int slot = rnd.nextInt(StressHarness.SLOTS);
                int page = rnd.nextInt(32);
                dma(w, h, tid, slot, page, run);
            }
        } catch (IommuException e) {
            // the lane is the worker's alone: no race explains a failure
            run.error("LANE", e);
            run.unexpected.add("thread " + tid + " lane " + l.lane.dev() + ": " + e.errno() + " " + e.getMessage());
        }
    }

    private static void detach(StressWorld w, Holdings l, int tid, StressHarness.Run run) {
        IommuDomain d = w.domains.get(l.domain);
        String what = "LANE_DETACH " + d + " " + l.lane.group();
        run.call();
        w.core.detachGroup(d, l.lane.group());
        l.domain = -1;
        run.ok("LANE_DETACH");
        run.trace(tid, what + " -> ok");
    }

    /** Before the worker unmaps its window slot of domain {@code di}: a DMA there lands (and fills the caches). */
    static void beforeUnmap(StressWorld w, StressHarness.Holdings h, int tid, int di, int slot, StressHarness.Run run) {
        if (h.lane != null && h.lane.domain == di) {
            dma(w, h, tid, slot, 0, run);
        }
    }

    /** After the unmap returned: the same DMA must fault, whatever the caches held. */
    static void afterUnmap(StressWorld w, StressHarness.Holdings h, int tid, int di, int slot, StressHarness.Run run) {
        if (h.lane != null && h.lane.domain == di) {
            dma(w, h, tid, slot, 0, run);
        }
    }

    /**
     * A DMA write of the lane into page {@code page} of the worker's window slot, then (if it
     * landed) a read back; the outcome must be the one the worker's own mappings give.
     */
    private static void dma(StressWorld w, StressHarness.Holdings h, int tid, int slot, int page,
                            StressHarness.Run run) {
        Holdings l = h.lane;
        long iova = StressHarness.iova(tid, slot) + page * 0x1000L + 0x40;
        boolean expectMapped = false;
        if (l.domain >= 0) {
            Long size = h.mapped.get((long) l.domain * StressHarness.SLOTS + slot);
            expectMapped = size != null && page * 0x1000L < size;
        }
        long pa = w.pa(tid, slot) + page * 0x1000L + 0x40;
        byte[] data = new byte[LEN];
        long stamp = ++l.seq;
        for (int i = 0; i < LEN; i++) {
            data[i] = (byte) (stamp * 31 + tid * 7 + i);
        }
        run.dmaChecks.incrementAndGet();
        String where = "DMA thread " + tid + " " + l.lane.dev() + " on "
                + (l.domain < 0 ? "its default domain" : w.domains.get(l.domain).toString()) + " iova "
                + Long.toHexString(iova);
        DmaResult r = l.lane.dma().write(DmaTranslator.NO_PASID, iova, data, 0, LEN, new DmaResult());
        run.trace(tid, "LANE_DMA " + where.substring(where.indexOf(" on ") + 4) + " -> "
                + (r.ok() ? "pa " + Long.toHexString(r.firstPa()) : "fault " + r.faultName()));
        if (!expectMapped) {
            if (r.ok()) {
                run.unexpected.add(where + ": not mapped by its owner (never, or unmapped) but the write landed at "
                        + Long.toHexString(r.firstPa()));
            }
            return;
        }
        if (!r.ok()) {
            run.unexpected.add(where + ": mapped by its owner but the write faulted: " + r.faultName());
            return;
        }
        if (r.firstPa() != pa) {
            run.unexpected.add(where + ": landed at " + Long.toHexString(r.firstPa()) + ", mapped to "
                    + Long.toHexString(pa));
            return;
        }
        byte[] mem = new byte[LEN];
        w.vtd.memory().read(pa, mem, 0, LEN);
        byte[] back = new byte[LEN];
        DmaResult rr = l.lane.dma().read(DmaTranslator.NO_PASID, iova, back, 0, LEN, new DmaResult());
        if (!Arrays.equals(mem, data) || !rr.ok() || !Arrays.equals(back, data)) {
            run.unexpected.add(where + ": memory " + Arrays.toString(mem) + ", read back "
                    + (rr.ok() ? Arrays.toString(back) : rr.faultName()) + ", written " + Arrays.toString(data));
        }
    }
}
