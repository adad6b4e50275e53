package org.jiommu.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.jiommu.core.Fixture.fails;

import java.util.List;
import org.jiommu.base.Errno;
import org.jiommu.bus.PlatformDevice;
import org.jiommu.core.spi.DomainOps;
import org.jiommu.core.spi.DomainType;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.core.spi.ResvRegion;
import org.jiommu.driver.mock.MockConfig;
import org.jiommu.driver.mock.MockIommuDriver;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** SEMANTICS.md 13, scenarios 31-48, and seed points S13, S18 (attach side), S20. */
class AttachTest {
    /** A group {a, b, c...} of platform devices sharing one group, booted together. */
    private static PlatformDevice[] groupOf(Fixture f, String... names) {
        PlatformDevice[] d = new PlatformDevice[names.length];
        for (int i = 0; i < names.length; i++) {
            d[i] = f.plat(names[i]);
            if (i > 0) {
                f.m.groupWith(d[i], d[0]);
            }
        }
        f.boot(d);
        return d;
    }

    @Test
    @DisplayName("#31 S13 attach to a singleton group: group domain and get_domain_for_dev follow")
    void attachSingleton() {
        Fixture f = new Fixture();
        PlatformDevice a = f.add("a");
        IommuDomain d = f.core.pagingDomainAlloc(a);
        assertThat(d.type()).isEqualTo(DomainType.UNMANAGED);
        f.core.attachDevice(d, a);
        assertThat(f.group(a).domain()).isSameAs(d);
        assertThat(f.core.getDomainForDev(a)).isSameAs(d);
        assertThat(f.m.programmed(a)).isSameAs(d);
        assertThat(f.m.calls("attach_dev")).last()
                .isEqualTo("attach_dev(" + d + ", a, old=" + f.group(a).defaultDomain() + ") = 0");
    }

    @Test
    @DisplayName("#32 S13 attach_device on a multi-device group: -EINVAL")
    void attachMultiDevice() {
        Fixture f = new Fixture();
        PlatformDevice[] ab = groupOf(f, "a", "b");
        IommuDomain d = f.core.pagingDomainAlloc(ab[0]);
        CoreSnapshot before = f.core.snapshot();
        fails(Errno.EINVAL, () -> f.core.attachDevice(d, ab[0]));
        assertThat(f.core.snapshot()).isEqualTo(before);
        // the group API is the way for multi-device groups
        f.core.attachGroup(d, f.group(ab[0]));
        assertThat(f.m.programmed(ab[1])).isSameAs(d);
    }

    @Test
    @DisplayName("#33 S13 attaching the same private domain twice: -EBUSY; the default domain again is a no-op")
    void attachTwice() {
        Fixture f = new Fixture();
        PlatformDevice a = f.add("a");
        IommuDomain d = f.core.pagingDomainAlloc(a);
        f.core.attachDevice(d, a);
        fails(Errno.EBUSY, () -> f.core.attachDevice(d, a));
        f.core.detachDevice(d, a);
        int calls = f.m.events().size();
        f.core.attachGroup(f.group(a).defaultDomain(), f.group(a));
        assertThat(f.m.events()).hasSize(calls);
    }

    @Test
    @DisplayName("#34 S13 attach over another private domain: -EBUSY, nothing changes")
    void attachOverPrivate() {
        Fixture f = new Fixture();
        PlatformDevice a = f.add("a");
        IommuDomain d1 = f.core.pagingDomainAlloc(a);
        IommuDomain d2 = f.core.pagingDomainAlloc(a);
        f.core.attachDevice(d1, a);
        CoreSnapshot before = f.core.snapshot();
        fails(Errno.EBUSY, () -> f.core.attachDevice(d2, a));
        assertThat(f.core.snapshot()).isEqualTo(before);
        assertThat(f.m.programmed(a)).isSameAs(d1);
    }

