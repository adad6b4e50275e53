package org.jiommu.bench;

import java.util.concurrent.TimeUnit;
import org.jiommu.bus.dma.TranslationResult;
import org.jiommu.hw.smmuv3.SmmuV3Unit;
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
 * Tables are written by io-pgtable-arm; the unit is programmed through its registers and memory
 * by {@link SmmuV3Direct} (no driver: it makes no nested STE). Run the nested walk alone with
 * {@code -p config=nested -p tlbEntries=0}.
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
            // The same machine as jiommu bench's smmuv3-dma/nested-* cases (SmmuV3Direct).
            unit = SmmuV3Direct.build(config.equals("nested"), tlbEntries, VA_BASE, PA_BASE, PAGES);
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
