package org.jiommu.core;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.jiommu.bus.PlatformDevice;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.core.spi.ResvRegion;
import org.jiommu.driver.mock.MockConfig;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** SEMANTICS.md 13, scenarios 27-30, and seed points S17, S18 (release), S21 (static domains). */
class ReleaseTest {
    @Test
    @DisplayName("#27 S17 release with a blocked release_domain: attach(blocked, old=G.domain), release_device, group torn down")
    void releaseBlocked() {
        Fixture f = new Fixture();
        PlatformDevice a = f.add("a");
        IommuGroup g = f.group(a);
        IommuDomain def = g.defaultDomain();
        f.m.clearEvents();
        f.core.deviceDel(a);
        assertThat(f.m.calls("attach_dev", "release_device", "free")).containsExactly(
                "attach_dev(M.blocked, a, old=" + def + ") = 0",
                "release_device(a)",
                "free(" + def + ")");
        assertThat(g.domain()).isNull();
        assertThat(g.defaultDomain()).isNull();
        assertThat(g.blockingDomain()).isNull();
        assertThat(g.isReleased()).isTrue();
        assertThat(def.isFreed()).isTrue();
        assertThat(f.core.groups()).isEmpty();
        assertThat(f.core.devIommu(a)).isNull();
        assertThat(f.m.programmed(a)).isSameAs(f.m.blockedDomain()); // S17: parked BLOCKED
        assertThat(f.frames.stats().liveBlocks()).isZero(); // the page table went with the domain
    }

    @Test
    @DisplayName("#28 S18 release RMR swap (v6.19+): a require_direct device is parked on IDENTITY, not the blocked release domain")
    void releaseRmrSwap() {
        Fixture f = new Fixture();
        PlatformDevice a = f.plat("a");
        f.m.setResvRegions(a, List.of(ResvRegion.direct(0x1000_0000L, 0x1000)));
        f.core.deviceAdd(a);
        IommuDomain def = f.group(a).defaultDomain();
        f.m.clearEvents();
        f.core.deviceDel(a);
        assertThat(f.m.calls("attach_dev")).containsExactly("attach_dev(M.identity, a, old=" + def + ") = 0");
        assertThat(f.m.programmed(a)).isSameAs(f.m.identityDomain());
    }

    @Test
    @DisplayName("#28 release RMR swap in V6_18 mode: the blocked release domain is attached (old not passed)")
    void releaseRmrV618() {
        Fixture f = new Fixture(CoreConfig.builder().version(KernelVersion.V6_18).build());
        PlatformDevice a = f.plat("a");
        f.m.setResvRegions(a, List.of(ResvRegion.direct(0x1000_0000L, 0x1000)));
        f.core.deviceAdd(a);
        f.m.clearEvents();
        f.core.deviceDel(a);
        assertThat(f.m.calls("attach_dev")).containsExactly("attach_dev(M.blocked, a, old=null) = 0");
    }

    @Test
    @DisplayName("#28 the swap only replaces a BLOCKED release domain that is the blocked domain, and needs an identity domain")
    void releaseSwapConditions() {
        // separate release domain (AMD shape): not swapped
        Fixture f = new Fixture(MockConfig.builder("M").releaseDomain(MockConfig.ReleaseDomain.SEPARATE).build());
        PlatformDevice a = f.plat("a");
        f.m.setResvRegions(a, List.of(ResvRegion.direct(0x1000_0000L, 0x1000)));
        f.core.deviceAdd(a);
        f.core.deviceDel(a);
        assertThat(f.m.calls("attach_dev")).last().asString().startsWith("attach_dev(M.release, a");
        // no identity domain: blocked stays
        Fixture g = new Fixture(MockConfig.builder("M").staticIdentity(false).build());
        PlatformDevice b = g.plat("b");
        g.m.setResvRegions(b, List.of(ResvRegion.direct(0x1000_0000L, 0x1000)));
        g.core.deviceAdd(b);
        g.core.deviceDel(b);
        assertThat(g.m.calls("attach_dev")).last().asString().startsWith("attach_dev(M.blocked, b");
    }

