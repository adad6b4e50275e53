package org.jiommu.driver.smmuv3;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import java.util.List;
import org.jiommu.base.Errno;
import org.jiommu.base.IommuException;
import org.jiommu.base.Prot;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.core.SvaHandle;
import org.jiommu.driver.common.DriverFaults;
import org.jiommu.hw.smmuv3.ContextDescriptor;
import org.jiommu.hw.smmuv3.SmmuCommand;
import org.jiommu.hw.smmuv3.SmmuEvent;
import org.jiommu.mm.Arm64PageTable;
import org.jiommu.mm.CpuFormat;
import org.jiommu.mm.MmStruct;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * SVA on the SMMUv3 with an arm64 process: the SVA domain's CD points at the mm's pgd with the
 * CPU's TTBR0 settings and the domain's own ASID; device DMA on the mm's PASID walks the
 * process's AArch64 table; a munmap reaches the TLB and the ATC through the mmu notifier; unbind
 * clears the CD and frees the ASID. The hardware agreement (I7) holds at every step.
 */
class Smmuv3SvaTest {
    private static final long RW_VA = 0x40_0000L;
    private static final long RO_VA = 0x50_0000L;

    private static final class Bound {
        final Smmuv3Bed b;
        final PciDevice acc;
        final MmStruct mm;
        final SvaHandle h;
        final int pasid;

        Bound(Smmuv3Bed b, boolean ats) {
            this.b = b;
            acc = b.endpoint("acc", ats, 20, false);
            b.add(acc);
            mm = process(b);
            h = b.core.svaBindDevice(acc, mm);
            pasid = b.core.svaGetPasid(h);
            assertThat(b.p.agreement()).isEmpty();
        }

        Bound(boolean ats) {
            this(new Smmuv3Bed(Smmuv3Bed.features()), ats);
        }

        Smmuv3Domain domain() {
            return (Smmuv3Domain) b.drv.pasidDomains(acc).get(pasid);
        }
    }

    /** An arm64 process with a read-write VMA (two pages touched) and a read-only one (one page touched). */
    static MmStruct process(Smmuv3Bed b) {
        MmStruct mm = new MmStruct("proc", b.p.frames(), CpuFormat.ARM64, 4);
        mm.mmap(RW_VA, 0x4000, Prot.READ | Prot.WRITE | Prot.NOEXEC);
        mm.mmap(RO_VA, 0x1000, Prot.READ | Prot.NOEXEC);
        assertThat(mm.handleMmFault(RW_VA, true, false)).isEqualTo(MmStruct.FaultResult.SUCCESS);
        assertThat(mm.handleMmFault(RW_VA + 0x1000, true, false)).isEqualTo(MmStruct.FaultResult.SUCCESS);
        assertThat(mm.handleMmFault(RO_VA, false, false)).isEqualTo(MmStruct.FaultResult.SUCCESS);
        return mm;
    }

    private static int lastEventType(Smmuv3Bed b) {
        List<long[]> ev = b.drv.drainEvents();
        assertThat(ev).isNotEmpty();
        return (int) (ev.get(ev.size() - 1)[0] & 0xFF);
    }

