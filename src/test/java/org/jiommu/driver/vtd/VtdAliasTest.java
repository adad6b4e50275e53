package org.jiommu.driver.vtd;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.jiommu.base.Prot;
import org.jiommu.bus.pci.Acs;
import org.jiommu.bus.pci.PciBus;
import org.jiommu.bus.dma.DmaEngine;
import org.jiommu.bus.dma.DmaResult;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.hw.vtd.FaultReason;
import org.jiommu.hw.vtd.InvDescriptor;
import org.jiommu.hw.vtd.ScalableContextEntry;
import org.jiommu.hw.vtd.VtdTables;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Context entries for the DMA aliases of a device: legacy mode programs every alias
 * (domain_context_mapping over pci_for_each_dma_alias), scalable mode only the device's own ids
 * and quirk aliases (intel_pasid_setup_sm_context), not a bridge's. Functions behind a
 * PCIe-to-PCI bridge reach the unit with the bridge's alias, a quirk alias reaches it with
 * another devfn.
 */
class VtdAliasTest {
    private static long dmaWith(VtdFixture f, PciDevice dev, int sid, long iova) {
        DmaResult r = new DmaEngine(dev, sid, f.unit().unit(), f.p.memory()).write(-1, iova, new byte[] {1});
        return r.ok() ? r.firstPa() : -r.faultCode();
    }

    @ParameterizedTest(name = "scalable {0}")
    @ValueSource(booleans = {false, true})
    @DisplayName("domain_context_mapping / domain_context_clear: bridge aliases follow the group; a leaving "
            + "function clears the alias it shares with its sibling (no refcount), which I7 reports")
    void bridgeAliasesShareTheGroupDomain(boolean scalable) {
        VtdFixture f = VtdFixture.of(scalable, 48);
        f.hotplug(f.leg0, f.leg1);
        assertThat(f.core().groupGet(f.leg0)).isSameAs(f.core().groupGet(f.leg1));
        int bridgeAlias = 3 << 8; // (secondary bus 03, devfn 00.0): leg0's own id too
        assertThat(f.leg0.requesterId()).isEqualTo(bridgeAlias);
        assertThat(f.p.topology().dmaRequesterId(f.leg1)).isEqualTo(bridgeAlias);
        // legacy programs every alias; scalable only the function's own ids (leg1's bridge alias
        // is leg0's own id, which leg0 sets up)
        if (scalable) {
            assertThat(f.driver().requesterIds(f.leg1)).containsExactly(f.leg1.requesterId());
        } else {
            assertThat(f.driver().requesterIds(f.leg1)).containsExactly(f.leg1.requesterId(), bridgeAlias);
        }
        IommuDomain d = f.domain(f.leg0);
        f.core().map(d, 0x2000, 0x2100_0000L, 0x1000, Prot.RW);
        assertThat(f.write(f.leg0, 0x2000, new byte[1])).isEqualTo(0x2100_0000L);
        assertThat(f.write(f.leg1, 0x2008, new byte[1])).isEqualTo(0x2100_0008L);
        // The function's own requester id is programmed too.
        assertThat(dmaWith(f, f.leg1, f.leg1.requesterId(), 0x2010)).isEqualTo(0x2100_0010L);

        // The group moves: every alias follows.
        IommuDomain d2 = f.core().pagingDomainAlloc(f.leg0);
        f.core().map(d2, 0x2000, 0x2200_0000L, 0x1000, Prot.RW);
        f.core().attachGroup(d2, f.core().groupGet(f.leg0));
        f.agree();
        assertThat(f.write(f.leg1, 0x2000, new byte[1])).isEqualTo(0x2200_0000L);
        assertThat(dmaWith(f, f.leg1, f.leg1.requesterId(), 0x2000)).isEqualTo(0x2200_0000L);
        assertThat(dmaWith(f, f.leg0, f.leg0.requesterId(), 0x2000)).isEqualTo(0x2200_0000L);

        // leg0 leaves: its own id, which is also leg1's bridge alias, goes with it. Legacy:
        // domain_context_clear keeps no count of the alias' users; scalable:
        // intel_pasid_teardown_sm_context clears leg0's own ids. Either way leg1's DMA, which
        // carries that id, now faults, and I7 reports it as the kernel's doing.
        f.core().detachGroup(d2, f.core().groupGet(f.leg0));
        f.p.remove(f.leg0);
        assertThat(f.domain(f.leg1)).isSameAs(d);
        f.expectKernelFinding("leg1 rid 03:00.0");
        assertThat(f.write(f.leg1, 0x2000, new byte[1])).isEqualTo(-FaultReason.CONTEXT_ENTRY_NOT_PRESENT);
        assertThat(dmaWith(f, f.leg1, f.leg1.requesterId(), 0x2000)).isEqualTo(0x2100_0000L);
    }

