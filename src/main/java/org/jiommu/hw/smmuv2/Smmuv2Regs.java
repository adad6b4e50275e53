package org.jiommu.hw.smmuv2;

/**
 * Register offsets and fields of an SMMU architecture version 2 (SMMUv2 spec chapters 9 and 10;
 * the kernel's arm-smmu.h uses the same layout). The register space is 2 x NUMPAGE pages: the
 * global space (page 0 GR0, page 1 GR1, the rest implementation defined) and then one page per
 * translation context bank, bank n at page NUMPAGE + n.
 */
public final class Smmuv2Regs {
    private Smmuv2Regs() {
    }

    // ---- GR0 (page 0) ----------------------------------------------------------------------
    public static final int SCR0 = 0x000;
    public static final int SCR0_CLIENTPD = 1;
    public static final int SCR0_GFRE = 1 << 1;
    public static final int SCR0_GFIE = 1 << 2;
    public static final int SCR0_GCFGFRE = 1 << 4;
    public static final int SCR0_GCFGFIE = 1 << 5;
    /** Unidentified stream fault configuration: 1 = an unmatched stream faults, 0 = it bypasses. */
    public static final int SCR0_USFCFG = 1 << 10;
    public static final int SCR0_VMIDPNE = 1 << 11;
    public static final int SCR0_PTM = 1 << 12;
    /** Stream match conflict fault enable: a stream matching two SMRs reports sGFSR.SMCF. */
    public static final int SCR0_SMCFCFE = 1 << 21;
    public static final int SCR0_VMID16EN = 1 << 31;
    /** The sCR0 bits the model stores (the rest are RAZ/WI here). */
    static final int SCR0_RW = SCR0_CLIENTPD | SCR0_GFRE | SCR0_GFIE | SCR0_GCFGFRE | SCR0_GCFGFIE | SCR0_USFCFG
            | SCR0_VMIDPNE | SCR0_PTM | SCR0_SMCFCFE | (3 << 6) /* TRANSIENTCFG */ | (1 << 9) /* GSE */;

    public static final int IDR0 = 0x020;
    public static final int IDR0_NUMSMRG_MASK = 0xff;
    public static final int IDR0_NUMSIDB_SHIFT = 9;
    public static final int IDR0_CTTW = 1 << 14;
    /** PTFS: 2 = AArch64 (long descriptor) formats only. */
    public static final int IDR0_PTFS_NO_AARCH32 = 2 << 24;
    public static final int IDR0_SMS = 1 << 27;
    public static final int IDR0_NTS = 1 << 28;
    public static final int IDR0_S2TS = 1 << 29;
    public static final int IDR0_S1TS = 1 << 30;

    public static final int IDR1 = 0x024;
    public static final int IDR1_NUMCB_MASK = 0xff;
    public static final int IDR1_NUMS2CB_SHIFT = 16;
    public static final int IDR1_NUMPAGENDXB_SHIFT = 28;
    /** 0: 4 KiB register pages, 1: 64 KiB. */
    public static final int IDR1_PAGESIZE = 1 << 31;

    public static final int IDR2 = 0x028;
    public static final int IDR2_OAS_SHIFT = 4;
    public static final int IDR2_UBS_SHIFT = 8;
    public static final int IDR2_PTFS_4K = 1 << 12;
    public static final int IDR2_PTFS_16K = 1 << 13;
    public static final int IDR2_PTFS_64K = 1 << 14;

    /** Global fault address, status and syndromes (secure aliases are the same registers here). */
    public static final int SGFAR = 0x040;
    public static final int SGFSR = 0x048;
    public static final int SGFSR_ICF = 1;
    /** Unidentified stream fault. */
    public static final int SGFSR_USF = 1 << 1;
    /** Stream match conflict fault. */
    public static final int SGFSR_SMCF = 1 << 2;
    /** Unimplemented context bank fault. */
    public static final int SGFSR_UCBF = 1 << 3;
    public static final int SGFSR_MULTI = 1 << 31;
    static final int SGFSR_FAULTS = SGFSR_ICF | SGFSR_USF | SGFSR_SMCF | SGFSR_UCBF | (0x1f << 4);
    public static final int SGFSYNR0 = 0x050;
    public static final int SGFSYNR0_NESTED = 1;
    public static final int SGFSYNR0_WNR = 1 << 1;
    public static final int SGFSYNR0_PNU = 1 << 2;
    public static final int SGFSYNR0_IND = 1 << 3;
    /** StreamID[15:0] of the faulting transaction. */
    public static final int SGFSYNR1 = 0x054;
    public static final int SGFSYNR2 = 0x058;

    public static final int TLBIVMID = 0x064;
    public static final int TLBIALLNSNH = 0x068;
    public static final int TLBIALLH = 0x06c;
    public static final int STLBGSYNC = 0x070;
    public static final int STLBGSTATUS = 0x074;
    /** TLBSTATUS / sTLBGSTATUS: a sync is in progress. */
    public static final int TLBSTATUS_SACTIVE = 1;

    public static final int SMR_BASE = 0x800;
    public static final int SMR_VALID = 1 << 31;
    public static final int SMR_MASK_SHIFT = 16;
    public static final int SMR_ID_MASK = 0x7fff;
    public static final int S2CR_BASE = 0xc00;
    public static final int S2CR_CBNDX_MASK = 0xff;
    public static final int S2CR_TYPE_SHIFT = 16;
    public static final int S2CR_TYPE_TRANS = 0;
    public static final int S2CR_TYPE_BYPASS = 1;
    public static final int S2CR_TYPE_FAULT = 2;
    public static final int S2CR_PRIVCFG_SHIFT = 24;
    /** PRIVCFG 3: every transaction of the stream is privileged. */
    public static final int S2CR_PRIVCFG_PRIV = 3;

