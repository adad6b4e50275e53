package org.jiommu.core;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.jiommu.base.Errno;
import org.jiommu.bus.Device;
import org.jiommu.core.spi.IommuCap;
import org.jiommu.core.spi.IommuDevice;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.core.spi.IommuOps;

/**
 * The file-level tables of {@code iommu.c}: devices the core has heard of (with their bus
 * membership, {@code dev->iommu} and {@code dev->iommu_group}), the registered instances
 * ({@code iommu_device_list}) and their singleton groups, the live groups ({@code
 * iommu_group_ida}) and the live core-allocated domains.
 *
 * <p>One leaf lock (this object's monitor) guards every table; nothing is called out while it is
 * held. Group reference counting ({@code iommu_group_ref_get} / {@code iommu_group_put}) lives
 * here because the last put removes the group from the table.
 */
final class CoreRegistry {
    private final Tracer tracer;
    /** Every device the core has heard of, in first-seen order. */
    private final Map<Device, CoreDevice> devices = new LinkedHashMap<>();
    /**
     * The same entries for lookups without this lock: a device's entry is created once and never
     * removed, and what is read through it ({@code group}, {@code iommu}) is volatile, so
     * {@link #cdev} needs no lock. Like the kernel's {@code dev->iommu_group}, read without a
     * lock by {@code iommu_get_dma_domain} on every {@code dma_map_*}: one shared monitor there
     * serialised every mapping thread.
     */
    private final Map<Device, CoreDevice> lookup = new java.util.concurrent.ConcurrentHashMap<>();
    /** Bus membership in add order ({@code bus_for_each_dev} order). */
    private final Map<Device.BusType, List<Device>> buses = new LinkedHashMap<>();
    /** {@code iommu_device_list}. */
    private final List<IommuDevice> iommus = new ArrayList<>();
    /** {@code iommu->singleton_group}. */
    private final Map<IommuDevice, IommuGroup> singletonGroups = new LinkedHashMap<>();
    /** Live groups by id ({@code iommu_group_ida}: lowest free id). */
    private final TreeMap<Integer, IommuGroup> groups = new TreeMap<>();
    /** Domains allocated through the core and not yet freed, in allocation order. */
    private final Set<IommuDomain> liveDomains = new LinkedHashSet<>();

    CoreRegistry(Tracer tracer) {
        this.tracer = tracer;
        for (Device.BusType b : Device.BusType.values()) {
            buses.put(b, new ArrayList<>());
        }
    }

    // ---- devices and buses --------------------------------------------------------------------

    CoreDevice cdev(Device dev) {
        return dev == null ? null : lookup.get(dev);
    }

    synchronized CoreDevice cdevCreate(Device dev) {
        return created(dev);
    }

    /** The device's entry, made on first sight in both tables; holds this lock. */
    private CoreDevice created(Device dev) {
        CoreDevice c = devices.get(dev);
        if (c == null) {
            c = new CoreDevice(dev);
            devices.put(dev, c);
            lookup.put(dev, c);
        }
        return c;
    }

    /** {@code dev->iommu}. */
    DevIommu devIommuOf(Device dev) {
        CoreDevice c = cdev(dev);
        return c == null ? null : c.iommu;
    }

    /** {@code dev_has_iommu}: probed by a driver ({@code iommu_dev} set). */
    boolean devHasIommu(Device dev) {
        DevIommu di = devIommuOf(dev);
        return di != null && di.iommuDev != null;
    }

    /** The ops of the driver that probed {@code dev}, or null. */
    IommuOps probedOps(Device dev) {
        DevIommu di = devIommuOf(dev);
        return di == null || di.iommuDev == null ? null : di.ops();
    }

    /** {@code dev->iommu_group} (no reference taken: Java keeps the object alive). */
    IommuGroup groupOf(Device dev) {
        CoreDevice c = cdev(dev);
        return c == null ? null : c.group;
    }

