package org.jiommu.hw.vtd;

import static org.jiommu.bus.dma.DmaTranslator.NO_PASID;

import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.function.Consumer;

import org.jiommu.bus.dma.TranslationResult;
import org.jiommu.hw.HwStats;
import org.jiommu.hw.IotlbEntry;
import org.jiommu.hw.RequesterMemo;
import org.jiommu.hw.TaggedCache;
import org.jiommu.hw.TranslationPipeline;
import org.jiommu.mem.MemoryFault;
import org.jiommu.mem.PhysicalMemory;

/**
 * The translation pipeline of a {@link VtdUnit} (the {@link TranslationPipeline} steps for
 * VT-d): context cache by source id (root and context entries), PASID cache by (source id,
 * PASID) (PASID directory and table entries), IOTLB, the second-level / first-level / nested
 * walk, and fault reporting through the unit's {@link FaultRecorder}. Lock-free; the registers
 * it depends on (TE, the root table and its mode) come in as one {@link State} swapped
 * atomically by the unit.
 */
final class VtdTranslation extends TranslationPipeline {
    /** IOTLB PASID tag of requests-without-PASID in legacy mode (no PASID can take this value). */
    static final long NO_PASID_TAG = VtdUnit.NO_PASID_TAG;
    static final long INTERRUPT_RANGE_FIRST = 0xFEE0_0000L;
    static final long INTERRUPT_RANGE_LAST = 0xFEEF_FFFFL;
    /** Page sizes the IOTLB is probed with, smallest first: 4K, 2M, 1G. */
    private static final int[] IOTLB_PAGE_SHIFTS = {12, 21, 30};

    /** What translate needs from the registers, swapped atomically when the driver changes them. */
    static final class State {
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

    /**
     * What the context (and PASID) step decided for a requester whose entries were both cache
     * hits: the arguments of {@link #translatePaged}. Valid while {@link #state} is the same
     * object and neither cache's generation moved (see {@link RequesterMemo}).
     */
    private static final class Route extends RequesterMemo.Entry {
        final State state;
        final long contextGeneration;
        final long pasidGeneration;
        final boolean scalable;
        final boolean fpd;
        /** Input address bits (MGAW check) for second-level tables; 64 = no check. */
        final int bits;
        final long tag;
        final int pgtt;
        final long table;
        final int levels;
        final PasidEntry nested;

        Route(int sid, int pasid, State state, long contextGeneration, long pasidGeneration, boolean scalable,
              boolean fpd, int bits, long tag, int pgtt, long table, int levels, PasidEntry nested) {
            super(sid, pasid);
            this.state = state;
            this.contextGeneration = contextGeneration;
            this.pasidGeneration = pasidGeneration;
            this.scalable = scalable;
            this.fpd = fpd;
            this.bits = bits;
            this.tag = tag;
            this.pgtt = pgtt;
            this.table = table;
            this.levels = levels;
            this.nested = nested;
        }
    }

    private final VtdConfig config;
    private final PhysicalMemory memory;
    private final HwStats stats;
    private final int haw;
    private final int domainIdBits;
    private final HwStats.Counter cTranslations;
    private final HwStats.Counter cAtsRequests;
    private final HwStats.Counter cIdentity;
    private final HwStats.Counter cContextHits;
    private final HwStats.Counter cContextMisses;
    private final HwStats.Counter cPasidHits;
    private final HwStats.Counter cPasidMisses;
    private final HwStats.Counter cWordsRead;
    private final HwStats.Counter cFaults;
    /** A request that a route and the IOTLB answer: counted once for all the counters it moves. */
    private final HwStats.Counter cRouteHitLegacy;
    private final HwStats.Counter cRouteHitScalable;
    private final AtomicReferenceArray<HwStats.Counter> faultReasonCounters = new AtomicReferenceArray<>(256);

    final ContextCache contextCache = new ContextCache();
    final TaggedCache<CachedPasid> pasidCache;
    private final RequesterMemo<Route> routes = new RequesterMemo<>();
    private final FaultRecorder faults;
    private final SecondLevelWalker secondLevel;
    private final FirstLevelWalker firstLevel;
    /** Walkers for {@link #probe}: their counters are private, so a probe leaves the unit's stats alone. */
    private final SecondLevelWalker probeSecondLevel;
    private final FirstLevelWalker probeFirstLevel;

    private volatile State state = new State(false, 0, false, true);
    private volatile Consumer<FaultRecord> faultListener;

