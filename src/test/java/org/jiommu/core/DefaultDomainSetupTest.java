package org.jiommu.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.jiommu.core.Fixture.fails;

import java.util.List;
import org.jiommu.base.Errno;
import org.jiommu.bus.PlatformDevice;
import org.jiommu.core.spi.DomainType;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.core.spi.ResvRegion;
import org.jiommu.driver.mock.MockConfig;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** iommu_setup_default_domain's failure paths (SEMANTICS.md 4.5 steps 4-9). */
class DefaultDomainSetupTest {
    @Test
    @DisplayName("4.5 step 8: direct mappings failing before and after the switch restore the old default domain")
    void directRetryFails() {
        Fixture f = new Fixture();
        PlatformDevice a = f.plat("a");
        f.m.setResvRegions(a, List.of(ResvRegion.direct(0x1000_0000L, 0x1000)));
        f.core.deviceAdd(a);
        IommuGroup g = f.group(a);
        IommuDomain old = g.defaultDomain();
        f.m.failMapAfter(0);
        f.m.clearEvents();
        fails(Errno.ENOMEM, () -> f.core.groupStoreType(g, "DMA", true));
        assertThat(g.defaultDomain()).isSameAs(old);
        assertThat(g.domain()).isSameAs(old);
        assertThat(f.m.programmed(a)).isSameAs(old);
        assertThat(old.isFreed()).isFalse();
        List<String> attaches = f.m.calls("attach_dev");
        assertThat(attaches).hasSize(2);
        assertThat(attaches.get(1)).startsWith("attach_dev(" + old + ", a, old=");
        assertThat(f.m.calls("free")).hasSize(1); // the new domain
        assertThat(f.core.liveDomains()).containsExactly(old);
    }

    @Test
    @DisplayName("4.5 step 8: a direct mapping that only fails before the attach is retried and succeeds")
    void directRetrySucceeds() {
        Fixture f = new Fixture();
        PlatformDevice a = f.plat("a");
        f.m.setResvRegions(a, List.of(ResvRegion.direct(0x1000_0000L, 0x2000)));
        f.core.deviceAdd(a);
        IommuGroup g = f.group(a);
        IommuDomain old = g.defaultDomain();
        // the new domain's table root is the 1st page-table allocation; the first map needs the
        // 2nd (a level-1 table) and fails; the retry after the attach gets its tables
        f.frames.failNthAllocation(2);
        f.core.groupStoreType(g, "DMA", true);
        IommuDomain dom = g.defaultDomain();
        assertThat(dom).isNotSameAs(old);
        assertThat(dom.type()).isEqualTo(DomainType.DMA);
        assertThat(old.isFreed()).isTrue();
        assertThat(f.logged("FW requested direct mapping")).isTrue();
        assertThat(f.core.iovaToPhys(dom, 0x1000_1000L)).isEqualTo(0x1000_1000L);
    }

    @Test
    @DisplayName("4.5 step 7: the very first attach failing is a WARN; hot-plug probe fails and leaves nothing")
    void firstAttachFails() {
        Fixture f = new Fixture();
        PlatformDevice a = f.plat("a");
        f.m.failAttach(null, a, Errno.ENOSPC);
        int w = f.core.warningCount();
        fails(Errno.ENOSPC, () -> f.core.deviceAdd(a));
        assertThat(f.warningsSince(w)).anyMatch(s -> s.startsWith("iommu_setup_default_domain"));
        assertThat(f.group(a)).isNull();
        assertThat(f.core.groups()).isEmpty();
        assertThat(f.core.liveDomains()).isEmpty();
    }

    @Test
    @DisplayName("4.5: a failing sysfs switch (attach refused) frees the new domain and keeps the old one")
    void switchAttachFails() {
        Fixture f = new Fixture();
        PlatformDevice a = f.add("a");
        IommuGroup g = f.group(a);
        IommuDomain old = g.defaultDomain();
        f.m.failAttach(f.m.identityDomain(), a, Errno.EINVAL);
        CoreSnapshot before = f.core.snapshot();
        fails(Errno.EINVAL, () -> f.core.groupStoreType(g, "identity", true));
        assertThat(f.core.snapshot()).isEqualTo(before);
        assertThat(g.defaultDomain()).isSameAs(old);
    }

    @Test
    @DisplayName("4.5: no paging allocation op: a DMA default fails -EINVAL (no fallback from DMA)")
    void noPagingOps() {
        Fixture f = new Fixture(CoreConfig.builder().strict(true).build(),
                MockConfig.builder("M").allocOps(MockConfig.AllocOps.NONE).build());
        PlatformDevice a = f.plat("a");
        fails(Errno.EINVAL, () -> f.core.deviceAdd(a));
        fails(Errno.ENODEV, () -> f.core.pagingDomainAlloc(a));
    }

    @Test
    @DisplayName("4.5: a driver's static default domain refuses a sysfs type it is not (-EINVAL)")
    void legacyDefaultRefusesOtherType() {
        Fixture f = new Fixture(MockConfig.builder("M").legacyDefaultDomain(DomainType.IDENTITY).build());
        PlatformDevice a = f.add("a");
        assertThat(f.group(a).defaultDomain()).isSameAs(f.m.legacyDefaultDomain());
        fails(Errno.EINVAL, () -> f.core.groupStoreType(f.group(a), "DMA", true));
    }

    @Test
    @DisplayName("4.5 step 3: without the DMA-API layer a DMA preference is refused and no preference means IDENTITY")
    void noDmaLayer() {
        Fixture f = new Fixture(CoreConfig.builder().iommuDma(false).build());
        PlatformDevice a = f.add("a");
        assertThat(f.group(a).defaultDomain()).isSameAs(f.m.identityDomain());
        PlatformDevice b = f.plat("b");
        f.m.setDefDomainType(b, DomainType.DMA);
        fails(Errno.EINVAL, () -> f.core.deviceAdd(b));
    }
}
