package org.jiommu.core.spi;

import org.jiommu.base.WarningSink;
import org.jiommu.bus.Device;

/**
 * What the core exports to drivers: the kernel's EXPORT_SYMBOL helpers a driver may call from its
 * ops. A driver gets it from the core at construction and keeps it.
 *
 * <p>Locking: the group helpers are for {@code device_group} (called under the global probe lock,
 * never the group mutex). {@link #driverGetDomainForDev} is the only lookup allowed inside
 * attach callbacks (Δ7.0); {@link #getDomainForDev} records a lockdep-style warning when called
 * with the device's group mutex held (S20).
 */
public interface CoreServices {
    /** {@code generic_device_group}: always a new group. */
    GroupRef genericDeviceGroup(Device dev);

    /** {@code generic_single_device_group}: one group per IOMMU instance. */
    GroupRef genericSingleDeviceGroup(Device dev);

    /** {@code pci_device_group}: the PCI grouping rule (WARN and -EINVAL for non-PCI devices). */
    GroupRef pciDeviceGroup(Device dev);

    /**
     * {@code iommu_group_get}: the group of an already probed device, with a reference the caller
     * hands back from {@code device_group}; null if it has none.
     */
    GroupRef groupGet(Device dev);

    /** {@code dev->iommu}, or null before probe / after release. */
    DevIommuView devIommu(Device dev);

    /** {@code iommu_driver_get_domain_for_dev} (Δ7.0): requires the group mutex held. */
    IommuDomain driverGetDomainForDev(Device dev);

    /** {@code iommu_get_domain_for_dev}: must not be called with the group mutex held (Δ7.0). */
    IommuDomain getDomainForDev(Device dev);

    /** Where a driver reports its WARNs; they land in the core's warning log and trace. */
    WarningSink warnings();

    /**
     * Fault injection shared by core and drivers ({@code fail_nth}): true if this allocation must
     * fail. Drivers ask it at each allocation site they model (domain structs, per-device state).
     *
     * @param site what is being allocated, for the trace
     */
    boolean shouldFailAlloc(String site);

    /** {@code iopf_queue_alloc}: a fault queue for the driver's devices. */
    default IopfQueueRef iopfQueueAlloc(String name) {
        throw new UnsupportedOperationException("iopf_queue_alloc");
    }

    /**
     * {@code iopf_queue_add_device}: the driver's attach path enables recoverable faults for
     * {@code dev} (first IOPF-capable attachment). 0 or -errno (-ENODEV without page_response,
     * -EBUSY if already added, -ENOMEM). Takes no group mutex: callable from attach callbacks,
     * but not with driver-internal locks held.
     */
    default int iopfQueueAddDevice(IopfQueueRef q, Device dev) {
        throw new UnsupportedOperationException("iopf_queue_add_device");
    }

    /** {@code iopf_queue_remove_device}: the last IOPF-capable attachment went; pending groups get INVALID. */
    default void iopfQueueRemoveDevice(IopfQueueRef q, Device dev) {
        throw new UnsupportedOperationException("iopf_queue_remove_device");
    }

    /**
     * The IOPF workqueue's worker (the kernel's kworker, which the model does not have): runs the
     * handlers of the fault groups queued on {@code q}. A driver's fault thread calls it after
     * dropping its own locks, so handlers never run under them.
     */
    default void iopfQueueRunWork(IopfQueueRef q) {
        throw new UnsupportedOperationException("iopf workqueue");
    }

    /**
     * {@code iommu_report_device_fault}: 0, or -errno after answering the request INVALID where the
     * kernel does. A complete group is queued for its handler, not handled here.
     */
    default int reportDeviceFault(Device dev, IopfFault fault) {
        throw new UnsupportedOperationException("iommu_report_device_fault");
    }
}
