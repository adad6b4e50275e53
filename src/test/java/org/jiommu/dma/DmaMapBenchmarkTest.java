package org.jiommu.dma;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

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
                "average map latency", "average unmap latency", "thread CPU time per map+unmap pair");
        assertThat(r.format()).doesNotContain("JIT warm-up"); // none unless asked
        assertThat(r.cpuNsPerPair()).isNotNegative().isFinite();
    }

    @Test
    @DisplayName("a JIT warm-up runs the loop untimed first and says so; a negative or NaN one is refused")
    void jitWarmUp() throws Exception {
        DmaMapBenchmark.Result r = DmaMapBenchmark.run(new DmaMapBenchmark.Options(1, 1, 600, 200, true,
                DmaDirection.BIDIRECTIONAL, 0, 0.05));
        assertThat(r.loops()).isEqualTo(200); // the untimed pairs are not counted
        assertThat(r.format()).contains("ran the loop untimed for 0.1 s (JIT warm-up");
        assertThatThrownBy(() -> new DmaMapBenchmark.Options(1, 1, 1, 0, true, DmaDirection.BIDIRECTIONAL, 0, -1))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new DmaMapBenchmark.Options(1, 1, 1, 0, true, DmaDirection.BIDIRECTIONAL, 0, Double.NaN))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    @DisplayName("strict, two CPUs: from an empty tree their first IOVAs share a PTE line; after the benchmark's warm-up each CPU's next IOVA is in its own 2 MiB region")
    void warmUpSeparatesCpus() {
        DmaMapBenchmark.Machine cold = DmaMapBenchmark.machine(true, 2);
        long[] first = new long[2];
        for (int cpu = 0; cpu < 2; cpu++) {
            cold.dma().bindCpu(cpu);
            first[cpu] = cold.dma().dmaMapSingle(cold.dev(), 0x1_0000_0000L, 0x1000, DmaDirection.BIDIRECTIONAL);
        }
        assertThat(first[0] >>> 6 + 9).isEqualTo(first[1] >>> 6 + 9); // 8 PTEs of 4K: one 64-byte line

        DmaMapBenchmark.Machine m = DmaMapBenchmark.machine(true, 2);
        long[][] held = new long[2][];
        for (int cpu = 0; cpu < 2; cpu++) { // the benchmark's order: each CPU maps its block in turn ...
            m.dma().bindCpu(cpu);
            held[cpu] = DmaMapBenchmark.warmMap(m, m.dev(), 0x1_0000_0000L, 0x1000, DmaDirection.BIDIRECTIONAL,
                    DmaMapBenchmark.WARMUP_BUFFERS);
        }
        for (int cpu = 0; cpu < 2; cpu++) { // ... then each unmaps its own
            m.dma().bindCpu(cpu);
            DmaMapBenchmark.warmUnmap(m, m.dev(), held[cpu], 0x1000, DmaDirection.BIDIRECTIONAL);
        }
        long[] next = new long[2];
        for (int cpu = 0; cpu < 2; cpu++) {
            m.dma().bindCpu(cpu);
            next[cpu] = m.dma().dmaMapSingle(m.dev(), 0x1_0000_0000L, 0x1000, DmaDirection.BIDIRECTIONAL);
        }
        assertThat(next[0] >>> 21).isNotEqualTo(next[1] >>> 21);
        assertThat(DmaInvariants.check(m.platform().core(), m.dma())).isEmpty();
    }

    @Test
    @DisplayName("devices 2: each endpoint has its own group and DMA domain, a thread maps only in its own endpoint's")
    void devicesHaveTheirOwnDomains() throws Exception {
        DmaMapBenchmark.Machine m = DmaMapBenchmark.machine(false, 2, 2);
        var core = m.platform().core();
        assertThat(m.devs()).hasSize(2);
        assertThat(m.devOf(0)).isSameAs(m.dev());
        assertThat(m.devOf(3)).isSameAs(m.devs().get(1));
        assertThat(core.groupGet(m.devs().get(0))).isNotNull().isNotSameAs(core.groupGet(m.devs().get(1)));
        var d0 = core.getDmaDomain(m.devs().get(0));
        var d1 = core.getDmaDomain(m.devs().get(1));
        assertThat(d0).isNotSameAs(d1);
        m.dma().bindCpu(1);
        long iova = m.dma().dmaMapSingle(m.devOf(1), 0x1_0000_0000L, 0x1000, DmaDirection.BIDIRECTIONAL);
        assertThat(core.iovaToPhys(d1, iova)).isEqualTo(0x1_0000_0000L);
        assertThat(core.iovaToPhys(d0, iova)).isZero();
        m.dma().dmaUnmapSingle(m.devOf(1), iova, 0x1000, DmaDirection.BIDIRECTIONAL);

        DmaMapBenchmark.Result r = DmaMapBenchmark.run(new DmaMapBenchmark.Options(2, 1, 600, 150, false,
                DmaDirection.BIDIRECTIONAL, 64, 0, 2));
        assertThat(r.loops()).isEqualTo(300);
        assertThat(r.format()).contains("devices 2");
        assertThatThrownBy(() -> new DmaMapBenchmark.Options(1, 1, 1, 0, true, DmaDirection.BIDIRECTIONAL, 0, 0, 0))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new DmaMapBenchmark.Options(1, 1, 1, 0, true, DmaDirection.BIDIRECTIONAL, 0, 0,
                DmaMapBenchmark.Options.MAX_DEVICES + 1)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    @DisplayName("the fork's arguments carry every option: main runs them and prints the same kind of result")
    void forkArgsRoundTrip() throws Exception {
        DmaMapBenchmark.Options o = new DmaMapBenchmark.Options(2, 1, 600, 40, false, DmaDirection.BIDIRECTIONAL, 16,
                0, 2);
        java.util.List<String> args = DmaMapBenchmark.forkArgs(o);
        assertThat(args).hasSize(9).startsWith("--options");
        java.io.ByteArrayOutputStream buf = new java.io.ByteArrayOutputStream();
        java.io.PrintStream old = System.out;
        System.setOut(new java.io.PrintStream(buf, true, java.nio.charset.StandardCharsets.UTF_8));
        try {
            DmaMapBenchmark.main(args.toArray(String[]::new));
        } finally {
            System.setOut(old);
        }
        assertThat(buf.toString(java.nio.charset.StandardCharsets.UTF_8)).contains("lazy (DMA-FQ), threads 2, devices 2",
                "80 loops", "first mapped and held 16 buffers");
        assertThat(DmaMapBenchmark.Result.alignmentNote(128)).contains("aligned to 128 bytes");
        assertThat(DmaMapBenchmark.Result.alignmentNote(8)).contains("8-byte aligned", "share a cache line");
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
