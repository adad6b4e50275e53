package org.jiommu.dma;

import static org.assertj.core.api.Assertions.assertThat;
import static org.jiommu.dma.DmaFixture.bytes;

import java.util.ArrayList;
import java.util.List;
import org.jiommu.base.Prot;
import org.jiommu.core.CoreConfig;
import org.jiommu.core.spi.DomainType;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** dma_map_* / dma_unmap_* / dma_map_sg / dma_alloc_coherent on VT-d default domains. */
class DmaApiTest {
    static final long PA = 0x1_2345_0000L;

    @Test
    @DisplayName("strict: dma_map_single gives a 32-bit IOVA at the buffer's offset; the DMA lands; after dma_unmap_single it faults")
    void strictMapUnmap() {
        DmaFixture f = DmaFixture.strict();
        assertThat(f.domain(f.disk).type()).isEqualTo(DomainType.DMA);
        assertThat(f.dma.dmaSetMask(f.disk, -1L)).isZero();
        long iova = f.dma.dmaMapSingle(f.disk, PA + 0x80, 0x100, DmaDirection.FROM_DEVICE);
        assertThat(iova).isNotEqualTo(DmaIommu.DMA_MAPPING_ERROR);
        // PCI devices try below 4 GiB first; the top of that space comes first
        assertThat(iova).isEqualTo(0xFFFF_F080L);
        assertThat(f.write(f.disk, iova, bytes(4, 0x11))).isEqualTo(PA + 0x80);
        // FROM_DEVICE maps write-only, but the default domain is first-stage (the kernel's choice on
        // a unit with first-level support) and x86-64 leaves cannot be write-only: the page reads
        assertThat(f.read(f.disk, iova, 4)).containsExactly(0x11, 0x11, 0x11, 0x11);
        f.dma.dmaUnmapSingle(f.disk, iova, 0x100, DmaDirection.FROM_DEVICE);
        assertThat(f.write(f.disk, iova, bytes(4, 0x22))).isEqualTo(-1);
        assertThat(f.p.memory().read(PA + 0x80, 4)).containsExactly(0x11, 0x11, 0x11, 0x11);
        assertThat(f.dma.liveMappings()).isEmpty();
        assertThat(f.dma.warnings()).isEmpty();
    }

    @Test
    @DisplayName("lazy: after dma_unmap_single the stale IOTLB entry still translates; the 10 ms timer flushes and the DMA faults")
    void lazyStaleWindow() {
        DmaFixture f = DmaFixture.lazy();
        assertThat(f.domain(f.disk).type()).isEqualTo(DomainType.DMA_FQ);
        long iova = f.dma.dmaMapSingle(f.disk, PA, 0x1000, DmaDirection.BIDIRECTIONAL);
        assertThat(f.write(f.disk, iova, bytes(8, 0x33))).isEqualTo(PA); // fills the IOTLB
        f.dma.dmaUnmapSingle(f.disk, iova, 0x1000, DmaDirection.BIDIRECTIONAL);
        FlushQueue fq = f.dma.flushQueue(f.disk);
        assertThat(fq.queued()).isEqualTo(1);
        assertThat(f.p.core().iovaToPhys(f.domain(f.disk), iova)).isZero(); // the tables say unmapped
        // ...but the unit's IOTLB was not invalidated: the device still reaches the page
        assertThat(f.write(f.disk, iova + 8, bytes(8, 0x44))).isEqualTo(PA + 8);
        // the queued IOVA is not handed out again while it can still translate
        long other = f.dma.dmaMapSingle(f.disk, PA + 0x10000, 0x1000, DmaDirection.BIDIRECTIONAL);
        assertThat(other).isNotEqualTo(iova);
        f.clock.advance(9);
        assertThat(f.write(f.disk, iova, bytes(1, 0x55))).isEqualTo(PA);
        f.clock.advance(1);
        assertThat(fq.queued()).isZero();
        assertThat(fq.flushes()).isEqualTo(1);
        assertThat(f.write(f.disk, iova, bytes(1, 0x66))).isEqualTo(-1);
        // freed into the CPU's cache after the flush: the next map of that size gets it back
        assertThat(f.dma.dmaMapSingle(f.disk, PA + 0x20000, 0x1000, DmaDirection.BIDIRECTIONAL)).isEqualTo(iova);
    }

