package org.jiommu.core;

import java.util.ArrayList;
import java.util.List;
import org.jiommu.bus.Device;
import org.jiommu.core.spi.IopfQueueRef;

/**
 * {@code struct iopf_queue}: the devices whose recoverable faults one driver (or IOMMU instance)
 * processes. The model runs handlers on the reporting thread, so the queue has no work items,
 * only its device list. Its monitor is {@code queue->lock}.
 */
public final class IopfQueue implements IopfQueueRef {
    private final String name;
    /** Guarded by this. */
    final List<Device> devices = new ArrayList<>();
    /** Guarded by this. */
    boolean freed;

    IopfQueue(String name) {
        this.name = name;
    }

    @Override
    public String name() {
        return name;
    }

    public synchronized List<Device> devices() {
        return List.copyOf(devices);
    }

    @Override
    public String toString() {
        return "iopf_queue " + name;
    }
}