    @Test
    @DisplayName("#35 S13 a domain of another driver: -EINVAL, no driver call")
    void foreignDomain() {
        Fixture f = new Fixture();
        MockIommuDriver n = f.newDriver(MockConfig.builder("N").build());
        f.core.iommuDeviceRegister(n.iommu());
        PlatformDevice a = f.add("a");
        PlatformDevice x = f.plat("x", n);
        f.core.deviceAdd(x);
        IommuDomain dn = f.core.pagingDomainAlloc(x);
        assertThat(dn.owner()).isSameAs(n.ops());
        int calls = f.m.events().size();
        fails(Errno.EINVAL, () -> f.core.attachDevice(dn, a));
        assertThat(f.m.events()).hasSize(calls);
        // N's static domains are foreign too
        fails(Errno.EINVAL, () -> f.core.attachGroup(n.identityDomain(), f.group(a)));
    }

    @Test
    @DisplayName("#36 static identity domain through attach_group (v6.16+)")
    void staticIdentityAttach() {
        Fixture f = new Fixture();
        PlatformDevice a = f.add("a");
        f.core.attachGroup(f.m.identityDomain(), f.group(a));
        assertThat(f.group(a).domain()).isSameAs(f.m.identityDomain());
        assertThat(f.core.iovaToPhys(f.m.identityDomain(), 0x1234_5000L)).isEqualTo(0x1234_5000L);
    }

    @Test
    @DisplayName("#37 a domain without attach_dev: -ENODEV")
    void noAttachDevOp() {
        MockConfig mc = MockConfig.builder("M").build();
        Fixture f = new Fixture(mc);
        PlatformDevice a = f.add("a");
        // a driver-allocated domain whose ops lack attach_dev: the mock's paging ops minus attach_dev
        IommuDomain d = f.core.pagingDomainAlloc(a);
        IommuDomain crippled = new NoAttachDomain(d.ops().toBuilder().attachDev(null).build());
        crippled.coreInit(DomainType.UNMANAGED, f.m.ops(), "crippled");
        fails(Errno.ENODEV, () -> f.core.attachDevice(crippled, a));
        assertThat(f.group(a).domain()).isSameAs(f.group(a).defaultDomain());
    }

    private static final class NoAttachDomain extends IommuDomain {
        NoAttachDomain(DomainOps ops) {
            super(ops);
        }
    }

    @ParameterizedTest(name = "#38 partial failure rollback ({0})")
    @EnumSource(KernelVersion.class)
    @DisplayName("#38 partial failure rollback")
    void partialFailureRollback(KernelVersion v) {
        Fixture f = new Fixture(CoreConfig.builder().version(v).build());
        PlatformDevice[] abc = groupOf(f, "a", "b", "c");
        IommuGroup g = f.group(abc[0]);
        IommuDomain df = g.defaultDomain();
        IommuDomain d = f.core.pagingDomainAlloc(abc[0]);
        f.m.failAttach(d, abc[1], Errno.ENOMEM);
        f.m.clearEvents();
        CoreSnapshot before = f.core.snapshot();
        fails(Errno.ENOMEM, () -> f.core.attachGroup(d, g));
        String oldDf = v == KernelVersion.V6_18 ? "null" : df.toString();
        String oldD = v == KernelVersion.V6_18 ? "null" : d.toString();
        if (v == KernelVersion.V6_18) {
            assertThat(f.m.calls("attach_dev")).containsExactly(
                    "attach_dev(" + d + ", a, old=null) = 0",
                    "attach_dev(" + d + ", b, old=null) = -12(ENOMEM)",
                    "attach_dev(" + df + ", a, old=null) = 0",
                    "attach_dev(" + df + ", b, old=null) = 0");
        } else {
            assertThat(f.m.calls("attach_dev")).containsExactly(
                    "attach_dev(" + d + ", a, old=" + oldDf + ") = 0",
                    "attach_dev(" + d + ", b, old=" + oldDf + ") = -12(ENOMEM)",
                    "attach_dev(" + df + ", a, old=" + oldD + ") = 0");
        }
        assertThat(g.domain()).isSameAs(df);
        assertThat(f.core.snapshot()).isEqualTo(before);
        for (PlatformDevice x : abc) {
            assertThat(f.m.programmed(x)).isSameAs(df);
        }
    }

