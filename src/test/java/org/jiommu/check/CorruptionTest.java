package org.jiommu.check;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.jiommu.base.Errno;
import org.jiommu.base.Prot;
import org.jiommu.bus.PlatformDevice;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.core.CoreConfig;
import org.jiommu.core.CoreCorruption;
import org.jiommu.core.IommuGroup;
import org.jiommu.core.IopfGroup;
import org.jiommu.core.PageRequests;
import org.jiommu.core.SvaHandle;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.mm.MmStruct;
import org.jiommu.core.spi.PageResponse;
import org.jiommu.core.spi.ResvRegion;
import org.jiommu.driver.mock.MockConfig;
import org.jiommu.driver.mock.MockDomain;
import org.jiommu.pgtable.IotlbGather;
import org.jiommu.driver.mock.MockHardwareView;
import org.jiommu.platform.HardwareView;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

/**
 * Every invariant the checker implements, broken on purpose (through test-only access to the
 * core's fields, by calling driver ops behind the core's back, or by handing the checker a call
 * record that says what a buggy core would have done), and found under its own id. Each test
 * first shows the same platform checks clean, so the violation is the corruption's doing.
 */
class CorruptionTest {
    private static final long DIRECT = 0x8000_0000L;

    private static Set<String> ids(List<Violation> v) {
        return v.stream().map(x -> x.invariant().id()).collect(Collectors.toCollection(TreeSet::new));
    }

    private static void clean(TestPlatform p) {
        assertThat(p.check()).as("before the corruption").isEmpty();
    }

    /** The violations of {@code id} must exist and name {@code object}. */
    private static void found(List<Violation> v, Invariant id, String object) {
        assertThat(v).as(v.toString()).anySatisfy(x -> {
            assertThat(x.invariant()).isEqualTo(id);
            assertThat(x.message()).contains(object);
        });
    }

    @Test
    @DisplayName("every invariant the checker implements has a corruption test here, named by its id")
    void everyInvariantCovered() {
        Set<String> named = new TreeSet<>();
        for (Class<?> c : CorruptionTest.class.getDeclaredClasses()) {
            for (java.lang.reflect.Method m : c.getDeclaredMethods()) {
                DisplayName dn = m.getAnnotation(DisplayName.class);
                if (dn != null && m.isAnnotationPresent(Test.class)) {
                    named.add(dn.value().split("[: ]")[0]);
                }
            }
        }
        for (Invariant i : Invariant.values()) {
            if (i != Invariant.UNCHECKED) {
                assertThat(named).as("corruption test for " + i).contains(i.id());
            }
        }
    }

    @Nested
    class StateInvariants {
        @Test
        @DisplayName("I-GROUP-DOMAIN: a group attached to a freed domain")
        void groupDomain() {
            TestPlatform p = new TestPlatform();
            PlatformDevice a = p.plat("a");
            IommuDomain d = p.core.pagingDomainAlloc(a);
            p.core.attachDevice(d, a);
            clean(p);
            d.markFreed();
            List<Violation> v = p.check();
            found(v, Invariant.GROUP_DOMAIN, "freed domain " + d);
            assertThat(ids(v)).containsOnly("I-GROUP-DOMAIN");
        }

        @Test
        @DisplayName("I-GROUP-DOMAIN: an emptied group that still has a default domain")
        void emptyGroupKeepsDomain() {
            // generic_single_device_group: the instance's group outlives its last device
            TestPlatform p = new TestPlatform(CoreConfig.defaults(), MockConfig.builder("M")
                    .grouping(MockConfig.Grouping.SINGLE).build());
            PlatformDevice a = p.plat("a");
            IommuGroup g = p.group(a);
            p.core.deviceDel(a);
            assertThat(p.core.groups()).contains(g);
            clean(p);
            CoreCorruption.setDefaultDomain(g, p.m.identityDomain());
            List<Violation> v = p.check();
            found(v, Invariant.GROUP_DOMAIN, "group" + g.id() + " has no devices but still has domain null, default "
                    + p.m.identityDomain());
            assertThat(ids(v)).containsOnly("I-GROUP-DOMAIN");
        }

