package org.jiommu.bus.pci;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.jiommu.base.Errno;
import org.jiommu.base.IommuException;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** Building a PCI topology: placement rules, lookups, errors that leave nothing behind. */
class PciTopologyTest {
    private final PciTopology t = new PciTopology();

    private static Errno errno(Runnable r) {
        try {
            r.run();
        } catch (IommuException e) {
            return e.errno();
        }
        throw new AssertionError("no IommuException");
    }

    @Test
    @DisplayName("add(PciDevice) puts a function on a root bus created for it; devices() lists endpoints only")
    void addOnRootBus() {
        PciDevice a = t.add(new PciDevice("a", 0, 0, 0x10, true, 20, true, false));
        PciDevice rp = t.rootBus(0, 0).rootPort("rp", 1, 0, 1, Acs.ISOLATED).self();
        PciDevice b = t.add(new PciDevice("b", 0, 1, 0x00, false, 0, false, false));
        assertThat(t.devices()).containsExactly(a, b);
        assertThat(t.functions()).containsExactly(a, rp, b);
        assertThat(a.kind()).isEqualTo(PciDevice.Kind.RC_INTEGRATED_ENDPOINT);
        assertThat(b.kind()).isEqualTo(PciDevice.Kind.ENDPOINT);
        assertThat(b.parentBus()).isSameAs(rp.secondaryBus());
        assertThat(b.upstreamBridge()).isSameAs(rp);
        assertThat(t.upstreamBridges(b)).containsExactly(rp);
        assertThat(t.rootPort(b)).isSameAs(rp);
        assertThat(t.rootPort(a)).isNull();
        assertThat(t.byName("b")).isSameAs(b);
        assertThat(t.find(0, 1, 0)).isSameAs(b);
        assertThat(t.bus(0, 1).devices()).containsExactly(b);
    }

    @Test
    @DisplayName("duplicate name, address, bus number or topology: EEXIST and nothing added")
    void duplicates() {
        PciBus root = t.rootBus(0, 0);
        PciDevice a = root.endpoint("a", 2, 0);
        root.rootPort("rp", 1, 0, 1, Acs.NONE);
        int before = t.functions().size();
        assertThat(errno(() -> root.endpoint("a", 3, 0))).isEqualTo(Errno.EEXIST);
        assertThat(errno(() -> root.endpoint("a2", 2, 0))).isEqualTo(Errno.EEXIST);
        assertThat(errno(() -> root.rootPort("rp2", 4, 0, 1, Acs.NONE))).isEqualTo(Errno.EEXIST);
        assertThat(errno(() -> t.rootBus(0, 1))).isEqualTo(Errno.EEXIST);
        assertThat(errno(() -> new PciTopology().add(a))).isEqualTo(Errno.EEXIST);
        assertThat(t.functions()).hasSize(before);
        assertThat(t.byName("rp2")).isNull();
    }

    @Test
    @DisplayName("PCI placement rules: EINVAL for a port where PCI has none")
    void placementRules() {
        PciBus root = t.rootBus(0, 0);
        PciBus rpBus = root.rootPort("rp", 1, 0, 1, Acs.NONE);
        PciBus legacy = root.pcieToPciBridge("p2p", 2, 0, 5);
        assertThat(errno(() -> root.switchDownstreamPort("dsp", 3, 0, 9, Acs.NONE))).isEqualTo(Errno.EINVAL);
        assertThat(errno(() -> rpBus.rootPort("rp2", 0, 0, 9, Acs.NONE))).isEqualTo(Errno.EINVAL);
        assertThat(errno(() -> root.switchUpstreamPort("usp", 3, 0, 9, Acs.NONE))).isEqualTo(Errno.EINVAL);
        assertThat(errno(() -> legacy.pcieToPciBridge("x", 1, 0, 9))).isEqualTo(Errno.EINVAL);
        assertThat(errno(() -> root.pciBridge("x", 4, 0, 9))).isEqualTo(Errno.EINVAL);
        assertThat(errno(() -> rpBus.switchUpstreamPort("usp", 0, 0, 0, Acs.NONE))).isEqualTo(Errno.EINVAL);
        assertThat(errno(() -> root.endpoint("bad", 32, 0))).isEqualTo(Errno.EINVAL);
        assertThat(errno(() -> t.bus(0, 1).add(new PciDevice("w", 0, 2, 0, false, 0, false, false), Acs.NONE)))
                .isEqualTo(Errno.EINVAL);
        assertThat(errno(() -> t.markExternalFacing(t.byName("p2p")))).isEqualTo(Errno.EINVAL);
        PciBus internal = rpBus.switchUpstreamPort("usp", 0, 0, 2, Acs.NONE);
        assertThat(internal.switchDownstreamPort("dsp", 1, 0, 3, Acs.NONE).self().kind())
                .isEqualTo(PciDevice.Kind.SWITCH_DOWNSTREAM_PORT);
        assertThat(legacy.pciToPcieBridge("rev", 3, 0, 6).isPcie()).isTrue();
        assertThat(legacy.isPcie()).isFalse();
        assertThat(t.functions()).extracting(PciDevice::name).containsExactly("rp", "p2p", "usp", "dsp", "rev");
    }

