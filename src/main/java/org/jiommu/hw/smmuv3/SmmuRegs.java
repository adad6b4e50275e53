package org.jiommu.hw.smmuv3;

/**
 * SMMUv3 register offsets and fields (IHI 0070, chapter 6 "Memory map and registers"). Page 0
 * holds the configuration registers; the event and PRI queue PROD/CONS live in page 1
 * (offset 0x10000), as the spec's 64 KiB register pages put them. Names as in the spec (and in
 * the kernel's arm-smmu-v3.h, which uses the same words).
 */
public final class SmmuRegs {
    private SmmuRegs() {
    }

    /** Register space modelled: pages 0 and 1. */
    public static final int SIZE = 0x20000;
    public static final int PAGE1 = 0x10000;

    public static final int IDR0 = 0x00;
    public static final int IDR1 = 0x04;
    public static final int IDR2 = 0x08;
    public static final int IDR3 = 0x0C;
    public static final int IDR4 = 0x10;
    public static final int IDR5 = 0x14;
    public static final int IIDR = 0x18;
    public static final int AIDR = 0x1C;
    public static final int CR0 = 0x20;
    public static final int CR0ACK = 0x24;
    public static final int CR1 = 0x28;
    public static final int CR2 = 0x2C;
    public static final int STATUSR = 0x40;
    public static final int GBPA = 0x44;
    public static final int IRQ_CTRL = 0x50;
    public static final int IRQ_CTRLACK = 0x54;
    public static final int GERROR = 0x60;
    public static final int GERRORN = 0x64;
    public static final int STRTAB_BASE = 0x80;
    public static final int STRTAB_BASE_CFG = 0x88;
    public static final int CMDQ_BASE = 0x90;
    public static final int CMDQ_PROD = 0x98;
    public static final int CMDQ_CONS = 0x9C;
    public static final int EVTQ_BASE = 0xA0;
    public static final int EVTQ_PROD = PAGE1 + 0xA8;
    public static final int EVTQ_CONS = PAGE1 + 0xAC;
    public static final int PRIQ_BASE = 0xC0;
    public static final int PRIQ_PROD = PAGE1 + 0xC8;
    public static final int PRIQ_CONS = PAGE1 + 0xCC;

    // IDR0 (6.3.1)
    public static final int IDR0_S2P = 1;
    public static final int IDR0_S1P = 1 << 1;
    /** TTF[3:2]: 0b10 = AArch64 tables only. */
    public static final int IDR0_TTF_AARCH64 = 2 << 2;
    public static final int IDR0_COHACC = 1 << 4;
    public static final int IDR0_HYP = 1 << 9;
    public static final int IDR0_ATS = 1 << 10;
    public static final int IDR0_ASID16 = 1 << 12;
    public static final int IDR0_MSI = 1 << 13;
    public static final int IDR0_PRI = 1 << 16;
    public static final int IDR0_VMID16 = 1 << 18;
    public static final int IDR0_CD2L = 1 << 19;
    /** STALL_MODEL[25:24] = 0b01: stall not supported. */
    public static final int IDR0_STALL_NONE = 1 << 24;
    /** ST_LEVEL[28:27] = 0b01: 2-level stream table supported. */
    public static final int IDR0_ST_LEVEL_2LVL = 1 << 27;

    // IDR1 (6.3.2)
    public static final int IDR1_SIDSIZE_SHIFT = 0;
    public static final int IDR1_SSIDSIZE_SHIFT = 6;
    public static final int IDR1_PRIQS_SHIFT = 11;
    public static final int IDR1_EVTQS_SHIFT = 16;
    public static final int IDR1_CMDQS_SHIFT = 21;

    // IDR3 (6.3.4)
    public static final int IDR3_RIL = 1 << 10;

    // IDR5 (6.3.6)
    public static final int IDR5_GRAN4K = 1 << 4;
    public static final int IDR5_GRAN16K = 1 << 5;
    public static final int IDR5_GRAN64K = 1 << 6;

    // CR0 (6.3.9)
    public static final int CR0_SMMUEN = 1;
    public static final int CR0_PRIQEN = 1 << 1;
    public static final int CR0_EVTQEN = 1 << 2;
    public static final int CR0_CMDQEN = 1 << 3;
    public static final int CR0_ATSCHK = 1 << 4;

    // GBPA (6.3.14)
    public static final int GBPA_ABORT = 1 << 20;
    public static final int GBPA_UPDATE = 1 << 31;

    // GERROR (6.3.17)
    public static final int GERROR_CMDQ_ERR = 1;
    public static final int GERROR_EVTQ_ABT_ERR = 1 << 2;
    public static final int GERROR_PRIQ_ABT_ERR = 1 << 3;

    // STRTAB_BASE / _CFG (6.3.23, 6.3.24)
    public static final long STRTAB_BASE_ADDR_MASK = 0x000F_FFFF_FFFF_FFC0L;
    public static final int STRTAB_CFG_FMT_SHIFT = 16;
    public static final int STRTAB_CFG_FMT_LINEAR = 0;
    public static final int STRTAB_CFG_FMT_2LVL = 1;
    public static final int STRTAB_CFG_SPLIT_SHIFT = 6;

    // Q_BASE (6.3.25): ADDR[51:5], LOG2SIZE[4:0]
    public static final long Q_BASE_ADDR_MASK = 0x000F_FFFF_FFFF_FFE0L;
    public static final int Q_BASE_LOG2SIZE_MASK = 0x1F;

    /** CMDQ_CONS.ERR[30:24] (6.3.27). */
    public static final int CMDQ_CONS_ERR_SHIFT = 24;
    public static final int CERROR_NONE = 0;
    public static final int CERROR_ILL = 1;
    public static final int CERROR_ABT = 2;
    /** EVTQ_PROD.OVFLG / PRIQ_PROD.OVFLG and the CONS registers' OVACKFLG: bit 31. */
    public static final int Q_OVFLG = 1 << 31;

    /** The queue pointer bits of a PROD / CONS value: index and wrap (up to 2^20 entries). */
    public static final int Q_PTR_MASK = 0x1F_FFFF;
}
