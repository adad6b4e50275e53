package org.jiommu.driver.vtd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Map;
import org.jiommu.base.Errno;
import org.jiommu.base.IommuException;
import org.jiommu.base.Prot;
import org.jiommu.bus.pci.Acs;
import org.jiommu.bus.pci.PciBus;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.core.CoreSnapshot;
import org.jiommu.core.spi.DevFeature;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.driver.common.DriverFaults;
import org.jiommu.hw.vtd.FaultReason;
import org.jiommu.hw.vtd.InvDescriptor;
import org.jiommu.hw.vtd.VtdConfig;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Seed 001 on VT-d: device features (S01, S02) and the 2019 aux-domain API (S03-S09) through
 * the core, with the VT-d driver's PASID entries, domain ids and invalidations underneath, and
 * the hardware-agreement check (I7) after every core call.
 */
class VtdAuxTest {
    private static final long PA_RID = 0x2000_0000L;
    private static final long PA_AUX = 0x2100_0000L;

    /** An ATS + PASID + PRI endpoint alone behind its own ACS root port (a singleton group). */
    static PciDevice card(VtdFixture f, String name, int slot) {
        return f.endpoint(name, slot, true, 20, true);
    }

    private static Errno errno(Runnable r) {
        try {
            r.run();
        } catch (IommuException e) {
            return e.errno();
        }
        throw new AssertionError("the call succeeded");
    }

    /** A scalable platform with the nic probed, AUX enabled, its RID domain mapped, and an aux domain mapped. */
    private static final class Setup {
        final VtdFixture f = VtdFixture.of(true, 48);
        final VtdDomain aux;

        Setup() {
            f.hotplug(f.nic);
            f.core().map(f.domain(f.nic), 0x1000, PA_RID, 0x1000, Prot.RW);
            f.core().devEnableFeature(f.nic, DevFeature.AUX);
            aux = f.mappedDomain(f.nic, 0x1000, PA_AUX, Prot.RW);
        }

        /** A second card ("other", slot 5) probed with AUX enabled. */
        PciDevice other() {
            PciDevice other = card(f, "other", 5);
            f.hotplug(other);
            f.core().devEnableFeature(other, DevFeature.AUX);
            return other;
        }
    }

    @Test
    @DisplayName("S01 features are per device on VT-d: has/enabled/enable/disable for AUX, SVA, IOPF")
    void s01() {
        VtdFixture f = VtdFixture.of(true, 48);
        f.hotplug(f.nic, f.disk);
        for (DevFeature x : DevFeature.values()) {
            assertThat(f.core().devHasFeature(f.nic, x)).as("nic has %s", x).isTrue();
            assertThat(f.core().devHasFeature(f.disk, x)).as("disk has %s", x).isFalse();
            assertThat(f.core().devFeatureEnabled(f.nic, x)).isFalse();
        }
        f.core().devEnableFeature(f.nic, DevFeature.AUX);
        assertThat(f.core().devFeatureEnabled(f.nic, DevFeature.AUX)).isTrue();
        assertThat(f.core().devFeatureEnabled(f.nic, DevFeature.SVA)).isFalse();
        assertThat(f.core().devFeatureEnabled(f.disk, DevFeature.AUX)).isFalse(); // per device, not global
        assertThat(errno(() -> f.core().devEnableFeature(f.disk, DevFeature.AUX))).isEqualTo(Errno.EINVAL);
        assertThat(errno(() -> f.core().devEnableFeature(f.leg0, DevFeature.AUX))).isEqualTo(Errno.ENODEV); // no IOMMU yet
        f.core().devEnableFeature(f.nic, DevFeature.SVA);
        f.core().devEnableFeature(f.nic, DevFeature.IOPF);
        assertThat(errno(() -> f.core().devDisableFeature(f.nic, DevFeature.IOPF))).isEqualTo(Errno.EBUSY);
        f.core().devDisableFeature(f.nic, DevFeature.SVA);
        f.core().devDisableFeature(f.nic, DevFeature.IOPF);
        f.core().devDisableFeature(f.nic, DevFeature.AUX);
        assertThat(f.core().devFeatureEnabled(f.nic, DevFeature.AUX)).isFalse();
        // intel_iommu_disable_auxd: a second disable is 0 too (issue 13 item 14; it was -EINVAL here)
        f.core().devDisableFeature(f.nic, DevFeature.AUX);
        assertThat(f.core().devFeatureEnabled(f.nic, DevFeature.AUX)).isFalse();
        // Release forgets the device's features; a new probe starts with none.
        f.core().devEnableFeature(f.nic, DevFeature.AUX);
        f.p.remove(f.nic);
        f.p.hotplug(f.nic);
        assertThat(f.core().devFeatureEnabled(f.nic, DevFeature.AUX)).isFalse();
        f.agree();
    }

