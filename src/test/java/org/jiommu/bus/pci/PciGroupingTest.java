package org.jiommu.bus.pci;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;

import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** pci_device_group as the kernel has it (drivers/iommu/iommu.c), over hand-built topologies. */
class PciGroupingTest {
    private final PciTopology t = new PciTopology();
    private final PciBus root = t.rootBus(0, 0);

    private static List<String> names(List<PciDevice> devs) {
        return devs.stream().map(PciDevice::name).toList();
    }

    private List<String> groupOf(PciDevice dev) {
        for (List<PciDevice> g : t.iommuGroups()) {
            if (g.contains(dev)) {
                return names(g);
            }
        }
        throw new AssertionError(dev + " in no group");
    }

    @Test
    @DisplayName("root port with ACS: the endpoint below gets its own group, apart from the port")
    void rootPortWithAcsIsolates() {
        PciDevice nic = root.rootPort("rp0", 0x1c, 0, 1, Acs.ISOLATED).endpoint("nic0", 0, 0);
        PciDevice nvme = root.rootPort("rp1", 0x1d, 0, 2, Acs.ISOLATED).endpoint("nvme0", 0, 0);
        assertThat(groupOf(nic)).containsExactly("nic0");
        assertThat(groupOf(nvme)).containsExactly("nvme0");
        assertThat(t.mustShareWith(nic)).isEmpty();
        assertThat(t.groupAnchor(nic)).isSameAs(nic);
        assertThat(groupOf(t.byName("rp0"))).containsExactly("rp0");
    }

    @Test
    @DisplayName("root port without ACS: the endpoint shares the port's group")
    void rootPortWithoutAcsShares() {
        PciDevice nic = root.rootPort("rp0", 0x1c, 0, 1, Acs.NONE).endpoint("nic0", 0, 0);
        PciDevice nvme = root.rootPort("rp1", 0x1d, 0, 2, Acs.ISOLATED).endpoint("nvme0", 0, 0);
        assertThat(groupOf(nic)).containsExactly("rp0", "nic0");
        assertThat(t.groupAnchor(nic)).isSameAs(t.byName("rp0"));
        assertThat(names(t.groupCandidates(nic))).containsExactly("rp0");
        assertThat(groupOf(nvme)).containsExactly("nvme0");
    }

    @Test
    @DisplayName("ACS with a control left disabled is no isolation; an unimplemented control counts as enabled")
    void partialAcs() {
        int noUf = Acs.SV | Acs.RR | Acs.CR;
        PciDevice a = root.rootPort("rp0", 1, 0, 1, Acs.of(Acs.REQ_ACS_FLAGS, noUf)).endpoint("a", 0, 0);
        PciDevice b = root.rootPort("rp1", 2, 0, 2, Acs.of(noUf, noUf)).endpoint("b", 0, 0);
        assertThat(groupOf(a)).containsExactly("rp0", "a");
        assertThat(groupOf(b)).containsExactly("b");
    }

    @Test
    @DisplayName("switch with ACS downstream ports below an ACS root port: one group per endpoint")
    void switchWithAcs() {
        PciBus internal = root.rootPort("rp0", 1, 0, 1, Acs.ISOLATED).switchUpstreamPort("usp", 0, 0, 2, Acs.NONE);
        PciDevice e1 = internal.switchDownstreamPort("dsp1", 1, 0, 3, Acs.ISOLATED).endpoint("e1", 0, 0);
        PciDevice e2 = internal.switchDownstreamPort("dsp2", 2, 0, 4, Acs.ISOLATED).endpoint("e2", 0, 0);
        assertThat(groupOf(e1)).containsExactly("e1");
        assertThat(groupOf(e2)).containsExactly("e2");
        assertThat(groupOf(t.byName("dsp1"))).containsExactly("dsp1");
        // a single-function upstream port needs no ACS of its own (PCIe 6.12.1.3)
        assertThat(t.acsEnabled(t.byName("usp"), Acs.REQ_ACS_FLAGS)).isTrue();
    }

    @Test
    @DisplayName("switch below a root port without ACS: the whole hierarchy is one group")
    void switchBelowNonAcsRootPort() {
        PciBus internal = root.rootPort("rp0", 1, 0, 1, Acs.NONE).switchUpstreamPort("usp", 0, 0, 2, Acs.NONE);
        PciDevice e1 = internal.switchDownstreamPort("dsp1", 1, 0, 3, Acs.ISOLATED).endpoint("e1", 0, 0);
        PciDevice e2 = internal.switchDownstreamPort("dsp2", 2, 0, 4, Acs.ISOLATED).endpoint("e2", 0, 0);
        assertThat(groupOf(e1)).containsExactly("rp0", "usp", "dsp1", "e1", "dsp2", "e2");
        assertThat(names(t.groupCandidates(e1))).containsExactly("dsp1", "usp", "rp0");
        assertThat(names(t.mustShareWith(e2))).containsExactly("rp0", "usp", "dsp1", "e1", "dsp2");
        assertThat(t.groupAnchor(e2).name()).isEqualTo("rp0");
    }

