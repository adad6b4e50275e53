package org.jiommu.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.jiommu.core.Fixture.fails;

import org.jiommu.base.Errno;
import org.jiommu.bus.PlatformDevice;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.driver.mock.MockConfig;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** generic_single_device_group (SEMANTICS.md 4.3) and calls on a group whose devices all left. */
class SingletonGroupTest {
    @Test
    @DisplayName("one group per IOMMU instance; it outlives its devices, empty, and refuses work with -ENODEV")
    void singleton() {
        Fixture f = new Fixture(MockConfig.builder("M").grouping(MockConfig.Grouping.SINGLE).build());
        PlatformDevice a = f.add("a");
        PlatformDevice b = f.add("b");
        IommuGroup g = f.group(a);
        assertThat(f.group(b)).isSameAs(g);
        assertThat(g.devices()).containsExactly(a, b);
        IommuDomain d = f.core.pagingDomainAlloc(a);
        f.core.deviceDel(a);
        f.core.deviceDel(b);
        assertThat(g.isReleased()).isFalse(); // the instance's cache still holds it
        assertThat(g.devices()).isEmpty();
        assertThat(g.defaultDomain()).isNull();
        fails(Errno.ENODEV, () -> f.core.groupClaimDmaOwner(g, "vfio"));
        fails(Errno.ENODEV, () -> f.core.attachGroup(d, g));
        fails(Errno.ENODEV, () -> f.core.groupReplaceDomain(g, d));
        int w = f.core.warningCount();
        f.core.detachGroup(d, g);
        f.core.groupReleaseDmaOwner(g);
        assertThat(f.core.warningCount()).isEqualTo(w);
        // a device coming back joins the same group, which gets a fresh default domain
        f.core.deviceAdd(a);
        assertThat(f.group(a)).isSameAs(g);
        assertThat(g.domain()).isSameAs(g.defaultDomain()).isNotNull();
        f.core.deviceDel(a);
        f.core.iommuDeviceUnregister(f.m.iommu());
        assertThat(g.isReleased()).isTrue();
    }
}
