package org.jiommu.driver.smmuv3;

import static org.jiommu.hw.smmuv3.SmmuRegs.*;

import java.util.List;
import java.util.Map;
import org.jiommu.bus.Device;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.hw.smmuv3.ContextDescriptor;
import org.jiommu.hw.smmuv3.StreamTableEntry;
import org.jiommu.platform.IommuUnits;

/**
 * {@code hw_dump} of one SMMUv3: CR0 and the stream table's format, then for each master each
 * stream id's STE read from memory and decoded by the hardware model (config, CD table, S1DSS,
 * EATS, VMID, stage-2 table, S1STALLD), the CDs it reaches (ASID, TTB0, T0SZ / TG0 / IPS, EPD0, S), each with
 * the domain the driver put there.
 */
final class Smmuv3Dump {
    private Smmuv3Dump() {
    }

    /**
     * @param sourceId the stream id a device's requests carry (a released device is still on the
     *     wire: its STE is shown too)
     */
    static String dump(Smmuv3Driver d, List<Device> devices, IommuUnits.DomainLabels labels,
                       java.util.function.ToIntFunction<Device> sourceId) {
        StringBuilder sb = new StringBuilder();
        int cr0 = d.unit().readRegister32(CR0ACK);
        long cfg = d.strtabBaseCfg();
        sb.append(String.format("%s: CR0ACK %#x (SMMUEN %d, CMDQEN %d, EVTQEN %d, PRIQEN %d, ATSCHK %d);"
                        + " stream table %s, %d SID bits%n", d.iommu().name(), cr0, cr0 & 1, cr0 >> 3 & 1,
                cr0 >> 2 & 1, cr0 >> 1 & 1, cr0 >> 4 & 1,
                (cfg >>> STRTAB_CFG_FMT_SHIFT & 3) == STRTAB_CFG_FMT_2LVL ? "2-level" : "linear", cfg & 0x3f));
        for (Device dev : devices) {
            int[] sids = d.streamIds(dev);
            if (sids.length == 0) {
                int sid = sourceId.applyAsInt(dev);
                long[] w = d.ste(sid);
                sb.append(String.format("  %s sid %#x: not probed%s%n", dev.name(), sid, w == null ? ""
                        : ", STE " + ste(StreamTableEntry.decode(w, d.unit().features()), w)));
                continue;
            }
            for (int sid : sids) {
                long[] w = d.ste(sid);
                StreamTableEntry ste = StreamTableEntry.decode(w, d.unit().features());
                sb.append(String.format("  %s sid %#x: STE %s%s%n", dev.name(), sid, ste(ste, w),
                        label(labels, dev, d.ridDomain(dev))));
            }
            long[] cd0 = d.cd(dev, 0);
            if (cd0 != null && (cd0[0] & ContextDescriptor.V) != 0) {
                sb.append(String.format("    CD 0: %s%s%n", cd(cd0, d), label(labels, dev, d.ridDomain(dev))));
            }
            for (Map.Entry<Integer, IommuDomain> e : d.pasidDomains(dev).entrySet()) {
                long[] c = d.cd(dev, e.getKey());
                sb.append(String.format("    CD %d: %s%s%n", e.getKey(), c == null ? "none" : cd(c, d),
                        label(labels, dev, e.getValue())));
            }
        }
        return sb.toString();
    }

    private static String label(IommuUnits.DomainLabels labels, Device dev, IommuDomain d) {
        return d == null ? "" : " -> " + labels.label(dev, d);
    }

    private static String ste(StreamTableEntry s, long[] w) {
        if (s.illegal != null) {
            return "ILLEGAL (" + s.illegal + ")";
        }
        StringBuilder sb = new StringBuilder(switch (s.config) {
            case ABORT -> "abort";
            case BYPASS -> "bypass";
            case S1_TRANSLATE -> "stage 1";
            case S2_TRANSLATE -> "stage 2";
            case NESTED -> "nested";
        });
        if (s.stage1()) {
            sb.append(String.format(", CD table %#x %s, S1CDMax %d", s.s1ContextPtr,
                    s.s1Fmt == StreamTableEntry.S1FMT_LINEAR ? "linear" : "2-level", s.s1CdMax));
            if (s.s1CdMax > 0) {
                // With one CD (S1CDMax 0) S1DSS is ignored: requests without SubstreamID use CD 0.
                sb.append(", S1DSS ").append(switch (s.s1Dss) {
                    case StreamTableEntry.S1DSS_BYPASS -> "bypass";
                    case StreamTableEntry.S1DSS_SSID0 -> "substream 0";
                    default -> "terminate";
                });
            }
            if (s.s1Stalld) {
                // arm_smmu_make_cdtable_ste: a master that may not stall, on an SMMU that can
                sb.append(", S1STALLD");
            }
        }
        if (s.stage2()) {
            sb.append(String.format(", VMID %d, S2TTB %#x", s.vmid, w[3] & StreamTableEntry.S2TTB_MASK));
        }
        if (s.stage1() || s.stage2()) {
            sb.append(s.eats == StreamTableEntry.EATS_TRANS ? ", EATS translate" : ", EATS off");
        }
        return sb.toString();
    }

    private static String cd(long[] w, Smmuv3Driver d) {
        ContextDescriptor c = ContextDescriptor.decode(w, d.unit().features());
        if (c.illegal != null) {
            return (w[0] & ContextDescriptor.V) == 0 ? "invalid" : "ILLEGAL (" + c.illegal + ")";
        }
        boolean epd0 = (w[0] & ContextDescriptor.EPD0) != 0;
        return String.format("ASID %d, %s, T0SZ %d, TG0 %d, IPS %d%s", c.asid,
                epd0 ? "TTB0 disabled (EPD0)" : String.format("TTB0 %#x", w[1] & ContextDescriptor.TTB_MASK),
                w[0] & 0x3f, w[0] >>> ContextDescriptor.TG0_SHIFT & 3, w[0] >>> ContextDescriptor.IPS_SHIFT & 7,
                c.stall ? ", S (faults stall)" : "");
    }
}
