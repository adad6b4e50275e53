package org.jiommu.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.jiommu.core.Fixture.fails;

import java.util.List;
import org.jiommu.base.Errno;
import org.jiommu.bus.Device;
import org.jiommu.bus.PlatformDevice;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.core.spi.AllocFlags;
import org.jiommu.core.spi.DomainType;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.driver.mock.MockConfig;
import org.jiommu.driver.mock.MockIommuDriver;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** SEMANTICS.md 13 scenarios 64-77 and the PASID side of 57 (the PASID attach API, SEMANTICS.md 8.1/8.2). */
class PasidAttachTest {
    /** A PASID-capable PCI function, hot-plugged. */
    private static PciDevice pci(Fixture f, String name) {
        PciDevice d = f.pci(name);
        f.core.deviceAdd(d);
        return d;
    }

    /** A 16-PASID PCI function in the group of {@code a}, both booted. */
    private static PciDevice withPasidPeer(Fixture f, PlatformDevice a) {
        PciDevice b = new PciDevice("b", 0, 0, 0x30, true, 4, true, false); // 16 PASIDs
        f.core.fwspecInit(b, f.m.iommu());
        f.m.groupWith(b, a);
        f.boot(a, b);
        return b;
    }

    /** PCI functions sharing one group (the mock's groupWith), booted together. */
    private static PciDevice[] pciGroup(Fixture f, String... names) {
        PciDevice[] d = new PciDevice[names.length];
        for (int i = 0; i < names.length; i++) {
            d[i] = f.pci(names[i]);
            if (i > 0) {
                f.m.groupWith(d[i], d[0]);
            }
        }
        f.boot(d);
        return d;
    }

    private static String pasidCall(IommuDomain d, Device dev, int pasid, IommuDomain old, String ret) {
        return "set_dev_pasid(" + d + ", " + dev + ", " + pasid + ", old=" + old + ") = " + ret;
    }

    @Test
    @DisplayName("#64 attach PASID 7 with a handle: one set_dev_pasid (old=null), the slot holds the handle")
    void attachPasid() {
        Fixture f = new Fixture();
        PciDevice a = pci(f, "a");
        IommuDomain d = f.core.pagingDomainAlloc(a);
        AttachHandle h = new AttachHandle();
        f.m.clearEvents();
        f.core.attachDevicePasid(d, a, 7, h);
        assertThat(f.m.calls("set_dev_pasid")).containsExactly(pasidCall(d, a, 7, null, "0"));
        assertThat(f.core.attachHandleGet(f.group(a), 7, null)).isSameAs(h);
        assertThat(h.domain()).isSameAs(d);
        assertThat(f.m.programmedPasid(a, 7)).isSameAs(d);
        // the RID is untouched
        assertThat(f.group(a).domain()).isSameAs(f.group(a).defaultDomain());
        assertThat(f.m.programmed(a)).isSameAs(f.group(a).defaultDomain());
    }

    @Test
    @DisplayName("#65 PASID 0 is IOMMU_NO_PASID: -EINVAL, no driver call")
    void pasidZero() {
        Fixture f = new Fixture();
        PciDevice a = pci(f, "a");
        IommuDomain d = f.core.pagingDomainAlloc(a);
        CoreSnapshot before = f.core.snapshot();
        f.m.clearEvents();
        fails(Errno.EINVAL, () -> f.core.attachDevicePasid(d, a, 0, new AttachHandle()));
        fails(Errno.EINVAL, () -> f.core.attachDevicePasid(d, a, IommuCore.IOMMU_PASID_INVALID));
        assertThat(f.m.events()).isEmpty();
        assertThat(f.core.snapshot()).isEqualTo(before);
    }

    @Test
    @DisplayName("#66 a blocked domain without set_dev_pasid cannot remove PASIDs: attach -EOPNOTSUPP")
    void noBlockedSetDevPasid() {
        Fixture f = new Fixture(MockConfig.builder("M").blockedSetDevPasid(false).build());
        PciDevice a = pci(f, "a");
        IommuDomain d = f.core.pagingDomainAlloc(a);
        f.m.clearEvents();
        fails(Errno.EOPNOTSUPP, () -> f.core.attachDevicePasid(d, a, 7));
        assertThat(f.m.events()).isEmpty();
        assertThat(f.group(a).pasidArray).isEmpty();
        // also without any static blocked domain
        Fixture g = new Fixture(MockConfig.builder("N").staticBlocked(false).releaseDomain(MockConfig.ReleaseDomain.NONE)
                .build());
        PciDevice b = pci(g, "b");
        fails(Errno.EOPNOTSUPP, () -> g.core.attachDevicePasid(g.core.pagingDomainAlloc(b), b, 7));
    }