    @Test
    @DisplayName("SVA bind on SMMUv3: CD at the mm's PASID with TTB0 = mm->pgd, the CPU's T0SZ / TG0 / MAIR_EL1, EPD1,"
            + " the domain's own ASID; DMA walks the arm64 process table (read-only page: F_PERMISSION, untouched"
            + " page: F_TRANSLATION, no IOPF without stall)")
    void bindAndTranslate() {
        Bound x = new Bound(true);
        Smmuv3Bed b = x.b;
        Smmuv3Domain d = x.domain();
        assertThat(d.mm).isSameAs(x.mm);
        assertThat(d.asid).isNotEqualTo(b.drv.asid(b.core.getDomainForDev(x.acc))).isPositive();
        long[] cd = b.drv.cd(x.acc, x.pasid);
        ContextDescriptor c = ContextDescriptor.decode(cd, b.unit.features());
        assertThat(c.illegal).isNull();
        assertThat(c.asid).isEqualTo(d.asid);
        assertThat(cd[1] & ContextDescriptor.TTB_MASK).isEqualTo(x.mm.pgd().root());
        assertThat(cd[0] & 0x3F).isEqualTo(64 - Arm64PageTable.VA_BITS); // T0SZ
        assertThat(cd[0] & ContextDescriptor.EPD1).isNotZero();
        assertThat(cd[0] & ContextDescriptor.EPD0).isZero();
        assertThat(cd[3]).isEqualTo(Arm64PageTable.MAIR_EL1);

        assertThat(b.write(x.acc, x.pasid, RW_VA + 8)).isEqualTo(x.mm.translate(RW_VA) + 8);
        assertThat(b.p.memory().read(x.mm.translate(RW_VA) + 8, 4)).containsExactly(1, 2, 3, 4);
        assertThat(b.read(x.acc, x.pasid, RW_VA + 0x1000)).isEqualTo(x.mm.translate(RW_VA + 0x1000));
        assertThat(b.read(x.acc, x.pasid, RO_VA)).isEqualTo(x.mm.translate(RO_VA));
        b.drv.drainEvents();
        assertThat(b.write(x.acc, x.pasid, RO_VA)).isNegative();
        assertThat(lastEventType(b)).isEqualTo(SmmuEvent.F_PERMISSION);
        // Untouched page of the VMA: the SMMU reports F_TRANSLATION; the kernel's SMMUv3 takes no
        // IOPF for it (no stall model, PRI requests are not handled): the device's DMA fails.
        assertThat(b.write(x.acc, x.pasid, RW_VA + 0x2000)).isNegative();
        assertThat(lastEventType(b)).isEqualTo(SmmuEvent.F_TRANSLATION);
        assertThat(x.mm.translate(RW_VA + 0x2000)).isZero();
        // Without PASID the device still reaches only its DMA domain.
        assertThat(b.read(x.acc, -1, RW_VA)).isNegative();
        assertThat(b.p.agreement()).isEmpty();
    }

    @Test
    @DisplayName("munmap on an SVA-bound arm64 mm: TLBI_NH_VA by the SVA domain's ASID, CMD_SYNC, then ATC_INV at"
            + " the PASID; the device's next DMA there faults")
    void munmapInvalidates() {
        Bound x = new Bound(true);
        Smmuv3Bed b = x.b;
        int asid = x.domain().asid;
        assertThat(b.read(x.acc, x.pasid, RW_VA + 0x1000)).isEqualTo(x.mm.translate(RW_VA + 0x1000)); // TLB and ATC filled
        b.clear();
        x.mm.munmap(RW_VA + 0x1000, 0x1000);
        List<Integer> ops = b.opcodes();
        assertThat(ops).containsExactly(SmmuCommand.TLBI_NH_VA, SmmuCommand.SYNC, SmmuCommand.ATC_INV,
                SmmuCommand.SYNC);
        long[] tlbi = b.commands(SmmuCommand.TLBI_NH_VA).get(0);
        assertThat((int) (tlbi[0] >>> 48) & 0xFFFF).isEqualTo(asid);
        assertThat(tlbi[1] & ~0xFFFL).isEqualTo(RW_VA + 0x1000);
        assertThat(tlbi[1] & 1).as("not leaf-only").isZero();
        long[] atc = b.commands(SmmuCommand.ATC_INV).get(0);
        assertThat(atc[0] & SmmuCommand.SSV).isNotZero();
        assertThat((int) (atc[0] >>> SmmuCommand.SSID_SHIFT & 0xFFFFF)).isEqualTo(x.pasid);
        assertThat(b.read(x.acc, x.pasid, RW_VA + 0x1000)).isNegative();
        assertThat(b.read(x.acc, x.pasid, RW_VA)).isEqualTo(x.mm.translate(RW_VA));
        assertThat(b.p.agreement()).isEmpty();
    }

