package org.jiommu.hw.vtd;

import static org.jiommu.bus.dma.DmaTranslator.NO_PASID;
import static org.jiommu.hw.vtd.VtdRegisters.*;

import java.util.function.Consumer;

import org.jiommu.bus.dma.DeviceTlb;
import org.jiommu.bus.dma.PageResponseReceiver;
import org.jiommu.hw.EndpointRegistry;
import org.jiommu.hw.HwStats;
import org.jiommu.hw.IotlbEntry;
import org.jiommu.hw.QueueRing;
import org.jiommu.hw.RegisterFile;
import org.jiommu.mem.MemoryFault;
import org.jiommu.mem.PhysicalMemory;

/**
 * The invalidation side of a {@link VtdUnit}: the queued-invalidation consumer (IQA, IQH, IQT,
 * IQERCD, ICS, IECTL; VT-d spec 6.5.2, 10.4.22-27) on a {@link QueueRing}, what each descriptor
 * does to the unit's caches and to the endpoints behind it (HARDWARE.md 2.7, QEMU 5.3), and the
 * register-based invalidation (CCMD, IOTLB_REG / IVA_REG) used while QI is off. Everything here
 * runs under the unit's register lock; event bits are returned for the unit to fire unlocked.
 */
final class VtdInvalidationQueue {
    private final VtdUnit unit;
    private final VtdConfig config;
    private final PhysicalMemory memory;
    private final RegisterFile regs;
    private final VtdTranslation translation;
    private final FaultRecorder faults;
    private final HwStats stats;
    private final EndpointRegistry<DeviceTlb> deviceTlbs;
    private final EndpointRegistry<PageResponseReceiver> pageResponseReceivers;
    private final HwStats.Counter cDescriptors;
    private final HwStats.Counter cQueueErrors;
    // Per-descriptor counters, resolved once instead of by name on every descriptor; created in
    // the snapshot only when they first count, as before.
    private final HwStats.LazyCounter cInvContextCacheDevice;
    private final HwStats.LazyCounter cInvContextCacheDomain;
    private final HwStats.LazyCounter cInvContextCacheGlobal;
    private final HwStats.LazyCounter cInvDeviceTlb;
    private final HwStats.LazyCounter cInvIec;
    private final HwStats.LazyCounter cInvIotlbDomain;
    private final HwStats.LazyCounter cInvIotlbGlobal;
    private final HwStats.LazyCounter cInvIotlbPage;
    private final HwStats.LazyCounter cInvPasidCacheDomain;
    private final HwStats.LazyCounter cInvPasidCacheGlobal;
    private final HwStats.LazyCounter cInvPasidCachePasid;
    private final HwStats.LazyCounter cInvPasidDeviceTlb;
    private final HwStats.LazyCounter cInvPasidDeviceTlbGlobal;
    private final HwStats.LazyCounter cInvPasidIotlbPage;
    private final HwStats.LazyCounter cInvPasidIotlbPasid;
    private final HwStats.LazyCounter cInvRegisterContext;
    private final HwStats.LazyCounter cInvRegisterIotlb;
    private final HwStats.LazyCounter cInvWait;
    private final HwStats.LazyCounter cInvWaitPageRequestDrain;
    private final HwStats.LazyCounter cPrqResponses;
    private volatile Consumer<InvDescriptor> descriptorListener;

    // Guarded by the unit's register lock.
    private QueueRing ring;
    private int iqHead;
    private int iqTail;
    private String lastQueueError;