    @Test
    @DisplayName("#67 range: with 16 PASIDs, PASID 16 is -EINVAL and 15 attaches")
    void range() {
        Fixture f = new Fixture(MockConfig.builder("M").maxPasids(16).build());
        PciDevice a = pci(f, "a");
        assertThat(f.core.devIommu(a).maxPasids()).isEqualTo(16);
        IommuDomain d = f.core.pagingDomainAlloc(a);
        f.m.clearEvents();
        fails(Errno.EINVAL, () -> f.core.attachDevicePasid(d, a, 16));
        assertThat(f.m.events()).isEmpty();
        assertThat(f.group(a).pasidArray).isEmpty();
        f.core.attachDevicePasid(d, a, 15);
        assertThat(f.m.programmedPasid(a, 15)).isSameAs(d);
    }

    @Test
    @DisplayName("#68 a group with a non-PASID member: it is skipped, only the PASID-capable one is programmed")
    void nonPasidMember() {
        Fixture f = new Fixture();
        PlatformDevice a = f.plat("a"); // no PASID support
        PciDevice b = withPasidPeer(f, a);
        IommuGroup g = f.group(a);
        assertThat(f.group(b)).isSameAs(g);
        IommuDomain d = f.core.pagingDomainAlloc(b);
        f.m.clearEvents();
        f.core.attachDevicePasid(d, b, 3);
        assertThat(f.m.calls("set_dev_pasid")).containsExactly(pasidCall(d, b, 3, null, "0"));
        assertThat(f.m.programmedPasid(a, 3)).isNull();
        // the range check also skips the member without PASIDs: 16 is beyond b's range only
        fails(Errno.EINVAL, () -> f.core.attachDevicePasid(d, b, 16));
        // detach removes from the PASID-capable member only
        f.m.clearEvents();
        f.core.detachDevicePasid(d, b, 3);
        assertThat(f.m.calls("set_dev_pasid")).containsExactly(pasidCall(f.m.blockedDomain(), b, 3, d, "0"));
        assertThat(g.pasidArray).isEmpty();
    }

    @Test
    @DisplayName("#68 iommu_attach_device_pasid naming a member with max_pasids 0: skipped like any such member, the result does not depend on the member named")
    void nonPasidDevice() {
        Fixture f = new Fixture();
        PlatformDevice a = f.plat("a"); // no PASID support
        PciDevice b = withPasidPeer(f, a);
        IommuGroup g = f.group(a);
        IommuDomain d = f.core.pagingDomainAlloc(b);
        f.m.clearEvents();
        // naming a (no PASIDs) does what naming b does: b is programmed, a skipped (b3f6fcd8404f)
        f.core.attachDevicePasid(d, a, 3);
        assertThat(f.m.calls("set_dev_pasid")).containsExactly(pasidCall(d, b, 3, null, "0"));
        assertThat(g.pasidEntries()).containsOnlyKeys(3);
        fails(Errno.EINVAL, () -> f.core.attachDevicePasid(d, a, 16)); // beyond b's range, whoever is named
        f.core.detachDevicePasid(d, a, 3);
        assertThat(g.pasidArray).isEmpty();
        // a group whose only member has no PASIDs: no driver call, the slot is stored all the same
        Fixture f2 = new Fixture();
        PlatformDevice p = f2.add("p");
        IommuDomain d2 = f2.core.pagingDomainAlloc(p);
        f2.m.clearEvents();
        f2.core.attachDevicePasid(d2, p, 5);
        assertThat(f2.m.calls("set_dev_pasid")).isEmpty();
        assertThat(f2.group(p).pasidEntries()).containsOnlyKeys(5);
    }

    @Test
    @DisplayName("#69 attach on a busy PASID (same or another domain): -EBUSY, nothing changes")
    void busySlot() {
        Fixture f = new Fixture();
        PciDevice a = pci(f, "a");
        IommuDomain d = f.core.pagingDomainAlloc(a);
        IommuDomain d2 = f.core.pagingDomainAlloc(a);
        AttachHandle h = new AttachHandle();
        f.core.attachDevicePasid(d, a, 7, h);
        CoreSnapshot before = f.core.snapshot();
        f.m.clearEvents();
        fails(Errno.EBUSY, () -> f.core.attachDevicePasid(d, a, 7, new AttachHandle()));
        fails(Errno.EBUSY, () -> f.core.attachDevicePasid(d2, a, 7));
        assertThat(f.m.events()).isEmpty();
        assertThat(f.core.snapshot()).isEqualTo(before);
        assertThat(f.m.programmedPasid(a, 7)).isSameAs(d);
    }

