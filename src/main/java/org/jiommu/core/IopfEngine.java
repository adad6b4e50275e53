package org.jiommu.core;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadInfo;
import java.lang.management.ThreadMXBean;
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
 * <p><b>Locking.</b> A queue's monitor ({@code queue->lock}, also guarding its workqueue), then a
 * device's {@link FaultParam} monitor ({@code fault_param->lock}). The driver's
 * {@code page_response} is called after the param lock is released (the decision to answer is
 * taken under it), so a driver may add and remove devices from inside its attach callbacks
 * without a lock-order cycle with responses.
 *
 * <p><b>The workqueue.</b> Each {@link IopfQueue} has a workqueue ({@code queue->wq}) served by one
 * worker thread, first in first out: {@code iommu_report_device_fault} queues the complete group
 * ({@code queue_work}) and the handler runs on the worker, with none of the core's or the
 * driver's locks (issue 13 item 16). {@code iopf_queue_flush_dev} is {@code flush_workqueue}: it
 * waits for every item queued before it while its caller keeps its locks, so a PASID teardown's
 * PRQ drain sees the handler done before {@code iopf_queue_remove_device}. For results that do
 * not depend on thread scheduling, the worker only starts items that were released, and every
 * release point waits for them: a flush, the end of an outermost public core call (after its
 * RETURN), and a driver's fault thread once its locks are dropped ({@link #runWork}). That is one
 * of the kernel's schedules (a kworker that runs at once); the handler still never runs under
 * the reporter's locks. Departures, documented in docs/pasid-aux.md 6: the kernel calls
 * {@code domain->iopf_handler} in the reporter's context and only SVA's handler queues its work
 * ({@code iommu_sva_iopf_handler}); its workqueue is unbound rather than FIFO.
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

    /**
     * {@code iopf_queue_flush_dev}: WARN and -ENODEV without a fault parameter (a driver bug after
     * {@code iopf_queue_remove_device}); else {@code flush_workqueue} of the device's queue: every
     * group queued before the flush has been through its handler when this returns (the caller,
     * e.g. a PASID teardown's PRQ drain, keeps its locks meanwhile, as in the kernel).
     *
     * @return 0 or -ENODEV
     */
    int flushDev(Device dev) {
        FaultParam p = params.get(dev);
        if (p == null) {
            tracer.warn("iopf_queue_flush_dev", dev + " has no fault parameter");
            return Errno.ENODEV.neg();
        }
        flushWorkqueue(p.queue, "iopf_queue_flush_dev");
        return 0;
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

    /** {@code iopf_queue_free}: every device removed, then {@code destroy_workqueue} (drains it, the worker ends). */
    void queueFree(Object queue) {
        IopfQueue q = requireQueue(queue, "iopf_queue_free");
        for (Device dev : q.devices()) {
            removeDevice(q, dev);
        }
        flushWorkqueue(q, "iopf_queue_free");
        synchronized (q) {
            q.freed = true;
            q.destroyed = true;
            q.notifyAll();
        }
        busy.remove(q);
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
        // queue_work: the handler runs on the queue's worker, never under the reporter's locks
        queueWork(p.queue, group);
        return 0;
    }

    // ------------------------------------------------------------------------------------------
    // The workqueue (queue->wq): one worker thread per queue, FIFO
    // ------------------------------------------------------------------------------------------

    /**
     * How long a flush waits for a worker that makes no progress before it reports that
     * {@code flush_workqueue} would hang (a hang guard for lock cycles it cannot see directly, not
     * a timing rule: a worker that is merely slow is waited for again by the next release point).
     */
    static volatile long flushHangGuardMillis = Long.getLong("jiommu.iopf.hangGuardMillis", 60_000L);
    /** An idle worker thread ends after this long (a kworker going back to its pool). */
    private static final long WORKER_KEEPALIVE_MILLIS = 2_000L;
    private static final long POLL_MILLIS = 10L;
    private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

    /** {@code queue_work}: the group becomes the queue's next work item. */
    private void queueWork(IopfQueue q, IopfGroup g) {
        synchronized (q) {
            q.work.add(g);
            q.queued++;
        }
        busy.add(q);
    }

    /**
     * Lets the worker start every item queued so far (starting the thread if the queue was
     * idle). The worker only runs released items, so a handler never runs alongside the thread
     * that reported its fault unless that thread waits for it: the model's one schedule among the
     * kernel's, chosen so results do not depend on thread scheduling.
     */
    private long release(IopfQueue q) {
        synchronized (q) {
            q.released = q.queued;
            if (q.worker == null && q.started < q.released) {
                Thread t = new Thread(() -> workerLoop(q), "iopf_queue/" + q.name());
                t.setDaemon(true);
                q.worker = t;
                t.start();
            }
            q.notifyAll();
            return q.released;
        }
    }

    /** The worker: takes released items in order and hands each to {@code iopf_handler}. */
    private void workerLoop(IopfQueue q) {
        Thread self = Thread.currentThread();
        while (true) {
            IopfGroup g;
            synchronized (q) {
                long idleSince = System.nanoTime();
                while (q.started >= q.released) {
                    long idle = (System.nanoTime() - idleSince) / 1_000_000L;
                    if (q.destroyed || idle >= WORKER_KEEPALIVE_MILLIS) {
                        if (q.worker == self) {
                            q.worker = null;
                        }
                        return;
                    }
                    try {
                        q.wait(WORKER_KEEPALIVE_MILLIS - idle);
                    } catch (InterruptedException e) {
                        // the worker has no one to report to: keep serving the queue
                    }
                }
                g = q.work.poll();
                q.started++;
            }
            try {
                handle(g);
            } catch (RuntimeException | Error e) {
                // a kworker that oopses takes the machine down; here the report keeps the model going
                tracer.warn("iopf_handler", "handler of " + g + " threw " + e);
            } finally {
                synchronized (q) {
                    q.done++;
                    q.notifyAll();
                }
            }
        }
    }

    /**
     * {@code flush_workqueue(queue->wq)}: releases every item queued so far and waits until each
     * has finished, keeping whatever locks the caller holds (as the kernel's flush does). A wait
     * that cannot end is reported as a WARN-class finding, "flush_workqueue would hang", and the
     * flush returns without the work done: the worker waiting for a lock the flushing thread holds
     * (a handler taking the group mutex under a PASID teardown's drain deadlocks in the kernel),
     * a flush from the queue's own worker, or no progress within {@link #flushHangGuardMillis}.
     *
     * @return true if the work finished
     */
    boolean flushWorkqueue(IopfQueue q, String fn) {
        long upTo = release(q);
        Thread self = Thread.currentThread();
        long lastDone = -1;
        long lastProgress = System.nanoTime();
        while (true) {
            Thread worker;
            synchronized (q) {
                if (q.done >= upTo) {
                    return true;
                }
                worker = q.worker;
                if (worker == self) {
                    break; // its own worker: the item in flight is this thread's
                }
                if (q.done != lastDone) {
                    lastDone = q.done;
                    lastProgress = System.nanoTime();
                }
                try {
                    q.wait(POLL_MILLIS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return false;
                }
                if (q.done >= upTo) {
                    return true;
                }
            }
            // outside the queue's monitor, or the worker waiting to enter it would look deadlocked
            String cycle = worker == null ? null : blockedOnCaller(worker, self);
            if (cycle == null && (System.nanoTime() - lastProgress) / 1_000_000L < flushHangGuardMillis) {
                continue;
            }
            tracer.warn(fn, "flush_workqueue would hang: " + q + (cycle != null ? ": its worker waits for " + cycle
                    + ", held by the flushing thread" : ": no progress in " + flushHangGuardMillis + " ms"));
            return false;
        }
        tracer.warn(fn, "flush_workqueue would hang: " + q + " flushed from its own worker");
        return false;
    }

    /** The lock {@code worker} is blocked on if {@code owner} holds it, else null. */
    private static String blockedOnCaller(Thread worker, Thread owner) {
        ThreadInfo info = THREADS.getThreadInfo(worker.getId());
        if (info == null || info.getLockOwnerId() != owner.getId()) {
            return null;
        }
        return String.valueOf(info.getLockName());
    }

    /**
     * A release point: every queue with work lets its worker run it and waits for it (the end of
     * an outermost public core call, after its RETURN; a driver's fault thread once its locks are
     * dropped). A queue's own worker does not wait for itself: its work goes on after the handler.
     */
    void runPending() {
        if (busy.isEmpty()) {
            return;
        }
        for (IopfQueue q : List.copyOf(busy)) {
            boolean own;
            synchronized (q) {
                own = q.worker == Thread.currentThread();
            }
            if (own) {
                release(q);
                continue;
            }
            flushWorkqueue(q, "iopf workqueue");
            synchronized (q) {
                if (q.done >= q.queued) {
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

    /**
     * A driver's fault thread, once its own locks are dropped, lets the queue's worker run what it
     * reported and waits for it (the model's schedule; the kernel's IRQ thread does not wait).
     */
    void runWork(Object queue) {
        IopfQueue q = requireQueue(queue, "iopf_queue work");
        boolean own;
        synchronized (q) {
            own = q.worker == Thread.currentThread();
        }
        if (own) {
            release(q);
        } else {
            flushWorkqueue(q, "iopf workqueue");
        }
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
