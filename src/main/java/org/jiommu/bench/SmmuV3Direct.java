package org.jiommu.bench;

import org.jiommu.base.Prot;
import org.jiommu.base.WarningSink;
import org.jiommu.hw.smmuv3.ContextDescriptor;
import org.jiommu.hw.smmuv3.SmmuFeatures;
import org.jiommu.hw.smmuv3.SmmuRegs;
import org.jiommu.hw.smmuv3.SmmuV3Unit;
import org.jiommu.hw.smmuv3.StreamTableEntry;
import org.jiommu.mem.FrameAllocator;
import org.jiommu.mem.PhysicalMemory;
import org.jiommu.pgtable.Mapped;
import org.jiommu.pgtable.PgtableFormat;
import org.jiommu.pgtable.TlbOps;
import org.jiommu.pgtable.arm.ArmLpaeConfig;
import org.jiommu.pgtable.arm.ArmLpaePageTable;

/**
 * An SMMUv3 programmed directly through its registers and memory (no driver): one StreamID (0)
 * whose linear-table STE selects a CD (ASID 1) over a 4-level 4K io-pgtable-arm stage-1 table,
 * alone or nested over an identity stage 2 (2 MiB blocks over all memory, VMID 0). The driver
 * does not make nested STEs, so this is how both {@code SmmuV3TranslateBench} (JMH) and the
 * {@code smmuv3-dma/nested-*} cases of {@code jiommu bench} build the S1+S2 machine; they share
 * this code so they measure the same path.
 */
public final class SmmuV3Direct {
    static final long STRTAB = 0x100_0000L;
    static final long CD = 0x200_0000L;

    private SmmuV3Direct() {
    }

    /**
     * @param nested stage 1 over an identity stage 2 (else stage 1 alone)
     * @param tlbEntries TLB capacity (0: every request walks)
     * @param pages 4K pages mapped from {@code va} to {@code pa}
     * @return the enabled unit; requests come from StreamID 0 without SubstreamID
     */
    public static SmmuV3Unit build(boolean nested, int tlbEntries, long va, long pa, int pages) {
        long top = pa + ((long) pages << 12);
        long memorySize = Math.max(4L << 30, (top + (1L << 30) - 1) & -(1L << 30));
        PhysicalMemory memory = new PhysicalMemory(memorySize);
        FrameAllocator frames = new FrameAllocator(memory);
        ArmLpaePageTable s1 = ArmLpaePageTable.alloc(ArmLpaeConfig.builder(PgtableFormat.ARM_64_LPAE_S1)
                .pgsizeBitmap(0x1000 | 0x20_0000 | 0x4000_0000).ias(48).oas(48).build(), frames,
                TlbOps.NONE, WarningSink.IGNORE);
        Mapped m = new Mapped();
        for (int i = 0; i < pages; i++) {
            s1.mapPages(va + ((long) i << 12), pa + ((long) i << 12), 0x1000, 1, Prot.RW, m.reset());
        }
        ArmLpaeConfig c = s1.config();
        memory.writeLong(CD, c.tcr().tsz() | (long) c.tcr().tg() << ContextDescriptor.TG0_SHIFT
                | ContextDescriptor.EPD1 | ContextDescriptor.V | (long) c.tcr().ips() << ContextDescriptor.IPS_SHIFT
                | ContextDescriptor.AA64 | 1L << ContextDescriptor.ASID_SHIFT);
        memory.writeLong(CD + 8, c.ttbr());
        memory.writeLong(CD + 24, c.mair());
        long w0 = StreamTableEntry.V | CD | (long) (nested ? StreamTableEntry.CFG_NESTED
                : StreamTableEntry.CFG_S1_TRANS) << StreamTableEntry.CONFIG_SHIFT;
        memory.writeLong(STRTAB, w0);
        if (nested) {
            // Identity stage 2 over all of memory, in 2 MiB blocks.
            ArmLpaePageTable s2 = ArmLpaePageTable.alloc(ArmLpaeConfig.builder(PgtableFormat.ARM_64_LPAE_S2)
                    .pgsizeBitmap(0x1000 | 0x20_0000 | 0x4000_0000).ias(40).oas(48).build(), frames,
                    TlbOps.NONE, WarningSink.IGNORE);
            for (long a = 0; a < memorySize; a += 0x20_0000) {
                s2.mapPages(a, a, 0x20_0000, 1, Prot.RW, m.reset());
            }
            ArmLpaeConfig v = s2.config();
            memory.writeLong(STRTAB + 16, 1 | (long) v.vtcr().tsz() << StreamTableEntry.S2T0SZ_SHIFT
                    | (long) v.vtcr().sl() << StreamTableEntry.S2SL0_SHIFT
                    | (long) v.vtcr().tg() << StreamTableEntry.S2TG_SHIFT
                    | (long) v.vtcr().ps() << StreamTableEntry.S2PS_SHIFT | StreamTableEntry.S2AA64);
            memory.writeLong(STRTAB + 24, v.ttbr());
        }
        SmmuV3Unit unit = new SmmuV3Unit("bench", memory, SmmuFeatures.full(), tlbEntries, 1024);
        unit.writeRegister64(SmmuRegs.STRTAB_BASE, STRTAB);
        unit.writeRegister32(SmmuRegs.STRTAB_BASE_CFG, 4);
        unit.writeRegister32(SmmuRegs.CR0, SmmuRegs.CR0_SMMUEN);
        return unit;
    }
}