    @Test
    @DisplayName("#29 release of a device still attach-deferred: no release-domain attach, release_device still called")
    void releaseDeferred() {
        Fixture f = new Fixture();
        PlatformDevice a = f.plat("a");
        f.m.setAttachDeferred(a, true);
        f.core.deviceAdd(a);
        assertThat(f.m.calls("attach_dev")).isEmpty();
        f.core.deviceDel(a);
        assertThat(f.m.calls("attach_dev")).isEmpty();
        assertThat(f.m.calls("release_device")).containsExactly("release_device(a)");
        assertThat(f.m.programmed(a)).isNull();
    }

    @Test
    @DisplayName("#30 release of the last device while owned: WARN (I-EMPTY), still torn down")
    void releaseWhileOwned() {
        Fixture f = new Fixture();
        PlatformDevice a = f.add("a");
        IommuGroup g = f.group(a);
        f.core.groupClaimDmaOwner(g, "vfio");
        int w = f.core.warningCount();
        f.core.deviceDel(a);
        assertThat(f.warningsSince(w)).anyMatch(s -> s.startsWith("__iommu_group_free_device"));
        assertThat(g.domain()).isNull();
        assertThat(g.defaultDomain()).isNull();
        assertThat(g.blockingDomain()).isNull();
        assertThat(g.isReleased()).isTrue();
    }

    @Test
    @DisplayName("S17 no release_domain: the driver parks the device itself in release_device")
    void noReleaseDomain() {
        Fixture f = new Fixture(MockConfig.builder("M").releaseDomain(MockConfig.ReleaseDomain.NONE).build());
        PlatformDevice a = f.add("a");
        f.m.clearEvents();
        f.core.deviceDel(a);
        assertThat(f.m.calls("attach_dev")).isEmpty();
        assertThat(f.m.programmed(a)).isSameAs(f.m.blockedDomain());
    }

    @Test
    @DisplayName("S21 static identity and blocked domains are per-driver singletons and are never freed")
    void staticDomainsNeverFreed() {
        Fixture f = new Fixture(CoreConfig.builder().passthrough(true).build());
        PlatformDevice a = f.add("a");
        PlatformDevice b = f.add("b");
        IommuGroup ga = f.group(a);
        IommuGroup gb = f.group(b);
        assertThat(ga).isNotSameAs(gb);
        assertThat(ga.defaultDomain()).isSameAs(gb.defaultDomain()).isSameAs(f.m.identityDomain());
        f.core.groupClaimDmaOwner(ga, "x");
        f.core.groupClaimDmaOwner(gb, "y");
        assertThat(ga.blockingDomain()).isSameAs(gb.blockingDomain()).isSameAs(f.m.blockedDomain());
        f.core.groupReleaseDmaOwner(ga);
        f.core.groupReleaseDmaOwner(gb);
        f.core.deviceDel(a);
        f.core.deviceDel(b);
        assertThat(f.m.calls("free")).isEmpty();
        assertThat(f.m.identityDomain().isFreed()).isFalse();
        assertThat(f.m.blockedDomain().isFreed()).isFalse();
        Fixture.fails(org.jiommu.base.Errno.EINVAL, () -> f.core.domainFree(f.m.identityDomain()));
        Fixture.fails(org.jiommu.base.Errno.EINVAL, () -> f.core.domainFree(f.m.blockedDomain()));
        // and the static domains still work for a new device
        PlatformDevice c = f.add("c");
        assertThat(f.group(c).domain()).isSameAs(f.m.identityDomain());
    }

    @Test
    @DisplayName("release then re-add: the device is probed again from its firmware description")
    void readd() {
        Fixture f = new Fixture();
        PlatformDevice a = f.add("a");
        int id = f.core.groupId(a);
        f.core.deviceDel(a);
        f.core.deviceAdd(a);
        assertThat(f.core.groupId(a)).isEqualTo(id); // the id was freed and is the lowest again
        assertThat(f.group(a).domain()).isSameAs(f.group(a).defaultDomain());
    }
}
