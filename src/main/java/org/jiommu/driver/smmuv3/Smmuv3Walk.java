package org.jiommu.driver.smmuv3;

import static org.jiommu.hw.smmuv3.SmmuRegs.*;

import org.jiommu.bus.dma.DmaTranslator;
import org.jiommu.driver.common.ArmLevels;
import org.jiommu.hw.arm.Granule;
import org.jiommu.hw.smmuv3.ContextDescriptor;
import org.jiommu.hw.smmuv3.SmmuV3Unit;
import org.jiommu.hw.smmuv3.StreamTableEntry;
import org.jiommu.mem.MemoryFault;
import org.jiommu.mem.PhysicalMemory;
import org.jiommu.platform.HwWalk;
import org.jiommu.platform.Text;

/**
 * The walk an SMMUv3 does for one request, read from its registers and memory (IHI 0070 3.3,
 * 5.2, 5.4): CR0.SMMUEN and GBPA, STRTAB_BASE/_CFG, the level-1 descriptor of a 2-level stream
 * table, the STE, then for stage 1 the (level-1 and) CD the SubstreamID selects and the
 * VMSAv8-64 descriptors from TTB0/TTB1; for stage 2 only the descriptors from S2TTB. The STE
 * and CD are judged by the hardware's own decoders ({@link StreamTableEntry#decode},
 * {@link ContextDescriptor#decode}), so an entry the SMMU would report as C_BAD_STE or C_BAD_CD
 * ends the walk the same way. Nested walks stop after the CD (its table addresses are IPAs).
 */
final class Smmuv3Walk {
    private Smmuv3Walk() {
    }

