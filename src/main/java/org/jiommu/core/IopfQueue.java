package org.jiommu.core;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import org.jiommu.bus.Device;
import org.jiommu.core.spi.IopfQueueRef;

/**
 * {@code struct iopf_queue}: the devices whose recoverable faults one driver (or IOMMU instance)
 * processes, and its ordered workqueue ({@code queue->wq}): the fault groups reported and not yet
 * handed to their handler. Its monitor is {@code queue->lock}.
 */
public final class IopfQueue implements IopfQueueRef {
    private final String name;
    /** Guarded by this. */
    final List<Device> devices = new ArrayList<>();
    /** Guarded by this. */
    boolean freed;
    /** Work items: complete groups waiting for their handler, in report order. Guarded by this. */
    final ArrayDeque<IopfGroup> work = new ArrayDeque<>();
    /** The thread running this queue's work, or null (one at a time, as an ordered workqueue). Guarded by this. */
    Thread runner;

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
