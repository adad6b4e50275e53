package org.jiommu.driver.vtd;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.jiommu.base.Errno;
import org.jiommu.base.IommuException;
import org.jiommu.base.Prot;
import org.jiommu.bus.dma.DmaResult;
import org.jiommu.bus.pci.Acs;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.core.SvaHandle;
import org.jiommu.core.spi.DevFeature;
import org.jiommu.driver.common.DriverFaults;
import org.jiommu.hw.vtd.FaultReason;
import org.jiommu.hw.vtd.InvDescriptor;
import org.jiommu.hw.vtd.PasidEntry;
import org.jiommu.hw.vtd.VtdConfig;
import org.jiommu.mm.MmStruct;
import org.jiommu.pgtable.Mapped;
import org.jiommu.pgtable.x86.X86FirstLevelPageTable;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * SVA on VT-d: {@code iommu_sva_bind_device} programs a first-level PASID entry pointing at the
 * process's x86-64 table; device DMA with the mm's PASID walks the process tables (user bit,
 * write permission, first-level fault reasons); changes of the mm reach the IOTLB and the device
 * TLBs through the mmu notifier (PASID-based IOTLB and device-TLB invalidations); unbind tears the
 * entry down. The hardware agreement (I7) is checked after every core call.
 */
class VtdSvaTest {
    private static final long RW_VA = 0x40_0000L;
    private static final long RO_VA = 0x50_0000L;

    /**
     * A PASID + PRI + ATS endpoint alone behind its own root port (PRI needs ATS: pri_supported).
     * With ATS the device asks the unit for translations; a translation without the needed
     * permission makes it retry untranslated, so faults still come back with their reasons.
     */
    static PciDevice acc(VtdFixture f, String name, int slot) {
        return f.endpoint(name, slot, true, 20, true);
    }

    /** A scalable platform of {@code width} bits with {@code acc} probed and a process of {@code levels} levels. */
    private static final class Bound {
        final VtdFixture f;
        final PciDevice acc;
        final MmStruct mm;
        final SvaHandle h;
        final int pasid;

        Bound(int width, int levels) {
            f = VtdFixture.of(true, width);
            acc = acc(f, "acc", 5);
            f.hotplug(acc);
            mm = process(f, levels);
            h = f.core().svaBindDevice(acc, mm);
            pasid = f.core().svaGetPasid(h);
            f.agree();
        }
    }

    private static long write(VtdFixture f, PciDevice d, int pasid, long va, byte v) {
        DmaResult r = f.p.dma(d).write(pasid, va, new byte[] {v}, 0, 1, new DmaResult());
        return r.ok() ? r.firstPa() : -r.faultCode();
    }

    private static long read(VtdFixture f, PciDevice d, int pasid, long va) {
        DmaResult r = f.p.dma(d).read(pasid, va, new byte[1], 0, 1, new DmaResult());
        return r.ok() ? r.firstPa() : -r.faultCode();
    }

    /** A process with a read-write and a read-only VMA, one page of each populated. */
    private static MmStruct process(VtdFixture f, int levels) {
        MmStruct mm = new MmStruct("proc", f.p.frames(), levels);
        mm.mmap(RW_VA, 0x4000, Prot.READ | Prot.WRITE);
        mm.mmap(RO_VA, 0x1000, Prot.READ);
        assertThat(mm.handleMmFault(RW_VA, true, false)).isEqualTo(MmStruct.FaultResult.SUCCESS);
        assertThat(mm.handleMmFault(RW_VA + 0x1000, true, false)).isEqualTo(MmStruct.FaultResult.SUCCESS);
        assertThat(mm.handleMmFault(RO_VA, false, false)).isEqualTo(MmStruct.FaultResult.SUCCESS);
        return mm;
    }

