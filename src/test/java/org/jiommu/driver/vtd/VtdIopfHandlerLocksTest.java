package org.jiommu.driver.vtd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.jiommu.hw.vtd.VtdRegisters.*;

import java.util.ArrayList;
import java.util.List;
import org.jiommu.bus.dma.DmaResult;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.core.AttachHandle;
import org.jiommu.core.IopfGroup;
import org.jiommu.hw.vtd.VtdConfig;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * Issue 13 item 16: I/O page-fault handlers run with none of the core's or the driver's locks
 * held (io-pgfault.c runs them from the IOPF workqueue), also when the report comes from the PRQ
 * drain of a PASID teardown, which runs under the group mutex, the unit's lock and the PRQ lock.
 */
class VtdIopfHandlerLocksTest {
    /** What a handler saw of the locks when it ran, one entry per call. */
    private final List<List<String>> seen = new ArrayList<>();

    private VtdFixture f;
    private PciDevice acc;
    private VtdDomain d;

    private void setUp() {
        f = new VtdFixture(VtdConfig.scalable(48));
        acc = f.endpoint("acc", 5, true, 20, true);
        f.hotplug(acc);
        d = (VtdDomain) f.core().pagingDomainAlloc(acc);
        d.setIopfCapable(true);
        VtdIommu unit = f.unit();
        f.core().domainSetIopfHandler(d, (IopfGroup g) -> {
            List<String> held = new ArrayList<>(f.core().locksHeldByCurrentThread());
            if (Thread.holdsLock(unit.lock)) {
                held.add("unit lock");
            }
            if (unit.prq != null && Thread.holdsLock(unit.prq.handlerLock)) {
                held.add("PRQ lock");
            }
            seen.add(held);
            return 0; // kept: nobody answers it here
        });
        f.core().attachDevicePasid(d, acc, 7, new AttachHandle());
        // a second IOPF-capable attachment keeps the device on its IOPF queue across the detach of 7
        f.core().attachDevicePasid(d, acc, 8, new AttachHandle());
    }

    private void dmaToUnmapped() {
        f.p.dma(acc).write(7, 0x9000, new byte[] {1}, 0, 1, new DmaResult());
    }

    @Test
    @DisplayName("iommu_report_device_fault from the PRQ drain of iommu_detach_device_pasid: the handler runs after the teardown, with no group mutex, unit lock or PRQ lock held")
    void drainReportsRunWithoutLocks() {
        setUp();
        f.unit().unit().write32(PECTL_REG, ECTL_IM); // the request stays in the ring until the drain
        dmaToUnmapped();
        assertThat(f.unit().prq.reportedCount()).isZero();
        assertThat(seen).isEmpty();
        f.core().detachDevicePasid(d, acc, 7);
        assertThat(f.unit().prq.reportedCount()).isEqualTo(1);
        // before issue 13 the drain called the handler inline: group mutex, unit lock and PRQ lock held
        assertThat(seen).hasSize(1);
        assertThat(seen.get(0)).isEmpty();
    }

    @Test
    @DisplayName("iommu_report_device_fault from the PRQ event thread: the handler runs from the IOPF queue's work, outside the PRQ lock")
    void eventThreadReportsRunWithoutLocks() {
        setUp();
        dmaToUnmapped();
        assertThat(f.unit().prq.reportedCount()).isEqualTo(1);
        assertThat(seen).hasSize(1);
        assertThat(seen.get(0)).isEmpty();
    }
}