        @Test
        @DisplayName("I-UNIFORM: the hardware points a member at another domain than the group's")
        void uniform() {
            TestPlatform p = new TestPlatform();
            PlatformDevice a = p.plat("a");
            clean(p);
            IommuDomain id = p.m.identityDomain();
            assertThat(id.ops().attachDev().attachDev(id, a, null)).isZero();
            List<Violation> v = p.check();
            found(v, Invariant.UNIFORM, "a is programmed for " + id);
            assertThat(ids(v)).containsOnly("I-UNIFORM");
        }

        @Test
        @DisplayName("I3: two members of one group on different domains")
        void groupCoherence() {
            TestPlatform p = new TestPlatform();
            PlatformDevice a = p.plat("a");
            PlatformDevice b = new PlatformDevice("b", List.of(99), 0);
            p.core.fwspecInit(b, p.m.iommu());
            p.m.groupWith(b, a);
            p.core.deviceAdd(b);
            assertThat(p.group(b)).isSameAs(p.group(a));
            clean(p);
            IommuDomain id = p.m.identityDomain();
            id.ops().attachDev().attachDev(id, b, null);
            List<Violation> v = p.check();
            found(v, Invariant.GROUP_COHERENCE, "group" + p.group(a).id());
            assertThat(ids(v)).containsOnly("I3", "I-UNIFORM");
        }

        @Test
        @DisplayName("I-OWNER: an owner token with owner_cnt 0")
        void owner() {
            TestPlatform p = new TestPlatform();
            PlatformDevice a = p.plat("a");
            clean(p);
            IommuGroup g = p.group(a);
            CoreCorruption.setOwner(g, "vfio", 0);
            CoreCorruption.setBlockingDomain(g, p.m.blockedDomain());
            List<Violation> v = p.check();
            found(v, Invariant.OWNER, "owner vfio but owner_cnt 0");
            assertThat(ids(v)).containsOnly("I-OWNER");
        }

        @Test
        @DisplayName("I-OWNED-DOMAIN: an owned group without a blocking domain")
        void ownedDomain() {
            TestPlatform p = new TestPlatform();
            PlatformDevice a = p.plat("a");
            p.core.groupClaimDmaOwner(p.group(a), "vfio");
            clean(p);
            CoreCorruption.setBlockingDomain(p.group(a), null);
            List<Violation> v = p.check();
            found(v, Invariant.OWNED_DOMAIN, "owned by vfio but has no blocking domain");
            assertThat(ids(v)).containsOnly("I-OWNED-DOMAIN");
        }

        @Test
        @DisplayName("I-RMR: a require_direct device in a group parked on the blocking domain")
        void rmr() {
            TestPlatform p = new TestPlatform();
            PlatformDevice a = p.plat("a");
            p.core.groupClaimDmaOwner(p.group(a), "vfio");
            clean(p);
            CoreCorruption.setRequireDirect(a, p.core, true);
            List<Violation> v = p.check();
            found(v, Invariant.RMR, "require_direct device a");
            assertThat(ids(v)).containsOnly("I-RMR");
        }

        @Test
        @DisplayName("I-RMR Δ6.19: a released require_direct device parked on BLOCKED although identity exists")
        void rmrRelease() {
            TestPlatform p = new TestPlatform();
            PlatformDevice a = new PlatformDevice("a", List.of(42), 0);
            p.core.fwspecInit(a, p.m.iommu());
            p.m.setResvRegions(a, List.of(ResvRegion.direct(DIRECT, 0x4000)));
            p.core.deviceAdd(a);
            History h = new History();
            // the history learns require_direct while the device is probed (the watch does this after every call)
            InvariantChecker.checkCall(null, p.capture(), new CallRecord("x", List.of(), null, List.of(), false, null), h);
            p.core.deviceDel(a);
            assertThat(p.m.programmed(a)).isSameAs(p.m.identityDomain());
            assertThat(InvariantChecker.checkState(p.capture(), h)).isEmpty();
            IommuDomain blk = p.m.blockedDomain();
            List<Violation> v = InvariantChecker.checkState(releasedOn(p, a, blk), h);
            found(v, Invariant.RMR, "released require_direct device a is parked on " + blk);
            assertThat(ids(v)).containsOnly("I-RMR");
        }

