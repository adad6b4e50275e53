package org.jiommu.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.jiommu.core.Fixture.fails;

import org.jiommu.base.Errno;
import org.jiommu.bus.PlatformDevice;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.core.spi.IommuDomain;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** SEMANTICS.md 13 scenario 101 (Δ7.0 PCI reset hooks, SEMANTICS.md 6.5). */
class ResetTest {
    @Test
    @DisplayName("#101 reset blocks attach: -EBUSY while resetting; done re-attaches G.domain with old=blocking")
    void resetBlocksAttach() {
        Fixture f = new Fixture();
        PciDevice a = f.pci("a");
        f.core.deviceAdd(a);
        IommuGroup g = f.group(a);
        IommuDomain def = g.defaultDomain();
        IommuDomain d = f.core.pagingDomainAlloc(a);
        f.m.clearEvents();
        f.core.pciDevResetIommuPrepare(a);
        assertThat(f.m.calls("attach_dev")).containsExactly("attach_dev(M.blocked, a, old=" + def + ") = 0");
        assertThat(g.resettingDomain()).isSameAs(f.m.blockedDomain());
        assertThat(g.domain()).isSameAs(def); // the group's domain is not changed by a reset
        assertThat(f.core.driverGetDomainForDev(a)).isSameAs(f.m.blockedDomain());
        assertThat(f.core.getDomainForDev(a)).isSameAs(def);
        fails(Errno.EBUSY, () -> f.core.attachGroup(d, g));
        fails(Errno.EBUSY, () -> f.core.groupClaimDmaOwner(g, "vfio"));
        assertThat(g.ownerCnt()).isZero();
        f.m.clearEvents();
        f.core.pciDevResetIommuDone(a);
        assertThat(f.m.calls("attach_dev")).containsExactly("attach_dev(" + def + ", a, old=M.blocked) = 0");
        assertThat(g.resettingDomain()).isNull();
        f.core.attachGroup(d, g);
        assertThat(g.domain()).isSameAs(d);
        // done without a reset in progress: WARN_ON(reset_depth == 0), nothing else
        f.m.clearEvents();
        int w = f.core.warningCount();
        f.core.pciDevResetIommuDone(a);
        assertThat(f.m.calls()).isEmpty();
        assertThat(f.warningsSince(w)).hasSize(1);
    }

    @Test
    @DisplayName("pci_dev_reset_iommu_prepare / _done nest per device (gdev->reset_depth, 0d5fd7a9323c): an inner "
            + "pair changes nothing and WARNs nothing; only the outermost done re-attaches and unblocks")
    void pciDevResetIommuPrepareNests() {
        Fixture f = new Fixture();
        PciDevice a = f.pci("a");
        f.core.deviceAdd(a);
        IommuGroup g = f.group(a);
        IommuDomain def = g.defaultDomain();
        IommuDomain d = f.core.pagingDomainAlloc(a);
        int w = f.core.warningCount();
        f.m.clearEvents();
        f.core.pciDevResetIommuPrepare(a); // cxl_reset_bus_function
        f.core.pciDevResetIommuPrepare(a); //   pci_reset_bus_function inside it: 0, no WARN
        assertThat(f.m.calls("attach_dev")).containsExactly("attach_dev(M.blocked, a, old=" + def + ") = 0");
        assertThat(f.warningsSince(w)).isEmpty();
        f.m.clearEvents();
        f.core.pciDevResetIommuDone(a); // the inner done: the device stays blocked
        assertThat(f.warningsSince(w)).isEmpty();
        assertThat(f.m.calls()).isEmpty();
        assertThat(g.resettingDomain()).isSameAs(f.m.blockedDomain());
        assertThat(f.core.driverGetDomainForDev(a)).isSameAs(f.m.blockedDomain());
        fails(Errno.EBUSY, () -> f.core.attachGroup(d, g));
        f.core.pciDevResetIommuDone(a); // the outer one
        assertThat(f.m.calls("attach_dev")).containsExactly("attach_dev(" + def + ", a, old=M.blocked) = 0");
        assertThat(g.resettingDomain()).isNull();
        assertThat(f.core.driverGetDomainForDev(a)).isSameAs(def);
        f.core.attachGroup(d, g);
        // (the only WARNs: the test's own iommu_driver_get_domain_for_dev calls, made without the mutex)
        assertThat(f.warningsSince(w)).allMatch(x -> x.startsWith("iommu_driver_get_domain_for_dev"));
    }

