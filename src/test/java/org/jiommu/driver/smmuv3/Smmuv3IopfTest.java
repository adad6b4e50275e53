package org.jiommu.driver.smmuv3;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import java.util.ArrayList;
import java.util.List;
import org.jiommu.base.Errno;
import org.jiommu.base.IommuException;
import org.jiommu.base.Prot;
import org.jiommu.bus.PlatformDevice;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.core.SvaHandle;
import org.jiommu.driver.common.IopfRefs;
import org.jiommu.hw.smmuv3.ContextDescriptor;
import org.jiommu.hw.smmuv3.SmmuCommand;
import org.jiommu.hw.smmuv3.StreamTableEntry;
import org.jiommu.mm.CpuFormat;
import org.jiommu.mm.MmStruct;
import org.jiommu.platform.IommuUnits;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * I/O page faults on the SMMUv3 as the kernel takes them: a stalling master ({@code dma-can-stall}
 * on an SMMU with the stall model) faults, the SMMU holds the transaction and writes an event
 * with Stall and a STAG, the event thread reports it to the core, the SVA handler populates the
 * page, and the page response is CMD_RESUME retry, after which the transaction completes. The
 * IOPF reference follows the attachments of fault-handling domains (S19).
 */
class Smmuv3IopfTest {
    private static final long VA = 0x40_0000L;

    private static final class Stall {
        final Smmuv3Bed b = new Smmuv3Bed(Smmuv3Bed.features().withStall(true));
        final PlatformDevice acc = new PlatformDevice("acc", List.of(0x400), 8);

        Stall() {
            b.drv.setDmaCanStall(acc);
            b.p.describe(acc, "smmu0");
            b.units.enumerate(new IommuUnits.Firmware(acc, "smmu0", acc.streamIds(), List.of(), false), true);
        }

        MmStruct process() {
            MmStruct mm = new MmStruct("proc", b.p.frames(), CpuFormat.ARM64, 4);
            mm.mmap(VA, 0x4000, Prot.READ | Prot.WRITE | Prot.NOEXEC);
            return mm;
        }
    }

    @Test
    @DisplayName("S19 IOPF on SMMUv3: an SVA bind on a stalling master takes one IOPF reference (the master joins the"
            + " event queue's IOPF queue), the unbind drops it; 0 again on its DMA domain with no PASIDs")
    void s19RefcountFollowsAttachments() {
        Stall s = new Stall();
        assertThat(s.b.drv.stallEnabled(s.acc)).isTrue();
        assertThat(s.b.drv.iopfRefcount(s.acc)).isZero();
        MmStruct mm = s.process();
        SvaHandle h = s.b.core.svaBindDevice(s.acc, mm);
        assertThat(s.b.drv.iopfRefcount(s.acc)).isEqualTo(1);
        MmStruct mm2 = new MmStruct("proc2", s.b.p.frames(), CpuFormat.ARM64, 4);
        SvaHandle h2 = s.b.core.svaBindDevice(s.acc, mm2);
        assertThat(s.b.drv.iopfRefcount(s.acc)).isEqualTo(2);
        s.b.core.svaUnbindDevice(h2);
        assertThat(s.b.drv.iopfRefcount(s.acc)).isEqualTo(1);
        s.b.core.svaUnbindDevice(h);
        assertThat(s.b.drv.iopfRefcount(s.acc)).isZero();
        List<String> warned = new ArrayList<>();
        IopfRefs.checkIdle(s.b.drv.master(s.acc), (where, msg) -> warned.add(msg), "test");
        assertThat(warned).isEmpty();
        assertThat(s.b.core.warnings()).isEmpty();
        assertThat(s.b.p.agreement()).isEmpty();
    }