        @Test
        @DisplayName("I-SLOT0: PASID slot 0 names another domain than the group's")
        void slot0() {
            TestPlatform p = new TestPlatform();
            PlatformDevice a = p.plat("a");
            IommuDomain d = p.core.pagingDomainAlloc(a);
            clean(p);
            CoreCorruption.putPasidHandle(p.group(a), 0, d);
            List<Violation> v = p.check();
            found(v, Invariant.SLOT0, "holds " + d + " in PASID slot 0");
            assertThat(ids(v)).containsOnly("I-SLOT0");
        }

        @Test
        @DisplayName("I-PASID-SLOT: a PASID slot the member's hardware does not have")
        void pasidSlot() {
            TestPlatform p = new TestPlatform();
            PciDevice a = p.pci("a");
            IommuDomain d = p.core.pagingDomainAlloc(a);
            clean(p);
            CoreCorruption.putPasid(p.group(a), 5, d);
            List<Violation> v = p.check();
            found(v, Invariant.PASID_SLOT, "records " + d + " at PASID 5 but a has null there");
            assertThat(ids(v)).containsOnly("I-PASID-SLOT");
        }

        @Test
        @DisplayName("I-PASID-SLOT: a hardware PASID entry the group does not record")
        void pasidSlotReverse() {
            TestPlatform p = new TestPlatform();
            PciDevice a = p.pci("a");
            IommuDomain d = p.core.pagingDomainAlloc(a);
            clean(p);
            assertThat(d.ops().setDevPasid().setDevPasid(d, a, 7, null)).isZero();
            List<Violation> v = p.check();
            found(v, Invariant.PASID_SLOT, "a has " + d + " at PASID 7 but group" + p.group(a).id() + " records nothing");
            assertThat(ids(v)).containsOnly("I-PASID-SLOT");
        }

        @Test
        @DisplayName("I-NO-PASID-0: something installed at PASID 0")
        void noPasid0() {
            TestPlatform p = new TestPlatform();
            PciDevice a = p.pci("a");
            IommuDomain d = p.core.pagingDomainAlloc(a);
            clean(p);
            d.ops().setDevPasid().setDevPasid(d, a, 0, null);
            List<Violation> v = p.check();
            found(v, Invariant.NO_PASID_0, "a has " + d + " installed at PASID 0");
            assertThat(ids(v)).containsOnly("I-NO-PASID-0");
        }

        @Test
        @DisplayName("I-PASID-RANGE: a PASID beyond the device's PASID width")
        void pasidRange() {
            TestPlatform p = new TestPlatform();
            PciDevice a = p.pci("a");
            IommuDomain d = p.core.pagingDomainAlloc(a);
            clean(p);
            d.ops().setDevPasid().setDevPasid(d, a, 1 << 20, null);
            List<Violation> v = p.check();
            found(v, Invariant.PASID_RANGE, "a has PASID 1048576 installed");
            assertThat(ids(v)).containsOnly("I-PASID-RANGE", "I-PASID-SLOT");
        }

        @Test
        @DisplayName("I-STATIC: a driver's static blocked domain freed")
        void staticFreed() {
            TestPlatform p = new TestPlatform();
            p.plat("a");
            clean(p);
            p.m.blockedDomain().markFreed();
            List<Violation> v = p.check();
            found(v, Invariant.STATIC, "static domain " + p.m.blockedDomain() + " was freed");
            assertThat(ids(v)).containsOnly("I-STATIC");
        }

        @Test
        @DisplayName("I-BLOCKING-LIFE: a group's blocking domain freed while the group has devices")
        void blockingFreed() {
            TestPlatform p = new TestPlatform(CoreConfig.defaults(), MockConfig.builder("M").staticBlocked(false)
                    .releaseDomain(MockConfig.ReleaseDomain.IDENTITY).build());
            PlatformDevice a = p.plat("a");
            p.core.groupClaimDmaOwner(p.group(a), "vfio");
            p.core.groupReleaseDmaOwner(p.group(a));
            IommuDomain blk = p.group(a).blockingDomain();
            assertThat(blk).isInstanceOf(MockDomain.class);
            clean(p);
            blk.markFreed();
            List<Violation> v = p.check();
            found(v, Invariant.BLOCKING_LIFE, "blocking domain " + blk);
            assertThat(ids(v)).containsOnly("I-BLOCKING-LIFE");
        }

