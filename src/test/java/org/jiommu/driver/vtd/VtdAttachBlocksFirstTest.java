package org.jiommu.driver.vtd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.jiommu.base.Errno;
import org.jiommu.base.IommuException;
import org.jiommu.base.Prot;
import org.jiommu.core.CoreSnapshot;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.platform.HardwareAgreement;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * intel_iommu_attach_device calls device_block_translation before anything that can fail, and
 * since v6.19 the core's revert skips the failing device: a failed attach leaves the device
 * blocked while the group stays on its old domain. I7 reports that state as a finding about the
 * kernel; the next attach of another domain brings the device back.
 */
class VtdAttachBlocksFirstTest {
    @ParameterizedTest(name = "scalable {0}")
    @ValueSource(booleans = {false, true})
    @DisplayName("intel_iommu_attach_device: device_block_translation first, a failed attach leaves the device blocked (I7 finding)")
    void intelIommuAttachDeviceBlocksFirst(boolean scalable) {
        VtdFixture f = VtdFixture.of(scalable, 48);
        f.hotplug(f.nic);
        IommuDomain def = f.domain(f.nic);
        f.core().map(def, 0x1000, 0x2000_0000L, 0x1000, Prot.RW);
        assertThat(f.write(f.nic, 0x1000, new byte[1])).isEqualTo(0x2000_0000L);
        IommuDomain d = f.core().pagingDomainAlloc(f.nic);
        f.core().map(d, 0x1000, 0x2100_0000L, 0x1000, Prot.RW);
        CoreSnapshot before = f.core().snapshot();
        f.core().failNthAllocation(1); // domain_attach_iommu: the domain id's allocation
        assertThatThrownBy(() -> f.core().attachDevice(d, f.nic))
                .isInstanceOfSatisfying(IommuException.class, e -> assertThat(e.errno()).isEqualTo(Errno.ENOMEM));
        // the core keeps the old domain; the hardware has nothing for the device
        assertThat(f.core().snapshot()).isEqualTo(before);
        assertThat(f.domain(f.nic)).isSameAs(def);
        assertThat(f.driver().programmedDomain(f.nic)).isNull();
        assertThat(f.write(f.nic, 0x1000, new byte[1])).isNegative();
        // I7: reported, worded as the kernel's doing, one finding per requester id
        assertThat(VtdHardwareAgreement.check(f.p)).isNotEmpty()
                .allSatisfy(v -> assertThat(v).contains(f.nic.toString()).contains(HardwareAgreement.LEFT_BLOCKED));
        // attaching d again succeeds and ends the state
        f.core().attachDevice(d, f.nic);
        f.agree();
        assertThat(f.write(f.nic, 0x1000, new byte[1])).isEqualTo(0x2100_0000L);
    }
}
