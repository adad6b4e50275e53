package org.jiommu.hw.smmuv3;

import static org.jiommu.hw.smmuv3.SmmuRegs.*;

import java.util.Objects;
import org.jiommu.bus.dma.DeviceTlb;
import org.jiommu.bus.dma.DmaTranslator;
import org.jiommu.bus.dma.PageRequestSink;
import org.jiommu.bus.dma.PageResponseReceiver;
import org.jiommu.bus.dma.TranslationResult;
import org.jiommu.hw.EndpointRegistry;
import org.jiommu.hw.HwStats;
import org.jiommu.hw.IotlbEntry;
import org.jiommu.hw.QueueRing;
import org.jiommu.hw.RegisterFile;
import org.jiommu.mem.MemoryFault;
import org.jiommu.mem.PhysicalMemory;

/**
 * An Arm SMMUv3 (IHI 0070) as software sees it: MMIO registers (pages 0 and 1), the stream
 * table, CD tables and translation tables in memory, and three queues in memory: commands in,
 * events and PRI page requests out. It trusts only memory and registers, and acts only on the
 * commands queued to it: configuration caches go away only by CFGI commands, TLB entries only by
 * TLBI commands, ATC entries only by ATC_INV.
 *
 * <p>Endpoints reach it as a {@link DmaTranslator} (untranslated DMA and ATS translation
 * requests, by StreamID and SubstreamID) and a {@link PageRequestSink} (PRI). Register accesses
 * and queue consumption are serialised by the unit's lock; translation is lock-free apart from
 * recording an event.
 */
public final class SmmuV3Unit implements DmaTranslator, PageRequestSink {
    /** CR0 bits acknowledged in CR0ACK. */
    private static final int CR0_MASK = CR0_SMMUEN | CR0_PRIQEN | CR0_EVTQEN | CR0_CMDQEN | CR0_ATSCHK;

    private final String name;
    private final PhysicalMemory memory;
    private final SmmuFeatures features;
    private final RegisterFile regs = new RegisterFile(SmmuRegs.SIZE);
    private final HwStats stats;
    private final SmmuV3Translation translation;
    private final SmmuCommandQueue commands;
    private final EndpointRegistry<DeviceTlb> atcs;
    private final EndpointRegistry<PageResponseReceiver> priReceivers;
    private final HwStats.Counter cEvents;
    private final HwStats.Counter cEventsLost;
    private final HwStats.Counter cPageRequests;
    private final HwStats.Counter cPageRequestsLost;
    private QueueRing cmdq;
    private QueueRing evtq;
    private QueueRing priq;
    /** Stalled transactions by StreamID << 16 | STAG: the CMD_RESUME action, PENDING until one comes. Guarded by this. */
    private final java.util.Map<Long, Integer> stalled = new java.util.HashMap<>();
    private int nextStag;
    /** The event interrupt's handler (the driver's event queue thread), run after a stall event. */
    private volatile Runnable eventHandler;
    private volatile Runnable priHandler;
    /** Translations of one transaction after CMD_RESUME retries, at most (the model does not loop for ever). */
    static final int MAX_STALL_RETRIES = 4;
    private static final int PENDING = -1;
    private final ThreadLocal<int[]> stallDepth = ThreadLocal.withInitial(() -> new int[1]);
    /** CR0 as acknowledged; read without the lock on the DMA path. */
    private volatile int cr0;
    private volatile boolean gbpaAbort;

    public SmmuV3Unit(String name, PhysicalMemory memory, SmmuFeatures features) {
        this(name, memory, features, 4096, 1024);
    }

    /**
     * @param tlbEntries TLB capacity (0: every request walks)
     * @param configEntries capacity of each configuration cache (STE, CD; 0: fetched every time)
     */
    public SmmuV3Unit(String name, PhysicalMemory memory, SmmuFeatures features, int tlbEntries, int configEntries) {
        this.name = Objects.requireNonNull(name, "name");
        this.memory = Objects.requireNonNull(memory, "memory");
        this.features = Objects.requireNonNull(features, "features");
        this.stats = new HwStats(name);
        this.translation = new SmmuV3Translation(memory, features, stats, tlbEntries, configEntries,
                this::recordEvent);
        long sidLimit = 1L << features.sidBits();
        this.atcs = new EndpointRegistry<>(id -> checkSid(id, sidLimit));
        this.priReceivers = new EndpointRegistry<>(id -> checkSid(id, sidLimit));
        this.commands = new SmmuCommandQueue(features, translation, memory, atcs, priReceivers, stats);
        if (features.stall()) {
            translation.stallSink(this::stall);
            commands.resumer = new SmmuCommandQueue.Resumer() {
                @Override
                public void resume(int sid, int stag, int action) {
                    resumeStalled(sid, stag, action);
                }

                @Override
                public void terminateAll(int sid) {
                    terminateStalled(sid);
                }
            };
        }
        this.cEvents = stats.counter("events");
        this.cEventsLost = stats.counter("events.lost");
        this.cPageRequests = stats.counter("page-requests");
        this.cPageRequestsLost = stats.counter("page-requests.lost");
        defineRegisters();
        resetQueues();
    }

