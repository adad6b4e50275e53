package org.jiommu.driver.vtd;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.jiommu.base.Prot;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.hw.vtd.FaultReason;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Several threads map, DMA, unmap and DMA again on disjoint pages of one domain shared by an ATS
 * device and a device without ATS, while another thread moves a third device between domains:
 * every DMA after a completed unmap faults (strict invalidation under concurrency), every DMA
 * after a map lands, and the hardware agrees with the core at the end.
 */
class VtdConcurrencyTest {
    @ParameterizedTest(name = "scalable {0}")
    @ValueSource(booleans = {false, true})
    @Timeout(value = 120, unit = TimeUnit.SECONDS) // a hang guard only
    void strictUnderConcurrency(boolean scalable) throws Exception {
        VtdFixture f = VtdFixture.secondStage(scalable, 48);
        f.checkEveryCall = false; // the check needs a quiescent platform; it runs at the end
        f.hotplug(f.nic, f.disk, f.leg0);
        IommuDomain d = f.core().pagingDomainAlloc(f.nic);
        f.core().attachDevice(d, f.nic);
        f.core().attachDevice(d, f.disk);
        int threads = 3;
        int rounds = 150;
        ExecutorService pool = Executors.newFixedThreadPool(threads + 1);
        try {
            List<Future<?>> work = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                final int id = t;
                work.add(pool.submit(() -> {
                    PciDevice dev = id % 2 == 0 ? f.nic : f.disk;
                    for (int i = 0; i < rounds; i++) {
                        long iova = 0x100_0000L * (id + 1) + (i % 8) * 0x1000L;
                        long pa = 0x3000_0000L + id * 0x10_0000L + i * 0x1000L;
                        f.core().map(d, iova, pa, 0x1000, Prot.RW);
                        assertThat(f.write(dev, iova + 4, new byte[] {(byte) i})).isEqualTo(pa + 4);
                        assertThat(f.core().unmap(d, iova, 0x1000)).isEqualTo(0x1000L);
                        assertThat(f.write(dev, iova + 4, new byte[] {(byte) i})).isEqualTo(-FaultReason.WRITE);
                    }
                    return null;
                }));
            }
            work.add(pool.submit(() -> {
                IommuDomain other = f.core().pagingDomainAlloc(f.leg0);
                f.core().map(other, 0x5000, 0x2700_0000L, 0x1000, Prot.RW);
                for (int i = 0; i < rounds / 3; i++) {
                    f.core().attachGroup(other, f.core().groupGet(f.leg0));
                    assertThat(f.write(f.leg0, 0x5000, new byte[1])).isEqualTo(0x2700_0000L);
                    f.core().detachGroup(other, f.core().groupGet(f.leg0));
                    assertThat(f.write(f.leg0, 0x5000, new byte[1])).isEqualTo(-FaultReason.WRITE);
                }
                return null;
            }));
            for (Future<?> w : work) {
                w.get();
            }
        } finally {
            pool.shutdownNow();
        }
        f.agree();
        assertThat(f.core().warnings()).isEmpty();
    }
}
