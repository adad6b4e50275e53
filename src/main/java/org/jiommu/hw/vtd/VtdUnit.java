package org.jiommu.hw.vtd;

import static org.jiommu.hw.vtd.VtdRegisters.*;

import java.util.List;
import java.util.Objects;
import java.util.function.Consumer;

import org.jiommu.base.WarningSink;
import org.jiommu.bus.dma.DeviceTlb;
import org.jiommu.bus.dma.DmaTranslator;
import org.jiommu.bus.dma.PageRequestSink;
import org.jiommu.bus.dma.PageResponseReceiver;
import org.jiommu.bus.dma.TranslationResult;
import org.jiommu.hw.EndpointRegistry;
import org.jiommu.hw.HwStats;
import org.jiommu.hw.IotlbEntry;
import org.jiommu.hw.RegisterFile;
import org.jiommu.mem.PhysicalMemory;

/**
 * One Intel VT-d DMA-remapping unit (a DRHD): its registers, its caches, its invalidation
 * queue and its fault recording, over simulated physical memory. It trusts nothing but memory
 * (ARCHITECTURE.md "The one principle"): a DMA is translated by reading the root, context,
 * PASID and paging structures as 64-bit words, through caches that only the invalidations the
 * driver really issues can empty.
 *
 * <h2>How a driver programs it (the order Linux follows)</h2>
 * <ol>
 * <li>Read {@link VtdRegisters#CAP_REG} / {@link VtdRegisters#ECAP_REG}.</li>
 * <li>Queued invalidation: write {@code IQT_REG} = 0, {@code IQA_REG} = queue base | DW (256-bit
 *     descriptors, required for PASID-based descriptors) | QS, then set QIE through
 *     {@code GCMD_REG} (write GSTS's persistent bits | QIE) and see QIES in {@code GSTS_REG}.</li>
 * <li>Write {@code RTADDR_REG} = root table | {@link VtdRegisters#RTADDR_SMT} for scalable mode,
 *     then GCMD = persistent bits | SRTP, see RTPS.</li>
 * <li>Invalidate globally (context cache, PASID cache, IOTLB), then GCMD = ... | TE, see TES.</li>
 * <li>To invalidate: write descriptors into memory at IQA + (tail index << 4 or << 5), move
 *     {@code IQT_REG}; the unit processes everything from IQH to IQT before the tail write
 *     returns (unless {@link VtdConfig#deferredInvalidation()}), and a wait descriptor with SW
 *     writes its status dword to memory, which the driver polls.</li>
 * </ol>
 * 32-bit registers are accessed with {@link #read32}/{@link #write32}, 64-bit ones with
 * {@link #read64}/{@link #write64} (32-bit reads of either half also work, and the upper dword
 * of a fault recording register takes a 32-bit write to clear F, as Linux's dmar_fault does).
 *
 * <h2>Parts</h2>
 * The unit is the register front of four parts, each its own device as on the chip:
 * {@link VtdTranslation} (context / PASID caches, IOTLB, walks, fault reporting),
 * {@link VtdInvalidationQueue} (the queued-invalidation consumer and what each descriptor does),
 * {@link VtdPageRequestQueue} (the page request producer), {@link FaultRecorder} (FSTS, FECTL,
 * FRCD); the endpoints behind it sit in two {@link EndpointRegistry}s, and the registers the
 * parts share are one {@link RegisterFile} with their RW / RW1C masks.
 *
 * <h2>Concurrency</h2>
 * {@link #translate} runs lock-free on any number of threads, concurrently with register
 * writes and invalidation processing. Register state and the queue are guarded by
 * {@code regLock}; lock order: {@code regLock} -> cache locks -> fault recorder. Event handlers
 * (fault event, invalidation-completion event) are called with no lock held.
 */
public final class VtdUnit implements DmaTranslator, PageRequestSink {
    /** IOTLB PASID tag of requests-without-PASID in legacy mode (no PASID can take this value). */
    public static final long NO_PASID_TAG = 0xFFFFFFFFL;

    // Events a register write or a queued command raises; fired by the unit with no lock held.
    static final int EVENT_FAULT = 1;
    static final int EVENT_COMPLETION = 2;
    static final int EVENT_PAGE_REQUEST = 4;

