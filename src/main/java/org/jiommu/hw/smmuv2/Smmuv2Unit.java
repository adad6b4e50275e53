package org.jiommu.hw.smmuv2;

import static org.jiommu.hw.smmuv2.Smmuv2Regs.*;

import java.util.Objects;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.function.Predicate;
import org.jiommu.bus.dma.DmaTranslator;
import org.jiommu.bus.dma.TranslationResult;
import org.jiommu.hw.FaultKind;
import org.jiommu.hw.HwStats;
import org.jiommu.hw.IotlbEntry;
import org.jiommu.hw.RegisterFile;
import org.jiommu.hw.TranslationPipeline;
import org.jiommu.hw.arm.VmsaWalker;
import org.jiommu.hw.arm.WalkResult;
import org.jiommu.mem.PhysicalMemory;

/**
 * An ARM SMMU architecture version 2 (MMU-400/401/500 class), written from the SMMUv2 spec: a
 * global register space (sCR0, IDR0-2, stream match registers and S2CRs, the global fault
 * syndrome, global TLB maintenance; CBARs and CBA2Rs in GR1) and one register page per
 * translation context bank (SCTLR, TCR/TCR2, TTBR0/1, MAIR0/1, FSR/FAR/FSYNR, RESUME, TLB
 * maintenance and sync). A transaction's stream id picks an S2CR by stream matching; the S2CR
 * translates it through a context bank, bypasses it or faults it. Walks use the shared
 * {@link VmsaWalker}; results are cached in a TLB tagged by VMID and ASID that only the TLB
 * maintenance registers empty, so a driver that forgets an invalidation sees the stale entry.
 *
 * <p>MMIO is {@link #readl} / {@link #writel} / {@link #readq} / {@link #writeq} at byte
 * offsets of the unit's register space, as {@code arm_smmu_readl} and friends address it.
 * Register accesses and fault recording take the unit's lock; translations read immutable
 * snapshots of the stream mapping and of each decoded bank, and allocate nothing on a TLB hit.
 */
public final class Smmuv2Unit extends TranslationPipeline implements DmaTranslator {
    /** Leaf sizes of the 4K / 16K / 64K granules, smallest first (the TLB probes each). */
    private static final int[] PAGE_SHIFTS = {12, 14, 16, 21, 25, 29, 30, 36, 42};
    private static final int PAGE = 4096;
    /** TLB tag fields: stage (1 or 2) at bit 40, VMID at 16, ASID below. */
    private static final int TAG_STAGE_SHIFT = 40;
    /** TLB entry attribute: the leaf was global (nG = 0): any ASID's TLBIASID leaves it. */
    static final int ATTR_GLOBAL = 1;

    private final String name;
    private final Smmuv2Config config;
    private final VmsaWalker walker;
    private final HwStats stats;
    private final HwStats.Counter contextFaults;
    private final HwStats.Counter globalFaults;
    private final HwStats.Counter syncs;
    private final HwStats.Counter tlbis;
    private final RegisterFile gr0;
    private final RegisterFile gr1;
    private final RegisterFile[] banks;
    private final Object lock = new Object();
    private final ThreadLocal<WalkResult> results = ThreadLocal.withInitial(WalkResult::new);
    private final int numPage;

    private volatile int scr0;
    private volatile StreamMatch streams;
    /** Decoded banks; an entry is dropped when software writes one of its registers. */
    private final AtomicReferenceArray<ContextBank> decoded;

    public Smmuv2Unit(String name, PhysicalMemory memory, Smmuv2Config config) {
        this(name, memory, config, new HwStats(name));
    }