    @Test
    @DisplayName("#39 detach_device: the group is back on its default domain")
    void detach() {
        Fixture f = new Fixture();
        PlatformDevice a = f.add("a");
        IommuDomain d = f.core.pagingDomainAlloc(a);
        f.core.attachDevice(d, a);
        f.core.detachDevice(d, a);
        assertThat(f.group(a).domain()).isSameAs(f.group(a).defaultDomain());
        assertThat(f.m.programmed(a)).isSameAs(f.group(a).defaultDomain());
        f.core.domainFree(d);
        assertThat(d.isFreed()).isTrue();
    }

    @Test
    @DisplayName("#40 detach of a domain that is not attached: WARN, no change")
    void detachWrong() {
        Fixture f = new Fixture();
        PlatformDevice a = f.add("a");
        IommuDomain d = f.core.pagingDomainAlloc(a);
        IommuDomain d2 = f.core.pagingDomainAlloc(a);
        f.core.attachDevice(d, a);
        CoreSnapshot before = f.core.snapshot();
        int w = f.core.warningCount();
        f.core.detachDevice(d2, a);
        assertThat(f.warningsSince(w)).hasSize(1).allMatch(s -> s.startsWith("iommu_detach_device"));
        assertThat(f.core.snapshot()).isEqualTo(before);
    }

    @Test
    @DisplayName("#41 detach_group while owned: back to the blocking domain (the domain argument is not checked)")
    void detachGroupOwned() {
        Fixture f = new Fixture();
        PlatformDevice[] ab = groupOf(f, "a", "b");
        IommuGroup g = f.group(ab[0]);
        f.core.groupClaimDmaOwner(g, "vfio");
        IommuDomain d = f.core.pagingDomainAlloc(ab[0]);
        f.core.attachGroup(d, g);
        IommuDomain unrelated = f.core.pagingDomainAlloc(ab[0]);
        f.core.detachGroup(unrelated, g);
        assertThat(g.domain()).isSameAs(g.blockingDomain()).isSameAs(f.m.blockedDomain());
    }

    @Test
    @DisplayName("#42 replace_group_handle from an owned group's D1 to D2: no -EBUSY, slot 0 holds h2")
    void replaceGroupHandle() {
        Fixture f = new Fixture();
        PlatformDevice a = f.add("a");
        IommuGroup g = f.group(a);
        f.core.groupClaimDmaOwner(g, "iommufd");
        IommuDomain d1 = f.core.pagingDomainAlloc(a);
        IommuDomain d2 = f.core.pagingDomainAlloc(a);
        AttachHandle h1 = new AttachHandle();
        AttachHandle h2 = new AttachHandle();
        f.core.attachGroupHandle(d1, g, h1);
        assertThat(f.core.attachHandleGet(g, 0, null)).isSameAs(h1);
        f.core.replaceGroupHandle(g, d2, h2);
        assertThat(g.domain()).isSameAs(d2);
        assertThat(f.core.attachHandleGet(g, 0, null)).isSameAs(h2);
        assertThat(h2.domain()).isSameAs(d2);
        assertThat(g.pasidEntries()).containsOnlyKeys(0);
        f.core.detachGroupHandle(d2, g);
        assertThat(g.domain()).isSameAs(f.m.blockedDomain());
        assertThat(g.pasidEntries()).isEmpty();
        fails(Errno.ENOENT, () -> f.core.attachHandleGet(g, 0, null));
    }

    @Test
    @DisplayName("#42 a failed replace keeps the old domain and handle")
    void replaceGroupHandleFails() {
        Fixture f = new Fixture();
        PlatformDevice a = f.add("a");
        IommuGroup g = f.group(a);
        IommuDomain d1 = f.core.pagingDomainAlloc(a);
        IommuDomain d2 = f.core.pagingDomainAlloc(a);
        AttachHandle h1 = new AttachHandle();
        f.core.attachGroupHandle(d1, g, h1);
        f.m.failAttach(d2, a, Errno.ENOSPC);
        CoreSnapshot before = f.core.snapshot();
        AttachHandle h2 = new AttachHandle();
        fails(Errno.ENOSPC, () -> f.core.replaceGroupHandle(g, d2, h2));
        assertThat(f.core.snapshot()).isEqualTo(before);
        assertThat(h2.domain()).isNull();
        assertThat(f.core.attachHandleGet(g, 0, null)).isSameAs(h1);
        // a failed first replace (empty slot) leaves no reservation behind
        f.core.detachGroupHandle(d1, g);
        fails(Errno.ENOSPC, () -> f.core.replaceGroupHandle(g, d2, h2));
        assertThat(g.pasidEntries()).isEmpty();
        assertThat(g.pasidArray).isEmpty();
    }

