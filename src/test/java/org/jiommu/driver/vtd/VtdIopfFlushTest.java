package org.jiommu.driver.vtd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.jiommu.hw.vtd.VtdRegisters.*;

import java.util.ArrayList;
import java.util.List;
import org.jiommu.base.Prot;
import org.jiommu.bus.dma.DmaResult;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.core.AttachHandle;
import org.jiommu.core.IopfGroup;
import org.jiommu.core.IopfQueue;
import org.jiommu.core.SvaHandle;
import org.jiommu.core.Warning;
import org.jiommu.hw.vtd.InvDescriptor;
import org.jiommu.hw.vtd.VtdConfig;
import org.jiommu.mm.MmStruct;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * The IOPF workqueue under a PASID teardown (io-pgfault.c, prq.c): {@code intel_iommu_drain_pasid_prq}
 * reports what is left in the ring and calls {@code iopf_queue_flush_dev}, which waits for the
 * queue's worker to run the handlers while the teardown keeps its locks; only then does the
 * teardown take the device off its IOPF queue ({@code iopf_queue_remove_device}).
 */
class VtdIopfFlushTest {
    private static final long RW_VA = 0x40_0000L;

    private VtdFixture f;
    private PciDevice acc;
    private final List<InvDescriptor> log = new ArrayList<>();

    private void platform() {
        f = new VtdFixture(VtdConfig.scalable(48));
        acc = f.endpoint("acc", 5, true, 20, true);
        f.hotplug(acc);
        f.unit().unit().setDescriptorListener(log::add);
    }

    private List<InvDescriptor.PageGroupResponse> responses() {
        return log.stream().filter(d -> d instanceof InvDescriptor.PageGroupResponse)
                .map(d -> (InvDescriptor.PageGroupResponse) d).toList();
    }

    /** A DMA the unit turns into a page request; with the event masked it stays in the ring. */
    private void pageRequestLeftInRing(int pasid, long va) {
        f.unit().unit().write32(PECTL_REG, ECTL_IM);
        f.p.dma(acc).write(pasid, va, new byte[] {1}, 0, 1, new DmaResult());
        assertThat(f.unit().prq.empty()).isFalse();
        assertThat(f.unit().prq.reportedCount()).isZero();
    }

    @Test
    @DisplayName("iopf_queue_flush_dev in intel_iommu_drain_pasid_prq: a request left in the ring when the process is unbound reaches the SVA handler before the device leaves its IOPF queue (page populated, answered Success, not Invalid)")
    void svaUnbindFlushesBeforeRemove() {
        platform();
        MmStruct mm = new MmStruct("proc", f.p.frames(), 4);
        mm.mmap(RW_VA, 0x4000, Prot.READ | Prot.WRITE);
        SvaHandle h = f.core().svaBindDevice(acc, mm);
        int pasid = f.core().svaGetPasid(h);
        pageRequestLeftInRing(pasid, RW_VA + 0x1000);
        assertThat(mm.translate(RW_VA + 0x1000)).isZero();

        f.core().svaUnbindDevice(h); // the only IOPF-capable attachment: the device leaves the queue too

        assertThat(f.unit().prq.reportedCount()).isEqualTo(1);
        // before the workqueue, iopf_queue_remove_device answered the still-queued group Invalid
        // and the handler never ran: no page, response code 1
        assertThat(mm.translate(RW_VA + 0x1000)).isPositive();
        assertThat(responses()).extracting(InvDescriptor.PageGroupResponse::responseCode)
                .containsExactly(InvDescriptor.RESPONSE_SUCCESS);
        assertThat(f.core().snapshot().iopf()).doesNotContainKey(acc);
        assertThat(f.core().warnings()).isEmpty();
    }

    /** What the handler saw when it ran. */
    private record Seen(Thread thread, boolean onQueue, boolean pending, List<String> coreLocks) {
    }

    @Test
    @DisplayName("iopf_queue_flush_dev: the handler runs on the IOPF queue's worker thread while the detach waits in the drain, the device still on its queue and the group pending; the removal that follows answers it Invalid")
    void handlerRunsOnWorkerBeforeRemove() {
        platform();
        VtdDomain d = (VtdDomain) f.core().pagingDomainAlloc(acc);
        d.setIopfCapable(true);
        IopfQueue q = (IopfQueue) f.unit().prq.iopfQueue;
        List<Seen> seen = new ArrayList<>();
        List<IopfGroup> kept = new ArrayList<>();
        f.core().domainSetIopfHandler(d, g -> {
            seen.add(new Seen(Thread.currentThread(), q.devices().contains(acc), g.pending(),
                    f.core().locksHeldByCurrentThread()));
            kept.add(g); // kept, as iommufd keeps a group for its user
            return 0;
        });
        f.core().attachDevicePasid(d, acc, 7, new AttachHandle());
        pageRequestLeftInRing(7, 0x9000);

        f.core().detachDevicePasid(d, acc, 7);

        assertThat(seen).hasSize(1);
        assertThat(seen.get(0).thread()).isNotSameAs(Thread.currentThread());
        assertThat(seen.get(0).thread().getName()).isEqualTo("iopf_queue/" + q.name());
        assertThat(seen.get(0).onQueue()).isTrue();
        assertThat(seen.get(0).pending()).isTrue();
        assertThat(seen.get(0).coreLocks()).isEmpty();
        assertThat(q.devices()).doesNotContain(acc);
        assertThat(kept.get(0).pending()).isFalse(); // answered by iopf_queue_remove_device
        assertThat(responses()).extracting(InvDescriptor.PageGroupResponse::responseCode)
                .containsExactly(InvDescriptor.RESPONSE_INVALID);
        assertThat(f.core().warnings()).isEmpty();
    }

    @Test
    @DisplayName("iopf_queue_flush_dev: a handler that takes the group mutex deadlocks against the teardown holding it, as in the kernel; the flush reports 'flush_workqueue would hang' instead of hanging, and the handler runs once the detach has returned")
    void handlerTakingGroupMutexIsReported() {
        platform();
        VtdDomain d = (VtdDomain) f.core().pagingDomainAlloc(acc);
        d.setIopfCapable(true);
        List<Boolean> claimed = new ArrayList<>();
        f.core().domainSetIopfHandler(d, g -> {
            claimed.add(f.core().groupDmaOwnerClaimed(f.core().groupGet(acc))); // takes group->mutex
            return 0;
        });
        f.core().attachDevicePasid(d, acc, 7, new AttachHandle());
        f.core().attachDevicePasid(d, acc, 8, new AttachHandle()); // keeps the device on its queue
        pageRequestLeftInRing(7, 0x9000);

        f.core().detachDevicePasid(d, acc, 7);

        List<Warning> hangs = f.core().warnings().stream()
                .filter(w -> w.toString().contains("flush_workqueue would hang")).toList();
        assertThat(hangs).hasSize(1);
        assertThat(hangs.get(0).toString()).contains("iopf_queue_flush_dev").contains("held by the flushing thread");
        // the end of the detach call waited for the worker: the handler got the mutex afterwards
        assertThat(claimed).containsExactly(false);
    }

    @Test
    @DisplayName("iopf_queue_flush_dev on a device on no IOPF queue: WARN and -ENODEV (a driver bug after iopf_queue_remove_device)")
    void flushWithoutFaultParam() {
        platform();
        assertThat(f.core().services().iopfQueueFlushDev(acc)).isEqualTo(-19);
        assertThat(f.core().warnings()).hasSize(1);
        assertThat(f.core().warnings().get(0).toString()).contains("iopf_queue_flush_dev");
    }
}
