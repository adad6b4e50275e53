package org.jiommu.driver.smmuv3;

import static org.jiommu.hw.smmuv3.StreamTableEntry.*;

import org.jiommu.driver.common.HitlessEntryWriter;
import org.jiommu.hw.smmuv3.ContextDescriptor;
import org.jiommu.hw.smmuv3.StreamTableEntry;
import org.jiommu.pgtable.arm.ArmLpaeConfig;

/**
 * The STEs and CDs the driver writes, and which of their bits the SMMU reads for each
 * configuration, after the kernel's {@code arm_smmu_make_*_ste}, {@code arm_smmu_make_s1_cd},
 * {@code arm_smmu_make_sva_cd}, {@code arm_smmu_get_ste_used} and {@code arm_smmu_get_cd_used}
 * (drivers/iommu/arm/arm-smmu-v3). Field positions are the spec's (IHI 0070 5.2 / 5.4); the ones
 * the hardware model acts on come from {@code hw.smmuv3}, the rest (cacheability, shareability,
 * stream world, ...) are named here. Entries are 8 words, little-endian, word 0 holds V.
 */
public final class Smmuv3Entries {
    private Smmuv3Entries() {
    }

    public static final int QWORDS = 8;

    // ---- STE fields the hardware model does not name -------------------------------------
    public static final long STE_0_CFG_MASK = 7L << CONFIG_SHIFT;
    public static final long STE_0_S1FMT_MASK = 3L << S1FMT_SHIFT;
    public static final long STE_0_S1CDMAX_MASK = 0x1FL << S1CDMAX_SHIFT;
    public static final long STE_1_S1DSS_MASK = 3L;
    public static final int STE_1_S1CIR_SHIFT = 2;
    public static final int STE_1_S1COR_SHIFT = 4;
    public static final int STE_1_S1CSH_SHIFT = 6;
    /** S1CIR/S1COR: write-back, read-allocate (STRTAB_STE_1_S1C_CACHE_WBRA). */
    public static final long S1C_CACHE_WBRA = 1;
    /** Inner shareable (ARM_SMMU_SH_ISH). */
    public static final long SH_ISH = 3;
    public static final long STE_1_S1CIR_MASK = 3L << STE_1_S1CIR_SHIFT;
    public static final long STE_1_S1COR_MASK = 3L << STE_1_S1COR_SHIFT;
    public static final long STE_1_S1CSH_MASK = 3L << STE_1_S1CSH_SHIFT;
    public static final long STE_1_S1STALLD = 1L << 27;
    public static final long STE_1_EATS_MASK = 3L << EATS_SHIFT;
    public static final int STE_1_STRW_SHIFT = 30;
    public static final long STE_1_STRW_MASK = 3L << STE_1_STRW_SHIFT;
    /** STRW = 0b00: non-secure EL1 stream world. */
    public static final long STRW_NSEL1 = 0;
    public static final int STE_1_SHCFG_SHIFT = 44;
    public static final long STE_1_SHCFG_MASK = 3L << STE_1_SHCFG_SHIFT;
    /** SHCFG = 0b01: use the incoming shareability. */
    public static final long SHCFG_INCOMING = 1;
    /** MEV (merge events), set by nested STEs. */
    public static final long STE_1_MEV = 1L << 19;
    public static final long STE_1_S2FWB = 1L << 25;
    public static final long STE_2_S2VMID_MASK = 0xFFFFL;
    /** VTCR[50:32]: S2T0SZ, S2SL0, S2IR0, S2OR0, S2SH0, S2TG, S2PS. */
    public static final long STE_2_VTCR_MASK = 0x7FFFFL << 32;
    public static final int STE_2_S2IR0_SHIFT = 40;
    public static final int STE_2_S2OR0_SHIFT = 42;
    public static final int STE_2_S2SH0_SHIFT = 44;
    public static final long STE_2_S2PTW = 1L << 54;
    public static final long STE_2_S2S = 1L << 57;

    // ---- CD fields -------------------------------------------------------------------------
    public static final long CD_0_T0SZ_MASK = 0x3FL;
    public static final long CD_0_TG0_MASK = 3L << ContextDescriptor.TG0_SHIFT;
    public static final int CD_0_IRGN0_SHIFT = 8;
    public static final int CD_0_ORGN0_SHIFT = 10;
    public static final int CD_0_SH0_SHIFT = 12;
    public static final long CD_0_IRGN0_MASK = 3L << CD_0_IRGN0_SHIFT;
    public static final long CD_0_ORGN0_MASK = 3L << CD_0_ORGN0_SHIFT;
    public static final long CD_0_SH0_MASK = 3L << CD_0_SH0_SHIFT;
    public static final long CD_0_S = 1L << 44;
    public static final long CD_0_ASID_MASK = 0xFFFFL << ContextDescriptor.ASID_SHIFT;

