package org.jiommu.driver.vtd;

import static org.jiommu.hw.vtd.VtdRegisters.*;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.jiommu.base.Errno;
import org.jiommu.base.IommuException;
import org.jiommu.bus.Device;
import org.jiommu.core.spi.CoreServices;
import org.jiommu.core.spi.IopfFault;
import org.jiommu.core.spi.IopfQueueRef;
import org.jiommu.core.spi.PageResponse;
import org.jiommu.mem.FrameAllocator;

/**
 * One unit's page request queue as the driver runs it ({@code drivers/iommu/intel/prq.c}):
 * {@code intel_iommu_enable_prq} (the ring in memory, PQH/PQT/PQA, the event handler, the
 * unit's IOPF queue), {@code prq_event_thread} (read each descriptor from memory, report it to
 * the core or answer a bad one itself, move PQH, clear PRO once the ring is empty),
 * {@code intel_iommu_page_response} (a page group response descriptor and a wait) and
 * {@code intel_iommu_drain_pasid_prq}.
 *
 * <p>The handler runs on the thread whose page request raised the event (a threaded IRQ in
 * Linux, {@code IRQF_ONESHOT}: never two at once), serialised by {@link #handlerLock}, which is
 * also what the drain waits on.
 */
final class PageRequestQueue {
    /** Linux PRQ_ORDER: 2^4 pages, 2048 descriptors. */
    static final int PRQ_ORDER = 4;
    /** x86-64 with 5-level paging: a user address is canonical in 57 bits (__VIRTUAL_MASK_SHIFT 56). */
    static final int VIRTUAL_MASK_SHIFT = 56;

    private final VtdIommu iommu;
    private final CoreServices core;
    private final long base;
    private final long ringMask;
    final IopfQueueRef iopfQueue;
    /**
     * {@code device_rbtree}: every probed ATS-capable PCI device of this unit, by requester id
     * ({@code intel_iommu_probe_device} to {@code intel_iommu_release_device}), IOPF enabled or
     * not. A request that lands after the device's last IOPF-capable domain left is thus reported
     * to the core, which answers it Invalid ({@code iopf_error_response}); only one from a device
     * not probed here is a bad request.
     */
    private final Map<Integer, Device> devices = new ConcurrentHashMap<>();
    final Object handlerLock = new Object();
    /** Descriptors reported to the core, and answered as bad. Guarded by {@link #handlerLock}. */
    private long reported;
    private long bad;

    private PageRequestQueue(VtdIommu iommu, CoreServices core, long base, IopfQueueRef q) {
        this.iommu = iommu;
        this.core = core;
        this.base = base;
        this.ringMask = (0x1000L << PRQ_ORDER) - PAGE_REQUEST_SIZE;
        this.iopfQueue = q;
    }

    /** {@code intel_iommu_enable_prq}. */
    static PageRequestQueue enable(VtdIommu u, FrameAllocator frames, CoreServices core) {
        long ring = frames.alloc(PRQ_ORDER);
        if (ring < 0) {
            throw new IommuException(Errno.ENOMEM, u.name + ": no memory for the page request queue");
        }
        IopfQueueRef q = core.iopfQueueAlloc(u.name + "-iopfq");
        PageRequestQueue prq = new PageRequestQueue(u, core, ring, q);
        u.unit.setPageRequestEventHandler(prq::eventThread);
        u.unit.write64(PQH_REG, 0);
        u.unit.write64(PQT_REG, 0);
        u.unit.write64(PQA_REG, ring | PRQ_ORDER);
        u.unit.write32(PECTL_REG, 0); // unmask the page request event
        return prq;
    }

    void addDevice(int rid, Device dev) {
        devices.put(rid, dev);
    }

    /** {@code device_rbtree_remove} under {@code iopf_lock}: never while the handler reports a request. */
    void removeDevice(int rid) {
        synchronized (handlerLock) {
            devices.remove(rid);
        }
    }

    /** {@code prq_event_thread}. */
    void eventThread() {
        synchronized (handlerLock) {
            handleLocked();
        }
        // the reported groups' handlers run from the IOPF workqueue, not under the PRQ lock
        core.iopfQueueRunWork(iopfQueue);
    }

    private void handleLocked() {
        // Clear PPR before reading head and tail, so a request written after this raises PPR again.
        iommu.unit.write32(PRS_REG, PRS_PPR);
        long tail = iommu.unit.read64(PQT_REG) & ringMask;
        long head = iommu.unit.read64(PQH_REG) & ringMask;
        while (head != tail) {
            long q0 = iommu.mem.readLong(base + head);
            long q1 = iommu.mem.readLong(base + head + 8);
            handleOne(q0, q1);
            head = (head + PAGE_REQUEST_SIZE) & ringMask;
        }
        iommu.unit.write64(PQH_REG, tail);
        if ((iommu.unit.read32(PRS_REG) & PRS_PRO) != 0) {
            long h = iommu.unit.read64(PQH_REG) & ringMask;
            long t = iommu.unit.read64(PQT_REG) & ringMask;
            if (h == t) {
                // Linux also discards partial groups (iopf_queue_discard_partial); this endpoint
                // model sends only single-request groups, so there are none.
                iommu.unit.write32(PRS_REG, PRS_PRO);
            }
        }
    }

