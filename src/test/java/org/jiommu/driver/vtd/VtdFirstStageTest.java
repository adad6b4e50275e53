package org.jiommu.driver.vtd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.jiommu.base.Errno;
import org.jiommu.base.IommuException;
import org.jiommu.base.Prot;
import org.jiommu.core.spi.AllocFlags;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.hw.vtd.FaultReason;
import org.jiommu.hw.vtd.InvDescriptor;
import org.jiommu.hw.vtd.PasidEntry;
import org.jiommu.hw.vtd.VtdConfig;
import org.jiommu.pgtable.x86.VtdSecondLevelPageTable;
import org.jiommu.pgtable.x86.X86FirstLevelPageTable;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * Issue 13 item 1: paging domains are first-stage by default on a scalable unit with ECAP.FLTS
 * (intel_iommu_domain_alloc_paging_flags), with first-level RID_PASID entries, PASID-based IOTLB
 * invalidation and the canonical aperture; second stage where the kernel chooses it. Item 8:
 * paging_domain_compatible's -EINVAL set.
 */
class VtdFirstStageTest {
    @Test
    @DisplayName("intel_iommu_domain_alloc_paging_flags: first stage by default in scalable mode with FLTS: "
            + "x86-64 table, 47-bit aperture, first-level RID_PASID entry with the domain's DID, DMA lands, "
            + "a missing page faults 0x71 and a read-only page 0x85 on write, hw_dump names the stage")
    void firstStageByDefault() {
        VtdFixture f = VtdFixture.of(true, 48);
        f.hotplug(f.nic);
        VtdDomain d = (VtdDomain) f.domain(f.nic);
        assertThat(d.firstStage()).isTrue();
        assertThat(d.pageTable()).isInstanceOf(X86FirstLevelPageTable.class);
        assertThat(d.pageTable().levels()).isEqualTo(4);
        // paging_domain_alloc: first-stage input addresses are canonical, bit 47 is skipped
        assertThat(d.geometry().apertureEnd()).isEqualTo((1L << 47) - 1);
        PasidEntry e = f.pasidEntry(f.nic, 0);
        assertThat(e.pgtt()).isEqualTo(PasidEntry.PGTT_FIRST_LEVEL);
        assertThat(e.firstLevelPointer()).isEqualTo(d.pageTable().root());
        assertThat(e.firstLevelLevels()).isEqualTo(4);
        assertThat(e.domainId()).isEqualTo(d.domainId(f.unit())).isGreaterThanOrEqualTo(VtdIommu.FIRST_DOMAIN_ID);
        assertThat(e.addressWidth()).isEqualTo(f.unit().agaw());
        assertThat(e.supervisorRequestEnable()).isFalse();

        f.core().map(d, 0x10000, 0x2000_0000L, 0x1000, Prot.RW);
        f.core().map(d, 0x11000, 0x2000_1000L, 0x1000, Prot.READ);
        assertThat(f.write(f.nic, 0x10010, new byte[] {1, 2})).isEqualTo(0x2000_0010L);
        assertThat(f.read(f.nic, 0x11000, 4)).isNotNull();
        assertThat(f.write(f.nic, 0x11000, new byte[1])).isEqualTo(-FaultReason.SM_WRITE);
        assertThat(f.write(f.nic, 0x12000, new byte[1])).isEqualTo(-FaultReason.FS_PAGING_ENTRY_NOT_PRESENT);
        // beyond the aperture: the core refuses the map before the table sees it
        assertThatThrownBy(() -> f.core().map(d, 1L << 47, 0x2000_0000L, 0x1000, Prot.RW))
                .isInstanceOf(IommuException.class);
        String dump = f.p.vtd().dump(f.unit().name(), null);
        assertThat(dump).contains("pasid 0 (RID_PASID)  first-level, DID " + e.domainId());
        f.agree();
    }