    @Test
    @DisplayName("SVA bind on VT-d: first-level PASID entry on the mm's table; DMA walks the process tables with VT-d first-level fault reasons")
    void bindAndTranslate() {
        VtdFixture f = VtdFixture.of(true, 48);
        PciDevice acc = acc(f, "acc", 5);
        f.hotplug(acc);
        MmStruct mm = process(f, 4);
        java.util.BitSet dids = f.unit().domainIdsInUse();
        SvaHandle h = f.core().svaBindDevice(acc, mm);
        int p = f.core().svaGetPasid(h);
        f.agree();
        VtdDomain d = (VtdDomain) f.driver().programmedPasid(acc, p);
        assertThat(d.mm()).isSameAs(mm);
        PasidEntry e = f.pasidEntry(acc, p);
        assertThat(e.present()).isTrue();
        assertThat(e.pgtt()).isEqualTo(PasidEntry.PGTT_FIRST_LEVEL);
        assertThat(e.firstLevelPointer()).isEqualTo(mm.pgd().root());
        assertThat(e.firstLevelPagingMode()).isZero();
        assertThat(e.supervisorRequestEnable()).isFalse();
        // SVA entries carry FLPT_DEFAULT_DID (cache.c domain_get_id_for_dev): the bind allocates no id.
        assertThat(e.domainId()).isEqualTo(d.domainId(f.unit())).isEqualTo(VtdIommu.FLPT_DEFAULT_DID);
        assertThat(f.unit().domainIdsInUse()).isEqualTo(dids);

        assertThat(write(f, acc, p, RW_VA + 5, (byte) 7)).isEqualTo(mm.translate(RW_VA) + 5);
        assertThat(f.p.memory().read(mm.translate(RW_VA) + 5, 1)[0]).isEqualTo((byte) 7);
        assertThat(read(f, acc, p, RO_VA)).isEqualTo(mm.translate(RO_VA));
        assertThat(write(f, acc, p, RO_VA, (byte) 1)).isEqualTo(-FaultReason.SM_WRITE);
        // A page of the VMA the process has not touched: the ATS completion grants nothing, the
        // device sends a page request, the SVA fault handler populates the page, the response is
        // Success and the retried translation lands (docs/driver-vtd.md section 9).
        assertThat(write(f, acc, p, RW_VA + 0x2000, (byte) 1)).isEqualTo(mm.translate(RW_VA + 0x2000));
        // Outside every VMA: the handler answers Invalid, the untranslated request faults 0x71.
        assertThat(write(f, acc, p, 0x70_0000L, (byte) 1)).isEqualTo(-FaultReason.FS_PAGING_ENTRY_NOT_PRESENT);
        assertThat(f.lastDriverFault().pasid()).isEqualTo(p);
        assertThat(f.lastDriverFault().reason()).isEqualTo(FaultReason.FS_PAGING_ENTRY_NOT_PRESENT);
        // A supervisor page (U/S clear) in the process table: a user request faults 0x81.
        long kpage = f.p.frames().alloc(0);
        assertThat(mm.pgd().mapPagesWithAttributes(0x60_0000L, kpage, 0x1000, 1,
                X86FirstLevelPageTable.RW | X86FirstLevelPageTable.A, new Mapped())).isZero();
        assertThat(read(f, acc, p, 0x60_0000L)).isEqualTo(-FaultReason.FS_USER_SUPERVISOR);
        // Requests without PASID still use the RID domain.
        assertThat(f.write(acc, RW_VA, new byte[1])).isNegative();

        // Unbind: entry cleared, PASID cache, PASID-based IOTLB of the whole PASID, PASID-based
        // device-TLB, wait.
        int did = d.domainId(f.unit());
        List<InvDescriptor> log = new ArrayList<>();
        f.unit().unit().setDescriptorListener(log::add);
        f.core().svaUnbindDevice(h);
        f.agree();
        // ... then the PRQ drain (intel_iommu_drain_pasid_prq): a fence, PASID-based IOTLB with the DID
        // of the device's RID domain (info->domain, not the SVA entry's), device-TLB, wait with PD.
        int ridDid = ((VtdDomain) f.domain(acc)).domainId(f.unit());
        assertThat(log).hasSize(8);
        assertThat(log.get(4)).isInstanceOfSatisfying(InvDescriptor.InvWait.class,
                w -> assertThat(w.fence()).isTrue());
        assertThat(log.get(5)).isEqualTo(new InvDescriptor.PasidIotlbInv(InvDescriptor.PIOTLB_G_PASID, ridDid, p, 0, 0,
                false));
        assertThat(log.get(6)).isInstanceOf(InvDescriptor.PasidDeviceTlbInv.class);
        assertThat(log.get(7)).isInstanceOfSatisfying(InvDescriptor.InvWait.class,
                w -> assertThat(w.pageRequestDrain()).isTrue());
        assertThat(log.get(0)).isEqualTo(new InvDescriptor.PasidCacheInv(InvDescriptor.PC_G_PASID, did, p));
        assertThat(log.get(1)).isEqualTo(new InvDescriptor.PasidIotlbInv(InvDescriptor.PIOTLB_G_PASID, did, p, 0, 0,
                false));
        assertThat(log.get(2)).isInstanceOfSatisfying(InvDescriptor.PasidDeviceTlbInv.class, x -> {
            assertThat(x.sourceId()).isEqualTo(acc.requesterId());
            assertThat(x.pasid()).isEqualTo(p);
        });
        assertThat(log.get(3)).isInstanceOf(InvDescriptor.InvWait.class);
        assertThat(f.pasidEntry(acc, p).present()).isFalse();
        assertThat(write(f, acc, p, RW_VA, (byte) 1)).isEqualTo(-FaultReason.PASID_ENTRY_NOT_PRESENT);
        assertThat(d.domainId(f.unit())).isEqualTo(-1);
        assertThat(f.core().warnings()).isEmpty();
    }

