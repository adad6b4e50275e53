package org.jiommu.core;

import java.util.BitSet;
import java.util.Map;
import org.jiommu.bus.Device;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.mm.MmStruct;

/**
 * Test-only access to the core's package-private state, to break invariants on purpose and show
 * that the checker (org.jiommu.check) notices. Nothing in the model uses it.
 */
public final class CoreCorruption {
    private CoreCorruption() {
    }

    public static void setDomain(IommuGroup g, IommuDomain d) {
        g.domain = d;
    }

    public static void setDefaultDomain(IommuGroup g, IommuDomain d) {
        g.defaultDomain = d;
    }

    public static void setBlockingDomain(IommuGroup g, IommuDomain d) {
        g.blockingDomain = d;
    }

    public static void setOwner(IommuGroup g, Object owner, int ownerCnt) {
        g.owner = owner;
        g.ownerCnt = ownerCnt;
    }

    /** Puts a bare-domain entry in the group's PASID array. */
    public static void putPasid(IommuGroup g, int pasid, IommuDomain d) {
        g.pasidArray.put(pasid, new PasidEntry.DomainEntry(d));
    }

    public static void setAttachDeferred(Device dev, IommuCore core, boolean v) {
        core.devIommuOf(dev).attachDeferred = v;
    }

    public static void setRequireDirect(Device dev, IommuCore core, boolean v) {
        core.devIommuOf(dev).requireDirect = v;
    }

    /** Makes a device's {@code dev->iommu_group} point at {@code g} without listing it there. */
    public static void setDeviceGroup(Device dev, IommuCore core, IommuGroup g) {
        core.cdev(dev).group = g;
    }

    /** Holds {@code group->mutex} on this thread (a locking core call from here then fails). */
    public static void lockGroup(IommuGroup g) {
        g.mutex.lock();
    }

    public static void unlockGroup(IommuGroup g) {
        g.mutex.unlock();
    }

    /** Puts a handle entry naming {@code d} in the group's PASID array (what the group-handle API stores). */
    public static void putPasidHandle(IommuGroup g, int pasid, IommuDomain d) {
        AttachHandle h = new AttachHandle();
        h.setDomain(d);
        g.pasidArray.put(pasid, new PasidEntry.HandleEntry(h));
    }

    /** Leaves a reservation placeholder ({@code XA_ZERO_ENTRY}) in the group's PASID array. */
    public static void leakPasidReservation(IommuGroup g, int pasid) {
        g.pasidArray.put(pasid, PasidEntry.Reserved.INSTANCE);
    }

    /**
     * Marks {@code pasid} allocated in the global PASID allocator, under {@code maxPasids}, as a
     * broken allocator would (the allocator itself never hands out 0 nor an id beyond the limit).
     */
    @SuppressWarnings("unchecked")
    public static void forceGlobalPasid(IommuCore core, int pasid, int maxPasids) {
        try {
            var used = GlobalPasidAllocator.class.getDeclaredField("used");
            var limits = GlobalPasidAllocator.class.getDeclaredField("limits");
            used.setAccessible(true);
            limits.setAccessible(true);
            synchronized (core.globalPasids) {
                ((BitSet) used.get(core.globalPasids)).set(pasid);
                ((Map<Integer, Integer>) limits.get(core.globalPasids)).put(pasid, maxPasids);
            }
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Frees a global PASID behind its owner's back. */
    public static void freeGlobalPasid(IommuCore core, int pasid) {
        core.globalPasids.free(pasid);
    }

    /** Gives {@code mm} another PASID in {@code mm->iommu_mm}, keeping its SVA domains. */
    public static void setMmPasid(IommuCore core, MmStruct mm, int pasid) {
        SvaEngine.IommuMm old = core.sva.mms.get(mm);
        SvaEngine.IommuMm moved = new SvaEngine.IommuMm(pasid);
        moved.svaDomains.addAll(old.svaDomains);
        core.sva.mms.put(mm, moved);
    }

    /** Adds {@code delta} to an SVA domain's {@code users}. */
    public static void addSvaUsers(IommuCore core, IommuDomain svaDomain, int delta) {
        core.sva.domains.get(svaDomain).users += delta;
    }

    /** Sets a page request group's pending flag and response count. */
    public static void setIopfAnswered(IopfGroup g, boolean pending, int responses) {
        synchronized (g.param) {
            g.pending = pending;
            g.responses = responses;
        }
    }
}