    VtdTranslation(VtdConfig config, PhysicalMemory memory, HwStats stats, FaultRecorder faults) {
        super(stats, config.iotlbEntries(), IOTLB_PAGE_SHIFTS);
        this.config = config;
        this.memory = memory;
        this.stats = stats;
        this.faults = faults;
        this.haw = config.hostAddressWidth();
        this.domainIdBits = config.domainIdBits();
        this.cTranslations = stats.counter("translations");
        this.cAtsRequests = stats.counter("translations.ats-requests");
        this.cIdentity = stats.counter("translations.identity");
        this.cContextHits = stats.counter("context-cache.hits");
        this.cContextMisses = stats.counter("context-cache.misses");
        this.cPasidHits = stats.counter("pasid-cache.hits");
        this.cPasidMisses = stats.counter("pasid-cache.misses");
        this.cWordsRead = stats.counter("memory.words-read");
        this.cFaults = stats.counter("faults");
        this.cRouteHitLegacy = stats.combined("translations", "context-cache.hits", "iotlb.hits");
        this.cRouteHitScalable = stats.combined("translations", "context-cache.hits", "pasid-cache.hits",
                "iotlb.hits");
        HwStats.Counter walks = stats.counter("walks");
        this.pasidCache = new TaggedCache<>(config.scalableMode() ? config.pasidCacheEntries() : 0);
        this.secondLevel = new SecondLevelWalker(memory, config, walks, cWordsRead);
        this.firstLevel = new FirstLevelWalker(memory, config, walks, cWordsRead);
        HwStats scratch = new HwStats("probe");
        this.probeSecondLevel = new SecondLevelWalker(memory, config, scratch.counter("walks"),
                scratch.counter("words"));
        this.probeFirstLevel = new FirstLevelWalker(memory, config, scratch.counter("walks"),
                scratch.counter("words"));
    }

    State state() {
        return state;
    }

    void setState(State s) {
        state = s;
    }

    void setFaultListener(Consumer<FaultRecord> listener) {
        this.faultListener = listener;
    }

    /** Counts a memory word read by the unit outside a walk (descriptor fetches). */
    long readWord(long pa) {
        return readWord(pa, false);
    }


    boolean translate(int sourceId, int pasid, long iova, boolean write, boolean translationRequest,
                             TranslationResult out) {
        return translate(sourceId, pasid, iova, write, translationRequest, out, false);
    }

    /**
     * What the hardware would do for this request, read straight from memory: no cache is
     * consulted or filled, no fault is recorded, no A/D bit is written and no counter moves.
     * For invariant checks ("what the hardware would walk agrees with the core", I7).
     */
    boolean probe(int sourceId, int pasid, long iova, boolean write, TranslationResult out) {
        return translate(sourceId, pasid, iova, write, false, out, true);
    }

    private boolean translate(int sid, int pasid, long iova, boolean write, boolean tr, TranslationResult out,
                              boolean probe) {
        checkSourceId(sid);
        if (pasid < NO_PASID || pasid > 0xFFFFF) {
            throw new IllegalArgumentException("PASID " + pasid + " is not a 20-bit value");
        }
        out.clear();
        State st = state;
        if (!probe && !tr) {
            Route r = routes.get(sid, pasid);
            if (r != null && r.state == st && r.contextGeneration == contextCache.generation()
                    && r.pasidGeneration == pasidCache.generation()) {
                // The context (and PASID) caches still hold the entries this route came from:
                // the steps below would find them again, counted as hits, and decide the same.
                if ((r.bits >= 64 || (iova >>> r.bits) == 0) && iotlbTranslateUncounted(r.tag, iova, write, out)) {
                    (r.scalable ? cRouteHitScalable : cRouteHitLegacy).increment();
                    return true;
                }
                cTranslations.increment();
                cContextHits.increment();
                if (r.scalable) {
                    cPasidHits.increment();
                }
                if (r.bits < 64 && (iova >>> r.bits) != 0) {
                    return fault(sid, pasid, iova, write, false, FaultReason.ADDRESS_BEYOND_MGAW, r.fpd, out, false);
                }
                iotlbMissed();
                return walkAndFill(sid, pasid, iova, write, false, r.scalable, r.fpd, r.tag, r.pgtt, r.table,
                        r.levels, r.nested, out, false);
            }
        }
        if (!probe) {
            cTranslations.increment();
            if (tr) {
                cAtsRequests.increment();
            }
        }
        if (!st.enabled) {
            // GSTS.TES = 0: DMA is not remapped.
            return identity(iova, out, probe);
        }
        if (!st.ttmValid) {
            return fault(sid, pasid, iova, write, tr, FaultReason.ROOT_TABLE_ADDRESS_TTM, false, out, probe);
        }
        // Read before the lookups: a route remembers them (see RequesterMemo).
        long contextGeneration = contextCache.generation();
        long pasidGeneration = pasidCache.generation();
        boolean contextHit = false;
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
            contextHit = true;
        }
        // A request may leave a route when its context was a cache hit and it is not ATS; the
        // state it would be made with (null: none) and the generations go down the slow path.
        State memo = contextHit && !tr ? st : null;
        if (st.scalable) {
            return translateScalable(sid, pasid, iova, write, tr, (ScalableContextEntry) ctx, out, probe, memo,
                    contextGeneration, pasidGeneration);
        }
        return translateLegacy(sid, pasid, iova, write, tr, (ContextEntry) ctx, out, probe, memo,
                contextGeneration);
    }