    @Test
    @DisplayName("SVA domains on VT-d share FLPT_DEFAULT_DID: two processes on one device allocate no domain id; PASID-based invalidation keeps them apart")
    void svaDomainsShareDefaultDid() {
        VtdFixture f = VtdFixture.of(true, 48);
        PciDevice acc = acc(f, "acc", 5);
        f.hotplug(acc);
        java.util.BitSet dids = f.unit().domainIdsInUse();
        MmStruct mm1 = process(f, 4);
        MmStruct mm2 = process(f, 4);
        SvaHandle h1 = f.core().svaBindDevice(acc, mm1);
        SvaHandle h2 = f.core().svaBindDevice(acc, mm2);
        int p1 = f.core().svaGetPasid(h1);
        int p2 = f.core().svaGetPasid(h2);
        f.agree();
        assertThat(p1).isNotEqualTo(p2);
        assertThat(f.pasidEntry(acc, p1).domainId()).isEqualTo(VtdIommu.FLPT_DEFAULT_DID);
        assertThat(f.pasidEntry(acc, p2).domainId()).isEqualTo(VtdIommu.FLPT_DEFAULT_DID);
        assertThat(f.unit().domainIdsInUse()).isEqualTo(dids);
        // Same virtual address, two processes, one DID: the IOTLB keeps them apart by PASID.
        assertThat(write(f, acc, p1, RW_VA, (byte) 1)).isEqualTo(mm1.translate(RW_VA));
        assertThat(write(f, acc, p2, RW_VA, (byte) 2)).isEqualTo(mm2.translate(RW_VA));
        List<InvDescriptor> log = new ArrayList<>();
        f.unit().unit().setDescriptorListener(log::add);
        mm1.munmap(RW_VA, 0x1000);
        assertThat(log).filteredOn(x -> x instanceof InvDescriptor.PasidIotlbInv).containsExactly(
                new InvDescriptor.PasidIotlbInv(InvDescriptor.PIOTLB_G_PAGE, VtdIommu.FLPT_DEFAULT_DID, p1, RW_VA, 0,
                        false));
        assertThat(write(f, acc, p1, RW_VA, (byte) 3)).isEqualTo(-FaultReason.FS_PAGING_ENTRY_NOT_PRESENT);
        assertThat(write(f, acc, p2, RW_VA, (byte) 4)).isEqualTo(mm2.translate(RW_VA));
        // Unbinding one leaves the shared DID (never allocated) and the other bond alone.
        f.core().svaUnbindDevice(h1);
        f.agree();
        assertThat(write(f, acc, p2, RW_VA, (byte) 5)).isEqualTo(mm2.translate(RW_VA));
        f.core().svaUnbindDevice(h2);
        f.agree();
        assertThat(f.unit().domainIdsInUse()).isEqualTo(dids);
        assertThat(f.core().warnings()).isEmpty();
    }