    @Test
    @DisplayName("lazy: the table page an unmap frees waits in the flush queue with its gather, untouched by the thread's next unmaps, and is freed by the flush")
    void lazyFreedTablePageSurvivesLaterUnmaps() {
        DmaFixture f = DmaFixture.lazy();
        FlushQueue fq = f.dma.flushQueue(f.disk);
        // 2 MiB from a 4K-aligned (not 2M-aligned) buffer: one leaf table of 512 4K entries,
        // which the unmap of the whole range takes out (its page goes on the gather's freelist)
        long iova = f.dma.dmaMapSingle(f.disk, PA + 0x1000, 2L << 20, DmaDirection.BIDIRECTIONAL);
        assertThat(iova & ((2L << 20) - 1)).isEqualTo(0);
        f.dma.dmaUnmapSingle(f.disk, iova, 2L << 20, DmaDirection.BIDIRECTIONAL);
        assertThat(fq.queued()).isEqualTo(1);
        // the same thread unmaps again before the flush: a gather reused while the queue still
        // held it would lose the freelist, and the table page would never be freed
        for (int i = 0; i < 3; i++) {
            long other = f.dma.dmaMapSingle(f.disk, PA + 0x40_0000L, 0x1000, DmaDirection.BIDIRECTIONAL);
            f.dma.dmaUnmapSingle(f.disk, other, 0x1000, DmaDirection.BIDIRECTIONAL);
        }
        long blocks = f.p.frames().stats().liveBlocks(); // the queued table page is still allocated
        f.dma.fqFlush(f.disk);
        assertThat(fq.queued()).isZero();
        assertThat(f.p.frames().stats().liveBlocks()).isEqualTo(blocks - 1);
    }

    @Test
    @DisplayName("lazy: a full ring (255 entries) flushes on the next unmap before the timer")
    void fullRingFlushes() {
        DmaFixture f = DmaFixture.lazy();
        List<Long> iovas = new ArrayList<>();
        for (int i = 0; i < 256; i++) {
            iovas.add(f.dma.dmaMapSingle(f.disk, PA + i * 0x1000L, 0x1000, DmaDirection.TO_DEVICE));
        }
        FlushQueue fq = f.dma.flushQueue(f.disk);
        for (int i = 0; i < 255; i++) {
            f.dma.dmaUnmapSingle(f.disk, iovas.get(i), 0x1000, DmaDirection.TO_DEVICE);
        }
        assertThat(fq.queued()).isEqualTo(255);
        assertThat(fq.flushes()).isZero();
        f.dma.dmaUnmapSingle(f.disk, iovas.get(255), 0x1000, DmaDirection.TO_DEVICE);
        assertThat(fq.flushes()).isEqualTo(1);
        assertThat(fq.queued()).isEqualTo(1);
        assertThat(fq.timerPending()).isTrue();
    }

    /**
     * 300 mappings unmapped on CPU 0 while CPU 1's flush has taken fq_flush_start_cnt and not yet
     * its finish increment: the 256th unmap finds the ring full and flushes.
     */
    private static FlushQueue unmap300DuringForeignFlush(DmaFixture f, boolean kernelRingFree) {
        List<Long> iovas = new ArrayList<>();
        for (int i = 0; i < 300; i++) {
            iovas.add(f.dma.dmaMapSingle(f.disk, PA + i * 0x1000L, 0x1000, DmaDirection.TO_DEVICE));
        }
        FlushQueue fq = f.dma.flushQueue(f.disk);
        fq.kernelRingFree(kernelRingFree);
        fq.startFlushElsewhere();
        for (long iova : iovas) {
            f.dma.dmaUnmapSingle(f.disk, iova, 0x1000, DmaDirection.TO_DEVICE);
        }
        assertThat(fq.flushes()).isEqualTo(1);
        return fq;
    }

    @Test
    @DisplayName("lazy: a full ring while another CPU's flush is between start and finish frees what its own flush covered, losing nothing")
    void fullRingDuringForeignFlush() {
        DmaFixture f = DmaFixture.lazy();
        FlushQueue fq = unmap300DuringForeignFlush(f, false);
        // the ring's own flush covers the 255 entries stamped before it started
        assertThat(fq.queued()).isEqualTo(300 - 255);
        assertThat(f.dma.iovaDomain(f.disk).cachedRanges()).isEqualTo(255);
        assertThat(DmaInvariants.check(f.p.core(), f.dma)).isEmpty();
        f.dma.fqFlush(f.disk);
        assertThat(fq.queued()).isZero();
        assertThat(f.dma.iovaDomain(f.disk).cachedRanges()).isEqualTo(300);
        assertThat(DmaInvariants.check(f.p.core(), f.dma)).isEmpty();
    }