    @Test
    @DisplayName("#43 attach_group_handle with slot 0 occupied: -EBUSY")
    void handleSlotBusy() {
        Fixture f = new Fixture();
        PlatformDevice a = f.add("a");
        IommuGroup g = f.group(a);
        IommuDomain d = f.core.pagingDomainAlloc(a);
        f.core.attachGroupHandle(d, g, new AttachHandle());
        IommuDomain d2 = f.core.pagingDomainAlloc(a);
        CoreSnapshot before = f.core.snapshot();
        fails(Errno.EBUSY, () -> f.core.attachGroupHandle(d2, g, new AttachHandle()));
        assertThat(f.core.snapshot()).isEqualTo(before);
    }

    @Test
    @DisplayName("#43 attach_group_handle whose attach fails: the slot reservation is released")
    void handleAttachFails() {
        Fixture f = new Fixture();
        PlatformDevice a = f.add("a");
        IommuGroup g = f.group(a);
        IommuDomain d = f.core.pagingDomainAlloc(a);
        IommuDomain d2 = f.core.pagingDomainAlloc(a);
        f.core.attachDevice(d, a);
        fails(Errno.EBUSY, () -> f.core.attachGroupHandle(d2, g, new AttachHandle()));
        assertThat(g.pasidArray).isEmpty();
    }

    @Test
    @DisplayName("#44 null handle or domain: -EINVAL")
    void nullHandle() {
        Fixture f = new Fixture();
        PlatformDevice a = f.add("a");
        IommuGroup g = f.group(a);
        IommuDomain d = f.core.pagingDomainAlloc(a);
        fails(Errno.EINVAL, () -> f.core.attachGroupHandle(d, g, null));
        fails(Errno.EINVAL, () -> f.core.replaceGroupHandle(g, null, new AttachHandle()));
        fails(Errno.EINVAL, () -> f.core.replaceGroupHandle(g, d, null));
        assertThat(g.pasidArray).isEmpty();
    }

    @Test
    @DisplayName("#45 S18 require_direct device refuses a BLOCKED domain: -EINVAL, no driver call")
    void rmrBlocksBlocked() {
        Fixture f = new Fixture();
        PlatformDevice a = f.plat("a");
        f.m.setResvRegions(a, List.of(ResvRegion.direct(0x1000_0000L, 0x1000)));
        f.core.deviceAdd(a);
        f.m.clearEvents();
        CoreSnapshot before = f.core.snapshot();
        fails(Errno.EINVAL, () -> f.core.attachGroup(f.m.blockedDomain(), f.group(a)));
        assertThat(f.m.calls()).isEmpty();
        assertThat(f.core.snapshot()).isEqualTo(before);
        // a paging or identity domain is fine
        f.core.attachGroup(f.m.identityDomain(), f.group(a));
    }

    @Test
    @DisplayName("#46 deferred attach: no attach at setup, one attach (old=null) on first use, then nothing")
    void deferredAttach() {
        Fixture f = new Fixture();
        PlatformDevice a = f.plat("a");
        f.m.setAttachDeferred(a, true);
        f.core.deviceAdd(a);
        IommuDomain def = f.group(a).defaultDomain();
        assertThat(f.group(a).domain()).isSameAs(def);
        assertThat(f.m.calls("attach_dev")).isEmpty();
        assertThat(f.core.devIommu(a).attachDeferred()).isTrue();
        f.core.deferredAttach(a, def);
        assertThat(f.m.calls("attach_dev")).containsExactly("attach_dev(" + def + ", a, old=null) = 0");
        assertThat(f.core.devIommu(a).attachDeferred()).isFalse();
        f.core.deferredAttach(a, def);
        assertThat(f.m.calls("attach_dev")).hasSize(1);
    }