        @Test
        @DisplayName("I8: a require_direct region unmapped from the default domain")
        void directMappings() {
            TestPlatform p = new TestPlatform();
            PlatformDevice a = new PlatformDevice("a", List.of(42), 0);
            p.core.fwspecInit(a, p.m.iommu());
            p.m.setResvRegions(a, List.of(ResvRegion.direct(DIRECT, 0x4000)));
            p.core.deviceAdd(a);
            clean(p);
            MockDomain def = (MockDomain) p.group(a).defaultDomain();
            assertThat(def.pgtable().unmapPages(DIRECT + 0x2000, 0x1000, 1, new IotlbGather())).isEqualTo(0x1000);
            List<Violation> v = p.check();
            found(v, Invariant.DIRECT_MAPPINGS, "maps 0x80002000 of a's require_direct region");
            assertThat(ids(v)).containsOnly("I8");
        }

        @Test
        @DisplayName("I9: a released device still named by the core, and one still pointing at a paging domain")
        void release() {
            TestPlatform p = new TestPlatform();
            PlatformDevice a = p.plat("a");
            PlatformDevice b = p.plat("b");
            IommuGroup gb = p.group(b);
            IommuDomain d = p.core.pagingDomainAlloc(b);
            p.core.deviceDel(a);
            clean(p);
            // a driver whose release left the entry on a translating domain
            List<Violation> w = InvariantChecker.checkState(releasedOn(p, a, d), null);
            found(w, Invariant.RELEASE, "released a still points at " + d + " (UNMANAGED)");
            assertThat(ids(w)).containsOnly("I9");
            // the core still naming the released device
            CoreCorruption.setDeviceGroup(a, p.core, gb);
            List<Violation> v = p.check();
            found(v, Invariant.RELEASE, "a names group" + gb.id() + ", which does not list it");
            assertThat(ids(v)).containsOnly("I9");
        }

        @Test
        @DisplayName("I10: a page-table page leaked after every domain is freed")
        void accounting() {
            TestPlatform p = new TestPlatform();
            PlatformDevice a = p.plat("a");
            IommuDomain d = p.core.pagingDomainAlloc(a);
            p.core.map(d, 0x10000, 0x20000, 0x3000, Prot.RW);
            p.core.domainFree(d);
            p.core.deviceDel(a);
            assertThat(p.core.liveDomains()).isEmpty();
            clean(p);
            long leaked = p.frames.alloc(0);
            assertThat(leaked).isNotNegative();
            List<Violation> v = p.check();
            found(v, Invariant.ACCOUNTING, "every domain is freed but 4096 bytes in 1 blocks are allocated");
            assertThat(ids(v)).containsOnly("I10");
        }
    }

    /**
     * The state of {@code p} with the released {@code dev}'s hardware entry replaced by
     * {@code rid} (the mock refuses attaches for released devices, so the corruption is done on
     * the view: a driver whose release left the entry there).
     */
    private static PlatformState releasedOn(TestPlatform p, org.jiommu.bus.Device dev, IommuDomain rid) {
        return PlatformState.capture(p.core, s -> {
            HardwareView real = new MockHardwareView(List.of(p.m), PlatformState.fwspecMap(s));
            return new HardwareView() {
                @Override
                public boolean knows(org.jiommu.bus.Device d) {
                    return real.knows(d);
                }

                @Override
                public IommuDomain rid(org.jiommu.bus.Device d) {
                    return d == dev ? rid : real.rid(d);
                }

                @Override
                public java.util.Map<Integer, IommuDomain> pasids(org.jiommu.bus.Device d) {
                    return real.pasids(d);
                }

                @Override
                public Boolean driverHolds(org.jiommu.bus.Device d) {
                    return real.driverHolds(d);
                }

                @Override
                public int liveDriverDomains() {
                    return real.liveDriverDomains();
                }
            };
        }, p.frames, p.platform.baseline());
    }

    @Nested
    class TransitionInvariants {
        private CallRecord call(String fn, List<String> args, Errno err, List<CallRecord.AttachCall> attaches,
                                boolean warned) {
            return new CallRecord(fn, args, err, attaches, warned, null);
        }

