package org.jiommu.core;

import org.jiommu.base.WarningSink;
import org.jiommu.bus.Device;
import org.jiommu.core.spi.CoreServices;
import org.jiommu.core.spi.DevIommuView;
import org.jiommu.core.spi.GroupRef;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.core.spi.IopfFault;
import org.jiommu.core.spi.IopfQueueRef;

/** What drivers may call of the core (the helpers {@code iommu.c} exports): {@link IommuCore#services()}. */
final class Services implements CoreServices {
    private final Tracer tracer;
    private final CoreRegistry registry;
    private final ProbeEngine probe;
    private final AttachEngine attach;
    private final IopfEngine iopf;

    Services(Tracer tracer, CoreRegistry registry, ProbeEngine probe, AttachEngine attach, IopfEngine iopf) {
        this.tracer = tracer;
        this.registry = registry;
        this.probe = probe;
        this.attach = attach;
        this.iopf = iopf;
    }

    @Override
    public GroupRef genericDeviceGroup(Device dev) {
        return probe.genericDeviceGroup(dev);
    }

    @Override
    public GroupRef genericSingleDeviceGroup(Device dev) {
        return probe.genericSingleDeviceGroup(dev);
    }

    @Override
    public GroupRef pciDeviceGroup(Device dev) {
        return probe.pciDeviceGroup(dev);
    }

    @Override
    public GroupRef groupGet(Device dev) {
        IommuGroup g = registry.groupOf(dev);
        return g == null ? null : registry.groupRefGet(g);
    }

    @Override
    public DevIommuView devIommu(Device dev) {
        return registry.devIommuOf(dev);
    }

    @Override
    public IommuDomain driverGetDomainForDev(Device dev) {
        return attach.driverGetDomainForDev(dev);
    }

    @Override
    public IommuDomain getDomainForDev(Device dev) {
        return attach.getDomainForDev(dev);
    }

    @Override
    public WarningSink warnings() {
        return tracer.sink;
    }

    @Override
    public boolean shouldFailAlloc(String site) {
        return tracer.shouldFailAlloc(site);
    }

    @Override
    public IopfQueueRef iopfQueueAlloc(String name) {
        return iopf.queueAlloc(name);
    }

    @Override
    public int iopfQueueAddDevice(IopfQueueRef q, Device dev) {
        return iopf.addDevice(q, dev);
    }

    @Override
    public void iopfQueueRemoveDevice(IopfQueueRef q, Device dev) {
        iopf.removeDevice(q, dev);
    }

    @Override
    public void iopfQueueRunWork(IopfQueueRef q) {
        iopf.runWork(q);
    }

    @Override
    public int reportDeviceFault(Device dev, IopfFault fault) {
        return iopf.report(dev, fault);
    }
}
