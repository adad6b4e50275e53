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
import org.jiommu.driver.mock.MockDomain;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** SEMANTICS.md 13, scenarios 49-63, and seed points S14, S15, S16. */
class OwnershipTest {
    private static PlatformDevice[] pair(Fixture f) {
        PlatformDevice a = f.plat("a");
        PlatformDevice b = f.plat("b");
        f.m.groupWith(b, a);
        f.boot(a, b);
        return new PlatformDevice[] {a, b};
    }

    @Test
    @DisplayName("#49 kernel driver bind and unbind: owner_cnt 1 then 0")
    void bindUnbind() {
        Fixture f = new Fixture();
        PlatformDevice a = f.add("a");
        f.core.deviceUseDefaultDomain(a);
        assertThat(f.group(a).ownerCnt()).isEqualTo(1);
        assertThat(f.group(a).owner()).isNull();
        f.core.deviceUnuseDefaultDomain(a);
        assertThat(f.group(a).ownerCnt()).isZero();
    }

    @Test
    @DisplayName("#49 a device without an IOMMU binds freely (use_default_domain returns 0)")
    void bindNoIommu() {
        Fixture f = new Fixture();
        PlatformDevice lone = new PlatformDevice("lone", List.of(99), 0);
        f.core.deviceUseDefaultDomain(lone);
        f.core.deviceUnuseDefaultDomain(lone);
        assertThat(f.core.warningCount()).isZero();
    }

    @Test
    @DisplayName("#50 bind before the group has a default domain: -EPROBE_DEFER")
    void bindBeforeDefault() {
        Fixture f = new Fixture();
        PlatformDevice a = f.plat("a");
        f.core.busAddDevice(a);
        // probed during a scan that has not set up the default domain yet: emulate with the
        // probe-only half of a scan (the group is queued, no default domain)
        f.core.probeLock.lock();
        try {
            f.core.probe.probeLocked(a, new java.util.ArrayList<>());
        } finally {
            f.core.probeLock.unlock();
        }
        assertThat(f.group(a).defaultDomain()).isNull();
        fails(Errno.EPROBE_DEFER, () -> f.core.deviceUseDefaultDomain(a));
        assertThat(f.group(a).ownerCnt()).isZero();
    }

    @Test
    @DisplayName("#51 S14 group claim while a member is bound to a kernel driver: -EPERM")
    void groupClaimVsBound() {
        Fixture f = new Fixture();
        PlatformDevice[] ab = pair(f);
        f.core.deviceUseDefaultDomain(ab[0]);
        CoreSnapshot before = f.core.snapshot();
        fails(Errno.EPERM, () -> f.core.groupClaimDmaOwner(f.group(ab[0]), "vfio"));
        assertThat(f.core.snapshot()).isEqualTo(before);
    }

    @Test
    @DisplayName("#52 S14 device claim while another member is bound: -EPERM")
    void deviceClaimVsBound() {
        Fixture f = new Fixture();
        PlatformDevice[] ab = pair(f);
        f.core.deviceUseDefaultDomain(ab[0]);
        CoreSnapshot before = f.core.snapshot();
        fails(Errno.EPERM, () -> f.core.deviceClaimDmaOwner(ab[1], "ictx"));
        assertThat(f.core.snapshot()).isEqualTo(before);
    }

    @Test
    @DisplayName("#53 S15 shared device claim: same token counts, other token -EPERM, last release restores default")
    void sharedDeviceClaim() {
        Fixture f = new Fixture();
        PlatformDevice[] ab = pair(f);
        IommuGroup g = f.group(ab[0]);
        Object x = "ictx-X";
        f.core.deviceClaimDmaOwner(ab[0], x);
        assertThat(g.domain()).isSameAs(g.blockingDomain());
        f.core.deviceClaimDmaOwner(ab[1], x);
        assertThat(g.ownerCnt()).isEqualTo(2);
        fails(Errno.EPERM, () -> f.core.deviceClaimDmaOwner(ab[1], "ictx-Y"));
        f.core.deviceReleaseDmaOwner(ab[0]);
        assertThat(g.ownerCnt()).isEqualTo(1);
        assertThat(g.domain()).isSameAs(g.blockingDomain());
        f.core.deviceReleaseDmaOwner(ab[1]);
        assertThat(g.ownerCnt()).isZero();
        assertThat(g.owner()).isNull();
        assertThat(g.domain()).isSameAs(g.defaultDomain());
        assertThat(f.m.programmed(ab[0])).isSameAs(g.defaultDomain());
        assertThat(f.m.programmed(ab[1])).isSameAs(g.defaultDomain());
    }

    @Test
    @DisplayName("#54 S14 binding a kernel driver in an owned group: -EBUSY")
    void bindWhileOwned() {
        Fixture f = new Fixture();
        PlatformDevice a = f.add("a");
        f.core.groupClaimDmaOwner(f.group(a), "vfio");
        fails(Errno.EBUSY, () -> f.core.deviceUseDefaultDomain(a));
        assertThat(f.group(a).ownerCnt()).isEqualTo(1);
    }