    private static void checkSid(int id, long limit) {
        if ((id & 0xFFFF_FFFFL) >= limit) {
            throw new IllegalArgumentException("StreamID " + id + " beyond SIDSIZE");
        }
    }

    private void defineRegisters() {
        regs.define32(IDR0, features.idr0(), 0, 0)
                .define32(IDR1, features.idr1(), 0, 0)
                .define32(IDR2, 0, 0, 0)
                .define32(IDR3, features.idr3(), 0, 0)
                .define32(IDR4, 0, 0, 0)
                .define32(IDR5, features.idr5(), 0, 0)
                .define32(IIDR, 0, 0, 0)
                .define32(AIDR, 0x2, 0, 0) // SMMUv3.2
                .define32(CR0, 0, CR0_MASK, 0)
                .define32(CR0ACK, 0, 0, 0)
                .define32(CR1, 0, 0xFFF, 0)
                .define32(CR2, 0, 0x7, 0)
                .define32(STATUSR, 0, 0, 0)
                // GBPA resets to ABORT = 0 here: bypass while the SMMU is disabled (as QEMU's model).
                .define32(GBPA, 0, 0x801F_FFFF, 0)
                .define32(IRQ_CTRL, 0, 0x7, 0)
                .define32(IRQ_CTRLACK, 0, 0, 0)
                .define32(GERROR, 0, 0, 0)
                .define32(GERRORN, 0, 0x1FD, 0)
                .define64(STRTAB_BASE, 0, 1L << 62 | STRTAB_BASE_ADDR_MASK, 0)
                .define32(STRTAB_BASE_CFG, 0, 0x3_07FF, 0)
                .define64(CMDQ_BASE, 0, 1L << 62 | Q_BASE_ADDR_MASK | Q_BASE_LOG2SIZE_MASK, 0)
                .define32(CMDQ_PROD, 0, Q_PTR_MASK, 0)
                .define32(CMDQ_CONS, 0, Q_PTR_MASK, 0)
                .define64(EVTQ_BASE, 0, 1L << 62 | Q_BASE_ADDR_MASK | Q_BASE_LOG2SIZE_MASK, 0)
                .define32(EVTQ_PROD, 0, Q_PTR_MASK, 0)
                .define32(EVTQ_CONS, 0, Q_PTR_MASK | Q_OVFLG, 0)
                .define64(PRIQ_BASE, 0, 1L << 62 | Q_BASE_ADDR_MASK | Q_BASE_LOG2SIZE_MASK, 0)
                .define32(PRIQ_PROD, 0, Q_PTR_MASK, 0)
                .define32(PRIQ_CONS, 0, Q_PTR_MASK | Q_OVFLG, 0);
    }

    private void resetQueues() {
        cmdq = ring(CMDQ_BASE, 4);
        evtq = ring(EVTQ_BASE, 5);
        priq = ring(PRIQ_BASE, 4);
    }

    /** A queue from its Q_BASE: LOG2SIZE beyond the IDR1 maximum behaves as the maximum (6.3.25). */
    private QueueRing ring(int baseReg, int entryShift) {
        long v = regs.get(baseReg);
        int log2 = Math.min((int) v & Q_BASE_LOG2SIZE_MASK, features.log2QueueMax());
        return new QueueRing(v & Q_BASE_ADDR_MASK, log2, entryShift, true);
    }

    public String name() {
        return name;
    }

    public SmmuFeatures features() {
        return features;
    }

    public HwStats stats() {
        return stats;
    }

    public PhysicalMemory memory() {
        return memory;
    }

    // ---- endpoints ---------------------------------------------------------------------

    /** Connects the ATC of the endpoint at {@code sid}: ATC_INV commands naming it reach it. */
    public void connectAtc(int sid, DeviceTlb atc) {
        atcs.register(sid, atc);
    }

