package org.jiommu.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.jiommu.core.Fixture.fails;

import java.util.ArrayList;
import java.util.List;
import org.jiommu.base.Errno;
import org.jiommu.base.IommuException;
import org.jiommu.base.Prot;
import org.jiommu.bus.PlatformDevice;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.core.spi.DevFeature;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.core.spi.ResvRegion;
import org.jiommu.core.spi.ResvType;
import org.jiommu.driver.mock.MockConfig;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * Issue 13, core items 10-14: rules where the core used to depart from the current kernel's
 * iommu.c. Each test is named after the kernel function it follows and fails on the old model.
 */
class CoreKernelFidelityTest {
    /** Two PASID-capable PCI functions in one group (the mock's groupWith), booted together. */
    private static PciDevice[] pasidPair(Fixture f) {
        PciDevice a = f.pci("a");
        PciDevice b = f.pci("b");
        f.m.groupWith(b, a);
        f.core.deviceAdd(a);
        f.core.deviceAdd(b);
        assertThat(f.group(b)).isSameAs(f.group(a));
        assertThat(f.core.devIommu(a).maxPasids()).isPositive();
        assertThat(f.core.devIommu(b).maxPasids()).isPositive();
        return new PciDevice[] {a, b};
    }

    @Test
    @DisplayName("pci_dev_reset_iommu_done restores each PASID on the reset device only, by set_dev_pasid with old ="
            + " blocking domain (1615e8896a8f); the sibling, never taken off, gets no call")
    void pciDevResetIommuDoneRestoresTheResetDevice() {
        Fixture f = new Fixture();
        PciDevice[] ab = pasidPair(f);
        IommuGroup g = f.group(ab[0]);
        IommuDomain d = f.core.pagingDomainAlloc(ab[0]);
        f.core.attachDevicePasid(d, ab[0], 7);
        f.core.pciDevResetIommuPrepare(ab[0]);
        IommuDomain blk = g.blockingDomain();
        f.m.clearEvents();
        f.core.pciDevResetIommuDone(ab[0]);
        assertThat(f.m.calls("set_dev_pasid")).containsExactly(
                "set_dev_pasid(" + d + ", a, 7, old=" + blk + ") = 0");
        assertThat(f.m.programmedPasid(ab[0], 7)).isSameAs(d);
        assertThat(f.m.programmedPasid(ab[1], 7)).isSameAs(d);
        assertThat(g.resettingDomain()).isNull();
    }

    @Test
    @DisplayName("iommu_replace_device_pasid checks in the kernel's order: -ENODEV, then -EOPNOTSUPP, then one -EINVAL test (incompatible, PASID 0, no handle)")
    void replaceDevicePasidCheckOrder() {
        Fixture f = new Fixture(MockConfig.builder("M").blockedSetDevPasid(false).build());
        PciDevice a = f.pci("a");
        f.core.deviceAdd(a);
        PciDevice stray = f.pci("stray"); // never added: no group
        IommuDomain d = f.core.pagingDomainAlloc(a);
        // no group comes first, even with the handle missing
        fails(Errno.ENODEV, () -> f.core.replaceDevicePasid(d, stray, 5, null));
        // a domain without set_dev_pasid comes before the missing handle
        fails(Errno.EOPNOTSUPP, () -> f.core.replaceDevicePasid(f.m.blockedDomain(), a, 5, null));
        fails(Errno.EINVAL, () -> f.core.replaceDevicePasid(d, a, 5, null));
        fails(Errno.EINVAL, () -> f.core.replaceDevicePasid(d, a, 0, new AttachHandle()));
    }

    /**
     * a, then b joining a's group, both with a direct region [0, 0x2000); the driver's events are
     * cleared before b is added. Returns the group's default domain.
     */
    private static IommuDomain joinSecondDirectAt0(Fixture f) {
        List<ResvRegion> at0 = List.of(new ResvRegion(0, 0x2000, Prot.RW, ResvType.DIRECT_RELAXABLE));
        PlatformDevice a = f.plat("a");
        PlatformDevice b = f.plat("b");
        f.m.groupWith(b, a);
        f.m.setResvRegions(a, at0);
        f.m.setResvRegions(b, at0);
        f.core.deviceAdd(a);
        f.m.clearEvents();
        f.core.deviceAdd(b);
        assertThat(f.group(b)).isSameAs(f.group(a));
        return f.group(a).defaultDomain();
    }

