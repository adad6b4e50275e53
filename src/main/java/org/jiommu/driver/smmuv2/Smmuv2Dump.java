package org.jiommu.driver.smmuv2;

import static org.jiommu.hw.smmuv2.Smmuv2Regs.*;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jiommu.bus.Device;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.hw.smmuv2.Smmuv2Unit;
import org.jiommu.platform.IommuUnits;
import org.jiommu.platform.Text;

/**
 * {@code hw_dump} of an SMMUv2, read back from its registers as the hardware holds them: sCR0,
 * the valid stream-match entries (SMR id/mask, S2CR type and bank, the masters using them),
 * then every enabled context bank (SCTLR.M) with CBAR, TCR/TCR2, TTBR0/1 split into base and
 * ASID, MAIR0, and its fault syndrome (FSR, FAR, FSYNR0), with the domain the driver holds it for
 * and the aux tables set up in it (the one TTBR0 holds marked).
 */
final class Smmuv2Dump {
    private Smmuv2Dump() {
    }

    static String dump(Smmuv2Driver drv, List<Device> devs, IommuUnits.DomainLabels labels) {
        Smmuv2Unit u = drv.unit();
        StringBuilder sb = new StringBuilder();
        int scr0 = u.readl(SCR0);
        int numSmr = u.readl(IDR0) & IDR0_NUMSMRG_MASK;
        int numCb = u.readl(IDR1) & IDR1_NUMCB_MASK;
        sb.append(String.format("smmuv2 %s: sCR0 %#x (client port %s, unmatched streams %s), %d SMRs, %d context banks%n",
                drv.iommu().name(), scr0, (scr0 & SCR0_CLIENTPD) != 0 ? "disabled" : "enabled",
                (scr0 & SCR0_USFCFG) != 0 ? "fault" : "bypass", numSmr, numCb));
        // which masters use each stream-map entry, and which domain each bank serves
        Map<Integer, List<String>> users = new LinkedHashMap<>();
        Map<Integer, String> bankDomain = new LinkedHashMap<>();
        Map<Device, IommuDomain> attached = drv.attachedDomains();
        for (Device dev : devs) {
            for (int idx : drv.streamMapEntries(dev)) {
                users.computeIfAbsent(idx, k -> new ArrayList<>()).add(dev.name());
            }
            IommuDomain d = attached.get(dev);
            int cb = d == null ? -1 : drv.contextBank(d);
            if (cb >= 0) {
                bankDomain.putIfAbsent(cb, labels.label(dev, d));
            }
        }
        sb.append("stream match (SMR: id mask  S2CR: type  <- masters)\n");
        int shown = 0;
        for (int i = 0; i < numSmr; i++) {
            int smr = u.readl(SMR_BASE + 4 * i);
            if ((smr & SMR_VALID) == 0) {
                continue;
            }
            shown++;
            int s2cr = u.readl(S2CR_BASE + 4 * i);
            sb.append(String.format("  SMR%-3d id %#06x mask %#06x  S2CR %#010x %-14s <- %s%n", i, smr & SMR_ID_MASK,
                    smr >>> SMR_MASK_SHIFT & SMR_ID_MASK, s2cr, s2crType(s2cr),
                    String.join(", ", users.getOrDefault(i, List.of("?")))));
        }
        if (shown == 0) {
            sb.append("  (no valid SMRs)\n");
        }
        sb.append("context banks (enabled)\n");
        shown = 0;
        for (int n = 0; n < numCb; n++) {
            long cb = u.cbOffset(n);
            int sctlr = u.readl(cb + CB_SCTLR);
            if ((sctlr & SCTLR_M) == 0) {
                continue;
            }
            shown++;
            int cbar = u.readl(u.gr1Offset() + CBAR_BASE + 4 * n);
            long ttbr0 = u.readq(cb + CB_TTBR0);
            long ttbr1 = u.readq(cb + CB_TTBR1);
            int tcr = u.readl(cb + CB_TCR);
            int fsr = u.readl(cb + CB_FSR);
            sb.append(String.format("  CB%-3d <- %s%n", n, bankDomain.getOrDefault(n, "(no master's domain)")));
            sb.append(String.format("        SCTLR %#x  CBAR %#x (%s, VMID %d)  CBA2R %#x  TCR2 %#x%n", sctlr, cbar,
                    cbarType(cbar), cbar & CBAR_VMID_MASK, u.readl(u.gr1Offset() + CBA2R_BASE + 4 * n),
                    u.readl(cb + CB_TCR2)));
            sb.append(String.format("        TCR %#x (%s%s)  MAIR0 %#x%n", tcr,
                    (tcr & TCR_EPD0) != 0 ? "TTBR0 walks disabled" : "T0SZ " + (tcr & 0x3f),
                    (tcr & TCR_EPD1) != 0 ? ", TTBR1 walks disabled" : ", T1SZ " + (tcr >>> TCR_T1SZ_SHIFT & 0x3f),
                    u.readl(cb + CB_MAIR0)));
            sb.append(String.format("        TTBR0 %s ASID %d  TTBR1 %s ASID %d%n", Text.format(ttbr0 & ((1L << 48) - 1)),
                    ttbr0 >>> TTBR_ASID_SHIFT, Text.format(ttbr1 & ((1L << 48) - 1)), ttbr1 >>> TTBR_ASID_SHIFT));
            List<String> aux = new ArrayList<>();
            for (IommuDomain a : drv.auxDomainsIn(n)) {
                long root = drv.tableRoot(a);
                aux.add(labels.label(null, a) + " " + Text.format(root)
                        + ((tcr & TCR_EPD0) == 0 && root == (ttbr0 & ((1L << 48) - 1)) ? " (in TTBR0)" : ""));
            }
            if (!aux.isEmpty()) {
                sb.append("        aux tables: ").append(String.join(", ", aux)).append('\n');
            }
            sb.append(String.format("        FSR %#x%s", fsr, fsrWords(fsr)));
            if ((fsr & FSR_FAULTS) != 0) {
                sb.append(String.format("  FAR %s  FSYNR0 %#x", Text.format(u.readq(cb + CB_FAR)), u.readl(cb + CB_FSYNR0)));
            }
            sb.append('\n');
        }
        if (shown == 0) {
            sb.append("  (none)\n");
        }
        return sb.toString().stripTrailing();
    }

