package org.jiommu.hw.smmuv3;

import static org.jiommu.bus.dma.DmaTranslator.NO_PASID;

import java.util.function.Consumer;
import org.jiommu.bus.dma.TranslationResult;
import org.jiommu.hw.FaultKind;
import org.jiommu.hw.HwStats;
import org.jiommu.hw.IotlbEntry;
import org.jiommu.hw.RequesterMemo;
import org.jiommu.hw.TaggedCache;
import org.jiommu.hw.TranslationPipeline;
import org.jiommu.hw.arm.Stage2Config;
import org.jiommu.hw.arm.VmsaWalker;
import org.jiommu.hw.arm.WalkResult;
import org.jiommu.mem.MemoryFault;
import org.jiommu.mem.PhysicalMemory;

/**
 * The SMMUv3 translation path (IHI 0070 3.3 "Data structures and translation procedure"): stream
 * table lookup by StreamID, STE (config cache), CD by SubstreamID (config cache), TLB by
 * VMID / ASID, then the VMSA walk. Configuration caches are invalidated only by CFGI commands and
 * the TLB only by TLBI commands (see {@link SmmuCommandQueue}), so a driver that forgets one sees
 * the stale entry, as on hardware. Faults become event records handed to the unit's event queue.
 */
final class SmmuV3Translation extends TranslationPipeline {
    /** Leaf sizes of 4K, 16K and 64K tables (pages and blocks), smallest first. */
    static final int[] PAGE_SHIFTS = {12, 14, 16, 21, 25, 29, 30, 42};

    /** TLB tag kinds above VMID[31:16] and ASID[15:0]: what the entry translates. */
    static final long TAG_S1 = 1L << 40;
    static final long TAG_S2 = 2L << 40;
    static final long TAG_NESTED = 3L << 40;

    /** The stream table as STRTAB_BASE / STRTAB_BASE_CFG describe it. */
    record StreamTable(long base, boolean twoLevel, int log2Size, int split) {
    }

    record CachedSte(int sid, StreamTableEntry ste) {
    }

    record CachedCd(int sid, int index, ContextDescriptor cd) {
    }

    /**
     * What the STE and CD steps decided for a (StreamID, SubstreamID) whose STE (and CD) were
     * configuration-cache hits: the walk's arguments. Valid while neither cache's generation
     * moved (see {@link RequesterMemo}); {@code cd} null for a stage-2-only walk.
     */
    private static final class Route extends RequesterMemo.Entry {
        final long steGeneration;
        final long cdGeneration;
        final StreamTableEntry ste;
        final ContextDescriptor cd;
        final long tag;

        Route(int sid, int pasid, long steGeneration, long cdGeneration, StreamTableEntry ste, ContextDescriptor cd) {
            super(sid, pasid);
            this.steGeneration = steGeneration;
            this.cdGeneration = cdGeneration;
            this.ste = ste;
            this.cd = cd;
            this.tag = tlbTag(ste, cd);
        }
    }

    private final PhysicalMemory memory;
    private final SmmuFeatures features;
    private final VmsaWalker walker;
    private final TaggedCache<CachedSte> steCache;
    private final TaggedCache<CachedCd> cdCache;
    private final RequesterMemo<Route> routes = new RequesterMemo<>();
    private final Consumer<SmmuEvent> events;
    private final ThreadLocal<WalkResult> walkResults = ThreadLocal.withInitial(WalkResult::new);
    private final HwStats.Counter cTranslations;
    private final HwStats.Counter cSteHits;
    private final HwStats.Counter cSteMisses;
    private final HwStats.Counter cCdHits;
    private final HwStats.Counter cCdMisses;
    private final HwStats.Counter cWalks;
    /** A request that a route and the TLB answer: counted once for all the counters it moves. */
    private final HwStats.Counter cRouteHitS1;
    private final HwStats.Counter cRouteHitS2;
    private volatile StreamTable streamTable = new StreamTable(0, false, 0, 0);
    /** Where stalled transactions wait (the unit); null: faults terminate. */
    private volatile StallSink stalls;