    @Test
    @DisplayName("S19 on SMMUv3 with the leak plant (DriverFaults.leakIopfRefcount): the unbind forgets the reference"
            + " and the check on the identity RID reports it")
    void s19LeakReported() {
        Stall s = new Stall();
        s.b.drv.faults().leakIopfRefcount(true);
        SvaHandle h = s.b.core.svaBindDevice(s.acc, s.process());
        s.b.core.svaUnbindDevice(h);
        assertThat(s.b.drv.iopfRefcount(s.acc)).isEqualTo(1);
        s.b.core.groupClaimDmaOwner(s.b.core.groupGet(s.acc), "vfio");
        s.b.core.attachGroup(s.b.drv.identityDomain(), s.b.core.groupGet(s.acc));
        assertThat(s.b.core.warnings()).anySatisfy(w -> assertThat(w.toString()).contains("iopf_refcount 1"));
    }

    @Test
    @DisplayName("a stalling master's SVA fault: CD.S set and STE.S1STALLD clear; the untouched page stalls, the event"
            + " (Stall, STAG) goes to the core, the handler populates the page, CMD_RESUME retry completes the DMA")
    void stallFaultPopulates() {
        Stall s = new Stall();
        MmStruct mm = s.process();
        SvaHandle h = s.b.core.svaBindDevice(s.acc, mm);
        int pasid = s.b.core.svaGetPasid(h);
        long[] cd = s.b.drv.cd(s.acc, pasid);
        assertThat(cd[0] & ContextDescriptor.S).isNotZero();
        assertThat(s.b.drv.ste(0x400)[1] & StreamTableEntry.S1STALLD).isZero();
        s.b.clear();
        assertThat(mm.translate(VA + 0x1000)).isZero();
        long pa = s.b.write(s.acc, pasid, VA + 0x1010);
        assertThat(mm.translate(VA + 0x1000)).isNotZero();
        assertThat(pa).isEqualTo(mm.translate(VA + 0x1000) + 0x10);
        assertThat(s.b.p.memory().read(pa, 4)).containsExactly(1, 2, 3, 4);
        List<long[]> resumes = s.b.commands(SmmuCommand.RESUME);
        assertThat(resumes).hasSize(1);
        assertThat((int) (resumes.get(0)[0] >>> SmmuCommand.RESUME_ACTION_SHIFT) & 3).isEqualTo(SmmuCommand.RESUME_RETRY);
        assertThat((int) (resumes.get(0)[0] >>> 32)).isEqualTo(0x400);
        assertThat(s.b.opcodes()).doesNotContain(SmmuCommand.SYNC); // arm_smmu_page_response sends no CMD_SYNC
        assertThat(s.b.unit.stalledTransactions()).isZero();
        assertThat(s.b.drv.drainEvents()).isEmpty(); // the stall record was the event thread's, not logged
        // Outside every VMA: the handler answers INVALID, CMD_RESUME abort, the DMA fails.
        s.b.clear();
        assertThat(s.b.read(s.acc, pasid, 0x90_0000L)).isNegative();
        assertThat(s.b.commands(SmmuCommand.RESUME)).singleElement()
                .satisfies(c -> assertThat((int) (c[0] >>> SmmuCommand.RESUME_ACTION_SHIFT) & 3)
                        .isEqualTo(SmmuCommand.RESUME_ABORT));
        assertThat(s.b.unit.stalledTransactions()).isZero();
        assertThat(s.b.p.agreement()).isEmpty();
    }