    private Smmuv2Unit(String name, PhysicalMemory memory, Smmuv2Config config, HwStats stats) {
        super(stats, config.tlbEntries(), PAGE_SHIFTS);
        this.name = Objects.requireNonNull(name, "name");
        this.config = config;
        this.walker = new VmsaWalker(memory, config.oas());
        this.stats = stats;
        this.contextFaults = stats.counter("faults.context");
        this.globalFaults = stats.counter("faults.global");
        this.syncs = stats.counter("tlb.syncs");
        this.tlbis = stats.counter("tlb.invalidations");
        this.numPage = config.numPage();
        this.gr0 = new RegisterFile(PAGE);
        this.gr1 = new RegisterFile(PAGE);
        this.banks = new RegisterFile[config.numCb()];
        this.decoded = new AtomicReferenceArray<>(config.numCb());
        defineGlobal();
        for (int n = 0; n < banks.length; n++) {
            banks[n] = defineBank();
        }
        reset();
    }

    private void defineGlobal() {
        gr0.define32(SCR0, SCR0_CLIENTPD, SCR0_RW, 0);
        int idr0 = (config.numSmrg() > 0 ? IDR0_SMS : 0) | IDR0_S1TS | IDR0_S2TS | IDR0_CTTW | IDR0_PTFS_NO_AARCH32
                | config.streamIdBits() << IDR0_NUMSIDB_SHIFT | config.numSmrg();
        int idr1 = Integer.numberOfTrailingZeros(numPage) - 1 << IDR1_NUMPAGENDXB_SHIFT
                | config.numS2Cb() << IDR1_NUMS2CB_SHIFT | config.numCb();
        int oas = Smmuv2Config.oasEncoding(config.oas());
        int idr2 = IDR2_PTFS_4K | IDR2_PTFS_16K | IDR2_PTFS_64K | 5 << IDR2_UBS_SHIFT /* 49-bit upstream */
                | oas << IDR2_OAS_SHIFT | oas;
        gr0.define32(IDR0, idr0, 0, 0).define32(IDR1, idr1, 0, 0).define32(IDR2, idr2, 0, 0);
        gr0.define64(SGFAR, 0, -1L, 0).define32(SGFSR, 0, 0, SGFSR_FAULTS | SGFSR_MULTI);
        gr0.define32(SGFSYNR0, 0, -1, 0).define32(SGFSYNR1, 0, -1, 0).define32(SGFSYNR2, 0, -1, 0);
        gr0.define32(STLBGSTATUS, 0, 0, 0);
        for (int n = 0; n < config.numSmrg(); n++) {
            gr0.define32(SMR_BASE + 4 * n, 0, SMR_VALID | SMR_ID_MASK << SMR_MASK_SHIFT | SMR_ID_MASK, 0);
        }
        for (int n = 0; n < config.numS2cr(); n++) {
            // Reset: fault, so nothing translates or bypasses before software says so.
            gr0.define32(S2CR_BASE + 4 * n, s2cr(S2CR_TYPE_FAULT, 0), 3 << S2CR_PRIVCFG_SHIFT
                    | 3 << S2CR_TYPE_SHIFT | S2CR_CBNDX_MASK, 0);
        }
        for (int n = 0; n < config.numCb(); n++) {
            gr1.define32(CBAR_BASE + 4 * n, 0, 0xff03_ffff, 0);
            gr1.define32(CBFRSYNRA_BASE + 4 * n, 0, -1, 0);
            gr1.define32(CBA2R_BASE + 4 * n, 0, 0xffff_0001, 0);
        }
    }

    private static RegisterFile defineBank() {
        RegisterFile cb = new RegisterFile(PAGE);
        cb.define32(CB_SCTLR, 0, 0x1fff, 0).define32(CB_ACTLR, 0, -1, 0).define32(CB_TCR2, 0, -1, 0);
        cb.define64(CB_TTBR0, 0, -1L, 0).define64(CB_TTBR1, 0, -1L, 0);
        cb.define32(CB_TCR, 0, -1, 0).define32(CB_CONTEXTIDR, 0, -1, 0);
        cb.define32(CB_MAIR0, 0, -1, 0).define32(CB_MAIR1, 0, -1, 0);
        cb.define64(CB_PAR, 0, 0, 0);
        cb.define32(CB_FSR, 0, 0, FSR_FAULTS | FSR_SS | FSR_MULTI);
        cb.define64(CB_FAR, 0, -1L, 0).define32(CB_FSYNR0, 0, -1, 0).define32(CB_FSYNR1, 0, -1, 0);
        cb.define32(CB_TLBSTATUS, 0, 0, 0);
        return cb;
    }

