package org.jiommu.bench;

import java.util.concurrent.TimeUnit;
import org.jiommu.base.Prot;
import org.jiommu.base.WarningSink;
import org.jiommu.bus.dma.TranslationResult;
import org.jiommu.hw.smmuv3.ContextDescriptor;
import org.jiommu.hw.smmuv3.SmmuFeatures;
import org.jiommu.hw.smmuv3.SmmuRegs;
import org.jiommu.hw.smmuv3.SmmuV3Unit;
import org.jiommu.hw.smmuv3.StreamTableEntry;
import org.jiommu.mem.FrameAllocator;
import org.jiommu.mem.PhysicalMemory;
import org.jiommu.pgtable.Mapped;
import org.jiommu.pgtable.PgtableFormat;
import org.jiommu.pgtable.arm.ArmLpaeConfig;
import org.jiommu.pgtable.arm.ArmLpaePageTable;
import org.jiommu.pgtable.TlbOps;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

/**
 * SMMUv3 translate ({@code hw.smmuv3.SmmuV3Unit}) from an endpoint's point of view: a TLB hit
 * (target 40 M/s), a full 4-level stage-1 walk with the STE and CD in the configuration cache
 * (target 10 M/s; the TLB is disabled so every request walks), and a nested S1 + S2 walk.
 * Tables are written by io-pgtable-arm; the unit is programmed through its registers.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class SmmuV3TranslateBench {
    static final int PAGES = 4096;
    static final long VA_BASE = 0x40_0000_0000L;
    static final long PA_BASE = 0x1000_0000L;
    static final long STRTAB = 0x100_0000L;
    static final long CD = 0x200_0000L;

    @State(Scope.Thread)
    public static class Unit {
        @Param({"s1", "nested"})
        public String config;
        @Param({"4096", "0"})
        public int tlbEntries;
        SmmuV3Unit unit;
        final TranslationResult out = new TranslationResult();

        @Setup(Level.Trial)
        public void build() {
            PhysicalMemory memory = new PhysicalMemory(4L << 30);
            FrameAllocator frames = new FrameAllocator(memory);
            ArmLpaePageTable s1 = ArmLpaePageTable.alloc(ArmLpaeConfig.builder(PgtableFormat.ARM_64_LPAE_S1)
                    .pgsizeBitmap(0x1000 | 0x20_0000 | 0x4000_0000).ias(48).oas(48).build(), frames,
                    TlbOps.NONE, WarningSink.IGNORE);
            Mapped m = new Mapped();
            for (int i = 0; i < PAGES; i++) {
                s1.mapPages(VA_BASE + ((long) i << 12), PA_BASE + ((long) i << 12), 0x1000, 1, Prot.RW, m.reset());
            }
            ArmLpaeConfig c = s1.config();
            memory.writeLong(CD, c.tcr().tsz() | (long) c.tcr().tg() << ContextDescriptor.TG0_SHIFT
                    | ContextDescriptor.EPD1 | ContextDescriptor.V | (long) c.tcr().ips() << ContextDescriptor.IPS_SHIFT
                    | ContextDescriptor.AA64 | 1L << ContextDescriptor.ASID_SHIFT);
            memory.writeLong(CD + 8, c.ttbr());
            memory.writeLong(CD + 24, c.mair());
            boolean nested = config.equals("nested");
            long w0 = StreamTableEntry.V | CD | (long) (nested ? StreamTableEntry.CFG_NESTED
                    : StreamTableEntry.CFG_S1_TRANS) << StreamTableEntry.CONFIG_SHIFT;
            memory.writeLong(STRTAB, w0);
            if (nested) {
                // Identity stage 2 over the 4 GiB of memory, in 2 MiB blocks.
                ArmLpaePageTable s2 = ArmLpaePageTable.alloc(ArmLpaeConfig.builder(PgtableFormat.ARM_64_LPAE_S2)
                        .pgsizeBitmap(0x1000 | 0x20_0000 | 0x4000_0000).ias(40).oas(48).build(), frames,
                        TlbOps.NONE, WarningSink.IGNORE);
                for (long a = 0; a < (4L << 30); a += 0x20_0000) {
                    s2.mapPages(a, a, 0x20_0000, 1, Prot.RW, m.reset());
                }
                ArmLpaeConfig v = s2.config();
                memory.writeLong(STRTAB + 16, 1 | (long) v.vtcr().tsz() << StreamTableEntry.S2T0SZ_SHIFT
                        | (long) v.vtcr().sl() << StreamTableEntry.S2SL0_SHIFT
                        | (long) v.vtcr().tg() << StreamTableEntry.S2TG_SHIFT
                        | (long) v.vtcr().ps() << StreamTableEntry.S2PS_SHIFT | StreamTableEntry.S2AA64);
                memory.writeLong(STRTAB + 24, v.ttbr());
            }
            unit = new SmmuV3Unit("bench", memory, SmmuFeatures.full(), tlbEntries, 1024);
            unit.writeRegister64(SmmuRegs.STRTAB_BASE, STRTAB);
            unit.writeRegister32(SmmuRegs.STRTAB_BASE_CFG, 4);
            unit.writeRegister32(SmmuRegs.CR0, SmmuRegs.CR0_SMMUEN);
        }
    }

    /** With tlbEntries = 4096 every page stays in the TLB after the first pass: hits. With 0: walks. */
    @Benchmark
    @OperationsPerInvocation(PAGES)
    public void translate(Unit u, Blackhole bh) {
        for (int i = 0; i < PAGES; i++) {
            long va = VA_BASE + ((long) ((i * 769) % PAGES) << 12);
            bh.consume(u.unit.translate(0, -1, va, false, false, u.out));
            bh.consume(u.out.pa);
        }
    }
}