    @Test
    @DisplayName("without dma-can-stall (or without the SMMU's stall model) the SVA fault terminates: F_TRANSLATION,"
            + " no CMD_RESUME, no IOPF reference; STE.S1STALLD set on a stalling SMMU")
    void noStallNoIopf() {
        Smmuv3Bed b = new Smmuv3Bed(Smmuv3Bed.features().withStall(true));
        PlatformDevice acc = new PlatformDevice("acc", List.of(0x400), 8);
        b.p.describe(acc, "smmu0");
        b.units.enumerate(new IommuUnits.Firmware(acc, "smmu0", acc.streamIds(), List.of(), false), true);
        MmStruct mm = new MmStruct("proc", b.p.frames(), CpuFormat.ARM64, 4);
        mm.mmap(VA, 0x4000, Prot.READ | Prot.WRITE);
        SvaHandle h = b.core.svaBindDevice(acc, mm);
        int pasid = b.core.svaGetPasid(h);
        assertThat(b.drv.iopfRefcount(acc)).isZero();
        assertThat(b.drv.ste(0x400)[1] & StreamTableEntry.S1STALLD).isNotZero();
        assertThat(b.drv.cd(acc, pasid)[0] & ContextDescriptor.S).isZero();
        b.clear();
        assertThat(b.write(acc, pasid, VA)).isNegative();
        assertThat(b.commands(SmmuCommand.RESUME)).isEmpty();
        assertThat(mm.translate(VA)).isZero();
        assertThat(b.drv.drainEvents()).singleElement()
                .satisfies(e -> assertThat((int) e[0] & 0xff).isEqualTo(org.jiommu.hw.smmuv3.SmmuEvent.F_TRANSLATION));
    }

    @Test
    @DisplayName("a stalling master with two stream ids: attaching a fault-handling domain is -EOPNOTSUPP"
            + " (arm_smmu_enable_iopf: fault events do not say which stream)")
    void twoStreamsRefused() {
        Smmuv3Bed b = new Smmuv3Bed(Smmuv3Bed.features().withStall(true));
        PlatformDevice acc = new PlatformDevice("acc", List.of(0x400, 0x401), 8);
        b.drv.setDmaCanStall(acc);
        b.p.describe(acc, "smmu0");
        b.units.enumerate(new IommuUnits.Firmware(acc, "smmu0", acc.streamIds(), List.of(), false), true);
        MmStruct mm = new MmStruct("proc", b.p.frames(), CpuFormat.ARM64, 4);
        IommuException e = catchThrowableOfType(() -> b.core.svaBindDevice(acc, mm), IommuException.class);
        assertThat(e.errno()).isEqualTo(Errno.EOPNOTSUPP);
        assertThat(b.drv.iopfRefcount(acc)).isZero();
        assertThat(b.drv.pasidDomains(acc)).isEmpty();
    }

    @Test
    @DisplayName("a PCIe page request on SMMUv3 is not an IOPF: arm_smmu_handle_ppr logs it as unexpected and answers"
            + " the group's last request PRI_RESP DENY; the device's DMA then faults")
    void priDenied() {
        Smmuv3Bed b = new Smmuv3Bed(Smmuv3Bed.features());
        PciDevice acc = b.endpoint("acc", true, 20, true);
        b.add(acc);
        MmStruct mm = new MmStruct("proc", b.p.frames(), CpuFormat.ARM64, 4);
        mm.mmap(VA, 0x4000, Prot.READ | Prot.WRITE);
        SvaHandle h = b.core.svaBindDevice(acc, mm);
        int pasid = b.core.svaGetPasid(h);
        assertThat(acc.pri().enabled()).as("the driver never enables PRI").isFalse();
        acc.pri().setEnabled(true); // as firmware or another agent might
        b.clear();
        assertThat(b.write(acc, pasid, VA)).isNegative();
        assertThat(b.commands(SmmuCommand.PRI_RESP)).singleElement().satisfies(c -> {
            assertThat((int) (c[1] >>> SmmuCommand.PRI_RESP_SHIFT) & 3).isEqualTo(SmmuCommand.PRI_RESP_DENY);
            assertThat((int) (c[0] >>> SmmuCommand.SSID_SHIFT) & 0xFFFFF).isEqualTo(pasid);
        });
        assertThat(b.drv.unexpectedPageRequests()).singleElement().asString().contains("unexpected PRI request");
        assertThat(mm.translate(VA)).isZero();
        assertThat(b.drv.iopfRefcount(acc)).isZero();
    }
}