    @Test
    @DisplayName("pci_dev_reset_iommu_prepare: a reset is per device (gdev->blocked, group recovery_cnt): a second "
            + "function of the group resets alongside; the group refuses attaches until the last is done")
    void pciDevResetIommuPreparePerDevice() {
        Fixture f = new Fixture();
        PciDevice[] ab = {f.pci("a"), f.pci("b")};
        f.m.groupWith(ab[1], ab[0]);
        f.core.deviceAdd(ab[0]);
        f.core.deviceAdd(ab[1]);
        IommuGroup g = f.group(ab[0]);
        assertThat(f.group(ab[1])).isSameAs(g);
        IommuDomain def = g.defaultDomain();
        IommuDomain d = f.core.pagingDomainAlloc(ab[0]);
        int w = f.core.warningCount();
        f.core.pciDevResetIommuPrepare(ab[0]);
        f.core.pciDevResetIommuPrepare(ab[1]);
        assertThat(f.warningsSince(w)).isEmpty();
        f.m.clearEvents();
        f.core.pciDevResetIommuDone(ab[0]);
        assertThat(f.m.calls("attach_dev")).containsExactly("attach_dev(" + def + ", a, old=M.blocked) = 0");
        // b is still blocked and the group still recovering
        assertThat(f.core.driverGetDomainForDev(ab[0])).isSameAs(def);
        assertThat(f.core.driverGetDomainForDev(ab[1])).isSameAs(f.m.blockedDomain());
        fails(Errno.EBUSY, () -> f.core.attachGroup(d, g));
        f.core.pciDevResetIommuDone(ab[1]);
        assertThat(g.resettingDomain()).isNull();
        f.core.attachGroup(d, g);
        // (the only WARNs: the test's own iommu_driver_get_domain_for_dev calls, made without the mutex)
        assertThat(f.warningsSince(w)).allMatch(x -> x.startsWith("iommu_driver_get_domain_for_dev"));
    }

    @Test
    @DisplayName("#101 reset hooks are no-ops for devices without ATS or an IOMMU, and absent before v7.0")
    void resetNoOps() {
        Fixture f = new Fixture();
        PlatformDevice p = f.add("p");
        f.m.clearEvents();
        f.core.pciDevResetIommuPrepare(p);
        assertThat(f.m.calls()).isEmpty();
        assertThat(f.group(p).resettingDomain()).isNull();
        Fixture old = new Fixture(CoreConfig.builder().version(KernelVersion.V6_19).build());
        PciDevice a = old.pci("a");
        old.core.deviceAdd(a);
        fails(Errno.EOPNOTSUPP, () -> old.core.pciDevResetIommuPrepare(a));
    }

    @Test
    @DisplayName("#101 reset of a still-deferred device: parking it on the blocking domain is its first attach")
    void resetDeferred() {
        Fixture f = new Fixture();
        PciDevice a = f.pci("a");
        f.m.setAttachDeferred(a, true);
        f.core.deviceAdd(a);
        IommuDomain def = f.group(a).defaultDomain();
        f.core.pciDevResetIommuPrepare(a);
        // __iommu_attach_device clears attach_deferred on any successful attach
        assertThat(f.core.devIommu(a).attachDeferred()).isFalse();
        f.core.pciDevResetIommuDone(a);
        assertThat(f.m.programmed(a)).isSameAs(def);
        int calls = f.m.events().size();
        f.core.deferredAttach(a, def);
        assertThat(f.m.events()).hasSize(calls);
    }

    @Test
    @DisplayName("__iommu_remove_group_pasid skips a device a reset blocked (fc3523b16d2b): its PASIDs are off "
            + "already; pci_dev_reset_iommu_done then restores none")
    void iommuRemoveGroupPasidSkipsAResetDevice() {
        Fixture f = new Fixture();
        PciDevice[] ab = {f.pci("a"), f.pci("b")};
        f.m.groupWith(ab[1], ab[0]);
        f.core.deviceAdd(ab[0]);
        f.core.deviceAdd(ab[1]);
        IommuDomain d = f.core.pagingDomainAlloc(ab[0]);
        f.core.attachDevicePasid(d, ab[0], 7);
        f.core.pciDevResetIommuPrepare(ab[0]);
        f.m.clearEvents();
        f.core.detachDevicePasid(d, ab[0], 7);
        assertThat(f.m.calls("set_dev_pasid")).containsExactly("set_dev_pasid(M.blocked, b, 7, old=" + d + ") = 0");
        f.m.clearEvents();
        f.core.pciDevResetIommuDone(ab[0]);
        assertThat(f.m.calls("set_dev_pasid")).isEmpty();
        assertThat(f.m.programmedPasid(ab[0], 7)).isNull();
    }
}