    private final VtdConfig config;
    private final PhysicalMemory memory;
    private final WarningSink warnings;
    private final HwStats stats;
    private final HwStats.Counter cProgrammingErrors;
    private final HwStats.Counter cWriteBufferFlushes;

    private final FaultRecorder faults;
    private final VtdTranslation translation;
    private final VtdInvalidationQueue invalidationQueue;
    private final VtdPageRequestQueue pageRequestQueue;
    private final EndpointRegistry<DeviceTlb> deviceTlbs = new EndpointRegistry<>(VtdTranslation::checkSourceId);
    private final EndpointRegistry<PageResponseReceiver> pageResponseReceivers = new EndpointRegistry<>(id -> { });
    private volatile Runnable pageRequestEventHandler;
    private volatile Runnable completionEventHandler;

    /** Guards the register file and the queues' indices. */
    final Object regLock = new Object();
    private final RegisterFile regs;

    /**
     * @param warnings where driver programming errors that the spec leaves undefined are reported
     *     (enabling translation before a root table is set, reprogramming IQA while QI is on ...)
     */
    public VtdUnit(VtdConfig config, PhysicalMemory memory, WarningSink warnings) {
        this.config = Objects.requireNonNull(config, "config");
        this.memory = Objects.requireNonNull(memory, "memory");
        this.warnings = warnings == null ? WarningSink.IGNORE : warnings;
        this.stats = new HwStats(config.name());
        this.cProgrammingErrors = stats.counter("programming-errors");
        this.cWriteBufferFlushes = stats.counter("write-buffer-flushes");
        this.regs = registers(config);
        this.faults = new FaultRecorder(config.faultRecordingRegisters());
        this.translation = new VtdTranslation(config, memory, stats, faults);
        this.invalidationQueue = new VtdInvalidationQueue(this, config, memory, regs, translation, faults, stats,
                deviceTlbs, pageResponseReceivers);
        this.pageRequestQueue = new VtdPageRequestQueue(this, config, memory, regs, translation, stats,
                pageResponseReceivers);
    }

    public VtdUnit(VtdConfig config, PhysicalMemory memory) {
        this(config, memory, WarningSink.IGNORE);
    }

    /**
     * The registers below the fault-recording ones (VT-d spec 10.4), with what software may
     * write: RW bits and RW1C bits; the rest is read-only or set by the unit. FSTS, FECTL,
     * FEDATA, FEADDR, FEUADDR are defined for their width and live in the {@link FaultRecorder}.
     */
    private static RegisterFile registers(VtdConfig config) {
        return new RegisterFile(0x1000)
                .define32(VER_REG, config.version(), 0, 0)
                .define64(CAP_REG, config.capability(), 0, 0)
                .define64(ECAP_REG, config.extendedCapability(), 0, 0)
                .define32(GCMD_REG, 0, 0, 0) // write-only: acted on by writeGcmdLocked, reads 0
                .define32(GSTS_REG, 0, 0, 0)
                .define64(RTADDR_REG, 0, ~0x3FFL, 0) // bits 9:0 RsvdZ
                .define64(CCMD_REG, 0, 0, 0)
                .define32(FSTS_REG, 0, 0, 0)
                .define32(FECTL_REG, 0, 0, 0)
                .define32(FEDATA_REG, 0, 0, 0)
                .define32(FEADDR_REG, 0, 0, 0)
                .define32(FEUADDR_REG, 0, 0, 0)
                .define64(IQH_REG, 0, 0, 0)
                .define64(IQT_REG, 0, IQ_OFFSET_MASK, 0)
                .define64(IQA_REG, 0, 0, 0)
                .define32(ICS_REG, 0, 0, ICS_IWC)
                .define32(IECTL_REG, ECTL_IM, ECTL_IM, 0) // IM set at reset; IP set by the unit
                .define32(IEDATA_REG, 0, 0xFFFF, 0)
                .define32(IEADDR_REG, 0, ~3, 0)
                .define32(IEUADDR_REG, 0, -1, 0)
                .define64(IQERCD_REG, 0, 0, 0)
                .define64(PQH_REG, 0, PQ_OFFSET_MASK, 0)
                .define64(PQT_REG, 0, PQ_OFFSET_MASK, 0)
                .define64(PQA_REG, 0, PQA_ADDR_MASK | PQA_PQS_MASK, 0)
                .define32(PRS_REG, 0, 0, PRS_PPR | PRS_PRO)
                .define32(PECTL_REG, ECTL_IM, ECTL_IM, 0)
                .define32(PEDATA_REG, 0, 0xFFFF, 0)
                .define32(PEADDR_REG, 0, ~3, 0)
                .define32(PEUADDR_REG, 0, -1, 0)
                .define64(IVA_REG, 0, -1L, 0)
                .define64(IOTLB_REG, 0, 0, 0);
    }

