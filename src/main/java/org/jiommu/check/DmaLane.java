package org.jiommu.check;

import java.util.Arrays;
import java.util.Random;
import org.jiommu.base.Hex;
import org.jiommu.base.IommuException;
import org.jiommu.bus.dma.DmaEngine;
import org.jiommu.bus.dma.DmaResult;
import org.jiommu.bus.dma.DmaTranslator;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.core.IommuGroup;
import org.jiommu.core.SvaHandle;
import org.jiommu.core.spi.IommuDomain;

/**
 * Stress runs on a kind whose stress bed has DMA lanes (VT-d): DMA from the worker threads, checked against what the worker itself owns.
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
                run.log("iommu_attach_group", null, "domain", StressHarness.domainName(di), "group", l.lane.dev().name());
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
        run.log("iommu_detach_group", null, "domain", StressHarness.domainName(l.domain), "group", l.lane.dev().name());
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
        DmaResult r = l.lane.dma().write(DmaTranslator.NO_PASID, iova, data, 0, LEN, new DmaResult());
        // the replay expects what the worker's own mappings call for, not what happened, and says
        // why through the core: the domain the lane is on, and what that domain maps the IOVA to
        if (run.repro != null) {
            String lane = l.lane.dev().name();
            if (l.domain < 0) {
                run.repro.addGuard("iommu_get_domain_for_dev", "{value: default}", "dev", lane);
            } else {
                String dn = StressHarness.domainName(l.domain);
                run.repro.addGuard("iommu_get_domain_for_dev", "{value: " + dn + "}", "dev", lane);
                run.repro.addGuard("iommu_iova_to_phys", "{value: " + Hex.of(expectMapped ? pa : 0) + "}",
                        "domain", dn, "iova", Hex.of(iova));
            }
            // only a recorded run keeps the step: its payload text is built for it alone
            run.log("dma", expectMapped ? "{paddr: " + Hex.of(pa) + "}" : "fault", "dev", lane,
                    "iova", Hex.of(iova), "write", Integer.toString(LEN), "data", hexData(data));
        }
        String on = (l.domain < 0 ? "its default domain" : w.domains.get(l.domain).toString()) + " iova "
                + Long.toHexString(iova);
        run.trace(tid, "LANE_DMA " + on + " -> "
                + (r.ok() ? "pa " + Long.toHexString(r.firstPa()) : "fault " + r.faultName()));
        if (!expectMapped) {
            if (r.ok()) {
                run.unexpected.add(where(tid, l, on) + ": not mapped by its owner (never, or unmapped) but the write"
                        + " landed at " + Long.toHexString(r.firstPa()));
            }
            return;
        }
        if (!r.ok()) {
            run.unexpected.add(where(tid, l, on) + ": mapped by its owner but the write faulted: " + r.faultName());
            return;
        }
        if (r.firstPa() != pa) {
            run.unexpected.add(where(tid, l, on) + ": landed at " + Long.toHexString(r.firstPa()) + ", mapped to "
                    + Long.toHexString(pa));
            return;
        }
        byte[] mem = new byte[LEN];
        w.platform.memory().read(pa, mem, 0, LEN);
        byte[] back = new byte[LEN];
        DmaResult rr = l.lane.dma().read(DmaTranslator.NO_PASID, iova, back, 0, LEN, new DmaResult());
        if (!Arrays.equals(mem, data) || !rr.ok() || !Arrays.equals(back, data)) {
            run.unexpected.add(where(tid, l, on) + ": memory " + Arrays.toString(mem) + ", read back "
                    + (rr.ok() ? Arrays.toString(back) : rr.faultName()) + ", written " + Arrays.toString(data));
        }
    }

    /** How a violation names the lane DMA: thread, endpoint, then {@code on} (domain and IOVA). */
    private static String where(int tid, Holdings l, String on) {
        return "DMA thread " + tid + " " + l.lane.dev() + " on " + on;
    }

    private static final char[] HEX = "0123456789abcdef".toCharArray();

    /** The payload as the repro log's quoted hex string, two lower-case digits a byte. */
    static String hexData(byte[] b) {
        char[] c = new char[b.length * 2 + 2];
        c[0] = '"';
        for (int i = 0; i < b.length; i++) {
            c[1 + 2 * i] = HEX[(b[i] >> 4) & 0xF];
            c[2 + 2 * i] = HEX[b[i] & 0xF];
        }
        c[c.length - 1] = '"';
        return new String(c);
    }

    /** Where a PASID DMA goes outside every VMA of the process (and far below every worker's IOVA window). */
    static final long OUTSIDE_VMA = 0x4000_0000L;

    /**
     * Page requests the real way (docs/check.md 4): a DMA with PASID from a PRI device the
     * worker itself holds something at, so its outcome is known. Three times in four at one of its
     * SVA bonds, under the process's life lock (no exit meanwhile): inside the VMA the first touch
     * of a page is a page request (ATS completion without permission, PCIe 10.4), the driver's PRQ
     * handler reports it, the core's SVA handler populates the mm ({@code handle_mm_fault}) and
     * answers Success, and the retried DMA must land at the page the mm now maps (where the device
     * takes no page faults, not being on an IOPF queue, an untouched page faults instead: SMMUv3's
     * non-stalling PCI functions); outside any VMA,
     * or after the process exited, the answer is Invalid and the DMA must fault. Otherwise at one
     * of its PASID attachments of a paging domain, where nothing below its IOVA windows is mapped:
     * the request reaches the IOPF domain's handler (which answers, keeps or fails it) or no handler,
     * and the DMA must fault whatever the answer.
     */
    static void pasidDma(StressWorld w, StressHarness.Holdings all, int tid, Random rnd, StressHarness.Run run) {
        PasidChurn.Holdings h = all.part2;
        boolean bond = rnd.nextInt(4) != 0;
        if (bond && !h.bonds.isEmpty()) {
            int i = rnd.nextInt(h.bonds.size());
            boolean outside = rnd.nextInt(5) == 0;
            // each worker writes its own 16 bytes of the page: workers share the processes, and two
            // writes to one address would leave either's data, failing the other's memory check
            long va = outside ? OUTSIDE_VMA
                    : StressWorld.VMA_START + rnd.nextInt((int) StressWorld.VMA_PAGES) * 0x1000L + 0x40
                    + (tid % 240) * (long) LEN;
            svaDma(w, h.bonds.get(i), h.bondProcs.get(i), va, tid, run);
        } else if (!bond && !h.pasids.isEmpty()) {
            PasidChurn.PasidAttachment a = h.pasids.get(rnd.nextInt(h.pasids.size()));
            long iova = 0x2000L * (1 + rnd.nextInt(16)) + 0x40;
            byte[] data = new byte[LEN];
            run.dmaChecks.incrementAndGet();
            DmaResult r = w.platform.engine(a.dev()).write(a.pasid(), iova, data, 0, LEN, new DmaResult());
            String where = "PASID DMA thread " + tid + " " + a.dev() + " pasid " + a.pasid() + " on " + a.domain()
                    + " iova " + Long.toHexString(iova);
            run.trace(tid, where + " -> " + (r.ok() ? "pa " + Long.toHexString(r.firstPa()) : "fault " + r.faultName()));
            if (r.ok()) {
                run.unexpected.add(where + ": nobody maps there but the write landed at " + Long.toHexString(r.firstPa()));
            } else {
                run.ok("PASID_DMA_FAULT");
            }
        }
    }

    /** One DMA write (then read back) of {@code bond}'s device at its process's PASID, checked against the mm. */
    private static void svaDma(StressWorld w, SvaHandle bond, StressWorld.Proc proc, long va, int tid,
                               StressHarness.Run run) {
        PciDevice dev = (PciDevice) bond.device();
        int pasid = w.core.svaGetPasid(bond);
        proc.life.readLock().lock();
        try {
            boolean exited = proc.exited;
            boolean inside = !exited && va >= StressWorld.VMA_START
                    && va < StressWorld.VMA_START + StressWorld.VMA_PAGES * 0x1000L;
            boolean populated = proc.mm.translate(va) != 0;
            byte[] data = new byte[LEN];
            for (int k = 0; k < LEN; k++) {
                data[k] = (byte) (va * 13 + tid * 7 + k + run.dmaChecks.get());
            }
            run.dmaChecks.incrementAndGet();
            DmaEngine dma = w.platform.engine(dev);
            DmaResult r = dma.write(pasid, va, data, 0, LEN, new DmaResult());
            String where = "SVA DMA thread " + tid + " " + dev + " pasid " + pasid + " " + proc.mm
                    + (exited ? " (exited)" : "") + " va " + Long.toHexString(va);
            run.trace(tid, where + (populated ? "" : " (not populated)") + " -> "
                    + (r.ok() ? "pa " + Long.toHexString(r.firstPa()) : "fault " + r.faultName()));
            if (!inside) {
                if (r.ok()) {
                    run.unexpected.add(where + ": outside every VMA of a live process but the write landed at "
                            + Long.toHexString(r.firstPa()));
                } else {
                    run.ok("SVA_DMA_FAULT");
                }
                return;
            }
            if (!r.ok()) {
                // A page nobody had touched lands only through a page fault round trip, which needs
                // the device on an IOPF queue (dev->iommu->fault_param). The bond holds that state
                // steady: an SVA domain attached takes the IOPF reference where the driver takes
                // faults for the device (VT-d: PRI), and none where it does not (SMMUv3: only
                // stalling masters; a PCIe page request is arm_smmu_handle_ppr's, answered DENY).
                if (!populated && !w.core.snapshot().iopf().containsKey(dev)) {
                    run.ok("SVA_DMA_NO_IOPF");
                    return;
                }
                run.unexpected.add(where + ": inside the VMA but the write faulted ("
                        + (populated ? "the page was populated" : "after its page request") + "): " + r.faultName());
                return;
            }
            long pa = proc.mm.translate(va);
            if (r.firstPa() != pa) {
                run.unexpected.add(where + ": landed at " + Long.toHexString(r.firstPa()) + ", the mm maps "
                        + Long.toHexString(pa));
                return;
            }
            byte[] mem = new byte[LEN];
            w.platform.memory().read(pa, mem, 0, LEN);
            byte[] back = new byte[LEN];
            DmaResult rr = dma.read(pasid, va, back, 0, LEN, new DmaResult());
            if (!Arrays.equals(mem, data) || !rr.ok() || !Arrays.equals(back, data)) {
                run.unexpected.add(where + ": memory " + Arrays.toString(mem) + ", read back "
                        + (rr.ok() ? Arrays.toString(back) : rr.faultName()) + ", written " + Arrays.toString(data));
                return;
            }
            // a page nobody had touched landed only through the page request round trip
            run.ok(populated ? "SVA_DMA" : "PAGE_REQUEST");
        } finally {
            proc.life.readLock().unlock();
        }
    }
}