    @Test
    @DisplayName("downstream port without ACS: its endpoint joins the port, the sibling port's endpoint stays alone")
    void downstreamPortWithoutAcs() {
        PciBus internal = root.rootPort("rp0", 1, 0, 1, Acs.ISOLATED).switchUpstreamPort("usp", 0, 0, 2, Acs.NONE);
        PciDevice e1 = internal.switchDownstreamPort("dsp1", 1, 0, 3, Acs.NONE).endpoint("e1", 0, 0);
        PciDevice e2 = internal.switchDownstreamPort("dsp2", 2, 0, 4, Acs.ISOLATED).endpoint("e2", 0, 0);
        assertThat(groupOf(e1)).containsExactly("dsp1", "e1");
        assertThat(groupOf(e2)).containsExactly("e2");
    }

    @Test
    @DisplayName("PCIe-to-PCI bridge: every device below shares the bridge's group and aliases to (secondary, 00.0)")
    void pcieToPciBridge() {
        PciBus legacy = root.rootPort("rp0", 1, 0, 1, Acs.ISOLATED).pcieToPciBridge("p2p", 0, 0, 2);
        PciDevice a = legacy.endpoint("a", 1, 0);
        PciDevice b = legacy.endpoint("b", 2, 0);
        assertThat(a.kind()).isEqualTo(PciDevice.Kind.PCI_FUNCTION);
        assertThat(a.isPcie()).isFalse();
        assertThat(groupOf(a)).containsExactly("p2p", "a", "b");
        assertThat(groupOf(b)).containsExactly("p2p", "a", "b");
        assertThat(t.dmaAliases(a)).containsExactly(new DmaAlias(a, 0x0208), new DmaAlias(t.byName("p2p"), 0x0200));
        assertThat(t.dmaRequesterId(a)).isEqualTo(0x0200);
        assertThat(t.dmaRequesterId(b)).isEqualTo(0x0200);
        assertThat(names(t.groupCandidates(a))).startsWith("p2p");
    }

    @Test
    @DisplayName("nested conventional bridge below a PCIe-to-PCI bridge: both alias, the topmost ID is on the wire")
    void nestedLegacyBridges() {
        PciBus legacy = root.pcieToPciBridge("p2p", 0x1e, 0, 1);
        PciBus inner = legacy.pciBridge("pb", 3, 0, 2);
        PciDevice dev = inner.endpoint("old", 4, 1);
        PciDevice pb = t.byName("pb");
        assertThat(t.dmaAliases(dev)).containsExactly(new DmaAlias(dev, 0x0221), new DmaAlias(pb, 0x0118),
                new DmaAlias(t.byName("p2p"), 0x0100));
        assertThat(t.dmaRequesterId(dev)).isEqualTo(0x0100);
        assertThat(groupOf(dev)).containsExactly("p2p", "pb", "old");
    }

    @Test
    @DisplayName("multifunction device without ACS: its functions share a group")
    void multifunctionWithoutAcs() {
        PciDevice f0 = root.endpoint("f0", 2, 0);
        PciDevice f1 = root.endpoint("f1", 2, 1);
        PciDevice other = root.endpoint("other", 3, 0);
        assertThat(f0.multifunction()).isTrue();
        assertThat(other.multifunction()).isFalse();
        assertThat(groupOf(f1)).containsExactly("f0", "f1");
        assertThat(groupOf(other)).containsExactly("other");
    }

    @Test
    @DisplayName("multifunction device with ACS on its functions: one group per function")
    void multifunctionWithAcs() {
        PciDevice f0 = root.endpoint("f0", 2, 0, false, 0, false, Acs.ISOLATED);
        PciDevice f1 = root.endpoint("f1", 2, 1, false, 0, false, Acs.ISOLATED);
        assertThat(groupOf(f0)).containsExactly("f0");
        assertThat(groupOf(f1)).containsExactly("f1");
    }

    @Test
    @DisplayName("multifunction with ACS on one function only: the isolated one is alone (the kernel checks each side)")
    void multifunctionAsymmetricAcs() {
        PciDevice f0 = root.endpoint("f0", 2, 0, false, 0, false, Acs.ISOLATED);
        PciDevice f1 = root.endpoint("f1", 2, 1);
        PciDevice f2 = root.endpoint("f2", 2, 2);
        assertThat(groupOf(f0)).containsExactly("f0");
        assertThat(groupOf(f2)).containsExactly("f1", "f2");
    }

    @Test
    @DisplayName("quirk DMA alias joins two single-function devices, whichever is probed first")
    void quirkAliasJoins() {
        PciDevice a = root.endpoint("a", 3, 0);
        PciDevice b = root.endpoint("b", 4, 0);
        PciDevice c = root.endpoint("c", 5, 0);
        t.addDmaAlias(b, PciDevice.devfn(3, 0));
        assertThat(t.devsAreDmaAliases(a, b)).isTrue();
        assertThat(t.devsAreDmaAliases(b, a)).isTrue();
        assertThat(groupOf(b)).containsExactly("a", "b");
        assertThat(groupOf(c)).containsExactly("c");
        assertThat(names(t.groupCandidates(a))).containsExactly("b");
        assertThat(names(t.groupCandidates(b))).containsExactly("a");
        assertThat(t.dmaAliases(b)).containsExactly(new DmaAlias(b, 0x20), new DmaAlias(b, 0x18));
        assertThat(t.dmaRequesterId(b)).isEqualTo(0x20);
    }