    /** Connects the PRI function at {@code sid}: PRI_RESP commands naming it reach it. */
    public void connectPri(int sid, PageResponseReceiver receiver) {
        priReceivers.register(sid, receiver);
    }

    public void disconnect(int sid) {
        atcs.unregister(sid);
        priReceivers.unregister(sid);
    }

    // ---- registers ---------------------------------------------------------------------

    public synchronized int readRegister32(int offset) {
        return regs.read32(offset);
    }

    public synchronized long readRegister64(int offset) {
        if (!regs.is64(offset)) {
            throw new IllegalArgumentException(String.format("%#x is not a 64-bit register", offset));
        }
        return regs.get(offset);
    }

    public synchronized void writeRegister64(int offset, long value) {
        if (!regs.is64(offset)) {
            throw new IllegalArgumentException(String.format("%#x is not a 64-bit register", offset));
        }
        regs.write(offset, value);
        afterWrite(offset);
    }

    /** A 32-bit write; to a 32-bit register (a half of a 64-bit one is not modelled). */
    public synchronized void writeRegister32(int offset, int value) {
        if (!regs.is32(offset)) {
            throw new IllegalArgumentException(String.format("no 32-bit register at %#x", offset));
        }
        regs.write(offset, value & 0xFFFF_FFFFL);
        afterWrite(offset);
    }

    private void afterWrite(int offset) {
        switch (offset) {
            case CR0 -> {
                int v = (int) regs.get(CR0);
                regs.set(CR0ACK, v & 0xFFFF_FFFFL);
                cr0 = v;
                if ((v & CR0_CMDQEN) != 0) {
                    consumeCommands();
                }
            }
            case GBPA -> {
                long v = regs.get(GBPA);
                if ((v & GBPA_UPDATE) != 0) {
                    // 6.3.14: the new fields take effect, then UPDATE reads 0.
                    gbpaAbort = (v & GBPA_ABORT) != 0;
                    regs.clearBits(GBPA, GBPA_UPDATE);
                }
            }
            case IRQ_CTRL -> regs.set(IRQ_CTRLACK, regs.get(IRQ_CTRL));
            case STRTAB_BASE, STRTAB_BASE_CFG -> latchStreamTable();
            case CMDQ_BASE -> cmdq = ring(CMDQ_BASE, 4);
            case EVTQ_BASE -> evtq = ring(EVTQ_BASE, 5);
            case PRIQ_BASE -> priq = ring(PRIQ_BASE, 4);
            case CMDQ_PROD, GERRORN -> consumeCommands();
            default -> {
            }
        }
    }

    private void latchStreamTable() {
        long cfg = regs.get(STRTAB_BASE_CFG);
        int fmt = (int) (cfg >>> STRTAB_CFG_FMT_SHIFT) & 3;
        int split = (int) (cfg >>> STRTAB_CFG_SPLIT_SHIFT) & 0x1f;
        int log2 = Math.min((int) cfg & 0x3f, features.sidBits());
        boolean twoLevel = fmt == STRTAB_CFG_FMT_2LVL && features.twoLevelStreamTable();
        translation.streamTable(new SmmuV3Translation.StreamTable(regs.get(STRTAB_BASE) & STRTAB_BASE_ADDR_MASK,
                twoLevel, log2, split));
    }

    // ---- command queue -----------------------------------------------------------------

    /** Whether GERROR.CMDQ_ERR is active (differs from GERRORN): consumption stays stopped. */
    private boolean cmdqErrorActive() {
        return ((regs.get(GERROR) ^ regs.get(GERRORN)) & GERROR_CMDQ_ERR) != 0;
    }

    /** Consumes commands from CONS to PROD (3.5.2), stopping at the first illegal one (4.1.4). */
    private void consumeCommands() {
        if ((cr0 & CR0_CMDQEN) == 0) {
            return;
        }
        QueueRing q = cmdq;
        int prod = (int) regs.get(CMDQ_PROD) & Q_PTR_MASK & ((q.entries() << 1) - 1);
        long consReg = regs.get(CMDQ_CONS);
        int cons = (int) consReg & ((q.entries() << 1) - 1);
        int err = (int) (consReg >>> CMDQ_CONS_ERR_SHIFT) & 0x7f;
        while (!q.empty(prod, cons) && !cmdqErrorActive()) {
            long at = q.slotAddress(cons);
            int result;
            try {
                result = commands.execute(memory.readLong(at), memory.readLong(at + 8));
            } catch (MemoryFault e) {
                result = CERROR_ABT;
            }
            if (result != CERROR_NONE) {
                // CONS stays at the failing command, ERR names the error, GERROR.CMDQ_ERR toggles.
                err = result;
                regs.set(GERROR, regs.get(GERROR) ^ GERROR_CMDQ_ERR);
                break;
            }
            cons = q.advance(cons);
            regs.set(CMDQ_CONS, (long) err << CMDQ_CONS_ERR_SHIFT | cons);
        }
        regs.set(CMDQ_CONS, (long) err << CMDQ_CONS_ERR_SHIFT | cons);
    }

