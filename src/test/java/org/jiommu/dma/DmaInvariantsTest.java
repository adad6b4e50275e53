package org.jiommu.dma;

import static org.assertj.core.api.Assertions.assertThat;
import static org.jiommu.dma.DmaFixture.bytes;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.jiommu.base.Prot;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** The DMA API invariants D1-D4: clean after real traffic, and each one catches its planted breakage. */
class DmaInvariantsTest {
    static final long PA = 0x1_2345_0000L;

    @Test
    @DisplayName("random map/unmap/sg/coherent traffic on strict, lazy and untrusted devices keeps D1-D4; the flush brings the allocator back")
    void cleanUnderTraffic() {
        DmaFixture f = DmaFixture.lazy();
        Random r = new Random(15);
        List<Object[]> live = new ArrayList<>();
        for (int i = 0; i < 400; i++) {
            var dev = new org.jiommu.bus.pci.PciDevice[] {f.nic, f.disk, f.tbt}[r.nextInt(3)];
            if (live.isEmpty() || r.nextInt(3) > 0) {
                long size = 1 + r.nextInt(3 * 0x1000);
                long pa = PA + r.nextInt(1 << 16) * 0x100L;
                long iova = f.dma.dmaMapSingle(dev, pa, size, DmaDirection.BIDIRECTIONAL);
                assertThat(iova).isNotEqualTo(DmaIommu.DMA_MAPPING_ERROR);
                live.add(new Object[] {dev, iova, size});
            } else {
                Object[] m = live.remove(r.nextInt(live.size()));
                f.dma.dmaUnmapSingle((org.jiommu.bus.Device) m[0], (long) m[1], (long) m[2], DmaDirection.BIDIRECTIONAL);
            }
            if (i % 50 == 0) {
                f.clock.advance(r.nextInt(12));
                assertThat(DmaInvariants.check(f.p.core(), f.dma)).isEmpty();
            }
        }
        for (Object[] m : live) {
            f.dma.dmaUnmapSingle((org.jiommu.bus.Device) m[0], (long) m[1], (long) m[2], DmaDirection.BIDIRECTIONAL);
        }
        f.clock.advance(10);
        assertThat(DmaInvariants.check(f.p.core(), f.dma)).isEmpty();
        assertThat(f.dma.liveMappings()).isEmpty();
        assertThat(f.dma.flushQueues().values()).allMatch(q -> q.queued() == 0);
        assertThat(f.dma.bounceMappings()).isZero();
        assertThat(f.dma.warnings()).isEmpty();
        // back to baseline: every tree range left is cached or reserved
        for (IovaDomain iovad : f.dma.iovaDomains().values()) {
            for (int c = 0; c < iovad.cpus(); c++) {
                iovad.freeCpuCachedIovas(c);
            }
            iovad.freeGlobalCachedIovas();
            assertThat(iovad.ranges()).allMatch(n -> iovad.isReserved(n.pfnLo()));
        }
    }

    @Test
    @DisplayName("D2: a live IOVA unmapped behind the layer's back is caught; D3: a cached IOVA mapped again is caught")
    void plantedD2D3() {
        DmaFixture f = DmaFixture.strict();
        long iova = f.dma.dmaMapSingle(f.disk, PA, 0x1000, DmaDirection.TO_DEVICE);
        long other = f.dma.dmaMapSingle(f.disk, PA + 0x1000, 0x1000, DmaDirection.TO_DEVICE);
        f.dma.dmaUnmapSingle(f.disk, other, 0x1000, DmaDirection.TO_DEVICE); // now in CPU 0's cache
        assertThat(DmaInvariants.check(f.p.core(), f.dma)).isEmpty();
        f.p.core().unmap(f.domain(f.disk), iova, 0x1000);
        f.p.core().map(f.domain(f.disk), other, PA, 0x1000, Prot.READ);
        assertThat(DmaInvariants.check(f.p.core(), f.dma)).anyMatch(v -> v.startsWith("D2:"))
                .anyMatch(v -> v.startsWith("D3:"));
    }

    @Test
    @DisplayName("D4: an IOVA allocated outside the DMA API (neither live, cached, queued nor reserved) is caught")
    void plantedD4() {
        DmaFixture f = DmaFixture.strict();
        f.dma.dmaMapSingle(f.disk, PA, 0x1000, DmaDirection.TO_DEVICE);
        IovaDomain iovad = f.dma.iovaDomain(f.disk);
        assertThat(DmaInvariants.check(f.p.core(), f.dma)).isEmpty();
        iovad.allocIova(4, 0xFFFFF, true); // leaked
        assertThat(DmaInvariants.check(f.p.core(), f.dma)).singleElement().asString().startsWith("D4:");
    }
}
