package org.jiommu.core;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.jiommu.base.Errno;
import org.jiommu.bus.Device;
import org.jiommu.core.spi.DomainType;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.core.spi.IommuOps;
import org.jiommu.core.spi.IopfFault;
import org.jiommu.mm.MmStruct;
import org.jiommu.core.spi.PageResponse;

/**
 * I/O page faults ({@code io-pgfault.c}, ≥v6.12 shape, SEMANTICS.md 10): per-device fault
 * parameters on queues, reporting (routing a request to the handler of the domain attached at its
 * PASID, assembling groups from partial requests), page responses at most once per group, and
 * the SVA handler that resolves faults against the bound mm.
 *
 * <p><b>Locking.</b> A queue's monitor ({@code queue->lock}), then a device's {@link FaultParam}
 * monitor ({@code fault_param->lock}). Handlers run with none of the core's or the driver's locks
 * held: {@code iommu_report_device_fault} only queues the complete group on the device's queue
 * (the kernel's {@code queue_work} on the IOPF workqueue), and the queue's work runs where the
 * model has no lock to hold, standing in for the kernel's kworker: at the end of the outermost
 * public core call on the thread ({@link #runPending}, so a report made under a PASID teardown's
 * drain is handled once the group mutex, the driver's unit lock and its PRQ lock are gone), and
 * when a driver's fault thread asks for it after dropping its own locks ({@link #runWork}). The
 * driver's
 * {@code page_response} is called after the param lock is released (the decision to answer is
 * taken under it), so a driver may add and remove devices from inside its attach callbacks
 * without a lock-order cycle with responses.
 */
final class IopfEngine {
    /** {@code struct iommu_fault_param}. Its monitor is {@code fault_param->lock}. */
    static final class FaultParam {
        final IopfQueue queue;
        final Device dev;
        /** Requests of groups whose last request has not come. */
        final List<IopfFault> partial = new ArrayList<>();
        /** Groups not yet freed, by serial: pending or answered. */
        final LinkedHashMap<Long, IopfGroup> groups = new LinkedHashMap<>();

        FaultParam(IopfQueue queue, Device dev) {
            this.queue = queue;
            this.dev = dev;
        }
    }

    private final Tracer tracer;
    private final CoreRegistry registry;
    /** {@code domain->iopf_handler}. */
    final Map<IommuDomain, IopfHandler> handlers = new ConcurrentHashMap<>();
    /** {@code dev->iommu->fault_param} (RCU-published in the kernel). */
    final Map<Device, FaultParam> params = new ConcurrentHashMap<>();
    private final AtomicLong groupSeq = new AtomicLong();
    /** Queues with work not yet run. */
    private final Set<IopfQueue> busy = ConcurrentHashMap.newKeySet();

    IopfEngine(Tracer tracer, CoreRegistry registry) {
        this.tracer = tracer;
        this.registry = registry;
    }

    // ------------------------------------------------------------------------------------------
    // Handlers
    // ------------------------------------------------------------------------------------------

    /** An SVA domain's handler resolves faults against its mm ({@code iommu_sva_iopf_handler}). */
    void setSvaHandler(IommuDomain d, MmStruct mm) {
        handlers.put(d, group -> svaHandle(group, mm));
        d.setIopfHandlerPresent(true);
    }

    void setHandler(IommuDomain d, IopfHandler h) {
        if (h == null) {
            clearHandler(d);
        } else {
            handlers.put(d, h);
            d.setIopfHandlerPresent(true);
        }
    }

    void clearHandler(IommuDomain d) {
        handlers.remove(d);
        d.setIopfHandlerPresent(false);
    }

    /**
     * {@code iommu_sva_handle_iopf}: each request in order against the mm (no PASID, an exited mm,
     * no VMA or missing rights: INVALID; {@code handle_mm_fault} errors are INVALID too); the
     * first non-SUCCESS stops; the group is answered and freed.
     */
    private int svaHandle(IopfGroup group, MmStruct mm) {
        PageResponse.Code status = PageResponse.Code.SUCCESS;
        for (IopfFault f : group.faults()) {
            if (!f.pasidValid() || mm.exited()) {
                status = PageResponse.Code.INVALID;
                break;
            }
            boolean write = (f.perm() & IopfFault.PERM_WRITE) != 0;
            boolean exec = (f.perm() & IopfFault.PERM_EXEC) != 0;
            if (mm.handleMmFault(f.addr(), write, exec) != MmStruct.FaultResult.SUCCESS) {
                status = PageResponse.Code.INVALID;
                break;
            }
        }
        groupResponse(group, status);
        freeGroup(group);
        return 0;
    }