    @Test
    @DisplayName("#70 PASID rollback: the second member fails -ENOSPC, the first gets the blocked domain, slot empty")
    void rollback() {
        Fixture f = new Fixture();
        PciDevice[] ab = pciGroup(f, "a", "b");
        IommuGroup g = f.group(ab[0]);
        IommuDomain d = f.core.pagingDomainAlloc(ab[0]);
        f.m.failSetDevPasid(d, ab[1], 7, Errno.ENOSPC);
        CoreSnapshot before = f.core.snapshot();
        f.m.clearEvents();
        AttachHandle h = new AttachHandle();
        fails(Errno.ENOSPC, () -> f.core.attachDevicePasid(d, ab[0], 7, h));
        assertThat(f.m.calls("set_dev_pasid")).containsExactly(
                pasidCall(d, ab[0], 7, null, "0"),
                pasidCall(d, ab[1], 7, null, Errno.describe(Errno.ENOSPC.neg())),
                pasidCall(f.m.blockedDomain(), ab[0], 7, d, "0"));
        assertThat(g.pasidArray).isEmpty();
        assertThat(f.m.programmedPasid(ab[0], 7)).isNull();
        assertThat(f.m.programmedPasid(ab[1], 7)).isNull();
        assertThat(h.domain()).isNull();
        assertThat(f.core.snapshot()).isEqualTo(before);
        fails(Errno.ENOENT, () -> f.core.attachHandleGet(g, 7, null));
    }

    @Test
    @DisplayName("#70 replace rollback: a member failing the new domain puts the earlier ones back on the old")
    void replaceRollback() {
        Fixture f = new Fixture();
        PciDevice[] ab = pciGroup(f, "a", "b");
        IommuGroup g = f.group(ab[0]);
        IommuDomain d = f.core.pagingDomainAlloc(ab[0]);
        IommuDomain d2 = f.core.pagingDomainAlloc(ab[0]);
        AttachHandle h = new AttachHandle();
        f.core.attachDevicePasid(d, ab[0], 7, h);
        f.m.failSetDevPasid(d2, ab[1], 7, Errno.ENOMEM);
        CoreSnapshot before = f.core.snapshot();
        f.m.clearEvents();
        fails(Errno.ENOMEM, () -> f.core.replaceDevicePasid(d2, ab[0], 7, new AttachHandle()));
        assertThat(f.m.calls("set_dev_pasid")).containsExactly(
                pasidCall(d2, ab[0], 7, d, "0"),
                pasidCall(d2, ab[1], 7, d, Errno.describe(Errno.ENOMEM.neg())),
                pasidCall(d, ab[0], 7, d2, "0"));
        assertThat(f.core.snapshot()).isEqualTo(before);
        assertThat(f.m.programmedPasid(ab[0], 7)).isSameAs(d);
        assertThat(f.m.programmedPasid(ab[1], 7)).isSameAs(d);
        assertThat(f.core.attachHandleGet(g, 7, null)).isSameAs(h);
    }

    @Test
    @DisplayName("#70 a restore that fails too: WARN, and the PASID is removed from that member")
    void restoreFails() {
        Fixture f = new Fixture();
        PciDevice[] ab = pciGroup(f, "a", "b");
        IommuDomain d = f.core.pagingDomainAlloc(ab[0]);
        IommuDomain d2 = f.core.pagingDomainAlloc(ab[0]);
        f.core.attachDevicePasid(d, ab[0], 7, new AttachHandle());
        f.m.failSetDevPasid(d2, ab[1], 7, Errno.ENOMEM);
        f.m.failSetDevPasid(d, ab[0], 7, Errno.EIO);
        int w = f.core.warningCount();
        fails(Errno.ENOMEM, () -> f.core.replaceDevicePasid(d2, ab[0], 7, new AttachHandle()));
        assertThat(f.warningsSince(w)).hasSize(1).allMatch(s -> s.startsWith("__iommu_set_group_pasid"));
        assertThat(f.m.programmedPasid(ab[0], 7)).isNull();
        assertThat(f.m.programmedPasid(ab[1], 7)).isSameAs(d);
    }