    @Test
    @DisplayName("the kernel's own queue_iova in the same window: the full ring is wrapped and 256 IOVAs leak (D4 finds it)")
    void kernelRingFreeLosesTheRingDuringForeignFlush() {
        DmaFixture f = DmaFixture.lazy();
        FlushQueue fq = unmap300DuringForeignFlush(f, true);
        // fq_flush_finish_cnt (1) never passes the entries' stamp (1): the ring stays full after
        // the 256th unmap's flush and fq_ring_add moves the tail onto the head: the ring reads
        // empty, so the 255 queued entries and the 256th itself are gone; 44 remain
        assertThat(fq.queued()).isEqualTo(300 - 256);
        f.dma.fqFlush(f.disk);
        assertThat(fq.queued()).isZero();
        assertThat(f.dma.iovaDomain(f.disk).cachedRanges()).isEqualTo(300 - 256);
        assertThat(DmaInvariants.check(f.p.core(), f.dma)).anyMatch(v -> v.startsWith("D4"));
    }

    @Test
    @DisplayName("lazy: the flush timer frees every CPU's ring into the caches of the CPU it runs on (fq_flush_timeout -> free_iova_fast)")
    void timerFreesIntoItsOwnCpu() {
        DmaFixture f = DmaFixture.lazy();
        for (int cpu = 0; cpu < 2; cpu++) { // one unmapped 4K IOVA waiting in each CPU's ring
            f.dma.bindCpu(cpu);
            long iova = f.dma.dmaMapSingle(f.disk, 0x10_0000L + cpu * 0x1000L, 0x1000, DmaDirection.TO_DEVICE);
            f.dma.dmaUnmapSingle(f.disk, iova, 0x1000, DmaDirection.TO_DEVICE);
        }
        IovaRcache fourK = f.dma.iovaDomain(f.disk).rcache(0);
        int before0 = fourK.cpuCached(0);
        int before1 = fourK.cpuCached(1);
        assertThat(f.dma.flushQueue(f.disk).queued()).isEqualTo(2);
        f.dma.bindCpu(1);
        f.dma.fqFlush(f.disk); // the timer's work, run on CPU 1
        assertThat(fourK.cpuCached(1)).isEqualTo(before1 + 2);
        assertThat(fourK.cpuCached(0)).isEqualTo(before0);
        assertThat(DmaInvariants.check(f.p.core(), f.dma)).isEmpty();
    }

    @Test
    @DisplayName("single flush queue: one 32768-entry ring shared by every CPU, flushed by a 1 s timer")
    void singleQueue() {
        DmaIommu.Config d = DmaIommu.Config.defaults(DmaFixture.MEM, 2);
        DmaFixture f = new DmaFixture(CoreConfig.defaults(), new DmaIommu.Config(d.cpus(), false, true, d.swiotlbBase(),
                d.swiotlbSize(), d.coherentBase(), d.coherentSize(), d.pciHostBridgeWindows()));
        long a = f.dma.dmaMapSingle(f.disk, PA, 0x1000, DmaDirection.BIDIRECTIONAL);
        f.dma.bindCpu(1);
        long b = f.dma.dmaMapSingle(f.disk, PA + 0x1000, 0x1000, DmaDirection.BIDIRECTIONAL);
        assertThat(f.write(f.disk, a, bytes(1, 1))).isEqualTo(PA);
        f.dma.dmaUnmapSingle(f.disk, b, 0x1000, DmaDirection.BIDIRECTIONAL);
        f.dma.bindCpu(0);
        f.dma.dmaUnmapSingle(f.disk, a, 0x1000, DmaDirection.BIDIRECTIONAL);
        FlushQueue fq = f.dma.flushQueue(f.disk);
        assertThat(fq.singleQueue()).isTrue();
        assertThat(fq.queued()).isEqualTo(2); // both CPUs' entries in the one ring
        f.clock.advance(999);
        assertThat(f.write(f.disk, a, bytes(1, 2))).isEqualTo(PA); // still stale after 10 ms and more
        f.clock.advance(1);
        assertThat(fq.queued()).isZero();
        assertThat(f.write(f.disk, a, bytes(1, 3))).isEqualTo(-1);
    }