    @Test
    @DisplayName("#46 a failed deferred attach reports the driver's errno and stays deferred")
    void deferredAttachFails() {
        Fixture f = new Fixture();
        PlatformDevice a = f.plat("a");
        f.m.setAttachDeferred(a, true);
        f.core.deviceAdd(a);
        f.m.failAttach(null, a, Errno.ENOSPC);
        fails(Errno.ENOSPC, () -> f.core.deferredAttach(a, f.group(a).defaultDomain()));
        assertThat(f.core.devIommu(a).attachDeferred()).isTrue();
    }

    @Test
    @DisplayName("#47 deferred device attached to a private domain: the driver is called, the flag cleared")
    void deferredThenPrivate() {
        Fixture f = new Fixture();
        PlatformDevice a = f.plat("a");
        f.m.setAttachDeferred(a, true);
        f.core.deviceAdd(a);
        IommuDomain d = f.core.pagingDomainAlloc(a);
        f.core.attachDevice(d, a);
        assertThat(f.m.calls("attach_dev")).containsExactly(
                "attach_dev(" + d + ", a, old=" + f.group(a).defaultDomain() + ") = 0");
        assertThat(f.core.devIommu(a).attachDeferred()).isFalse();
    }

    @Test
    @DisplayName("#48 replace to the domain already attached: no driver call, slot 0 updated")
    void replaceSameDomain() {
        Fixture f = new Fixture();
        PlatformDevice a = f.add("a");
        IommuGroup g = f.group(a);
        IommuDomain d = f.core.pagingDomainAlloc(a);
        AttachHandle h1 = new AttachHandle();
        f.core.attachGroupHandle(d, g, h1);
        f.m.clearEvents();
        AttachHandle h = new AttachHandle();
        f.core.replaceGroupHandle(g, g.domain(), h);
        assertThat(f.m.calls()).isEmpty();
        assertThat(f.core.attachHandleGet(g, 0, null)).isSameAs(h);
        assertThat(h.domain()).isSameAs(d);
    }

    @Test
    @DisplayName("group_replace_domain (<= v6.14 API): private to private without -EBUSY, null -EINVAL")
    void groupReplaceDomain() {
        Fixture f = new Fixture();
        PlatformDevice a = f.add("a");
        IommuGroup g = f.group(a);
        IommuDomain d1 = f.core.pagingDomainAlloc(a);
        IommuDomain d2 = f.core.pagingDomainAlloc(a);
        f.core.attachGroup(d1, g);
        f.core.groupReplaceDomain(g, d2);
        assertThat(g.domain()).isSameAs(d2);
        fails(Errno.EINVAL, () -> f.core.groupReplaceDomain(g, null));
    }

    @Test
    @DisplayName("attach_handle_get filters by domain type: -EBUSY for another type")
    void handleGetType() {
        Fixture f = new Fixture();
        PlatformDevice a = f.add("a");
        IommuGroup g = f.group(a);
        IommuDomain d = f.core.pagingDomainAlloc(a);
        AttachHandle h = new AttachHandle();
        f.core.attachGroupHandle(d, g, h);
        assertThat(f.core.attachHandleGet(g, 0, DomainType.UNMANAGED)).isSameAs(h);
        fails(Errno.EBUSY, () -> f.core.attachHandleGet(g, 0, DomainType.SVA));
        fails(Errno.ENOENT, () -> f.core.attachHandleGet(g, 3, null));
    }

    @Test
    @DisplayName("S13 attach_device without an IOMMU: -ENODEV")
    void attachNoIommu() {
        Fixture f = new Fixture();
        PlatformDevice a = f.add("a");
        IommuDomain d = f.core.pagingDomainAlloc(a);
        PlatformDevice lone = new PlatformDevice("lone", List.of(99), 0);
        fails(Errno.ENODEV, () -> f.core.attachDevice(d, lone));
        fails(Errno.ENODEV, () -> f.core.pagingDomainAlloc(lone));
        assertThat(f.core.getDomainForDev(lone)).isNull();
    }

