package org.jiommu.hw.smmuv3;

import static org.assertj.core.api.Assertions.assertThat;
import static org.jiommu.hw.smmuv3.SmmuRegs.*;

import java.util.ArrayList;
import java.util.List;
import org.jiommu.base.WarningSink;
import org.jiommu.mem.FrameAllocator;
import org.jiommu.mem.PhysicalMemory;
import org.jiommu.pgtable.Mapped;
import org.jiommu.pgtable.PgtableFormat;
import org.jiommu.pgtable.arm.ArmLpaeConfig;
import org.jiommu.pgtable.arm.ArmLpaePageTable;
import org.jiommu.pgtable.TlbOps;

/**
 * Programs an SMMUv3 from a test the way a driver would: tables in simulated memory (page tables
 * by io-pgtable-arm), registers written through MMIO, commands queued and PROD advanced. Not a
 * driver: it writes exactly the words a test asks for.
 */
final class SmmuBed {
    static final long MEMORY = 1L << 32;
    static final long STRTAB = 0x1000_0000L;
    static final long CMDQ = 0x1100_0000L;
    static final long EVTQ = 0x1200_0000L;
    static final long PRIQ = 0x1300_0000L;
    static final long CDTAB = 0x1400_0000L;
    static final int QUEUE_LOG2 = 3;
    static final long MAIR = 0xffff_ffff_f404_ff44L;

    final PhysicalMemory memory = new PhysicalMemory(MEMORY);
    final FrameAllocator frames = new FrameAllocator(memory);
    final SmmuV3Unit unit;
    int cmdProd;
    int evtCons;

    SmmuBed() {
        this(SmmuFeatures.full());
    }

    SmmuBed(SmmuFeatures f) {
        unit = new SmmuV3Unit("smmu0", memory, f);
    }

    /** Linear stream table of 2^log2 STEs, queues of 2^QUEUE_LOG2 entries, everything enabled. */
    SmmuBed enable(int log2Sids) {
        unit.writeRegister64(STRTAB_BASE, STRTAB);
        unit.writeRegister32(STRTAB_BASE_CFG, log2Sids);
        queues();
        unit.writeRegister32(CR0, CR0_SMMUEN | CR0_CMDQEN | CR0_EVTQEN | CR0_PRIQEN);
        return this;
    }

    /** 2-level stream table, SPLIT 8, 2^log2 StreamIDs. */
    SmmuBed enable2Level(int log2Sids) {
        unit.writeRegister64(STRTAB_BASE, STRTAB);
        unit.writeRegister32(STRTAB_BASE_CFG, STRTAB_CFG_FMT_2LVL << STRTAB_CFG_FMT_SHIFT
                | 8 << STRTAB_CFG_SPLIT_SHIFT | log2Sids);
        queues();
        unit.writeRegister32(CR0, CR0_SMMUEN | CR0_CMDQEN | CR0_EVTQEN | CR0_PRIQEN);
        return this;
    }

    void queues() {
        unit.writeRegister64(CMDQ_BASE, CMDQ | QUEUE_LOG2);
        unit.writeRegister64(EVTQ_BASE, EVTQ | QUEUE_LOG2);
        unit.writeRegister64(PRIQ_BASE, PRIQ | QUEUE_LOG2);
    }

    // ---- tables ------------------------------------------------------------------------

    ArmLpaePageTable s1Table() {
        return ArmLpaePageTable.alloc(ArmLpaeConfig.builder(PgtableFormat.ARM_64_LPAE_S1)
                .pgsizeBitmap(0x1000 | 0x20_0000 | 0x4000_0000).ias(48).oas(48).build(), frames, TlbOps.NONE,
                WarningSink.IGNORE);
    }

    ArmLpaePageTable s2Table(int ias) {
        return ArmLpaePageTable.alloc(ArmLpaeConfig.builder(PgtableFormat.ARM_64_LPAE_S2)
                .pgsizeBitmap(0x1000 | 0x20_0000 | 0x4000_0000).ias(ias).oas(48).build(), frames, TlbOps.NONE,
                WarningSink.IGNORE);
    }

