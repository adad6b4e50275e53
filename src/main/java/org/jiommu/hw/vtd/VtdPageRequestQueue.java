package org.jiommu.hw.vtd;

import static org.jiommu.bus.dma.DmaTranslator.NO_PASID;
import static org.jiommu.hw.vtd.VtdRegisters.*;

import org.jiommu.bus.dma.PageResponseReceiver;
import org.jiommu.hw.EndpointRegistry;
import org.jiommu.hw.HwStats;
import org.jiommu.hw.QueueRing;
import org.jiommu.hw.RegisterFile;
import org.jiommu.mem.MemoryFault;
import org.jiommu.mem.PhysicalMemory;

/**
 * The page-request side of a {@link VtdUnit} (VT-d spec 7.5.1, 10.4.31-37; Linux prq.c): the
 * producer of the page request queue (PQA, PQH, PQT, PRS, PECTL) on a {@link QueueRing} of
 * 32-byte descriptors, and the unit's own answers when it cannot queue a request.
 */
final class VtdPageRequestQueue {
    private final VtdUnit unit;
    private final VtdConfig config;
    private final PhysicalMemory memory;
    private final RegisterFile regs;
    private final VtdTranslation translation;
    private final HwStats stats;
    private final EndpointRegistry<PageResponseReceiver> pageResponseReceivers;
    /** The ring PQA describes; guarded by the unit's register lock. */
    private QueueRing ring;

    VtdPageRequestQueue(VtdUnit unit, VtdConfig config, PhysicalMemory memory, RegisterFile regs,
                        VtdTranslation translation, HwStats stats,
                        EndpointRegistry<PageResponseReceiver> pageResponseReceivers) {
        this.unit = unit;
        this.config = config;
        this.memory = memory;
        this.regs = regs;
        this.translation = translation;
        this.stats = stats;
        this.pageResponseReceivers = pageResponseReceivers;
        writePqaLocked(0);
    }

    /** PQA: base 63:12 and PQS 2:0, 2^PQS pages of 32-byte descriptors; PQH / PQT are byte offsets, no wrap bit. */
    void writePqaLocked(long value) {
        long pqa = regs.write(PQA_REG, value);
        ring = new QueueRing(pqa & PQA_ADDR_MASK, 7 + (int) (pqa & PQA_PQS_MASK), 5, false);
    }

    /** See {@link VtdUnit#pageRequest}. */
    void pageRequest(int sourceId, int pasid, long address, boolean read, boolean write, boolean lastInGroup,
                     int prgIndex) {
        VtdTranslation.checkSourceId(sourceId);
        stats.counter("prq.requests").increment();
        int autoResponse = -1;
        int events = 0;
        VtdTranslation.State st = translation.state();
        Object ctx = config.pageRequests() && st.enabled && st.scalable && st.ttmValid
                ? translation.loadContext(st, sourceId, true) : null;
        synchronized (unit.regLock) {
            long pqt = regs.get(PQT_REG);
            if (!(ctx instanceof ScalableContextEntry) || !((ScalableContextEntry) ctx).pageRequestEnable()) {
                stats.counter("prq.invalid-requester").increment();
                autoResponse = InvDescriptor.RESPONSE_INVALID;
            } else if ((regs.get(PRS_REG) & PRS_PRO) != 0 || fullLocked(ring, pqt)) {
                regs.setBits(PRS_REG, PRS_PRO);
                stats.counter("prq.overflow").increment();
                autoResponse = InvDescriptor.RESPONSE_SUCCESS;
            } else {
                long a = ring.base() + pqt;
                long q0 = 1 // type: page request
                        | (pasid != NO_PASID ? 1L << 8 : 0)
                        | (long) (sourceId & 0xFFFF) << 16
                        | (pasid != NO_PASID ? (long) (pasid & 0xFFFFF) << 32 : 0);
                long q1 = (read ? 1L : 0) | (write ? 2L : 0) | (lastInGroup ? 4L : 0)
                        | (long) (prgIndex & 0x1FF) << 3 | (address & ~0xFFFL);
                try {
                    memory.writeLong(a, q0);
                    memory.writeLong(a + 8, q1);
                    memory.writeLong(a + 16, 0);
                    memory.writeLong(a + 24, 0);
                } catch (MemoryFault e) {
                    unit.programmingError("page request", "page request queue at " + Long.toHexString(a)
                            + " is not in memory: " + e.getMessage());
                    autoResponse = InvDescriptor.RESPONSE_FAILURE;
                }
                if (autoResponse < 0) {
                    regs.set(PQT_REG, (long) ring.advance((int) (pqt >>> 5)) << 5);
                    regs.setBits(PRS_REG, PRS_PPR);
                    stats.counter("prq.descriptors").increment();
                    if ((regs.get(PECTL_REG) & ECTL_IM) != 0) {
                        regs.setBits(PECTL_REG, ECTL_IP);
                    } else {
                        events = VtdUnit.EVENT_PAGE_REQUEST;
                    }
                }
            }
        }
        if (autoResponse >= 0 && lastInGroup) {
            PageResponseReceiver rx = pageResponseReceivers.get(sourceId);
            if (rx != null) {
                rx.pageGroupResponse(pasid, prgIndex, autoResponse);
            }
        }
        unit.fireEvents(events);
    }

    /**
     * Full when one more descriptor would make PQT reach PQH (software reads PQH == PQT as
     * empty), or at the configured limit; a PQA of 0 counts as full.
     */
    private boolean fullLocked(QueueRing ring, long pqt) {
        int used = ring.used((int) (pqt >>> 5), (int) (regs.get(PQH_REG) >>> 5));
        int capacity = ring.capacity();
        if (config.pageRequestQueueLimit() > 0) {
            capacity = Math.min(capacity, config.pageRequestQueueLimit());
        }
        return ring.base() == 0 || used >= capacity;
    }
}
