package org.jiommu.driver.vtd;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.jiommu.base.Errno;
import org.jiommu.base.Prot;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.core.AttachHandle;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.hw.vtd.FaultReason;
import org.jiommu.hw.vtd.InvDescriptor;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * {@code set_dev_pasid} for second-level and pass-through PASID entries, driven by the core's
 * PASID API (hardware agreement checked after every call): DMA with that PASID goes through the
 * domain, replacing and removing tear the entry down with PASID-selective invalidations, and
 * unmap reaches the device's ATC with PASID-based device-TLB invalidations. The refusals call the
 * driver directly, since the core refuses most of them before the driver sees them.
 */
class VtdSetDevPasidTest {
    private static int set(IommuDomain d, PciDevice dev, int pasid, IommuDomain old) {
        return d.ops().setDevPasid().setDevPasid(d, dev, pasid, old);
    }

    @Test
    @DisplayName("Second-level and pass-through PASID entries: attach, DMA, replace, unmap, remove")
    void pasidEntries() {
        VtdFixture f = VtdFixture.secondStage(true, 48);
        f.hotplug(f.nic);
        IommuDomain def = f.domain(f.nic);
        f.core().map(def, 0x1000, 0x2000_0000L, 0x1000, Prot.RW);
        VtdDomain d = f.mappedDomain(f.nic, 0x1000, 0x2100_0000L, Prot.RW);
        f.core().attachDevicePasid(d, f.nic, 5, new AttachHandle());
        assertThat(f.driver().programmedPasid(f.nic, 5)).isSameAs(d);
        assertThat(d.domainId(f.unit())).isEqualTo(VtdIommu.FIRST_DOMAIN_ID + 1);
        assertThat(f.write(f.nic, 5, 0x1000, new byte[1])).isEqualTo(0x2100_0000L);
        assertThat(f.write(f.nic, 0x1000, new byte[1])).isEqualTo(0x2000_0000L); // RID traffic unchanged

        IommuDomain id = f.driver().identityDomain();
        f.core().attachDevicePasid(id, f.nic, 6);
        assertThat(f.write(f.nic, 6, 0x3456_7000L, new byte[1])).isEqualTo(0x3456_7000L);

        // Replace d by d2 on PASID 5: d's id goes back with its last attachment.
        VtdDomain d2 = f.mappedDomain(f.nic, 0x1000, 0x2200_0000L, Prot.RW);
        f.core().replaceDevicePasid(d2, f.nic, 5, new AttachHandle());
        assertThat(d.domainId(f.unit())).isEqualTo(-1);
        assertThat(f.write(f.nic, 5, 0x1000, new byte[1])).isEqualTo(0x2200_0000L);

        // Unmap: the ATC entry of PASID 5 goes with a PASID-based device-TLB invalidation.
        List<InvDescriptor> seen = new ArrayList<>();
        f.unit().unit().setDescriptorListener(seen::add);
        assertThat(f.nic.atc().contains(5, 0x1000)).isTrue();
        f.core().unmap(d2, 0x1000, 0x1000);
        assertThat(seen.get(0)).isInstanceOf(InvDescriptor.IotlbInv.class);
        assertThat(seen.get(1)).isInstanceOf(InvDescriptor.PasidDeviceTlbInv.class);
        assertThat(((InvDescriptor.PasidDeviceTlbInv) seen.get(1)).pasid()).isEqualTo(5);
        assertThat(f.nic.atc().contains(5, 0x1000)).isFalse();
        assertThat(f.write(f.nic, 5, 0x1000, new byte[1])).isEqualTo(-FaultReason.WRITE);

        // Removal through the blocked domain: cleared, PASID cache, IOTLB, device TLB, wait.
        f.core().map(d2, 0x1000, 0x2200_0000L, 0x1000, Prot.RW);
        int did2 = d2.domainId(f.unit());
        seen.clear();
        f.core().detachDevicePasid(d2, f.nic, 5);
        assertThat(seen).hasSize(4);
        assertThat(seen.get(0)).isEqualTo(new InvDescriptor.PasidCacheInv(InvDescriptor.PC_G_PASID, did2, 5));
        assertThat(seen.get(1)).isEqualTo(new InvDescriptor.IotlbInv(InvDescriptor.G_DOMAIN, true, true, did2, 0, 0,
                false));
        assertThat(seen.get(2)).isInstanceOf(InvDescriptor.PasidDeviceTlbInv.class);
        assertThat(seen.get(3)).isInstanceOf(InvDescriptor.InvWait.class);
        assertThat(f.driver().programmedPasid(f.nic, 5)).isNull();
        assertThat(d2.domainId(f.unit())).isEqualTo(-1);
        assertThat(f.write(f.nic, 5, 0x1000, new byte[1])).isEqualTo(-FaultReason.PASID_ENTRY_NOT_PRESENT);

        // The pass-through PASID goes with a PASID-based IOTLB invalidation of the whole PASID.
        seen.clear();
        f.core().detachDevicePasid(id, f.nic, 6);
        assertThat(seen.get(1)).isEqualTo(new InvDescriptor.PasidIotlbInv(InvDescriptor.PIOTLB_G_PASID,
                VtdIommu.FLPT_DEFAULT_DID, 6, 0, 0, false));
        assertThat(f.write(f.nic, 6, 0x3456_7000L, new byte[1])).isEqualTo(-FaultReason.PASID_ENTRY_NOT_PRESENT);
        assertThat(f.core().warnings()).isEmpty();

        // Detach before release (the core's rule, I9); release then finds nothing left to tear down.
        f.core().attachDevicePasid(d, f.nic, 9);
        f.agree();
        f.core().detachDevicePasid(d, f.nic, 9);
        f.p.remove(f.nic);
        assertThat(d.domainId(f.unit())).isEqualTo(-1);
        assertThat(f.core().warnings()).isEmpty();
    }