    @Test
    @DisplayName("iommu_create_device_direct_mappings probes IOVA 0 at 1 (v6.19, 0a4d00e2e99a): a region at 0 already mapped is skipped, not mapped again")
    void directMappingsIova0() {
        // v7.0: the second device of the group finds pages 0 and 0x1000 mapped and maps nothing
        Fixture f = new Fixture();
        IommuDomain def = joinSecondDirectAt0(f);
        assertThat(f.core.iovaToPhys(def, 0x1000)).isEqualTo(0x1000);
        assertThat(f.m.calls("map_pages")).isEmpty();
        // v6.18: iova_to_phys(0) == 0 reads as "not mapped", page 0 is mapped again and the format
        // refuses (the joining device's probe ignores the error, as __iommu_probe_device does)
        Fixture old = new Fixture(CoreConfig.builder().version(KernelVersion.V6_18).build());
        IommuDomain oldDef = joinSecondDirectAt0(old);
        assertThat(old.m.calls("map_pages")).singleElement().asString()
                .startsWith("map_pages(" + oldDef + ", 0x0, 0x0, 0x1000 x 1)").doesNotEndWith("= 0");
        assertThat(old.logged("direct mappings failed")).isTrue();
        assertThat(f.logged("direct mappings failed")).isFalse();
    }

    @Test
    @DisplayName("iommu_init_device tests probe_device with IS_ERR only: NULL is no errno (the kernel oopses in iommu_device_link), an ERR_PTR is")
    void probeDeviceNullVsIsErr() {
        Fixture f = new Fixture();
        PlatformDevice a = f.plat("a");
        f.m.probeReturnsNull(a, true);
        int w = f.core.warningCount();
        assertThatThrownBy(() -> f.core.deviceAdd(a)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("iommu_device_link");
        assertThat(f.core.warningCount()).isEqualTo(w); // no invented WARN
        assertThat(f.core.devIommu(a)).isNull();
        PlatformDevice b = f.plat("b");
        f.m.failProbe(b, Errno.ENODEV);
        fails(Errno.ENODEV, () -> f.core.deviceAdd(b));
        assertThat(f.core.devIommu(b)).isNull();
    }

    @Test
    @DisplayName("iommu_attach_device takes no aux lock until the aux API is in use; then the 2019 -EINVAL for an aux domain applies")
    void ridAttachWithoutAuxLock() {
        Fixture f = new Fixture();
        PciDevice a = f.pci("a");
        PciDevice b = f.pci("b");
        f.core.deviceAdd(a);
        f.core.deviceAdd(b);
        List<Integer> readHolds = new ArrayList<>();
        f.core.addTraceListener(e -> {
            if (e.kind() == TraceEvent.Kind.DRIVER && e.function().equals("attach_dev")) {
                readHolds.add(f.core.auxEngine.lock.getReadHoldCount());
            }
        });
        IommuDomain d = f.core.pagingDomainAlloc(a);
        f.core.attachDevice(d, a);
        assertThat(readHolds).containsExactly(0);
        // once an aux domain exists, RID attaches are checked against it under the aux lock
        f.core.devEnableFeature(b, DevFeature.AUX);
        IommuDomain x = f.core.pagingDomainAlloc(b);
        f.core.auxAttachDevice(x, b);
        f.core.detachDevice(d, a);
        readHolds.clear();
        f.core.attachDevice(d, a);
        assertThat(readHolds).containsExactly(1);
        fails(Errno.EINVAL, () -> f.core.attachDevice(x, a));
    }

    @Test
    @DisplayName("iommu_dev_disable_feature(AUX) with aux domains attached: 0 and the flag cleared, as v5.x intel_iommu_dev_disable_feat; the domains stay")
    void disableAuxWhileAttached() {
        Fixture f = new Fixture();
        PciDevice a = f.pci("a");
        f.core.deviceAdd(a);
        f.core.devEnableFeature(a, DevFeature.AUX);
        IommuDomain x = f.core.pagingDomainAlloc(a);
        f.core.auxAttachDevice(x, a);
        int p = f.core.auxGetPasid(x, a);
        f.core.devDisableFeature(a, DevFeature.AUX);
        assertThat(f.core.devFeatureEnabled(a, DevFeature.AUX)).isFalse();
        assertThat(f.core.auxGetPasid(x, a)).isEqualTo(p);
        assertThat(f.m.programmedPasid(a, p)).isSameAs(x);
        // disabling again is 0 too
        f.core.devDisableFeature(a, DevFeature.AUX);
        f.core.auxDetachDevice(x, a);
        f.core.domainFree(x);
        assertThat(x.isFreed()).isTrue();
    }
}
