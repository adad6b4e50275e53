package org.jiommu.dma;

import static org.assertj.core.api.Assertions.assertThat;
import static org.jiommu.dma.DmaFixture.bytes;

import java.util.List;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** swiotlb bounce buffers for an untrusted device's sub-page buffers. */
class BounceTest {
    static final long PAGE = 0x1_4000_0000L;
    static final long BUF = PAGE + 0x300; // a 512-byte buffer in the middle of a page

    @Test
    @DisplayName("untrusted: the device sees only the bounce page; its write reaches the buffer at sync, neighbours are unreachable")
    void bounce512() {
        DmaFixture f = DmaFixture.lazy();
        f.p.memory().write(PAGE, bytes(0x1000, 0xEE)); // kernel data all around the buffer
        f.p.memory().write(BUF, bytes(512, 0x10));
        long dma = f.dma.dmaMapSingle(f.tbt, BUF, 512, DmaDirection.BIDIRECTIONAL);
        assertThat(dma).isNotEqualTo(DmaIommu.DMA_MAPPING_ERROR);
        long bounce = f.p.core().iovaToPhys(f.domain(f.tbt), dma);
        assertThat(f.dma.isSwiotlbBuffer(bounce)).isTrue();
        assertThat(bounce & 0xFFF).isZero(); // the bounce buffer starts its own granule
        assertThat(dma & 0xFFF).isZero();
        // the device reads the buffer's contents (copied at map time) and zeros after it
        assertThat(f.read(f.tbt, dma, 512)).containsOnly(0x10);
        assertThat(f.read(f.tbt, dma + 512, 0x1000 - 512)).containsOnly(0);
        // nothing of the original page is reachable: the whole IOVA page maps the bounce page
        for (long off = 0; off < 0x1000; off += 0x100) {
            assertThat(f.p.core().iovaToPhys(f.domain(f.tbt), dma + off)).isEqualTo(bounce + off);
        }
        assertThat(f.read(f.tbt, dma + 0x1000, 4)).isNull();
        // the device's write lands in the bounce page; the buffer changes only at sync
        assertThat(f.write(f.tbt, dma + 4, bytes(8, 0x99))).isEqualTo(bounce + 4);
        assertThat(f.p.memory().read(BUF + 4, 8)).containsOnly(0x10);
        f.dma.dmaSyncSingleForCpu(f.tbt, dma, 512, DmaDirection.BIDIRECTIONAL);
        assertThat(f.p.memory().read(BUF + 4, 8)).containsOnly(0x99);
        // the CPU writes, then hands the buffer back to the device
        f.p.memory().write(BUF, bytes(4, 0x42));
        assertThat(f.read(f.tbt, dma, 4)).containsOnly(0x10);
        f.dma.dmaSyncSingleForDevice(f.tbt, dma, 512, DmaDirection.BIDIRECTIONAL);
        assertThat(f.read(f.tbt, dma, 4)).containsOnly(0x42);
        // a last device write is copied back by the unmap; the neighbours never changed
        f.write(f.tbt, dma + 508, bytes(4, 0x77));
        f.dma.dmaUnmapSingle(f.tbt, dma, 512, DmaDirection.BIDIRECTIONAL);
        assertThat(f.p.memory().read(BUF + 508, 4)).containsOnly(0x77);
        assertThat(f.p.memory().read(PAGE, 0x300)).containsOnly(0xEE);
        assertThat(f.p.memory().read(BUF + 512, 0x1000 - 0x300 - 512)).containsOnly(0xEE);
        assertThat(f.dma.bounceMappings()).isZero();
        assertThat(f.read(f.tbt, dma, 4)).isNull(); // strict: gone at once
    }

    @Test
    @DisplayName("a trusted device's sub-page buffer is not bounced: the device reaches the rest of the page")
    void trustedNotBounced() {
        DmaFixture f = DmaFixture.strict();
        f.p.memory().write(PAGE, bytes(0x1000, 0xEE));
        long dma = f.dma.dmaMapSingle(f.disk, BUF, 512, DmaDirection.TO_DEVICE);
        assertThat(f.p.core().iovaToPhys(f.domain(f.disk), dma)).isEqualTo(BUF);
        assertThat(f.read(f.disk, dma - 0x300, 4)).containsOnly(0xEE);
    }

    @Test
    @DisplayName("untrusted, page-aligned whole pages are mapped directly, no bounce; an untrusted scatterlist bounces per segment")
    void alignedNotBouncedAndSg() {
        DmaFixture f = DmaFixture.strict();
        long dma = f.dma.dmaMapSingle(f.tbt, PAGE, 0x2000, DmaDirection.TO_DEVICE);
        assertThat(f.p.core().iovaToPhys(f.domain(f.tbt), dma)).isEqualTo(PAGE);
        assertThat(f.dma.bounceMappings()).isZero();
        ScatterList sg = new ScatterList(List.of(new long[] {PAGE + 0x4000, 0x1000}, new long[] {BUF, 512}));
        assertThat(f.dma.dmaMapSg(f.tbt, sg, DmaDirection.TO_DEVICE)).isEqualTo(2);
        assertThat(f.dma.bounceMappings()).isEqualTo(1);
        f.dma.dmaUnmapSg(f.tbt, sg, DmaDirection.TO_DEVICE);
        f.dma.dmaUnmapSingle(f.tbt, dma, 0x2000, DmaDirection.TO_DEVICE);
        assertThat(f.dma.bounceMappings()).isZero();
        assertThat(f.dma.liveMappings()).isEmpty();
        assertThat(f.dma.warnings()).isEmpty();
    }
}