    @Test
    @DisplayName("munmap with the TLBI left out (DriverFaults IOTLB) or the ATC_INV left out (DEVICE_TLB): the device"
            + " still reaches the freed page, so each command of the notifier is needed")
    void munmapPlants() {
        for (DriverFaults.Skip skip : new DriverFaults.Skip[] {DriverFaults.Skip.IOTLB, DriverFaults.Skip.DEVICE_TLB}) {
            Bound x = new Bound(true);
            Smmuv3Bed b = x.b;
            long pa = x.mm.translate(RW_VA + 0x1000);
            long translated = b.read(x.acc, x.pasid, RW_VA + 0x1000);
            assertThat(translated).isEqualTo(pa);
            if (skip == DriverFaults.Skip.IOTLB) {
                // Without ATS the device asks the SMMU each time: only the TLB can be stale.
                Bound y = new Bound(new Smmuv3Bed(Smmuv3Bed.features()), false);
                long pay = y.mm.translate(RW_VA + 0x1000);
                assertThat(y.b.read(y.acc, y.pasid, RW_VA + 0x1000)).isEqualTo(pay);
                y.b.drv.faults().skip(skip, 1);
                y.mm.munmap(RW_VA + 0x1000, 0x1000);
                assertThat(y.b.read(y.acc, y.pasid, RW_VA + 0x1000)).as("stale TLB").isEqualTo(pay);
            } else {
                b.drv.faults().skip(skip, 1);
                x.mm.munmap(RW_VA + 0x1000, 0x1000);
                assertThat(b.read(x.acc, x.pasid, RW_VA + 0x1000)).as("stale ATC").isEqualTo(pa);
            }
        }
    }

    @Test
    @DisplayName("SVA unbind on SMMUv3: CD cleared, the SVA domain freed with TLBI_NH_ASID of its ASID, the ASID"
            + " free again; DMA on the PASID fails; the mm's notifier is gone")
    void unbind() {
        Bound x = new Bound(true);
        Smmuv3Bed b = x.b;
        int asid = x.domain().asid;
        assertThat(b.drv.asidsInUse().get(asid)).isTrue();
        b.clear();
        b.core.svaUnbindDevice(x.h);
        assertThat(b.drv.cd(x.acc, x.pasid)[0] & ContextDescriptor.V).isZero();
        assertThat(b.drv.pasidDomains(x.acc)).doesNotContainKey(x.pasid);
        assertThat(b.drv.asidsInUse().get(asid)).isFalse();
        List<long[]> asidFlush = b.commands(SmmuCommand.TLBI_NH_ASID);
        assertThat(asidFlush).anySatisfy(c -> assertThat((int) (c[0] >>> 48) & 0xFFFF).isEqualTo(asid));
        assertThat(b.read(x.acc, x.pasid, RW_VA)).isNegative();
        // the notifier is gone: a later munmap issues nothing
        b.clear();
        x.mm.munmap(RW_VA, 0x1000);
        assertThat(b.opcodes()).isEmpty();
        assertThat(b.p.agreement()).isEmpty();
    }

    @Test
    @DisplayName("the mm exits while bound (arm_smmu_mm_release): the CD stays valid with TTB0 disabled (the quiet"
            + " CD, same ASID, hitless), TLBI_NH_ASID and ATC_INV follow; DMA faults without C_BAD_CD; unbind clears it")
    void mmExitQuietsCd() {
        Bound x = new Bound(true);
        Smmuv3Bed b = x.b;
        int asid = x.domain().asid;
        assertThat(b.read(x.acc, x.pasid, RW_VA)).isEqualTo(x.mm.translate(RW_VA));
        b.clear();
        x.mm.exit();
        long[] cd = b.drv.cd(x.acc, x.pasid);
        assertThat(cd[0] & ContextDescriptor.V).isNotZero();
        assertThat(cd[0] & ContextDescriptor.EPD0).isNotZero();
        assertThat(ContextDescriptor.decode(cd, b.unit.features()).asid).isEqualTo(asid);
        List<Integer> ops = b.opcodes();
        assertThat(ops.subList(0, 6)).containsExactly(SmmuCommand.CFGI_CD, SmmuCommand.SYNC, SmmuCommand.CFGI_CD,
                SmmuCommand.SYNC, SmmuCommand.TLBI_NH_ASID, SmmuCommand.SYNC);
        assertThat(ops.get(6)).isEqualTo(SmmuCommand.ATC_INV);
        b.drv.drainEvents();
        assertThat(b.read(x.acc, x.pasid, RW_VA)).isNegative();
        assertThat(b.drv.drainEvents()).noneSatisfy(e -> assertThat((int) e[0] & 0xff).isEqualTo(SmmuEvent.C_BAD_CD));
        assertThat(b.p.agreement()).isEmpty();
        PciDevice late = b.endpoint("late", true, 20, false);
        b.add(late);
        IommuException e = catchThrowableOfType(() -> b.core.svaBindDevice(late, x.mm), IommuException.class);
        assertThat(e.errno()).as("arm_smmu_sva_set_dev_pasid: mmget_not_zero fails").isEqualTo(Errno.EINVAL);
        b.core.svaUnbindDevice(x.h);
        assertThat(b.drv.cd(x.acc, x.pasid)[0] & ContextDescriptor.V).isZero();
        assertThat(b.p.agreement()).isEmpty();
    }