    /** The device's group: -EINVAL for a null device, -ENODEV ("fn: dev has no IOMMU group") without one. */
    IommuGroup requireGroupOf(Device dev, String fn) {
        Args.requireDevice(dev, fn);
        IommuGroup g = groupOf(dev);
        if (g == null) {
            throw Args.err(Errno.ENODEV, fn + ": " + dev + " has no IOMMU group");
        }
        return g;
    }

    /** {@code dev->dma_iommu}: the device's default domain is a DMA-API domain. */
    boolean dmaIommu(Device dev) {
        CoreDevice c = cdev(dev);
        return c != null && c.dmaIommu;
    }

    /** {@code iommu_get_dma_domain}: the default domain of the device's group, or null without a group. */
    IommuDomain defaultDomainOf(Device dev) {
        IommuGroup g = groupOf(dev);
        return g == null ? null : g.defaultDomain;
    }

    synchronized List<Device> busDevices(Device.BusType bus) {
        return List.copyOf(buses.get(bus));
    }

    /** Puts {@code dev} on its bus; false if it is there already. */
    synchronized boolean addToBus(Device dev) {
        CoreDevice c = created(dev);
        if (c.onBus) {
            return false;
        }
        c.onBus = true;
        buses.get(dev.busType()).add(dev);
        return true;
    }

    /** A device appears on its bus (boot or hotplug): -EEXIST if it is there already. */
    void busAdd(Device dev) {
        if (!addToBus(dev)) {
            throw Args.err(Errno.EEXIST, dev + " is already on its bus");
        }
    }

    /** Devices on their bus, in bus order (platform buses first, PCI last, as {@code iommu_buses}). */
    List<Device> busDevicesInOrder() {
        List<Device> out = new ArrayList<>();
        for (Device.BusType b : Device.BusType.values()) {
            if (b != Device.BusType.PCI) {
                out.addAll(busDevices(b));
            }
        }
        out.addAll(busDevices(Device.BusType.PCI));
        return out;
    }

    /**
     * {@code iommu_fwspec_init} + {@code iommu_fwspec_add_ids}; kept across release (firmware
     * describes a re-added device again). -EINVAL on null arguments, -EBUSY once probed.
     */
    void fwspecInit(Device dev, IommuDevice iommu, List<Integer> ids) {
        Args.requireDevice(dev, "iommu_fwspec_init");
        if (iommu == null || ids == null) {
            throw Args.err(Errno.EINVAL, "iommu_fwspec_init: " + dev + ": IOMMU instance and ids must be given");
        }
        CoreDevice c = cdevCreate(dev);
        if (c.iommu != null) {
            throw Args.err(Errno.EBUSY, "iommu_fwspec_init: " + dev + " is already probed by " + c.iommu.iommuDev);
        }
        c.fwspecIds = List.copyOf(ids);
        c.fwspecIommu = iommu;
    }

    /** {@code dev->iommu} of a probed device; -ENODEV ("fn: dev has no IOMMU") otherwise. */
    DevIommu requireIommu(Device dev, String fn) {
        DevIommu di = devIommuOf(dev);
        if (di == null || di.iommuDev == null) {
            throw Args.err(Errno.ENODEV, fn + ": " + dev + " has no IOMMU");
        }
        return di;
    }

    /** {@code device_iommu_capable}: false without an IOMMU or a {@code capable} op. */
    boolean capable(Device dev, IommuCap cap) {
        Args.requireDevice(dev, "device_iommu_capable");
        if (cap == null) {
            throw Args.err(Errno.EINVAL, "device_iommu_capable: capability is null");
        }
        IommuOps ops = probedOps(dev);
        return ops != null && ops.capable() != null && ops.capable().capable(dev, cap);
    }

    synchronized void removeFromBus(Device dev) {
        CoreDevice c = devices.get(dev);
        if (c != null) {
            c.onBus = false;
        }
        buses.get(dev.busType()).remove(dev);
    }

    synchronized List<CoreDevice> allDevices() {
        return List.copyOf(devices.values());
    }

    // ---- IOMMU instances ----------------------------------------------------------------------

    synchronized boolean isRegistered(IommuDevice iommu) {
        return iommus.contains(iommu);
    }

