package org.jiommu.driver.vtd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.jiommu.hw.vtd.VtdRegisters.*;

import java.util.ArrayList;
import java.util.List;
import org.jiommu.base.Errno;
import org.jiommu.base.IommuException;
import org.jiommu.base.Prot;
import org.jiommu.bus.dma.DmaResult;
import org.jiommu.bus.dma.Pri;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.core.SvaHandle;
import org.jiommu.core.spi.DevFeature;
import org.jiommu.mm.MmStruct;
import org.jiommu.hw.vtd.FaultReason;
import org.jiommu.hw.vtd.InvDescriptor;
import org.jiommu.hw.vtd.VtdConfig;
import org.jiommu.hw.vtd.VtdUnit;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * Page requests on VT-d: the endpoint's PRI, the unit's page request queue, the driver's PRQ
 * handler, the core's IOPF and the page group response back to the endpoint
 * (docs/driver-vtd.md section 9, docs/hw-vtd.md).
 */
class VtdPageRequestTest {
    static final long RW_VA = 0x40_0000L;
    static final long RO_VA = 0x50_0000L;
    static final long OUTSIDE = 0x70_0000L;

    /** A platform with {@code acc} bound to a process with an untouched RW VMA and an untouched RO VMA. */
    private static final class Bound {
        final VtdFixture f;
        final PciDevice acc;
        final MmStruct mm;
        final SvaHandle h;
        final int pasid;
        final VtdUnit unit;
        final List<InvDescriptor> log = new ArrayList<>();

        Bound(VtdConfig cfg) {
            f = new VtdFixture(cfg);
            acc = f.endpoint("acc", 5, true, 20, true);
            f.hotplug(acc);
            mm = new MmStruct("proc", f.p.frames(), 4);
            mm.mmap(RW_VA, 0x4000, Prot.READ | Prot.WRITE);
            mm.mmap(RO_VA, 0x1000, Prot.READ);
            h = f.core().svaBindDevice(acc, mm);
            pasid = f.core().svaGetPasid(h);
            unit = f.unit().unit();
            unit.setDescriptorListener(log::add);
        }

        long write(long va) {
            DmaResult r = f.p.dma(acc).write(pasid, va, new byte[] {1}, 0, 1, new DmaResult());
            return r.ok() ? r.firstPa() : -r.faultCode();
        }

        List<InvDescriptor.PageGroupResponse> responses() {
            return log.stream().filter(d -> d instanceof InvDescriptor.PageGroupResponse)
                    .map(d -> (InvDescriptor.PageGroupResponse) d).toList();
        }

        PageRequestQueue prq() {
            return f.unit().prq;
        }
    }

    @Test
    @DisplayName("a DMA to an untouched page of the process: page request descriptor in the ring (bit-exact), the SVA handler populates the page, page group response Success, the retried translation lands")
    void demandPagingRoundTrip() {
        Bound b = new Bound(VtdConfig.scalable(48));
        PageRequestQueue prq = b.prq();
        assertThat(b.unit.read64(ECAP_REG) & (ECAP_PRS | ECAP_PDS)).isEqualTo(ECAP_PRS | ECAP_PDS);
        assertThat(b.unit.read64(PQA_REG)).isEqualTo(prq.ringAddress() | PageRequestQueue.PRQ_ORDER);
        assertThat(b.mm.translate(RW_VA + 0x1000)).isZero();

        long pa = b.write(RW_VA + 0x1234);

        assertThat(b.mm.translate(RW_VA + 0x1000)).isPositive();
        assertThat(pa).isEqualTo(b.mm.translate(RW_VA + 0x1000) + 0x234);
        // VT-d page request descriptor (prq.c struct page_req_dsc): qw0 type 1, PASID present bit 8,
        // RID 31:16, PASID 51:32; qw1 R bit 0, W bit 1, LPIG bit 2, PRG index 11:3, page 63:12.
        int rid = b.acc.requesterId();
        long q0 = b.f.p.memory().readLong(prq.ringAddress());
        long q1 = b.f.p.memory().readLong(prq.ringAddress() + 8);
        assertThat(q0).isEqualTo(0x1L | 1L << 8 | (long) rid << 16 | (long) b.pasid << 32);
        assertThat(q1).isEqualTo((RW_VA + 0x1000) | 0x7L);
        assertThat(b.f.p.memory().readLong(prq.ringAddress() + 16)).isZero();
        // The handler moved PQH to PQT and cleared PPR.
        assertThat(b.unit.read64(PQT_REG)).isEqualTo(PAGE_REQUEST_SIZE);
        assertThat(b.unit.read64(PQH_REG)).isEqualTo(PAGE_REQUEST_SIZE);
        assertThat(b.unit.read32(PRS_REG)).isZero();
        // Page group response: type 9, PASID present, Success, RID, PASID, PRG index 0, LPIG.
        assertThat(b.responses()).containsExactly(
                new InvDescriptor.PageGroupResponse(true, InvDescriptor.RESPONSE_SUCCESS, rid, b.pasid, true, 0));
        assertThat(VtdEncoder.pageGroupResponse(rid, true, b.pasid, VtdEncoder.RESPONSE_SUCCESS, 0, true))
                .containsExactly(0x9L | 0x10L | (long) rid << 16 | (long) b.pasid << 32, 0x4L);
        assertThat(b.acc.pri().stats()).isEqualTo(new Pri.Stats(1, 1, 0));
        assertThat(prq.reportedCount()).isEqualTo(1);
        // The page is now in the ATC: a second access sends no request.
        assertThat(b.write(RW_VA + 0x1000)).isEqualTo(b.mm.translate(RW_VA + 0x1000));
        assertThat(b.acc.pri().stats().requests()).isEqualTo(1);
        assertThat(b.f.core().warnings()).isEmpty();
    }

