package org.jiommu.bench;

import java.util.concurrent.TimeUnit;
import org.jiommu.base.Prot;
import org.jiommu.base.WarningSink;
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
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

/**
 * ARM LPAE stage 1, 4K granule, 48-bit IAS/OAS: the page-table calls the kernel figures in
 * docs/PERFORMANCE.md were taken for (io-pgtable-arm.c in user space, coherent walk, no TLB
 * work). Each benchmark method does many calls; the score is per call
 * ({@link OperationsPerInvocation}). Tables are populated before timing, so single-page maps
 * and unmaps only touch leaves, as in the kernel measurement.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class ArmLpaeBench {
    static final int PAGES = 100_000;
    static final int CHUNK = 256;
    static final int CHUNKS = PAGES / CHUNK; // 390 calls of 256 pages
    static final int BLOCKS = 4 * 512;        // 2M blocks over 4 L2 tables
    static final long SZ_4K = 0x1000;
    static final long SZ_2M = 0x20_0000;
    static final long PAGE_BASE = 0x40_0000_0000L;  // 256 GiB: pages live here
    static final long BLOCK_BASE = 0x80_0000_0000L; // 512 GiB: 2M blocks live here
    static final long PA_BASE = 0x1_0000_0000L;

    /** One S1 4K 48-bit table with L3 tables for {@link #PAGES} pages and L2 tables for the blocks. */
    @State(Scope.Thread)
    public static class Table {
        ArmLpaePageTable table;
        final Mapped mapped = new Mapped();

        @Setup(Level.Trial)
        public void build() {
            FrameAllocator frames = new FrameAllocator(new PhysicalMemory(8L << 30));
            ArmLpaeConfig cfg = ArmLpaeConfig.builder(PgtableFormat.ARM_64_LPAE_S1)
                    .pgsizeBitmap(0x1000 | 0x20_0000 | 0x4000_0000)
                    .ias(48).oas(48)
                    .quirks(ArmLpaeConfig.QUIRK_NO_WARN)
                    .build();
            table = ArmLpaePageTable.alloc(cfg, frames, TlbOps.NONE, WarningSink.IGNORE);
            // Populate every table once, leaving all leaves empty.
            mapAllPages();
            unmapAllPages();
            for (int l2 = 0; l2 < BLOCKS / 512; l2++) {
                long iova = BLOCK_BASE + l2 * 512 * SZ_2M;
                check(table.mapPages(iova, PA_BASE, SZ_2M, 1, Prot.RW, mapped) == 0);
                check(table.unmapPages(iova, SZ_2M, 1, null) == SZ_2M);
            }
        }

        void mapAllPages() {
            for (int i = 0; i < PAGES; i += 512) {
                long n = Math.min(512, PAGES - i);
                mapped.reset();
                check(table.mapPages(PAGE_BASE + i * SZ_4K, PA_BASE + i * SZ_4K, SZ_4K, n, Prot.RW, mapped) == 0);
                check(mapped.bytes == n * SZ_4K);
            }
        }

        /** Clears every page leaf (holes allowed: a 256-page benchmark leaves a tail unmapped). */
        void unmapAllPages() {
            for (int i = 0; i < PAGES; i++) {
                table.unmapPages(PAGE_BASE + i * SZ_4K, SZ_4K, 1, null);
            }
        }

        @TearDown(Level.Trial)
        public void free() {
            table.free();
        }

        static void check(boolean ok) {
            if (!ok) {
                throw new IllegalStateException("benchmark precondition failed");
            }
        }
    }

    /** Leaves empty before each invocation (for the map benchmarks). */
    @State(Scope.Thread)
    public static class Empty extends Table {
        @Setup(Level.Invocation)
        public void clear() {
            unmapAllPages();
            for (int b = 0; b < BLOCKS; b++) {
                long iova = BLOCK_BASE + b * SZ_2M;
                if (table.iovaToPhys(iova) != 0) {
                    check(table.unmapPages(iova, SZ_2M, 1, null) == SZ_2M);
                }
            }
        }
    }

    /** All pages mapped before each invocation (for the unmap benchmarks). */
    @State(Scope.Thread)
    public static class Full extends Table {
        @Setup(Level.Invocation)
        public void fill() {
            unmapAllPages();
            mapAllPages();
        }
    }

    @Benchmark
    @OperationsPerInvocation(PAGES)
    public void map4k(Empty s) {
        ArmLpaePageTable t = s.table;
        Mapped m = s.mapped;
        for (int i = 0; i < PAGES; i++) {
            t.mapPages(PAGE_BASE + i * SZ_4K, PA_BASE + i * SZ_4K, SZ_4K, 1, Prot.RW, m);
        }
    }

    @Benchmark
    @OperationsPerInvocation(PAGES)
    public void unmap4k(Full s, Blackhole bh) {
        ArmLpaePageTable t = s.table;
        long total = 0;
        for (int i = 0; i < PAGES; i++) {
            total += t.unmapPages(PAGE_BASE + i * SZ_4K, SZ_4K, 1, null);
        }
        bh.consume(total);
    }

    @Benchmark
    @OperationsPerInvocation(CHUNKS)
    public void map256x4k(Empty s) {
        ArmLpaePageTable t = s.table;
        Mapped m = s.mapped;
        for (int c = 0; c < CHUNKS; c++) {
            long off = c * CHUNK * SZ_4K;
            t.mapPages(PAGE_BASE + off, PA_BASE + off, SZ_4K, CHUNK, Prot.RW, m);
        }
    }

    @Benchmark
    @OperationsPerInvocation(CHUNKS)
    public void unmap256x4k(Full s, Blackhole bh) {
        ArmLpaePageTable t = s.table;
        long total = 0;
        for (int c = 0; c < CHUNKS; c++) {
            total += t.unmapPages(PAGE_BASE + c * CHUNK * SZ_4K, SZ_4K, CHUNK, null);
        }
        bh.consume(total);
    }

    @Benchmark
    @OperationsPerInvocation(BLOCKS)
    public void map2m(Empty s) {
        ArmLpaePageTable t = s.table;
        Mapped m = s.mapped;
        for (int b = 0; b < BLOCKS; b++) {
            t.mapPages(BLOCK_BASE + b * SZ_2M, PA_BASE + b * SZ_2M, SZ_2M, 1, Prot.RW, m);
        }
    }

    @Benchmark
    @OperationsPerInvocation(PAGES)
    public void iovaToPhys(Full s, Blackhole bh) {
        ArmLpaePageTable t = s.table;
        long sum = 0;
        for (int i = 0; i < PAGES; i++) {
            sum += t.iovaToPhys(PAGE_BASE + i * SZ_4K + 0x123);
        }
        bh.consume(sum);
    }
}
