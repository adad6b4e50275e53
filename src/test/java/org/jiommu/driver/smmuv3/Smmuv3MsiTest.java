package org.jiommu.driver.smmuv3;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import org.jiommu.base.Errno;
import org.jiommu.base.IommuException;
import org.jiommu.bus.dma.DmaResult;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.core.spi.ResvRegion;
import org.jiommu.core.spi.ResvType;
import org.jiommu.dma.DmaDirection;
import org.jiommu.dma.DmaInvariants;
import org.jiommu.dma.DmaIommu;
import org.jiommu.dma.SimClock;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * The MSI doorbell behind an SMMUv3 (dma-iommu.c's MSI pages): on a DMA domain the doorbell page
 * takes the first IOVA of the domain's allocator, so the first dma_map lands just below it; on a
 * VFIO-style unmanaged domain the MSI cookie hands out the SW_MSI window the SMMU driver reports.
 * Either way the device's MSI write reaches the doorbell's physical address through the SMMU.
 */
class Smmuv3MsiTest {
    /** GITS_TRANSLATER of a GICv3 ITS whose frame is at 0x0808_0000 (a QEMU virt board's). */
    private static final long DOORBELL = 0x0809_0040L;
    private static final byte[] MSI_DATA = {0x2a, 0, 0, 0};

    private static long msiWrite(Smmuv3Bed b, PciDevice dev, long addr) {
        DmaResult r = b.engine(dev).write(-1, addr, MSI_DATA, 0, 4, new DmaResult());
        return r.ok() ? r.firstPa() : -1;
    }

    @Test
    @DisplayName("MSI on a DMA domain: the doorbell page is mapped at the first IOVA top-down below 4 GiB"
            + " (0xfffff000), the first dma_map lands just below it, the device's MSI write reaches the doorbell")
    void dmaDomain() {
        Smmuv3Bed b = new Smmuv3Bed(Smmuv3Bed.features());
        PciDevice nic = b.endpoint("nic", false, 0, false);
        b.add(nic);
        b.core.deviceUseDefaultDomain(nic);
        DmaIommu dma = new DmaIommu(b.core, b.p.memory(), new SimClock(), DmaIommu.Config.defaults(1L << 32, 2));
        dma.bindCpu(0);
        long msi = dma.dmaPrepareMsi(nic, DOORBELL);
        assertThat(msi).isEqualTo(0xFFFF_F040L);
        assertThat(dma.dmaPrepareMsi(nic, DOORBELL + 4)).as("same page, same mapping").isEqualTo(0xFFFF_F044L);
        IommuDomain d = b.core.getDomainForDev(nic);
        assertThat(dma.msiPages(d)).singleElement().satisfies(p -> {
            assertThat(p.phys()).isEqualTo(DOORBELL & ~0xFFFL);
            assertThat(p.iova()).isEqualTo(0xFFFF_F000L);
        });
        long buf = dma.dmaMapSingle(nic, 0x1000_0000L, 0x1000, DmaDirection.TO_DEVICE);
        assertThat(buf).isEqualTo(0xFFFF_E000L);
        assertThat(msiWrite(b, nic, msi)).isEqualTo(DOORBELL);
        assertThat(b.p.memory().read(DOORBELL, 4)).containsExactly(MSI_DATA);
        assertThat(DmaInvariants.check(b.core, dma)).isEmpty();
        dma.dmaUnmapSingle(nic, buf, 0x1000, DmaDirection.TO_DEVICE);
        assertThat(msiWrite(b, nic, msi)).as("the doorbell stays mapped").isEqualTo(DOORBELL);
        assertThat(DmaInvariants.check(b.core, dma)).isEmpty();
    }

    @Test
    @DisplayName("MSI on an unmanaged domain (VFIO): iommu_get_msi_cookie at the SW_MSI base the SMMU reports"
            + " (0x8000000), doorbell pages at 0x8000000, 0x8001000; a second cookie -ENODEV, a DMA domain -EINVAL")
    void unmanagedDomain() {
        Smmuv3Bed b = new Smmuv3Bed(Smmuv3Bed.features());
        PciDevice nic = b.endpoint("nic", false, 0, false);
        b.add(nic);
        DmaIommu dma = new DmaIommu(b.core, b.p.memory(), new SimClock(), DmaIommu.Config.defaults(1L << 32, 2));
        ResvRegion swMsi = b.core.getResvRegions(nic).stream().filter(r -> r.type() == ResvType.SW_MSI)
                .findFirst().orElseThrow();
        assertThat(swMsi.start()).isEqualTo(Smmuv3Driver.MSI_IOVA_BASE);
        IommuException e = catchThrowableOfType(() -> dma.getMsiCookie(b.core.getDomainForDev(nic), swMsi.start()),
                IommuException.class);
        assertThat(e.errno()).isEqualTo(Errno.EINVAL);
        b.core.groupClaimDmaOwner(b.core.groupGet(nic), "vfio");
        IommuDomain u = b.core.pagingDomainAlloc(nic);
        dma.getMsiCookie(u, swMsi.start());
        assertThat(catchThrowableOfType(() -> dma.getMsiCookie(u, swMsi.start()), IommuException.class).errno())
                .isEqualTo(Errno.ENODEV);
        b.core.attachGroup(u, b.core.groupGet(nic));
        long msi = dma.dmaPrepareMsi(nic, DOORBELL);
        assertThat(msi).isEqualTo(0x800_0040L);
        assertThat(dma.dmaPrepareMsi(nic, 0x080A_0040L)).isEqualTo(0x800_1040L);
        assertThat(msiWrite(b, nic, msi)).isEqualTo(DOORBELL);
        assertThat(b.p.memory().read(DOORBELL, 4)).containsExactly(MSI_DATA);
        assertThat(msiWrite(b, nic, 0x800_1040L)).isEqualTo(0x080A_0040L);
        assertThat(b.p.agreement()).isEmpty();
    }
}
