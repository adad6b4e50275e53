package org.jiommu.core;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import org.jiommu.bus.Device;
import org.jiommu.core.spi.IopfQueueRef;

/**
 * {@code struct iopf_queue}: the devices whose recoverable faults one driver (or IOMMU instance)
 * processes, and its workqueue ({@code queue->wq}): the fault groups reported and not yet handed
 * to their handler, run in report order by one worker thread ({@link IopfEngine}). Its monitor is
 * {@code queue->lock} and guards the workqueue's counters too.
 */
public final class IopfQueue implements IopfQueueRef {
    private final String name;
    /** Guarded by this. */
    final List<Device> devices = new ArrayList<>();
    /** Guarded by this. */
    boolean freed;
    /** Work items: complete groups waiting for their handler, in report order. Guarded by this. */
    final ArrayDeque<IopfGroup> work = new ArrayDeque<>();
    /** Work items queued since the queue was made (the last one's sequence number). Guarded by this. */
    long queued;
    /** The worker may start items up to this sequence number (see IopfEngine: release points). Guarded by this. */
    long released;
    /** Items the worker took off {@link #work}, and items whose handler returned. Guarded by this. */
    long started;
    long done;
    /** The worker thread, or null while the queue is idle (it is started again by the next release). Guarded by this. */
    Thread worker;
    /** {@code destroy_workqueue} has run: the worker ends once idle. Guarded by this. */
    boolean destroyed;

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
