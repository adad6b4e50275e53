package org.jiommu.core.spi;

import java.util.List;

/**
 * What a driver may read of {@code dev->iommu} (SEMANTICS.md 2.3). The core owns and writes it;
 * the driver owns {@link #priv()}.
 */
public interface DevIommuView {
    /** The IOMMU instance {@code probe_device} returned (non-null once the device has an IOMMU). */
    IommuDevice iommuDevice();

    /** Firmware IDs (stream IDs, ...) of the device's fwspec. */
    List<Integer> fwspecIds();

    /** {@code min(device PASID capability, iommu.max_pasids)}; 0 = no PASID support. */
    int maxPasids();

    /** {@code attach_deferred}: the first driver attach has not happened yet. */
    boolean attachDeferred();

    /** {@code require_direct}: the device has an IOMMU_RESV_DIRECT region the core has seen. */
    boolean requireDirect();

    /** {@code dev_iommu_priv_get}. */
    Object priv();

    /** {@code dev_iommu_priv_set}. */
    void setPriv(Object priv);
}