    @Test
    @DisplayName("queries about a function of another topology fail with EINVAL")
    void foreignDevice() {
        PciDevice loose = new PciDevice("loose", 0, 0, 0, false, 0, false, false);
        assertThat(errno(() -> t.mustShareWith(loose))).isEqualTo(Errno.EINVAL);
        assertThat(errno(() -> t.dmaAliases(loose))).isEqualTo(Errno.EINVAL);
        assertThat(loose.topology()).isNull();
        assertThat(loose.multifunction()).isFalse();
    }

    @Test
    @DisplayName("DMA alias range: pci_add_dma_alias(dev, from, n) sets n devfns; bad ranges EINVAL")
    void aliasRange() {
        PciDevice a = t.rootBus(0, 0).endpoint("a", 2, 0);
        t.addDmaAlias(a, 0x30, 3);
        assertThat(t.dmaAliasDevfns(a)).containsExactly(0x30, 0x31, 0x32);
        assertThat(errno(() -> t.addDmaAlias(a, 0xff, 2))).isEqualTo(Errno.EINVAL);
        assertThat(errno(() -> t.addDmaAlias(a, 0x10, 0))).isEqualTo(Errno.EINVAL);
    }

    @Test
    @DisplayName("pci_acs_path_enabled with an end device stops there; to the root it needs every port")
    void acsPath() {
        PciBus root = t.rootBus(0, 0);
        PciDevice rp = root.rootPort("rp", 1, 0, 1, Acs.NONE).self();
        PciBus internal = rp.secondaryBus().switchUpstreamPort("usp", 0, 0, 2, Acs.NONE);
        PciDevice dsp = internal.switchDownstreamPort("dsp", 1, 0, 3, Acs.ISOLATED).self();
        PciDevice usp = t.byName("usp");
        assertThat(t.acsPathEnabled(dsp, usp, Acs.REQ_ACS_FLAGS)).isTrue();
        assertThat(t.acsPathEnabled(dsp, null, Acs.REQ_ACS_FLAGS)).isFalse();
        assertThat(t.acsPathEnabled(dsp, rp, Acs.REQ_ACS_FLAGS)).isFalse();
    }

    @Test
    @DisplayName("BDF text: [ssss:]bb:dd.f parses and prints back; garbage is rejected with the text named")
    void bdfParsing() {
        assertThat(Bdf.parse("00:02.0")).isEqualTo(new Bdf(0, 0, 0x10));
        assertThat(Bdf.parse("0001:3a:1f.7")).isEqualTo(new Bdf(1, 0x3a, 0xff));
        assertThat(Bdf.parse("0001:3a:1f.7").toString()).isEqualTo("0001:3a:1f.7");
        assertThat(Bdf.parse("0001:3a:1f.7").requesterId()).isEqualTo(0x3aff);
        for (String bad : new String[] {"", "02.0", "00:20.0", "00:02.8", "00:02", "x:00:02.0", "0:0:0:0.0"}) {
            assertThatThrownBy(() -> Bdf.parse(bad)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("\"" + bad + "\"");
        }
    }

    @Test
    @DisplayName("alias-of: a same-bus address joins the alias mask; another bus is EINVAL")
    void aliasOf() {
        PciBus root = t.rootBus(0, 0);
        PciDevice a = root.endpoint("a", 2, 0);
        PciDevice b = root.endpoint("b", 3, 0);
        t.addDmaAlias(b, Bdf.parse("00:02.0"));
        assertThat(t.devsAreDmaAliases(a, b)).isTrue();
        assertThat(t.find(Bdf.parse("00:03.0"))).isSameAs(b);
        assertThat(errno(() -> t.addDmaAlias(b, Bdf.parse("01:02.0")))).isEqualTo(Errno.EINVAL);
        assertThat(errno(() -> t.addDmaAlias(b, Bdf.parse("0001:00:02.0")))).isEqualTo(Errno.EINVAL);
    }
}