        @Test
        @DisplayName("I-NOOP: setting the current domain with driver calls")
        void noop() {
            TestPlatform p = new TestPlatform();
            PlatformDevice a = p.plat("a");
            IommuGroup g = p.group(a);
            IommuDomain def = g.defaultDomain();
            PlatformState before = p.capture();
            p.core.groupReplaceDomain(g, def);
            PlatformState after = p.capture();
            List<String> args = List.of("group" + g.id(), def.toString());
            assertThat(InvariantChecker.checkCall(before, after, call("iommu_group_replace_domain", args, null,
                    List.of(), false), null)).isEmpty();
            List<Violation> v = InvariantChecker.checkCall(before, after, call("iommu_group_replace_domain", args,
                    null, List.of(new CallRecord.AttachCall(def, def.toString(), "a", true)), false), null);
            found(v, Invariant.NOOP, "called attach_dev 1 time(s)");
            assertThat(ids(v)).containsOnly("I-NOOP");
        }

        @Test
        @DisplayName("I-ATOMIC: a failed attach that moved the group")
        void atomic() {
            TestPlatform p = new TestPlatform();
            PlatformDevice a = p.plat("a");
            IommuDomain d = p.core.pagingDomainAlloc(a);
            IommuGroup g = p.group(a);
            PlatformState before = p.capture();
            CoreCorruption.setDomain(g, d);
            d.ops().attachDev().attachDev(d, a, null);
            PlatformState after = p.capture();
            List<Violation> v = InvariantChecker.checkCall(before, after, call("iommu_attach_group",
                    List.of(d.toString(), "group" + g.id()), Errno.ENOSPC, List.of(), false), null);
            found(v, Invariant.ATOMIC, "moved group" + g.id() + " from " + g.defaultDomain() + " to " + d);
            found(v, Invariant.ATOMIC, "left a on " + d);
            assertThat(ids(v)).containsOnly("I-ATOMIC");
        }

        @Test
        @DisplayName("I-OWNED-DOMAIN: a claim that left the group on its default domain")
        void ownedDomain() {
            TestPlatform p = new TestPlatform();
            PlatformDevice a = p.plat("a");
            IommuGroup g = p.group(a);
            PlatformState before = p.capture();
            p.core.groupClaimDmaOwner(g, "vfio");
            CoreCorruption.setDomain(g, g.defaultDomain());
            PlatformState after = p.capture();
            List<Violation> v = InvariantChecker.checkCall(before, after, call("iommu_group_claim_dma_owner",
                    List.of("group" + g.id(), "vfio"), null, List.of(), false), null);
            found(v, Invariant.OWNED_DOMAIN, "claimed group" + g.id() + " but left it on " + g.defaultDomain());
            assertThat(ids(v)).containsOnly("I-OWNED-DOMAIN");
        }

        @Test
        @DisplayName("I-BIND: a DMA-API driver bound into an owned group")
        void bind() {
            TestPlatform p = new TestPlatform();
            PlatformDevice a = p.plat("a");
            p.core.groupClaimDmaOwner(p.group(a), "vfio");
            PlatformState s = p.capture();
            List<Violation> v = InvariantChecker.checkCall(s, s, call("iommu_device_use_default_domain",
                    List.of("a"), null, List.of(), false), null);
            found(v, Invariant.BIND, "bound a in group" + p.group(a).id() + " with owner_cnt 1, owner vfio");
            assertThat(ids(v)).containsOnly("I-BIND");
        }

        @Test
        @DisplayName("I-EMPTY: a group emptied while owned, without a WARN")
        void empty() {
            TestPlatform p = new TestPlatform();
            PlatformDevice a = p.plat("a");
            IommuGroup g = p.group(a);
            p.core.groupClaimDmaOwner(g, "vfio");
            PlatformState before = p.capture();
            p.core.deviceDel(a); // the core WARNs here (and the watch excuses what follows from it)
            PlatformState after = p.capture();
            assertThat(InvariantChecker.checkCall(before, after, call("device_del", List.of("a"), null, List.of(),
                    true), null)).isEmpty();
            List<Violation> v = InvariantChecker.checkCall(before, after, call("device_del", List.of("a"), null,
                    List.of(), false), null);
            found(v, Invariant.EMPTY, "took the last device out of group" + g.id() + " with owner_cnt 1");
            assertThat(ids(v)).containsOnly("I-EMPTY");
        }