    VtdInvalidationQueue(VtdUnit unit, VtdConfig config, PhysicalMemory memory, RegisterFile regs,
                         VtdTranslation translation, FaultRecorder faults, HwStats stats,
                         EndpointRegistry<DeviceTlb> deviceTlbs,
                         EndpointRegistry<PageResponseReceiver> pageResponseReceivers) {
        this.unit = unit;
        this.config = config;
        this.memory = memory;
        this.regs = regs;
        this.translation = translation;
        this.faults = faults;
        this.stats = stats;
        this.deviceTlbs = deviceTlbs;
        this.pageResponseReceivers = pageResponseReceivers;
        this.cDescriptors = stats.counter("inv.descriptors");
        this.cQueueErrors = stats.counter("inv.queue-errors");
        this.cInvContextCacheDevice = stats.lazyCounter("inv.context-cache.device");
        this.cInvContextCacheDomain = stats.lazyCounter("inv.context-cache.domain");
        this.cInvContextCacheGlobal = stats.lazyCounter("inv.context-cache.global");
        this.cInvDeviceTlb = stats.lazyCounter("inv.device-tlb");
        this.cInvIec = stats.lazyCounter("inv.iec");
        this.cInvIotlbDomain = stats.lazyCounter("inv.iotlb.domain");
        this.cInvIotlbGlobal = stats.lazyCounter("inv.iotlb.global");
        this.cInvIotlbPage = stats.lazyCounter("inv.iotlb.page");
        this.cInvPasidCacheDomain = stats.lazyCounter("inv.pasid-cache.domain");
        this.cInvPasidCacheGlobal = stats.lazyCounter("inv.pasid-cache.global");
        this.cInvPasidCachePasid = stats.lazyCounter("inv.pasid-cache.pasid");
        this.cInvPasidDeviceTlb = stats.lazyCounter("inv.pasid-device-tlb");
        this.cInvPasidDeviceTlbGlobal = stats.lazyCounter("inv.pasid-device-tlb.global");
        this.cInvPasidIotlbPage = stats.lazyCounter("inv.pasid-iotlb.page");
        this.cInvPasidIotlbPasid = stats.lazyCounter("inv.pasid-iotlb.pasid");
        this.cInvRegisterContext = stats.lazyCounter("inv.register.context");
        this.cInvRegisterIotlb = stats.lazyCounter("inv.register.iotlb");
        this.cInvWait = stats.lazyCounter("inv.wait");
        this.cInvWaitPageRequestDrain = stats.lazyCounter("inv.wait.page-request-drain");
        this.cPrqResponses = stats.lazyCounter("prq.responses");
        this.ring = new QueueRing(0, 8, 4, false);
    }

    void setDescriptorListener(Consumer<InvDescriptor> listener) {
        this.descriptorListener = listener;
    }

    private boolean qiEnabled() {
        return (regs.get(GSTS_REG) & GSTS_QIES) != 0;
    }

    /** Number of descriptors the queue holds: 2^(QS + 8) of 128 bits, half as many of 256. */
    private int iqEntries() {
        return ring.entries();
    }

    private boolean iqWide() {
        return (regs.get(IQA_REG) & IQA_DW) != 0;
    }

    int iqShift() {
        return iqWide() ? 5 : 4;
    }

    /** IQH as software reads it: the head index as a byte offset. */
    long iqh() {
        return (long) iqHead << iqShift();
    }

    boolean pending() {
        return iqHead != iqTail;
    }

    /** QIE set: the hardware resets IQH (VT-d spec 10.4.22). */
    void resetHead() {
        iqHead = 0;
    }

    String lastQueueError() {
        return lastQueueError;
    }

    void writeIqaLocked(long value) {
        if (qiEnabled()) {
            unit.programmingError("IQA", "IQA written while queued invalidation is enabled: ignored");
            return;
        }
        long v = value & (IQA_ADDR_MASK | IQA_DW | IQA_QS_MASK);
        if ((v & IQA_DW) != 0 && !config.scalableMode()) {
            // DW is reserved without scalable-mode support (QEMU vtd_update_iq_dw).
            v &= ~IQA_DW;
        }
        regs.set(IQA_REG, v);
        // The ring: 2^(QS + 8) 128-bit or 2^(QS + 7) 256-bit descriptors; IQH/IQT index it, no wrap bit.
        boolean wide = (v & IQA_DW) != 0;
        ring = new QueueRing(v & IQA_ADDR_MASK, (int) (v & IQA_QS_MASK) + (wide ? 7 : 8), wide ? 5 : 4, false);
    }

    int writeIqtLocked(long value) {
        long iqt = regs.write(IQT_REG, value);
        if (iqWide() && (iqt & 0x10) != 0) {
            return queueErrorLocked(IQEI_TAIL_MISALIGNED, String.format(
                    "IQT %#x is not 256-bit aligned in a 256-bit queue", iqt));
        }
        int index = (int) (iqt >>> iqShift());
        if (index >= iqEntries()) {
            return queueErrorLocked(IQEI_INVALID_TAIL, String.format("IQT %#x beyond the %d-entry queue", iqt,
                    iqEntries()));
        }
        iqTail = index;
        if (config.deferredInvalidation()) {
            return 0;
        }
        return processQueueLocked();
    }