    // ---- GR1 (page 1), offsets within the page ---------------------------------------------
    public static final int CBAR_BASE = 0x000;
    public static final int CBAR_VMID_MASK = 0xff;
    public static final int CBAR_TYPE_SHIFT = 16;
    public static final int CBAR_TYPE_S2_TRANS = 0;
    public static final int CBAR_TYPE_S1_TRANS_S2_BYPASS = 1;
    public static final int CBAR_TYPE_S1_TRANS_S2_FAULT = 2;
    public static final int CBAR_TYPE_S1_TRANS_S2_TRANS = 3;
    /** Stream id (and SSD index) of the last fault recorded by context bank n. */
    public static final int CBFRSYNRA_BASE = 0x400;
    public static final int CBA2R_BASE = 0x800;
    public static final int CBA2R_VA64 = 1;
    public static final int CBA2R_VMID16_SHIFT = 16;

    // ---- a context bank's page -------------------------------------------------------------
    public static final int CB_SCTLR = 0x00;
    public static final int SCTLR_M = 1;
    public static final int SCTLR_TRE = 1 << 1;
    public static final int SCTLR_AFE = 1 << 2;
    public static final int SCTLR_AFFD = 1 << 3;
    public static final int SCTLR_E = 1 << 4;
    public static final int SCTLR_CFRE = 1 << 5;
    public static final int SCTLR_CFIE = 1 << 6;
    /** Context fault configuration: 1 = stall, 0 = terminate. */
    public static final int SCTLR_CFCFG = 1 << 7;
    public static final int SCTLR_HUPCF = 1 << 8;
    public static final int SCTLR_ASIDPNE = 1 << 12;
    public static final int CB_ACTLR = 0x04;
    public static final int CB_RESUME = 0x08;
    public static final int RESUME_TERMINATE = 1;
    public static final int CB_TCR2 = 0x10;
    public static final int TCR2_PASIZE_MASK = 0xf;
    /** 16-bit ASIDs. */
    public static final int TCR2_AS = 1 << 4;
    public static final int TCR2_SEP_SHIFT = 15;
    public static final int TCR2_SEP_UPSTREAM = 7;
    public static final int CB_TTBR0 = 0x20;
    public static final int CB_TTBR1 = 0x28;
    public static final int TTBR_ASID_SHIFT = 48;
    public static final int CB_TCR = 0x30;
    public static final int TCR_EPD0 = 1 << 7;
    public static final int TCR_TG0_SHIFT = 14;
    public static final int TCR_T1SZ_SHIFT = 16;
    /** The ASID comes from TTBR1 instead of TTBR0. */
    public static final int TCR_A1 = 1 << 22;
    public static final int TCR_EPD1 = 1 << 23;
    public static final int TCR_TG1_SHIFT = 30;
    /** VTCR (stage-2 banks, same offset): SL0[7:6], PS[18:16]. */
    public static final int VTCR_SL0_SHIFT = 6;
    public static final int VTCR_PS_SHIFT = 16;
    public static final int CB_CONTEXTIDR = 0x34;
    public static final int CB_MAIR0 = 0x38;
    public static final int CB_MAIR1 = 0x3c;
    public static final int CB_PAR = 0x50;
    public static final int CB_FSR = 0x58;
    public static final int FSR_TF = 1 << 1;
    public static final int FSR_AFF = 1 << 2;
    public static final int FSR_PF = 1 << 3;
    public static final int FSR_EF = 1 << 4;
    public static final int FSR_TLBMCF = 1 << 5;
    public static final int FSR_TLBLKF = 1 << 6;
    public static final int FSR_ASF = 1 << 7;
    public static final int FSR_UUT = 1 << 8;
    public static final int FSR_SS = 1 << 30;
    public static final int FSR_MULTI = 1 << 31;
    /** The fault bits (a recorded fault; MULTI and SS are status). */
    public static final int FSR_FAULTS = FSR_TF | FSR_AFF | FSR_PF | FSR_EF | FSR_TLBMCF | FSR_TLBLKF | FSR_ASF
            | FSR_UUT;
    public static final int CB_FAR = 0x60;
    public static final int CB_FSYNR0 = 0x68;
    public static final int FSYNR0_PLVL_MASK = 3;
    public static final int FSYNR0_WNR = 1 << 4;
    public static final int FSYNR0_PNU = 1 << 5;
    public static final int FSYNR0_IND = 1 << 6;
    public static final int FSYNR0_NSATTR = 1 << 8;
    /** The fault was met on a translation-table walk (a descriptor fetch). */
    public static final int FSYNR0_PTWF = 1 << 10;
    public static final int CB_FSYNR1 = 0x6c;
    public static final int CB_TLBIVA = 0x600;
    public static final int CB_TLBIVAA = 0x608;
    public static final int CB_TLBIASID = 0x610;
    public static final int CB_TLBIALL = 0x618;
    public static final int CB_TLBIVAL = 0x620;
    public static final int CB_TLBIVAAL = 0x628;
    public static final int CB_TLBIIPAS2 = 0x630;
    public static final int CB_TLBIIPAS2L = 0x638;
    public static final int CB_TLBSYNC = 0x7f0;
    public static final int CB_TLBSTATUS = 0x7f4;

    /** SMR value (no EXIDS): VALID | MASK << 16 | ID. */
    public static int smr(int id, int mask, boolean valid) {
        return (valid ? SMR_VALID : 0) | (mask & SMR_ID_MASK) << SMR_MASK_SHIFT | (id & SMR_ID_MASK);
    }

    /** S2CR value: TYPE << 16 | CBNDX. */
    public static int s2cr(int type, int cbndx) {
        return type << S2CR_TYPE_SHIFT | (cbndx & S2CR_CBNDX_MASK);
    }
}