    /** Why the last illegal command was illegal, or null. */
    public String lastCommandError() {
        return commands.lastError;
    }

    // ---- event and PRI queues ----------------------------------------------------------

    /** Writes an event record to the event queue, or sets the overflow flag if it is full (7.4). */
    synchronized void recordEvent(SmmuEvent e) {
        recordEventIfRoom(e);
    }

    private synchronized boolean recordEventIfRoom(SmmuEvent e) {
        cEvents.increment();
        stats.counter("events." + SmmuEvent.name(e.type())).increment();
        if ((cr0 & CR0_EVTQEN) == 0) {
            cEventsLost.increment();
            return false;
        }
        if (!enqueue(evtq, EVTQ_PROD, EVTQ_CONS, e.words)) {
            cEventsLost.increment();
            return false;
        }
        return true;
    }

    /** Writes {@code words} at PROD unless full; a full queue toggles PROD.OVFLG once per acknowledgement. */
    private boolean enqueue(QueueRing q, int prodReg, int consReg, long[] words) {
        long prodV = regs.get(prodReg);
        long consV = regs.get(consReg);
        int mask = (q.entries() << 1) - 1;
        int prod = (int) prodV & mask;
        int cons = (int) consV & mask;
        if (q.full(prod, cons)) {
            // 7.4: overflow is signalled by PROD.OVFLG differing from CONS.OVACKFLG; records are lost.
            if (((prodV ^ consV) & Q_OVFLG) == 0) {
                regs.set(prodReg, prodV ^ Q_OVFLG);
            }
            return false;
        }
        long at = q.slotAddress(prod);
        try {
            for (int i = 0; i < words.length; i++) {
                memory.writeLong(at + 8L * i, words[i]);
            }
        } catch (MemoryFault f) {
            regs.set(GERROR, regs.get(GERROR) ^ (prodReg == EVTQ_PROD ? GERROR_EVTQ_ABT_ERR : GERROR_PRIQ_ABT_ERR));
            return false;
        }
        regs.set(prodReg, (prodV & Q_OVFLG) | q.advance(prod));
        return true;
    }

    /**
     * A PCIe Page Request from the endpoint at {@code sourceId} becomes a PRI queue entry (8.1):
     * word 0 = StreamID[31:0], SubstreamID[51:32], Priv[58], Exec[59], Read[60], Write[61], Last[62],
     * SSV[63]; word 1 = PRG index[8:0], Page address[63:12].
     */
    @Override
    public void pageRequest(int sourceId, int pasid, long address, boolean read, boolean write, boolean lastInGroup,
                            int prgIndex) {
        boolean queued = queuePageRequest(sourceId, pasid, address, read, write, lastInGroup, prgIndex);
        Runnable h = priHandler;
        if (queued && h != null) {
            h.run(); // the PRI queue interrupt: the driver's PRI thread, without the unit's lock
        }
    }

    /** The PRI queue interrupt's handler (the driver's PRI queue thread), run after a page request is queued. */
    public void setPriHandler(Runnable handler) {
        this.priHandler = handler;
    }

    private synchronized boolean queuePageRequest(int sourceId, int pasid, long address, boolean read, boolean write,
                                                  boolean lastInGroup, int prgIndex) {
        cPageRequests.increment();
        if (!features.pri() || (cr0 & CR0_PRIQEN) == 0) {
            cPageRequestsLost.increment();
            return false;
        }
        long w0 = (sourceId & 0xFFFF_FFFFL) | (read ? 1L << 60 : 0) | (write ? 1L << 61 : 0)
                | (lastInGroup ? 1L << 62 : 0);
        if (pasid != NO_PASID) {
            w0 |= (long) (pasid & 0xFFFFF) << 32 | 1L << 63;
        }
        long w1 = prgIndex & 0x1ff | address & 0xFFFF_FFFF_FFFF_F000L;
        if (!enqueue(priq, PRIQ_PROD, PRIQ_CONS, new long[] {w0, w1})) {
            cPageRequestsLost.increment();
            return false;
        }
        return true;
    }