    // ------------------------------------------------------------------------------------------
    // Queues
    // ------------------------------------------------------------------------------------------

    IopfQueue queueAlloc(String name) {
        if (name == null || name.isEmpty()) {
            throw Args.err(Errno.EINVAL, "iopf_queue_alloc: name must not be empty");
        }
        if (tracer.shouldFailAlloc("iopf_queue_alloc " + name)) {
            throw Args.err(Errno.ENOMEM, "iopf_queue_alloc: no memory for " + name);
        }
        return new IopfQueue(name);
    }

    private static IopfQueue requireQueue(Object q, String fn) {
        if (!(q instanceof IopfQueue)) {
            throw Args.err(Errno.EINVAL, fn + ": " + q + " is not a queue of this core");
        }
        return (IopfQueue) q;
    }

    int addDevice(Object queue, Device dev) {
        final String fn = "iopf_queue_add_device";
        IopfQueue q = requireQueue(queue, fn);
        Args.requireDevice(dev, fn);
        DevIommu di = registry.devIommuOf(dev);
        IommuOps ops = di == null || di.iommuDev == null ? null : di.ops();
        if (ops == null || ops.pageResponse() == null) {
            return Errno.ENODEV.neg();
        }
        synchronized (q) {
            if (q.freed) {
                return Errno.ENODEV.neg();
            }
            if (params.containsKey(dev)) {
                return Errno.EBUSY.neg();
            }
            if (tracer.shouldFailAlloc("iommu_fault_param " + dev)) {
                return Errno.ENOMEM.neg();
            }
            params.put(dev, new FaultParam(q, dev));
            q.devices.add(dev);
        }
        tracer.trace(TraceEvent.Kind.LOG, fn, dev + " on " + q);
        return 0;
    }

    void removeDevice(Object queue, Device dev) {
        final String fn = "iopf_queue_remove_device";
        IopfQueue q = requireQueue(queue, fn);
        Args.requireDevice(dev, fn);
        List<IopfGroup> answer = new ArrayList<>();
        synchronized (q) {
            FaultParam p = params.get(dev);
            if (p == null || p.queue != q) {
                tracer.warn(fn, dev + " is not on " + q);
                return;
            }
            synchronized (p) {
                p.partial.clear();
                // every pending group is answered INVALID and freed; a late response is a no-op
                for (IopfGroup g : p.groups.values()) {
                    if (g.pending) {
                        g.pending = false;
                        g.responses++;
                        answer.add(g);
                    }
                    g.freed = true;
                }
                p.groups.clear();
            }
            params.remove(dev);
            q.devices.remove(dev);
        }
        for (IopfGroup g : answer) {
            sendResponse(g, PageResponse.Code.INVALID);
        }
    }

    void flushDev(Device dev) {
        if (!params.containsKey(dev)) {
            tracer.warn("iopf_queue_flush_dev", dev + " has no fault parameter");
            throw Args.err(Errno.ENODEV, "iopf_queue_flush_dev: " + dev + " has no fault parameter");
        }
        // The kernel waits here for the work queued for dev. The model cannot run it here: the
        // caller (a PASID drain) holds the group mutex and driver locks, and handlers run with
        // none held. The work runs when the caller's outermost core call ends (runPending).
    }

    void discardPartial(Object queue) {
        if (queue == null) {
            throw Args.err(Errno.EINVAL, "iopf_queue_discard_partial: queue is null");
        }
        IopfQueue q = requireQueue(queue, "iopf_queue_discard_partial");
        synchronized (q) {
            for (Device dev : q.devices) {
                FaultParam p = params.get(dev);
                synchronized (p) {
                    p.partial.clear();
                }
            }
        }
    }

    void queueFree(Object queue) {
        IopfQueue q = requireQueue(queue, "iopf_queue_free");
        for (Device dev : q.devices()) {
            removeDevice(q, dev);
        }
        synchronized (q) {
            q.freed = true;
        }
    }

    // ------------------------------------------------------------------------------------------
    // Reporting and responses
    // ------------------------------------------------------------------------------------------