    public VtdConfig config() {
        return config;
    }

    public PhysicalMemory memory() {
        return memory;
    }

    public HwStats stats() {
        return stats;
    }

    // =====================================================================================
    // Endpoints and listeners
    // =====================================================================================

    /**
     * Connects the ATC of the endpoint with requester id {@code sourceId}: Device-TLB and
     * PASID-based Device-TLB invalidation descriptors naming that SID are forwarded to it. The
     * call comes from the thread that moved the queue tail, with the unit's register lock held:
     * the ATC must drop its entries and return, not program this unit from another thread.
     */
    public void registerDeviceTlb(int sourceId, DeviceTlb tlb) {
        deviceTlbs.register(sourceId, tlb);
    }

    public void unregisterDeviceTlb(int sourceId) {
        deviceTlbs.unregister(sourceId);
    }

    /** The endpoint that receives page group responses addressed to {@code sourceId} (a PRI function). */
    public void registerPageResponseReceiver(int sourceId, PageResponseReceiver receiver) {
        pageResponseReceivers.register(sourceId, receiver);
    }

    public void unregisterPageResponseReceiver(int sourceId) {
        pageResponseReceivers.unregister(sourceId);
    }

    /**
     * The page request event (MSI through PECTL/PEDATA/PEADDR), sent for each descriptor the unit
     * writes into the queue while PECTL.IM is clear, or when software clears IM with IP pending.
     * Called with no lock held, on the requesting device's thread.
     */
    public void setPageRequestEventHandler(Runnable handler) {
        this.pageRequestEventHandler = handler;
    }

    /**
     * A page request from an endpoint (VT-d spec 7.5.1). Requests from a function whose context
     * entry lacks PRE (or on a unit without PRS, or with translation off) are answered Invalid by
     * the hardware; with the queue full or PRS.PRO set, PRO is set and a last-page request is
     * answered Success by the hardware, so the function retries; otherwise a 256-bit page request
     * descriptor is written at PQT, PQT moves, PRS.PPR is set and the page request event is sent.
     */
    @Override
    public void pageRequest(int sourceId, int pasid, long address, boolean read, boolean write, boolean lastInGroup,
                            int prgIndex) {
        pageRequestQueue.pageRequest(sourceId, pasid, address, read, write, lastInGroup, prgIndex);
    }

    /** Called (no lock held) when the unit would send its fault-event interrupt (FECTL unmasked). */
    public void setFaultEventHandler(Runnable handler) {
        faults.setEventHandler(handler);
    }

    /** Called (no lock held) when an invalidation wait with IF completes and IECTL is unmasked. */
    public void setCompletionEventHandler(Runnable handler) {
        this.completionEventHandler = handler;
    }

    /** Sees every descriptor the unit executes, in order (a trace hook). */
    public void setDescriptorListener(Consumer<InvDescriptor> listener) {
        invalidationQueue.setDescriptorListener(listener);
    }

    /** Sees every fault, recorded or not, on the faulting thread (a trace hook). */
    public void setFaultListener(Consumer<FaultRecord> listener) {
        translation.setFaultListener(listener);
    }

    /** Every fault so far (the last {@value FaultRecorder#LOG_CAPACITY}), with what the recording logic did. */
    public List<FaultRecord> faultLog() {
        return faults.log();
    }

