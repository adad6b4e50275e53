package org.jiommu.core;

import org.jiommu.bus.Device;

/**
 * {@code struct iommu_sva}: a bond between a device and a process address space, returned by
 * {@link IommuCore#svaBindDevice}. Binding the same (device, mm) again returns the same handle
 * with one more user; the PASID attachment goes with the last {@link IommuCore#svaUnbindDevice}.
 * It is the attach handle stored in the group's PASID slot. Compared by identity.
 */
public final class SvaHandle extends AttachHandle {
    private final Device dev;
    /** {@code handle->users}: binds not yet unbound. Guarded by the SVA lock. */
    int users;

    SvaHandle(Device dev) {
        this.dev = dev;
    }

    /** The device the bond was made for. */
    public Device device() {
        return dev;
    }

    /** Binds not yet unbound (0 once the bond is gone). */
    public int users() {
        return users;
    }

    @Override
    public String toString() {
        return "sva(" + dev + ", " + domain() + ")";
    }
}