    @Test
    @DisplayName("set_dev_pasid refusals: legacy mode, no PASID capability, PASID beyond the device's width")
    void refusals() {
        VtdFixture legacy = VtdFixture.of(false, 48);
        legacy.hotplug(legacy.nic);
        IommuDomain d = legacy.domain(legacy.nic);
        assertThat(set(d, legacy.nic, 5, null)).isEqualTo(Errno.EOPNOTSUPP.neg());

        VtdFixture f = VtdFixture.secondStage(true, 48);
        PciDevice acc = f.endpoint("acc", 0x1f, true, 4, false);
        f.hotplug(f.disk, acc);
        IommuDomain dd = f.domain(f.disk);
        assertThat(set(dd, f.disk, 5, null)).isEqualTo(Errno.EOPNOTSUPP.neg());
        IommuDomain da = f.domain(acc);
        assertThat(set(da, acc, 15, null)).isZero();
        assertThat(set(da, acc, 16, null)).isEqualTo(Errno.ENODEV.neg());
        assertThat(f.driver().programmedPasid(acc, 16)).isNull();
    }

    @Test
    @DisplayName("intel_pasid_replace_second_level / _pass_through: a PASID replace overwrites the present entry "
            + "(never not present in between), then flushes the old DID: PASID cache, PASID-based IOTLB, device-TLB, wait")
    void replaceWithoutNotPresentWindow() {
        VtdFixture f = VtdFixture.secondStage(true, 48);
        f.hotplug(f.nic);
        VtdDomain d = f.mappedDomain(f.nic, 0x1000, 0x2100_0000L, Prot.RW);
        VtdDomain d2 = f.mappedDomain(f.nic, 0x1000, 0x2200_0000L, Prot.RW);
        f.core().attachDevicePasid(d, f.nic, 5, new AttachHandle());
        assertThat(f.write(f.nic, 5, 0x1000, new byte[1])).isEqualTo(0x2100_0000L);
        int oldDid = d.domainId(f.unit());
        int sid = f.nic.requesterId();
        List<InvDescriptor> log = new ArrayList<>();
        List<Long> word0 = new ArrayList<>();
        f.unit().unit().setDescriptorListener(x -> {
            log.add(x);
            word0.add(f.pasidEntryWord0(sid, 5));
        });
        f.core().replaceDevicePasid(d2, f.nic, 5, new AttachHandle());
        assertThat(word0).isNotEmpty().allMatch(w -> (w & 1) == 1);
        assertThat(log).hasSize(4);
        assertThat(log.get(0)).isEqualTo(new InvDescriptor.PasidCacheInv(InvDescriptor.PC_G_PASID, oldDid, 5));
        assertThat(log.get(1)).isEqualTo(new InvDescriptor.PasidIotlbInv(InvDescriptor.PIOTLB_G_PASID, oldDid, 5, 0, 0,
                false));
        assertThat(log.get(2)).isInstanceOf(InvDescriptor.PasidDeviceTlbInv.class);
        assertThat(log.get(3)).isInstanceOf(InvDescriptor.InvWait.class);
        assertThat(f.pasidEntry(f.nic, 5).domainId()).isEqualTo(d2.domainId(f.unit()));
        assertThat(f.write(f.nic, 5, 0x1000, new byte[1])).isEqualTo(0x2200_0000L);
        assertThat(d.domainId(f.unit())).isEqualTo(-1);
        f.agree();
        // identity over a paging domain: the same replace, flushing d2's DID
        int d2Did = d2.domainId(f.unit());
        log.clear();
        word0.clear();
        f.core().replaceDevicePasid(f.driver().identityDomain(), f.nic, 5, new AttachHandle());
        assertThat(word0).isNotEmpty().allMatch(w -> (w & 1) == 1);
        assertThat(log.get(0)).isEqualTo(new InvDescriptor.PasidCacheInv(InvDescriptor.PC_G_PASID, d2Did, 5));
        assertThat(f.write(f.nic, 5, 0x3456_7000L, new byte[1])).isEqualTo(0x3456_7000L);
        f.agree();
    }
}