    /** A second PCIe-to-PCI bridge, 00:1f.0 -> bus 04, with conventional functions at 04:01.0 and 04:02.0 (none at devfn 0). */
    private static PciDevice[] offSlotZero(VtdFixture f) {
        PciBus bus = f.p.topology().rootBus(0, 0).pcieToPciBridge("p2p4", 0x1f, 0, 4);
        return new PciDevice[] {bus.endpoint("pci0", 1, 0), bus.endpoint("pci1", 2, 0)};
    }

    @ParameterizedTest(name = "scalable {0}")
    @ValueSource(booleans = {false, true})
    @DisplayName("intel_pasid_setup_sm_context: scalable mode sets up only the device's own ids (dev == &pdev->dev), "
            + "so functions behind a PCIe-to-PCI bridge, none at devfn 0, fault; I7 names the bridge alias")
    void intelPasidSetupSmContextSkipsBridgeAliases(boolean scalable) {
        VtdFixture f = VtdFixture.of(scalable, 48);
        PciDevice[] pci = offSlotZero(f);
        int bridgeAlias = 4 << 8;
        for (PciDevice dev : pci) {
            f.p.hotplug(dev);
        }
        assertThat(f.core().groupGet(pci[0])).isSameAs(f.core().groupGet(pci[1]));
        assertThat(f.p.topology().dmaRequesterId(pci[0])).isEqualTo(bridgeAlias);
        IommuDomain d = f.domain(pci[0]);
        f.core().map(d, 0x3000, 0x2300_0000L, 0x1000, Prot.RW);
        VtdTables t = VtdTables.of(f.unit().unit(), f.p.memory());
        if (scalable) {
            assertThat(f.driver().requesterIds(pci[0])).containsExactly(pci[0].requesterId());
            ScalableContextEntry alias = t.scalableContext(bridgeAlias);
            assertThat(alias == null || !alias.present()).as("no context entry for the bridge alias").isTrue();
            assertThat(t.scalableContext(pci[0].requesterId()).present()).isTrue();
            // the kernel's answer: their DMA, which carries the bridge's alias, faults
            for (PciDevice dev : pci) {
                assertThat(f.write(dev, 0x3000, new byte[1])).as("%s", dev)
                        .isEqualTo(-FaultReason.CONTEXT_ENTRY_NOT_PRESENT);
                // their own ids translate, but no request of theirs carries them
                assertThat(dmaWith(f, dev, dev.requesterId(), 0x3000)).isEqualTo(0x2300_0000L);
            }
            f.expectKernelFinding(VtdHardwareAgreement.BRIDGE_ALIAS_FINDING);
            assertThat(VtdHardwareAgreement.check(f.p)).hasSize(2)
                    .anyMatch(v -> v.contains("pci0 rid 04:00.0")).anyMatch(v -> v.contains("pci1 rid 04:00.0"));
        } else {
            // legacy mode programs the bridge alias (domain_context_mapping over every alias)
            assertThat(f.driver().requesterIds(pci[0])).containsExactly(pci[0].requesterId(), bridgeAlias);
            for (PciDevice dev : pci) {
                assertThat(f.write(dev, 0x3000, new byte[1])).isEqualTo(0x2300_0000L);
            }
            f.agree();
        }
    }

