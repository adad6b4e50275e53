package org.jiommu.driver.vtd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import java.util.ArrayList;
import java.util.List;
import org.jiommu.base.Errno;
import org.jiommu.base.IommuException;
import org.jiommu.base.Prot;
import org.jiommu.core.CoreConfig;
import org.jiommu.core.IommuGroup;
import org.jiommu.core.KernelVersion;
import org.jiommu.core.TraceEvent;
import org.jiommu.core.spi.DomainType;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.hw.vtd.FaultReason;
import org.jiommu.hw.vtd.VtdConfig;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** SEED-POINTS S17-S21 on the VT-d driver and hardware. */
class VtdSeedPointsTest {
    static final long RMRR = 0x7000_0000L;

    private static List<String> driverCalls(VtdFixture f) {
        List<String> calls = new ArrayList<>();
        f.core().addTraceListener(e -> {
            if (e.kind() == TraceEvent.Kind.DRIVER) {
                calls.add(e.function() + e.text());
            }
        });
        return calls;
    }

    @ParameterizedTest(name = "scalable {0}")
    @ValueSource(booleans = {false, true})
    @DisplayName("S17 device removal attaches the release domain (blocked) before release_device; DMA is blocked after")
    void s17(boolean scalable) {
        VtdFixture f = VtdFixture.secondStage(scalable, 48);
        f.hotplug(f.nic);
        IommuDomain d = f.domain(f.nic);
        f.core().map(d, 0x3000, 0x2600_0000L, 0x1000, Prot.RW);
        assertThat(f.write(f.nic, 0x3000, new byte[1])).isEqualTo(0x2600_0000L);
        assertThat(f.driver().ops().releaseDomain()).isSameAs(f.driver().blockedDomain());
        List<String> calls = driverCalls(f);
        f.p.remove(f.nic);
        f.agree();
        assertThat(calls).containsSubsequence("attach_dev(intel.blocked, nic, old=" + d + ") = 0 [release]",
                "release_device(nic)");
        assertThat(calls).filteredOn(c -> c.startsWith("attach_dev")).hasSize(1);
        assertThat(f.driver().probed(f.nic)).isFalse();
        assertThat(f.nic.atsEnabled()).isFalse();
        assertThat(f.write(f.nic, 0x3000, new byte[1])).isEqualTo(-FaultReason.CONTEXT_ENTRY_NOT_PRESENT);
        assertThat(f.core().warnings()).isEmpty();
    }

    @ParameterizedTest(name = "scalable {0}")
    @ValueSource(booleans = {false, true})
    @DisplayName("S18 require_direct: direct mappings from probe, BLOCKED refused, parked on IDENTITY at release; "
            + "intel_iommu_release_device then tears the scalable context down (legacy keeps pass-through)")
    void s18(boolean scalable) {
        VtdFixture f = VtdFixture.secondStage(scalable, 48);
        f.driver().addRmrr(f.disk, RMRR, 0x4000, false);
        f.hotplug(f.disk);
        assertThat(f.core().devIommu(f.disk).requireDirect()).isTrue();
        IommuDomain def = f.domain(f.disk);
        assertThat(def.type()).isEqualTo(DomainType.DMA_FQ);
        // The default domain carries the RMRR 1:1 from probe time.
        assertThat(f.write(f.disk, RMRR + 0x10, new byte[] {7})).isEqualTo(RMRR + 0x10);
        assertThat(f.write(f.disk, RMRR + 0x4000, new byte[] {7})).isEqualTo(-FaultReason.WRITE);
        IommuGroup g = f.core().groupGet(f.disk);
        IommuException e = catchThrowableOfType(() -> f.core().groupClaimDmaOwner(g, "vfio"), IommuException.class);
        assertThat(e.errno()).isEqualTo(Errno.EINVAL);
        IommuException e2 = catchThrowableOfType(() -> f.core().attachGroup(f.driver().blockedDomain(), g),
                IommuException.class);
        assertThat(e2.errno()).isEqualTo(Errno.EINVAL);
        assertThat(f.domain(f.disk)).isSameAs(def);
        f.agree();
        List<String> calls = driverCalls(f);
        f.p.remove(f.disk);
        f.agree();
        assertThat(calls).contains("attach_dev(intel.identity, disk, old=" + def + ") = 0 [release]");
        if (scalable) {
            // intel_iommu_release_device: in scalable mode the context entry goes and the PASID
            // table is freed whatever the release domain was, so the RMRR faults once release ran
            assertThat(f.write(f.disk, RMRR + 0x20, new byte[] {8})).isEqualTo(-FaultReason.CONTEXT_ENTRY_NOT_PRESENT);
        } else {
            // legacy: the pass-through context entry the release domain wrote stays
            assertThat(f.write(f.disk, RMRR + 0x20, new byte[] {8})).isEqualTo(RMRR + 0x20);
            assertThat(f.p.memory().read(RMRR + 0x20, 1)).containsExactly(8);
        }
        // Hot-added again: back on a DMA domain with the RMRR mapped, nothing leaked or warned.
        f.hotplug(f.disk);
        assertThat(f.domain(f.disk).type()).isEqualTo(DomainType.DMA_FQ);
        assertThat(f.write(f.disk, RMRR + 0x30, new byte[] {9})).isEqualTo(RMRR + 0x30);
        assertThat(f.write(f.disk, 0x10_0000, new byte[] {9})).isEqualTo(-FaultReason.WRITE);
        assertThat(f.core().warnings()).isEmpty();
    }

