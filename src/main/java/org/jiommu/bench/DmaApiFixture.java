package org.jiommu.bench;

import org.jiommu.dma.DmaDirection;
import org.jiommu.dma.DmaIommu;
import org.jiommu.dma.DmaMapBenchmark;
import org.jiommu.dma.IovaDomain;

/**
 * The DMA API cases (issue 15's speed targets), as {@code dma_map_benchmark} measures them: a
 * {@code dma_map_single} + {@code dma_unmap_single} pair of one 4 KiB buffer on a VT-d default
 * domain (scalable mode, 48-bit, one PCIe endpoint: {@link DmaMapBenchmark#machine}), strict or
 * lazy (DMA-FQ: the flush queue's flushes and frees are part of the loop, as in the kernel
 * tool); and an IOVA {@code alloc_iova_fast} + {@code free_iova_fast} of one 4 KiB granule
 * through the per-CPU caches. The figure is ns per pair. Each measuring thread has its own
 * machine (or IOVA domain) and runs as its CPU 0; sharing one device between threads is
 * {@code jiommu bench dma-map -t N}.
 */
final class DmaApiFixture implements Fixture {
    /** Pairs per batch: more than a flush-queue ring holds (255), so every batch drains it at least once. */
    static final int PAIRS = 256;
    static final long BUF = 0x1_0000_0000L;
    static final long SIZE = 0x1000;

    private final DmaMapBenchmark.Machine machine;
    private final IovaDomain iovad;

    private DmaApiFixture(DmaMapBenchmark.Machine machine, IovaDomain iovad) {
        this.machine = machine;
        this.iovad = iovad;
    }

    /** map+unmap of 4K on VT-d, strict or lazy. */
    static Fixture mapUnmap(boolean strict) {
        DmaMapBenchmark.Machine m = DmaMapBenchmark.machine(strict, 1);
        m.dma().bindCpu(0);
        DmaApiFixture f = new DmaApiFixture(m, null);
        if (f.batch() == 0) {
            throw new IllegalStateException("benchmark set-up: dma_map_single failed");
        }
        return f;
    }

    /** IOVA alloc+free of one 4K granule through CPU 0's cache, below 4 GiB as a 32-bit mask asks. */
    static Fixture iovaAllocFree() {
        return new DmaApiFixture(null, new IovaDomain(0x1000, 1, 1, null));
    }

    @Override
    public int opsPerBatch() {
        return PAIRS;
    }

    @Override
    public long batch() {
        long sum = 0;
        if (iovad != null) {
            IovaDomain d = iovad;
            for (int i = 0; i < PAIRS; i++) {
                long pfn = d.allocIovaFast(0, 1, 0xFFFFF, true);
                d.freeIovaFast(0, pfn, 1);
                sum += pfn;
            }
            return sum;
        }
        DmaIommu dma = machine.dma();
        for (int i = 0; i < PAIRS; i++) {
            long iova = dma.dmaMapSingle(machine.dev(), BUF, SIZE, DmaDirection.BIDIRECTIONAL);
            if (iova == DmaIommu.DMA_MAPPING_ERROR) {
                return 0;
            }
            dma.dmaUnmapSingle(machine.dev(), iova, SIZE, DmaDirection.BIDIRECTIONAL);
            sum += iova;
        }
        return sum;
    }
}