        @Test
        @DisplayName("I-DEFERRED: attach_deferred set again")
        void deferred() {
            TestPlatform p = new TestPlatform();
            PlatformDevice a = p.plat("a");
            PlatformState before = p.capture();
            CoreCorruption.setAttachDeferred(a, p.core, true);
            PlatformState after = p.capture();
            List<Violation> v = InvariantChecker.checkCall(before, after, call("iommu_attach_device",
                    List.of("x", "a"), Errno.EINVAL, List.of(), false), null);
            found(v, Invariant.DEFERRED, "attach_deferred of a was set again");
            assertThat(ids(v)).containsOnly("I-DEFERRED");
        }

        @Test
        @DisplayName("I-BLOCKING-LIFE: a blocking domain made by a plain attach, and one replaced")
        void blockingLife() {
            TestPlatform p = new TestPlatform();
            PlatformDevice a = p.plat("a");
            IommuGroup g = p.group(a);
            PlatformState before = p.capture();
            CoreCorruption.setBlockingDomain(g, p.m.blockedDomain());
            PlatformState after = p.capture();
            List<Violation> v = InvariantChecker.checkCall(before, after, call("iommu_detach_group",
                    List.of("x", "group" + g.id()), null, List.of(), false), null);
            found(v, Invariant.BLOCKING_LIFE, "iommu_detach_group created blocking domain");
            assertThat(InvariantChecker.checkCall(before, after, call("pci_dev_reset_iommu_prepare",
                    List.of("a"), null, List.of(), false), null)).isEmpty();
            CoreCorruption.setBlockingDomain(g, p.m.identityDomain());
            List<Violation> w = InvariantChecker.checkCall(after, p.capture(), call("iommu_detach_group",
                    List.of("x", "group" + g.id()), null, List.of(), false), null);
            found(w, Invariant.BLOCKING_LIFE, "replaced blocking domain " + p.m.blockedDomain());
        }

        @Test
        @DisplayName("I-IDEMPOTENT-PROBE: probing a grouped device again changed the core")
        void idempotentProbe() {
            TestPlatform p = new TestPlatform();
            PlatformDevice a = p.plat("a");
            PlatformState before = p.capture();
            p.core.probeDevice(a);
            PlatformState same = p.capture();
            assertThat(InvariantChecker.checkCall(before, same, call("iommu_probe_device", List.of("a"), null,
                    List.of(), false), null)).isEmpty();
            CoreCorruption.setOwner(p.group(a), null, 1);
            List<Violation> v = InvariantChecker.checkCall(before, p.capture(), call("iommu_probe_device",
                    List.of("a"), null, List.of(), false), null);
            found(v, Invariant.IDEMPOTENT_PROBE, "probing grouped a again changed the core");
            assertThat(ids(v)).containsOnly("I-IDEMPOTENT-PROBE");
        }

        @Test
        @DisplayName("I-ORDER: members attached out of list order, and a rollback that touched the failing device (v6.19+)")
        void order() {
            TestPlatform p = new TestPlatform();
            PlatformDevice a = p.plat("a");
            PlatformDevice b = new PlatformDevice("b", List.of(99), 0);
            p.core.fwspecInit(b, p.m.iommu());
            p.m.groupWith(b, a);
            p.core.deviceAdd(b);
            IommuGroup g = p.group(a);
            IommuDomain def = g.defaultDomain();
            IommuDomain d = p.core.pagingDomainAlloc(a);
            PlatformState s = p.capture();
            String dn = d.toString();
            List<String> args = List.of(dn, "group" + g.id());
            List<Violation> v = InvariantChecker.checkCall(s, s, call("iommu_attach_group", args, null,
                    List.of(new CallRecord.AttachCall(d, dn, "b", true), new CallRecord.AttachCall(d, dn, "a", true)),
                    false), null);
            found(v, Invariant.ORDER, "went [b, a], not in list order [a, b]");
            List<Violation> w = InvariantChecker.checkCall(s, s, call("iommu_attach_group", args, Errno.ENOSPC,
                    List.of(new CallRecord.AttachCall(d, dn, "a", true), new CallRecord.AttachCall(d, dn, "b", false),
                            new CallRecord.AttachCall(def, def.toString(), "a", true),
                            new CallRecord.AttachCall(def, def.toString(), "b", true)), false), null);
            found(w, Invariant.ORDER, "touched [a, b], expected [a]");
            assertThat(ids(w)).containsOnly("I-ORDER");
        }