    /** The stall model's side of a fault: record the stalled event and wait for CMD_RESUME (3.12.2). */
    interface StallSink {
        /** {@code retry} translates the transaction again; the result is the transaction's. */
        boolean stall(SmmuEvent e, int sid, java.util.function.BooleanSupplier retry, TranslationResult out);
    }

    void stallSink(StallSink s) {
        this.stalls = s;
    }

    SmmuV3Translation(PhysicalMemory memory, SmmuFeatures features, HwStats stats, int tlbEntries,
                      int configEntries, Consumer<SmmuEvent> events) {
        super(stats, tlbEntries, PAGE_SHIFTS);
        this.memory = memory;
        this.features = features;
        this.walker = new VmsaWalker(memory, features.oas());
        this.steCache = new TaggedCache<>(configEntries);
        this.cdCache = new TaggedCache<>(configEntries);
        this.events = events;
        this.cTranslations = stats.counter("translations");
        this.cSteHits = stats.counter("ste-cache.hits");
        this.cSteMisses = stats.counter("ste-cache.misses");
        this.cCdHits = stats.counter("cd-cache.hits");
        this.cCdMisses = stats.counter("cd-cache.misses");
        this.cWalks = stats.counter("walks");
        this.cRouteHitS1 = stats.combined("translations", "ste-cache.hits", "cd-cache.hits", "iotlb.hits");
        this.cRouteHitS2 = stats.combined("translations", "ste-cache.hits", "iotlb.hits");
    }

    void streamTable(StreamTable t) {
        streamTable = t;
    }

    static long tag(long kind, int vmid, int asid) {
        return kind | (long) (vmid & 0xffff) << 16 | asid & 0xffff;
    }

    static long tagKind(long tag) {
        return tag & (3L << 40);
    }

    static int tagVmid(long tag) {
        return (int) (tag >>> 16) & 0xffff;
    }

    static int tagAsid(long tag) {
        return (int) tag & 0xffff;
    }

    // ---- translation -------------------------------------------------------------------

