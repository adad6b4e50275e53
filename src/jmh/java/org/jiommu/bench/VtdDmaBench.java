package org.jiommu.bench;

import java.util.concurrent.TimeUnit;
import org.jiommu.bus.dma.DmaTranslator;
import org.jiommu.bus.dma.TranslationResult;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * DMA translation through a VT-d unit the driver programmed (one thread): requests without PASID
 * from a PCI endpoint whose group is on its default DMA domain, 48-bit (4-level) second-level
 * table, legacy or scalable mode. {@code iotlbHit}: 64 mapped pages, all in the IOTLB after the
 * first pass. {@code fullWalk}: the same unit with its IOTLB turned off, so every request walks
 * the four levels from memory (the context and PASID caches still hit, as they would).
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class VtdDmaBench {
    static final int PAGES = 64;
    static final long IOVA = 0x40_0000L;
    static final long PA = 0x1_0000_0000L;

    @State(Scope.Thread)
    public static class Unit {
        @Param({"legacy", "scalable"})
        public String mode;

        @Param({"1024", "0"})
        public int iotlbEntries;

        DmaTranslator unit;
        int sid;
        final TranslationResult out = new TranslationResult();

        @Setup
        public void setup() {
            // The same machine as jiommu bench's vtd-dma cases (PlatformAdapter).
            PlatformAdapter.Target t = PlatformAdapter.vtdEndpoint(mode.equals("scalable"), iotlbEntries,
                    IOVA, PA, PAGES);
            unit = t.translator();
            sid = t.requesterId();
            for (int i = 0; i < PAGES; i++) {
                if (!unit.translate(sid, DmaTranslator.NO_PASID, IOVA + i * 4096L, false, false, out)
                        || out.pa != PA + i * 4096L) {
                    throw new IllegalStateException("benchmark set-up: page " + i + " does not translate");
                }
            }
        }
    }

    /** One request per page of the set; reported per request. */
    @Benchmark
    @OperationsPerInvocation(PAGES)
    public long translate(Unit s) {
        long sum = 0;
        for (int i = 0; i < PAGES; i++) {
            s.unit.translate(s.sid, DmaTranslator.NO_PASID, IOVA + i * 4096L + 8, false, false, s.out);
            sum += s.out.pa;
        }
        return sum;
    }
}