    /**
     * Runs the descriptors queued so far (only needed with {@link VtdConfig#deferredInvalidation()};
     * otherwise every tail write runs them).
     */
    void processInvalidationQueue() {
        int events;
        synchronized (unit.regLock) {
            events = processQueueLocked();
        }
        unit.fireEvents(events);
    }

    /** Processes descriptors from IQH to IQT; stops at the first bad one with IQE set and IQH on it. */
    int processQueueLocked() {
        if (!qiEnabled() || faults.iqeSet()) {
            return 0;
        }
        int events = 0;
        boolean wide = iqWide();
        while (iqHead != iqTail) {
            long a = ring.slotAddress(iqHead);
            long q0;
            long q1;
            long q2 = 0;
            long q3 = 0;
            try {
                q0 = translation.readWord(a);
                q1 = translation.readWord(a + 8);
                if (wide) {
                    q2 = translation.readWord(a + 16);
                    q3 = translation.readWord(a + 24);
                }
            } catch (MemoryFault e) {
                return events | queueErrorLocked(IQEI_FETCH_ERROR, "descriptor fetch at " + Long.toHexString(a)
                        + " failed: " + e.getMessage());
            }
            try {
                InvDescriptor d = InvDescriptor.decode(q0, q1, q2, q3, wide, config);
                events |= execute(d);
                cDescriptors.increment();
                Consumer<InvDescriptor> l = descriptorListener;
                if (l != null) {
                    l.accept(d);
                }
            } catch (InvDescriptor.Invalid e) {
                return events | queueErrorLocked(e.iqei(), String.format("descriptor %d: %s", iqHead, e.getMessage()));
            }
            iqHead = ring.advance(iqHead);
        }
        return events;
    }

    private int queueErrorLocked(int iqei, String message) {
        regs.set(IQERCD_REG, (regs.get(IQERCD_REG) & ~0xFL) | iqei);
        lastQueueError = message;
        cQueueErrors.increment();
        return faults.invalidationQueueError() ? VtdUnit.EVENT_FAULT : 0;
    }

    // =====================================================================================
    // Invalidation semantics (HARDWARE.md 2.7, 5.3)
    // =====================================================================================

    private int execute(InvDescriptor d) throws InvDescriptor.Invalid {
        if (d instanceof InvDescriptor.ContextCacheInv) {
            InvDescriptor.ContextCacheInv c = (InvDescriptor.ContextCacheInv) d;
            invalidateContextCache(c.granularity(), c.domainId(), c.sourceId(), c.functionMask());
        } else if (d instanceof InvDescriptor.IotlbInv) {
            InvDescriptor.IotlbInv c = (InvDescriptor.IotlbInv) d;
            invalidateIotlb(c.granularity(), c.domainId(), c.address(), c.addressMask());
        } else if (d instanceof InvDescriptor.DeviceTlbInv) {
            InvDescriptor.DeviceTlbInv c = (InvDescriptor.DeviceTlbInv) d;
            cInvDeviceTlb.increment();
            DeviceTlb tlb = deviceTlbs.get(c.sourceId());
            if (tlb != null) {
                tlb.invalidate(NO_PASID, false, c.rangeStart(), c.rangeSize());
            }
        } else if (d instanceof InvDescriptor.IecInv) {
            cInvIec.increment();
        } else if (d instanceof InvDescriptor.InvWait) {
            return executeWait((InvDescriptor.InvWait) d);
        } else if (d instanceof InvDescriptor.PasidIotlbInv) {
            InvDescriptor.PasidIotlbInv c = (InvDescriptor.PasidIotlbInv) d;
            invalidatePasidIotlb(c.granularity(), c.domainId(), c.pasid(), c.address(), c.addressMask());
        } else if (d instanceof InvDescriptor.PasidCacheInv) {
            InvDescriptor.PasidCacheInv c = (InvDescriptor.PasidCacheInv) d;
            invalidatePasidCache(c.granularity(), c.domainId(), c.pasid());
        } else if (d instanceof InvDescriptor.PageGroupResponse) {
            InvDescriptor.PageGroupResponse r = (InvDescriptor.PageGroupResponse) d;
            cPrqResponses.increment();
            // Delivered to the endpoint as a PRG Response Message (VT-d spec 7.7.1).
            PageResponseReceiver rx = pageResponseReceivers.get(r.requesterId());
            if (rx != null) {
                rx.pageGroupResponse(r.pasidPresent() ? r.pasid() : NO_PASID, r.prgIndex(), r.responseCode());
            }
        } else if (d instanceof InvDescriptor.PasidDeviceTlbInv) {
            InvDescriptor.PasidDeviceTlbInv c = (InvDescriptor.PasidDeviceTlbInv) d;
            (c.global() ? cInvPasidDeviceTlbGlobal : cInvPasidDeviceTlb).increment();
            DeviceTlb tlb = deviceTlbs.get(c.sourceId());
            if (tlb != null) {
                tlb.invalidate(c.pasid(), c.global(), c.rangeStart(), c.rangeSize());
            }
        }
        return 0;
    }

