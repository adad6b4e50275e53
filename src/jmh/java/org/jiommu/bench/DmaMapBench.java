package org.jiommu.bench;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.jiommu.dma.DmaDirection;
import org.jiommu.dma.DmaIommu;
import org.jiommu.dma.DmaMapBenchmark;
import org.jiommu.dma.IovaDomain;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The DMA API's hot paths (issue 15's speed targets): an IOVA alloc+free of one 4K page through
 * the per-CPU caches, and a dma_map_single+dma_unmap_single pair of 4K on VT-d, strict and lazy;
 * one and two threads, each thread on its own CPU index.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class DmaMapBench {
    static final long BUF = 0x1_0000_0000L;

    /** One IOVA domain shared by the threads (as one device's domain is). */
    @State(Scope.Benchmark)
    public static class Iovad {
        IovaDomain iovad;
        final AtomicInteger cpus = new AtomicInteger();

        @Setup(Level.Trial)
        public void build() {
            iovad = new IovaDomain(0x1000, 1, 2, null);
        }
    }

    /** The CPU a benchmark thread runs as. */
    @State(Scope.Thread)
    public static class Cpu {
        int cpu;

        @Setup(Level.Trial)
        public void pick(Iovad shared) {
            cpu = shared.cpus.getAndIncrement() % 2;
        }
    }

    @Benchmark
    @Threads(1)
    public long iovaAllocFree4k(Iovad s, Cpu c) {
        long pfn = s.iovad.allocIovaFast(c.cpu, 1, 0xFFFFF, true);
        s.iovad.freeIovaFast(c.cpu, pfn, 1);
        return pfn;
    }

    @Benchmark
    @Threads(2)
    public long iovaAllocFree4kTwoThreads(Iovad s, Cpu c) {
        return iovaAllocFree4k(s, c);
    }

    /** A VT-d machine with one device; strict or lazy. */
    @State(Scope.Benchmark)
    public static class Dma {
        DmaMapBenchmark.Machine strict;
        DmaMapBenchmark.Machine lazy;
        final AtomicInteger cpus = new AtomicInteger();

        @Setup(Level.Trial)
        public void build() {
            strict = DmaMapBenchmark.machine(true, 2);
            lazy = DmaMapBenchmark.machine(false, 2);
        }
    }

    @State(Scope.Thread)
    public static class DmaCpu {
        int cpu;

        @Setup(Level.Trial)
        public void pick(Dma d) {
            cpu = d.cpus.getAndIncrement() % 2;
            d.strict.dma().bindCpu(cpu);
            d.lazy.dma().bindCpu(cpu);
        }
    }

    private static long pair(DmaMapBenchmark.Machine m, int cpu) {
        long buf = BUF + cpu * 0x10_0000L;
        DmaIommu dma = m.dma();
        long iova = dma.dmaMapSingle(m.dev(), buf, 0x1000, DmaDirection.BIDIRECTIONAL);
        dma.dmaUnmapSingle(m.dev(), iova, 0x1000, DmaDirection.BIDIRECTIONAL);
        return iova;
    }

    @Benchmark
    @Threads(1)
    public long mapUnmapStrict(Dma d, DmaCpu c) {
        return pair(d.strict, c.cpu);
    }

    @Benchmark
    @Threads(1)
    public long mapUnmapLazy(Dma d, DmaCpu c) {
        return pair(d.lazy, c.cpu);
    }

    @Benchmark
    @Threads(2)
    public long mapUnmapLazyTwoThreads(Dma d, DmaCpu c) {
        return pair(d.lazy, c.cpu);
    }

    /** Two threads on one strict domain: both post to the unit's one invalidation queue, as in the kernel. */
    @Benchmark
    @Threads(2)
    public long mapUnmapStrictTwoThreads(Dma d, DmaCpu c) {
        return pair(d.strict, c.cpu);
    }
}
