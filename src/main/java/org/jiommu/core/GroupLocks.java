package org.jiommu.core;

import java.util.concurrent.locks.ReentrantLock;
import org.jiommu.base.Errno;
import org.jiommu.bus.Device;

/**
 * The core's outer locks: {@link #probeLock} ({@code iommu_probe_device_lock}) and the group
 * mutexes, with the two checks every taker of a group mutex needs: no re-entry from a driver
 * callback (S20), and "is the device still in the group" for a call that looked the group up
 * before locking it ({@link #whileMember}).
 *
 * <p><b>Lock order of the whole core</b> (outermost first); a thread may take a lock only if it
 * holds none listed after it:
 * <ol>
 * <li>{@link #probeLock}: probe, release (the model serialises a device's add and removal as the
 *     driver core does), bus scans, snapshots;</li>
 * <li>the part-2 global locks: the aux lock ({@code AuxEngine.lock}, S05's one lock; RID
 *     attaches of caller domains take its read side), then the SVA lock ({@code iommu_sva_lock}).
 *     Only {@link IommuCore#snapshot()} holds both;</li>
 * <li>{@link IommuGroup#mutex} ({@code group->mutex}): one group's state; held across the driver
 *     callbacks that change it. Two group mutexes are only ever held together by
 *     {@link IommuCore#snapshot()}, in ascending group id;</li>
 * <li>driver-internal locks (taken inside driver callbacks);</li>
 * <li>the IOPF locks: an IOPF queue's lock, then a device's fault-parameter lock (the kernel's
 *     {@code queue->lock}, {@code dev->iommu->lock} / {@code fault_param->lock}); fault handlers
 *     run with none of the core's locks held;</li>
 * <li>leaf locks: the {@link CoreRegistry} (device, group, instance and domain tables), the
 *     {@link Tracer}'s trace and warning logs, fault injection. Nothing is called out while
 *     holding one.</li>
 * </ol>
 * Drivers are handed the old domain and never call back into the core from a callback (S20): a
 * re-entrant group lock is reported as a warning and refused ({@link #lock}), and
 * {@link IommuCore#getDomainForDev} warns when called with the group mutex held (Δ7.0's lockdep
 * assertion).
 */
final class GroupLocks {
    /** {@code iommu_probe_device_lock}. */
    final ReentrantLock probeLock = new ReentrantLock();
    private final Tracer tracer;

    GroupLocks(Tracer tracer) {
        this.tracer = tracer;
    }

    /**
     * Takes {@code group->mutex}. A thread already holding it is a driver calling back into the
     * core from a callback: a self-deadlock in the kernel, refused here (S20).
     */
    void lock(IommuGroup g) {
        if (g.mutex.isHeldByCurrentThread()) {
            tracer.warn("mutex_lock", "recursive locking of " + g + " mutex: a callback called back into the core"
                    + " (a self-deadlock in the kernel)");
            throw new IllegalStateException("recursive locking of " + g + " mutex");
        }
        g.mutex.lock();
    }

    /**
     * Takes {@code group->mutex} for a call naming {@code dev}, and tells whether {@code dev} is
     * still a member: a release may have taken it out between the caller's group lookup and the
     * lock (the kernel's callers hold a reference on the group, not on its membership). On false
     * the mutex is released again; on true the caller holds it and must unlock.
     */
    boolean lockMember(IommuGroup g, Device dev) {
        lock(g);
        if (g.devices.contains(dev)) {
            return true;
        }
        g.mutex.unlock();
        return false;
    }

    /**
     * Runs {@code body} under {@code group->mutex} if {@code group} is non-null and {@code dev} is
     * still one of its members (see {@link #lockMember}); answers whether it ran. Each caller then
     * returns, WARNs or fails -ENODEV on false as its kernel function does.
     */
    boolean whileMember(IommuGroup group, Device dev, Runnable body) {
        if (group == null || !lockMember(group, dev)) {
            return false;
        }
        try {
            body.run();
        } finally {
            group.mutex.unlock();
        }
        return true;
    }

    /**
     * {@link #whileMember}, failing -ENODEV ({@code prefix + dev + " left " + group}) when the
     * device is no longer a member: for calls whose kernel function needs the device.
     */
    void whileMemberOrFail(IommuGroup group, Device dev, String prefix, Runnable body) {
        if (!whileMember(group, dev, body)) {
            throw Args.err(Errno.ENODEV, prefix + dev + " left " + group);
        }
    }
}