    static HwWalk walk(SmmuV3Unit u, PhysicalMemory mem, int sid, int pasid, long iova) {
        HwWalk.Builder b = new HwWalk.Builder(u.name(), sid);
        int cr0 = u.readRegister32(CR0);
        b.entry("CR0", -1, cr0 & 0xffffffffL).field("SMMUEN", (cr0 & 1) != 0);
        if ((cr0 & 1) == 0) {
            int gbpa = u.readRegister32(GBPA);
            boolean abort = (gbpa & (1 << 20)) != 0;
            b.entry("GBPA", -1, gbpa & 0xffffffffL).field("ABORT", abort);
            return abort ? b.end("SMMU disabled, GBPA.ABORT: aborted", -1)
                    : b.end("SMMU disabled: bypass " + Text.format(iova), iova);
        }
        long base = u.readRegister64(STRTAB_BASE);
        int cfg = u.readRegister32(STRTAB_BASE_CFG);
        boolean twoLevel = (cfg >>> STRTAB_CFG_FMT_SHIFT & 3) == STRTAB_CFG_FMT_2LVL;
        int log2Size = cfg & 0x3f;
        int split = cfg >>> STRTAB_CFG_SPLIT_SHIFT & 0x1f;
        b.entry("STRTAB_BASE", -1, base).field("ADDR", base & STRTAB_BASE_ADDR_MASK);
        b.entry("STRTAB_BASE_CFG", -1, cfg & 0xffffffffL).field("FMT", twoLevel ? "2-level" : "linear")
                .field("LOG2SIZE", log2Size).field("SPLIT", split);
        if (log2Size < 32 && (sid & 0xffffffffL) >>> log2Size != 0) {
            return b.end("StreamID beyond LOG2SIZE: C_BAD_STREAMID", -1);
        }
        long steAddr;
        try {
            if (twoLevel) {
                long l1Addr = (base & STRTAB_BASE_ADDR_MASK) + ((sid & 0xffffffffL) >>> split << 3);
                long l1 = mem.readLong(l1Addr);
                int span = (int) l1 & 0x1f;
                int index = sid & ((1 << split) - 1);
                b.entry("L1STD [" + (sid >>> split) + "]", l1Addr, l1).field("Span", span)
                        .field("L2Ptr", l1 & STRTAB_BASE_ADDR_MASK);
                if (span == 0 || span > split + 1 || index >>> (span - 1) != 0) {
                    return b.end("L1STD.Span does not cover the StreamID: C_BAD_STREAMID", -1);
                }
                steAddr = (l1 & STRTAB_BASE_ADDR_MASK) + ((long) index << 6);
            } else {
                steAddr = (base & STRTAB_BASE_ADDR_MASK) + ((sid & 0xffffffffL) << 6);
            }
            long[] w = read(mem, steAddr, StreamTableEntry.WORDS);
            StreamTableEntry ste = StreamTableEntry.decode(w, u.features());
            int config = (int) (w[0] >>> StreamTableEntry.CONFIG_SHIFT) & 7;
            b.entry("STE (StreamID " + sid + ")", steAddr, w).field("V", (w[0] & StreamTableEntry.V) != 0)
                    .field("Config", ste.illegal != null ? Integer.toBinaryString(config) : ste.config.name());
            if (ste.illegal != null) {
                return b.end("C_BAD_STE: " + ste.illegal, -1);
            }
            switch (ste.config) {
                case ABORT:
                    return b.end("STE.Config abort: F_STREAM_DISABLED", -1);
                case BYPASS:
                    return b.end("bypass: " + Text.format(iova), iova);
                default:
                    break;
            }
            if (ste.stage1()) {
                b.field("S1ContextPtr", ste.s1ContextPtr).field("S1Fmt", ste.s1Fmt).field("S1CDMax", ste.s1CdMax)
                        .field("S1DSS", ste.s1Dss);
            }
            if (ste.stage2()) {
                b.field("S2VMID", ste.vmid).field("S2T0SZ", w[2] >>> StreamTableEntry.S2T0SZ_SHIFT & 0x3f)
                        .field("S2SL0", w[2] >>> StreamTableEntry.S2SL0_SHIFT & 3)
                        .field("S2TG", w[2] >>> StreamTableEntry.S2TG_SHIFT & 3)
                        .field("S2TTB", w[3] & StreamTableEntry.S2TTB_MASK);
            }
            if (!ste.stage1()) {
                if (pasid != DmaTranslator.NO_PASID) {
                    return b.end("SubstreamID on a stage-2-only STE: C_BAD_SUBSTREAMID", -1);
                }
                Granule g = Granule.fromTg0((int) (w[2] >>> StreamTableEntry.S2TG_SHIFT) & 3);
                int t0sz = (int) (w[2] >>> StreamTableEntry.S2T0SZ_SHIFT) & 0x3f;
                int sl0 = (int) (w[2] >>> StreamTableEntry.S2SL0_SHIFT) & 3;
                // VTCR.SL0 (Arm ARM D8.2): 4K granule starts at level 2 - SL0, 16K/64K at 3 - SL0
                int start = (g.shift() == 12 ? 2 : 3) - sl0;
                return ArmLevels.walk(b, mem, w[3] & StreamTableEntry.S2TTB_MASK, 64 - t0sz, g.shift(), start, iova);
            }
            int ssid = pasid == DmaTranslator.NO_PASID ? 0 : pasid;
            if (pasid != DmaTranslator.NO_PASID && ste.s1CdMax == 0) {
                return b.end("SubstreamID with S1CDMax 0: C_BAD_SUBSTREAMID", -1);
            }
            if (pasid == DmaTranslator.NO_PASID && ste.s1CdMax != 0
                    && ste.s1Dss != StreamTableEntry.S1DSS_SSID0) {
                return ste.s1Dss == StreamTableEntry.S1DSS_BYPASS
                        ? b.end("no SubstreamID, S1DSS bypass: " + Text.format(iova), iova)
                        : b.end("no SubstreamID, S1DSS terminate: aborted", -1);
            }
            if (ste.s1CdMax != 0 && ssid >>> ste.s1CdMax != 0) {
                return b.end("SubstreamID beyond S1CDMax: C_BAD_SUBSTREAMID", -1);
            }
            long cdAddr;
            if (ste.s1Fmt == StreamTableEntry.S1FMT_LINEAR) {
                cdAddr = ste.s1ContextPtr + ((long) ssid << 6);
            } else {
                int cdSplit = ste.s1Fmt == StreamTableEntry.S1FMT_4K_L2 ? 6 : 10;
                long l1Addr = ste.s1ContextPtr + ((long) (ssid >>> cdSplit) << 3);
                long l1 = mem.readLong(l1Addr);
                b.entry("L1CD [" + (ssid >>> cdSplit) + "]", l1Addr, l1).field("V", (l1 & ContextDescriptor.L1CD_V) != 0)
                        .field("L2Ptr", l1 & ContextDescriptor.L1CD_L2PTR_MASK);
                if ((l1 & ContextDescriptor.L1CD_V) == 0) {
                    return b.end("L1CD.V = 0: C_BAD_SUBSTREAMID", -1);
                }
                cdAddr = (l1 & ContextDescriptor.L1CD_L2PTR_MASK) + ((long) (ssid & ((1 << cdSplit) - 1)) << 6);
            }
            if (ste.config == StreamTableEntry.Config.NESTED) {
                return b.end("nested: the CD at IPA " + Text.format(cdAddr) + " goes through stage 2 (not shown)", -1);
            }
            long[] c = read(mem, cdAddr, ContextDescriptor.WORDS);
            ContextDescriptor cd = ContextDescriptor.decode(c, u.features());
            long c0 = c[0];
            b.entry("CD (SubstreamID " + ssid + ")", cdAddr, c).field("V", (c0 & ContextDescriptor.V) != 0)
                    .field("ASID", c0 >>> ContextDescriptor.ASID_SHIFT & 0xffff)
                    .field("T0SZ", c0 >>> ContextDescriptor.T0SZ_SHIFT & 0x3f)
                    .field("TG0", c0 >>> ContextDescriptor.TG0_SHIFT & 3).field("EPD0", (c0 & ContextDescriptor.EPD0) != 0)
                    .field("IPS", c0 >>> ContextDescriptor.IPS_SHIFT & 7)
                    .field("TTB0", c[1] & ContextDescriptor.TTB_MASK).field("MAIR", c[3]);
            if (cd.illegal != null) {
                return b.end("C_BAD_CD: " + cd.illegal, -1);
            }
            // TTB1 covers the top of the address space (VA bit 55 set, Arm ARM D8.2.3)
            boolean upper = (iova >>> 55 & 1) != 0;
            long epd = upper ? ContextDescriptor.EPD1 : ContextDescriptor.EPD0;
            if ((c0 & epd) != 0) {
                return b.end((upper ? "TTB1" : "TTB0") + " walks disabled (EPD): F_TRANSLATION", -1);
            }
            Granule g = upper ? Granule.fromTg1((int) (c0 >>> ContextDescriptor.TG1_SHIFT) & 3)
                    : Granule.fromTg0((int) (c0 >>> ContextDescriptor.TG0_SHIFT) & 3);
            int txsz = (int) (c0 >>> (upper ? ContextDescriptor.T1SZ_SHIFT : ContextDescriptor.T0SZ_SHIFT)) & 0x3f;
            long ttb = (upper ? c[2] : c[1]) & ContextDescriptor.TTB_MASK;
            long va = upper ? iova & ((1L << (64 - txsz)) - 1) : iova;
            return ArmLevels.walk(b, mem, ttb, 64 - txsz, g.shift(), va);
        } catch (MemoryFault e) {
            return b.end("fetch outside memory: F_STE_FETCH / F_CD_FETCH / F_WALK_EABT", -1);
        }
    }

    private static long[] read(PhysicalMemory mem, long addr, int words) {
        long[] w = new long[words];
        for (int i = 0; i < words; i++) {
            w[i] = mem.readLong(addr + 8L * i);
        }
        return w;
    }
}