    @ParameterizedTest(name = "scalable {0}")
    @ValueSource(booleans = {false, true})
    @DisplayName("S18 before v6.19 the core releases a require_direct device onto the blocked release domain")
    void s18Before619(boolean scalable) {
        VtdFixture f = new VtdFixture(VtdFixture.secondStageConfig(scalable, 48),
                CoreConfig.builder().version(KernelVersion.V6_18).build());
        f.driver().addRmrr(f.disk, RMRR, 0x4000, false);
        f.hotplug(f.disk);
        f.p.remove(f.disk);
        f.agree();
        assertThat(f.write(f.disk, RMRR, new byte[1])).isEqualTo(-FaultReason.CONTEXT_ENTRY_NOT_PRESENT);
    }

    @ParameterizedTest(name = "scalable {0}")
    @ValueSource(booleans = {false, true})
    @DisplayName("S19 the IOPF count is zero on blocked or identity with no PASIDs; a leaking driver is reported")
    void s19(boolean scalable) {
        VtdFixture f = VtdFixture.secondStage(scalable, 48);
        f.hotplug(f.nic, f.disk);
        VtdDomain d = (VtdDomain) f.core().pagingDomainAlloc(f.nic);
        d.setIopfCapable(true);
        IommuGroup g = f.core().groupGet(f.nic);
        f.core().groupClaimDmaOwner(g, "iommufd");
        if (!scalable) {
            // pri_supported is a scalable-mode property (intel_iommu_probe_device): a legacy unit
            // takes no page requests, so an IOPF-capable domain is refused and nothing is counted.
            IommuException e = catchThrowableOfType(() -> f.core().attachGroup(d, g), IommuException.class);
            assertThat(e.errno()).isEqualTo(Errno.ENODEV);
            assertThat(f.driver().iopfRefcount(f.nic)).isZero();
            f.agree();
            return;
        }
        f.core().attachGroup(d, g);
        assertThat(f.driver().iopfRefcount(f.nic)).isEqualTo(1);
        f.core().detachGroup(d, g);
        assertThat(f.driver().iopfRefcount(f.nic)).isZero();
        f.core().attachGroup(d, g);
        f.core().attachGroup(f.driver().identityDomain(), f.core().groupGet(f.disk));
        assertThat(f.core().warnings()).isEmpty();
        // Without PRI the device cannot take page requests: the domain is refused there.
        IommuException e = catchThrowableOfType(() -> f.core().attachGroup(d, f.core().groupGet(f.disk)),
                IommuException.class);
        assertThat(e.errno()).isIn(Errno.ENODEV, Errno.EBUSY);
        f.agree();

        f.driver().faults().leakIopfRefcount(true);
        f.core().detachGroup(d, g); // back to blocked with the reference still counted
        assertThat(f.driver().iopfRefcount(f.nic)).isEqualTo(1);
        assertThat(f.core().warnings()).anyMatch(w -> w.message().contains("iopf_refcount 1"));
    }

    @ParameterizedTest(name = "scalable {0}")
    @ValueSource(booleans = {false, true})
    @DisplayName("S20 attach gets the old domain from the core and checks it against the hardware; no lookups")
    void s20(boolean scalable) {
        VtdFixture f = VtdFixture.secondStage(scalable, 48);
        List<String> calls = driverCalls(f);
        f.hotplug(f.nic);
        IommuDomain def = f.domain(f.nic);
        IommuDomain d = f.core().pagingDomainAlloc(f.nic);
        f.core().attachDevice(d, f.nic);
        f.core().detachDevice(d, f.nic);
        assertThat(calls).containsSubsequence("attach_dev(" + def + ", nic, old=null) = 0",
                "attach_dev(" + d + ", nic, old=" + def + ") = 0", "attach_dev(" + def + ", nic, old=" + d + ") = 0");
        // No WARN: the driver never asked the core for the current domain under the group lock.
        assertThat(f.core().warnings()).isEmpty();
        // A core that hands over the wrong old domain is caught by the driver's own record.
        int r = d.ops().attachDev().attachDev(d, f.nic, f.driver().identityDomain());
        assertThat(r).isZero();
        assertThat(f.core().warnings()).anyMatch(w -> w.message().contains("core says the old domain is intel.identity"));
    }

    @ParameterizedTest(name = "scalable {0}")
    @ValueSource(booleans = {false, true})
    @DisplayName("S21 no set_dev_pasid with the release domain; static identity and blocked are shared and never freed")
    void s21(boolean scalable) {
        VtdFixture f = new VtdFixture(VtdFixture.secondStageConfig(scalable, 48), CoreConfig.builder().passthrough(true).build());
        List<String> calls = driverCalls(f);
        f.hotplug(f.nic, f.disk);
        IommuDomain id = f.driver().identityDomain();
        assertThat(f.domain(f.nic)).isSameAs(id);
        assertThat(f.domain(f.disk)).isSameAs(id);
        assertThat(f.driver().ops().identityDomain()).isSameAs(id);
        assertThat(id.ops().free()).isNull();
        assertThat(f.driver().blockedDomain().ops().free()).isNull();
        IommuException e = catchThrowableOfType(() -> f.core().domainFree(f.driver().blockedDomain()),
                IommuException.class);
        assertThat(e.errno()).isEqualTo(Errno.EINVAL);
        assertThat(f.write(f.nic, 0x1234_0000L, new byte[1])).isEqualTo(0x1234_0000L);
        f.p.remove(f.nic);
        f.p.remove(f.disk);
        f.agree();
        assertThat(calls).noneMatch(c -> c.startsWith("set_dev_pasid"));
        // Still usable after everyone left.
        f.hotplug(f.leg0);
        assertThat(f.domain(f.leg0)).isSameAs(id);
        assertThat(f.write(f.leg0, 0x1234_0000L, new byte[1])).isEqualTo(0x1234_0000L);
        assertThat(f.core().warnings()).isEmpty();
        assertThat(VtdConfig.scalable(48).passThrough()).isTrue();
    }
}