    /** What a CD-table STE points at: the master's table and its format (arm_smmu_ctx_desc_cfg). */
    public record CdTableRef(long cdtabDma, int s1fmt, int s1cdmax) {
    }

    /** The SMMU features the STE makers look at (ARM_SMMU_FEAT_ATTR_TYPES_OVR, _STALLS). */
    public record SteFeatures(boolean attrTypesOvr, boolean stalls) {
    }

    // ---- STE makers ------------------------------------------------------------------------

    /** arm_smmu_make_abort_ste: valid, Config abort, nothing else. */
    public static long[] abortSte() {
        long[] s = new long[QWORDS];
        s[0] = V | (long) CFG_ABORT << CONFIG_SHIFT;
        return s;
    }

    /** arm_smmu_make_bypass_ste: Config bypass; SHCFG incoming when the SMMU can override attributes. */
    public static long[] bypassSte(SteFeatures f) {
        long[] s = new long[QWORDS];
        s[0] = V | (long) CFG_BYPASS << CONFIG_SHIFT;
        if (f.attrTypesOvr()) {
            s[1] = SHCFG_INCOMING << STE_1_SHCFG_SHIFT;
        }
        return s;
    }

    /**
     * arm_smmu_make_cdtable_ste: stage 1 through the master's CD table; S1DSS says what requests
     * without SubstreamID do (terminate, bypass, CD 0); EATS full translation when ATS is on; the
     * NS-EL1 stream world with VMID 0 (the model's SMMUs have no E2H).
     */
    public static long[] cdtableSte(SteFeatures f, CdTableRef cd, boolean atsEnabled, int s1dss, boolean stallEnabled) {
        long[] s = new long[QWORDS];
        s[0] = V | (long) CFG_S1_TRANS << CONFIG_SHIFT | (long) cd.s1fmt() << S1FMT_SHIFT
                | (cd.cdtabDma() & S1_CONTEXT_PTR_MASK) | (long) cd.s1cdmax() << S1CDMAX_SHIFT;
        s[1] = (s1dss & STE_1_S1DSS_MASK) | S1C_CACHE_WBRA << STE_1_S1CIR_SHIFT | S1C_CACHE_WBRA << STE_1_S1COR_SHIFT
                | SH_ISH << STE_1_S1CSH_SHIFT | (f.stalls() && !stallEnabled ? STE_1_S1STALLD : 0)
                | (long) (atsEnabled ? EATS_TRANS : EATS_ABT) << EATS_SHIFT;
        if (f.attrTypesOvr() && s1dss == S1DSS_BYPASS) {
            s[1] |= SHCFG_INCOMING << STE_1_SHCFG_SHIFT;
        }
        s[1] |= STRW_NSEL1 << STE_1_STRW_SHIFT;
        // VMID 0 is kept for stage-1 STEs (arm_smmu_domain_alloc_id reserves it).
        s[2] = 0;
        return s;
    }

    /**
     * arm_smmu_make_s2_domain_ste: stage 2 with the domain's VMID, the io-pgtable's VTCR and
     * VTTBR, AArch64 tables, S2PTW (stage-1 walks of a nested guest checked by stage 2) and
     * S2R (faults recorded).
     */
    public static long[] s2DomainSte(SteFeatures f, int vmid, ArmLpaeConfig.Vtcr vtcr, long vttbr, boolean atsEnabled) {
        long[] s = new long[QWORDS];
        s[0] = V | (long) CFG_S2_TRANS << CONFIG_SHIFT;
        s[1] = (long) (atsEnabled ? EATS_TRANS : EATS_ABT) << EATS_SHIFT;
        if (f.attrTypesOvr()) {
            s[1] |= SHCFG_INCOMING << STE_1_SHCFG_SHIFT;
        }
        long vtcrVal = (long) (vtcr.tsz() & 0x3f) << S2T0SZ_SHIFT | (long) (vtcr.sl() & 3) << S2SL0_SHIFT
                | (long) (vtcr.irgn() & 3) << STE_2_S2IR0_SHIFT | (long) (vtcr.orgn() & 3) << STE_2_S2OR0_SHIFT
                | (long) (vtcr.sh() & 3) << STE_2_S2SH0_SHIFT | (long) (vtcr.tg() & 3) << S2TG_SHIFT
                | (long) (vtcr.ps() & 7) << S2PS_SHIFT;
        s[2] = (vmid & STE_2_S2VMID_MASK) | vtcrVal | S2AA64 | STE_2_S2PTW | S2R;
        s[3] = vttbr & S2TTB_MASK;
        return s;
    }