    /** SMMU_CR0.SMMUEN = 1: the full procedure. */
    boolean translate(int sid, int pasid, long iova, boolean write, boolean tr, TranslationResult out) {
        if (!tr) {
            Route r = routes.get(sid, pasid);
            if (r != null && r.steGeneration == steCache.generation() && r.cdGeneration == cdCache.generation()) {
                // The STE (and CD) this route came from are still cached: the steps below would
                // find them again, counted as hits, and end in the same TLB lookup.
                if (iotlbTranslateUncounted(r.tag, iova, write, out)) {
                    (r.cd != null ? cRouteHitS1 : cRouteHitS2).increment();
                    return true;
                }
                cTranslations.increment();
                cSteHits.increment();
                if (r.cd != null) {
                    cCdHits.increment();
                }
                iotlbMissed();
                return walkMiss(sid, pasid, iova, write, false, r.cd, r.ste, r.tag, out);
            }
        }
        cTranslations.increment();
        // Read before the lookups: a route remembers them (see RequesterMemo).
        long steGeneration = steCache.generation();
        long cdGeneration = cdCache.generation();
        boolean memo = !tr; // cleared by a configuration-cache miss
        CachedSte cs = steCache.get(sid, 0);
        StreamTableEntry ste;
        if (cs != null) {
            cSteHits.increment();
            ste = cs.ste();
        } else {
            memo = false;
            long epoch = steCache.epoch();
            ste = loadSte(sid, pasid, tr, out);
            if (ste == null) {
                return false;
            }
            cSteMisses.increment();
            steCache.put(sid, 0, new CachedSte(sid, ste), epoch);
        }
        switch (ste.config) {
            case ABORT:
                // 5.2 STE.Config 0b000: the transaction is aborted without an event.
                out.fault(0, "STE.Config = abort");
                return false;
            case BYPASS:
                // 5.2 Config 0b100: a SubstreamID is C_BAD_SUBSTREAMID; EATS is effectively 0b00.
                if (pasid != NO_PASID) {
                    return event(out, SmmuEvent.config(SmmuEvent.C_BAD_SUBSTREAMID, sid, pasid,
                            "SubstreamID on a bypass stream"));
                }
                if (!tr) {
                    return identity(iova, out);
                }
                break;
            default:
                break;
        }
        if (tr && (ste.eats == StreamTableEntry.EATS_ABT || ste.config == StreamTableEntry.Config.BYPASS)) {
            return event(out, SmmuEvent.translation(SmmuEvent.F_BAD_ATS_TREQ, sid, pasid, !write, false, 0, iova, 0,
                    "ATS translation request with STE.EATS = 0"));
        }
        if (!ste.stage1()) {
            if (pasid != NO_PASID) {
                return event(out, SmmuEvent.config(SmmuEvent.C_BAD_SUBSTREAMID, sid, pasid,
                        "SubstreamID on a stream without stage 1"));
            }
            remember(memo, sid, pasid, steGeneration, cdGeneration, ste, null);
            return walk(sid, pasid, iova, write, tr, null, ste, out);
        }
        // Which CD (5.2 STE.S1CDMax / S1DSS).
        int index;
        if (ste.s1CdMax == 0) {
            if (pasid != NO_PASID) {
                return event(out, SmmuEvent.config(SmmuEvent.C_BAD_SUBSTREAMID, sid, pasid,
                        "SubstreamID with STE.S1CDMax = 0"));
            }
            index = 0;
        } else if (pasid == NO_PASID) {
            switch (ste.s1Dss) {
                case StreamTableEntry.S1DSS_TERMINATE:
                    return streamDisabled(sid, pasid, tr, "no SubstreamID with STE.S1DSS = terminate", out);
                case StreamTableEntry.S1DSS_BYPASS:
                    if (ste.stage2()) {
                        remember(memo, sid, pasid, steGeneration, cdGeneration, ste, null);
                        return walk(sid, pasid, iova, write, tr, null, ste, out);
                    }
                    return identity(iova, out);
                default:
                    index = 0;
            }
        } else {
            if (pasid >>> ste.s1CdMax != 0) {
                return event(out, SmmuEvent.config(SmmuEvent.C_BAD_SUBSTREAMID, sid, pasid,
                        "SubstreamID " + pasid + " >= 2^S1CDMax (" + ste.s1CdMax + ")"));
            }
            if (pasid == 0 && ste.s1Dss == StreamTableEntry.S1DSS_SSID0) {
                return streamDisabled(sid, pasid, tr, "SubstreamID 0 with STE.S1DSS = substream 0", out);
            }
            index = pasid;
        }
        CachedCd cc = cdCache.get(sid, index);
        ContextDescriptor cd;
        if (cc != null) {
            cCdHits.increment();
            cd = cc.cd();
        } else {
            memo = false;
            long epoch = cdCache.epoch();
            cd = loadCd(sid, pasid, iova, !write, index, ste, out);
            if (cd == null) {
                return false;
            }
            cCdMisses.increment();
            cdCache.put(sid, index, new CachedCd(sid, index, cd), epoch);
        }
        remember(memo, sid, pasid, steGeneration, cdGeneration, ste, cd);
        return walk(sid, pasid, iova, write, tr, cd, ste, out);
    }

    private void remember(boolean memo, int sid, int pasid, long steGeneration, long cdGeneration,
                          StreamTableEntry ste, ContextDescriptor cd) {
        if (memo) {
            routes.put(new Route(sid, pasid, steGeneration, cdGeneration, ste, cd));
        }
    }

    /** The TLB tag of a walk through {@code ste} and {@code cd} (null: stage 2 only). */
    static long tlbTag(StreamTableEntry ste, ContextDescriptor cd) {
        return cd == null ? tag(TAG_S2, ste.vmid, 0) : tag(ste.stage2() ? TAG_NESTED : TAG_S1, ste.vmid, cd.asid);
    }

    private boolean walk(int sid, int pasid, long iova, boolean write, boolean tr, ContextDescriptor cd,
                         StreamTableEntry ste, TranslationResult out) {
        long tag = tlbTag(ste, cd);
        // An ATS Translation Request is answered from the TLB like any other access (the SMMU
        // caches what it returns to ATS, IHI 0070 3.9): which is why a driver must finish the TLB
        // invalidation before it invalidates the ATCs (race 9), or the ATC refills the stale entry.
        if (iotlbTranslate(tag, iova, write, out)) {
            return true;
        }
        return walkMiss(sid, pasid, iova, write, tr, cd, ste, tag, out);
    }

