package org.jiommu.driver.vtd;

import static org.assertj.core.api.Assertions.assertThat;

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
 * fail_nth sweeps over probe, domain allocation, attach and map: whichever allocation fails
 * (a core or driver site through the core's fail_nth, or a table page through the frame
 * allocator's), the call fails with -ENOMEM and the core is as before. The hardware agrees with it
 * and the device keeps working on what it had, except after a failed attach: the driver blocked
 * translation first, as the kernel's does, and I7 reports the device left blocked.
 */
class VtdFailNthTest {
    /** Runs the steps with the Nth allocation failing; true once a run never hit the failure. */
    private static boolean run(boolean scalable, int n, boolean frames) {
        VtdFixture f = VtdFixture.of(scalable, 48);
        if (frames) {
            f.p.frames().failNthAllocation(n);
        } else {
            f.core().failNthAllocation(n);
        }
        try {
            f.p.hotplug(f.nic);
        } catch (IommuException e) {
            assertThat(e.errno()).isEqualTo(Errno.ENOMEM);
            assertThat(f.driver().probed(f.nic)).isFalse();
            assertThat(VtdHardwareAgreement.check(f.p)).isEmpty();
            return false;
        }
        f.agree();
        IommuDomain def = f.domain(f.nic);
        try {
            f.core().map(def, 0x1000, 0x2000_0000L, 0x1000, Prot.RW);
        } catch (IommuException e) {
            assertThat(e.errno()).isEqualTo(Errno.ENOMEM); // a table page: nothing stays mapped
            assertThat(f.core().iovaToPhys(def, 0x1000)).isZero();
            f.agree();
            return false;
        }
        CoreSnapshot before = f.core().snapshot();
        IommuDomain d = null;
        boolean attaching = false;
        try {
            d = f.core().pagingDomainAlloc(f.nic);
            f.core().map(d, 0x1000, 0x2100_0000L, 0x1000, Prot.RW);
            attaching = true;
            f.core().attachDevice(d, f.nic);
        } catch (IommuException e) {
            assertThat(e.errno()).isEqualTo(Errno.ENOMEM);
            for (IommuDomain x : f.core().liveDomains()) {
                if (!before.domains().stream().anyMatch(s -> s.domain() == x)) {
                    f.core().domainFree(x); // the caller's cleanup of a domain it got before the failure
                }
            }
            assertThat(f.core().snapshot()).isEqualTo(before);
            if (attaching) {
                // intel_iommu_attach_device blocked translation before the allocation failed, and
                // the core does not re-attach the failing device: blocked under the old domain,
                // which I7 reports as the kernel's doing
                assertThat(f.driver().programmedDomain(f.nic)).isNull();
                assertThat(VtdHardwareAgreement.check(f.p)).isNotEmpty()
                        .allSatisfy(v -> assertThat(v).contains(HardwareAgreement.LEFT_BLOCKED));
                assertThat(f.write(f.nic, 0x1000, new byte[1])).isNegative();
                return false;
            }
            f.agree();
            assertThat(f.driver().programmedDomain(f.nic)).isSameAs(def);
            assertThat(f.write(f.nic, 0x1000, new byte[1])).isEqualTo(0x2000_0000L);
            return false;
        }
        f.agree();
        assertThat(f.write(f.nic, 0x1000, new byte[1])).isEqualTo(0x2100_0000L);
        return frames ? true : f.core().failNthArmed();
    }

    @ParameterizedTest(name = "scalable {0}")
    @ValueSource(booleans = {false, true})
    @DisplayName("fail_nth over core and driver allocation sites")
    void coreSites(boolean scalable) {
        int n = 1;
        while (!run(scalable, n, false)) {
            n++;
        }
        assertThat(n).isGreaterThan(3);
    }

    @ParameterizedTest(name = "scalable {0}")
    @ValueSource(booleans = {false, true})
    @DisplayName("fail_nth over table pages from the frame allocator")
    void framePages(boolean scalable) {
        for (int n = 1; n <= 12; n++) {
            run(scalable, n, true);
        }
    }
}