    @Test
    @DisplayName("#55 claim with a NULL owner: WARN and -EINVAL")
    void claimNullOwner() {
        Fixture f = new Fixture();
        PlatformDevice a = f.add("a");
        int w = f.core.warningCount();
        fails(Errno.EINVAL, () -> f.core.groupClaimDmaOwner(f.group(a), null));
        fails(Errno.EINVAL, () -> f.core.deviceClaimDmaOwner(a, null));
        assertThat(f.warningsSince(w)).hasSize(2);
        assertThat(f.group(a).ownerCnt()).isZero();
    }

    @Test
    @DisplayName("#56 S15 claim while a private domain is attached (no users): -EBUSY")
    void claimWithPrivate() {
        Fixture f = new Fixture();
        PlatformDevice[] ab = pair(f);
        IommuGroup g = f.group(ab[0]);
        IommuDomain d = f.core.pagingDomainAlloc(ab[0]);
        f.core.attachGroup(d, g);
        CoreSnapshot before = f.core.snapshot();
        fails(Errno.EBUSY, () -> f.core.groupClaimDmaOwner(g, "vfio"));
        fails(Errno.EBUSY, () -> f.core.deviceClaimDmaOwner(ab[1], "ictx"));
        assertThat(f.core.snapshot()).isEqualTo(before);
    }

    @Test
    @DisplayName("#57 S15 claim with a PASID slot in use: -EBUSY")
    void claimWithPasid() {
        Fixture f = new Fixture();
        PlatformDevice a = f.add("a");
        IommuGroup g = f.group(a);
        IommuDomain d = f.core.pagingDomainAlloc(a);
        // a PASID attachment as the PASID API (part 2) stores it
        g.pasidArray.put(5, new PasidEntry.DomainEntry(d));
        fails(Errno.EBUSY, () -> f.core.groupClaimDmaOwner(g, "vfio"));
        fails(Errno.EBUSY, () -> f.core.deviceClaimDmaOwner(a, "ictx"));
        assertThat(g.ownerCnt()).isZero();
        g.pasidArray.remove(5);
        f.core.groupClaimDmaOwner(g, "vfio");
        assertThat(g.ownerCnt()).isEqualTo(1);
    }

    @Test
    @DisplayName("#58 S18 claiming a require_direct device: -EINVAL, counters untouched, blocking domain kept")
    void claimRmr() {
        Fixture f = new Fixture();
        PlatformDevice a = f.plat("a");
        f.m.setResvRegions(a, List.of(ResvRegion.direct(0x1000_0000L, 0x1000)));
        f.core.deviceAdd(a);
        IommuGroup g = f.group(a);
        IommuDomain before = g.domain();
        fails(Errno.EINVAL, () -> f.core.groupClaimDmaOwner(g, "vfio"));
        assertThat(g.ownerCnt()).isZero();
        assertThat(g.owner()).isNull();
        assertThat(g.blockingDomain()).isNotNull();
        assertThat(g.domain()).isSameAs(before);
        assertThat(f.m.programmed(a)).isSameAs(before);
    }

    @Test
    @DisplayName("#59 S14 release restores the default domain whatever the owner left attached")
    void releaseRestoresDefault() {
        Fixture f = new Fixture();
        PlatformDevice a = f.add("a");
        IommuGroup g = f.group(a);
        f.core.groupClaimDmaOwner(g, "vfio");
        IommuDomain d = f.core.pagingDomainAlloc(a);
        f.core.attachGroup(d, g);
        f.core.groupReleaseDmaOwner(g);
        assertThat(g.domain()).isSameAs(g.defaultDomain());
        assertThat(g.owner()).isNull();
        assertThat(f.m.programmed(a)).isSameAs(g.defaultDomain());
    }

    @Test
    @DisplayName("#60 S14 a driver with its own domain, then a second binder: -EBUSY")
    void secondBinderBusy() {
        Fixture f = new Fixture();
        PlatformDevice[] ab = pair(f);
        IommuGroup g = f.group(ab[0]);
        f.core.deviceUseDefaultDomain(ab[0]);
        IommuDomain d = f.core.pagingDomainAlloc(ab[0]);
        f.core.attachGroup(d, g);
        fails(Errno.EBUSY, () -> f.core.deviceUseDefaultDomain(ab[1]));
        assertThat(g.ownerCnt()).isEqualTo(1);
    }

    @Test
    @DisplayName("#61 the first binder ignores a stray private domain (kernel quirk)")
    void firstBinderQuirk() {
        Fixture f = new Fixture();
        PlatformDevice a = f.add("a");
        IommuGroup g = f.group(a);
        IommuDomain d = f.core.pagingDomainAlloc(a);
        f.core.attachGroup(d, g);
        f.core.deviceUseDefaultDomain(a);
        assertThat(g.ownerCnt()).isEqualTo(1);
        assertThat(g.domain()).isSameAs(d);
    }