    // ---- CD makers -------------------------------------------------------------------------

    /**
     * arm_smmu_make_s1_cd: TTB0 with the io-pgtable's TCR fields, TTB1 disabled (EPD1), AArch64,
     * R (faults recorded), A (faulting transactions aborted, not read-as-zero), ASET (the ASID
     * is not shared with the CPU's broadcast TLBIs), the domain's ASID; MAIR in word 3.
     */
    public static long[] s1Cd(int asid, ArmLpaeConfig.Tcr tcr, long ttbr, long mair, boolean stallEnabled) {
        long[] c = new long[QWORDS];
        c[0] = (tcr.tsz() & CD_0_T0SZ_MASK) | (long) (tcr.tg() & 3) << ContextDescriptor.TG0_SHIFT
                | (long) (tcr.irgn() & 3) << CD_0_IRGN0_SHIFT | (long) (tcr.orgn() & 3) << CD_0_ORGN0_SHIFT
                | (long) (tcr.sh() & 3) << CD_0_SH0_SHIFT | ContextDescriptor.EPD1 | ContextDescriptor.V
                | (long) (tcr.ips() & 7) << ContextDescriptor.IPS_SHIFT | ContextDescriptor.AA64
                | (stallEnabled ? CD_0_S : 0) | ContextDescriptor.R | ContextDescriptor.A | ContextDescriptor.ASET
                | (long) (asid & 0xFFFF) << ContextDescriptor.ASID_SHIFT;
        c[1] = ttbr & ContextDescriptor.TTB_MASK;
        c[3] = mair;
        return c;
    }

    /**
     * arm_smmu_make_sva_cd: a CD over a process page table ({@code pgd} != 0: TTB0 with the
     * CPU's TCR, {@code t0sz}, 4K granule, WBWA inner-shareable walks) or, for a released mm
     * ({@code pgd} == 0), the "quiet" CD: TTB0 disabled (EPD0) and R / S cleared so a device still
     * issuing DMA gets no fault records, with the ASID kept until its TLB entries are flushed.
     */
    public static long[] svaCd(int asid, long pgd, int t0sz, int ips, long mair, boolean stallEnabled) {
        long[] c = new long[QWORDS];
        c[0] = ContextDescriptor.V | ContextDescriptor.EPD1 | ContextDescriptor.AA64 | ContextDescriptor.R
                | ContextDescriptor.A | ContextDescriptor.ASET | (stallEnabled ? CD_0_S : 0)
                | (long) (asid & 0xFFFF) << ContextDescriptor.ASID_SHIFT;
        if (pgd != 0) {
            c[0] |= (t0sz & CD_0_T0SZ_MASK) | (long) ArmLpaeConfig.TCR_TG0_4K << ContextDescriptor.TG0_SHIFT
                    | (long) ArmLpaeConfig.TCR_RGN_WBWA << CD_0_IRGN0_SHIFT
                    | (long) ArmLpaeConfig.TCR_RGN_WBWA << CD_0_ORGN0_SHIFT
                    | (long) ArmLpaeConfig.TCR_SH_IS << CD_0_SH0_SHIFT;
            c[1] = pgd & ContextDescriptor.TTB_MASK;
        } else {
            c[0] |= ContextDescriptor.EPD0;
            c[0] &= ~(CD_0_S | ContextDescriptor.R);
        }
        c[0] |= (long) (ips & 7) << ContextDescriptor.IPS_SHIFT;
        c[3] = mair;
        return c;
    }

    // ---- used bits -------------------------------------------------------------------------