    @Test
    @DisplayName("cache_tag_flush_range on a first-stage domain: unmap sends a page-selective PASID-based IOTLB "
            + "invalidation for (DID, IOMMU_NO_PASID), then the device-TLB, then the wait; no stale translation")
    void unmapUsesPasidBasedIotlb() {
        VtdFixture f = VtdFixture.of(true, 48);
        f.hotplug(f.nic);
        VtdDomain d = (VtdDomain) f.domain(f.nic);
        int did = d.domainId(f.unit());
        f.core().map(d, 0x10000, 0x2000_0000L, 0x3000, Prot.RW);
        assertThat(f.write(f.nic, 0x11000, new byte[1])).isEqualTo(0x2000_1000L); // cached in IOTLB and ATC
        VtdInvalidationTest.Recorder r = new VtdInvalidationTest.Recorder(f, f.nic.requesterId());
        f.core().unmap(d, 0x10000, 0x3000);
        assertThat(r.descs).hasSize(3);
        assertThat(r.descs.get(0)).isEqualTo(
                new InvDescriptor.PasidIotlbInv(InvDescriptor.PIOTLB_G_PAGE, did, 0, 0x10000, 2, true));
        assertThat(r.descs.get(1)).isEqualTo(
                new InvDescriptor.DeviceTlbInv(f.nic.requesterId(), f.nic.requesterId(), 0, 0x11000, true));
        assertThat(r.descs.get(2)).isInstanceOf(InvDescriptor.InvWait.class);
        assertThat(f.write(f.nic, 0x11000, new byte[1])).isEqualTo(-FaultReason.FS_PAGING_ENTRY_NOT_PRESENT);
        f.agree();
    }

    @Test
    @DisplayName("intel_iommu_tlb_sync: the invalidation hint is set when the unmap freed no table page and clear "
            + "when it freed one (the whole range of a table of 4K leaves unmapped)")
    void invalidationHintFollowsTheFreelist() {
        VtdFixture f = VtdFixture.secondStage(true, 48);
        f.hotplug(f.disk);
        VtdDomain d = (VtdDomain) f.domain(f.disk);
        // a physical address not 2M-aligned: 512 4K leaves in one table
        f.core().map(d, 0x20_0000, 0x4000_1000L, 0x20_0000, Prot.RW);
        VtdInvalidationTest.Recorder r = new VtdInvalidationTest.Recorder(f, f.disk.requesterId());
        f.core().unmap(d, 0x20_0000, 0x1000);
        assertThat(((InvDescriptor.IotlbInv) r.descs.get(0)).invalidationHint()).isTrue();
        r.clear();
        f.core().unmap(d, 0x20_1000, 0x1F_F000);
        assertThat(((InvDescriptor.IotlbInv) r.descs.get(0)).invalidationHint()).isTrue();
        f.core().map(d, 0x20_0000, 0x4000_1000L, 0x20_0000, Prot.RW);
        r.clear();
        f.core().unmap(d, 0x20_0000, 0x20_0000);
        assertThat(((InvDescriptor.IotlbInv) r.descs.get(0)).invalidationHint()).isFalse();
        f.agree();
    }

    @Test
    @DisplayName("intel_iommu_domain_alloc_second_stage where the kernel chooses it: a nesting parent (read-only "
            + "maps refused), a unit without FLTS, legacy mode; dirty tracking without SLADS is -EOPNOTSUPP")
    void secondStageWhereTheKernelChoosesIt() {
        VtdFixture f = VtdFixture.of(true, 48);
        f.hotplug(f.nic, f.disk);
        IommuDomain parent = f.core().pagingDomainAllocFlags(f.disk, AllocFlags.NEST_PARENT);
        assertThat(((VtdDomain) parent).firstStage()).isFalse();
        assertThat(((VtdDomain) parent).pageTable()).isInstanceOf(VtdSecondLevelPageTable.class);
        assertThat(parent.geometry().apertureEnd()).isEqualTo((1L << 48) - 1);
        // ERRATA_772415_SPR17: a nesting parent maps nothing read-only
        assertThatThrownBy(() -> f.core().map(parent, 0x1000, 0x2000_0000L, 0x1000, Prot.READ))
                .isInstanceOf(IommuException.class).extracting(x -> ((IommuException) x).errno())
                .isEqualTo(Errno.EINVAL);
        f.core().attachDevice(parent, f.disk);
        assertThat(f.pasidEntry(f.disk, 0).pgtt()).isEqualTo(PasidEntry.PGTT_SECOND_LEVEL);
        f.agree();
        assertThatThrownBy(() -> f.core().pagingDomainAllocFlags(f.nic, AllocFlags.DIRTY_TRACKING))
                .isInstanceOf(IommuException.class).extracting(x -> ((IommuException) x).errno())
                .isEqualTo(Errno.EOPNOTSUPP);

        for (VtdFixture g : List.of(VtdFixture.secondStage(true, 48), VtdFixture.of(false, 48))) {
            g.hotplug(g.nic);
            VtdDomain d = (VtdDomain) g.domain(g.nic);
            assertThat(d.firstStage()).isFalse();
            assertThat(d.pageTable()).isInstanceOf(VtdSecondLevelPageTable.class);
            assertThat(d.geometry().apertureEnd()).isEqualTo((1L << 48) - 1);
        }
    }