    @Test
    @DisplayName("alias to a phantom function (no device there) adds a requester ID but no group mate")
    void phantomAlias() {
        PciDevice a = root.endpoint("a", 3, 0);
        t.addDmaAlias(a, PciDevice.devfn(3, 1));
        assertThat(t.dmaAliasDevfns(a)).containsExactly(0x19);
        assertThat(t.dmaAliases(a)).extracting(DmaAlias::requesterId).containsExactly(0x18, 0x19);
        assertThat(groupOf(a)).containsExactly("a");
    }

    @Test
    @DisplayName("chained quirk aliases with a multifunction hop: a -> b, b's slot-mate c without ACS")
    void aliasThenMultifunction() {
        PciDevice a = root.endpoint("a", 3, 0);
        PciDevice b = root.endpoint("b", 4, 0);
        PciDevice c = root.endpoint("c", 4, 1);
        t.addDmaAlias(a, b.devfn());
        assertThat(names(t.groupCandidates(a))).containsExactly("b", "c");
        assertThat(groupOf(a)).containsExactly("a", "b", "c");
        assertThat(groupOf(c)).containsExactly("a", "b", "c");
    }

    @Test
    @DisplayName("segments are separate: same bus and slot in two segments is not one multifunction device")
    void separateSegments() {
        PciDevice s0 = root.endpoint("s0", 2, 0);
        PciDevice s1 = t.rootBus(1, 0).endpoint("s1", 2, 1);
        assertThat(s0.multifunction()).isFalse();
        assertThat(s1.multifunction()).isFalse();
        assertThat(groupOf(s0)).containsExactly("s0");
        assertThat(groupOf(s1)).containsExactly("s1");
        assertThat(t.find(1, 0, 0x11)).isSameAs(s1);
        assertThat(t.find(0, 0, 0x11)).isNull();
        assertThat(s1.bdf()).isEqualTo("0001:00:02.1");
    }

    @Test
    @DisplayName("two host bridges in one segment: functions on different root buses never share")
    void twoRootBuses() {
        PciDevice a = root.endpoint("a", 2, 0);
        PciDevice b = t.rootBus(0, 0x80).endpoint("b", 2, 1);
        assertThat(groupOf(a)).containsExactly("a");
        assertThat(groupOf(b)).containsExactly("b");
        assertThat(t.rootBuses()).hasSize(2);
    }

    @Test
    @DisplayName("untrusted: everything below an external-facing port, not the port, not its neighbours")
    void untrustedBelowExternalFacingPort() {
        PciBus ext = root.rootPort("tbt", 7, 0, 0x20, Acs.ISOLATED).externalFacing();
        PciBus sw = ext.switchUpstreamPort("dock-usp", 0, 0, 0x21, Acs.NONE);
        PciDevice dockNic = sw.switchDownstreamPort("dock-dsp", 1, 0, 0x22, Acs.ISOLATED).endpoint("dock-nic", 0, 0);
        PciDevice inside = root.rootPort("rp1", 8, 0, 0x30, Acs.ISOLATED).endpoint("inside", 0, 0);
        assertThat(t.byName("tbt").externalFacing()).isTrue();
        assertThat(t.byName("tbt").untrusted()).isFalse();
        assertThat(t.byName("dock-usp").untrusted()).isTrue();
        assertThat(dockNic.untrusted()).isTrue();
        assertThat(inside.untrusted()).isFalse();
        assertThat(groupOf(dockNic)).containsExactly("dock-nic");
    }

    @Test
    @DisplayName("multifunction root ports without ACS (a chipset's 1c.0, 1c.1): both ports and their endpoints share one group")
    void multifunctionRootPortsWithoutAcs() {
        PciDevice a = root.rootPort("rp-a", 0x1c, 0, 1, Acs.NONE).endpoint("a", 0, 0);
        PciDevice b = root.rootPort("rp-b", 0x1c, 1, 2, Acs.NONE).endpoint("b", 0, 0);
        assertThat(t.byName("rp-a").multifunction()).isTrue();
        assertThat(groupOf(b)).containsExactly("rp-a", "a", "rp-b", "b");
        assertThat(names(t.groupCandidates(b))).containsExactly("rp-b", "rp-a");
    }

    @Test
    @DisplayName("multifunction root ports with ACS: each port and each endpoint alone")
    void multifunctionRootPortsWithAcs() {
        PciDevice a = root.rootPort("rp-a", 0x1c, 0, 1, Acs.ISOLATED).endpoint("a", 0, 0);
        PciDevice b = root.rootPort("rp-b", 0x1c, 1, 2, Acs.ISOLATED).endpoint("b", 0, 0);
        assertThat(groupOf(a)).containsExactly("a");
        assertThat(groupOf(b)).containsExactly("b");
        assertThat(groupOf(t.byName("rp-b"))).containsExactly("rp-b");
    }
}