    @Test
    @DisplayName("SVA and IOPF on VT-d need PRI on top of ATS in scalable mode (pri_supported): PRI without ATS or a legacy unit says no, PRE stays clear, bind -ENODEV")
    void priNeedsAtsAndScalableMode() {
        VtdFixture f = VtdFixture.of(true, 48);
        PciDevice noAts = f.endpoint("pri", 5, false, 20, true);
        f.hotplug(noAts, f.nic);
        assertThat(f.core().devHasFeature(noAts, DevFeature.IOPF)).isFalse();
        assertThat(f.core().devHasFeature(noAts, DevFeature.SVA)).isFalse();
        assertThat(f.core().devHasFeature(noAts, DevFeature.AUX)).isTrue();
        assertThat(contextWord0(f, noAts) & PRE).isZero();
        assertThat(contextWord0(f, f.nic) & PRE).isNotZero();
        MmStruct mm = process(f, 4);
        try {
            f.core().svaBindDevice(noAts, mm);
            throw new AssertionError("bound SVA on a device that cannot send page requests");
        } catch (IommuException ex) {
            assertThat(ex.errno()).isEqualTo(Errno.ENODEV);
        }
        f.agree();
        assertThat(f.driver().iopfRefcount(noAts)).isZero();

        VtdFixture legacy = VtdFixture.of(false, 48);
        legacy.hotplug(legacy.nic);
        assertThat(legacy.core().devHasFeature(legacy.nic, DevFeature.IOPF)).isFalse();
        assertThat(legacy.core().devHasFeature(legacy.nic, DevFeature.SVA)).isFalse();
    }

    private static final long PRE = 1L << 4;

    /** Word 0 of the scalable context entry of {@code dev}. */
    private static long contextWord0(VtdFixture f, PciDevice dev) {
        var m = f.p.memory();
        int sid = dev.requesterId();
        long root = f.unit().unit().read64(org.jiommu.hw.vtd.VtdRegisters.RTADDR_REG) & ~0xFFFL;
        long re = m.readLong(root + (sid >>> 8) * 16L + ((sid & 0xFF) > 127 ? 8 : 0));
        return m.readLong((re & ~0xFFFL) + (sid & 0x7F) * 32L);
    }

    @Test
    @DisplayName("SVA on VT-d with a 5-level mm: FLPM = 1 on a unit with FL5LP; a 4-level-only unit refuses it (-EINVAL)")
    void fiveLevel() {
        Bound b = new Bound(57, 5);
        long high = 1L << 50;
        b.mm.mmap(high, 0x1000, Prot.READ | Prot.WRITE);
        b.mm.handleMmFault(high, true, false);
        assertThat(b.f.pasidEntry(b.acc, b.pasid).firstLevelPagingMode()).isEqualTo(1);
        assertThat(write(b.f, b.acc, b.pasid, high + 3, (byte) 1)).isEqualTo(b.mm.translate(high) + 3);
        assertThat(write(b.f, b.acc, b.pasid, RW_VA, (byte) 1)).isEqualTo(b.mm.translate(RW_VA));
        b.f.core().svaUnbindDevice(b.h);

        VtdFixture g = new VtdFixture(VtdConfig.scalable(48));
        PciDevice acc2 = acc(g, "acc", 5);
        g.hotplug(acc2);
        MmStruct mm5 = process(g, 5);
        try {
            g.core().svaBindDevice(acc2, mm5);
            throw new AssertionError("bound a 5-level mm on a unit without FL5LP");
        } catch (IommuException ex) {
            assertThat(ex.errno()).isEqualTo(Errno.EINVAL);
        }
        g.agree();
        assertThat(g.driver().programmedPasid(acc2, g.core().mmPasid(mm5))).isNull();
    }

