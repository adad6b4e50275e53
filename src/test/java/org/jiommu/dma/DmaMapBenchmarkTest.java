package org.jiommu.dma;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** The dma_map_benchmark driver runs its loops on every thread and reports both calls (no figure is asserted). */
class DmaMapBenchmarkTest {
    @Test
    @DisplayName("two threads x 300 map/unmap pairs of 2 pages, lazy: every pair counted, mean and stddev reported")
    void runsLoops() throws Exception {
        DmaMapBenchmark.Result r = DmaMapBenchmark.run(
                new DmaMapBenchmark.Options(2, 2, 600, 300, false, DmaDirection.BIDIRECTIONAL));
        assertThat(r.loops()).isEqualTo(600);
        assertThat(r.mapMeanNs()).isPositive().isFinite();
        assertThat(r.unmapMeanNs()).isPositive().isFinite();
        assertThat(r.mapStddevNs()).isNotNegative();
        assertThat(r.format()).contains("lazy (DMA-FQ)", "threads 2", "granule 2 page(s)", "600 loops",
                "average map latency", "average unmap latency");
    }

    @Test
    @DisplayName("the benchmark's machine maps for real: after a strict map/unmap pair nothing is left mapped")
    void machineMapsForReal() {
        DmaMapBenchmark.Machine m = DmaMapBenchmark.machine(true, 1);
        m.dma().bindCpu(0);
        long iova = m.dma().dmaMapSingle(m.dev(), 0x1_0000_0000L, 0x1000, DmaDirection.BIDIRECTIONAL);
        assertThat(m.platform().core().iovaToPhys(m.platform().core().getDmaDomain(m.dev()), iova)).isEqualTo(0x1_0000_0000L);
        m.dma().dmaUnmapSingle(m.dev(), iova, 0x1000, DmaDirection.BIDIRECTIONAL);
        assertThat(DmaInvariants.check(m.platform().core(), m.dma())).isEmpty();
        assertThat(m.dma().liveMappings()).isEmpty();
    }
}