    /**
     * arm_smmu_get_ste_used: the bits the SMMU reads of an STE in its configuration. Invalid:
     * only V. Stage 1: the CD-table pointer and format, S1DSS and the CD fetch attributes, stall
     * disable, stream world, EATS, MEV, the VMID (a TLB tag), SHCFG when S1DSS bypasses. Stage 2:
     * S2FWB, EATS, SHCFG, MEV, VMID, VTCR, S2AA64 / ENDI / PTW / S / R and the table. Bypass:
     * SHCFG.
     */
    public static long[] steUsed(long[] ent) {
        long[] used = new long[QWORDS];
        used[0] = V;
        if ((ent[0] & V) == 0) {
            return used;
        }
        used[0] |= STE_0_CFG_MASK;
        int cfg = (int) ((ent[0] & STE_0_CFG_MASK) >>> CONFIG_SHIFT);
        // Config bit 0: stage 1 translates, bit 1: stage 2 (abort 0b000 and bypass 0b100 have neither).
        if ((cfg & 1) != 0) {
            used[0] |= STE_0_S1FMT_MASK | S1_CONTEXT_PTR_MASK | STE_0_S1CDMAX_MASK;
            used[1] |= STE_1_S1DSS_MASK | STE_1_S1CIR_MASK | STE_1_S1COR_MASK | STE_1_S1CSH_MASK | STE_1_S1STALLD
                    | STE_1_STRW_MASK | STE_1_EATS_MASK | STE_1_MEV;
            used[2] |= STE_2_S2VMID_MASK;
            if ((ent[1] & STE_1_S1DSS_MASK) == S1DSS_BYPASS) {
                used[1] |= STE_1_SHCFG_MASK;
            }
        }
        if ((cfg & 2) != 0) {
            used[1] |= STE_1_S2FWB | STE_1_EATS_MASK | STE_1_SHCFG_MASK | STE_1_MEV;
            used[2] |= STE_2_S2VMID_MASK | STE_2_VTCR_MASK | S2AA64 | S2ENDI | STE_2_S2PTW | STE_2_S2S | S2R;
            used[3] |= S2TTB_MASK;
        }
        if (cfg == CFG_BYPASS) {
            used[1] |= STE_1_SHCFG_MASK;
        }
        return used;
    }

    /**
     * arm_smmu_get_cd_used: an invalid CD uses only V; a valid one every bit, except that with
     * EPD0 set the TTB0 walk fields (T0SZ, TG0, IRGN0, ORGN0, SH0) and TTB0 are ignored.
     */
    public static long[] cdUsed(long[] ent) {
        long[] used = new long[QWORDS];
        used[0] = ContextDescriptor.V;
        if ((ent[0] & ContextDescriptor.V) == 0) {
            return used;
        }
        java.util.Arrays.fill(used, -1L);
        if ((ent[0] & ContextDescriptor.EPD0) != 0) {
            used[0] &= ~(CD_0_T0SZ_MASK | CD_0_TG0_MASK | CD_0_IRGN0_MASK | CD_0_ORGN0_MASK | CD_0_SH0_MASK);
            used[1] &= ~ContextDescriptor.TTB_MASK;
        }
        return used;
    }

    /** The STE layout for the hitless writer. */
    /**
     * arm_smmu_get_ste_update_safe (v6.19): MEV only changes how fault records coalesce, so it is
     * always safe; EATS = translate is safe when neither side has EATS S1CHK nor S2S (the attach
     * path has ATS off at the function whenever EATS_TRANS changes, and S2S with EATS set would be
     * an ILLEGAL STE in between).
     */
    public static long[] steUpdateSafe(long[] cur, long[] target) {
        long[] safe = new long[QWORDS];
        long s1chk = (long) StreamTableEntry.EATS_S1CHK << EATS_SHIFT;
        if (((cur[1] | target[1]) & s1chk) == 0 && ((cur[2] | target[2]) & STE_2_S2S) == 0) {
            safe[1] |= (long) StreamTableEntry.EATS_TRANS << EATS_SHIFT;
        }
        safe[1] |= STE_1_MEV;
        return safe;
    }

    public static final HitlessEntryWriter.EntryFormat STE_FORMAT = new HitlessEntryWriter.EntryFormat() {
        @Override
        public int qwords() {
            return StreamTableEntry.WORDS;
        }

        @Override
        public long[] usedBits(long[] entry) {
            return steUsed(entry);
        }

        @Override
        public long[] updateSafe(long[] cur, long[] target) {
            return steUpdateSafe(cur, target);
        }
    };

    /** The CD layout for the hitless writer. */
    public static final HitlessEntryWriter.EntryFormat CD_FORMAT = new HitlessEntryWriter.EntryFormat() {
        @Override
        public int qwords() {
            return ContextDescriptor.WORDS;
        }

        @Override
        public long[] usedBits(long[] entry) {
            return cdUsed(entry);
        }
    };

    /** STE.Config of an entry, as the driver reads it back (arm_smmu_install_ste_for_dev). */
    public static int steConfig(long[] ste) {
        return (int) ((ste[0] & STE_0_CFG_MASK) >>> CONFIG_SHIFT);
    }

    /** STE.EATS == full translation. */
    public static boolean steAtsEnabled(long[] ste) {
        return (ste[1] & STE_1_EATS_MASK) >>> EATS_SHIFT == EATS_TRANS;
    }
}