    @Test
    @DisplayName("S13 attaching over the blocking domain is allowed")
    void attachOverBlocking() {
        Fixture f = new Fixture();
        PlatformDevice a = f.add("a");
        f.core.groupClaimDmaOwner(f.group(a), "vfio");
        IommuDomain d = f.core.pagingDomainAlloc(a);
        f.core.attachDevice(d, a);
        assertThat(f.group(a).domain()).isSameAs(d);
        f.core.detachDevice(d, a);
        assertThat(f.group(a).domain()).isSameAs(f.m.blockedDomain());
    }

    @Test
    @DisplayName("S20 attach_dev gets the old domain, which is what the hardware held")
    void oldDomainPassed() {
        Fixture f = new Fixture();
        PlatformDevice a = f.add("a");
        IommuDomain def = f.group(a).defaultDomain();
        IommuDomain d1 = f.core.pagingDomainAlloc(a);
        IommuDomain d2 = f.core.pagingDomainAlloc(a);
        int w = f.core.warningCount();
        f.core.attachDevice(d1, a);
        f.core.groupReplaceDomain(f.group(a), d2);
        f.core.detachDevice(d2, a);
        assertThat(f.m.calls("attach_dev")).containsExactly(
                "attach_dev(" + def + ", a, old=null) = 0",
                "attach_dev(" + d1 + ", a, old=" + def + ") = 0",
                "attach_dev(" + d2 + ", a, old=" + d1 + ") = 0",
                "attach_dev(" + def + ", a, old=" + d2 + ") = 0");
        assertThat(f.warningsSince(w)).isEmpty(); // the mock checks old against its hardware state
    }

    @Test
    @DisplayName("S20 a driver asking iommu_get_domain_for_dev inside attach_dev is reported (v7.0 lockdep); the driver variant is fine")
    void noReentrantLookup() {
        Fixture f = new Fixture();
        PlatformDevice a = f.add("a");
        IommuDomain d = f.core.pagingDomainAlloc(a);
        f.m.lookupInAttach(MockIommuDriver.Lookup.DRIVER_GET_DOMAIN_FOR_DEV);
        int w = f.core.warningCount();
        f.core.attachDevice(d, a);
        assertThat(f.warningsSince(w)).isEmpty();
        f.m.lookupInAttach(MockIommuDriver.Lookup.GET_DOMAIN_FOR_DEV);
        f.core.detachDevice(d, a);
        assertThat(f.warningsSince(w)).hasSize(1).allMatch(s -> s.startsWith("iommu_get_domain_for_dev"));
        // outside any callback the driver variant is the wrong one
        f.m.lookupInAttach(MockIommuDriver.Lookup.NONE);
        f.core.driverGetDomainForDev(a);
        assertThat(f.warningsSince(w)).hasSize(2).last().asString().startsWith("iommu_driver_get_domain_for_dev");
    }

    @Test
    @DisplayName("S20 a driver calling a locking core API from a callback is refused (self-deadlock in the kernel)")
    void reentrantLockRefused() {
        Fixture f = new Fixture();
        PlatformDevice a = f.add("a");
        IommuGroup g = f.group(a);
        g.mutex.lock();
        try {
            int w = f.core.warningCount();
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> f.core.groupClaimDmaOwner(g, "x"))
                    .isInstanceOf(IllegalStateException.class);
            assertThat(f.warningsSince(w)).anyMatch(s -> s.startsWith("mutex_lock"));
        } finally {
            g.mutex.unlock();
        }
        assertThat(g.ownerCnt()).isZero();
    }

    @Test
    @DisplayName("static domain compatibility: only the device's own driver's blocked/identity domains")
    void compatibility() {
        Fixture f = new Fixture();
        PlatformDevice a = f.add("a");
        IommuDomain d = f.core.pagingDomainAlloc(a);
        assertThat(IommuCore.domainOpsCompatible(f.m.ops(), d)).isTrue();
        assertThat(IommuCore.domainOpsCompatible(f.m.ops(), f.m.identityDomain())).isTrue();
        assertThat(IommuCore.domainOpsCompatible(f.m.ops(), f.m.blockedDomain())).isTrue();
        MockIommuDriver n = f.newDriver(MockConfig.builder("N").build());
        assertThat(IommuCore.domainOpsCompatible(f.m.ops(), n.identityDomain())).isFalse();
        assertThat(IommuCore.domainOpsCompatible(n.ops(), d)).isFalse();
    }
}
