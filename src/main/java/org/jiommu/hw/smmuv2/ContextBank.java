package org.jiommu.hw.smmuv2;

import static org.jiommu.hw.smmuv2.Smmuv2Regs.*;

import org.jiommu.hw.RegisterFile;
import org.jiommu.hw.arm.Granule;
import org.jiommu.hw.arm.Stage1Config;
import org.jiommu.hw.arm.Stage2Config;

/**
 * One translation context bank as its registers configure it, decoded once after software
 * wrote them (SMMUv2 spec 2.6, chapter 10 "Translation context bank registers"): the CBAR type
 * and VMID from GR1, SCTLR, and for an AArch64 (CBA2R.VA64) bank the stage-1 regime (TCR, TCR2,
 * TTBR0/1, MAIR0/1) or the stage-2 one (VTCR in TCR, VTTBR in TTBR0). Immutable.
 */
final class ContextBank {
    final int index;
    final int type;
    final int sctlr;
    final boolean va64;
    final int vmid;
    /** Stage 1: the bank's ASID (TTBR0's, or TTBR1's with TCR.A1), 8 bits unless TCR2.AS. */
    final int asid;
    /** TCR2.AS: 16-bit ASIDs. */
    final boolean asid16;
    final Stage1Config s1;
    final Stage2Config s2;
    /** Why the bank cannot translate as configured (reserved encodings), or null. */
    final String problem;

    private ContextBank(int index, int type, int sctlr, boolean va64, int vmid, int asid, boolean asid16,
                        Stage1Config s1, Stage2Config s2, String problem) {
        this.index = index;
        this.type = type;
        this.sctlr = sctlr;
        this.va64 = va64;
        this.vmid = vmid;
        this.asid = asid;
        this.asid16 = asid16;
        this.s1 = s1;
        this.s2 = s2;
        this.problem = problem;
    }

    boolean enabled() {
        return (sctlr & SCTLR_M) != 0;
    }

    boolean stage1() {
        return type != CBAR_TYPE_S2_TRANS;
    }

    /** Reads the bank's registers (caller holds the unit's register lock). */
    static ContextBank decode(int n, RegisterFile cb, int cbar, int cba2r, boolean vmid16) {
        int type = (cbar >>> CBAR_TYPE_SHIFT) & 3;
        int sctlr = (int) cb.get(CB_SCTLR);
        boolean va64 = (cba2r & CBA2R_VA64) != 0;
        int vmid = vmid16 ? cba2r >>> CBA2R_VMID16_SHIFT : cbar & CBAR_VMID_MASK;
        long ttbr0 = cb.get(CB_TTBR0);
        long ttbr1 = cb.get(CB_TTBR1);
        int tcr = (int) cb.get(CB_TCR);
        String problem = null;
        if (!va64) {
            problem = "AArch32 context (CBA2R.VA64 = 0) not modelled";
        }
        if (type == CBAR_TYPE_S1_TRANS_S2_TRANS || type == CBAR_TYPE_S1_TRANS_S2_FAULT) {
            problem = "CBAR type " + type + " (nested / stage-2 fault) not modelled";
        }
        long ttbAddress = (1L << 48) - 1;
        if (type == CBAR_TYPE_S2_TRANS) {
            Granule g = tg0((tcr >>> TCR_TG0_SHIFT) & 3);
            int ps = (tcr >>> VTCR_PS_SHIFT) & 7;
            if (g == null || ps > 5) {
                return new ContextBank(n, type, sctlr, va64, vmid, 0, false, null, null,
                        problem != null ? problem : "reserved VTCR.TG0 / PS");
            }
            Stage2Config s2 = Stage2Config.of(g, tcr & 0x3f, (tcr >>> VTCR_SL0_SHIFT) & 3, ttbr0 & ttbAddress,
                    Stage1Config.psBits(ps), (sctlr & SCTLR_AFFD) != 0, false);
            return new ContextBank(n, type, sctlr, va64, vmid, 0, false, null, s2,
                    problem != null ? problem : s2.problem());
        }
        int tcr2 = (int) cb.get(CB_TCR2);
        int pasize = tcr2 & TCR2_PASIZE_MASK;
        Granule g0 = tg0((tcr >>> TCR_TG0_SHIFT) & 3);
        Granule g1 = tg1((tcr >>> TCR_TG1_SHIFT) & 3);
        boolean epd0 = (tcr & TCR_EPD0) != 0;
        boolean epd1 = (tcr & TCR_EPD1) != 0;
        if ((g0 == null && !epd0) || (g1 == null && !epd1) || pasize > 5) {
            return new ContextBank(n, type, sctlr, va64, vmid, 0, false, null, null,
                    problem != null ? problem : "reserved TCR.TG0 / TG1 or TCR2.PASIZE");
        }
        long mair = (cb.get(CB_MAIR0) & 0xffffffffL) | cb.get(CB_MAIR1) << 32;
        Stage1Config s1 = Stage1Config.builder()
                .granule(0, g0 == null ? Granule.G4K : g0).tsz(0, tcr & 0x3f).ttb(0, ttbr0 & ttbAddress).epd(0, epd0)
                .granule(1, g1 == null ? Granule.G4K : g1).tsz(1, (tcr >>> TCR_T1SZ_SHIFT) & 0x3f)
                .ttb(1, ttbr1 & ttbAddress).epd(1, epd1)
                .outputSize(Stage1Config.psBits(pasize)).mair(mair)
                .accessFlagFaultDisable((sctlr & SCTLR_AFFD) != 0).build();
        int asid = (int) (((tcr & TCR_A1) != 0 ? ttbr1 : ttbr0) >>> TTBR_ASID_SHIFT);
        boolean asid16 = (tcr2 & TCR2_AS) != 0;
        if (!asid16) {
            asid &= 0xff;
        }
        return new ContextBank(n, type, sctlr, va64, vmid, asid, asid16, s1, null, problem != null ? problem : s1.problem());
    }

    /** TCR.TG0 / VTCR.TG0: 0 = 4K, 1 = 64K, 2 = 16K, 3 reserved. */
    static Granule tg0(int tg) {
        return switch (tg) {
            case 0 -> Granule.G4K;
            case 1 -> Granule.G64K;
            case 2 -> Granule.G16K;
            default -> null;
        };
    }

    /** TCR.TG1: 1 = 16K, 2 = 4K, 3 = 64K, 0 reserved. */
    static Granule tg1(int tg) {
        return switch (tg) {
            case 1 -> Granule.G16K;
            case 2 -> Granule.G4K;
            case 3 -> Granule.G64K;
            default -> null;
        };
    }

    @Override
    public String toString() {
        return "CB" + index + "{type " + type + ", SCTLR " + Integer.toHexString(sctlr) + ", VMID " + vmid
                + (s1 != null ? ", ASID " + asid + ", " + s1 : "") + (s2 != null ? ", " + s2 : "")
                + (problem != null ? ", problem: " + problem : "") + "}";
    }
}