    /** Every register to its reset value and the TLB emptied. */
    public void reset() {
        synchronized (lock) {
            gr0.reset();
            gr1.reset();
            for (RegisterFile cb : banks) {
                cb.reset();
            }
            forgetBanks();
            scr0 = (int) gr0.get(SCR0);
            remapStreams();
            iotlb().invalidateAll();
        }
    }

    public String name() {
        return name;
    }

    public Smmuv2Config config() {
        return config;
    }

    /** Byte offset of context bank {@code n}'s page: (NUMPAGE + n) pages. */
    public long cbOffset(int n) {
        return (long) (numPage + n) * PAGE;
    }

    /** GR1's page. */
    public long gr1Offset() {
        return PAGE;
    }

    /** Bytes of register space: 2 x NUMPAGE pages. */
    public long size() {
        return 2L * numPage * PAGE;
    }

    // ---- MMIO ------------------------------------------------------------------------------

    public int readl(long offset) {
        synchronized (lock) {
            RegisterFile f = file(offset);
            return f == null ? 0 : f.read32((int) (offset & (PAGE - 1)));
        }
    }

    public long readq(long offset) {
        synchronized (lock) {
            RegisterFile f = file(offset);
            int off = (int) (offset & (PAGE - 1));
            if (f == null) {
                return 0;
            }
            return f.is64(off) ? f.get(off)
                    : (f.read32(off) & 0xffffffffL) | (long) f.read32(off + 4) << 32;
        }
    }

    public void writel(long offset, int value) {
        write(offset, value & 0xffffffffL, 4);
    }

    public void writeq(long offset, long value) {
        write(offset, value, 8);
    }

    private void write(long offset, long value, int bytes) {
        synchronized (lock) {
            int page = (int) (offset / PAGE);
            int off = (int) (offset & (PAGE - 1));
            if (offset < 0 || offset >= size()) {
                return; // outside the space: RAZ/WI
            }
            if (page == 0) {
                writeGr0(off, value);
            } else if (page == 1) {
                if (gr1.width(off) != 0) {
                    gr1.write(off, value);
                    int n = (off & 0x3ff) / 4;
                    if (n < banks.length) {
                        decoded.set(n, null);
                    }
                }
            } else if (page >= numPage && page < numPage + banks.length) {
                writeBank(page - numPage, off, value, bytes);
            }
        }
    }

    private void writeGr0(int off, long value) {
        switch (off) {
            case TLBIVMID -> tlbi(e -> vmidOf(e.tag) == (int) (value & 0xffff));
            case TLBIALLNSNH -> tlbi(e -> true);
            case TLBIALLH -> tlbi(e -> false); // no hypervisor contexts in the model
            case STLBGSYNC -> syncs.increment(); // invalidations complete as they are written
            default -> {
                if (gr0.width(off) != 0) {
                    gr0.write(off, value);
                    if (off == SCR0) {
                        scr0 = (int) gr0.get(SCR0);
                        forgetBanks(); // VMID16EN moves the VMID between CBAR and CBA2R
                    } else if (off >= SMR_BASE && off < S2CR_BASE + 0x200) {
                        remapStreams();
                    }
                }
            }
        }
    }