    @Test
    @DisplayName("dma_fq_flush drains the queue at once; the untrusted device's domain is strict even on a lazy kernel")
    void fqFlushAndUntrustedStrict() {
        DmaFixture f = DmaFixture.lazy();
        long iova = f.dma.dmaMapSingle(f.nic, PA, 0x1000, DmaDirection.BIDIRECTIONAL);
        assertThat(f.write(f.nic, iova, bytes(4, 1))).isEqualTo(PA);
        f.dma.dmaUnmapSingle(f.nic, iova, 0x1000, DmaDirection.BIDIRECTIONAL);
        assertThat(f.write(f.nic, iova, bytes(4, 2))).isEqualTo(PA); // the NIC's ATC/IOTLB entry is stale
        assertThat(f.dma.fqFlush(f.nic)).isTrue();
        assertThat(f.write(f.nic, iova, bytes(4, 3))).isEqualTo(-1);

        assertThat(f.domain(f.tbt).type()).isEqualTo(DomainType.DMA);
        assertThat(f.dma.flushQueue(f.tbt)).isNull();
        long t = f.dma.dmaMapSingle(f.tbt, PA + 0x10000, 0x1000, DmaDirection.BIDIRECTIONAL);
        assertThat(f.write(f.tbt, t, bytes(4, 1))).isEqualTo(PA + 0x10000);
        f.dma.dmaUnmapSingle(f.tbt, t, 0x1000, DmaDirection.BIDIRECTIONAL);
        assertThat(f.write(f.tbt, t, bytes(4, 2))).isEqualTo(-1);
    }

    @Test
    @DisplayName("masks: 32-bit first for PCI unless iommu.forcedac; a 24-bit mask stays below 16 MiB; no room is DMA_MAPPING_ERROR")
    void masks() {
        DmaFixture f = DmaFixture.strict();
        f.dma.dmaSetMask(f.disk, -1L);
        assertThat(f.dma.dmaMapSingle(f.disk, PA, 0x1000, DmaDirection.TO_DEVICE)).isLessThan(1L << 32);
        DmaFixture dac = new DmaFixture(CoreConfig.builder().strict(true).build(),
                withForcedac(DmaIommu.Config.defaults(DmaFixture.MEM, 2)));
        dac.dma.dmaSetMask(dac.disk, -1L);
        // straight to the top of the aperture: a first-stage domain's is 47 bits (canonical addresses)
        assertThat(dac.dma.dmaMapSingle(dac.disk, PA, 0x1000, DmaDirection.TO_DEVICE)).isEqualTo((1L << 47) - 0x1000);
        f.dma.dmaSetMask(f.nic, 0xFF_FFFFL);
        assertThat(f.dma.dmaMapSingle(f.nic, PA, 0x1000, DmaDirection.TO_DEVICE)).isEqualTo(0xFF_F000L);
        // a mask that only reaches pfn 0, which the DMA layer never hands out
        f.dma.dmaSetMask(f.nic, 0xFFFL);
        assertThat(f.dma.dmaMapSingle(f.nic, PA, 0x10, DmaDirection.TO_DEVICE)).isEqualTo(DmaIommu.DMA_MAPPING_ERROR);
        assertThat(f.dma.dmaSetMask(f.nic, 0)).isEqualTo(-5);
    }

    static DmaIommu.Config withForcedac(DmaIommu.Config c) {
        return new DmaIommu.Config(c.cpus(), true, c.singleQueue(), c.swiotlbBase(), c.swiotlbSize(), c.coherentBase(),
                c.coherentSize(), c.pciHostBridgeWindows());
    }