    @Test
    @DisplayName("outside any VMA, or a write to a read-only VMA: the SVA handler answers Invalid (response code 1) and the DMA faults")
    void invalidRequests() {
        Bound b = new Bound(VtdConfig.scalable(48));
        assertThat(b.write(OUTSIDE)).isEqualTo(-FaultReason.FS_PAGING_ENTRY_NOT_PRESENT);
        assertThat(b.write(RO_VA)).isEqualTo(-FaultReason.FS_PAGING_ENTRY_NOT_PRESENT);
        assertThat(b.responses()).extracting(InvDescriptor.PageGroupResponse::responseCode)
                .containsExactly(InvDescriptor.RESPONSE_INVALID, InvDescriptor.RESPONSE_INVALID);
        assertThat(b.responses()).extracting(InvDescriptor.PageGroupResponse::prgIndex).containsExactly(0, 1);
        assertThat(b.mm.translate(RO_VA)).isZero();
        assertThat(b.acc.pri().stats()).isEqualTo(new Pri.Stats(2, 2, 0));
    }

    @Test
    @DisplayName("overflow: with the event masked the ring fills; the next request sets PRS.PRO and the unit answers Success itself, the retry faults; unmasking runs the handler, which reports the queued request and clears PRO once the ring is empty")
    void overflow() {
        Bound b = new Bound(VtdConfig.scalable(48).toBuilder().pageRequestQueueLimit(1).build());
        b.unit.write32(PECTL_REG, ECTL_IM);
        assertThat(b.write(RW_VA)).isEqualTo(-FaultReason.FS_PAGING_ENTRY_NOT_PRESENT); // queued, unanswered
        assertThat(b.unit.read32(PRS_REG)).isEqualTo(PRS_PPR);
        assertThat(b.unit.read32(PECTL_REG)).isEqualTo(ECTL_IM | ECTL_IP);
        assertThat(b.write(RW_VA + 0x1000)).isEqualTo(-FaultReason.FS_PAGING_ENTRY_NOT_PRESENT); // overflow
        assertThat(b.unit.read32(PRS_REG)).isEqualTo(PRS_PPR | PRS_PRO);
        assertThat(b.unit.stats().snapshot().get("prq.overflow")).isEqualTo(1L);
        assertThat(b.unit.read64(PQT_REG)).isEqualTo(PAGE_REQUEST_SIZE); // the second one was not written
        assertThat(b.responses()).isEmpty(); // the unit's own Success goes straight to the endpoint
        assertThat(b.acc.pri().stats()).isEqualTo(new Pri.Stats(2, 1, 0));
        assertThat(b.prq().reportedCount()).isZero();

        b.unit.write32(PECTL_REG, 0);

        assertThat(b.prq().reportedCount()).isEqualTo(1);
        assertThat(b.unit.read32(PRS_REG)).isZero();
        assertThat(b.mm.translate(RW_VA)).isPositive(); // populated by the late handler
        assertThat(b.mm.translate(RW_VA + 0x1000)).isZero();
        // Its response finds no outstanding group at the endpoint (it gave up): dropped and counted.
        assertThat(b.acc.pri().stats().unexpectedResponses()).isEqualTo(1);
        assertThat(b.write(RW_VA)).isEqualTo(b.mm.translate(RW_VA));
    }