    private void handleOne(long q0, long q1) {
        boolean pasidPresent = (q0 & (1L << 8)) != 0;
        int rid = (int) (q0 >>> 16) & 0xFFFF;
        int pasid = (int) (q0 >>> 32) & 0xFFFFF;
        boolean exe = (q0 & (1L << 52)) != 0;
        boolean priv = (q0 & (1L << 53)) != 0;
        boolean rd = (q1 & 1) != 0;
        boolean wr = (q1 & 2) != 0;
        boolean lpig = (q1 & 4) != 0;
        int prg = (int) (q1 >>> 3) & 0x1FF;
        long addr = q1 & ~0xFFFL;
        long shifted = addr << (63 - VIRTUAL_MASK_SHIFT);
        if ((shifted >> (63 - VIRTUAL_MASK_SHIFT)) != addr || (priv && (rd || wr)) || (exe && rd)) {
            handleBad(q0, q1, rid, pasidPresent, pasid, lpig, prg);
            return;
        }
        if (lpig && !rd && !wr) {
            return; // stop marker: no response
        }
        Device dev = devices.get(rid);
        if (dev == null) {
            handleBad(q0, q1, rid, pasidPresent, pasid, lpig, prg);
            return;
        }
        int perm = (rd ? IopfFault.PERM_READ : 0) | (wr ? IopfFault.PERM_WRITE : 0)
                | (exe ? IopfFault.PERM_EXEC : 0) | (priv ? IopfFault.PERM_PRIV : 0);
        reported++;
        core.reportDeviceFault(dev, new IopfFault(pasidPresent, pasidPresent ? pasid : 0, prg, lpig, perm, addr));
    }

    /** {@code handle_bad_prq_event}: answer Invalid only if the request ends its group. */
    private void handleBad(long q0, long q1, int rid, boolean pasidPresent, int pasid, boolean lpig, int prg) {
        bad++;
        core.warnings().warn(iommu.name + " prq", String.format("invalid page request: %016x %016x", q0, q1));
        if (lpig) {
            iommu.queue.submit(List.of(VtdEncoder.pageGroupResponse(rid, pasidPresent, pasid,
                    VtdEncoder.RESPONSE_INVALID, prg, true)));
        }
    }

    /** {@code intel_iommu_page_response}. */
    void pageResponse(int rid, IopfFault last, PageResponse msg) {
        int code = switch (msg.code()) {
            case SUCCESS -> VtdEncoder.RESPONSE_SUCCESS;
            case INVALID -> VtdEncoder.RESPONSE_INVALID;
            case FAILURE -> VtdEncoder.RESPONSE_FAILURE;
        };
        iommu.queue.submit(List.of(VtdEncoder.pageGroupResponse(rid, last.pasidValid(), last.pasid(), code,
                last.grpid(), last.last())));
    }

    /**
     * {@code intel_iommu_drain_pasid_prq}, after the PASID entry is cleared and its caches
     * invalidated (for a device with IOPF enabled): wait for the handler (take its lock) and handle
     * whatever is still in the ring, {@code iopf_queue_flush_dev}, then the spec's drain (VT-d
     * 7.10): a fence wait, then for a request without PASID a domain-selective IOTLB and a
     * device-TLB invalidation without PASID, for a PASID a PASID-based IOTLB of the whole PASID and a
     * PASID-based device-TLB invalidation, and the wait with PD; all of it again for as long as the
     * unit reports an overflow (PRS.PRO). The DID is that of the device's RID domain
     * ({@code info->domain}), FLPT_DEFAULT_DID without one, whatever the torn-down entry carried.
     *
     * @param ridDomainId the DID of the device's RID domain on this unit, or -1 for none
     */
    void drain(Device dev, int rid, int pasid, int ridDomainId) {
        int did = ridDomainId >= 0 ? ridDomainId : VtdIommu.FLPT_DEFAULT_DID;
        synchronized (handlerLock) {
            handleLocked();
            iopfQueueFlushDev(dev);
            List<long[]> descs = new ArrayList<>();
            descs.add(VtdEncoder.invWait(false, false, true, 2 /* QI_DONE */, 0)); // the fence (QI_IWD_FENCE)
            if (pasid == 0) {
                descs.add(iommu.iotlbDomain(did));
                descs.add(VtdEncoder.deviceTlbInv(rid, rid, 0, 0, VtdEncoder.DEVTLB_FLUSH_ALL));
            } else {
                descs.add(VtdEncoder.pasidIotlbInv(did, pasid, 0, -1, false));
                descs.add(VtdEncoder.pasidDeviceTlbInv(rid, rid, pasid, 0, 0, VtdEncoder.DEVTLB_FLUSH_ALL));
            }
            do {
                iommu.queue.submitDraining(descs);
                if ((iommu.unit.read32(PRS_REG) & PRS_PRO) == 0) {
                    return;
                }
                // the kernel waits for its handler to run (prq_complete) before the retry
                handleLocked();
            } while (true);
        }
    }

    /**
     * {@code iopf_queue_flush_dev} in {@code intel_iommu_drain_pasid_prq}: the one place the drain
     * reaches the core's IOPF queue. The groups reported from the ring have been through their
     * handlers (on the IOPF queue's worker) before the teardown goes on, while the caller keeps its
     * locks, as in the kernel.
     */
    private void iopfQueueFlushDev(Device dev) {
        if (dev != null) {
            core.iopfQueueFlushDev(dev);
        }
    }

    /** Whether the ring is empty (PQH == PQT). */
    boolean empty() {
        return (iommu.unit.read64(PQH_REG) & ringMask) == (iommu.unit.read64(PQT_REG) & ringMask);
    }

    long ringAddress() {
        return base;
    }

    long reportedCount() {
        synchronized (handlerLock) {
            return reported;
        }
    }

    long badCount() {
        synchronized (handlerLock) {
            return bad;
        }
    }
}