    /** After a TLB miss: the walk of the stage(s) {@code ste} and {@code cd} select, then the fill or the event. */
    private boolean walkMiss(int sid, int pasid, long iova, boolean write, boolean tr, ContextDescriptor cd,
                             StreamTableEntry ste, long tag, TranslationResult out) {
        long epoch = iotlbEpoch();
        WalkResult w = walkResults.get();
        int access = tr ? 0 : write ? VmsaWalker.ACCESS_WRITE : VmsaWalker.ACCESS_READ;
        cWalks.increment();
        boolean ok;
        if (cd == null) {
            ok = walker.walkStage2(ste.stage2, iova, access, w);
        } else if (ste.stage2()) {
            ok = walker.walkNested(cd.stage1, ste.stage2, iova, access, w);
        } else {
            ok = walker.walkStage1(cd.stage1, iova, access, w);
        }
        if (!ok) {
            if (tr && w.fault != FaultKind.TABLE_FETCH_ABORT) {
                // An ATS request that does not translate gets a completion with R = W = 0 (3.9.1), no event.
                out.pa = 0;
                out.pageSize = 4096;
                return true;
            }
            return walkFault(sid, pasid, iova, write, cd, ste, w, out);
        }
        long size = 1L << w.pageShift;
        long pageBase = w.outputAddress & -size;
        out.pa = w.outputAddress;
        out.pageSize = size;
        out.readable = (w.permissions & WalkResult.PERM_READ) != 0;
        out.writable = (w.permissions & WalkResult.PERM_WRITE) != 0;
        int perms = (out.readable ? IotlbEntry.READ : 0) | (out.writable ? IotlbEntry.WRITE : 0);
        iotlbFill(tag, iova, pageBase, size, perms, 0, epoch);
        return true;
    }

    /**
     * A walk that faulted (not an ATS request): its event, or, for a stage-1 translation-class
     * fault of a stalling context, the stalled transaction (3.12.2). Out of line from
     * {@link #walk}, whose hit path stays small.
     */
    private boolean walkFault(int sid, int pasid, long iova, boolean write, ContextDescriptor cd,
                              StreamTableEntry ste, WalkResult w, TranslationResult out) {
        SmmuEvent e = walkEvent(sid, pasid, !write, iova, w, SmmuEvent.CLASS_IN);
        StallSink s = stalls;
        if (s != null && cd != null && cd.stall && !ste.s1Stalld && w.faultStage == 1
                && e.type() != SmmuEvent.F_WALK_EABT) {
            out.fault(e.type(), SmmuEvent.name(e.type()) + ": " + e.reason);
            return s.stall(e, sid, () -> translate(sid, pasid, iova, write, false, out), out);
        }
        return event(out, e);
    }

    /**
     * Maps a walker fault to its event (7.3.12-7.3.16, 7.3.10). {@code input} is the
     * transaction's address (InputAddr), whatever stage or fetch faulted.
     */
    static SmmuEvent walkEvent(int sid, int pasid, boolean read, long input, WalkResult w, int inClass) {
        int type = switch (w.fault) {
            case TRANSLATION -> SmmuEvent.F_TRANSLATION;
            case ADDRESS_SIZE -> SmmuEvent.F_ADDR_SIZE;
            case ACCESS -> SmmuEvent.F_ACCESS;
            case PERMISSION -> SmmuEvent.F_PERMISSION;
            default -> SmmuEvent.F_WALK_EABT;
        };
        boolean s2 = w.faultStage == 2;
        int cls = s2 && w.faultOnStage1Walk ? SmmuEvent.CLASS_TT : inClass;
        long word3 = type == SmmuEvent.F_WALK_EABT ? w.faultDescriptorAddress : s2 ? w.faultInput : 0;
        return SmmuEvent.translation(type, sid, pasid, read, s2, cls, input, word3, w.toString());
    }