    @Test
    @DisplayName("#71 detach PASID: the blocked domain's set_dev_pasid (old=D), slot empty, handle lookup -ENOENT")
    void detach() {
        Fixture f = new Fixture();
        PciDevice a = pci(f, "a");
        IommuDomain d = f.core.pagingDomainAlloc(a);
        f.core.attachDevicePasid(d, a, 7, new AttachHandle());
        f.m.clearEvents();
        f.core.detachDevicePasid(d, a, 7);
        assertThat(f.m.calls("set_dev_pasid")).containsExactly(pasidCall(f.m.blockedDomain(), a, 7, d, "0"));
        assertThat(f.group(a).pasidArray).isEmpty();
        assertThat(f.m.programmedPasid(a, 7)).isNull();
        fails(Errno.ENOENT, () -> f.core.attachHandleGet(f.group(a), 7, null));
        // the domain is free to go now
        f.core.domainFree(d);
    }

    @Test
    @DisplayName("#71 iommu_detach_device_pasid always calls the blocked domain's set_dev_pasid with the caller's domain, then erases the slot")
    void detachWrongDomain() {
        Fixture f = new Fixture();
        PciDevice a = pci(f, "a");
        IommuDomain d = f.core.pagingDomainAlloc(a);
        IommuDomain other = f.core.pagingDomainAlloc(a);
        f.core.attachDevicePasid(d, a, 7);
        f.m.clearEvents();
        // the core checks nothing: the driver is told old=other, whatever the slot holds
        f.core.detachDevicePasid(other, a, 7);
        assertThat(f.m.calls("set_dev_pasid")).containsExactly(pasidCall(f.m.blockedDomain(), a, 7, other, "0"));
        assertThat(f.group(a).pasidArray).isEmpty();
        // and a PASID never attached still reaches the driver
        f.m.clearEvents();
        f.core.detachDevicePasid(d, a, 8);
        assertThat(f.m.calls("set_dev_pasid")).containsExactly(pasidCall(f.m.blockedDomain(), a, 8, d, "0"));
        assertThat(f.group(a).pasidArray).isEmpty();
    }

    @Test
    @DisplayName("#72 replace PASID: set_dev_pasid(D2, old=D), the slot takes the new handle")
    void replace() {
        Fixture f = new Fixture();
        PciDevice a = pci(f, "a");
        IommuDomain d = f.core.pagingDomainAlloc(a);
        IommuDomain d2 = f.core.pagingDomainAlloc(a);
        f.core.attachDevicePasid(d, a, 7, new AttachHandle());
        AttachHandle h2 = new AttachHandle();
        f.m.clearEvents();
        f.core.replaceDevicePasid(d2, a, 7, h2);
        assertThat(f.m.calls("set_dev_pasid")).containsExactly(pasidCall(d2, a, 7, d, "0"));
        assertThat(f.core.attachHandleGet(f.group(a), 7, null)).isSameAs(h2);
        assertThat(h2.domain()).isSameAs(d2);
        assertThat(f.m.programmedPasid(a, 7)).isSameAs(d2);
    }

    @Test
    @DisplayName("#73 replace with the same domain: no driver call, only the handle changes")
    void replaceSameDomain() {
        Fixture f = new Fixture();
        PciDevice a = pci(f, "a");
        IommuDomain d = f.core.pagingDomainAlloc(a);
        f.core.attachDevicePasid(d, a, 7, new AttachHandle());
        AttachHandle h3 = new AttachHandle();
        f.m.clearEvents();
        f.core.replaceDevicePasid(d, a, 7, h3);
        assertThat(f.m.events()).isEmpty();
        assertThat(f.core.attachHandleGet(f.group(a), 7, null)).isSameAs(h3);
        assertThat(h3.domain()).isSameAs(d);
    }

    @Test
    @DisplayName("#74 replace on an empty PASID: -EINVAL, the slot stays empty")
    void replaceNotAttached() {
        Fixture f = new Fixture();
        PciDevice a = pci(f, "a");
        IommuDomain d = f.core.pagingDomainAlloc(a);
        CoreSnapshot before = f.core.snapshot();
        f.m.clearEvents();
        fails(Errno.EINVAL, () -> f.core.replaceDevicePasid(d, a, 9, new AttachHandle()));
        assertThat(f.m.events()).isEmpty();
        assertThat(f.group(a).pasidArray).isEmpty();
        assertThat(f.core.snapshot()).isEqualTo(before);
        fails(Errno.EINVAL, () -> f.core.replaceDevicePasid(d, a, 9, null));
    }

