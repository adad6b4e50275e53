package org.jiommu.driver.vtd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.jiommu.base.Errno;
import org.jiommu.base.IommuException;
import org.jiommu.base.Prot;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.core.AttachHandle;
import org.jiommu.core.CoreSnapshot;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.hw.vtd.FaultReason;
import org.jiommu.hw.vtd.InvDescriptor;
import org.jiommu.hw.vtd.VtdConfig;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * The core's PASID API (attach / replace / detach device PASID) driving the VT-d driver in
 * scalable mode, with the hardware-agreement check (I7: every PASID entry walked from memory
 * matches the core's PASID slots) after every core call.
 */
class VtdPasidApiTest {
    private static final long PA_RID = 0x2000_0000L;
    private static final long PA_A = 0x2100_0000L;
    private static final long PA_B = 0x2200_0000L;

    @Test
    @DisplayName("PASID attach, replace and detach through the core: DMA with the PASID lands where mapped, detach faults it (VT-d)")
    void attachReplaceDetach() {
        VtdFixture f = VtdFixture.of(true, 48);
        f.hotplug(f.nic);
        IommuDomain def = f.domain(f.nic);
        f.core().map(def, 0x1000, PA_RID, 0x1000, Prot.RW);
        VtdDomain a = f.mappedDomain(f.nic, 0x1000, PA_A, Prot.RW);
        VtdDomain b = f.mappedDomain(f.nic, 0x1000, PA_B, Prot.READ);

        f.core().attachDevicePasid(a, f.nic, 5, new AttachHandle());
        f.agree();
        assertThat(f.driver().programmedPasid(f.nic, 5)).isSameAs(a);
        assertThat(f.write(f.nic, 5, 0x1000, new byte[] {1})).isEqualTo(PA_A);
        assertThat(f.write(f.nic, 0x1000, new byte[] {1})).isEqualTo(PA_RID);
        assertThat(a.attachments(f.unit())).isEqualTo(1);

        // Replace: the entry now points at b's table; a's id goes back with its last attachment.
        f.core().replaceDevicePasid(b, f.nic, 5, new AttachHandle());
        f.agree();
        assertThat(a.domainId(f.unit())).isEqualTo(-1);
        assertThat(f.write(f.nic, 5, 0x1000, new byte[] {1})).isEqualTo(-FaultReason.WRITE);
        assertThat(f.p.dma(f.nic).read(5, 0x1000, new byte[1], 0, 1, new org.jiommu.bus.dma.DmaResult()).firstPa())
                .isEqualTo(PA_B);

        // A second PASID with the identity domain: pass-through at that PASID only.
        f.core().attachDevicePasid(f.driver().identityDomain(), f.nic, 6);
        f.agree();
        assertThat(f.write(f.nic, 6, 0x3456_7000L, new byte[] {1})).isEqualTo(0x3456_7000L);

        f.core().detachDevicePasid(b, f.nic, 5);
        f.core().detachDevicePasid(f.driver().identityDomain(), f.nic, 6);
        f.agree();
        assertThat(f.write(f.nic, 5, 0x1000, new byte[] {1})).isEqualTo(-FaultReason.PASID_ENTRY_NOT_PRESENT);
        assertThat(f.write(f.nic, 6, 0x1000, new byte[] {1})).isEqualTo(-FaultReason.PASID_ENTRY_NOT_PRESENT);
        assertThat(f.lastDriverFault().pasid()).isEqualTo(6);
        assertThat(b.domainId(f.unit())).isEqualTo(-1);
        assertThat(f.write(f.nic, 0x1000, new byte[] {1})).isEqualTo(PA_RID);
        assertThat(f.core().warnings()).isEmpty();
    }

    @Test
    @DisplayName("PASID refusals through the core on VT-d change nothing: beyond the width, busy slot; a device without PASIDs is skipped, not refused (iommu_attach_device_pasid)")
    void refusals() {
        VtdFixture f = VtdFixture.of(true, 48);
        PciDevice narrow = f.endpoint("narrow", 0x1f, true, 4, false);
        f.hotplug(f.nic, f.disk, narrow);
        IommuDomain d = f.core().pagingDomainAlloc(f.nic);
        CoreSnapshot before = f.core().snapshot();
        assertThatThrownBy(() -> f.core().attachDevicePasid(d, narrow, 16))
                .isInstanceOfSatisfying(IommuException.class, e -> assertThat(e.errno()).isEqualTo(Errno.EINVAL));
        assertThat(f.core().snapshot()).isEqualTo(before);
        // disk cannot issue PASIDs: the core skips it (b3f6fcd8404f), the driver is not called
        f.core().attachDevicePasid(d, f.disk, 1);
        assertThat(f.driver().programmedPasid(f.disk, 1)).isNull();
        f.core().detachDevicePasid(d, f.disk, 1);
        assertThat(f.core().snapshot()).isEqualTo(before);
        f.core().attachDevicePasid(d, narrow, 15);
        assertThatThrownBy(() -> f.core().attachDevicePasid(f.driver().identityDomain(), narrow, 15))
                .isInstanceOfSatisfying(IommuException.class, e -> assertThat(e.errno()).isEqualTo(Errno.EBUSY));
        f.agree();
        assertThat(f.driver().programmedPasid(narrow, 15)).isSameAs(d);
    }

    @Test
    @DisplayName("#70 PASID rollback on VT-d: the second member of a group fails, the first gets its entry torn down again")
    void groupRollback() {
        VtdFixture f = VtdFixture.of(true, 48);
        // Two functions of one card without ACS: one group, both PASID-capable.
        PciDevice[] fns = f.twoFunctions(0x1f, false);
        PciDevice fn0 = fns[0];
        PciDevice fn1 = fns[1];
        f.hotplug(fn0, fn1);
        assertThat(f.core().groupGet(fn0)).isSameAs(f.core().groupGet(fn1));
        VtdDomain d = f.mappedDomain(fn0, 0x1000, PA_A, Prot.RW);
        CoreSnapshot before = f.core().snapshot();
        // fn0's PASID-table page for PASID 200 is the first frame asked for, fn1's the second.
        f.p.frames().failNthAllocation(2);
        java.util.List<InvDescriptor> seen = new java.util.ArrayList<>();
        f.unit().unit().setDescriptorListener(seen::add);
        assertThatThrownBy(() -> f.core().attachDevicePasid(d, fn0, 200))
                .isInstanceOfSatisfying(IommuException.class, e -> assertThat(e.errno()).isEqualTo(Errno.ENOMEM));
        assertThat(f.core().snapshot()).isEqualTo(before);
        f.agree();
        // fn0 had its entry: the rollback tore it down with fn0's PASID-based device-TLB invalidation.
        assertThat(seen).anySatisfy(x -> assertThat(x).isInstanceOfSatisfying(InvDescriptor.PasidDeviceTlbInv.class,
                i -> assertThat(i.sourceId()).isEqualTo(fn0.requesterId())));
        assertThat(f.driver().programmedPasid(fn0, 200)).isNull();
        assertThat(d.domainId(f.unit())).isEqualTo(-1);
        assertThat(f.write(fn0, 200, 0x1000, new byte[1])).isEqualTo(-FaultReason.PASID_ENTRY_NOT_PRESENT);

        f.core().attachDevicePasid(d, fn1, 200);
        f.agree();
        assertThat(f.write(fn0, 200, 0x1000, new byte[1])).isEqualTo(PA_A);
        assertThat(f.write(fn1, 200, 0x1000, new byte[1])).isEqualTo(PA_A);
        assertThat(d.attachments(f.unit())).isEqualTo(2);
        f.core().detachDevicePasid(d, fn0, 200);
        f.agree();
        assertThat(d.domainId(f.unit())).isEqualTo(-1);
    }

    @Test
    @DisplayName("PASID attach in legacy mode: the unit has no PASIDs, so the core skips the device and programs nothing (iommu_attach_device_pasid)")
    void legacyMode() {
        VtdFixture f = new VtdFixture(VtdConfig.legacy(48));
        f.hotplug(f.nic);
        IommuDomain d = f.core().pagingDomainAlloc(f.nic);
        f.core().attachDevicePasid(d, f.nic, 5);
        assertThat(f.core().devIommu(f.nic).maxPasids()).isZero();
        assertThat(f.driver().programmedPasid(f.nic, 5)).isNull();
        f.agree();
    }
}
