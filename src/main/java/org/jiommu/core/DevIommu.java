package org.jiommu.core;

import java.util.List;
import org.jiommu.bus.Device;
import org.jiommu.core.spi.DevIommuView;
import org.jiommu.core.spi.IommuDevice;
import org.jiommu.core.spi.IommuOps;

/**
 * {@code struct dev_iommu} (SEMANTICS.md 2.3): the core's per-device IOMMU state, from
 * {@code iommu_init_device} to {@code iommu_deinit_device}. Written by the core under the probe
 * lock or the group mutex; read locklessly (volatile fields).
 */
public final class DevIommu implements DevIommuView {
    private final Device dev;
    private final IommuDevice fwspecIommu;
    private final List<Integer> fwspecIds;
    volatile IommuDevice iommuDev;
    volatile int maxPasids;
    /** I-DEFERRED: only ever goes from true to false. */
    volatile boolean attachDeferred;
    /** Set (never cleared while this object lives) when a DIRECT region is seen. */
    volatile boolean requireDirect;
    private volatile Object priv;

    DevIommu(Device dev, IommuDevice fwspecIommu, List<Integer> fwspecIds) {
        this.dev = dev;
        this.fwspecIommu = fwspecIommu;
        this.fwspecIds = List.copyOf(fwspecIds);
    }

    public Device device() {
        return dev;
    }

    /** The instance firmware says translates the device (fwspec). */
    public IommuDevice fwspecIommu() {
        return fwspecIommu;
    }

    @Override
    public IommuDevice iommuDevice() {
        return iommuDev;
    }

    @Override
    public List<Integer> fwspecIds() {
        return fwspecIds;
    }

    @Override
    public int maxPasids() {
        return maxPasids;
    }

    @Override
    public boolean attachDeferred() {
        return attachDeferred;
    }

    @Override
    public boolean requireDirect() {
        return requireDirect;
    }

    @Override
    public Object priv() {
        return priv;
    }

    @Override
    public void setPriv(Object priv) {
        this.priv = priv;
    }

    /** {@code dev_iommu_ops}: the ops of the instance that probed the device. */
    IommuOps ops() {
        IommuDevice d = iommuDev;
        return d != null ? d.ops() : fwspecIommu.ops();
    }

    @Override
    public String toString() {
        return "dev_iommu(" + dev + ")";
    }
}