    /**
     * Remembers the decision taken for this requester (translatePaged's arguments) under
     * {@code memo}, if not null, and the generations read before the cache lookups.
     */
    private void remember(State memo, long contextGeneration, long pasidGeneration, int sid, int pasid, boolean fpd,
                          int bits, long tag, int pgtt, long table, int levels, PasidEntry nested) {
        if (memo != null) {
            routes.put(new Route(sid, pasid, memo, contextGeneration, pasidGeneration, memo.scalable, fpd, bits, tag,
                    pgtt, table, levels, nested));
        }
    }

    private boolean translateLegacy(int sid, int pasid, long iova, boolean write, boolean tr, ContextEntry ce,
                                    TranslationResult out, boolean probe, State memo,
                                    long contextGeneration) {
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
        // A legacy route does not depend on the PASID cache: its current generation only makes
        // the route's check pass until that cache next changes (harmless: the route is redone).
        remember(memo, contextGeneration, pasidCache.generation(), sid, pasid, fpd, bits, tag,
                PasidEntry.PGTT_SECOND_LEVEL, ce.secondLevelPointer(), ce.levels(), null);
        return translatePaged(sid, pasid, iova, write, tr, false, fpd, tag, PasidEntry.PGTT_SECOND_LEVEL,
                ce.secondLevelPointer(), ce.levels(), null, out, probe);
    }

    private boolean translateScalable(int sid, int pasid, long iova, boolean write, boolean tr,
                                      ScalableContextEntry sce, TranslationResult out, boolean probe, State memo,
                                      long contextGeneration, long pasidGeneration) {
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
            memo = null; // a PASID-cache miss: the next request is the one to remember
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
                remember(memo, contextGeneration, pasidGeneration, sid, pasid, fpd, bits, tag, PasidEntry.PGTT_SECOND_LEVEL, pe.secondLevelPointer(),
                        pe.secondLevelLevels(), null);
                if (bits < 64 && (iova >>> bits) != 0) {
                    return fault(sid, pasid, iova, write, tr, FaultReason.ADDRESS_BEYOND_MGAW, fpd, out, probe);
                }
                return translatePaged(sid, pasid, iova, write, tr, true, fpd, tag, PasidEntry.PGTT_SECOND_LEVEL,
                        pe.secondLevelPointer(), pe.secondLevelLevels(), null, out, probe);
            }
            case PasidEntry.PGTT_FIRST_LEVEL:
                remember(memo, contextGeneration, pasidGeneration, sid, pasid, fpd, 64, tag, PasidEntry.PGTT_FIRST_LEVEL, pe.firstLevelPointer(),
                        pe.firstLevelLevels(), null);
                return translatePaged(sid, pasid, iova, write, tr, true, fpd, tag, PasidEntry.PGTT_FIRST_LEVEL,
                        pe.firstLevelPointer(), pe.firstLevelLevels(), null, out, probe);
            default: // PGTT_NESTED; loadPasid refused every other value
                remember(memo, contextGeneration, pasidGeneration, sid, pasid, fpd, 64, tag, PasidEntry.PGTT_NESTED, pe.firstLevelPointer(), pe.firstLevelLevels(),
                        pe);
                return translatePaged(sid, pasid, iova, write, tr, true, fpd, tag, PasidEntry.PGTT_NESTED,
                        pe.firstLevelPointer(), pe.firstLevelLevels(), pe, out, probe);
        }
    }

    /** IOTLB lookup, else a walk of the right kind, the interrupt-range check, and a fill. */
    private boolean translatePaged(int sid, int pasid, long iova, boolean write, boolean tr, boolean scalable,
                                   boolean fpd, long tag, int pgtt, long table, int levels, PasidEntry nested,
                                   TranslationResult out, boolean probe) {
        // An entry without the permission this access needs is not used: the unit walks again, as
        // an x86 TLB re-walks before faulting (and so a first write sets a first-level D bit).
        if (!probe && iotlbTranslate(tag, iova, write, out)) {
            return true;
        }
        return walkAndFill(sid, pasid, iova, write, tr, scalable, fpd, tag, pgtt, table, levels, nested, out, probe);
    }

    /** After an IOTLB miss (or for a probe): the walk, the interrupt-range check and the fill. */
    private boolean walkAndFill(int sid, int pasid, long iova, boolean write, boolean tr, boolean scalable,
                                boolean fpd, long tag, int pgtt, long table, int levels, PasidEntry nested,
                                TranslationResult out, boolean probe) {
        long epoch = iotlbEpoch();
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
        if (!probe) {
            int perms = (out.readable ? IotlbEntry.READ : 0) | (out.writable ? IotlbEntry.WRITE : 0);
            iotlbFill(tag, iova, pageBase, size, perms, pgtt, epoch);
        }
        return true;
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
    Object loadContext(State st, int sid, boolean probe) {
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

    static void checkSourceId(int sid) {
        if ((sid & ~0xFFFF) != 0) {
            throw new IllegalArgumentException(String.format("source id %#x is not 16-bit", sid));
        }
    }

}
