package org.jiommu.core;

import org.jiommu.bus.Device;
import org.jiommu.core.spi.IommuDomain;

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
}
