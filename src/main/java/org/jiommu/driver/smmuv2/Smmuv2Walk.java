package org.jiommu.driver.smmuv2;

import static org.jiommu.hw.smmuv2.Smmuv2Regs.*;

import org.jiommu.driver.common.ArmLevels;
import org.jiommu.hw.smmuv2.Smmuv2Unit;
import org.jiommu.mem.PhysicalMemory;
import org.jiommu.platform.HwWalk;
import org.jiommu.platform.Text;

/**
 * The walk an SMMUv2 does for one request, read from its registers and memory (SMMUv2 spec
 * 2.4, 9.6, 10.6): the SMR the stream id matches, its S2CR, the context bank's SCTLR, CBAR,
 * TCR and TTBR0 (or TTBR1), then the VMSAv8-64 descriptors. Registers are 32-bit except the
 * TTBRs; each shows as one word. Without stream matching groups (no SMRs) the stream id
 * indexes the S2CRs directly.
 */
final class Smmuv2Walk {
    private Smmuv2Walk() {
    }

    static HwWalk walk(Smmuv2Unit u, PhysicalMemory mem, int sid, long iova) {
        HwWalk.Builder b = new HwWalk.Builder(u.name(), sid);
        int scr0 = u.readl(SCR0);
        b.entry("sCR0", -1, scr0 & 0xffffffffL).field("CLIENTPD", (scr0 & SCR0_CLIENTPD) != 0)
                .field("USFCFG", (scr0 & SCR0_USFCFG) != 0 ? "fault" : "bypass");
        if ((scr0 & SCR0_CLIENTPD) != 0) {
            return b.end("client port disabled: bypass " + Text.format(iova), iova);
        }
        int numSmr = u.readl(IDR0) & IDR0_NUMSMRG_MASK;
        int idx = -1;
        for (int i = 0; i < numSmr; i++) {
            int smr = u.readl(SMR_BASE + 4 * i);
            int care = ~(smr >>> SMR_MASK_SHIFT) & SMR_ID_MASK;
            if ((smr & SMR_VALID) != 0 && ((sid ^ smr) & care) == 0) {
                idx = i;
                b.entry("SMR" + i, -1, smr & 0xffffffffL).field("VALID", true).field("ID", smr & SMR_ID_MASK)
                        .field("MASK", smr >>> SMR_MASK_SHIFT & SMR_ID_MASK);
                break;
            }
        }
        if (idx < 0) {
            return b.end("no SMR matches stream " + sid + ": " + ((scr0 & SCR0_USFCFG) != 0 ? "fault" : "bypass"),
                    (scr0 & SCR0_USFCFG) != 0 ? -1 : iova);
        }
        int s2cr = u.readl(S2CR_BASE + 4 * idx);
        int type = s2cr >>> S2CR_TYPE_SHIFT & 3;
        int n = s2cr & S2CR_CBNDX_MASK;
        b.entry("S2CR" + idx, -1, s2cr & 0xffffffffL)
                .field("TYPE", type == S2CR_TYPE_TRANS ? "translate" : type == S2CR_TYPE_BYPASS ? "bypass" : "fault")
                .field("CBNDX", n);
        if (type == S2CR_TYPE_BYPASS) {
            return b.end("bypass: " + Text.format(iova), iova);
        }
        if (type != S2CR_TYPE_TRANS) {
            return b.end("S2CR fault", -1);
        }
        long cb = u.cbOffset(n);
        int sctlr = u.readl(cb + CB_SCTLR);
        int cbar = u.readl(u.gr1Offset() + CBAR_BASE + 4 * n);
        int tcr = u.readl(cb + CB_TCR);
        int cbType = cbar >>> CBAR_TYPE_SHIFT & 3;
        b.entry("CB" + n + " SCTLR", -1, sctlr & 0xffffffffL).field("M", (sctlr & SCTLR_M) != 0);
        b.entry("CB" + n + " CBAR", -1, cbar & 0xffffffffL).field("TYPE", cbType == CBAR_TYPE_S2_TRANS ? "S2" : "S1")
                .field("VMID", cbar & CBAR_VMID_MASK);
        if ((sctlr & SCTLR_M) == 0) {
            return b.end("context bank " + n + " translation off: bypass " + Text.format(iova), iova);
        }
        b.entry("CB" + n + " TCR", -1, tcr & 0xffffffffL).field("T0SZ", tcr & 0x3f)
                .field("TG0", tcr >>> TCR_TG0_SHIFT & 3);
        int g0 = switch (tcr >>> TCR_TG0_SHIFT & 3) {
            case 1 -> 16;
            case 2 -> 14;
            default -> 12;
        };
        if (cbType == CBAR_TYPE_S2_TRANS) {
            long vttbr = u.readq(cb + CB_TTBR0);
            int sl0 = tcr >>> VTCR_SL0_SHIFT & 3;
            b.field("SL0", sl0);
            b.entry("CB" + n + " TTBR0 (VTTBR)", -1, vttbr).field("BADDR", vttbr & ((1L << 48) - 1));
            int start = (g0 == 12 ? 2 : 3) - sl0;
            return ArmLevels.walk(b, mem, vttbr & ((1L << 48) - 1), 64 - (tcr & 0x3f), g0, start, iova);
        }
        boolean upper = iova < 0;
        long ttbr = u.readq(cb + (upper ? CB_TTBR1 : CB_TTBR0));
        b.entry("CB" + n + (upper ? " TTBR1" : " TTBR0"), -1, ttbr).field("BADDR", ttbr & ((1L << 48) - 1))
                .field("ASID", ttbr >>> TTBR_ASID_SHIFT);
        if (upper) {
            int t1sz = tcr >>> TCR_T1SZ_SHIFT & 0x3f;
            int g1 = switch (tcr >>> TCR_TG1_SHIFT & 3) {
                case 1 -> 14;
                case 3 -> 16;
                default -> 12;
            };
            if ((tcr & TCR_EPD1) != 0) {
                return b.end("TTBR1 walks disabled (TCR.EPD1): fault", -1);
            }
            return ArmLevels.walk(b, mem, ttbr & ((1L << 48) - 1), 64 - t1sz, g1, iova & ((1L << (64 - t1sz)) - 1));
        }
        return ArmLevels.walk(b, mem, ttbr & ((1L << 48) - 1), 64 - (tcr & 0x3f), g0, iova);
    }
}
