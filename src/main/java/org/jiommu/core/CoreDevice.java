package org.jiommu.core;

import java.util.List;
import org.jiommu.bus.Device;
import org.jiommu.core.spi.IommuDevice;

/**
 * Everything the core knows about one {@link Device}: its firmware description (fwspec), whether
 * it is on its bus, {@code dev->iommu} and {@code dev->iommu_group}. The fwspec outlives a
 * release (firmware describes the device again when it is re-added).
 */
final class CoreDevice {
    final Device dev;
    /** fwspec: the IOMMU instance firmware names for the device, and the IDs it uses there. */
    volatile IommuDevice fwspecIommu;
    volatile List<Integer> fwspecIds = List.of();
    /** On its bus (boot-time or hot-added, not yet removed). */
    volatile boolean onBus;
    /** {@code dev->iommu}: non-null between init and deinit. */
    volatile DevIommu iommu;
    /** {@code dev->iommu_group}: non-null once probed; holds one group reference. */
    volatile IommuGroup group;
    /** {@code dev->dma_iommu}: the DMA API goes through the IOMMU (the default domain is a DMA domain). */
    volatile boolean dmaIommu;

    CoreDevice(Device dev) {
        this.dev = dev;
    }
}