    public void clearFaultLog() {
        faults.clearLog();
    }

    /** The IOTLB's current entries, for inspection. */
    public List<IotlbEntry> iotlbEntries() {
        return translation.iotlbEntries();
    }

    public int contextCacheSize() {
        return translation.contextCache.size();
    }

    public int pasidCacheSize() {
        return translation.pasidCache.size();
    }

    /** Why the invalidation queue last stopped with IQE, or null. */
    public String lastQueueError() {
        synchronized (regLock) {
            return invalidationQueue.lastQueueError();
        }
    }

    // =====================================================================================
    // Translation
    // =====================================================================================

    @Override
    public boolean translate(int sourceId, int pasid, long iova, boolean write, boolean translationRequest,
                             TranslationResult out) {
        return translation.translate(sourceId, pasid, iova, write, translationRequest, out);
    }

    /**
     * What the hardware would do for this request, read straight from memory: no cache is
     * consulted or filled, no fault is recorded, no A/D bit is written and no counter moves.
     * For invariant checks ("what the hardware would walk agrees with the core", I7).
     */
    public boolean probe(int sourceId, int pasid, long iova, boolean write, TranslationResult out) {
        return translation.probe(sourceId, pasid, iova, write, out);
    }

    // =====================================================================================
    // Registers
    // =====================================================================================

    private boolean isRegister32(int offset) {
        return regs.is32(offset);
    }

    private boolean isRegister64(int offset) {
        return regs.is64(offset) || (frcdIndex(offset) >= 0 && (offset & 7) == 0);
    }

    /** Index of the fault recording register holding {@code offset}, or -1. */
    private int frcdIndex(int offset) {
        int rel = offset - FRCD_REG_BASE;
        if (rel < 0 || rel >= faults.registers() * FRCD_REG_SIZE) {
            return -1;
        }
        return rel / FRCD_REG_SIZE;
    }

    private static void checkOffset(int offset, int align) {
        if (offset < 0 || offset >= 0x1000 || offset % align != 0) {
            throw new IllegalArgumentException(String.format("register offset %#x (%d-byte access)", offset, align));
        }
    }

    /** 64-bit MMIO read. Reserved offsets read 0. */
    public long read64(int offset) {
        checkOffset(offset, 8);
        if (isRegister32(offset)) {
            throw new IllegalArgumentException(String.format("64-bit read of 32-bit register %#x", offset));
        }
        if (offset == CAP_REG || offset == ECAP_REG) {
            return regs.get(offset); // read-only, no lock needed
        }
        int frcd = frcdIndex(offset);
        if (frcd >= 0) {
            return faults.readFrcd(frcd, (offset & 8) != 0);
        }
        synchronized (regLock) {
            if (offset == IQH_REG) {
                return invalidationQueue.iqh();
            }
            return regs.is64(offset) ? regs.get(offset) : 0;
        }
    }

    /** 32-bit MMIO read; either half of a 64-bit register may be read this way. Reserved offsets read 0. */
    public int read32(int offset) {
        checkOffset(offset, 4);
        if (!isRegister32(offset)) {
            int base = offset & ~7;
            if (isRegister64(base)) {
                long v = read64(base);
                return (int) ((offset & 4) != 0 ? v >>> 32 : v);
            }
            return 0;
        }
        switch (offset) {
            case VER_REG:
                return config.version();
            case GCMD_REG:
                return 0; // write-only
            case FSTS_REG:
                return faults.readFsts();
            case FECTL_REG:
                return faults.readFectl();
            case FEDATA_REG:
            case FEADDR_REG:
            case FEUADDR_REG:
                return faults.readEventRegister(offset);
            default:
                break;
        }
        synchronized (regLock) {
            return (int) regs.get(offset);
        }
    }