        @Test
        @DisplayName("I-MAP: a successful map whose range does not translate, and a failed one that kept a page")
        void map() {
            TestPlatform p = new TestPlatform();
            PlatformDevice a = p.plat("a");
            MockDomain d = (MockDomain) p.core.pagingDomainAlloc(a);
            long[] offs = InvariantChecker.sampleOffsets(0x4000, 0x1000);
            long[] before = new long[offs.length];
            p.core.map(d, 0x100000, 0x200000, 0x4000, Prot.RW);
            d.pgtable().unmapPages(0x102000, 0x1000, 1, new IotlbGather());
            long[] after = new long[offs.length];
            for (int i = 0; i < offs.length; i++) {
                after[i] = p.core.iovaToPhys(d, 0x100000 + offs[i]);
            }
            CallRecord.MapProbe probe = new CallRecord.MapProbe(d, 0x100000, 0x200000, 0x4000, offs, before, after);
            PlatformState s = p.capture();
            List<Violation> v = InvariantChecker.checkCall(s, s, new CallRecord("iommu_map", List.of(), null, List.of(),
                    false, probe), null);
            found(v, Invariant.MAP, "0x102000 of " + d + " translates to 0x0, not 0x202000");
            List<Violation> w = InvariantChecker.checkCall(s, s, new CallRecord("iommu_map", List.of(), Errno.ENOMEM,
                    List.of(), false, probe), null);
            found(w, Invariant.MAP, "failed iommu_map changed 0x100000 of " + d + " from 0x0 to 0x200000");
        }

        @Test
        @DisplayName("I4: a group with a DMA-API user that also has an owner")
        void ownership() {
            TestPlatform p = new TestPlatform();
            PlatformDevice a = p.plat("a");
            History h = new History();
            PlatformState s0 = p.capture();
            InvariantChecker.checkCall(null, s0, call("x", List.of(), null, List.of(), false), h); // seeds the ledger
            p.core.deviceUseDefaultDomain(a);
            PlatformState s1 = p.capture();
            assertThat(InvariantChecker.checkCall(s0, s1, call("iommu_device_use_default_domain", List.of("a"), null,
                    List.of(), false), h)).isEmpty();
            CoreCorruption.setOwner(p.group(a), "vfio", 1);
            PlatformState s2 = p.capture();
            List<Violation> v = InvariantChecker.checkCall(s1, s2, call("iommu_group_dma_owner_claimed",
                    List.of("group" + p.group(a).id()), null, List.of(), false), h);
            found(v, Invariant.OWNERSHIP, "has 1 DMA-API user(s) and owner vfio");
            CoreCorruption.setOwner(p.group(a), null, 3);
            List<Violation> w = InvariantChecker.checkCall(s2, p.capture(), call("iommu_group_dma_owner_claimed",
                    List.of("group" + p.group(a).id()), null, List.of(), false), h);
            found(w, Invariant.OWNERSHIP, "owner_cnt 3 but 1 DMA-API user(s) and 0 owner claim(s)");
        }
    }

    /**
     * The part-2 PASID invariants, from the core's own {@code PasidInvariants} run by the checker:
     * a platform with a PASID attachment, an SVA bond and a page request group waiting for its
     * answer, each invariant broken through test-only access to the core.
     */
    @Nested
    class PasidPart2 {
        private final TestPlatform p = new TestPlatform();
        private final PciDevice a = p.pci("a");
        private final MmStruct mm = new MmStruct("proc", p.frames);
        private final SvaHandle bond = p.core.svaBindDevice(a, mm);
        private final IopfGroup held = PageRequests.pending(p.core, a, 20);

        private CallRecord call(String fn) {
            return new CallRecord(fn, List.of(), null, List.of(), false, null);
        }

        @Test
        @DisplayName("I-PASID-SLOT: a reservation placeholder left behind outside any call")
        void placeholder() {
            clean(p);
            CoreCorruption.leakPasidReservation(p.group(a), 9);
            List<Violation> v = p.check();
            found(v, Invariant.PASID_SLOT, "group" + p.group(a).id() + " has reservation placeholders at PASIDs [9]");
            assertThat(ids(v)).containsOnly("I-PASID-SLOT");
        }

        @Test
        @DisplayName("I-NO-PASID-0: the global PASID allocator handed out PASID 0")
        void globalPasid0() {
            clean(p);
            CoreCorruption.forceGlobalPasid(p.core, 0, 1 << 20);
            List<Violation> v = p.check();
            found(v, Invariant.NO_PASID_0, "the global allocator handed out PASID 0");
            // 0 is also outside [1, max - 1]
            assertThat(ids(v)).containsOnly("I-NO-PASID-0", "I-PASID-RANGE");
        }