    private void writeBank(int n, int off, long value, int bytes) {
        RegisterFile cb = banks[n];
        ContextBank bank = bank(n);
        switch (off) {
            case CB_TLBIVA, CB_TLBIVAL -> {
                int asid = asidOf(bank, (int) (value >>> TTBR_ASID_SHIFT));
                long va = vaOf(value);
                tlbi(e -> isStage1(e) && vmidOf(e.tag) == bank.vmid
                        && (asidOf(e.tag) == asid || (e.attributes & ATTR_GLOBAL) != 0) && e.overlaps(va, 1));
            }
            case CB_TLBIVAA, CB_TLBIVAAL -> {
                long va = vaOf(value);
                tlbi(e -> isStage1(e) && vmidOf(e.tag) == bank.vmid && e.overlaps(va, 1));
            }
            case CB_TLBIASID -> {
                int asid = asidOf(bank, (int) value);
                tlbi(e -> isStage1(e) && vmidOf(e.tag) == bank.vmid && asidOf(e.tag) == asid
                        && (e.attributes & ATTR_GLOBAL) == 0);
            }
            case CB_TLBIALL -> tlbi(e -> vmidOf(e.tag) == bank.vmid);
            case CB_TLBIIPAS2, CB_TLBIIPAS2L -> {
                long ipa = (value & ((1L << 36) - 1)) << 12;
                tlbi(e -> !isStage1(e) && vmidOf(e.tag) == bank.vmid && e.overlaps(ipa, 1));
            }
            case CB_TLBSYNC -> syncs.increment();
            case CB_RESUME -> cb.clearBits(CB_FSR, FSR_SS); // the stalled transaction already ended
            default -> {
                if (cb.width(off) != 0 || (bytes == 4 && cb.width(off - 4) == 8)) {
                    writeBankRegister(cb, off, value, bytes);
                    decoded.set(n, null);
                }
            }
        }
    }

    /** A 32-bit write to either half of a 64-bit register updates that half. */
    private static void writeBankRegister(RegisterFile cb, int off, long value, int bytes) {
        if (bytes == 4 && cb.width(off) == 0) {
            long old = cb.get(off - 4);
            cb.write(off - 4, (old & 0xffffffffL) | value << 32);
        } else if (bytes == 4 && cb.is64(off)) {
            long old = cb.get(off);
            cb.write(off, (old & ~0xffffffffL) | value);
        } else {
            cb.write(off, value);
        }
    }

    private RegisterFile file(long offset) {
        if (offset < 0 || offset >= size()) {
            return null;
        }
        int page = (int) (offset / PAGE);
        if (page == 0) {
            return gr0;
        }
        if (page == 1) {
            return gr1;
        }
        if (page >= numPage && page < numPage + banks.length) {
            return banks[page - numPage];
        }
        return null;
    }

    private void remapStreams() {
        int[] smr = new int[config.numSmrg()];
        for (int n = 0; n < smr.length; n++) {
            smr[n] = (int) gr0.get(SMR_BASE + 4 * n);
        }
        int[] s2cr = new int[config.numS2cr()];
        for (int n = 0; n < s2cr.length; n++) {
            s2cr[n] = (int) gr0.get(S2CR_BASE + 4 * n);
        }
        streams = new StreamMatch(smr, s2cr, config.streamIdBits());
    }

    private void forgetBanks() {
        for (int n = 0; n < banks.length; n++) {
            decoded.set(n, null);
        }
    }

    /** The decoded bank n (decoding it now if software changed its registers). */
    private ContextBank bank(int n) {
        ContextBank b = decoded.get(n);
        if (b == null) {
            synchronized (lock) {
                b = decoded.get(n);
                if (b == null) {
                    b = ContextBank.decode(n, banks[n], (int) gr1.get(CBAR_BASE + 4 * n),
                            (int) gr1.get(CBA2R_BASE + 4 * n), (scr0 & SCR0_VMID16EN) != 0);
                    decoded.set(n, b);
                }
            }
        }
        return b;
    }

    // ---- TLB -------------------------------------------------------------------------------

    private void tlbi(Predicate<IotlbEntry> which) {
        tlbis.increment();
        iotlb().invalidateIf(which);
    }

    static long tag(int stage, int vmid, int asid) {
        return (long) stage << TAG_STAGE_SHIFT | (long) vmid << 16 | asid;
    }

    private static boolean isStage1(IotlbEntry e) {
        return e.tag >>> TAG_STAGE_SHIFT == 1;
    }

    private static int vmidOf(long tag) {
        return (int) (tag >>> 16) & 0xffff;
    }

    private static int asidOf(long tag) {
        return (int) tag & 0xffff;
    }

    /** An ASID operand: 16 bits with TCR2.AS, else 8. */
    private static int asidOf(ContextBank b, int value) {
        return value & (b.asid16 ? 0xffff : 0xff);
    }