    // ---- stall model (3.12.2) ----------------------------------------------------------

    /**
     * The event interrupt (EVTQ IRQ, an MSI or wired line, both modelled as a call): the driver's
     * event queue thread, run on the thread whose transaction stalled, without the unit's lock.
     */
    public void setEventHandler(Runnable handler) {
        this.eventHandler = handler;
    }

    /**
     * A stage-1 fault of a stalling context: the event record carries Stall and a STAG; the
     * transaction waits for CMD_RESUME (retry: translated again; terminate / abort: it fails) or
     * CMD_STALL_TERM. The model's transactions are synchronous: the event handler runs here, and a
     * transaction still stalled when it returns is terminated (as by STALL_TERM). A record the
     * event queue cannot take terminates the transaction at once (no software can resume it).
     */
    private boolean stall(SmmuEvent e, int sid, java.util.function.BooleanSupplier retry, TranslationResult out) {
        int[] depth = stallDepth.get();
        if (depth[0] >= MAX_STALL_RETRIES) {
            recordEvent(e);
            out.fault(e.type(), SmmuEvent.name(e.type()) + ": terminated after " + depth[0] + " retries");
            return false;
        }
        long key;
        synchronized (this) {
            int stag = nextStag++ & 0xFFFF;
            key = (sid & 0xFFFF_FFFFL) << 16 | stag;
            stalled.put(key, PENDING);
            if (!recordEventIfRoom(e.stalled(stag))) {
                stalled.remove(key);
                return false;
            }
        }
        Runnable h = eventHandler;
        if (h != null) {
            h.run();
        }
        Integer action;
        synchronized (this) {
            action = stalled.remove(key);
        }
        if (action == null || action != SmmuCommand.RESUME_RETRY) {
            out.fault(e.type(), SmmuEvent.name(e.type()) + ": stalled transaction "
                    + (action == null || action == PENDING ? "not resumed (terminated)" : "terminated by CMD_RESUME"));
            return false;
        }
        out.clear();
        depth[0]++;
        try {
            return retry.getAsBoolean(); // translated again from the start (a new fault stalls again)
        } finally {
            depth[0]--;
        }
    }

    private synchronized void resumeStalled(int sid, int stag, int action) {
        long key = (sid & 0xFFFF_FFFFL) << 16 | stag & 0xFFFF;
        // A CMD_RESUME for a STAG that is not stalled has no effect (4.7.2).
        stalled.computeIfPresent(key, (k, v) -> v == PENDING ? action : v);
    }

    private synchronized void terminateStalled(int sid) {
        stalled.replaceAll((k, v) -> (k >>> 16) == (sid & 0xFFFF_FFFFL) && v == PENDING ? SmmuCommand.RESUME_TERM : v);
    }

    /** Transactions waiting for CMD_RESUME now. */
    public synchronized int stalledTransactions() {
        return stalled.size();
    }

    // ---- translation -------------------------------------------------------------------

    @Override
    public boolean translate(int sourceId, int pasid, long iova, boolean write, boolean translationRequest,
                             TranslationResult out) {
        if (pasid < NO_PASID || pasid > 0xFFFFF) {
            throw new IllegalArgumentException("SubstreamID " + pasid + " is not a 20-bit value");
        }
        out.clear();
        if ((cr0 & CR0_SMMUEN) == 0) {
            // SMMUEN = 0: GBPA decides, abort or bypass, without an event (6.3.14).
            if (gbpaAbort) {
                out.fault(0, "SMMU disabled, GBPA.ABORT");
                return false;
            }
            out.pa = iova;
            out.pageSize = 4096;
            out.readable = true;
            out.writable = true;
            return true;
        }
        return translation.translate(sourceId, pasid, iova, write, translationRequest, out);
    }

    /** The TLB's entries, for inspection. */
    public java.util.List<IotlbEntry> tlbEntries() {
        return translation.iotlbEntries();
    }

    public int steCacheSize() {
        return translation.steCacheSize();
    }

    public int cdCacheSize() {
        return translation.cdCacheSize();
    }

    @Override
    public String toString() {
        return "SMMUv3 " + name;
    }
}