    /** Wait: SW writes the 32-bit status data to memory; IF raises the completion event; FN holds in order. */
    private int executeWait(InvDescriptor.InvWait w) throws InvDescriptor.Invalid {
        cInvWait.increment();
        if (w.pageRequestDrain()) {
            // PD: every page request received before the wait is already in the queue and every
            // response before it already delivered (requests and responses are synchronous here).
            cInvWaitPageRequestDrain.increment();
        }
        if (w.statusWrite()) {
            if (!writeStatus(w.statusAddress(), w.statusData())) {
                throw new InvDescriptor.Invalid(IQEI_INFO_NOT_AVAILABLE, String.format(
                        "wait descriptor status write to %#x failed", w.statusAddress()));
            }
        }
        if (w.interruptFlag()) {
            if ((regs.get(ICS_REG) & ICS_IWC) != 0) {
                return 0; // one completion already pending (QEMU vtd_generate_completion_event)
            }
            regs.setBits(ICS_REG, ICS_IWC);
            if ((regs.get(IECTL_REG) & ECTL_IM) != 0) {
                regs.setBits(IECTL_REG, ECTL_IP);
                return 0;
            }
            return VtdUnit.EVENT_COMPLETION;
        }
        return 0;
    }

    /** A 4-byte store into the aligned 8-byte word that holds it, atomically. */
    private boolean writeStatus(long address, int data) {
        long word = address & ~7L;
        int shift = (int) (address & 4) * 8;
        long mask = 0xFFFFFFFFL << shift;
        try {
            while (true) {
                long cur = memory.readLong(word);
                long next = (cur & ~mask) | ((data & 0xFFFFFFFFL) << shift);
                if (memory.compareAndSetLong(word, cur, next)) {
                    return true;
                }
            }
        } catch (MemoryFault e) {
            return false;
        }
    }

    private static int didOf(long tag) {
        return (int) (tag >>> 32) & 0xFFFF;
    }

    private static int pasidOf(long tag) {
        return (int) tag;
    }

    private static boolean firstStage(IotlbEntry e) {
        return e.attributes == PasidEntry.PGTT_FIRST_LEVEL || e.attributes == PasidEntry.PGTT_NESTED;
    }

    /** @return the granularity actually performed (1 global, 2 domain, 3 device) */
    private int invalidateContextCache(int g, int did, int sid, int fm) {
        switch (g) {
            case InvDescriptor.G_GLOBAL:
                cInvContextCacheGlobal.increment();
                translation.contextCache.invalidateAll();
                return g;
            case InvDescriptor.G_DOMAIN:
                cInvContextCacheDomain.increment();
                // A scalable-mode context entry carries no domain id: domain-selective acts globally (as QEMU).
                translation.contextCache.invalidateIf((s, e) -> !(e instanceof ContextEntry)
                        || ((ContextEntry) e).domainId() == did);
                return g;
            default:
                cInvContextCacheDevice.increment();
                // the source ids InvDescriptor.ContextCacheInv.coversSource accepts, visited directly
                translation.contextCache.invalidateSources(sid & 0xFFFF,
                        InvDescriptor.ContextCacheInv.functionMaskBits(fm));
                return g;
        }
    }