        @Test
        @DisplayName("I-PASID-RANGE: a global PASID beyond the max_pasids of the device it was allocated for")
        void globalPasidRange() {
            clean(p);
            CoreCorruption.forceGlobalPasid(p.core, 40, 16);
            List<Violation> v = p.check();
            found(v, Invariant.PASID_RANGE, "global PASID 40 is outside [1, 15]");
            assertThat(ids(v)).containsOnly("I-PASID-RANGE");
        }

        @Test
        @DisplayName("I-MM-PASID: an mm's PASID freed behind its back")
        void mmPasidFreed() {
            clean(p);
            int pasid = p.core.mmPasid(mm);
            CoreCorruption.freeGlobalPasid(p.core, pasid);
            List<Violation> v = p.check();
            found(v, Invariant.MM_PASID, mm + " has PASID " + pasid + ", which is not allocated");
            assertThat(ids(v)).containsOnly("I-MM-PASID");
        }

        @Test
        @DisplayName("I-MM-PASID: a call that changed an mm's PASID")
        void mmPasidChanged() {
            PlatformState before = p.capture();
            int pasid = p.core.mmPasid(mm);
            int other = p.core.allocGlobalPasid(a);
            PlatformState same = p.capture();
            assertThat(InvariantChecker.checkCall(before, same, call("iommu_alloc_global_pasid"), null)).isEmpty();
            CoreCorruption.setMmPasid(p.core, mm, other);
            List<Violation> v = InvariantChecker.checkCall(same, p.capture(), call("x"), null);
            found(v, Invariant.MM_PASID, mm + " changed its PASID from " + pasid + " to " + other);
            assertThat(ids(v)).containsOnly("I-MM-PASID");
        }

        @Test
        @DisplayName("I-SVA-REF: an SVA domain counting more users than it has bonds")
        void svaRef() {
            clean(p);
            CoreCorruption.addSvaUsers(p.core, bond.domain(), 1);
            List<Violation> v = p.check();
            found(v, Invariant.SVA_REF, "SVA domain " + bond.domain() + " has users 2 but 1 bonds");
            assertThat(ids(v)).containsOnly("I-SVA-REF");
        }

        @Test
        @DisplayName("I-SVA-REF: through the per-call watch, reported after the next public call")
        void svaRefThroughWatch() {
            CoreCorruption.addSvaUsers(p.core, bond.domain(), 1);
            assertThat(InvariantWatch.pending()).isEmpty();
            p.core.groupDmaOwnerClaimed(p.group(a));
            List<CoreWatch.Report> r = InvariantWatch.drain();
            CoreCorruption.addSvaUsers(p.core, bond.domain(), -1);
            assertThat(r).hasSize(1);
            assertThat(r.get(0).violations()).extracting(Violation::invariant).containsExactly(Invariant.SVA_REF);
        }

        @Test
        @DisplayName("I-IOPF-ONCE: a page request group answered twice, and one pending with an answer")
        void iopfOnce() {
            clean(p);
            CoreCorruption.setIopfAnswered(held, false, 2);
            List<Violation> v = p.check();
            found(v, Invariant.IOPF_ONCE, "page request group " + held.serial() + " of a was answered 2 times");
            assertThat(ids(v)).containsOnly("I-IOPF-ONCE");
            CoreCorruption.setIopfAnswered(held, true, 1);
            found(p.check(), Invariant.IOPF_ONCE, "page request group " + held.serial() + " of a is pending with 1");
        }

        @Test
        @DisplayName("I-IOPF-ONCE: a call that took back a page response")
        void iopfResponseLost() {
            p.core.iopfGroupResponse(held, PageResponse.Code.SUCCESS);
            PlatformState before = p.capture();
            assertThat(InvariantChecker.checkState(before, null)).isEmpty();
            CoreCorruption.setIopfAnswered(held, false, 0);
            List<Violation> v = InvariantChecker.checkCall(before, p.capture(), call("x"), null);
            found(v, Invariant.IOPF_ONCE, "page request group " + held.serial() + " of a lost a response (1 -> 0)");
        }
    }
}