    /**
     * {@code find_fault_handler}: the handle at the fault's PASID (or at PASID 0 for a request
     * without one; with a user-owned PASID table, a NESTED handle at PASID 0), whose domain has a
     * handler; null if none.
     */
    private AttachHandle findHandle(Device dev, IopfFault f) {
        IommuGroup g = registry.groupOf(dev);
        if (g == null) {
            return null;
        }
        AttachHandle h = null;
        if (f.pasidValid()) {
            h = handleAt(g, f.pasid(), null);
            DevIommu di = registry.devIommuOf(dev);
            if (h == null && di != null && di.iommuDev != null && di.ops().userPasidTable()) {
                h = handleAt(g, IommuCore.IOMMU_NO_PASID, DomainType.NESTED);
            }
        } else {
            h = handleAt(g, IommuCore.IOMMU_NO_PASID, null);
        }
        return h != null && handlers.containsKey(h.domain()) ? h : null;
    }

    private static AttachHandle handleAt(IommuGroup g, int pasid, DomainType type) {
        PasidEntry e = g.pasidArray.get(pasid);
        if (!(e instanceof PasidEntry.HandleEntry)) {
            return null;
        }
        AttachHandle h = ((PasidEntry.HandleEntry) e).handle();
        return type == null || h.domain().type() == type ? h : null;
    }

    /**
     * {@code iommu_report_device_fault}: route a page request to the handler of the domain at its
     * PASID. A request nobody handles is answered INVALID and is -EINVAL; a non-last request is
     * kept until its group's last one; a complete group goes to the handler (a handler error is
     * answered FAILURE). Called by drivers; public for scenarios.
     * Returns 0 or -errno (SEMANTICS.md 10, steps a-e).
     */
    int report(Device dev, IopfFault f) {
        final String fn = "iommu_report_device_fault";
        Args.requireDevice(dev, fn);
        if (f == null) {
            throw Args.err(Errno.EINVAL, fn + ": fault is null");
        }
        tracer.trace(TraceEvent.Kind.LOG, fn, dev + " " + f);
        AttachHandle h = findHandle(dev, f);
        FaultParam p = h == null ? null : params.get(dev);
        if (h != null && p == null) {
            tracer.warn(fn, dev + " reports a fault but has no fault parameter (not on an IOPF queue)");
        }
        if (p == null) {
            // err_bad_iopf: a page request must be answered, or the device waits for ever
            respondUnrouted(dev, f);
            return Errno.EINVAL.neg();
        }
        IopfGroup group;
        synchronized (p) {
            if (!f.last()) {
                if (tracer.shouldFailAlloc("iopf partial fault " + dev)) {
                    return Errno.ENOMEM.neg();
                }
                p.partial.add(f);
                return 0;
            }
            // the group's allocation; on failure the kernel answers through an on-stack abort group
            boolean abort = tracer.shouldFailAlloc("iopf_group " + dev);
            List<IopfFault> faults = new ArrayList<>();
            p.partial.removeIf(x -> {
                if (x.grpid() == f.grpid()) {
                    faults.add(x);
                    return true;
                }
                return false;
            });
            faults.add(f);
            group = new IopfGroup(groupSeq.incrementAndGet(), dev, faults, h, p);
            if (abort) {
                group.pending = false;
                group.responses++;
                group.freed = true;
            } else {
                p.groups.put(group.serial, group);
            }
        }
        if (group.freed) {
            sendResponse(group, PageResponse.Code.FAILURE);
            return 0;
        }
        // queue_work: the handler runs from the queue's work, never under the reporter's locks
        synchronized (p.queue) {
            p.queue.work.add(group);
        }
        busy.add(p.queue);
        return 0;
    }

    /**
     * The IOPF workqueue's worker for {@code q}: hands each queued group to the handler of the
     * domain it was routed to (a handler error is answered FAILURE), until the queue is empty,
     * so the caller's own reports are handled when it returns (a device waits for its page
     * response). The caller holds no core or driver lock. One thread runs a queue's work at a
     * time (an ordered workqueue): another thread's item in flight is waited for; a handler's
     * own nested core call does not run the queue again. A group answered and freed meanwhile
     * (its device left the queue) is skipped.
     */
    void runWork(IopfQueue q) {
        Thread self = Thread.currentThread();
        while (true) {
            IopfGroup g;
            synchronized (q) {
                if (q.runner == self) {
                    return; // a handler's nested core call: the outer loop goes on
                }
                while (q.runner != null) {
                    try {
                        q.wait();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        return;
                    }
                }
                if (q.work.isEmpty()) {
                    return;
                }
                q.runner = self;
                g = q.work.poll();
            }
            try {
                handle(g);
            } finally {
                synchronized (q) {
                    q.runner = null;
                    q.notifyAll();
                }
            }
        }
    }