    @Test
    @DisplayName("__iommu_calculate_sagaw: a scalable unit with both stages builds tables of a width both have "
            + "(57-bit second level, no FL5LP: 48-bit); a 39-bit unit reports no FLTS and keeps 39-bit tables")
    void agawCommonToBothStages() {
        VtdFixture f = new VtdFixture(VtdConfig.builder().scalableMode(true).addressWidth(57).firstLevel5Level(false)
                .build());
        assertThat(f.unit().agaw()).isEqualTo(2);
        f.hotplug(f.nic);
        assertThat(((VtdDomain) f.domain(f.nic)).pageTable().levels()).isEqualTo(4);
        VtdFixture g = VtdFixture.of(true, 57);
        g.hotplug(g.nic);
        assertThat(((VtdDomain) g.domain(g.nic)).pageTable().levels()).isEqualTo(5);
        assertThat(g.pasidEntry(g.nic, 0).firstLevelLevels()).isEqualTo(5);
        assertThat(g.domain(g.nic).geometry().apertureEnd()).isEqualTo((1L << 56) - 1);
        VtdFixture n = VtdFixture.of(true, 39);
        n.hotplug(n.nic);
        assertThat(((VtdDomain) n.domain(n.nic)).firstStage()).isFalse();
        assertThat(n.unit().agaw()).isEqualTo(1);
    }

    @Test
    @DisplayName("paging_domain_compatible: a first-stage domain on a unit without FLTS, a 5-level domain on a "
            + "4-level unit, 1G first-stage pages without FL1GP, 1G second-stage pages without SLLPS 1G: -EINVAL, "
            + "nothing changed")
    void pagingDomainCompatible() {
        VtdFixture f = new VtdFixture(VtdPlatform.builder()
                .unit(VtdConfig.builder().name("dmar0").addressWidth(57).build(), dev -> dev.bus() == 1)
                .unit(VtdConfig.builder().name("dmar1").addressWidth(48).firstLevel(false).secondLevel1G(false)
                        .build(), dev -> dev.bus() == 2)
                .unit(VtdConfig.builder().name("dmar2").addressWidth(48).firstLevel1G(false).build()));
        f.hotplug(f.nic, f.disk, f.leg0);
        IommuDomain diskBefore = f.domain(f.disk);
        IommuDomain nicDomain = f.domain(f.nic); // first stage, 5 levels
        // first stage onto a unit without FLTS
        assertEinval(() -> f.core().attachDevice(nicDomain, f.disk));
        // a 5-level first-stage domain onto a 4-level unit (gaw / agaw above the unit's)
        assertEinval(() -> f.core().attachDevice(nicDomain, f.leg0));
        // 1G first-stage pages (FL1GP on dmar0) onto a unit without FL1GP
        VtdFixture g = new VtdFixture(VtdPlatform.builder()
                .unit(VtdConfig.builder().name("dmar0").addressWidth(48).build(), dev -> dev.bus() == 1)
                .unit(VtdConfig.builder().name("dmar1").addressWidth(48).firstLevel1G(false).build()));
        g.hotplug(g.nic, g.disk);
        assertThat(g.domain(g.nic).pgsizeBitmap() & (1L << 30)).isNotZero();
        assertThat(g.domain(g.disk).pgsizeBitmap() & (1L << 30)).isZero();
        IommuDomain big = g.domain(g.nic);
        assertEinval(() -> g.core().attachDevice(big, g.disk));
        // 1G second-stage pages onto a unit without SLLPS 1G
        IommuDomain ss = f.core().pagingDomainAllocFlags(f.nic, AllocFlags.NEST_PARENT);
        assertThat(ss.pgsizeBitmap() & (1L << 30)).isNotZero();
        assertEinval(() -> f.core().attachDevice(ss, f.disk));
        // refused after device_block_translation: the core keeps the old domain, the device is blocked
        assertThat(f.domain(f.disk)).isSameAs(diskBefore);
        f.agreeExceptLeftBlocked(f.disk, f.leg0);
        g.agreeExceptLeftBlocked(g.disk);
    }