    synchronized void addIommu(IommuDevice iommu) {
        iommus.add(iommu);
    }

    /** Unlinks the instance; returns its singleton group (the cache's reference), or null. */
    synchronized IommuGroup removeIommu(IommuDevice iommu) {
        iommus.remove(iommu);
        return singletonGroups.remove(iommu);
    }

    synchronized List<IommuDevice> iommus() {
        return List.copyOf(iommus);
    }

    synchronized IommuGroup singletonGroup(IommuDevice iommu) {
        return singletonGroups.get(iommu);
    }

    /** Caches {@code g} as the instance's singleton group; the cache keeps the caller's reference. */
    synchronized void setSingletonGroup(IommuDevice iommu, IommuGroup g) {
        singletonGroups.put(iommu, g);
    }

    // ---- groups -------------------------------------------------------------------------------

    /** {@code iommu_group_alloc}: a new group with the lowest free id, one reference. */
    IommuGroup groupAlloc() {
        if (tracer.shouldFailAlloc("iommu_group_alloc")) {
            throw Args.err(Errno.ENOMEM, "iommu_group_alloc: out of memory");
        }
        IommuGroup g;
        synchronized (this) {
            // ida_alloc: the lowest free id. With no hole below the largest (no group released
            // yet, the usual case) that is the count; only a hole costs a scan (64 K probes
            // made this quadratic: docs/PERFORMANCE.md, scale).
            int id = 0;
            if (groups.isEmpty() || groups.lastKey() == groups.size() - 1) {
                id = groups.size();
            } else {
                for (int used : groups.keySet()) {
                    if (used != id) {
                        break;
                    }
                    id++;
                }
            }
            g = new IommuGroup(id);
            groups.put(id, g);
        }
        tracer.trace(TraceEvent.Kind.LOG, "iommu_group_alloc", "group " + g.id());
        return g;
    }

    /** {@code iommu_group_ref_get}. */
    synchronized IommuGroup groupRefGet(IommuGroup g) {
        if (g.released) {
            throw new IllegalStateException("reference to released " + g);
        }
        g.refs++;
        return g;
    }

    /** {@code iommu_group_put}: the last reference releases the group (iommu_group_release). */
    void groupPut(IommuGroup g) {
        boolean release;
        synchronized (this) {
            release = --g.refs == 0;
            if (release) {
                g.released = true;
                groups.remove(g.id());
            }
        }
        if (release) {
            // iommu_group_release: the domains must have gone with the last device
            if (g.defaultDomain != null) {
                tracer.warn("iommu_group_release", g + " released with default domain " + g.defaultDomain + " still set");
            }
            if (g.blockingDomain != null) {
                tracer.warn("iommu_group_release", g + " released with blocking domain " + g.blockingDomain + " still set");
            }
            tracer.trace(TraceEvent.Kind.LOG, "iommu_group_release", "group " + g.id());
        }
    }

    /** Whether {@code g} is a group the core gave out and has not released (no copy of the table). */
    synchronized boolean isLiveGroup(IommuGroup g) {
        return groups.get(g.id()) == g;
    }

    synchronized List<IommuGroup> liveGroups() {
        return List.copyOf(groups.values());
    }

    /** A live group of this core: -EINVAL for null or a foreign group, -ENODEV once released. */
    void requireGroup(IommuGroup g, String fn) {
        if (g == null) {
            throw Args.err(Errno.EINVAL, fn + ": group is null");
        }
        synchronized (this) {
            if (g.released) {
                throw Args.err(Errno.ENODEV, fn + ": " + g + " was released");
            }
            if (groups.get(g.id()) != g) {
                throw Args.err(Errno.EINVAL, fn + ": " + g + " does not belong to this core");
            }
        }
    }

    // ---- live domains -------------------------------------------------------------------------

    synchronized void addLiveDomain(IommuDomain d) {
        liveDomains.add(d);
    }

    synchronized void removeLiveDomain(IommuDomain d) {
        liveDomains.remove(d);
    }

    synchronized List<IommuDomain> liveDomains() {
        return List.copyOf(liveDomains);
    }
}