    static void map(ArmLpaePageTable t, long iova, long pa, long size, int prot) {
        assertThat(t.mapPages(iova, pa, size, 1, prot, new Mapped())).isZero();
    }

    static long[] steWords(int config) {
        long[] w = new long[8];
        w[0] = StreamTableEntry.V | (long) config << StreamTableEntry.CONFIG_SHIFT;
        return w;
    }

    /** An S1 STE over a linear CD table of 2^cdMax CDs at {@code cdTable}. */
    static long[] s1Ste(long cdTable, int cdMax, int s1dss) {
        long[] w = steWords(StreamTableEntry.CFG_S1_TRANS);
        w[0] |= cdTable | (long) cdMax << StreamTableEntry.S1CDMAX_SHIFT;
        w[1] = s1dss;
        return w;
    }

    /** The S2 fields of an STE from io-pgtable's VTCR. */
    static void s2Fields(long[] w, ArmLpaePageTable t, int vmid) {
        ArmLpaeConfig c = t.config();
        w[2] = vmid | (long) c.vtcr().tsz() << StreamTableEntry.S2T0SZ_SHIFT
                | (long) c.vtcr().sl() << StreamTableEntry.S2SL0_SHIFT
                | (long) c.vtcr().tg() << StreamTableEntry.S2TG_SHIFT
                | (long) c.vtcr().ps() << StreamTableEntry.S2PS_SHIFT | StreamTableEntry.S2AA64;
        w[3] = c.ttbr();
    }

    /** A CD as the kernel's arm_smmu_make_s1_cd writes it, from io-pgtable's TCR. */
    static long[] cdWords(ArmLpaePageTable t, int asid) {
        ArmLpaeConfig c = t.config();
        long[] w = new long[8];
        w[0] = c.tcr().tsz() | (long) c.tcr().tg() << ContextDescriptor.TG0_SHIFT | ContextDescriptor.EPD1
                | ContextDescriptor.V | (long) c.tcr().ips() << ContextDescriptor.IPS_SHIFT | ContextDescriptor.AA64
                | ContextDescriptor.R | ContextDescriptor.A | ContextDescriptor.ASET
                | (long) asid << ContextDescriptor.ASID_SHIFT;
        w[1] = c.ttbr();
        w[3] = c.mair();
        return w;
    }

    void writeSte(int sid, long[] w) {
        writeWords(STRTAB + 64L * sid, w);
    }

    void writeWords(long at, long[] w) {
        for (int i = 0; i < w.length; i++) {
            memory.writeLong(at + 8L * i, w[i]);
        }
    }

    // ---- commands ----------------------------------------------------------------------

    /** Queues the commands and advances PROD (the unit consumes at once). */
    void submit(long[]... cmds) {
        int entries = 1 << QUEUE_LOG2;
        for (long[] c : cmds) {
            long at = CMDQ + 16L * (cmdProd & (entries - 1));
            memory.writeLong(at, c[0]);
            memory.writeLong(at + 8, c[1]);
            cmdProd = (cmdProd + 1) & (2 * entries - 1);
            unit.writeRegister32(CMDQ_PROD, cmdProd);
        }
    }

    int cmdCons() {
        return unit.readRegister32(CMDQ_CONS);
    }

    // ---- events ------------------------------------------------------------------------

    /** Event records written since the last call, read from the queue in memory; CONS advanced. */
    List<long[]> events() {
        List<long[]> out = new ArrayList<>();
        int entries = 1 << QUEUE_LOG2;
        int prod = unit.readRegister32(EVTQ_PROD) & (2 * entries - 1);
        while (evtCons != prod) {
            long at = EVTQ + 32L * (evtCons & (entries - 1));
            out.add(new long[] {memory.readLong(at), memory.readLong(at + 8), memory.readLong(at + 16),
                    memory.readLong(at + 24)});
            evtCons = (evtCons + 1) & (2 * entries - 1);
        }
        int ovf = unit.readRegister32(EVTQ_PROD) & Q_OVFLG;
        unit.writeRegister32(EVTQ_CONS, evtCons | ovf);
        return out;
    }

    /** The one event since the last call. */
    long[] event() {
        List<long[]> e = events();
        assertThat(e).as("event records").hasSize(1);
        return e.get(0);
    }
}