    /** F_STREAM_DISABLED; an ATS translation request is completed with CA instead, no event (5.2 S1DSS). */
    private boolean streamDisabled(int sid, int pasid, boolean tr, String why, TranslationResult out) {
        if (tr) {
            out.fault(SmmuEvent.F_STREAM_DISABLED, "ATS request completed with CA: " + why);
            return false;
        }
        return event(out, SmmuEvent.config(SmmuEvent.F_STREAM_DISABLED, sid, pasid, why));
    }

    private boolean identity(long iova, TranslationResult out) {
        out.pa = iova;
        out.pageSize = 4096;
        out.readable = true;
        out.writable = true;
        return true;
    }

    private boolean event(TranslationResult out, SmmuEvent e) {
        out.fault(e.type(), SmmuEvent.name(e.type()) + ": " + e.reason);
        events.accept(e);
        return false;
    }

    // ---- configuration fetch -----------------------------------------------------------

    /** The STE of {@code sid} (3.3.2 / 3.4.3), or null after recording the event. */
    private StreamTableEntry loadSte(int sid, int pasid, boolean tr, TranslationResult out) {
        StreamTable t = streamTable;
        if (t.log2Size() < 32 && (sid & 0xFFFF_FFFFL) >>> t.log2Size() != 0) {
            event(out, SmmuEvent.config(SmmuEvent.C_BAD_STREAMID, sid, pasid,
                    "StreamID beyond STRTAB_BASE_CFG.LOG2SIZE " + t.log2Size()));
            return null;
        }
        long addr;
        if (t.twoLevel()) {
            long l1Addr = t.base() + ((sid & 0xFFFF_FFFFL) >>> t.split() << 3);
            long l1;
            try {
                l1 = memory.readLong(l1Addr);
            } catch (MemoryFault e) {
                event(out, SmmuEvent.fetch(SmmuEvent.F_STE_FETCH, sid, pasid, l1Addr, "L1STD fetch aborted"));
                return null;
            }
            int span = (int) l1 & 0x1f;
            int index = sid & ((1 << t.split()) - 1);
            // L1STD.Span: 0 = no L2 table; the table holds 2^(Span - 1) STEs; Span > SPLIT + 1 is ILLEGAL.
            if (span == 0 || span > t.split() + 1 || index >>> (span - 1) != 0) {
                event(out, SmmuEvent.config(SmmuEvent.C_BAD_STREAMID, sid, pasid,
                        "L1STD.Span " + span + " does not cover StreamID"));
                return null;
            }
            addr = (l1 & SmmuRegs.STRTAB_BASE_ADDR_MASK) + ((long) index << 6);
        } else {
            addr = t.base() + ((sid & 0xFFFF_FFFFL) << 6);
        }
        long[] w = new long[StreamTableEntry.WORDS];
        try {
            for (int i = 0; i < w.length; i++) {
                w[i] = memory.readLong(addr + 8L * i);
            }
        } catch (MemoryFault e) {
            event(out, SmmuEvent.fetch(SmmuEvent.F_STE_FETCH, sid, pasid, addr, "STE fetch aborted"));
            return null;
        }
        StreamTableEntry ste = StreamTableEntry.decode(w, features);
        if (ste.illegal != null) {
            // ILLEGAL STEs are reported each time and not cached; an ATS translation request
            // selecting one is completed with CA and records nothing (5.2 STE.V).
            if (tr) {
                out.fault(SmmuEvent.C_BAD_STE, "ATS request completed with CA: " + ste.illegal);
            } else {
                event(out, SmmuEvent.config(SmmuEvent.C_BAD_STE, sid, pasid, ste.illegal));
            }
            return null;
        }
        return ste;
    }

