package org.jiommu.bench;

import java.util.concurrent.TimeUnit;
import org.jiommu.base.Prot;
import org.jiommu.mem.FrameAllocator;
import org.jiommu.mem.PhysicalMemory;
import org.jiommu.pgtable.IotlbGather;
import org.jiommu.pgtable.Mapped;
import org.jiommu.pgtable.x86.VtdSecondLevelPageTable;
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

/**
 * VT-d second-level (48-bit, 4 levels) page-table costs per call, the cases of the kernel's
 * io-pgtable / generic_pt figures (REFERENCES.md 2a) and of the ARM LPAE benchmark: one 4K map
 * and one 4K unmap over 100 000 sequential IOVAs with the tables already there, 256 × 4K in one
 * map call, one 2M map, and iova_to_phys over 100 000 mapped pages. Each benchmark method does
 * a batch and reports the time per call ({@link OperationsPerInvocation}); the state needed
 * before each batch (pages mapped or not) is restored outside the measurement.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class VtdPgtableBench {
    static final int PAGES = 100_000;
    static final int CHUNKS = 1_000;
    static final long SZ_4K = 1L << 12;
    static final long SZ_1M = 1L << 20;
    static final long SZ_2M = 1L << 21;
    /** 4K pages live at [BASE, BASE + PAGES * 4K). */
    static final long BASE = 1L << 32;
    /** 256-page chunks live 1 MiB apart from here (half a leaf table each). */
    static final long CHUNK_BASE = 1L << 36;
    /** 2M leaves live from here. */
    static final long HUGE_BASE = 1L << 40;
    /** Output addresses only 4K aligned, so 4K runs are never merged into 2M leaves. */
    static final long PA = 0x1_0000_1000L;

    /** A 48-bit table whose tables for every benchmark range exist, with no leaves in them. */
    static VtdSecondLevelPageTable populatedTable() {
        FrameAllocator allocator = new FrameAllocator(new PhysicalMemory(8L << 30));
        VtdSecondLevelPageTable t = VtdSecondLevelPageTable.create(allocator, 48);
        Mapped m = new Mapped();
        IotlbGather g = new IotlbGather();
        for (int i = 0; i < PAGES; i++) {
            check(t.mapPages(page(i), PA + i * SZ_4K, SZ_4K, 1, Prot.RW, m));
            t.unmapPages(page(i), SZ_4K, 1, g); // page by page: the tables stay
        }
        for (int i = 0; i < CHUNKS; i++) {
            check(t.mapPages(chunk(i), PA, SZ_4K, 1, Prot.RW, m));
            t.unmapPages(chunk(i), SZ_4K, 1, g);
            check(t.mapPages(huge(i), 0x4000_0000L, SZ_2M, 1, Prot.RW, m));
            t.unmapPages(huge(i), SZ_2M, 1, g);
        }
        t.releaseFreelist(g);
        return t;
    }

    static long page(int i) {
        return BASE + i * SZ_4K;
    }

    static long chunk(int i) {
        return CHUNK_BASE + i * SZ_1M;
    }

    static long huge(int i) {
        return HUGE_BASE + i * SZ_2M;
    }

    static void check(int ret) {
        if (ret != 0) {
            throw new IllegalStateException("map_pages returned " + ret);
        }
    }

    /** Tables present, no leaves before each batch of maps. */
    @State(Scope.Thread)
    public static class Empty {
        VtdSecondLevelPageTable table;
        final Mapped mapped = new Mapped();
        final IotlbGather gather = new IotlbGather();

        @Setup(Level.Trial)
        public void create() {
            table = populatedTable();
        }

        /** Undo whatever the last batch mapped, keeping the tables. */
        @TearDown(Level.Invocation)
        public void clear() {
            for (int i = 0; i < PAGES; i++) {
                table.unmapPages(page(i), SZ_4K, 1, gather);
            }
            for (int i = 0; i < CHUNKS; i++) {
                table.unmapPages(chunk(i), SZ_4K, 256, gather);
                table.unmapPages(huge(i), SZ_2M, 1, gather);
            }
            table.releaseFreelist(gather);
            gather.reset();
        }

        @TearDown(Level.Trial)
        public void free() {
            table.free();
        }
    }

    /** Every 4K page mapped before each batch. */
    @State(Scope.Thread)
    public static class Full {
        VtdSecondLevelPageTable table;
        final Mapped mapped = new Mapped();
        final IotlbGather gather = new IotlbGather();

        @Setup(Level.Trial)
        public void create() {
            table = populatedTable();
        }

        @Setup(Level.Invocation)
        public void fill() {
            for (int i = 0; i < PAGES; i++) {
                if (table.iovaToPhys(page(i)) == 0) {
                    check(table.mapPages(page(i), PA + i * SZ_4K, SZ_4K, 1, Prot.RW, mapped));
                }
            }
            gather.reset();
        }

        @TearDown(Level.Trial)
        public void free() {
            table.free();
        }
    }

    @Benchmark
    @OperationsPerInvocation(PAGES)
    public long map4K(Empty s) {
        long sum = 0;
        for (int i = 0; i < PAGES; i++) {
            sum += s.table.mapPages(page(i), PA + i * SZ_4K, SZ_4K, 1, Prot.RW, s.mapped);
        }
        return sum;
    }

    @Benchmark
    @OperationsPerInvocation(PAGES)
    public long unmap4K(Full s) {
        long sum = 0;
        for (int i = 0; i < PAGES; i++) {
            sum += s.table.unmapPages(page(i), SZ_4K, 1, s.gather);
        }
        return sum;
    }

    @Benchmark
    @OperationsPerInvocation(CHUNKS)
    public long map256x4K(Empty s) {
        long sum = 0;
        for (int i = 0; i < CHUNKS; i++) {
            sum += s.table.mapPages(chunk(i), PA, SZ_4K, 256, Prot.RW, s.mapped);
        }
        return sum;
    }

    /** 256 x 4K per call over the mapped pages (half a leaf table each: no table is freed). */
    @Benchmark
    @OperationsPerInvocation(PAGES / 256)
    public long unmap256x4K(Full s) {
        long sum = 0;
        for (int c = 0; c < PAGES / 256; c++) {
            sum += s.table.unmapPages(page(c * 256), SZ_4K, 256, s.gather);
        }
        return sum;
    }

    @Benchmark
    @OperationsPerInvocation(CHUNKS)
    public long map2M(Empty s) {
        long sum = 0;
        for (int i = 0; i < CHUNKS; i++) {
            sum += s.table.mapPages(huge(i), 0x4000_0000L, SZ_2M, 1, Prot.RW, s.mapped);
        }
        return sum;
    }

    /** The pages stay mapped: this batch changes nothing, so the Full state's refill is a no-op. */
    @Benchmark
    @OperationsPerInvocation(PAGES)
    public long iovaToPhys(Full s) {
        long sum = 0;
        for (int i = 0; i < PAGES; i++) {
            sum += s.table.iovaToPhys(page(i));
        }
        return sum;
    }
}
