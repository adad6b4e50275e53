package org.jiommu.platform;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Predicate;
import org.jiommu.base.Errno;
import org.jiommu.base.IommuException;
import org.jiommu.bus.Device;
import org.jiommu.bus.dma.DmaEngine;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.bus.pci.PciTopology;
import org.jiommu.core.CoreConfig;
import org.jiommu.core.IommuCore;
import org.jiommu.driver.vtd.VtdIommu;
import org.jiommu.driver.vtd.VtdIommuDriver;
import org.jiommu.hw.vtd.VtdConfig;
import org.jiommu.hw.vtd.VtdUnit;
import org.jiommu.mem.FrameAllocator;
import org.jiommu.mem.PhysicalMemory;

/**
 * An Intel VT-d machine in one call: simulated memory and its frame allocator, one or more
 * remapping units, the VT-d driver programming them, the IOMMU core with the driver registered,
 * and the PCI topology whose endpoints DMA through the units.
 *
 * <pre>{@code
 * VtdPlatform p = VtdPlatform.builder().unit(VtdConfig.scalable(48)).build();
 * PciDevice nic = p.topology().rootBus(0, 0).rootPort("rp0", 0x1c, 0, 1, Acs.ISOLATED)
 *         .endpoint("nic0", 0, 0, true, 20, false, Acs.NONE);
 * p.hotplug(nic);                        // fwspec, device_add, probe: default domain attached
 * DmaEngine dma = p.dma(nic);            // requests go to the unit with nic0's requester id
 * }</pre>
 *
 * <p>Wiring (the part no single layer owns): every device's fwspec names the unit whose scope
 * covers it; its {@link DmaEngine} uses that unit as {@code DmaTranslator} with the requester id
 * the root complex sees ({@link PciTopology#dmaRequesterId}); an ATS-capable device's ATC is
 * connected to the unit under its own requester id, where device-TLB invalidations address it.
 *
 * <p>This class sits above the core and the driver (a composition root, like the scenario
 * runner's machine); neither of them imports it.
 */
public final class VtdPlatform {
    private final PhysicalMemory memory;
    private final FrameAllocator frames;
    private final IommuCore core;
    private final VtdIommuDriver driver;
    private final PciTopology topology;
    private final List<VtdIommu> units;
    private final Map<Device, DmaEngine> engines = new ConcurrentHashMap<>();
    private final Map<Device, Boolean> added = new ConcurrentHashMap<>();

    private VtdPlatform(Builder b) {
        this.memory = new PhysicalMemory(b.memorySize);
        this.frames = new FrameAllocator(memory);
        this.core = new IommuCore(b.coreConfig);
        this.topology = new PciTopology();
        this.driver = new VtdIommuDriver(core.services(), frames, b.scalableMode);
        List<VtdIommu> us = new ArrayList<>();
        for (int i = 0; i < b.unitConfigs.size(); i++) {
            VtdUnit unit = new VtdUnit(b.unitConfigs.get(i), memory, core.services().warnings());
            us.add(driver.addUnit(unit, b.scopes.get(i)));
        }
        this.units = List.copyOf(us);
        for (VtdIommu u : units) {
            core.iommuDeviceRegister(u.iommuDevice());
        }
    }

    public static Builder builder() {
        return new Builder();
    }

    /** One legacy or scalable unit of the given width over 16 GiB, default core configuration. */
    public static VtdPlatform of(VtdConfig unit) {
        return builder().unit(unit).build();
    }

    public PhysicalMemory memory() {
        return memory;
    }

    public FrameAllocator frames() {
        return frames;
    }

    public IommuCore core() {
        return core;
    }

    public VtdIommuDriver driver() {
        return driver;
    }

    public PciTopology topology() {
        return topology;
    }

    /** The driver's units in the order they were configured. */
    public List<VtdIommu> units() {
        return units;
    }

    public VtdIommu unit(int index) {
        return units.get(index);
    }