    @Test
    @DisplayName("intel_pasid_teardown_sm_context: a release clears the device's own ids, quirk aliases included, "
            + "whatever directory they name, and flushes the context cache with the device's own id")
    void intelPasidTeardownSmContext() {
        VtdFixture f = VtdFixture.of(true, 48);
        // two functions of one card; ghost (05:00.1) issues DMA also as host (05:00.0), a quirk alias
        PciBus card = f.p.topology().rootBus(0, 0).rootPort("rp5", 0x1b, 0, 5, Acs.ISOLATED);
        PciDevice host = card.endpoint("host", 0, 0);
        PciDevice ghost = card.endpoint("ghost", 0, 1);
        f.p.topology().addDmaAlias(ghost, host.devfn());
        f.p.hotplug(host);
        f.p.hotplug(ghost);
        f.agree();
        VtdTables t = VtdTables.of(f.unit().unit(), f.p.memory());
        long hostDir = t.scalableContext(host.requesterId()).pasidDirectoryPointer();
        assertThat(f.driver().requesterIds(ghost)).containsExactly(ghost.requesterId(), host.requesterId());
        // ghost's set-up left host's present entry alone (device_pasid_table_setup)
        assertThat(t.scalableContext(host.requesterId()).pasidDirectoryPointer()).isEqualTo(hostDir);
        assertThat(t.scalableContext(ghost.requesterId()).pasidDirectoryPointer()).isNotEqualTo(hostDir);

        List<InvDescriptor> descs = new ArrayList<>();
        f.unit().unit().setDescriptorListener(descs::add);
        f.p.remove(ghost);
        // both of ghost's own ids are cleared, host's included (the kernel counts no users of
        // an alias): host's DMA faults and I7 reports it as the kernel's doing
        assertThat(t.scalableContext(ghost.requesterId()).present()).isFalse();
        assertThat(t.scalableContext(host.requesterId()).present()).isFalse();
        f.expectKernelFinding("host rid 05:00.0: group is on");
        assertThat(f.write(host, 0x1000, new byte[1])).isEqualTo(-FaultReason.CONTEXT_ENTRY_NOT_PRESENT);
        // intel_context_flush_no_pasid names info->bus/devfn: ghost's own id, for both entries
        List<InvDescriptor.ContextCacheInv> cc = descs.stream().filter(InvDescriptor.ContextCacheInv.class::isInstance)
                .map(InvDescriptor.ContextCacheInv.class::cast).toList();
        assertThat(cc).hasSize(2).allMatch(c -> c.sourceId() == ghost.requesterId()
                && c.granularity() == InvDescriptor.G_DEVICE_OR_PAGE);
    }

    @ParameterizedTest(name = "scalable {0}")
    @ValueSource(booleans = {false, true})
    void quirkAlias(boolean scalable) {
        VtdFixture f = VtdFixture.of(scalable, 48);
        f.p.topology().addDmaAlias(f.nic, PciDevice.devfn(0, 1));
        f.hotplug(f.nic);
        int phantom = 1 << 8 | PciDevice.devfn(0, 1);
        assertThat(f.driver().requesterIds(f.nic)).containsExactly(f.nic.requesterId(), phantom);
        IommuDomain d = f.domain(f.nic);
        f.core().map(d, 0x6000, 0x2400_0000L, 0x1000, Prot.RW);
        assertThat(dmaWith(f, f.nic, phantom, 0x6004)).isEqualTo(0x2400_0004L);
        IommuDomain d2 = f.core().pagingDomainAlloc(f.nic);
        f.core().map(d2, 0x6000, 0x2500_0000L, 0x1000, Prot.RW);
        f.core().attachDevice(d2, f.nic);
        f.agree();
        assertThat(dmaWith(f, f.nic, phantom, 0x6004)).isEqualTo(0x2500_0004L);
        f.core().detachDevice(d2, f.nic);
        f.core().groupClaimDmaOwner(f.core().groupGet(f.nic), this);
        f.agree();
        assertThat(dmaWith(f, f.nic, phantom, 0x6004)).isLessThan(0);
    }
}
