package org.jiommu.driver.vtd;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.stream.Stream;
import org.jiommu.base.Prot;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.hw.vtd.FaultReason;
import org.jiommu.hw.vtd.FaultRecord;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * DMA through the driver-programmed unit lands exactly where the core mapped it, for requests
 * without PASID, in legacy and scalable mode at 39, 48 and 57 bits; and faults where it must,
 * with the VT-d fault reason recorded by the unit and read back by the driver.
 */
class VtdDmaTest {
    static Stream<Arguments> modes() {
        return Stream.of(Arguments.of(false, 39), Arguments.of(false, 48), Arguments.of(false, 57),
                Arguments.of(true, 39), Arguments.of(true, 48), Arguments.of(true, 57));
    }

    @ParameterizedTest(name = "{0} scalable, {1}-bit")
    @MethodSource("modes")
    void dmaLandsWhereMapped(boolean scalable, int width) {
        VtdFixture f = VtdFixture.secondStage(scalable, width);
        f.hotplug(f.nic, f.disk, f.leg0);
        for (PciDevice dev : new PciDevice[] {f.nic, f.disk, f.leg0}) {
            IommuDomain d = f.domain(dev);
            assertThat(d).isInstanceOf(VtdDomain.class);
            assertThat(d.geometry().apertureEnd()).isEqualTo((1L << width) - 1);
            long top = (1L << width) - 0x1000;
            long[][] maps = {
                {0x1000, 0x1_2345_6000L, 0x1000},
                {0x4020_0000L, 0x2_0040_0000L, 0x20_0000},  // one 2 MiB page
                {0x8000_0000L, 0x2_8000_0000L, 0x4000_0000}, // one 1 GiB page
                {top, 0x1_0000_0000L, 0x1000},               // the last page of the aperture
            };
            int seed = 0;
            for (long[] m : maps) {
                f.core().map(d, m[0], m[1], m[2], Prot.RW);
                f.agree();
                for (long off : new long[] {0, m[2] / 2 + 8, m[2] - 16}) {
                    byte[] data = VtdFixture.pattern(16, ++seed);
                    assertThat(f.write(dev, m[0] + off, data)).as("%s iova %#x", dev, m[0] + off).isEqualTo(m[1] + off);
                    assertThat(f.p.memory().read(m[1] + off, 16)).containsExactly(data);
                    assertThat(f.read(dev, m[0] + off, 16)).containsExactly(data);
                }
            }
            for (long[] m : maps) {
                assertThat(f.core().unmap(d, m[0], m[2])).isEqualTo(m[2]);
                f.agree();
                assertThat(f.write(dev, m[0], new byte[4])).isEqualTo(-FaultReason.WRITE);
                assertThat(f.read(dev, m[0] + m[2] - 4, 4)).isNull();
                assertThat(f.lastReadFault).isEqualTo(FaultReason.READ);
            }
        }
    }

    @ParameterizedTest(name = "{0} scalable, {1}-bit")
    @MethodSource("modes")
    void faultsWithTheirReason(boolean scalable, int width) {
        VtdFixture f = VtdFixture.secondStage(scalable, width);
        // No context entry yet: the root entry of bus 2 is not present.
        assertThat(f.write(f.disk, 0x1000, new byte[4])).isEqualTo(-FaultReason.ROOT_ENTRY_NOT_PRESENT);
        f.hotplug(f.disk, f.nic);
        IommuDomain d = f.domain(f.disk);
        f.core().map(d, 0x1000, 0x3000_0000L, 0x1000, Prot.READ);
        f.core().map(d, 0x2000, 0x3000_1000L, 0x1000, Prot.WRITE);

        // not present (an unmapped page): the second-level walk finds neither R nor W
        assertFault(f, f.disk, 0x5000, true, FaultReason.WRITE);
        assertFault(f, f.disk, 0x5000, false, FaultReason.READ);
        // permission
        assertThat(f.read(f.disk, 0x1000, 4)).isNotNull();
        assertFault(f, f.disk, 0x1000, true, FaultReason.WRITE);
        assertThat(f.write(f.disk, 0x2000, new byte[4])).isEqualTo(0x3000_1000L);
        assertFault(f, f.disk, 0x2000, false, FaultReason.READ);
        // out of range: beyond the domain's address width
        assertFault(f, f.disk, 1L << width, false, FaultReason.ADDRESS_BEYOND_MGAW);
        // blocked domain
        f.core().groupClaimDmaOwner(f.core().groupGet(f.disk), "vfio");
        f.agree();
        assertFault(f, f.disk, 0x1000, false,
                scalable ? FaultReason.PASID_ENTRY_NOT_PRESENT : FaultReason.CONTEXT_ENTRY_NOT_PRESENT);
        f.core().groupReleaseDmaOwner(f.core().groupGet(f.disk));
        f.agree();
        assertThat(f.read(f.disk, 0x1000, 4)).isNotNull();
        // a PASID the device has no entry for (nic has ATS on: its request is a translation request)
        assertThat(f.nic.atsEnabled()).isTrue();
        long r = f.write(f.nic, 7, 0x1000, new byte[4]);
        int reason = scalable ? FaultReason.PASID_ENTRY_NOT_PRESENT : FaultReason.TRANSLATION_TYPE_BLOCKED;
        assertThat(r).isEqualTo(-reason);
        assertRecorded(f, f.nic, 0x1000, true, reason, 7);
    }

    private static void assertFault(VtdFixture f, PciDevice dev, long iova, boolean write, int reason) {
        long r = write ? f.write(dev, iova, new byte[4]) : (f.read(dev, iova, 4) == null ? -f.lastReadFault : 0);
        assertThat(r).as("%s %s %#x", dev, write ? "write" : "read", iova).isEqualTo(-reason);
        assertRecorded(f, dev, iova, write, reason, -1);
    }

    /** The unit recorded the fault in a fault recording register, and the driver read it back from there. */
    private static void assertRecorded(VtdFixture f, PciDevice dev, long iova, boolean write, int reason, int pasid) {
        FaultRecord hw = f.lastFault();
        assertThat(hw.disposition()).isEqualTo(FaultRecord.Disposition.RECORDED);
        assertThat(hw.reason()).isEqualTo(reason);
        DmarFault df = f.lastDriverFault();
        assertThat(df).isEqualTo(new DmarFault(f.unit().name(), f.p.topology().dmaRequesterId(dev), pasid,
                iova & ~0xFFFL, reason, write, dev.atsEnabled()));
    }
}