    @Test
    @DisplayName("SVA on SMMUv3 refused: an x86-64 mm (-EOPNOTSUPP, the SMMU walks only AArch64 tables), an SMMU"
            + " with a 44-bit OAS below the CPU's 48-bit PARange (-EOPNOTSUPP, arm_smmu_sva_supported)")
    void refusals() {
        Smmuv3Bed b = new Smmuv3Bed(Smmuv3Bed.features());
        PciDevice acc = b.endpoint("acc", true, 20, false);
        b.add(acc);
        MmStruct x86 = new MmStruct("x86", b.p.frames());
        assertThat(catchThrowableOfType(() -> b.core.svaBindDevice(acc, x86), IommuException.class).errno())
                .isEqualTo(Errno.EOPNOTSUPP);
        org.jiommu.hw.smmuv3.SmmuFeatures f = Smmuv3Bed.features();
        Smmuv3Bed small = new Smmuv3Bed(new org.jiommu.hw.smmuv3.SmmuFeatures(f.stage1(), f.stage2(), f.ats(), f.pri(),
                f.cd2l(), f.twoLevelStreamTable(), f.asid16(), f.vmid16(), f.rangeInvalidation(), f.sidBits(),
                f.ssidBits(), 44, f.granules(), f.log2QueueMax()));
        PciDevice acc2 = small.endpoint("acc", true, 20, false);
        small.add(acc2);
        MmStruct arm2 = new MmStruct("arm2", small.p.frames(), CpuFormat.ARM64, 4);
        assertThat(catchThrowableOfType(() -> small.core.svaBindDevice(acc2, arm2), IommuException.class).errno())
                .isEqualTo(Errno.EOPNOTSUPP);
        assertThat(small.drv.pasidDomains(acc2)).isEmpty();
        // the same device and mm on the full SMMU bind
        MmStruct arm = new MmStruct("arm", b.p.frames(), CpuFormat.ARM64, 4);
        assertThat(b.core.svaGetPasid(b.core.svaBindDevice(acc, arm))).isPositive();
    }

    @Test
    @DisplayName("arm64 process table: the leaves are the CPU's (valid page, AF, inner shareable, nG, AttrIndx 0,"
            + " AP[1] user, PXN, UXN for a no-exec VMA, DBM + dirty when writable, AP[2] when read-only)")
    void arm64Leaves() {
        Smmuv3Bed b = new Smmuv3Bed(Smmuv3Bed.features());
        MmStruct mm = process(b);
        long[] seen = new long[2];
        org.jiommu.mm.CpuPageTable t = mm.pgd();
        assertThat(t.format()).isEqualTo(CpuFormat.ARM64);
        assertThat(t.taskSize()).isEqualTo(1L << 48);
        // find the leaves through a manual 4-level descent from the root
        for (int i = 0; i < 2; i++) {
            long va = i == 0 ? RW_VA : RO_VA;
            long table = t.root();
            for (int lvl = 0; lvl < 3; lvl++) {
                long desc = b.p.memory().readLong(table + ((va >>> (39 - 9 * lvl) & 511) << 3));
                assertThat(desc & 3).isEqualTo(3);
                table = desc & 0x0000_FFFF_FFFF_F000L;
            }
            seen[i] = b.p.memory().readLong(table + ((va >>> 12 & 511) << 3));
        }
        long common = 3 | 1L << 10 | 3L << 8 | 1L << 11 | 1L << 6 | 1L << 53 | 1L << 54;
        assertThat(seen[0] & ~0x0000_FFFF_FFFF_F000L).isEqualTo(common | 1L << 51 | 1L << 55);
        assertThat(seen[1] & ~0x0000_FFFF_FFFF_F000L).isEqualTo(common | 1L << 7);
        assertThat(seen[0] & 0x0000_FFFF_FFFF_F000L).isEqualTo(mm.translate(RW_VA));
        assertThat(Arm64PageTable.userPageBits(Prot.READ | Prot.WRITE) & 1L << 54).as("executable VMA: no UXN").isZero();
    }
}