    private static String s2crType(int s2cr) {
        return switch (s2cr >>> S2CR_TYPE_SHIFT & 3) {
            case S2CR_TYPE_TRANS -> "translate CB" + (s2cr & S2CR_CBNDX_MASK);
            case S2CR_TYPE_BYPASS -> "bypass";
            case S2CR_TYPE_FAULT -> "fault";
            default -> "reserved";
        };
    }

    private static String cbarType(int cbar) {
        return switch (cbar >>> CBAR_TYPE_SHIFT & 3) {
            case CBAR_TYPE_S2_TRANS -> "S2";
            case CBAR_TYPE_S1_TRANS_S2_BYPASS -> "S1, S2 bypass";
            case CBAR_TYPE_S1_TRANS_S2_FAULT -> "S1, S2 fault";
            default -> "S1+S2";
        };
    }

    /** The FSR's fault bits by name (SMMUv2 spec, SMMU_CBn_FSR). */
    private static String fsrWords(int fsr) {
        List<String> w = new ArrayList<>();
        String[] names = {"TF", "AFF", "PF", "EF", "TLBMCF", "TLBLKF", "ASF", "UUT"};
        for (int b = 1; b <= 8; b++) {
            if ((fsr & 1 << b) != 0) {
                w.add(names[b - 1]);
            }
        }
        if ((fsr & FSR_SS) != 0) {
            w.add("SS");
        }
        if ((fsr & FSR_MULTI) != 0) {
            w.add("MULTI");
        }
        return w.isEmpty() ? "" : " (" + String.join(" ", w) + ")";
    }
}
