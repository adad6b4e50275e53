package org.jiommu.hw.vtd;

import static org.jiommu.hw.vtd.VtdRegisters.*;

import java.util.List;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.function.Consumer;

import org.jiommu.base.WarningSink;
import org.jiommu.bus.dma.DeviceTlb;
import org.jiommu.bus.dma.DmaTranslator;
import org.jiommu.bus.dma.PageRequestSink;
import org.jiommu.bus.dma.PageResponseReceiver;
import org.jiommu.bus.dma.TranslationResult;
import org.jiommu.hw.HwStats;
import org.jiommu.hw.Iotlb;
import org.jiommu.hw.IotlbEntry;
import org.jiommu.hw.TaggedCache;
import org.jiommu.mem.MemoryFault;
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
 * <h2>Concurrency</h2>
 * {@link #translate} runs lock-free on any number of threads, concurrently with register
 * writes and invalidation processing. Register state and the queue are guarded by
 * {@code regLock}; lock order: {@code regLock} -> cache locks -> fault recorder. Event handlers
 * (fault event, invalidation-completion event) are called with no lock held.
 */
public final class VtdUnit implements DmaTranslator, PageRequestSink {
    /** IOTLB PASID tag of requests-without-PASID in legacy mode (no PASID can take this value). */
    public static final long NO_PASID_TAG = 0xFFFFFFFFL;
    static final long INTERRUPT_RANGE_FIRST = 0xFEE0_0000L;
    static final long INTERRUPT_RANGE_LAST = 0xFEEF_FFFFL;
    private static final int[] IOTLB_PAGE_SHIFTS = {12, 21, 30};

    private static final int EVENT_FAULT = 1;
    private static final int EVENT_COMPLETION = 2;
    private static final int EVENT_PAGE_REQUEST = 4;

    /** What translate needs from the registers, swapped atomically when the driver changes them. */
    private static final class State {
        final boolean enabled;
        final long rootTable;
        final boolean scalable;
        final boolean ttmValid;

        State(boolean enabled, long rootTable, boolean scalable, boolean ttmValid) {
            this.enabled = enabled;
            this.rootTable = rootTable;
            this.scalable = scalable;
            this.ttmValid = ttmValid;
        }
    }

    /** A translation-structure fault found while loading a context or PASID entry. */
    private static final class Failure {
        final int code;
        final boolean fpd;

        Failure(int code, boolean fpd) {
            this.code = code;
            this.fpd = fpd;
        }
    }

    /** A PASID-cache entry: the PASID-table entry and the FPD of the entries on its path. */
    record CachedPasid(int sourceId, int pasid, PasidEntry entry, boolean fpd) {
    }

    private final VtdConfig config;
    private final PhysicalMemory memory;
    private final WarningSink warnings;
    private final long capability;
    private final long extendedCapability;
    private final int haw;
    private final int domainIdBits;

    private final HwStats stats;
    private final HwStats.Counter cTranslations;
    private final HwStats.Counter cAtsRequests;
    private final HwStats.Counter cIdentity;
    private final HwStats.Counter cIotlbHits;
    private final HwStats.Counter cIotlbMisses;
    private final HwStats.Counter cIotlbFills;
    private final HwStats.Counter cIotlbFillsDropped;
    private final HwStats.Counter cContextHits;
    private final HwStats.Counter cContextMisses;
    private final HwStats.Counter cPasidHits;
    private final HwStats.Counter cPasidMisses;
    private final HwStats.Counter cWordsRead;
    private final HwStats.Counter cFaults;
    private final HwStats.Counter cDescriptors;
    private final HwStats.Counter cQueueErrors;
    private final HwStats.Counter cProgrammingErrors;
    private final AtomicReferenceArray<HwStats.Counter> faultReasonCounters = new AtomicReferenceArray<>(256);

    private final ContextCache contextCache = new ContextCache();
    private final TaggedCache<CachedPasid> pasidCache;
    private final Iotlb iotlb;
    private final FaultRecorder faults;
    private final SecondLevelWalker secondLevel;
    private final FirstLevelWalker firstLevel;
    /** Walkers for {@link #probe}: their counters are private, so a probe leaves the unit's stats alone. */
    private final SecondLevelWalker probeSecondLevel;
    private final FirstLevelWalker probeFirstLevel;
    private final ConcurrentHashMap<Integer, DeviceTlb> deviceTlbs = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<Integer, PageResponseReceiver> pageResponseReceivers = new ConcurrentHashMap<>();
    private volatile Runnable pageRequestEventHandler;

    private volatile State state;
    private volatile Runnable completionEventHandler;
    private volatile Consumer<InvDescriptor> descriptorListener;
    private volatile Consumer<FaultRecord> faultListener;

    // ---- registers; everything below is guarded by regLock ----
    private final Object regLock = new Object();
    private int gsts;
    private long rtaddr;
    private long ccmd;
    private long iva;
    private long iotlbReg;
    private long iqa;
    private long iqt;
    private int iqHead;
    private int iqTail;
    private long iqercd;
    private int ics;
    private int iectl = ECTL_IM;
    private int iedata;
    private int ieaddr;
    private int ieuaddr;
    private String lastQueueError;
    // page request queue (VT-d spec 7.5.1, 10.4.31-37)
    private long pqh;
    private long pqt;
    private long pqa;
    private int prs;
    private int pectl = ECTL_IM;
    private int pedata;
    private int peaddr;
    private int peuaddr;

    /**
     * @param warnings where driver programming errors that the spec leaves undefined are reported
     *     (enabling translation before a root table is set, reprogramming IQA while QI is on ...)
     */
    public VtdUnit(VtdConfig config, PhysicalMemory memory, WarningSink warnings) {
        this.config = Objects.requireNonNull(config, "config");
        this.memory = Objects.requireNonNull(memory, "memory");
        this.warnings = warnings == null ? WarningSink.IGNORE : warnings;
        this.capability = config.capability();
        this.extendedCapability = config.extendedCapability();
        this.haw = config.hostAddressWidth();
        this.domainIdBits = config.domainIdBits();
        this.stats = new HwStats(config.name());
        this.cTranslations = stats.counter("translations");
        this.cAtsRequests = stats.counter("translations.ats-requests");
        this.cIdentity = stats.counter("translations.identity");
        this.cIotlbHits = stats.counter("iotlb.hits");
        this.cIotlbMisses = stats.counter("iotlb.misses");
        this.cIotlbFills = stats.counter("iotlb.fills");
        this.cIotlbFillsDropped = stats.counter("iotlb.fills-dropped");
        this.cContextHits = stats.counter("context-cache.hits");
        this.cContextMisses = stats.counter("context-cache.misses");
        this.cPasidHits = stats.counter("pasid-cache.hits");
        this.cPasidMisses = stats.counter("pasid-cache.misses");
        this.cWordsRead = stats.counter("memory.words-read");
        this.cFaults = stats.counter("faults");
        this.cDescriptors = stats.counter("inv.descriptors");
        this.cQueueErrors = stats.counter("inv.queue-errors");
        this.cProgrammingErrors = stats.counter("programming-errors");
        HwStats.Counter walks = stats.counter("walks");
        this.pasidCache = new TaggedCache<>(config.scalableMode() ? config.pasidCacheEntries() : 0);
        this.iotlb = new Iotlb(config.iotlbEntries());
        this.faults = new FaultRecorder(config.faultRecordingRegisters());
        this.secondLevel = new SecondLevelWalker(memory, config, walks, cWordsRead);
        this.firstLevel = new FirstLevelWalker(memory, config, walks, cWordsRead);
        HwStats scratch = new HwStats("probe");
        this.probeSecondLevel = new SecondLevelWalker(memory, config, scratch.counter("walks"),
                scratch.counter("words"));
        this.probeFirstLevel = new FirstLevelWalker(memory, config, scratch.counter("walks"),
                scratch.counter("words"));
        this.state = new State(false, 0, false, true);
    }

    public VtdUnit(VtdConfig config, PhysicalMemory memory) {
        this(config, memory, WarningSink.IGNORE);
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
        checkSourceId(sourceId);
        deviceTlbs.put(sourceId, Objects.requireNonNull(tlb, "tlb"));
    }

    public void unregisterDeviceTlb(int sourceId) {
        deviceTlbs.remove(sourceId);
    }

    /** Called (no lock held) when the unit would send its fault-event interrupt (FECTL unmasked). */
    /** The endpoint that receives page group responses addressed to {@code sourceId} (a PRI function). */
    public void registerPageResponseReceiver(int sourceId, PageResponseReceiver receiver) {
        pageResponseReceivers.put(sourceId, Objects.requireNonNull(receiver, "receiver"));
    }

    public void unregisterPageResponseReceiver(int sourceId) {
        pageResponseReceivers.remove(sourceId);
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
        checkSourceId(sourceId);
        stats.counter("prq.requests").increment();
        int autoResponse = -1;
        int events = 0;
        State st = state;
        Object ctx = config.pageRequests() && st.enabled && st.scalable && st.ttmValid
                ? loadContext(st, sourceId, true) : null;
        synchronized (regLock) {
            if (!(ctx instanceof ScalableContextEntry) || !((ScalableContextEntry) ctx).pageRequestEnable()) {
                stats.counter("prq.invalid-requester").increment();
                autoResponse = InvDescriptor.RESPONSE_INVALID;
            } else if ((prs & PRS_PRO) != 0 || pageRequestQueueFullLocked()) {
                prs |= PRS_PRO;
                stats.counter("prq.overflow").increment();
                autoResponse = InvDescriptor.RESPONSE_SUCCESS;
            } else {
                long a = (pqa & PQA_ADDR_MASK) + pqt;
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
                    programmingError("page request", "page request queue at " + Long.toHexString(a)
                            + " is not in memory: " + e.getMessage());
                    autoResponse = InvDescriptor.RESPONSE_FAILURE;
                }
                if (autoResponse < 0) {
                    pqt = (pqt + PAGE_REQUEST_SIZE) & pageRequestQueueMaskLocked();
                    prs |= PRS_PPR;
                    stats.counter("prq.descriptors").increment();
                    if ((pectl & ECTL_IM) != 0) {
                        pectl |= ECTL_IP;
                    } else {
                        events = EVENT_PAGE_REQUEST;
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
        fireEvents(events);
    }

    /** Byte-offset mask of the queue: 2^PQS pages of 32-byte descriptors. */
    private long pageRequestQueueMaskLocked() {
        return ((0x1000L << (pqa & PQA_PQS_MASK)) - 1) & ~(long) (PAGE_REQUEST_SIZE - 1);
    }

    /** Full when one more descriptor would make PQT reach PQH (software reads PQH == PQT as empty). */
    private boolean pageRequestQueueFullLocked() {
        long size = 0x1000L << (pqa & PQA_PQS_MASK);
        long entries = size / PAGE_REQUEST_SIZE;
        long used = ((pqt - pqh) & (size - 1)) / PAGE_REQUEST_SIZE;
        long capacity = entries - 1;
        if (config.pageRequestQueueLimit() > 0) {
            capacity = Math.min(capacity, config.pageRequestQueueLimit());
        }
        return (pqa & PQA_ADDR_MASK) == 0 || used >= capacity;
    }

    public void setFaultEventHandler(Runnable handler) {
        faults.setEventHandler(handler);
    }

    /** Called (no lock held) when an invalidation wait with IF completes and IECTL is unmasked. */
    public void setCompletionEventHandler(Runnable handler) {
        this.completionEventHandler = handler;
    }

    /** Sees every descriptor the unit executes, in order (a trace hook). */
    public void setDescriptorListener(Consumer<InvDescriptor> listener) {
        this.descriptorListener = listener;
    }

    /** Sees every fault, recorded or not, on the faulting thread (a trace hook). */
    public void setFaultListener(Consumer<FaultRecord> listener) {
        this.faultListener = listener;
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
        return iotlb.entries();
    }

    public int contextCacheSize() {
        return contextCache.size();
    }

    public int pasidCacheSize() {
        return pasidCache.size();
    }

    /** Why the invalidation queue last stopped with IQE, or null. */
    public String lastQueueError() {
        synchronized (regLock) {
            return lastQueueError;
        }
    }

    // =====================================================================================
    // Translation
    // =====================================================================================

    @Override
    public boolean translate(int sourceId, int pasid, long iova, boolean write, boolean translationRequest,
                             TranslationResult out) {
        return translate(sourceId, pasid, iova, write, translationRequest, out, false);
    }

    /**
     * What the hardware would do for this request, read straight from memory: no cache is
     * consulted or filled, no fault is recorded, no A/D bit is written and no counter moves.
     * For invariant checks ("what the hardware would walk agrees with the core", I7).
     */
    public boolean probe(int sourceId, int pasid, long iova, boolean write, TranslationResult out) {
        return translate(sourceId, pasid, iova, write, false, out, true);
    }

    private boolean translate(int sid, int pasid, long iova, boolean write, boolean tr, TranslationResult out,
                              boolean probe) {
        checkSourceId(sid);
        if (pasid < NO_PASID || pasid > 0xFFFFF) {
            throw new IllegalArgumentException("PASID " + pasid + " is not a 20-bit value");
        }
        out.clear();
        if (!probe) {
            cTranslations.increment();
            if (tr) {
                cAtsRequests.increment();
            }
        }
        State st = state;
        if (!st.enabled) {
            // GSTS.TES = 0: DMA is not remapped.
            return identity(iova, out, probe);
        }
        if (!st.ttmValid) {
            return fault(sid, pasid, iova, write, tr, FaultReason.ROOT_TABLE_ADDRESS_TTM, false, out, probe);
        }
        Object ctx = probe ? null : contextCache.get(sid);
        if (ctx != null && (st.scalable ? !(ctx instanceof ScalableContextEntry) : !(ctx instanceof ContextEntry))) {
            ctx = null; // cached under the other translation-table mode: unusable
        }
        if (ctx == null) {
            long epoch = contextCache.epoch();
            Object loaded = loadContext(st, sid, probe);
            if (loaded instanceof Failure) {
                Failure f = (Failure) loaded;
                return fault(sid, pasid, iova, write, tr, f.code, f.fpd, out, probe);
            }
            ctx = loaded;
            if (!probe) {
                cContextMisses.increment();
                contextCache.put(sid, ctx, epoch);
            }
        } else {
            cContextHits.increment();
        }
        if (st.scalable) {
            return translateScalable(sid, pasid, iova, write, tr, (ScalableContextEntry) ctx, out, probe);
        }
        return translateLegacy(sid, pasid, iova, write, tr, (ContextEntry) ctx, out, probe);
    }

    private boolean translateLegacy(int sid, int pasid, long iova, boolean write, boolean tr, ContextEntry ce,
                                    TranslationResult out, boolean probe) {
        boolean fpd = ce.fpd();
        if (pasid != NO_PASID) {
            // A legacy-mode context entry has no PASID-granular translation: requests with PASID are blocked.
            return fault(sid, pasid, iova, write, tr, FaultReason.TRANSLATION_TYPE_BLOCKED, fpd, out, probe);
        }
        int tt = ce.translationType();
        if (tr && tt != ContextEntry.TT_DEV_IOTLB) {
            // ATS translation requests need TT = 01b (Device-TLBs enabled for this device).
            return fault(sid, pasid, iova, write, tr, FaultReason.TRANSLATION_TYPE_BLOCKED, fpd, out, probe);
        }
        if (tt == ContextEntry.TT_PASS_THROUGH) {
            return passThrough(sid, pasid, iova, write, tr, false, fpd, out, probe);
        }
        int bits = Math.min(VtdConfig.agawToWidth(ce.addressWidth()), config.addressWidth());
        if (bits < 64 && (iova >>> bits) != 0) {
            return fault(sid, pasid, iova, write, tr, FaultReason.ADDRESS_BEYOND_MGAW, fpd, out, probe);
        }
        long tag = (long) ce.domainId() << 32 | NO_PASID_TAG;
        return translatePaged(sid, pasid, iova, write, tr, false, fpd, tag, PasidEntry.PGTT_SECOND_LEVEL,
                ce.secondLevelPointer(), ce.levels(), null, out, probe);
    }

    private boolean translateScalable(int sid, int pasid, long iova, boolean write, boolean tr,
                                      ScalableContextEntry sce, TranslationResult out, boolean probe) {
        boolean fpd = sce.fpd();
        if (tr && !sce.deviceTlbEnable()) {
            return fault(sid, pasid, iova, write, tr, FaultReason.TRANSLATION_TYPE_BLOCKED, fpd, out, probe);
        }
        // Requests without PASID use the context's RID_PASID (Linux programs IOMMU_NO_PASID = 0).
        int effective = pasid == NO_PASID ? sce.ridPasid() : pasid;
        CachedPasid cp = probe ? null : pasidCache.get(sid, effective);
        if (cp == null) {
            long epoch = pasidCache.epoch();
            Object loaded = loadPasid(sce, sid, effective, probe);
            if (loaded instanceof Failure) {
                Failure f = (Failure) loaded;
                return fault(sid, pasid, iova, write, tr, f.code, fpd || f.fpd, out, probe);
            }
            cp = (CachedPasid) loaded;
            if (!probe) {
                cPasidMisses.increment();
                pasidCache.put(sid, effective, cp, epoch);
            }
        } else {
            cPasidHits.increment();
        }
        fpd |= cp.fpd();
        PasidEntry pe = cp.entry();
        long tag = (long) pe.domainId() << 32 | effective;
        switch (pe.pgtt()) {
            case PasidEntry.PGTT_PASS_THROUGH:
                return passThrough(sid, pasid, iova, write, tr, true, fpd, out, probe);
            case PasidEntry.PGTT_SECOND_LEVEL: {
                int bits = Math.min(VtdConfig.agawToWidth(pe.addressWidth()), config.addressWidth());
                if (bits < 64 && (iova >>> bits) != 0) {
                    return fault(sid, pasid, iova, write, tr, FaultReason.ADDRESS_BEYOND_MGAW, fpd, out, probe);
                }
                return translatePaged(sid, pasid, iova, write, tr, true, fpd, tag, PasidEntry.PGTT_SECOND_LEVEL,
                        pe.secondLevelPointer(), pe.secondLevelLevels(), null, out, probe);
            }
            case PasidEntry.PGTT_FIRST_LEVEL:
                return translatePaged(sid, pasid, iova, write, tr, true, fpd, tag, PasidEntry.PGTT_FIRST_LEVEL,
                        pe.firstLevelPointer(), pe.firstLevelLevels(), null, out, probe);
            default: // PGTT_NESTED; loadPasid refused every other value
                return translatePaged(sid, pasid, iova, write, tr, true, fpd, tag, PasidEntry.PGTT_NESTED,
                        pe.firstLevelPointer(), pe.firstLevelLevels(), pe, out, probe);
        }
    }

    /** IOTLB lookup, else a walk of the right kind, the interrupt-range check, and a fill. */
    private boolean translatePaged(int sid, int pasid, long iova, boolean write, boolean tr, boolean scalable,
                                   boolean fpd, long tag, int pgtt, long table, int levels, PasidEntry nested,
                                   TranslationResult out, boolean probe) {
        if (!probe) {
            IotlbEntry e = lookupIotlb(tag, iova);
            // An entry without the permission this access needs is not used: the unit walks again, as
            // an x86 TLB re-walks before faulting (and so a first write sets a first-level D bit).
            if (e != null && (write ? e.writable() : e.readable())) {
                cIotlbHits.increment();
                out.pa = e.translate(iova);
                out.pageSize = e.pageSize();
                out.readable = e.readable();
                out.writable = e.writable();
                return true;
            }
            cIotlbMisses.increment();
        }
        long epoch = iotlb.epoch();
        int f;
        if (pgtt == PasidEntry.PGTT_SECOND_LEVEL) {
            f = (probe ? probeSecondLevel : secondLevel).walk(table, levels, iova, write, tr,
                    FaultReason.CONTEXT_ENTRY_INVALID, out);
        } else {
            FirstLevelWalker.Nested stage2 = null;
            if (nested != null) {
                int bits = Math.min(VtdConfig.agawToWidth(nested.addressWidth()), config.addressWidth());
                stage2 = new FirstLevelWalker.Nested(probe ? probeSecondLevel : secondLevel,
                        nested.secondLevelPointer(), nested.secondLevelLevels(), bits);
            }
            f = (probe ? probeFirstLevel : firstLevel).walk(table, levels, iova, write, tr, !probe, stage2, out);
        }
        if (f == SecondLevelWalker.NO_ACCESS) {
            // ATS: a completion with R = W = 0 is an answer, not a fault.
            out.pa = 0;
            out.pageSize = 4096;
            out.readable = false;
            out.writable = false;
            return true;
        }
        if (f != 0) {
            return fault(sid, pasid, iova, write, tr, f, fpd, out, probe);
        }
        long pageBase = out.pa;
        long size = out.pageSize;
        if (inInterruptRange(pageBase, size)) {
            return fault(sid, pasid, iova, write, tr,
                    scalable ? FaultReason.SM_INTERRUPT_ADDRESS : FaultReason.INTERRUPT_ADDRESS, fpd, out, probe);
        }
        out.pa = pageBase | (iova & (size - 1));
        if (!probe && iotlb.capacity() > 0) {
            int perms = (out.readable ? IotlbEntry.READ : 0) | (out.writable ? IotlbEntry.WRITE : 0);
            IotlbEntry e = new IotlbEntry(tag, iova & ~(size - 1), Long.numberOfTrailingZeros(size), pageBase,
                    perms, pgtt);
            if (iotlb.insert(e, epoch)) {
                cIotlbFills.increment();
            } else {
                cIotlbFillsDropped.increment();
            }
        }
        return true;
    }

    private IotlbEntry lookupIotlb(long tag, long iova) {
        for (int shift : IOTLB_PAGE_SHIFTS) {
            IotlbEntry e = iotlb.lookup(tag, iova, shift);
            if (e != null) {
                return e;
            }
        }
        return null;
    }

    private static boolean inInterruptRange(long base, long size) {
        long last = base + size - 1;
        return Long.compareUnsigned(base, INTERRUPT_RANGE_LAST) <= 0
                && Long.compareUnsigned(last, INTERRUPT_RANGE_FIRST) >= 0;
    }

    /** Output = input: translation disabled, or a pass-through entry. */
    private boolean identity(long iova, TranslationResult out, boolean probe) {
        if (!probe) {
            cIdentity.increment();
        }
        out.pa = iova;
        out.pageSize = 4096;
        out.readable = true;
        out.writable = true;
        return true;
    }

    /** Pass-through (legacy TT = 10b, PGTT = 100b): identity, never cached in the IOTLB (as QEMU). */
    private boolean passThrough(int sid, int pasid, long iova, boolean write, boolean tr, boolean scalable,
                                boolean fpd, TranslationResult out, boolean probe) {
        if (inInterruptRange(iova & ~0xFFFL, 4096)) {
            return fault(sid, pasid, iova, write, tr,
                    scalable ? FaultReason.SM_INTERRUPT_ADDRESS : FaultReason.INTERRUPT_ADDRESS, fpd, out, probe);
        }
        return identity(iova, out, probe);
    }

    private boolean fault(int sid, int pasid, long iova, boolean write, boolean tr, int code, boolean fpd,
                          TranslationResult out, boolean probe) {
        out.pa = 0;
        out.pageSize = 0;
        out.readable = false;
        out.writable = false;
        out.fault(code, FaultReason.name(code));
        if (probe) {
            return false;
        }
        cFaults.increment();
        faultReasonCounter(code).increment();
        boolean suppress = fpd && FaultReason.isQualified(code);
        FaultRecord.Disposition d = faults.report(sid, pasid, iova, code, write, tr, suppress);
        stats.counter("faults." + d.name().toLowerCase().replace('_', '-')).increment();
        Consumer<FaultRecord> l = faultListener;
        if (l != null) {
            l.accept(new FaultRecord(sid, pasid, iova, code, write, tr, d));
        }
        return false;
    }

    private HwStats.Counter faultReasonCounter(int code) {
        HwStats.Counter c = faultReasonCounters.get(code & 0xFF);
        if (c == null) {
            c = stats.counter(String.format("faults.reason.%#04x", code));
            faultReasonCounters.set(code & 0xFF, c);
        }
        return c;
    }

    // ---- structure loads (cache misses) ----

    private long readWord(long pa, boolean probe) {
        long v = memory.readLong(pa);
        if (!probe) {
            cWordsRead.increment();
        }
        return v;
    }

    /** Root entry then context entry for {@code sid} (QEMU vtd_dev_to_context_entry's checks and order). */
    private Object loadContext(State st, int sid, boolean probe) {
        int bus = sid >>> 8;
        int devfn = sid & 0xFF;
        RootEntry re;
        try {
            long a = st.rootTable + (long) bus * RootEntry.SIZE;
            re = new RootEntry(readWord(a, probe), readWord(a + 8, probe));
        } catch (MemoryFault e) {
            return new Failure(FaultReason.ROOT_TABLE_ACCESS, false);
        }
        if (!re.presentFor(st.scalable, devfn)) {
            return new Failure(FaultReason.ROOT_ENTRY_NOT_PRESENT, false);
        }
        if (re.reservedBitsSet(st.scalable, haw)) {
            return new Failure(FaultReason.ROOT_ENTRY_RESERVED, false);
        }
        long table = re.contextTableFor(st.scalable, devfn);
        if (!st.scalable) {
            ContextEntry ce;
            try {
                long a = table + (long) devfn * ContextEntry.SIZE;
                ce = new ContextEntry(readWord(a, probe), readWord(a + 8, probe));
            } catch (MemoryFault e) {
                return new Failure(FaultReason.CONTEXT_TABLE_ACCESS, false);
            }
            if (!ce.present()) {
                return new Failure(FaultReason.CONTEXT_ENTRY_NOT_PRESENT, ce.fpd());
            }
            if (ce.reservedBitsSet(haw, domainIdBits)) {
                return new Failure(FaultReason.CONTEXT_ENTRY_RESERVED, ce.fpd());
            }
            int tt = ce.translationType();
            boolean ttOk = tt == ContextEntry.TT_MULTI_LEVEL
                    || (tt == ContextEntry.TT_DEV_IOTLB && config.deviceTlb())
                    || (tt == ContextEntry.TT_PASS_THROUGH && config.passThrough());
            if (!ttOk || !config.supportsSecondLevelLevels(ce.levels())) {
                return new Failure(FaultReason.CONTEXT_ENTRY_INVALID, ce.fpd());
            }
            return ce;
        }
        ScalableContextEntry sce;
        try {
            long a = table + (long) (devfn & 0x7F) * ScalableContextEntry.SIZE;
            sce = new ScalableContextEntry(readWord(a, probe), readWord(a + 8, probe), readWord(a + 16, probe),
                    readWord(a + 24, probe));
        } catch (MemoryFault e) {
            return new Failure(FaultReason.CONTEXT_TABLE_ACCESS, false);
        }
        if (!sce.present()) {
            return new Failure(FaultReason.CONTEXT_ENTRY_NOT_PRESENT, sce.fpd());
        }
        if (sce.reservedBitsSet(haw)) {
            return new Failure(FaultReason.CONTEXT_ENTRY_RESERVED, sce.fpd());
        }
        if (sce.deviceTlbEnable() && !config.deviceTlb()) {
            return new Failure(FaultReason.CONTEXT_ENTRY_INVALID, sce.fpd());
        }
        return sce;
    }

    /** PASID-directory entry then PASID-table entry (HARDWARE.md 2.4; QEMU vtd_get_pe_from_pasid_table). */
    private Object loadPasid(ScalableContextEntry sce, int sid, int pasid, boolean probe) {
        int dirIndex = PasidDirEntry.index(pasid);
        if (pasid >= 1 << config.pasidBits() || dirIndex >= sce.pasidDirectoryEntries()) {
            // Beyond the unit's PASID width or the directory the context declares (PDTS).
            return new Failure(FaultReason.PASID_DIR_ENTRY_NOT_PRESENT, false);
        }
        PasidDirEntry de;
        try {
            de = new PasidDirEntry(readWord(sce.pasidDirectoryPointer() + (long) dirIndex * PasidDirEntry.SIZE, probe));
        } catch (MemoryFault e) {
            return new Failure(FaultReason.PASID_DIR_ACCESS, false);
        }
        // FPD counts even in a non-present entry (QEMU vtd_ce_get_pasid_fpd).
        if (!de.present()) {
            return new Failure(FaultReason.PASID_DIR_ENTRY_NOT_PRESENT, de.fpd());
        }
        if (de.reservedBitsSet(haw)) {
            return new Failure(FaultReason.PASID_DIR_ENTRY_RESERVED, de.fpd());
        }
        long[] w = new long[8];
        try {
            long a = de.pasidTablePointer() + (long) PasidEntry.index(pasid) * PasidEntry.SIZE;
            for (int i = 0; i < 8; i++) {
                w[i] = readWord(a + 8L * i, probe);
            }
        } catch (MemoryFault e) {
            return new Failure(FaultReason.PASID_TABLE_ACCESS, de.fpd());
        }
        PasidEntry pe = PasidEntry.of(w);
        boolean fpd = de.fpd() || pe.fpd();
        if (!pe.present()) {
            return new Failure(FaultReason.PASID_ENTRY_NOT_PRESENT, fpd);
        }
        if (pe.reservedBitsSet(haw, domainIdBits)) {
            return new Failure(FaultReason.PASID_ENTRY_RESERVED, fpd);
        }
        if (!pgttSupported(pe)) {
            return new Failure(FaultReason.PASID_ENTRY_INVALID, fpd);
        }
        return new CachedPasid(sid, pasid, pe, fpd);
    }

    /** PGTT and its level fields against the capabilities (QEMU vtd_pe_type_check and level checks). */
    private boolean pgttSupported(PasidEntry pe) {
        boolean sl = config.supportsSecondLevelLevels(pe.secondLevelLevels());
        int flpm = pe.firstLevelPagingMode();
        boolean fl = flpm == 0 || (flpm == 1 && config.firstLevel5Level());
        switch (pe.pgtt()) {
            case PasidEntry.PGTT_FIRST_LEVEL: return config.firstLevel() && fl;
            case PasidEntry.PGTT_SECOND_LEVEL: return config.secondLevel() && sl;
            case PasidEntry.PGTT_NESTED: return config.nested() && fl && sl;
            case PasidEntry.PGTT_PASS_THROUGH: return config.passThrough();
            default: return false;
        }
    }

    private static void checkSourceId(int sid) {
        if ((sid & ~0xFFFF) != 0) {
            throw new IllegalArgumentException(String.format("source id %#x is not 16-bit", sid));
        }
    }

    // =====================================================================================
    // Registers
    // =====================================================================================

    private static boolean isRegister32(int offset) {
        switch (offset) {
            case VER_REG: case GCMD_REG: case GSTS_REG: case FSTS_REG: case FECTL_REG: case FEDATA_REG:
            case FEADDR_REG: case FEUADDR_REG: case ICS_REG: case IECTL_REG: case IEDATA_REG: case IEADDR_REG:
            case IEUADDR_REG: case PRS_REG: case PECTL_REG: case PEDATA_REG: case PEADDR_REG: case PEUADDR_REG:
                return true;
            default:
                return false;
        }
    }

    private boolean isRegister64(int offset) {
        switch (offset) {
            case CAP_REG: case ECAP_REG: case RTADDR_REG: case CCMD_REG: case IQH_REG: case IQT_REG: case IQA_REG:
            case IQERCD_REG: case IVA_REG: case IOTLB_REG: case PQH_REG: case PQT_REG: case PQA_REG:
                return true;
            default:
                return frcdIndex(offset) >= 0 && (offset & 7) == 0;
        }
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
        switch (offset) {
            case CAP_REG:
                return capability;
            case ECAP_REG:
                return extendedCapability;
            default:
                break;
        }
        int frcd = frcdIndex(offset);
        if (frcd >= 0) {
            return faults.readFrcd(frcd, (offset & 8) != 0);
        }
        synchronized (regLock) {
            switch (offset) {
                case RTADDR_REG: return rtaddr;
                case CCMD_REG: return ccmd;
                case IQH_REG: return (long) iqHead << iqShift();
                case IQT_REG: return iqt;
                case IQA_REG: return iqa;
                case IQERCD_REG: return iqercd;
                case IVA_REG: return iva;
                case IOTLB_REG: return iotlbReg;
                case PQH_REG: return pqh;
                case PQT_REG: return pqt;
                case PQA_REG: return pqa;
                default: return 0;
            }
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
            switch (offset) {
                case GSTS_REG: return gsts;
                case ICS_REG: return ics;
                case IECTL_REG: return iectl;
                case IEDATA_REG: return iedata;
                case IEADDR_REG: return ieaddr;
                case PRS_REG: return prs;
                case PECTL_REG: return pectl;
                case PEDATA_REG: return pedata;
                case PEADDR_REG: return peaddr;
                case PEUADDR_REG: return peuaddr;
                default: return ieuaddr;
            }
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
                    // Bits 9:0 are reserved (RsvdZ); the pointer and TTM take effect at the next SRTP.
                    rtaddr = value & ~0x3FFL;
                    break;
                case CCMD_REG:
                    writeCcmdLocked(value);
                    break;
                case IQT_REG:
                    events = writeIqtLocked(value);
                    break;
                case IQA_REG:
                    writeIqaLocked(value);
                    break;
                case IVA_REG:
                    iva = value;
                    break;
                case IOTLB_REG:
                    writeIotlbRegLocked(value);
                    break;
                case PQH_REG:
                    // Software moves the head past the descriptors it has read (prq_event_thread).
                    pqh = value & PQ_OFFSET_MASK;
                    break;
                case PQT_REG:
                    // Written by software only to reset the queue (intel_iommu_enable_prq / finish_prq).
                    pqt = value & PQ_OFFSET_MASK;
                    break;
                case PQA_REG:
                    pqa = value & (PQA_ADDR_MASK | PQA_PQS_MASK);
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
                        events = processQueueLocked();
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
            case ICS_REG:
                ics &= ~(value & ICS_IWC);
                return 0;
            case IECTL_REG:
                iectl = (iectl & ~ECTL_IM) | (value & ECTL_IM);
                if ((iectl & (ECTL_IM | ECTL_IP)) == ECTL_IP) {
                    iectl &= ~ECTL_IP;
                    return EVENT_COMPLETION;
                }
                return 0;
            case IEDATA_REG:
                iedata = value & 0xFFFF;
                return 0;
            case IEADDR_REG:
                ieaddr = value & ~3;
                return 0;
            case IEUADDR_REG:
                ieuaddr = value;
                return 0;
            case PRS_REG:
                prs &= ~(value & (PRS_PPR | PRS_PRO)); // RW1C
                return 0;
            case PECTL_REG:
                pectl = (pectl & ~ECTL_IM) | (value & ECTL_IM);
                if ((pectl & (ECTL_IM | ECTL_IP)) == ECTL_IP) {
                    pectl &= ~ECTL_IP;
                    return EVENT_PAGE_REQUEST;
                }
                return 0;
            case PEDATA_REG:
                pedata = value & 0xFFFF;
                return 0;
            case PEADDR_REG:
                peaddr = value & ~3;
                return 0;
            case PEUADDR_REG:
                peuaddr = value;
                return 0;
            default:
                programmingError("write32", String.format("write of %#x to read-only register %#x", value, offset));
                return 0;
        }
    }

    private void fireEvents(int events) {
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

    private void programmingError(String where, String message) {
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
        int changed = value ^ gsts;
        if ((value & GCMD_SRTP) != 0) {
            long ttm = (rtaddr & RTADDR_TTM_MASK) >>> RTADDR_TTM_SHIFT;
            boolean scalable = ttm == 1;
            boolean valid = ttm == 0 || (scalable && config.scalableMode());
            if (!valid) {
                programmingError("GCMD.SRTP", String.format("RTADDR %#x selects TTM %d, which this unit does not "
                        + "support: translations will fault", rtaddr, ttm));
            }
            gsts |= GSTS_RTPS;
            state = new State(state.enabled, rtaddr & RTADDR_RTA_MASK, scalable, valid);
        }
        if ((changed & GCMD_TE) != 0) {
            boolean enable = (value & GCMD_TE) != 0;
            if (enable && (gsts & GSTS_RTPS) == 0) {
                programmingError("GCMD.TE", "translation enabled before a root table pointer was set (SRTP): ignored");
            } else {
                gsts = enable ? gsts | GSTS_TES : gsts & ~GSTS_TES;
                State s = state;
                state = new State(enable, s.rootTable, s.scalable, s.ttmValid);
            }
        }
        if ((changed & GCMD_QIE) != 0) {
            boolean enable = (value & GCMD_QIE) != 0;
            if (enable && !config.queuedInvalidation()) {
                programmingError("GCMD.QIE", "queued invalidation enabled on a unit without ECAP.QI: ignored");
            } else if (enable) {
                iqHead = 0; // hardware resets IQH when QI is enabled
                gsts |= GSTS_QIES;
                if (!config.deferredInvalidation()) {
                    events |= processQueueLocked();
                }
            } else {
                if (iqHead != iqTail) {
                    programmingError("GCMD.QIE", "queued invalidation disabled with descriptors pending");
                }
                gsts &= ~GSTS_QIES;
            }
        }
        int unsupported = value & (GCMD_SFL | GCMD_EAFL | GCMD_IRE | GCMD_SIRTP | GCMD_CFI);
        if ((unsupported & ~gsts) != 0) {
            programmingError("GCMD", String.format("command bits %#x need fault logging or interrupt remapping, "
                    + "which this unit does not implement: ignored", unsupported));
        }
        return events;
    }

    /** Number of descriptors the queue holds: 2^(QS + 8) of 128 bits, half as many of 256. */
    private int iqEntries() {
        int qs = (int) (iqa & IQA_QS_MASK);
        return 1 << (qs + (iqWide() ? 7 : 8));
    }

    private boolean iqWide() {
        return (iqa & IQA_DW) != 0;
    }

    private int iqShift() {
        return iqWide() ? 5 : 4;
    }

    private void writeIqaLocked(long value) {
        if ((gsts & GSTS_QIES) != 0) {
            programmingError("IQA", "IQA written while queued invalidation is enabled: ignored");
            return;
        }
        long v = value & (IQA_ADDR_MASK | IQA_DW | IQA_QS_MASK);
        if ((v & IQA_DW) != 0 && !config.scalableMode()) {
            // DW is reserved without scalable-mode support (QEMU vtd_update_iq_dw).
            v &= ~IQA_DW;
        }
        iqa = v;
    }

    private int writeIqtLocked(long value) {
        iqt = value & IQ_OFFSET_MASK;
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
    public void processInvalidationQueue() {
        int events;
        synchronized (regLock) {
            events = processQueueLocked();
        }
        fireEvents(events);
    }

    /** Processes descriptors from IQH to IQT; stops at the first bad one with IQE set and IQH on it. */
    private int processQueueLocked() {
        if ((gsts & GSTS_QIES) == 0 || faults.iqeSet()) {
            return 0;
        }
        int events = 0;
        int entries = iqEntries();
        boolean wide = iqWide();
        long base = iqa & IQA_ADDR_MASK;
        while (iqHead != iqTail) {
            long a = base + ((long) iqHead << iqShift());
            long q0;
            long q1;
            long q2 = 0;
            long q3 = 0;
            try {
                q0 = readWord(a, false);
                q1 = readWord(a + 8, false);
                if (wide) {
                    q2 = readWord(a + 16, false);
                    q3 = readWord(a + 24, false);
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
            iqHead = (iqHead + 1) & (entries - 1);
        }
        return events;
    }

    private int queueErrorLocked(int iqei, String message) {
        iqercd = (iqercd & ~0xFL) | iqei;
        lastQueueError = message;
        cQueueErrors.increment();
        return faults.invalidationQueueError() ? EVENT_FAULT : 0;
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
            stats.counter("inv.device-tlb").increment();
            DeviceTlb tlb = deviceTlbs.get(c.sourceId());
            if (tlb != null) {
                tlb.invalidate(NO_PASID, false, c.rangeStart(), c.rangeSize());
            }
        } else if (d instanceof InvDescriptor.IecInv) {
            stats.counter("inv.iec").increment();
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
            stats.counter("prq.responses").increment();
            // Delivered to the endpoint as a PRG Response Message (VT-d spec 7.7.1).
            PageResponseReceiver rx = pageResponseReceivers.get(r.requesterId());
            if (rx != null) {
                rx.pageGroupResponse(r.pasidPresent() ? r.pasid() : NO_PASID, r.prgIndex(), r.responseCode());
            }
        } else if (d instanceof InvDescriptor.PasidDeviceTlbInv) {
            InvDescriptor.PasidDeviceTlbInv c = (InvDescriptor.PasidDeviceTlbInv) d;
            stats.counter(c.global() ? "inv.pasid-device-tlb.global" : "inv.pasid-device-tlb").increment();
            DeviceTlb tlb = deviceTlbs.get(c.sourceId());
            if (tlb != null) {
                tlb.invalidate(c.pasid(), c.global(), c.rangeStart(), c.rangeSize());
            }
        }
        return 0;
    }

    /** Wait: SW writes the 32-bit status data to memory; IF raises the completion event; FN holds in order. */
    private int executeWait(InvDescriptor.InvWait w) throws InvDescriptor.Invalid {
        stats.counter("inv.wait").increment();
        if (w.pageRequestDrain()) {
            // PD: every page request received before the wait is already in the queue and every
            // response before it already delivered (requests and responses are synchronous here).
            stats.counter("inv.wait.page-request-drain").increment();
        }
        if (w.statusWrite()) {
            if (!writeStatus(w.statusAddress(), w.statusData())) {
                throw new InvDescriptor.Invalid(IQEI_INFO_NOT_AVAILABLE, String.format(
                        "wait descriptor status write to %#x failed", w.statusAddress()));
            }
        }
        if (w.interruptFlag()) {
            if ((ics & ICS_IWC) != 0) {
                return 0; // one completion already pending (QEMU vtd_generate_completion_event)
            }
            ics |= ICS_IWC;
            if ((iectl & ECTL_IM) != 0) {
                iectl |= ECTL_IP;
                return 0;
            }
            return EVENT_COMPLETION;
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
                stats.counter("inv.context-cache.global").increment();
                contextCache.invalidateAll();
                return g;
            case InvDescriptor.G_DOMAIN:
                stats.counter("inv.context-cache.domain").increment();
                // A scalable-mode context entry carries no domain id: domain-selective acts globally (as QEMU).
                contextCache.invalidateIf((s, e) -> !(e instanceof ContextEntry)
                        || ((ContextEntry) e).domainId() == did);
                return g;
            default:
                stats.counter("inv.context-cache.device").increment();
                InvDescriptor.ContextCacheInv device = new InvDescriptor.ContextCacheInv(g, did, sid, fm);
                contextCache.invalidateIf((s, e) -> device.coversSource(s));
                return g;
        }
    }

    /** @return the granularity actually performed (1 global, 2 domain, 3 page) */
    private int invalidateIotlb(int g, int did, long address, int am) {
        switch (g) {
            case InvDescriptor.G_GLOBAL:
                stats.counter("inv.iotlb.global").increment();
                iotlb.invalidateAll();
                return g;
            case InvDescriptor.G_DOMAIN:
                stats.counter("inv.iotlb.domain").increment();
                iotlb.invalidateIf(e -> didOf(e.tag) == did);
                return g;
            default:
                if (!config.pageSelectiveInvalidation()) {
                    // Without CAP.PSI the hardware performs a domain-selective invalidation instead.
                    return invalidateIotlb(InvDescriptor.G_DOMAIN, did, address, am);
                }
                stats.counter("inv.iotlb.page").increment();
                long size = 1L << (12 + am);
                long start = address & ~(size - 1);
                // First-stage and nested entries of the domain all go (QEMU vtd_hash_remove_by_page).
                iotlb.invalidateIf(e -> didOf(e.tag) == did && (firstStage(e) || e.overlaps(start, size)));
                return g;
        }
    }

    private void invalidatePasidIotlb(int g, int did, int pasid, long address, int am) {
        if (g == InvDescriptor.PIOTLB_G_PASID) {
            stats.counter("inv.pasid-iotlb.pasid").increment();
            iotlb.invalidateIf(e -> didOf(e.tag) == did && pasidOf(e.tag) == pasid);
            return;
        }
        stats.counter("inv.pasid-iotlb.page").increment();
        long size = 1L << (12 + am);
        long start = address & ~(size - 1);
        // Page-selective PASID-based invalidation leaves second-stage and pass-through entries alone.
        iotlb.invalidateIf(e -> didOf(e.tag) == did && pasidOf(e.tag) == pasid && firstStage(e)
                && e.overlaps(start, size));
    }

    private void invalidatePasidCache(int g, int did, int pasid) {
        switch (g) {
            case InvDescriptor.PC_G_DOMAIN:
                stats.counter("inv.pasid-cache.domain").increment();
                pasidCache.invalidateIf(c -> c.entry().domainId() == did);
                break;
            case InvDescriptor.PC_G_PASID:
                stats.counter("inv.pasid-cache.pasid").increment();
                pasidCache.invalidateIf(c -> c.entry().domainId() == did && c.pasid() == pasid);
                break;
            default:
                stats.counter("inv.pasid-cache.global").increment();
                pasidCache.invalidateAll();
                break;
        }
    }

    /** CCMD with ICC: register-based context-cache invalidation (only while QI is off). */
    private void writeCcmdLocked(long value) {
        if ((value & CCMD_ICC) == 0) {
            ccmd = value;
            return;
        }
        int cirg = (int) (value >>> CCMD_CIRG_SHIFT) & 3;
        int caig = 0;
        if ((gsts & GSTS_QIES) != 0) {
            programmingError("CCMD", "register-based context invalidation while queued invalidation is enabled");
        } else if (cirg != 0) {
            stats.counter("inv.register.context").increment();
            caig = invalidateContextCache(cirg, (int) (value & 0xFFFF), (int) (value >>> CCMD_SID_SHIFT) & 0xFFFF,
                    (int) (value >>> CCMD_FM_SHIFT) & 3);
        }
        ccmd = (value & ~CCMD_ICC & ~(3L << CCMD_CAIG_SHIFT)) | (long) caig << CCMD_CAIG_SHIFT;
    }

    /** IOTLB_REG with IVT: register-based IOTLB invalidation, address from IVA_REG (only while QI is off). */
    private void writeIotlbRegLocked(long value) {
        if ((value & IOTLB_IVT) == 0) {
            iotlbReg = value;
            return;
        }
        int iirg = (int) (value >>> IOTLB_IIRG_SHIFT) & 3;
        int iaig = 0;
        int am = (int) (iva & 0x3F);
        if ((gsts & GSTS_QIES) != 0) {
            programmingError("IOTLB_REG", "register-based IOTLB invalidation while queued invalidation is enabled");
        } else if (iirg != 0 && !(iirg == InvDescriptor.G_DEVICE_OR_PAGE && am > config.maxAddressMaskValue())) {
            stats.counter("inv.register.iotlb").increment();
            iaig = invalidateIotlb(iirg, (int) (value >>> IOTLB_DID_SHIFT) & 0xFFFF, iva & ~0xFFFL, am);
        }
        iotlbReg = (value & ~IOTLB_IVT & ~(3L << IOTLB_IAIG_SHIFT)) | (long) iaig << IOTLB_IAIG_SHIFT;
    }

    @Override
    public String toString() {
        State s = state;
        return String.format("%s [%s, TE %s, root %#x]", config.name(), s.scalable ? "scalable" : "legacy",
                s.enabled ? "on" : "off", s.rootTable);
    }
}
