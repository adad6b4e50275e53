package org.jiommu.core;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.locks.ReentrantLock;
import org.jiommu.bus.Device;
import org.jiommu.core.spi.GroupRef;
import org.jiommu.core.spi.IommuDomain;

/**
 * {@code struct iommu_group} (SEMANTICS.md 2.4): devices that cannot be isolated from each other
 * and therefore share one RID domain. Compared by identity.
 *
 * <p><b>Locking.</b> {@link #mutex} is the kernel's {@code group->mutex}: it serialises every state
 * change of the group (devices, domain, default/blocking domain, ownership, PASID slots) and is held
 * across the driver callbacks those changes make. The lock order of the whole core is written in
 * {@link IommuCore}: probe lock, then group mutexes (several only in ascending id order, for
 * snapshots), then driver-internal locks, then the core's leaf locks (registry, trace, fault
 * injection). The fields read without the mutex ({@code iommu_get_domain_for_dev},
 * {@code iommu_attach_handle_get}) are volatile or live in a concurrent map, as the kernel reads
 * them locklessly or under the xarray's own lock.
 *
 * <p>Public methods here are read-only views; every change goes through {@link IommuCore}.
 */
public final class IommuGroup implements GroupRef {
    /** {@code group->mutex}. */
    final ReentrantLock mutex = new ReentrantLock();

    private final int id;

    /** Member devices in insertion order (rollback order matters, I-ORDER). Guarded by {@link #mutex}. */
    final List<Device> devices = new ArrayList<>();

    /**
     * {@code pasid_array}: the xarray has its own lock, so lookups ({@code attach_handle_get}) do
     * not take the mutex; writers still hold the mutex.
     */
    final ConcurrentSkipListMap<Integer, PasidEntry> pasidArray = new ConcurrentSkipListMap<>();

    volatile IommuDomain defaultDomain;
    volatile IommuDomain blockingDomain;
    volatile IommuDomain domain;
    /** Δ7.0: non-null while a PCI reset of a member is in progress (equals the blocking domain). */
    volatile IommuDomain resettingDomain;

    /** Guarded by {@link #mutex}. */
    int ownerCnt;
    /** Guarded by {@link #mutex}. The exclusive user-space owner's token, or null. */
    Object owner;

    /** Queued on a bus-scan group list, default domain setup pending. Guarded by the probe lock. */
    boolean queuedForSetup;

    /** Reference count (kobject refs): members, the singleton cache, helpers in flight. Guarded by the core registry lock. */
    int refs = 1;
    /** Released: the id is free again and the object must not be used. */
    volatile boolean released;

    IommuGroup(int id) {
        this.id = id;
    }

    @Override
    public int id() {
        return id;
    }

    /** True once the last reference went (the kernel would have freed the group). */
    public boolean isReleased() {
        return released;
    }

    /** Members in insertion order. */
    public List<Device> devices() {
        mutex.lock();
        try {
            return List.copyOf(devices);
        } finally {
            mutex.unlock();
        }
    }

    /** The domain all members are attached to for DMA without PASID (lockless read, as the kernel's). */
    public IommuDomain domain() {
        return domain;
    }

    public IommuDomain defaultDomain() {
        return defaultDomain;
    }

    public IommuDomain blockingDomain() {
        return blockingDomain;
    }

    /** Δ7.0 PCI reset in progress: the blocking domain; else null. */
    public IommuDomain resettingDomain() {
        return resettingDomain;
    }

    public int ownerCnt() {
        mutex.lock();
        try {
            return ownerCnt;
        } finally {
            mutex.unlock();
        }
    }

    /** The owner token of an explicit (user-space) owner, or null. */
    public Object owner() {
        mutex.lock();
        try {
            return owner;
        } finally {
            mutex.unlock();
        }
    }

    /** The PASID slots that are not mere reservations, in PASID order. */
    public Map<Integer, PasidEntry> pasidEntries() {
        Map<Integer, PasidEntry> out = new TreeMap<>();
        pasidArray.forEach((p, e) -> {
            if (e != PasidEntry.Reserved.INSTANCE) {
                out.put(p, e);
            }
        });
        return Collections.unmodifiableMap(out);
    }

    /** Name for messages: {@code group 3 (nic0, nic1)}. Call with the mutex held or accept a racy list. */
    String describe() {
        return "group " + id + " " + devices;
    }

    @Override
    public String toString() {
        return "group" + id;
    }
}