    /** CD {@code index} of the STE's table (3.3.2, 5.4), or null after recording the event. */
    private ContextDescriptor loadCd(int sid, int pasid, long iova, boolean read, int index, StreamTableEntry ste,
                                     TranslationResult out) {
        long addr;
        if (ste.s1Fmt == StreamTableEntry.S1FMT_LINEAR) {
            addr = ste.s1ContextPtr + ((long) index << 6);
        } else {
            int split = ste.s1Fmt == StreamTableEntry.S1FMT_4K_L2 ? 6 : 10;
            long l1Addr = ste.s1ContextPtr + ((long) (index >>> split) << 3);
            long[] l1 = new long[1];
            if (!fetchCdWords(sid, pasid, iova, read, ste, l1Addr, l1, "L1CD", out)) {
                return null;
            }
            if ((l1[0] & ContextDescriptor.L1CD_V) == 0) {
                event(out, SmmuEvent.config(SmmuEvent.C_BAD_SUBSTREAMID, sid, pasid, "L1CD.V = 0 for CD " + index));
                return null;
            }
            addr = (l1[0] & ContextDescriptor.L1CD_L2PTR_MASK) + ((long) (index & ((1 << split) - 1)) << 6);
        }
        long[] w = new long[ContextDescriptor.WORDS];
        if (!fetchCdWords(sid, pasid, iova, read, ste, addr, w, "CD", out)) {
            return null;
        }
        ContextDescriptor cd = ContextDescriptor.decode(w, features);
        if (cd.illegal != null) {
            event(out, SmmuEvent.config(SmmuEvent.C_BAD_CD, sid, pasid, "CD " + index + ": " + cd.illegal));
            return null;
        }
        return cd;
    }

    /**
     * Reads CD-table words at {@code addr}: a PA, or with nesting an IPA translated by stage 2
     * (a stage-2 fault there is reported with CLASS = CD, 7.3).
     */
    private boolean fetchCdWords(int sid, int pasid, long iova, boolean read, StreamTableEntry ste, long addr,
                                 long[] dst, String what, TranslationResult out) {
        long pa = addr;
        if (ste.stage2()) {
            Stage2Config s2 = ste.stage2;
            WalkResult w = walkResults.get();
            if (!walker.walkStage2(s2, addr, VmsaWalker.ACCESS_READ, w)) {
                event(out, walkEvent(sid, pasid, read, iova, w, SmmuEvent.CLASS_CD));
                return false;
            }
            pa = w.outputAddress;
        }
        try {
            for (int i = 0; i < dst.length; i++) {
                dst[i] = memory.readLong(pa + 8L * i);
            }
        } catch (MemoryFault e) {
            event(out, SmmuEvent.fetch(SmmuEvent.F_CD_FETCH, sid, pasid, pa, what + " fetch aborted"));
            return false;
        }
        return true;
    }

    // ---- invalidation (called by the command queue only) -------------------------------

    /** CFGI_STE / CFGI_STE_RANGE / CFGI_ALL: STEs of [first, last] and the CDs fetched through them. */
    int invalidateSteRange(long first, long last) {
        int n = steCache.invalidateIf(c -> inRange(c.sid(), first, last));
        return n + cdCache.invalidateIf(c -> inRange(c.sid(), first, last));
    }

    private static boolean inRange(int sid, long first, long last) {
        long s = sid & 0xFFFF_FFFFL;
        return s >= first && s <= last;
    }

    int invalidateCd(int sid, int index) {
        return cdCache.invalidateIf(c -> c.sid() == sid && c.index() == index);
    }

    int invalidateCdAll(int sid) {
        return cdCache.invalidateIf(c -> c.sid() == sid);
    }

    /** TLB entries with a stage-1 part (S1-only or nested) of {@code vmid}, optionally one ASID and a range. */
    int invalidateStage1(int vmid, int asid, long start, long size) {
        return iotlb().invalidateIf(e -> tagKind(e.tag) != TAG_S2 && tagVmid(e.tag) == vmid
                && (asid < 0 || tagAsid(e.tag) == asid) && (size == 0 || e.overlaps(start, size)));
    }

    /** Stage-2-only entries of {@code vmid} overlapping the IPA range (combined entries are not: 4.4.3). */
    int invalidateStage2(int vmid, long start, long size) {
        return iotlb().invalidateIf(e -> tagKind(e.tag) == TAG_S2 && tagVmid(e.tag) == vmid
                && e.overlaps(start, size));
    }

    int invalidateVmid(int vmid) {
        return iotlb().invalidateIf(e -> tagVmid(e.tag) == vmid);
    }

    int invalidateTlbAll() {
        return iotlb().invalidateAll();
    }

    int steCacheSize() {
        return steCache.size();
    }

    int cdCacheSize() {
        return cdCache.size();
    }
}