    /** AArch64 TLBIVA value: VA[55:12] in bits 43:0, sign-extended from VA[55]. */
    private static long vaOf(long value) {
        return (value << 20) >> 8 & ~0xfffL;
    }

    // ---- translation -----------------------------------------------------------------------

    @Override
    public boolean translate(int sourceId, int pasid, long iova, boolean write, boolean translationRequest,
                             TranslationResult out) {
        out.clear();
        if (translationRequest) {
            out.fault(0, "no ATS on an SMMUv2");
            return false;
        }
        if ((scr0 & SCR0_CLIENTPD) != 0) {
            return bypass(iova, out); // client port disabled: the SMMU does not translate
        }
        StreamMatch m = streams;
        int idx = m.match(sourceId);
        if (idx == StreamMatch.UNMATCHED) {
            if ((scr0 & SCR0_USFCFG) == 0) {
                return bypass(iova, out);
            }
            return globalFault(SGFSR_USF, sourceId, iova, write, "unidentified stream", out);
        }
        if (idx == StreamMatch.MULTI_MATCH) {
            // A stream match conflict: reported as SMCF when sCR0.SMCFCFE is set; otherwise the
            // spec leaves the outcome UNPREDICTABLE, and the model terminates without a record.
            if ((scr0 & SCR0_SMCFCFE) != 0) {
                return globalFault(SGFSR_SMCF, sourceId, iova, write, "stream match conflict", out);
            }
            out.fault(0, "stream match conflict");
            return false;
        }
        int s2cr = m.s2cr[idx];
        int type = (s2cr >>> S2CR_TYPE_SHIFT) & 3;
        if (type == S2CR_TYPE_BYPASS) {
            return bypass(iova, out);
        }
        if (type != S2CR_TYPE_TRANS) {
            out.fault(0, "S2CR fault");
            return false;
        }
        int cbndx = s2cr & S2CR_CBNDX_MASK;
        if (cbndx >= banks.length) {
            return globalFault(SGFSR_UCBF, sourceId, iova, write, "unimplemented context bank", out);
        }
        ContextBank b = bank(cbndx);
        if (!b.enabled()) {
            return bypass(iova, out); // SCTLR.M = 0: the bank's translation is off
        }
        boolean usable = b.va64 && (b.type == CBAR_TYPE_S2_TRANS ? b.s2 != null
                : b.type == CBAR_TYPE_S1_TRANS_S2_BYPASS && b.s1 != null);
        if (!usable) {
            out.fault(0, "context bank " + cbndx + ": " + b.problem);
            return false;
        }
        boolean privileged = (s2cr >>> S2CR_PRIVCFG_SHIFT & 3) == S2CR_PRIVCFG_PRIV;
        long tag = b.stage1() ? tag(1, b.vmid, b.asid) : tag(2, b.vmid, 0);
        IotlbEntry hit = iotlbHit(tag, iova, write);
        if (hit != null) {
            return translated(hit.translate(iova), hit.pageSize(), hit.permissions, out);
        }
        long epoch = iotlbEpoch();
        WalkResult r = results.get();
        int access = (write ? VmsaWalker.ACCESS_WRITE : VmsaWalker.ACCESS_READ)
                | (privileged ? VmsaWalker.ACCESS_PRIVILEGED : 0);
        boolean ok = b.stage1() ? walker.walkStage1(b.s1, iova, access, r) : walker.walkStage2(b.s2, iova, access, r);
        if (!ok) {
            return contextFault(b, sourceId, iova, write, privileged, r, out);
        }
        int perms = ((r.permissions & WalkResult.PERM_READ) != 0 ? IotlbEntry.READ : 0)
                | ((r.permissions & WalkResult.PERM_WRITE) != 0 ? IotlbEntry.WRITE : 0);
        long size = 1L << r.pageShift;
        iotlbFill(tag, iova, r.outputAddress & -size, size, perms,
                b.stage1() && !r.notGlobal ? ATTR_GLOBAL : 0, epoch);
        return translated(r.outputAddress, size, perms, out);
    }

