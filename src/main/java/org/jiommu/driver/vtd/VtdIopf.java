package org.jiommu.driver.vtd;

import org.jiommu.bus.dma.Pri;
import org.jiommu.core.spi.CoreServices;
import org.jiommu.core.spi.IopfFault;
import org.jiommu.core.spi.PageResponse;
import org.jiommu.driver.common.DriverFaults;
import org.jiommu.driver.common.IopfRefs;

/**
 * The VT-d side of I/O page faults on the attach path (intel_iommu_enable_iopf /
 * intel_iommu_disable_iopf, with the shared counting of {@link IopfRefs}) and the page response
 * (intel_iommu_page_response); the ring itself is {@link PageRequestQueue}. Package-private;
 * every method runs under the unit's lock.
 */
final class VtdIopf {
    private final CoreServices core;
    private final DriverFaults faults;

    VtdIopf(CoreServices core, DriverFaults faults) {
        this.core = core;
        this.faults = faults;
    }

    /**
     * Before an attachment of {@code d}: an IOPF-capable domain needs PRI (-ENODEV without it),
     * and the device's first IOPF-capable attachment enables page requests. Returns -errno, 1 when
     * this call enabled them (pass it to {@link #undo} if the attach fails later), else 0.
     */
    int prepare(DeviceInfo info, VtdDomain d) {
        return IopfRefs.prepare(info, d.iopfCapable(), this::enable);
    }

    /** The attach that {@link #prepare} returned {@code prepared} for failed: page requests off again if it turned them on. */
    void undo(DeviceInfo info, int prepared) {
        IopfRefs.undoEnable(info, prepared, this::disable);
    }

    /** {@code d} is now attached: its IOPF reference. */
    void get(DeviceInfo info, VtdDomain d) {
        IopfRefs.get(info, d.iopfCapable());
    }

    /** {@code d} left: its IOPF reference goes (unless the leak plant is set), page requests off with the last. */
    void put(DeviceInfo info, VtdDomain d) {
        IopfRefs.put(info, d.iopfCapable(), faults, this::disable);
    }

    /**
     * First IOPF-capable attachment of the device: {@code iopf_queue_add_device}, the unit learns
     * where to send its responses, then PRI Enable ({@code pci_enable_pri}). The PRQ handler finds
     * the device by requester id from probe to release, IOPF on or not ({@code device_rbtree}).
     */
    private int enable(DeviceInfo info) {
        VtdIommu u = info.iommu;
        if (u.prq == null || info.iopfEnabled()) {
            return 0;
        }
        int r = core.iopfQueueAddDevice(u.prq.iopfQueue, info.dev);
        if (r != 0) {
            return r;
        }
        Pri pri = info.pdev.pri();
        if (pri != null) {
            u.unit.registerPageResponseReceiver(info.sid, pri);
            pri.setEnabled(true);
        }
        info.setIopfEnabled(true);
        return 0;
    }

    /** Last IOPF-capable attachment gone: PRI off, then {@code iopf_queue_remove_device}. */
    void disable(DeviceInfo info) {
        VtdIommu u = info.iommu;
        if (u.prq == null || !info.iopfEnabled()) {
            return;
        }
        Pri pri = info.pdev.pri();
        if (pri != null) {
            pri.setEnabled(false);
        }
        core.iopfQueueRemoveDevice(u.prq.iopfQueue, info.dev);
        u.unit.unregisterPageResponseReceiver(info.sid);
        info.setIopfEnabled(false);
    }

    /** {@code intel_iommu_page_response}: a page group response descriptor and a wait. */
    void pageResponse(DeviceInfo info, IopfFault last, PageResponse msg) {
        info.iommu.prq.pageResponse(info.sid, last, msg);
    }
}