    /** The unit whose scope covers {@code dev}. @throws IommuException ENODEV if none */
    public VtdIommu unitOf(PciDevice dev) {
        VtdIommu u = driver.unitFor(dev);
        if (u == null) {
            throw new IommuException(Errno.ENODEV, "no VT-d unit covers " + dev);
        }
        return u;
    }

    /**
     * Firmware describes {@code dev} (its fwspec names its unit) and the device is connected to
     * its unit (ATC for device-TLB invalidations). Idempotent.
     */
    private void describe(PciDevice dev) {
        Objects.requireNonNull(dev, "dev");
        if (added.putIfAbsent(dev, Boolean.TRUE) != null) {
            return;
        }
        VtdIommu u = unitOf(dev);
        core.fwspecInit(dev, u.iommuDevice());
        if (dev.atc() != null) {
            u.unit().registerDeviceTlb(dev.requesterId(), dev.atc());
        }
    }

    /** Hot-plug: {@code device_add} of a device of the topology; the core probes it at once. */
    public void hotplug(PciDevice dev) {
        describe(dev);
        core.deviceAdd(dev);
    }

    /**
     * Boot: every endpoint of the topology not yet added is put on its bus, then the PCI bus is
     * scanned ({@code bus_iommu_probe}), so group default domains see all their devices.
     */
    public void boot() {
        for (PciDevice d : topology.devices()) {
            if (added.containsKey(d)) {
                continue;
            }
            describe(d);
            core.busAddDevice(d);
        }
        core.busIommuProbe(Device.BusType.PCI);
    }

    /** Hot-unplug: {@code device_del} (release domain, release_device). */
    public void remove(PciDevice dev) {
        core.deviceDel(dev);
    }

    /** The device's DMA engine: its requests reach its unit with the requester id the root complex sees. */
    public DmaEngine dma(PciDevice dev) {
        return engines.computeIfAbsent(dev, d -> {
            VtdIommu u = unitOf(dev);
            if (dev.atc() != null) {
                u.unit().registerDeviceTlb(dev.requesterId(), dev.atc());
            }
            return new DmaEngine(dev, topology.dmaRequesterId(dev), u.unit(), memory);
        });
    }

    /** Builds a {@link VtdPlatform}; defaults: 16 GiB, {@link CoreConfig#defaults()}, scalable mode where supported. */
    public static final class Builder {
        private long memorySize = 16L << 30;
        private CoreConfig coreConfig = CoreConfig.defaults();
        private boolean scalableMode = true;
        private final List<VtdConfig> unitConfigs = new ArrayList<>();
        private final List<Predicate<PciDevice>> scopes = new ArrayList<>();

        private Builder() {
        }

        public Builder memorySize(long bytes) {
            this.memorySize = bytes;
            return this;
        }

        public Builder coreConfig(CoreConfig cfg) {
            this.coreConfig = Objects.requireNonNull(cfg);
            return this;
        }

        /** {@code intel_iommu=sm_off}: run scalable-capable units in legacy mode. */
        public Builder scalableMode(boolean on) {
            this.scalableMode = on;
            return this;
        }

        /** A unit covering every PCI device no other unit's scope claims (INCLUDE_PCI_ALL). */
        public Builder unit(VtdConfig cfg) {
            return unit(cfg, null);
        }

        /** A unit whose device scope is {@code scope}. */
        public Builder unit(VtdConfig cfg, Predicate<PciDevice> scope) {
            unitConfigs.add(Objects.requireNonNull(cfg));
            scopes.add(scope);
            return this;
        }

        public VtdPlatform build() {
            if (unitConfigs.isEmpty()) {
                throw new IllegalArgumentException("a VT-d platform needs at least one unit");
            }
            long names = unitConfigs.stream().map(VtdConfig::name).distinct().count();
            if (names != unitConfigs.size()) {
                throw new IllegalArgumentException("VT-d units need distinct names");
            }
            return new VtdPlatform(this);
        }
    }
}