    private static boolean bypass(long iova, TranslationResult out) {
        return translated(iova, PAGE, IotlbEntry.READ | IotlbEntry.WRITE, out);
    }

    private static boolean translated(long pa, long size, int perms, TranslationResult out) {
        out.pa = pa;
        out.pageSize = size;
        out.readable = (perms & IotlbEntry.READ) != 0;
        out.writable = (perms & IotlbEntry.WRITE) != 0;
        return true;
    }

    /**
     * Records a context fault in the bank's FSR / FAR / FSYNR0 and GR1's CBFRSYNRA (SMMUv2 spec
     * 10.6.x "SMMU_CBn_FSR"): the first fault fills the syndrome; while a fault bit is still set
     * a further one only sets MULTI. With SCTLR.CFCFG the fault stalls (FSR.SS) until RESUME.
     */
    private boolean contextFault(ContextBank b, int sid, long iova, boolean write, boolean privileged, WalkResult r,
                                 TranslationResult out) {
        int bit = fsrBit(r.fault);
        contextFaults.increment();
        synchronized (lock) {
            RegisterFile cb = banks[b.index];
            int fsr = (int) cb.get(CB_FSR);
            if ((fsr & FSR_FAULTS) != 0) {
                cb.setBits(CB_FSR, u32(FSR_MULTI));
            } else {
                int syn = (r.faultLevel & FSYNR0_PLVL_MASK) | (write ? FSYNR0_WNR : 0)
                        | (privileged ? FSYNR0_PNU : 0)
                        | (r.fault == FaultKind.TABLE_FETCH_ABORT ? FSYNR0_PTWF : 0);
                cb.set(CB_FSR, bit | ((b.sctlr & SCTLR_CFCFG) != 0 ? FSR_SS : 0));
                cb.set(CB_FAR, iova);
                cb.set(CB_FSYNR0, syn);
                cb.set(CB_FSYNR1, 0);
                gr1.set(CBFRSYNRA_BASE + 4 * b.index, sid & 0xffff);
            }
        }
        out.fault(bit, "context fault " + fsrName(bit) + " (CB" + b.index + ")");
        return false;
    }

    private static long u32(int v) {
        return v & 0xffffffffL;
    }

    /** FSR bit of a walk fault: TF, PF, AFF, ASF; an abort on a descriptor fetch is EF. */
    static int fsrBit(FaultKind k) {
        return switch (k) {
            case PERMISSION -> FSR_PF;
            case ACCESS -> FSR_AFF;
            case ADDRESS_SIZE -> FSR_ASF;
            case TABLE_FETCH_ABORT -> FSR_EF;
            default -> FSR_TF;
        };
    }

    private static String fsrName(int bit) {
        return switch (bit) {
            case FSR_PF -> "PF";
            case FSR_AFF -> "AFF";
            case FSR_ASF -> "ASF";
            case FSR_EF -> "EF";
            default -> "TF";
        };
    }

    /** Records a global fault in sGFSR / sGFAR / sGFSYNR0-1 (first one; later ones set MULTI). */
    private boolean globalFault(int bit, int sid, long iova, boolean write, String what, TranslationResult out) {
        globalFaults.increment();
        synchronized (lock) {
            int gfsr = (int) gr0.get(SGFSR);
            if ((gfsr & SGFSR_FAULTS) != 0) {
                gr0.setBits(SGFSR, u32(SGFSR_MULTI));
            } else {
                gr0.set(SGFSR, u32(bit));
                gr0.set(SGFAR, iova);
                gr0.set(SGFSYNR0, write ? SGFSYNR0_WNR : 0);
                gr0.set(SGFSYNR1, sid & 0xffff);
            }
        }
        out.fault(bit, what);
        return false;
    }

    /** The bank's decoded state, for dumps and tests. */
    public String describeBank(int n) {
        return bank(n).toString();
    }

    public HwStats stats() {
        return stats;
    }

    @Override
    public String toString() {
        return "SMMUv2 " + name + " (" + config.numSmrg() + " SMRs, " + config.numCb() + " context banks)";
    }
}
