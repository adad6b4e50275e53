package org.jiommu.driver.vtd;

import static org.assertj.core.api.Assertions.assertThat;

import org.jiommu.base.Prot;
import org.jiommu.bus.dma.DmaEngine;
import org.jiommu.bus.dma.DmaResult;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.hw.vtd.FaultReason;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Context entries for every DMA alias of a device (domain_context_mapping over
 * pci_for_each_dma_alias): functions behind a PCIe-to-PCI bridge reach the unit with the
 * bridge's alias, a quirk alias reaches it with another devfn, and each of those requester ids
 * translates through the device's domain.
 */
class VtdAliasTest {
    private static long dmaWith(VtdFixture f, PciDevice dev, int sid, long iova) {
        DmaResult r = new DmaEngine(dev, sid, f.unit().unit(), f.p.memory()).write(-1, iova, new byte[] {1});
        return r.ok() ? r.firstPa() : -r.faultCode();
    }

    @ParameterizedTest(name = "scalable {0}")
    @ValueSource(booleans = {false, true})
    @DisplayName("domain_context_mapping / domain_context_clear: bridge aliases follow the group; in legacy mode "
            + "a leaving function clears the shared alias under its sibling (no refcount), which I7 reports")
    void bridgeAliasesShareTheGroupDomain(boolean scalable) {
        VtdFixture f = VtdFixture.of(scalable, 48);
        f.hotplug(f.leg0, f.leg1);
        assertThat(f.core().groupGet(f.leg0)).isSameAs(f.core().groupGet(f.leg1));
        int bridgeAlias = 3 << 8; // (secondary bus 03, devfn 00.0)
        assertThat(f.p.topology().dmaRequesterId(f.leg0)).isEqualTo(bridgeAlias);
        assertThat(f.driver().requesterIds(f.leg0)).containsExactly(f.leg0.requesterId(), bridgeAlias);
        IommuDomain d = f.domain(f.leg0);
        f.core().map(d, 0x2000, 0x2100_0000L, 0x1000, Prot.RW);
        assertThat(f.write(f.leg0, 0x2000, new byte[1])).isEqualTo(0x2100_0000L);
        assertThat(f.write(f.leg1, 0x2008, new byte[1])).isEqualTo(0x2100_0008L);
        // The function's own requester id is programmed too.
        assertThat(dmaWith(f, f.leg0, f.leg0.requesterId(), 0x2010)).isEqualTo(0x2100_0010L);

        // The group moves: every alias follows.
        IommuDomain d2 = f.core().pagingDomainAlloc(f.leg0);
        f.core().map(d2, 0x2000, 0x2200_0000L, 0x1000, Prot.RW);
        f.core().attachGroup(d2, f.core().groupGet(f.leg0));
        f.agree();
        assertThat(f.write(f.leg1, 0x2000, new byte[1])).isEqualTo(0x2200_0000L);
        assertThat(dmaWith(f, f.leg1, f.leg1.requesterId(), 0x2000)).isEqualTo(0x2200_0000L);
        assertThat(dmaWith(f, f.leg0, f.leg0.requesterId(), 0x2000)).isEqualTo(0x2200_0000L);

        // leg0 leaves; leg0's own id is blocked.
        f.core().detachGroup(d2, f.core().groupGet(f.leg0));
        f.p.remove(f.leg0);
        IommuDomain def = f.domain(f.leg1);
        assertThat(def).isSameAs(d);
        assertThat(dmaWith(f, f.leg0, f.leg0.requesterId(), 0x2000)).isLessThan(0);
        if (scalable) {
            // the alias leg1 still uses keeps translating
            f.agree();
            assertThat(f.write(f.leg1, 0x2000, new byte[1])).isEqualTo(0x2100_0000L);
        } else {
            // domain_context_clear: the kernel keeps no count of the bridge alias' users, so
            // leg0's release clears the alias leg1's DMA uses; I7 reports it as the kernel's doing
            f.expectKernelFinding("leg1 rid 03:00.0: group is on");
            assertThat(f.write(f.leg1, 0x2000, new byte[1])).isEqualTo(-FaultReason.CONTEXT_ENTRY_NOT_PRESENT);
            assertThat(dmaWith(f, f.leg1, f.leg1.requesterId(), 0x2000)).isEqualTo(0x2100_0000L);
        }
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