    @Test
    @DisplayName("SVA munmap on VT-d: the mmu notifier issues PASID-based IOTLB and device-TLB invalidations; DMA then faults")
    void munmapInvalidates() {
        VtdFixture f = VtdFixture.of(true, 48);
        PciDevice acc = acc(f, "acc", 5);
        f.hotplug(f.nic, acc);
        MmStruct mm = process(f, 4);
        SvaHandle h1 = f.core().svaBindDevice(f.nic, mm);
        SvaHandle h2 = f.core().svaBindDevice(acc, mm);
        int p = f.core().svaGetPasid(h1);
        assertThat(f.core().svaGetPasid(h2)).isEqualTo(p);
        VtdDomain d = (VtdDomain) f.driver().programmedPasid(f.nic, p);
        assertThat(f.driver().programmedPasid(acc, p)).isSameAs(d); // one SVA domain, one DID on the unit
        long pa = mm.translate(RW_VA + 0x1000);
        assertThat(write(f, f.nic, p, RW_VA + 0x1000, (byte) 1)).isEqualTo(pa);
        assertThat(write(f, acc, p, RW_VA + 0x1000, (byte) 1)).isEqualTo(pa);
        assertThat(f.nic.atc().contains(p, RW_VA + 0x1000)).isTrue();
        int did = d.domainId(f.unit());
        List<InvDescriptor> log = new ArrayList<>();
        f.unit().unit().setDescriptorListener(log::add);
        mm.munmap(RW_VA + 0x1000, 0x1000);
        f.agree();
        assertThat(log).hasSize(4);
        assertThat(log.get(0)).isEqualTo(new InvDescriptor.PasidIotlbInv(InvDescriptor.PIOTLB_G_PAGE, did, p,
                RW_VA + 0x1000, 0, false));
        for (int i = 1; i <= 2; i++) {
            PciDevice dev = i == 1 ? f.nic : acc;
            assertThat(log.get(i)).isInstanceOfSatisfying(InvDescriptor.PasidDeviceTlbInv.class, x -> {
                assertThat(x.sourceId()).isEqualTo(dev.requesterId());
                assertThat(x.pasid()).isEqualTo(p);
            });
        }
        assertThat(log.get(3)).isInstanceOf(InvDescriptor.InvWait.class);
        assertThat(f.nic.atc().contains(p, RW_VA + 0x1000)).isFalse();
        assertThat(acc.atc().contains(p, RW_VA + 0x1000)).isFalse();
        assertThat(write(f, acc, p, RW_VA + 0x1000, (byte) 1)).isEqualTo(-FaultReason.FS_PAGING_ENTRY_NOT_PRESENT);
        assertThat(write(f, f.nic, p, RW_VA + 0x1000, (byte) 1)).isNegative();
        assertThat(write(f, acc, p, RW_VA, (byte) 1)).isEqualTo(mm.translate(RW_VA)); // the rest stays

        // Process exit: the whole PASID is invalidated, nothing stale survives.
        log.clear();
        mm.exit();
        assertThat(log).anySatisfy(x -> assertThat(x).isEqualTo(new InvDescriptor.PasidIotlbInv(
                InvDescriptor.PIOTLB_G_PASID, did, p, 0, 0, false)));
        assertThat(write(f, acc, p, RW_VA, (byte) 1)).isEqualTo(-FaultReason.FS_PAGING_ENTRY_NOT_PRESENT);
        f.core().svaUnbindDevice(h1);
        f.core().svaUnbindDevice(h2);
        f.agree();
        f.core().mmPasidDrop(mm);
        mm.mmdrop();
        assertThat(f.core().warnings()).isEmpty();
    }

    @Test
    @DisplayName("SVA stale-translation variant on VT-d: a notifier flush without the PASID IOTLB (or device-TLB) invalidation leaves the old page reachable")
    void staleTranslation() {
        VtdFixture f = VtdFixture.of(true, 48);
        PciDevice acc = acc(f, "acc", 5);
        f.hotplug(f.nic, acc);
        MmStruct mm = process(f, 4);
        SvaHandle h1 = f.core().svaBindDevice(acc, mm);
        SvaHandle h2 = f.core().svaBindDevice(f.nic, mm);
        int p = f.core().svaGetPasid(h1);
        // No PASID IOTLB invalidation: both ATCs are emptied, but the nic's next translation
        // request hits the unit's stale IOTLB entry.
        long pa = mm.translate(RW_VA);
        assertThat(write(f, acc, p, RW_VA, (byte) 1)).isEqualTo(pa); // cached in the IOTLB (and acc's ATC)
        f.driver().faults().skip(DriverFaults.Skip.IOTLB, 1);
        mm.munmap(RW_VA, 0x1000);
        assertThat(mm.translate(RW_VA)).isZero();
        assertThat(acc.atc().contains(p, RW_VA)).isFalse();
        assertThat(write(f, f.nic, p, RW_VA, (byte) 2)).isEqualTo(pa); // stale IOTLB entry
        // No device-TLB invalidation for acc (the first tag): its ATC keeps the old page.
        long pa2 = mm.translate(RW_VA + 0x1000);
        assertThat(write(f, acc, p, RW_VA + 0x1000, (byte) 1)).isEqualTo(pa2);
        f.driver().faults().skip(DriverFaults.Skip.DEVICE_TLB, 1);
        mm.munmap(RW_VA + 0x1000, 0x1000);
        assertThat(acc.atc().contains(p, RW_VA + 0x1000)).isTrue();
        assertThat(write(f, acc, p, RW_VA + 0x1000, (byte) 3)).isEqualTo(pa2); // stale ATC entry
        f.core().svaUnbindDevice(h1);
        f.core().svaUnbindDevice(h2);
    }

