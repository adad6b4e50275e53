package org.jiommu.bench;

import java.util.concurrent.TimeUnit;
import org.jiommu.base.Prot;
import org.jiommu.base.WarningSink;
import org.jiommu.hw.arm.Granule;
import org.jiommu.hw.arm.Stage1Config;
import org.jiommu.hw.arm.VmsaWalker;
import org.jiommu.hw.arm.WalkResult;
import org.jiommu.mem.FrameAllocator;
import org.jiommu.mem.PhysicalMemory;
import org.jiommu.pgtable.Mapped;
import org.jiommu.pgtable.PgtableFormat;
import org.jiommu.pgtable.TlbOps;
import org.jiommu.pgtable.arm.ArmLpaeConfig;
import org.jiommu.pgtable.arm.ArmLpaePageTable;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

/**
 * The SMMU walker ({@code hw.arm.VmsaWalker}): a full stage-1 4-level walk of a 4K, 48-bit table
 * written by io-pgtable-arm, over 100 000 mapped pages (the SMMUv3 target is 10 M walks/s, i.e.
 * at most 100 ns a walk).
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class VmsaWalkBench {
    static final int PAGES = 100_000;
    static final long VA_BASE = 0x40_0000_0000L;
    static final long PA_BASE = 0x1_0000_0000L;

    @State(Scope.Thread)
    public static class Walk {
        VmsaWalker walker;
        Stage1Config s1;
        final WalkResult out = new WalkResult();

        @Setup(Level.Trial)
        public void build() {
            FrameAllocator frames = new FrameAllocator(new PhysicalMemory(8L << 30));
            ArmLpaePageTable pt = ArmLpaePageTable.alloc(ArmLpaeConfig.builder(PgtableFormat.ARM_64_LPAE_S1)
                    .pgsizeBitmap(0x1000 | 0x20_0000 | 0x4000_0000).ias(48).oas(48).build(), frames,
                    TlbOps.NONE, WarningSink.IGNORE);
            Mapped m = new Mapped();
            for (int i = 0; i < PAGES; i++) {
                pt.mapPages(VA_BASE + ((long) i << 12), PA_BASE + ((long) i << 12), 0x1000, 1, Prot.RW, m.reset());
            }
            ArmLpaeConfig c = pt.config();
            s1 = Stage1Config.builder().ttb0(Granule.G4K, c.tcr().tsz(), c.ttbr())
                    .outputSize(Stage1Config.psBits(c.tcr().ips())).mair(c.mair()).build();
            walker = new VmsaWalker(frames.memory(), 48);
        }
    }

    @Benchmark
    @OperationsPerInvocation(PAGES)
    public void stage1Walk4Level(Walk w, Blackhole bh) {
        for (int i = 0; i < PAGES; i++) {
            // Stride through the pages so consecutive walks read different leaves.
            long va = VA_BASE + ((long) ((i * 7919) % PAGES) << 12);
            bh.consume(w.walker.walkStage1(w.s1, va, VmsaWalker.ACCESS_READ, w.out));
            bh.consume(w.out.outputAddress);
        }
    }
}