    @Test
    @DisplayName("dma_map_sg: page-aligned segments merge into one DMA segment up to 64 KiB; an offset segment starts a new one")
    void mapSgMerges() {
        DmaFixture f = DmaFixture.strict();
        List<long[]> segs = new ArrayList<>();
        for (int i = 0; i < 17; i++) {
            segs.add(new long[] {PA + 0x10_0000L * i, 0x1000}); // physically scattered pages
        }
        segs.add(new long[] {PA + 0x900, 0x200}); // a short one at an offset
        ScatterList sg = new ScatterList(segs);
        int n = f.dma.dmaMapSg(f.disk, sg, DmaDirection.BIDIRECTIONAL);
        assertThat(n).isEqualTo(3);
        assertThat(sg.dmaLength(0)).isEqualTo(0x10000); // 16 pages: the max segment size
        assertThat(sg.dmaLength(1)).isEqualTo(0x1000);
        assertThat(sg.dmaAddress(1)).isEqualTo(sg.dmaAddress(0) + 0x10000);
        assertThat(sg.dmaAddress(2)).isEqualTo(sg.dmaAddress(1) + 0x1000 + 0x900);
        assertThat(sg.dmaLength(2)).isEqualTo(0x200);
        assertThat(sg.dmaLength(3)).isZero();
        // one contiguous IOVA range: page i of DMA segment 0 reaches scattered page i
        for (int i = 0; i < 16; i++) {
            assertThat(f.write(f.disk, sg.dmaAddress(0) + i * 0x1000L, bytes(1, i))).isEqualTo(PA + 0x10_0000L * i);
        }
        assertThat(f.write(f.disk, sg.dmaAddress(2), bytes(1, 9))).isEqualTo(PA + 0x900);
        f.dma.dmaUnmapSg(f.disk, sg, DmaDirection.BIDIRECTIONAL);
        assertThat(f.write(f.disk, sg.dmaAddress(0), bytes(1, 1))).isEqualTo(-1);
        assertThat(f.write(f.disk, sg.dmaAddress(2), bytes(1, 1))).isEqualTo(-1);
        assertThat(f.dma.liveMappings()).isEmpty();
        assertThat(f.dma.warnings()).isEmpty();
    }

    @Test
    @DisplayName("dma_alloc_coherent: zeroed pages mapped read/write under the coherent mask; dma_free_coherent unmaps them")
    void coherent() {
        DmaFixture f = DmaFixture.strict();
        f.p.memory().write(f.dma.config().coherentBase(), bytes(16, 0x77)); // leftovers must not show
        DmaIommu.Coherent buf = f.dma.dmaAllocCoherent(f.nic, 0x1800);
        assertThat(buf).isNotNull();
        assertThat(buf.dmaHandle()).isLessThan(1L << 32);
        assertThat(f.read(f.nic, buf.dmaHandle(), 16)).containsOnly(0);
        assertThat(f.write(f.nic, buf.dmaHandle() + 0x1000, bytes(4, 0x5a))).isEqualTo(buf.cpuAddr() + 0x1000);
        assertThat(f.p.core().iovaToPhys(f.domain(f.nic), buf.dmaHandle())).isEqualTo(buf.cpuAddr());
        assertThat(f.dma.coherentPagesInUse()).isEqualTo(2);
        f.dma.dmaFreeCoherent(f.nic, 0x1800, buf);
        assertThat(f.dma.coherentPagesInUse()).isZero();
        assertThat(f.read(f.nic, buf.dmaHandle(), 4)).isNull();
    }

    @Test
    @DisplayName("unmapping an address that is not mapped is a WARN that changes nothing")
    void unmapUnknownWarns() {
        DmaFixture f = DmaFixture.strict();
        long iova = f.dma.dmaMapSingle(f.disk, PA, 0x1000, DmaDirection.TO_DEVICE);
        f.dma.dmaUnmapSingle(f.disk, iova + 0x10_0000, 0x1000, DmaDirection.TO_DEVICE);
        assertThat(f.dma.warnings()).hasSize(1);
        assertThat(f.read(f.disk, iova, 4)).isNotNull();
        assertThat(f.dma.liveMappings()).hasSize(1);
    }

    @Test
    @DisplayName("an identity default domain uses dma-direct: the DMA address is the physical address")
    void identityIsDirect() {
        DmaFixture f = new DmaFixture(CoreConfig.builder().passthrough(true).build());
        assertThat(f.domain(f.disk).type()).isEqualTo(DomainType.IDENTITY);
        assertThat(f.dma.dmaSetMask(f.disk, -1L)).isZero();
        assertThat(f.dma.dmaMapSingle(f.disk, PA + 4, 8, DmaDirection.TO_DEVICE)).isEqualTo(PA + 4);
        // with the default 32-bit mask a buffer above 4 GiB is out of reach
        assertThat(f.dma.dmaMapSingle(f.nic, PA, 8, DmaDirection.TO_DEVICE)).isEqualTo(DmaIommu.DMA_MAPPING_ERROR);
        assertThat(Prot.READ).isEqualTo(DmaDirection.TO_DEVICE.prot(false));
    }
}