    @Test
    @DisplayName("S02 has_feature(AUX) on VT-d only in scalable mode with a PASID-capable PCI device")
    void s02() {
        VtdFixture legacy = VtdFixture.of(false, 48);
        legacy.hotplug(legacy.nic);
        assertThat(legacy.core().devHasFeature(legacy.nic, DevFeature.AUX)).isFalse();
        assertThat(errno(() -> legacy.core().devEnableFeature(legacy.nic, DevFeature.AUX))).isEqualTo(Errno.EINVAL);

        // A scalable-capable unit run with intel_iommu=sm_off is legacy too.
        VtdFixture smOff = new VtdFixture(VtdPlatform.builder().unit(VtdConfig.scalable(48))
                .coreConfig(org.jiommu.core.CoreConfig.defaults()).scalableMode(false));
        smOff.hotplug(smOff.nic);
        assertThat(smOff.core().devHasFeature(smOff.nic, DevFeature.AUX)).isFalse();

        VtdFixture sm = VtdFixture.of(true, 48);
        PciDevice noPasid = sm.endpoint("atsonly", 5, true, 0, false); // ATS, no PASID
        sm.hotplug(sm.nic, sm.disk);
        sm.hotplug(noPasid);
        assertThat(sm.core().devHasFeature(sm.nic, DevFeature.AUX)).isTrue();
        assertThat(sm.core().devHasFeature(sm.disk, DevFeature.AUX)).isFalse();
        assertThat(sm.core().devHasFeature(noPasid, DevFeature.AUX)).isFalse();
    }

    @Test
    @DisplayName("S03 aux attach on VT-d: -EPERM without AUX enabled or for a non-UNMANAGED domain; -EINVAL on a blocked RID")
    void s03() {
        VtdFixture f = VtdFixture.of(true, 48);
        f.hotplug(f.nic);
        IommuDomain d = f.core().pagingDomainAlloc(f.nic);
        CoreSnapshot before = f.core().snapshot();
        assertThat(errno(() -> f.core().auxAttachDevice(d, f.nic))).isEqualTo(Errno.EPERM);
        f.core().devEnableFeature(f.nic, DevFeature.AUX);
        assertThat(errno(() -> f.core().auxAttachDevice(f.driver().identityDomain(), f.nic))).isEqualTo(Errno.EPERM);
        assertThat(errno(() -> f.core().auxAttachDevice(f.domain(f.nic), f.nic))).isEqualTo(Errno.EPERM); // DMA type
        f.core().attachGroup(f.driver().blockedDomain(), f.core().groupGet(f.nic));
        assertThat(errno(() -> f.core().auxAttachDevice(d, f.nic))).isEqualTo(Errno.EINVAL);
        f.core().detachGroup(f.driver().blockedDomain(), f.core().groupGet(f.nic));
        assertThat(f.core().globalPasids()).isEmpty();
        assertThat(f.driver().programmedPasid(f.nic, 1)).isNull();
        f.core().auxAttachDevice(d, f.nic);
        assertThat(f.driver().programmedPasid(f.nic, f.core().auxGetPasid(d, f.nic))).isSameAs(d);
        f.agree();
        assertThat(before.globalPasids()).isEmpty();
    }