    @Test
    @DisplayName("intel_iommu_iotlb_sync_map / cache_tag_flush_range_np: on a unit with CAP.RWBF a map flushes the "
            + "write buffer and sends no invalidation descriptor (no device-TLB); without RWBF nothing; a domain "
            + "from a unit without RWBF is -EINVAL on one with it (paging_domain_compatible)")
    void mapFlushesTheWriteBufferOnly() {
        VtdFixture f = new VtdFixture(VtdPlatform.builder()
                .unit(VtdConfig.builder().name("dmar0").addressWidth(48).requiredWriteBufferFlush(true).build(),
                        dev -> dev.bus() == 1)
                .unit(VtdConfig.builder().name("dmar1").addressWidth(48).build()));
        f.hotplug(f.nic, f.disk);
        VtdIommu rwbf = f.p.unitOf(f.nic);
        VtdIommu plain = f.p.unitOf(f.disk);
        VtdInvalidationTest.Recorder r = new VtdInvalidationTest.Recorder(f, f.nic.requesterId());
        long before = rwbf.unit().stats().get("write-buffer-flushes");
        f.core().map(f.domain(f.nic), 0x10000, 0x2000_0000L, 0x2000, Prot.RW);
        assertThat(rwbf.unit().stats().get("write-buffer-flushes")).isEqualTo(before + 1);
        assertThat(r.descs).isEmpty();
        assertThat(f.write(f.nic, 0x11000, new byte[1])).isEqualTo(0x2000_1000L);
        f.core().map(f.domain(f.disk), 0x10000, 0x2000_0000L, 0x1000, Prot.RW);
        assertThat(plain.unit().stats().get("write-buffer-flushes")).isZero();
        assertEinval(() -> f.core().attachDevice(f.domain(f.disk), f.nic));
        f.agreeExceptLeftBlocked(f.nic);
    }

    @Test
    @DisplayName("intel_iommu_drain_pasid_prq without PASID: after the RID entry of an IOPF-capable domain is torn "
            + "down, a fence, a domain-selective IOTLB for info->domain's DID, a device-TLB invalidation without "
            + "PASID and the wait with PD")
    void drainWithoutPasid() {
        VtdFixture f = VtdFixture.of(true, 48);
        f.hotplug(f.nic);
        VtdDomain d = (VtdDomain) f.core().pagingDomainAlloc(f.nic);
        d.setIopfCapable(true);
        org.jiommu.core.IommuGroup g = f.core().groupGet(f.nic);
        f.core().groupClaimDmaOwner(g, "iommufd");
        f.core().attachGroup(d, g);
        int did = d.domainId(f.unit());
        int sid = f.nic.requesterId();
        VtdInvalidationTest.Recorder r = new VtdInvalidationTest.Recorder(f, sid);
        f.core().detachGroup(d, g);
        int fence = -1;
        for (int i = 0; i < r.descs.size(); i++) {
            if (r.descs.get(i) instanceof InvDescriptor.InvWait w && w.fence() && !w.statusWrite()) {
                fence = i;
            }
        }
        assertThat(fence).isPositive();
        assertThat(r.descs.get(fence + 1)).isEqualTo(new InvDescriptor.IotlbInv(InvDescriptor.G_DOMAIN, true, true, did,
                0, 0, false));
        assertThat(r.descs.get(fence + 2)).isInstanceOfSatisfying(InvDescriptor.DeviceTlbInv.class,
                x -> assertThat(x.sourceId()).isEqualTo(sid));
        assertThat(r.descs.get(fence + 3)).isInstanceOfSatisfying(InvDescriptor.InvWait.class,
                w -> assertThat(w.pageRequestDrain()).isTrue());
        f.agree();
    }

    private static void assertEinval(Runnable r) {
        assertThatThrownBy(r::run).isInstanceOf(IommuException.class)
                .extracting(x -> ((IommuException) x).errno()).isEqualTo(Errno.EINVAL);
    }
}