    /** 64-bit MMIO write. */
    public void write64(int offset, long value) {
        checkOffset(offset, 8);
        if (isRegister32(offset)) {
            throw new IllegalArgumentException(String.format("64-bit write to 32-bit register %#x", offset));
        }
        int frcd = frcdIndex(offset);
        if (frcd >= 0) {
            if ((offset & 8) != 0) {
                faults.clearFrcd(frcd, value);
            }
            return;
        }
        int events = 0;
        synchronized (regLock) {
            switch (offset) {
                case RTADDR_REG:
                    // The pointer and TTM take effect at the next SRTP.
                case IVA_REG:
                case PQH_REG:
                    // PQH: software moves the head past the descriptors it has read (prq_event_thread).
                case PQT_REG:
                    // PQT: written by software only to reset the queue (intel_iommu_enable_prq / finish_prq).
                    regs.write(offset, value);
                    break;
                case CCMD_REG:
                    invalidationQueue.writeCcmdLocked(value);
                    break;
                case IQT_REG:
                    events = invalidationQueue.writeIqtLocked(value);
                    break;
                case IQA_REG:
                    invalidationQueue.writeIqaLocked(value);
                    break;
                case IOTLB_REG:
                    invalidationQueue.writeIotlbRegLocked(value);
                    break;
                case PQA_REG:
                    pageRequestQueue.writePqaLocked(value);
                    break;
                default:
                    programmingError("write64", String.format("write of %#x to read-only or reserved register %#x",
                            value, offset));
                    break;
            }
        }
        fireEvents(events);
    }

    /** 32-bit MMIO write; the upper dword of a fault recording register accepts one (to clear F). */
    public void write32(int offset, int value) {
        checkOffset(offset, 4);
        int frcd = frcdIndex(offset);
        if (frcd >= 0) {
            if ((offset & 0xF) == 12) {
                faults.clearFrcd(frcd, (long) value << 32);
            }
            return;
        }
        if (!isRegister32(offset)) {
            if (isRegister64(offset & ~7)) {
                throw new IllegalArgumentException(String.format(
                        "32-bit write to 64-bit register %#x: use write64", offset & ~7));
            }
            programmingError("write32", String.format("write of %#x to reserved register %#x", value, offset));
            return;
        }
        int events = 0;
        switch (offset) {
            case FSTS_REG:
                if (faults.writeFsts(value)) {
                    // Software cleared IQE: the queue resumes at IQH (Linux rewrote the bad descriptor).
                    synchronized (regLock) {
                        events = invalidationQueue.processQueueLocked();
                    }
                }
                break;
            case FECTL_REG:
                faults.writeFectl(value);
                break;
            case FEDATA_REG:
            case FEADDR_REG:
            case FEUADDR_REG:
                faults.writeEventRegister(offset, value);
                break;
            default:
                synchronized (regLock) {
                    events = write32Locked(offset, value);
                }
                break;
        }
        fireEvents(events);
    }

    private int write32Locked(int offset, int value) {
        switch (offset) {
            case GCMD_REG:
                return writeGcmdLocked(value);
            case ICS_REG: // RW1C
            case PRS_REG: // RW1C
            case IEDATA_REG:
            case IEADDR_REG:
            case IEUADDR_REG:
            case PEDATA_REG:
            case PEADDR_REG:
            case PEUADDR_REG:
                regs.write(offset, value);
                return 0;
            case IECTL_REG:
                return writeEventControlLocked(IECTL_REG, value, EVENT_COMPLETION);
            case PECTL_REG:
                return writeEventControlLocked(PECTL_REG, value, EVENT_PAGE_REQUEST);
            default:
                programmingError("write32", String.format("write of %#x to read-only register %#x", value, offset));
                return 0;
        }
    }

    /** IECTL / PECTL: software writes IM; clearing IM with IP pending sends the held interrupt. */
    private int writeEventControlLocked(int offset, int value, int event) {
        long v = regs.write(offset, value);
        if ((v & (ECTL_IM | ECTL_IP) & 0xFFFFFFFFL) == ECTL_IP) {
            regs.clearBits(offset, ECTL_IP);
            return event;
        }
        return 0;
    }

    void fireEvents(int events) {
        if ((events & EVENT_FAULT) != 0) {
            faults.fireEvent();
        }
        if ((events & EVENT_COMPLETION) != 0) {
            Runnable h = completionEventHandler;
            if (h != null) {
                h.run();
            }
        }
        if ((events & EVENT_PAGE_REQUEST) != 0) {
            Runnable h = pageRequestEventHandler;
            if (h != null) {
                h.run();
            }
        }
    }