    @Test
    @DisplayName("#62 driver without a blocked domain: the blocking domain is an empty UNMANAGED paging domain")
    void blockingFallback() {
        Fixture f = new Fixture(MockConfig.builder("M").staticBlocked(false)
                .releaseDomain(MockConfig.ReleaseDomain.NONE).build());
        PlatformDevice a = f.add("a");
        IommuGroup g = f.group(a);
        f.core.groupClaimDmaOwner(g, "vfio");
        IommuDomain blk = g.blockingDomain();
        assertThat(blk).isInstanceOf(MockDomain.class);
        assertThat(blk.type()).isEqualTo(DomainType.UNMANAGED);
        assertThat(g.domain()).isSameAs(blk);
        assertThat(f.core.iovaToPhys(blk, 0)).isZero();
        assertThat(f.core.iovaToPhys(blk, 0x1000_0000L)).isZero();
        // kept until the group empties, then freed
        f.core.groupReleaseDmaOwner(g);
        assertThat(g.blockingDomain()).isSameAs(blk);
        f.core.deviceDel(a);
        assertThat(blk.isFreed()).isTrue();
    }

    @Test
    @DisplayName("#62 the fallback blocking domain also counts for the RMR guard")
    void blockingFallbackRmr() {
        Fixture f = new Fixture(MockConfig.builder("M").staticBlocked(false)
                .releaseDomain(MockConfig.ReleaseDomain.NONE).build());
        PlatformDevice a = f.plat("a");
        f.m.setResvRegions(a, List.of(ResvRegion.direct(0x1000_0000L, 0x1000)));
        f.core.deviceAdd(a);
        fails(Errno.EINVAL, () -> f.core.groupClaimDmaOwner(f.group(a), "vfio"));
        assertThat(f.group(a).blockingDomain().type()).isEqualTo(DomainType.UNMANAGED);
    }

    @Test
    @DisplayName("#63 owner_claimed is true for a plain kernel driver too")
    void ownerClaimed() {
        Fixture f = new Fixture();
        PlatformDevice a = f.add("a");
        assertThat(f.core.groupDmaOwnerClaimed(f.group(a))).isFalse();
        f.core.deviceUseDefaultDomain(a);
        assertThat(f.core.groupDmaOwnerClaimed(f.group(a))).isTrue();
    }

    @Test
    @DisplayName("S16 releasing or un-using what is not held is a WARN that changes nothing")
    void unbalanced() {
        Fixture f = new Fixture();
        PlatformDevice a = f.add("a");
        IommuGroup g = f.group(a);
        CoreSnapshot before = f.core.snapshot();
        int w = f.core.warningCount();
        f.core.deviceUnuseDefaultDomain(a);
        f.core.groupReleaseDmaOwner(g);
        f.core.deviceReleaseDmaOwner(a);
        assertThat(f.warningsSince(w)).hasSize(3);
        assertThat(f.core.snapshot()).isEqualTo(before);
        assertThat(g.ownerCnt()).isZero();
        // a kernel user is not an owner: group release WARNs and keeps the count
        f.core.deviceUseDefaultDomain(a);
        f.core.groupReleaseDmaOwner(g);
        assertThat(g.ownerCnt()).isEqualTo(1);
        assertThat(f.warningsSince(w)).hasSize(4);
    }

    @Test
    @DisplayName("S16 unbind with a PASID live: WARN, owner_cnt unchanged")
    void unbindWithPasid() {
        Fixture f = new Fixture();
        PlatformDevice a = f.add("a");
        IommuGroup g = f.group(a);
        f.core.deviceUseDefaultDomain(a);
        g.pasidArray.put(7, new PasidEntry.DomainEntry(f.core.pagingDomainAlloc(a)));
        int w = f.core.warningCount();
        f.core.deviceUnuseDefaultDomain(a);
        assertThat(f.warningsSince(w)).hasSize(1);
        assertThat(g.ownerCnt()).isEqualTo(1);
        g.pasidArray.remove(7);
    }

    @Test
    @DisplayName("S14 a second kernel user with PASIDs attached: -EBUSY")
    void bindWithPasid() {
        Fixture f = new Fixture();
        PlatformDevice[] ab = pair(f);
        IommuGroup g = f.group(ab[0]);
        f.core.deviceUseDefaultDomain(ab[0]);
        g.pasidArray.put(7, new PasidEntry.DomainEntry(f.core.pagingDomainAlloc(ab[0])));
        fails(Errno.EBUSY, () -> f.core.deviceUseDefaultDomain(ab[1]));
        g.pasidArray.remove(7);
        f.core.deviceUseDefaultDomain(ab[1]);
        assertThat(g.ownerCnt()).isEqualTo(2);
    }

    @Test
    @DisplayName("S14 claim then release: blocking while owned, default after, claimed again by a new owner")
    void claimReleaseCycle() {
        Fixture f = new Fixture();
        PlatformDevice a = f.add("a");
        IommuGroup g = f.group(a);
        f.core.groupClaimDmaOwner(g, "vfio1");
        fails(Errno.EPERM, () -> f.core.groupClaimDmaOwner(g, "vfio1"));
        assertThat(f.m.programmed(a)).isSameAs(f.m.blockedDomain());
        f.core.groupReleaseDmaOwner(g);
        f.core.groupClaimDmaOwner(g, "vfio2");
        assertThat(g.owner()).isEqualTo("vfio2");
    }
}