    @Test
    @DisplayName("I7 on VT-d catches a first-level PASID entry that disagrees with the SVA bond: pointer, FLPM, SRE, DID, PGTT")
    void agreementCatchesFirstLevelCorruption() {
        Bound b = new Bound(57, 4);
        VtdFixture f = b.f;
        long a = f.pasidEntryAddress(b.acc.requesterId(), b.pasid);
        var m = f.p.memory();
        long w0 = m.readLong(a);
        long w2 = m.readLong(a + 16);
        m.writeLong(a + 16, w2 + 0x1000); // FLPTPTR
        assertThat(VtdHardwareAgreement.check(f.p)).anyMatch(v -> v.contains("FLPTPTR"));
        m.writeLong(a + 16, w2 | 1L << 2); // FLPM = 5-level
        assertThat(VtdHardwareAgreement.check(f.p)).anyMatch(v -> v.contains("FLPM"));
        m.writeLong(a + 16, w2 | 1L); // SRE
        assertThat(VtdHardwareAgreement.check(f.p)).anyMatch(v -> v.contains("SRE"));
        m.writeLong(a + 16, w2);
        long w1 = m.readLong(a + 8);
        m.writeLong(a + 8, (w1 & ~0xFFFFL) | VtdIommu.FIRST_DOMAIN_ID); // an allocated-looking DID
        assertThat(VtdHardwareAgreement.check(f.p)).anyMatch(v -> v.contains("FLPT_DEFAULT_DID"));
        m.writeLong(a + 8, w1);
        m.writeLong(a, (w0 & ~(7L << 6)) | 2L << 6); // PGTT second level
        assertThat(VtdHardwareAgreement.check(f.p)).anyMatch(v -> v.contains("core has SVA domain"));
        m.writeLong(a, w0);
        assertThat(VtdHardwareAgreement.check(f.p)).isEmpty();
        f.core().svaUnbindDevice(b.h);
        f.agree();
    }

    @Test
    @DisplayName("fail_nth over SVA bind on VT-d (core sites and table pages): -ENOMEM, no PASID entry, no DID, hardware agrees")
    void bindFailNth() {
        int failures = 0;
        for (boolean frames : new boolean[] {false, true}) {
            for (int n = 1; n < 40; n++) {
                VtdFixture f = VtdFixture.of(true, 48);
                PciDevice acc = acc(f, "acc", 5);
                f.hotplug(acc);
                MmStruct mm = process(f, 4);
                java.util.BitSet dids = f.unit().domainIdsInUse();
                if (frames) {
                    f.p.frames().failNthAllocation(n);
                } else {
                    f.core().failNthAllocation(n);
                }
                SvaHandle h;
                try {
                    h = f.core().svaBindDevice(acc, mm);
                } catch (IommuException e) {
                    assertThat(e.errno()).isIn(Errno.ENOMEM, Errno.ENOSPC);
                    failures++;
                    int p = f.core().mmPasid(mm);
                    if (p != org.jiommu.core.IommuCore.IOMMU_PASID_INVALID) {
                        assertThat(f.driver().programmedPasid(acc, p)).isNull();
                        assertThat(f.pasidEntryWord0(acc.requesterId(), p) & 1).isZero();
                    }
                    assertThat(f.unit().domainIdsInUse()).isEqualTo(dids);
                    f.agree();
                    continue;
                } finally {
                    f.core().failNthAllocation(0);
                    f.p.frames().failNthAllocation(0);
                }
                f.agree();
                int p = f.core().svaGetPasid(h);
                assertThat(write(f, acc, p, RW_VA, (byte) 1)).isEqualTo(mm.translate(RW_VA));
                break;
            }
        }
        assertThat(failures).isGreaterThanOrEqualTo(3);
    }
}