    /** @return the granularity actually performed (1 global, 2 domain, 3 page) */
    private int invalidateIotlb(int g, int did, long address, int am) {
        switch (g) {
            case InvDescriptor.G_GLOBAL:
                cInvIotlbGlobal.increment();
                translation.iotlb().invalidateAll();
                return g;
            case InvDescriptor.G_DOMAIN:
                cInvIotlbDomain.increment();
                translation.iotlb().invalidateTagsIf(tag -> didOf(tag) == did, e -> true);
                return g;
            default:
                if (!config.pageSelectiveInvalidation()) {
                    // Without CAP.PSI the hardware performs a domain-selective invalidation instead.
                    return invalidateIotlb(InvDescriptor.G_DOMAIN, did, address, am);
                }
                cInvIotlbPage.increment();
                long size = 1L << (12 + am);
                long start = address & ~(size - 1);
                // First-stage and nested entries of the domain all go (QEMU vtd_hash_remove_by_page).
                translation.iotlb().invalidateTagsIf(tag -> didOf(tag) == did,
                        e -> firstStage(e) || e.overlaps(start, size));
                return g;
        }
    }

    private void invalidatePasidIotlb(int g, int did, int pasid, long address, int am) {
        if (g == InvDescriptor.PIOTLB_G_PASID) {
            cInvPasidIotlbPasid.increment();
            translation.iotlb().invalidateTagsIf(tag -> didOf(tag) == did && pasidOf(tag) == pasid, e -> true);
            return;
        }
        cInvPasidIotlbPage.increment();
        long size = 1L << (12 + am);
        long start = address & ~(size - 1);
        // Page-selective PASID-based invalidation leaves second-stage and pass-through entries alone.
        translation.iotlb().invalidateTagsIf(tag -> didOf(tag) == did && pasidOf(tag) == pasid,
                e -> firstStage(e) && e.overlaps(start, size));
    }

    private void invalidatePasidCache(int g, int did, int pasid) {
        switch (g) {
            case InvDescriptor.PC_G_DOMAIN:
                cInvPasidCacheDomain.increment();
                translation.pasidCache.invalidateIf(c -> c.entry().domainId() == did);
                break;
            case InvDescriptor.PC_G_PASID:
                cInvPasidCachePasid.increment();
                translation.pasidCache.invalidateIf(c -> c.entry().domainId() == did && c.pasid() == pasid);
                break;
            default:
                cInvPasidCacheGlobal.increment();
                translation.pasidCache.invalidateAll();
                break;
        }
    }

    /** CCMD with ICC: register-based context-cache invalidation (only while QI is off). */
    void writeCcmdLocked(long value) {
        if ((value & CCMD_ICC) == 0) {
            regs.set(CCMD_REG, value);
            return;
        }
        int cirg = (int) (value >>> CCMD_CIRG_SHIFT) & 3;
        int caig = 0;
        if (qiEnabled()) {
            unit.programmingError("CCMD", "register-based context invalidation while queued invalidation is enabled");
        } else if (cirg != 0) {
            cInvRegisterContext.increment();
            caig = invalidateContextCache(cirg, (int) (value & 0xFFFF), (int) (value >>> CCMD_SID_SHIFT) & 0xFFFF,
                    (int) (value >>> CCMD_FM_SHIFT) & 3);
        }
        regs.set(CCMD_REG, (value & ~CCMD_ICC & ~(3L << CCMD_CAIG_SHIFT)) | (long) caig << CCMD_CAIG_SHIFT);
    }

    /** IOTLB_REG with IVT: register-based IOTLB invalidation, address from IVA_REG (only while QI is off). */
    void writeIotlbRegLocked(long value) {
        if ((value & IOTLB_IVT) == 0) {
            regs.set(IOTLB_REG, value);
            return;
        }
        int iirg = (int) (value >>> IOTLB_IIRG_SHIFT) & 3;
        int iaig = 0;
        long iva = regs.get(IVA_REG);
        int am = (int) (iva & 0x3F);
        if (qiEnabled()) {
            unit.programmingError("IOTLB_REG", "register-based IOTLB invalidation while queued invalidation is enabled");
        } else if (iirg != 0 && !(iirg == InvDescriptor.G_DEVICE_OR_PAGE && am > config.maxAddressMaskValue())) {
            cInvRegisterIotlb.increment();
            iaig = invalidateIotlb(iirg, (int) (value >>> IOTLB_DID_SHIFT) & 0xFFFF, iva & ~0xFFFL, am);
        }
        regs.set(IOTLB_REG, (value & ~IOTLB_IVT & ~(3L << IOTLB_IAIG_SHIFT)) | (long) iaig << IOTLB_IAIG_SHIFT);
    }

}
