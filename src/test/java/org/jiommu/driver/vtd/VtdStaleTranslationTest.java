package org.jiommu.driver.vtd;

import static org.assertj.core.api.Assertions.assertThat;

import org.jiommu.base.Prot;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.driver.common.DriverFaults;
import org.jiommu.hw.vtd.FaultReason;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The caches are real: a driver variant that leaves out one invalidation after an unmap lets the
 * device keep reaching the unmapped page (an IOTLB entry for a device without ATS, an ATC entry
 * for one with ATS), while the normal driver, in the same sequence, faults.
 */
class VtdStaleTranslationTest {
    static final long IOVA = 0x7_0000L;
    static final long PA = 0x1_5000_0000L;

    /** Map, DMA once (filling the caches), unmap; then the result of a second DMA write. */
    private static long sequence(VtdFixture f, PciDevice dev, DriverFaults.Skip skip) {
        f.hotplug(dev);
        IommuDomain d = f.domain(dev);
        f.core().map(d, IOVA, PA, 0x1000, Prot.RW);
        assertThat(f.write(dev, IOVA + 8, new byte[] {1})).isEqualTo(PA + 8);
        if (skip != null) {
            f.driver().faults().skip(skip, 1);
        }
        f.core().unmap(d, IOVA, 0x1000);
        f.agree(); // the tables agree either way: only a cache can be stale
        return f.write(dev, IOVA + 16, new byte[] {0x5A});
    }

    @ParameterizedTest(name = "scalable {0}")
    @ValueSource(booleans = {false, true})
    @DisplayName("IOTLB: skipping the page-selective IOTLB invalidation leaves a stale translation")
    void staleIotlb(boolean scalable) {
        VtdFixture buggy = VtdFixture.secondStage(scalable, 48);
        assertThat(sequence(buggy, buggy.disk, DriverFaults.Skip.IOTLB)).isEqualTo(PA + 16);
        assertThat(buggy.p.memory().read(PA + 16, 1)).containsExactly(0x5A);
        assertThat(buggy.unit().unit().iotlbEntries()).anyMatch(e -> e.iovaBase == IOVA);
        // A full flush clears it.
        buggy.core().flushIotlbAll(buggy.domain(buggy.disk));
        assertThat(buggy.write(buggy.disk, IOVA, new byte[1])).isEqualTo(-FaultReason.WRITE);

        VtdFixture good = VtdFixture.secondStage(scalable, 48);
        assertThat(sequence(good, good.disk, null)).isEqualTo(-FaultReason.WRITE);
        assertThat(good.p.memory().read(PA + 16, 1)).containsExactly(0);
        assertThat(good.unit().unit().iotlbEntries()).noneMatch(e -> e.iovaBase == IOVA);
    }

    @ParameterizedTest(name = "scalable {0}")
    @ValueSource(booleans = {false, true})
    @DisplayName("ATC: skipping the device-TLB invalidation leaves a stale translation in the device")
    void staleAtc(boolean scalable) {
        VtdFixture buggy = VtdFixture.secondStage(scalable, 48);
        assertThat(sequence(buggy, buggy.nic, DriverFaults.Skip.DEVICE_TLB)).isEqualTo(PA + 16);
        assertThat(buggy.p.memory().read(PA + 16, 1)).containsExactly(0x5A);
        assertThat(buggy.nic.atc().contains(-1, IOVA)).isTrue();
        // The IOTLB was invalidated: only the device's own cache is stale.
        assertThat(buggy.unit().unit().iotlbEntries()).noneMatch(e -> e.iovaBase == IOVA);

        VtdFixture good = VtdFixture.secondStage(scalable, 48);
        assertThat(sequence(good, good.nic, null)).isEqualTo(-FaultReason.WRITE);
        assertThat(good.p.memory().read(PA + 16, 1)).containsExactly(0);
        assertThat(good.nic.atc().contains(-1, IOVA)).isFalse();
    }
}