    @Test
    @DisplayName("#75 replace with the handle already stored: WARN and -EINVAL")
    void replaceReusedHandle() {
        Fixture f = new Fixture();
        PciDevice a = pci(f, "a");
        IommuDomain d = f.core.pagingDomainAlloc(a);
        AttachHandle h = new AttachHandle();
        f.core.attachDevicePasid(d, a, 7, h);
        int w = f.core.warningCount();
        CoreSnapshot before = f.core.snapshot();
        fails(Errno.EINVAL, () -> f.core.replaceDevicePasid(d, a, 7, h));
        assertThat(f.warningsSince(w)).hasSize(1);
        assertThat(f.core.snapshot()).isEqualTo(before);
    }

    @Test
    @DisplayName("#76 handle lookup filters by type; a bare domain entry has no handle (-ENOENT)")
    void handleTypeFilter() {
        Fixture f = new Fixture();
        PciDevice a = pci(f, "a");
        IommuGroup g = f.group(a);
        IommuDomain d = f.core.pagingDomainAlloc(a);
        AttachHandle h = new AttachHandle();
        f.core.attachDevicePasid(d, a, 7, h);
        fails(Errno.EBUSY, () -> f.core.attachHandleGet(g, 7, DomainType.SVA));
        assertThat(f.core.attachHandleGet(g, 7, DomainType.UNMANAGED)).isSameAs(h);
        assertThat(f.core.attachHandleGet(g, 7, null)).isSameAs(h);
        f.core.attachDevicePasid(d, a, 8);
        assertThat(g.pasidEntries().get(8)).isEqualTo(new PasidEntry.DomainEntry(d));
        fails(Errno.ENOENT, () -> f.core.attachHandleGet(g, 8, null));
    }

    @Test
    @DisplayName("#77 S16 unbinding a kernel driver while a PASID is attached: WARN, owner_cnt unchanged")
    void unbindWithPasid() {
        Fixture f = new Fixture();
        PciDevice a = pci(f, "a");
        IommuGroup g = f.group(a);
        f.core.deviceUseDefaultDomain(a);
        IommuDomain d = f.core.pagingDomainAlloc(a);
        f.core.attachDevicePasid(d, a, 7);
        int w = f.core.warningCount();
        f.core.deviceUnuseDefaultDomain(a);
        assertThat(f.warningsSince(w)).hasSize(1);
        assertThat(g.ownerCnt()).isEqualTo(1);
        f.core.detachDevicePasid(d, a, 7);
        f.core.deviceUnuseDefaultDomain(a);
        assertThat(g.ownerCnt()).isZero();
    }

    @Test
    @DisplayName("#57 S14 S15 a live PASID blocks claims and a second DMA-API binder; detaching it lifts that")
    void pasidBlocksOwnership() {
        Fixture f = new Fixture();
        PciDevice[] ab = pciGroup(f, "a", "b");
        IommuGroup g = f.group(ab[0]);
        IommuDomain d = f.core.pagingDomainAlloc(ab[0]);
        f.core.attachDevicePasid(d, ab[0], 5);
        fails(Errno.EBUSY, () -> f.core.groupClaimDmaOwner(g, "vfio"));
        fails(Errno.EBUSY, () -> f.core.deviceClaimDmaOwner(ab[1], "ictx"));
        assertThat(g.ownerCnt()).isZero();
        f.core.deviceUseDefaultDomain(ab[0]); // the first binder is not checked (#61)
        fails(Errno.EBUSY, () -> f.core.deviceUseDefaultDomain(ab[1]));
        assertThat(g.ownerCnt()).isEqualTo(1);
        f.core.detachDevicePasid(d, ab[0], 5);
        f.core.deviceUseDefaultDomain(ab[1]);
        assertThat(g.ownerCnt()).isEqualTo(2);
    }

