package org.jiommu.hw.smmuv2;

import static org.jiommu.hw.smmuv2.Smmuv2Regs.*;

import org.jiommu.base.WarningSink;
import org.jiommu.bus.dma.TranslationResult;
import org.jiommu.mem.FrameAllocator;
import org.jiommu.mem.PhysicalMemory;
import org.jiommu.pgtable.PgtableFormat;
import org.jiommu.pgtable.arm.ArmLpaeConfig;
import org.jiommu.pgtable.arm.ArmLpaePageTable;
import org.jiommu.pgtable.TlbOps;

/**
 * An SMMUv2 unit over 1 GiB of memory, with io-pgtable-arm tables and the register values the
 * kernel's arm-smmu.c composes from them (arm_smmu_init_context_bank / write_context_bank),
 * written here independently of the driver so the hardware tests do not depend on it.
 */
final class Smmuv2Bed {
    static final long BITMAP_4K = (1L << 12) | (1L << 21) | (1L << 30);
    /** SCTLR as Linux writes it for a stage-1 context: ASIDPNE, CFIE, CFRE, AFE, TRE, M (0x1067). */
    static final int SCTLR_S1 = SCTLR_ASIDPNE | SCTLR_CFIE | SCTLR_CFRE | SCTLR_AFE | SCTLR_TRE | SCTLR_M;

    final FrameAllocator frames = new FrameAllocator(new PhysicalMemory(1L << 30));
    final Smmuv2Unit unit;
    final TranslationResult out = new TranslationResult();
    /** The TTBR0 table of a test's main bank, when it keeps one here. */
    ArmLpaePageTable ttbr0Table;

    Smmuv2Bed(Smmuv2Config config) {
        unit = new Smmuv2Unit("smmu0", frames.memory(), config);
    }

    Smmuv2Bed() {
        this(Smmuv2Config.defaults());
    }

    ArmLpaePageTable s1Table(boolean ttbr1) {
        ArmLpaeConfig.Builder b = ArmLpaeConfig.builder(PgtableFormat.ARM_64_LPAE_S1).pgsizeBitmap(BITMAP_4K).ias(48)
                .oas(48);
        if (ttbr1) {
            b.quirk(ArmLpaeConfig.QUIRK_ARM_TTBR1);
        }
        return ArmLpaePageTable.alloc(b.build(), frames, TlbOps.NONE, WarningSink.IGNORE);
    }

    ArmLpaePageTable s2Table() {
        return ArmLpaePageTable.alloc(ArmLpaeConfig.builder(PgtableFormat.ARM_64_LPAE_S2).pgsizeBitmap(BITMAP_4K)
                .ias(40).oas(48).build(), frames, TlbOps.NONE, WarningSink.IGNORE);
    }

    /** arm_smmu_lpae_tcr: the TTBR0 half of TCR for a table. */
    static int tcrHalf(ArmLpaeConfig c) {
        ArmLpaeConfig.Tcr t = c.tcr();
        return t.tg() << 14 | t.sh() << 12 | t.orgn() << 10 | t.irgn() << 8 | t.tsz();
    }

    /** A stage-1 AArch64 bank: TTBR0 from {@code t0} (or disabled), TTBR1 from {@code t1} (or disabled). */
    void s1Bank(int n, ArmLpaePageTable t0, ArmLpaePageTable t1, int asid) {
        int tcr = t0 != null ? tcrHalf(t0.config()) : TCR_EPD0;
        tcr |= t1 != null ? tcrHalf(t1.config()) << 16 : TCR_EPD1;
        ArmLpaeConfig any = (t0 != null ? t0 : t1).config();
        writeBankRegs(n, s2crType1(), 0, tcr, 5 | TCR2_AS | TCR2_SEP_UPSTREAM << TCR2_SEP_SHIFT,
                (t0 != null ? t0.config().ttbr() : 0) | (long) asid << 48,
                (t1 != null ? t1.config().ttbr() : 0) | (long) asid << 48, any.mair(), SCTLR_S1);
    }

    private static int s2crType1() {
        return CBAR_TYPE_S1_TRANS_S2_BYPASS << CBAR_TYPE_SHIFT;
    }

    /** A stage-2 bank with {@code vmid}: VTCR in TCR, VTTBR in TTBR0. */
    void s2Bank(int n, ArmLpaePageTable t, int vmid) {
        ArmLpaeConfig.Vtcr v = t.config().vtcr();
        int vtcr = 1 << 31 | v.ps() << 16 | v.tg() << 14 | v.sh() << 12 | v.orgn() << 10 | v.irgn() << 8
                | v.sl() << 6 | v.tsz();
        writeBankRegs(n, CBAR_TYPE_S2_TRANS << CBAR_TYPE_SHIFT | vmid, 0, vtcr, 0, t.config().ttbr(), 0, 0,
                SCTLR_CFIE | SCTLR_CFRE | SCTLR_AFE | SCTLR_TRE | SCTLR_M);
    }

    private void writeBankRegs(int n, int cbar, int vmid16, int tcr, int tcr2, long ttbr0, long ttbr1, long mair,
                               int sctlr) {
        long gr1 = unit.gr1Offset();
        unit.writel(gr1 + CBA2R_BASE + 4 * n, CBA2R_VA64 | vmid16 << CBA2R_VMID16_SHIFT);
        unit.writel(gr1 + CBAR_BASE + 4 * n, cbar);
        long cb = unit.cbOffset(n);
        unit.writel(cb + CB_TCR2, tcr2);
        unit.writeq(cb + CB_TTBR0, ttbr0);
        unit.writeq(cb + CB_TTBR1, ttbr1);
        unit.writel(cb + CB_TCR, tcr);
        unit.writel(cb + CB_MAIR0, (int) mair);
        unit.writel(cb + CB_MAIR1, (int) (mair >>> 32));
        unit.writel(cb + CB_SCTLR, sctlr);
    }

    /** SMR {@code n} = (id, mask, valid), S2CR {@code n} = the given value. */
    void stream(int n, int id, int mask, int s2cr) {
        unit.writel(S2CR_BASE + 4 * n, s2cr);
        unit.writel(SMR_BASE + 4 * n, smr(id, mask, true));
    }

    /** sCR0 with CLIENTPD clear and the given extra bits. */
    void enable(int scr0Bits) {
        unit.writel(SCR0, SCR0_GFRE | SCR0_GFIE | SCR0_GCFGFRE | SCR0_GCFGFIE | scr0Bits);
    }

    boolean read(int sid, long iova) {
        return unit.translate(sid, -1, iova, false, false, out);
    }

    boolean write(int sid, long iova) {
        return unit.translate(sid, -1, iova, true, false, out);
    }

    int cb(int n, int reg) {
        return unit.readl(unit.cbOffset(n) + reg);
    }

    long cbq(int n, int reg) {
        return unit.readq(unit.cbOffset(n) + reg);
    }
}