    @Test
    @DisplayName("intel_iommu_disable_auxd: disable(AUX) is 0 whether enabled or not, clears the flag, aux domains stay")
    void intelIommuDisableAuxd() {
        VtdFixture f = VtdFixture.of(true, 48);
        f.hotplug(f.nic);
        // never enabled: v5.x cleared auxd_enabled and returned 0 (it was -EINVAL here)
        f.core().devDisableFeature(f.nic, DevFeature.AUX);
        assertThat(f.core().devFeatureEnabled(f.nic, DevFeature.AUX)).isFalse();
        f.core().devEnableFeature(f.nic, DevFeature.AUX);
        IommuDomain d = f.core().pagingDomainAlloc(f.nic);
        f.core().auxAttachDevice(d, f.nic);
        int pasid = f.core().auxGetPasid(d, f.nic);
        f.core().devDisableFeature(f.nic, DevFeature.AUX);
        assertThat(f.core().devFeatureEnabled(f.nic, DevFeature.AUX)).isFalse();
        // the aux domain keeps its PASID entry; a new aux attach needs AUX again (-EPERM)
        assertThat(f.driver().programmedPasid(f.nic, pasid)).isSameAs(d);
        IommuDomain d2 = f.core().pagingDomainAlloc(f.nic);
        assertThat(errno(() -> f.core().auxAttachDevice(d2, f.nic))).isEqualTo(Errno.EPERM);
        f.agree();
    }

    @Test
    @DisplayName("S04 both ways on VT-d: an aux domain is refused as a RID domain, a RID domain as aux (-EINVAL)")
    void s04() {
        Setup s = new Setup();
        VtdFixture f = s.f;
        PciDevice other = s.other();
        f.core().auxAttachDevice(s.aux, f.nic);
        assertThat(errno(() -> f.core().attachDevice(s.aux, other))).isEqualTo(Errno.EINVAL);
        IommuDomain rid = f.core().pagingDomainAlloc(other);
        f.core().attachDevice(rid, other);
        assertThat(errno(() -> f.core().auxAttachDevice(rid, f.nic))).isEqualTo(Errno.EINVAL);
        assertThat(f.driver().programmedDomain(other)).isSameAs(rid);
        // A plain unmanaged domain stays attachable the normal way (VFIO).
        IommuDomain plain = f.core().pagingDomainAlloc(other);
        f.core().detachDevice(rid, other);
        f.core().attachDevice(plain, other);
        f.agree();
    }