    void programmingError(String where, String message) {
        cProgrammingErrors.increment();
        warnings.warn(config.name() + " " + where, message);
    }

    /**
     * GCMD: software writes the persistent status bits back with one command bit changed
     * (Linux iommu->gcmd | DMA_GCMD_x). One-shot commands (SRTP, WBF) act when written as 1;
     * TE and QIE act when they differ from GSTS. SRTP is handled before TE, so a single write
     * that sets both latches the root table first.
     */
    private int writeGcmdLocked(int value) {
        int events = 0;
        int changed = value ^ (int) regs.get(GSTS_REG);
        if ((value & GCMD_SRTP) != 0) {
            long rtaddr = regs.get(RTADDR_REG);
            long ttm = (rtaddr & RTADDR_TTM_MASK) >>> RTADDR_TTM_SHIFT;
            boolean scalable = ttm == 1;
            boolean valid = ttm == 0 || (scalable && config.scalableMode());
            if (!valid) {
                programmingError("GCMD.SRTP", String.format("RTADDR %#x selects TTM %d, which this unit does not "
                        + "support: translations will fault", rtaddr, ttm));
            }
            regs.setBits(GSTS_REG, GSTS_RTPS);
            translation.setState(new VtdTranslation.State(translation.state().enabled, rtaddr & RTADDR_RTA_MASK,
                    scalable, valid));
        }
        if ((value & GCMD_WBF) != 0) {
            // The model has no write buffer: the flush completes at once (GSTS.WBFS reads clear).
            // Software asks for it only where CAP.RWBF says so (VT-d spec 10.4.4, 6.8).
            cWriteBufferFlushes.increment();
        }
        if ((changed & GCMD_TE) != 0) {
            boolean enable = (value & GCMD_TE) != 0;
            if (enable && (regs.get(GSTS_REG) & GSTS_RTPS) == 0) {
                programmingError("GCMD.TE", "translation enabled before a root table pointer was set (SRTP): ignored");
            } else {
                if (enable) {
                    regs.setBits(GSTS_REG, GSTS_TES & 0xFFFFFFFFL);
                } else {
                    regs.clearBits(GSTS_REG, GSTS_TES & 0xFFFFFFFFL);
                }
                VtdTranslation.State s = translation.state();
                translation.setState(new VtdTranslation.State(enable, s.rootTable, s.scalable, s.ttmValid));
            }
        }
        if ((changed & GCMD_QIE) != 0) {
            boolean enable = (value & GCMD_QIE) != 0;
            if (enable && !config.queuedInvalidation()) {
                programmingError("GCMD.QIE", "queued invalidation enabled on a unit without ECAP.QI: ignored");
            } else if (enable) {
                invalidationQueue.resetHead();
                regs.setBits(GSTS_REG, GSTS_QIES);
                if (!config.deferredInvalidation()) {
                    events |= invalidationQueue.processQueueLocked();
                }
            } else {
                if (invalidationQueue.pending()) {
                    programmingError("GCMD.QIE", "queued invalidation disabled with descriptors pending");
                }
                regs.clearBits(GSTS_REG, GSTS_QIES);
            }
        }
        int unsupported = value & (GCMD_SFL | GCMD_EAFL | GCMD_IRE | GCMD_SIRTP | GCMD_CFI);
        if ((unsupported & ~(int) regs.get(GSTS_REG)) != 0) {
            programmingError("GCMD", String.format("command bits %#x need fault logging or interrupt remapping, "
                    + "which this unit does not implement: ignored", unsupported));
        }
        return events;
    }

    /**
     * Runs the descriptors queued so far (only needed with {@link VtdConfig#deferredInvalidation()};
     * otherwise every tail write runs them).
     */
    public void processInvalidationQueue() {
        invalidationQueue.processInvalidationQueue();
    }

    @Override
    public String toString() {
        VtdTranslation.State s = translation.state();
        return String.format("%s [%s, TE %s, root %#x]", config.name(), s.scalable ? "scalable" : "legacy",
                s.enabled ? "on" : "off", s.rootTable);
    }
}