    @Test
    @DisplayName("drain: a request queued for the PASID when it is unbound is handled during the teardown, never reported afterwards")
    void drainOnTeardown() {
        Bound b = new Bound(VtdConfig.scalable(48));
        b.unit.write32(PECTL_REG, ECTL_IM);
        b.write(RW_VA);
        assertThat(b.prq().empty()).isFalse();
        assertThat(b.prq().reportedCount()).isZero();

        b.f.core().svaUnbindDevice(b.h);
        b.f.agree();

        assertThat(b.prq().empty()).isTrue();
        assertThat(b.prq().reportedCount()).isEqualTo(1);
        assertThat(b.log).filteredOn(d -> d instanceof InvDescriptor.InvWait w && w.pageRequestDrain()).hasSize(1);
        b.unit.write32(PECTL_REG, 0); // the pending event finds nothing left
        assertThat(b.prq().reportedCount()).isEqualTo(1);
        assertThat(b.acc.pri().enabled()).isFalse();
    }

    @Test
    @DisplayName("bad requests: a PRI function without IOPF enabled gets Invalid from the core (device_rbtree holds every probed ATS device, so prq_event_thread reports it and iopf_error_response answers; no driver message); one whose context entry lacks PRE gets Invalid from the unit, nothing queued")
    void badRequests() {
        VtdFixture f = VtdFixture.of(true, 48);
        PciDevice acc = f.endpoint("acc", 5, true, 20, true);
        f.hotplug(acc, f.disk);
        VtdUnit unit = f.unit().unit();
        List<InvDescriptor> log = new ArrayList<>();
        unit.setDescriptorListener(log::add);
        unit.pageRequest(acc.requesterId(), 3, 0x1000, true, false, true, 7);
        assertThat(log).filteredOn(d -> d instanceof InvDescriptor.PageGroupResponse).containsExactly(
                new InvDescriptor.PageGroupResponse(true, InvDescriptor.RESPONSE_INVALID, acc.requesterId(), 3, true, 7));
        // was: the driver's handle_bad_prq_event (badCount 1, "invalid page request"), when the
        // model's device_rbtree held only devices with IOPF on; the kernel's holds every probed
        // ATS device (VtdPrqLateRequestTest has the bad path: a released device)
        assertThat(f.unit().prq.badCount()).isZero();
        assertThat(f.unit().prq.reportedCount()).isEqualTo(1);
        assertThat(f.core().warnings()).isEmpty();

        List<Integer> codes = new ArrayList<>();
        unit.registerPageResponseReceiver(f.disk.requesterId(), (pasid, prg, code) -> codes.add(code));
        long pqt = unit.read64(PQT_REG);
        unit.pageRequest(f.disk.requesterId(), 3, 0x1000, true, false, true, 1);
        assertThat(codes).containsExactly(InvDescriptor.RESPONSE_INVALID);
        assertThat(unit.read64(PQT_REG)).isEqualTo(pqt);
    }

    @Test
    @DisplayName("SVA / IOPF need a unit with a page request queue (ECAP.PRS): without it has_feature says no and bind is -ENODEV")
    void needsPrs() {
        VtdFixture f = new VtdFixture(VtdConfig.scalable(48).toBuilder().pageRequests(false).build());
        PciDevice acc = f.endpoint("acc", 5, true, 20, true);
        f.hotplug(acc);
        assertThat(f.unit().prq).isNull();
        assertThat(f.core().devHasFeature(acc, DevFeature.IOPF)).isFalse();
        assertThat(f.core().devHasFeature(acc, DevFeature.SVA)).isFalse();
        MmStruct mm = new MmStruct("proc", f.p.frames(), 4);
        assertThatThrownBy(() -> f.core().svaBindDevice(acc, mm)).isInstanceOfSatisfying(IommuException.class,
                e -> assertThat(e.errno()).isEqualTo(Errno.ENODEV));
    }
}