    @Test
    @DisplayName("S05 default PASID on VT-d: inside the device's width, shared across devices, freed exactly once")
    void s05() {
        VtdFixture f = VtdFixture.of(true, 48);
        PciBus rp = f.p.topology().rootBus(0, 0).rootPort("rp-narrow", 6, 0, 0x16, Acs.ISOLATED);
        PciDevice narrow = rp.endpoint("narrow", 0, 0, true, 3, true, Acs.NONE); // 8 PASIDs
        PciDevice wide = card(f, "wide", 5);
        f.hotplug(narrow, wide);
        f.core().devEnableFeature(narrow, DevFeature.AUX);
        f.core().devEnableFeature(wide, DevFeature.AUX);
        // Use up PASIDs 1-6 elsewhere: the narrow device's default PASID must still be below 8.
        List<Integer> taken = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            taken.add(f.core().allocGlobalPasid(wide));
        }
        VtdDomain d = (VtdDomain) f.core().pagingDomainAlloc(narrow);
        f.core().map(d, 0x1000, PA_AUX, 0x1000, Prot.RW);
        f.core().auxAttachDevice(d, narrow);
        int p = f.core().auxGetPasid(d, narrow);
        assertThat(p).isEqualTo(7);
        f.core().auxAttachDevice(d, wide);
        assertThat(f.core().auxGetPasid(d, wide)).isEqualTo(p);
        assertThat(f.write(narrow, p, 0x1000, new byte[1])).isEqualTo(PA_AUX);
        assertThat(f.write(wide, p, 0x1000, new byte[1])).isEqualTo(PA_AUX);
        assertThat(d.attachments(f.unit())).isEqualTo(2); // one DID on the unit, two PASID entries
        f.core().auxDetachDevice(d, narrow);
        assertThat(f.core().globalPasids()).containsKey(p); // still held by wide
        f.core().auxDetachDevice(d, wide);
        assertThat(f.core().globalPasids()).doesNotContainKey(p);
        assertThat(d.domainId(f.unit())).isEqualTo(-1);
        f.core().auxDetachDevice(d, wide); // not attached: nothing, no double free
        assertThat(f.core().warnings()).isEmpty();
        // Width exhausted for the narrow device: "Can't allocate default pasid", -ENODEV.
        taken.add(f.core().allocGlobalPasid(wide));
        assertThat(errno(() -> f.core().auxAttachDevice(d, narrow))).isEqualTo(Errno.ENODEV);
        f.agree();
    }

    @ParameterizedTest(name = "second device {0}")
    @ValueSource(booleans = {false, true})
    @DisplayName("S06 a failed aux attach on VT-d rolls back exactly: DID, PASID entry, and the PASID only if this call took it")
    void s06(boolean second) {
        int failures = 0;
        for (boolean frames : new boolean[] {false, true}) {
            for (int n = 1; n < 40; n++) {
                Setup s = new Setup();
                VtdFixture f = s.f;
                PciDevice other = s.other();
                if (second) {
                    f.core().auxAttachDevice(s.aux, other);
                }
                CoreSnapshot before = f.core().snapshot();
                Map<Integer, Integer> pasids = f.core().globalPasids();
                BitSet dids = f.unit().domainIdsInUse();
                int attachments = s.aux.attachments(f.unit());
                long frameBlocks = f.p.frames().stats().liveBlocks();
                if (frames) {
                    f.p.frames().failNthAllocation(n);
                } else {
                    f.core().failNthAllocation(n);
                }
                try {
                    f.core().auxAttachDevice(s.aux, f.nic);
                } catch (IommuException e) {
                    assertThat(e.errno()).isIn(Errno.ENOMEM, Errno.ENODEV);
                    assertThat(f.core().snapshot()).isEqualTo(before);
                    assertThat(f.core().globalPasids()).isEqualTo(pasids);
                    assertThat(f.unit().domainIdsInUse()).isEqualTo(dids);
                    assertThat(s.aux.attachments(f.unit())).isEqualTo(attachments);
                    assertThat(f.driver().programmedPasid(f.nic, second ? f.core().auxGetPasid(s.aux, other) : 1))
                            .isNull();
                    assertThat(f.p.frames().stats().liveBlocks()).isLessThanOrEqualTo(frameBlocks + 1); // a kept PASID-table page at most
                    f.agree();
                    failures++;
                    continue;
                } finally {
                    f.core().failNthAllocation(0);
                    f.p.frames().failNthAllocation(0);
                }
                f.agree();
                int p = f.core().auxGetPasid(s.aux, f.nic);
                assertThat(f.write(f.nic, p, 0x1000, new byte[1])).isEqualTo(PA_AUX);
                break; // the first n past the last allocation of the call: nothing left to fail
            }
        }
        assertThat(failures).as("allocation sites hit in the aux attach").isGreaterThanOrEqualTo(second ? 1 : 2);
    }

    @Test
    @DisplayName("S07 aux_get_pasid on VT-d: the default PASID while attached, -EINVAL otherwise")
    void s07() {
        Setup s = new Setup();
        VtdFixture f = s.f;
        assertThat(errno(() -> f.core().auxGetPasid(s.aux, f.nic))).isEqualTo(Errno.EINVAL);
        f.core().auxAttachDevice(s.aux, f.nic);
        int p = f.core().auxGetPasid(s.aux, f.nic);
        assertThat(p).isPositive();
        assertThat(f.driver().programmedPasid(f.nic, p)).isSameAs(s.aux);
        assertThat(f.write(f.nic, p, 0x1000, new byte[1])).isEqualTo(PA_AUX);
        assertThat(f.write(f.nic, 0x1000, new byte[1])).isEqualTo(PA_RID);
        f.core().auxDetachDevice(s.aux, f.nic);
        assertThat(errno(() -> f.core().auxGetPasid(s.aux, f.nic))).isEqualTo(Errno.EINVAL);
        assertThat(f.write(f.nic, p, 0x1000, new byte[1])).isEqualTo(-FaultReason.PASID_ENTRY_NOT_PRESENT);
        f.agree();
    }

    /** The PASID-based device-TLB invalidations in {@code log}, by requester id. */
    private static List<Integer> pasidDevTlbSids(List<InvDescriptor> log, int pasid) {
        List<Integer> sids = new ArrayList<>();
        for (InvDescriptor d : log) {
            if (d instanceof InvDescriptor.PasidDeviceTlbInv && ((InvDescriptor.PasidDeviceTlbInv) d).pasid() == pasid) {
                sids.add(((InvDescriptor.PasidDeviceTlbInv) d).sourceId());
            }
        }
        return sids;
    }

    @Test
    @DisplayName("S08 aux detach on VT-d: entry cleared, then PASID-tagged device-TLB invalidation of the leaving device only while others remain")
    void s08LeavingDeviceOnly() {
        Setup s = new Setup();
        VtdFixture f = s.f;
        PciDevice other = s.other();
        f.core().auxAttachDevice(s.aux, f.nic);
        f.core().auxAttachDevice(s.aux, other);
        int p = f.core().auxGetPasid(s.aux, f.nic);
        assertThat(f.write(f.nic, p, 0x1000, new byte[1])).isEqualTo(PA_AUX);
        assertThat(f.write(other, p, 0x1000, new byte[1])).isEqualTo(PA_AUX);
        assertThat(other.atc().contains(p, 0x1000)).isTrue();
        List<InvDescriptor> log = new ArrayList<>();
        List<Long> entryAtDevTlb = new ArrayList<>();
        f.unit().unit().setDescriptorListener(d -> {
            log.add(d);
            if (d instanceof InvDescriptor.PasidDeviceTlbInv) {
                entryAtDevTlb.add(f.pasidEntryWord0(((InvDescriptor.PasidDeviceTlbInv) d).sourceId(), p));
            }
        });
        f.core().auxDetachDevice(s.aux, f.nic);
        assertThat(pasidDevTlbSids(log, p)).containsExactly(f.nic.requesterId());
        // not present before its ATC was invalidated; the rest of the entry is cleared after the
        // flush (intel_pasid_tear_down_entry), so only P is known to be clear here
        assertThat(entryAtDevTlb).hasSize(1).allMatch(w -> (w & 1) == 0);
        assertThat(f.pasidEntryWord0(f.nic.requesterId(), p)).isZero();
        assertThat(f.nic.atc().contains(p, 0x1000)).isFalse();
        assertThat(other.atc().contains(p, 0x1000)).isTrue(); // the remaining device keeps its ATC
        assertThat(f.write(other, p, 0x1000, new byte[1])).isEqualTo(PA_AUX);
        assertThat(f.write(f.nic, p, 0x1000, new byte[1])).isEqualTo(-FaultReason.PASID_ENTRY_NOT_PRESENT);

        log.clear();
        f.core().auxDetachDevice(s.aux, other);
        assertThat(pasidDevTlbSids(log, p)).containsExactly(other.requesterId());
        assertThat(other.atc().contains(p, 0x1000)).isFalse();
        assertThat(f.core().globalPasids()).doesNotContainKey(p);
        f.agree();
    }

    @Test
    @DisplayName("S08 last aux detach on VT-d: every ATS device that could have cached the PASID (all functions of the group) is invalidated")
    void s08LastLeavesEveryDevice() {
        VtdFixture f = VtdFixture.of(true, 48);
        // Two functions of one card without ACS: one group, one PASID slot, one entry per function.
        PciDevice[] fns = f.twoFunctions(7, true);
        PciDevice fn0 = fns[0];
        PciDevice fn1 = fns[1];
        f.hotplug(fn0, fn1);
        f.core().devEnableFeature(fn0, DevFeature.AUX);
        VtdDomain d = f.mappedDomain(fn0, 0x1000, PA_AUX, Prot.RW);
        f.core().auxAttachDevice(d, fn0);
        int p = f.core().auxGetPasid(d, fn0);
        // fn1 was never "officially" aux-attached, yet its entry exists and its ATC caches the PASID.
        assertThat(f.write(fn1, p, 0x1000, new byte[1])).isEqualTo(PA_AUX);
        assertThat(fn1.atc().contains(p, 0x1000)).isTrue();
        List<InvDescriptor> log = new ArrayList<>();
        f.unit().unit().setDescriptorListener(log::add);
        f.core().auxDetachDevice(d, fn0);
        assertThat(pasidDevTlbSids(log, p)).containsExactlyInAnyOrder(fn0.requesterId(), fn1.requesterId());
        assertThat(fn1.atc().contains(p, 0x1000)).isFalse();
        assertThat(f.write(fn1, p, 0x1000, new byte[1])).isEqualTo(-FaultReason.PASID_ENTRY_NOT_PRESENT);
        f.agree();
    }

    @Test
    @DisplayName("S08 skip-invalidation variant on VT-d: without the PASID device-TLB invalidation the ATC keeps a stale translation")
    void s08StaleAtc() {
        Setup s = new Setup();
        VtdFixture f = s.f;
        f.core().auxAttachDevice(s.aux, f.nic);
        int p = f.core().auxGetPasid(s.aux, f.nic);
        assertThat(f.write(f.nic, p, 0x1000, new byte[] {1})).isEqualTo(PA_AUX);
        f.driver().faults().skip(DriverFaults.Skip.TEARDOWN_DEVICE_TLB, 1);
        f.core().auxDetachDevice(s.aux, f.nic);
        // The entry is gone and the IOTLB flushed, but the device still translates from its ATC.
        assertThat(f.pasidEntryWord0(f.nic.requesterId(), p) & 1).isZero();
        assertThat(f.nic.atc().contains(p, 0x1000)).isTrue();
        assertThat(f.write(f.nic, p, 0x1000, new byte[] {2})).isEqualTo(PA_AUX);
        assertThat(f.p.memory().read(PA_AUX, 1)[0]).isEqualTo((byte) 2);
    }

    @Test
    @DisplayName("S09 RID domain detach/replace on VT-d keeps the PASID entries valid; freeing an attached aux domain: WARN, not freed")
    void s09() {
        Setup s = new Setup();
        VtdFixture f = s.f;
        f.core().auxAttachDevice(s.aux, f.nic);
        int p = f.core().auxGetPasid(s.aux, f.nic);
        IommuDomain rid2 = f.core().pagingDomainAlloc(f.nic);
        f.core().map(rid2, 0x1000, 0x2200_0000L, 0x1000, Prot.RW);
        f.core().attachDevice(rid2, f.nic);
        f.agree();
        assertThat(f.write(f.nic, 0x1000, new byte[1])).isEqualTo(0x2200_0000L);
        assertThat(f.write(f.nic, p, 0x1000, new byte[1])).isEqualTo(PA_AUX);
        f.core().detachDevice(rid2, f.nic);
        f.agree();
        assertThat(f.write(f.nic, p, 0x1000, new byte[1])).isEqualTo(PA_AUX);
        CoreSnapshot before = f.core().snapshot();
        int w = f.core().warningCount();
        f.core().domainFree(s.aux);
        assertThat(f.core().warningCount()).isEqualTo(w + 1);
        assertThat(s.aux.isFreed()).isFalse();
        assertThat(f.core().snapshot()).isEqualTo(before);
        assertThat(f.write(f.nic, p, 0x1000, new byte[1])).isEqualTo(PA_AUX);
        f.core().auxDetachDevice(s.aux, f.nic);
        f.core().domainFree(s.aux);
        f.agree();
    }
}
