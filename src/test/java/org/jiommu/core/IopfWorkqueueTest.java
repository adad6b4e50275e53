package org.jiommu.core;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.core.spi.IopfFault;
import org.jiommu.driver.mock.MockConfig;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * The IOPF workqueue (io-pgfault.c: {@code queue_work} on {@code queue->wq},
 * {@code iopf_queue_flush_dev} = {@code flush_workqueue}): handlers run on the queue's worker
 * thread, in report order, and a flush waits for them.
 */
class IopfWorkqueueTest {
    private static final int R = IopfFault.PERM_READ;

    /** What the handler saw: the group index and the thread it ran on. */
    private record Ran(int grpid, Thread thread) {
    }

    private final List<Ran> ran = new ArrayList<>();
    private Fixture f;
    private PciDevice a;

    private void setUp(IopfHandler extra) {
        f = new Fixture(MockConfig.builder("M").build());
        a = f.pci("a");
        f.core.deviceAdd(a);
        IommuDomain d = f.core.pagingDomainAlloc(a);
        f.core.domainSetIopfHandler(d, g -> {
            ran.add(new Ran(g.lastFault().grpid(), Thread.currentThread()));
            return extra == null ? 0 : extra.handle(g);
        });
        f.core.attachDevicePasid(d, a, 3, new AttachHandle()); // the mock puts a on its IOPF queue
    }

    @Test
    @DisplayName("iopf_queue_flush_dev: groups a driver reported (outside any core call) wait on the queue until the flush, which runs them on the queue's worker thread in report order")
    void flushRunsQueuedWorkInOrder() {
        setUp(null);
        for (int grp = 1; grp <= 3; grp++) {
            assertThat(f.core.services().reportDeviceFault(a, IopfFault.withPasid(3, grp, true, R, 0x1000L * grp)))
                    .isZero();
        }
        assertThat(ran).isEmpty(); // queued, not yet released to the worker

        f.core.iopfQueueFlushDev(a);

        assertThat(ran).extracting(Ran::grpid).containsExactly(1, 2, 3);
        assertThat(ran).extracting(Ran::thread).allSatisfy(t -> {
            assertThat(t).isNotSameAs(Thread.currentThread());
            assertThat(t.getName()).startsWith("iopf_queue/");
        });
        assertThat(f.core.warnings()).isEmpty();
    }

    @Test
    @DisplayName("iopf_queue_flush_dev from a handler, on its own queue: flush_workqueue from the queue's own work would hang; a WARN instead, and the handler goes on")
    void flushFromOwnWorkerWarns() {
        setUp(g -> {
            f.core.iopfQueueFlushDev(a);
            return 0;
        });
        f.core.reportDeviceFault(a, IopfFault.withPasid(3, 1, true, R, 0x1000));

        assertThat(ran).extracting(Ran::grpid).containsExactly(1);
        assertThat(f.core.warnings()).hasSize(1);
        assertThat(f.core.warnings().get(0).toString()).contains("flush_workqueue would hang")
                .contains("from its own worker");
    }
}