    @Test
    @DisplayName("S09 S12 freeing a domain in a PASID slot: WARN, not freed; the RID can change under live PASIDs")
    void ridChangesKeepPasid() {
        Fixture f = new Fixture();
        PciDevice a = pci(f, "a");
        IommuGroup g = f.group(a);
        IommuDomain d = f.core.pagingDomainAlloc(a);
        IommuDomain rid = f.core.pagingDomainAlloc(a);
        f.core.attachDevicePasid(d, a, 9);
        int w = f.core.warningCount();
        f.core.domainFree(d);
        assertThat(f.warningsSince(w)).singleElement().asString().contains("PASID 9", "use-after-free");
        assertThat(d.isFreed()).isFalse();
        f.core.attachDevice(rid, a);
        f.core.detachDevice(rid, a);
        assertThat(f.m.programmedPasid(a, 9)).isSameAs(d);
        assertThat(g.pasidEntries()).containsOnlyKeys(9);
        assertThat(f.m.programmed(a)).isSameAs(g.defaultDomain());
    }

    @Test
    @DisplayName("iommu_attach_device_pasid does not refuse the blocked domain (the core has no such check); identity is a target too")
    void blockedNotTarget() {
        Fixture f = new Fixture();
        PciDevice a = pci(f, "a");
        f.m.clearEvents();
        f.core.attachDevicePasid(f.m.blockedDomain(), a, 3);
        assertThat(f.m.calls("set_dev_pasid")).containsExactly(pasidCall(f.m.blockedDomain(), a, 3, null, "0"));
        assertThat(f.group(a).pasidEntries()).containsOnlyKeys(3);
        // the static identity domain has set_dev_pasid and is a valid target
        f.core.attachDevicePasid(f.m.identityDomain(), a, 4);
        assertThat(f.m.programmedPasid(a, 4)).isSameAs(f.m.identityDomain());
    }

    @Test
    @DisplayName("#101 a PCI reset in progress refuses PASID attach and replace with -EBUSY")
    void resetBlocksPasid() {
        Fixture f = new Fixture();
        PciDevice a = pci(f, "a");
        IommuDomain d = f.core.pagingDomainAlloc(a);
        IommuDomain d2 = f.core.pagingDomainAlloc(a);
        f.core.attachDevicePasid(d, a, 3, new AttachHandle());
        f.core.pciDevResetIommuPrepare(a);
        assertThat(f.m.programmedPasid(a, 3)).isNull();
        fails(Errno.EBUSY, () -> f.core.attachDevicePasid(d2, a, 4));
        fails(Errno.EBUSY, () -> f.core.replaceDevicePasid(d2, a, 3, new AttachHandle()));
        f.core.pciDevResetIommuDone(a);
        assertThat(f.m.programmedPasid(a, 3)).isSameAs(d);
        f.core.attachDevicePasid(d2, a, 4);
    }

    @Test
    @DisplayName("#64 fail_nth on the slot reservation: -ENOMEM, nothing changes")
    void reservationOom() {
        Fixture f = new Fixture();
        PciDevice a = pci(f, "a");
        IommuDomain d = f.core.pagingDomainAlloc(a);
        CoreSnapshot before = f.core.snapshot();
        f.core.failNthAllocation(1);
        fails(Errno.ENOMEM, () -> f.core.attachDevicePasid(d, a, 7));
        assertThat(f.core.snapshot()).isEqualTo(before);
        assertThat(f.m.programmedPasid(a, 7)).isNull();
    }

    @Test
    @DisplayName("#64 argument checks: null domain, foreign domain, device without a group")
    void argumentChecks() {
        Fixture f = new Fixture();
        PciDevice a = pci(f, "a");
        MockIommuDriver n = f.newDriver(MockConfig.builder("N").build());
        f.core.iommuDeviceRegister(n.iommu());
        PciDevice b = new PciDevice("b", 0, 0, 0x40, true, 20, true, false);
        f.core.fwspecInit(b, n.iommu());
        f.core.deviceAdd(b);
        IommuDomain foreign = f.core.pagingDomainAlloc(b);
        fails(Errno.EINVAL, () -> f.core.attachDevicePasid(null, a, 7));
        fails(Errno.EINVAL, () -> f.core.attachDevicePasid(foreign, a, 7));
        PciDevice lone = f.pci("lone");
        fails(Errno.ENODEV, () -> f.core.attachDevicePasid(f.core.pagingDomainAlloc(a), lone, 7));
        assertThat(f.group(a).pasidArray).isEmpty();
        // a PASID-flag domain works like any other on the PASID API
        IommuDomain pd = f.core.pagingDomainAllocFlags(a, AllocFlags.PASID);
        f.core.attachDevicePasid(pd, a, 7);
        assertThat(List.copyOf(f.group(a).pasidEntries().keySet())).containsExactly(7);
    }
}