    /** Runs the work of every queue that has some: the end of an outermost public core call. */
    void runPending() {
        if (busy.isEmpty()) {
            return;
        }
        for (IopfQueue q : List.copyOf(busy)) {
            runWork(q);
            synchronized (q) {
                if (q.work.isEmpty() && q.runner == null) {
                    busy.remove(q);
                }
            }
        }
    }

    /** {@code iopf_handler} of one work item. */
    private void handle(IopfGroup group) {
        synchronized (group.param) {
            if (group.freed) {
                return;
            }
        }
        AttachHandle h = group.handle;
        IopfHandler handler = handlers.get(h.domain());
        int ret = handler == null ? Errno.ENODEV.neg() : handler.handle(group);
        tracer.trace(TraceEvent.Kind.LOG, "iopf_handler", "handler of " + h.domain() + " for " + group + " = " + ret);
        if (ret != 0) {
            groupResponse(group, PageResponse.Code.FAILURE);
            freeGroup(group);
        }
    }

    /** A driver's fault thread runs the queue's work once its own locks are dropped. */
    void runWork(Object queue) {
        runWork(requireQueue(queue, "iopf_queue work"));
    }

    /** The INVALID answer to a request no handler takes (no group was built). */
    private void respondUnrouted(Device dev, IopfFault f) {
        DevIommu di = registry.devIommuOf(dev);
        IommuOps ops = di == null || di.iommuDev == null ? null : di.ops();
        if (ops == null || ops.pageResponse() == null) {
            return;
        }
        PageResponse msg = new PageResponse(f.pasidValid(), f.pasid(), f.grpid(), PageResponse.Code.INVALID);
        ops.pageResponse().pageResponse(dev, f, msg);
        tracer.trace(TraceEvent.Kind.DRIVER, "page_response", "(" + dev + ", " + msg + ")");
    }

    /** {@code iopf_group_response}: the first answer goes to the hardware, any later one is dropped. */
    void groupResponse(IopfGroup g, PageResponse.Code code) {
        if (g == null || code == null) {
            throw Args.err(Errno.EINVAL, "iopf_group_response: group and code must be given");
        }
        synchronized (g.param) {
            if (!g.pending) {
                return;
            }
            g.pending = false;
            g.responses++;
        }
        sendResponse(g, code);
    }

    private void sendResponse(IopfGroup g, PageResponse.Code code) {
        IopfFault last = g.lastFault();
        DevIommu di = registry.devIommuOf(g.dev);
        IommuOps ops = di == null || di.iommuDev == null ? null : di.ops();
        PageResponse msg = new PageResponse(last.pasidValid(), last.pasid(), last.grpid(), code);
        if (ops != null && ops.pageResponse() != null) {
            ops.pageResponse().pageResponse(g.dev, last, msg);
            tracer.trace(TraceEvent.Kind.DRIVER, "page_response", "(" + g.dev + ", " + msg + ")");
        }
    }

    /** {@code iopf_free_group}: the group leaves its device's list. */
    void freeGroup(IopfGroup g) {
        if (g == null) {
            throw Args.err(Errno.EINVAL, "iopf_free_group: group is null");
        }
        synchronized (g.param) {
            g.freed = true;
            g.param.groups.remove(g.serial);
        }
    }

    /** Per device with a fault parameter: queue, partial count, pending groups, response counts. */
    Map<Device, CoreSnapshot.IopfState> snapshot() {
        Map<Device, CoreSnapshot.IopfState> out = new LinkedHashMap<>();
        for (Map.Entry<Device, FaultParam> e : params.entrySet()) {
            FaultParam p = e.getValue();
            synchronized (p) {
                List<Long> pending = new ArrayList<>();
                Map<Long, Integer> responses = new TreeMap<>();
                for (IopfGroup g : p.groups.values()) {
                    if (g.pending) {
                        pending.add(g.serial);
                    }
                    responses.put(g.serial, g.responses);
                }
                out.put(e.getKey(), new CoreSnapshot.IopfState(p.queue.name(), p.partial.size(), List.copyOf(pending),
                        Collections.unmodifiableMap(responses)));
            }
        }
        return Collections.unmodifiableMap(out);
    }
}
