package org.jiommu.driver.vtd;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Predicate;
import org.jiommu.base.IommuException;
import org.jiommu.bus.dma.DmaEngine;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.bus.pci.PciTopology;
import org.jiommu.core.CoreConfig;
import org.jiommu.core.IommuCore;
import org.jiommu.hw.vtd.VtdConfig;
import org.jiommu.mem.FrameAllocator;
import org.jiommu.mem.PhysicalMemory;
import org.jiommu.platform.Platform;
import org.jiommu.platform.UnitSpec;

/**
 * A {@link Platform} with only VT-d units, built in one call: the form the VT-d tests, the
 * benchmarks and the VT-d stress bed use (scenario files build the same through
 * {@link VtdKind}).
 *
 * <pre>{@code
 * VtdPlatform p = VtdPlatform.builder().unit(VtdConfig.scalable(48)).build();
 * PciDevice nic = p.topology().rootBus(0, 0).rootPort("rp0", 0x1c, 0, 1, Acs.ISOLATED)
 *         .endpoint("nic0", 0, 0, true, 20, false, Acs.NONE);
 * p.hotplug(nic);                        // fwspec, device_add, probe: default domain attached
 * DmaEngine dma = p.dma(nic);            // requests go to the unit with nic0's requester id
 * }</pre>
 */
public final class VtdPlatform {
    private final Platform platform;
    private final VtdUnits vtd;

    private VtdPlatform(Builder b) {
        this.platform = new Platform(b.memorySize, b.coreConfig);
        List<UnitSpec> specs = new ArrayList<>();
        for (int i = 0; i < b.unitConfigs.size(); i++) {
            VtdConfig cfg = b.unitConfigs.get(i);
            Map<String, Object> o = new HashMap<>();
            o.put("config", cfg);
            o.put("scalable-mode", b.scalableMode);
            if (b.scopes.get(i) == null) {
                o.put("include-all", true);
            } else {
                o.put("scope", b.scopes.get(i));
            }
            specs.add(new UnitSpec(cfg.name(), "vtd", o));
        }
        this.vtd = (VtdUnits) platform.add(new VtdKind(), specs);
        platform.takeBaseline();
    }

    public static Builder builder() {
        return new Builder();
    }

    /** One legacy or scalable unit of the given width over 16 GiB, default core configuration. */
    public static VtdPlatform of(VtdConfig unit) {
        return builder().unit(unit).build();
    }

    /** The platform itself (what the checker and the generic I7 take). */
    public Platform platform() {
        return platform;
    }

    /** The VT-d kind's units on it. */
    public VtdUnits vtd() {
        return vtd;
    }

    public PhysicalMemory memory() {
        return platform.memory();
    }

    public FrameAllocator frames() {
        return platform.frames();
    }

    public IommuCore core() {
        return platform.core();
    }

    public VtdIommuDriver driver() {
        return vtd.driver();
    }

    public PciTopology topology() {
        return vtd.topology();
    }

    /** The driver's units in the order they were configured. */
    public List<VtdIommu> units() {
        return vtd.units();
    }

    public VtdIommu unit(int index) {
        return vtd.units().get(index);
    }

    /** The unit whose scope covers {@code dev}. @throws IommuException ENODEV if none */
    public VtdIommu unitOf(PciDevice dev) {
        return vtd.unitOf(dev);
    }

    /** Hot-plug: {@code device_add} of a device of the topology; the core probes it at once. */
    public void hotplug(PciDevice dev) {
        vtd.hotplug(dev);
    }

    /**
     * Boot: every endpoint of the topology not yet added is put on its bus, then the PCI bus is
     * scanned ({@code bus_iommu_probe}), so group default domains see all their devices.
     */
    public void boot() {
        vtd.boot();
    }

    /** Hot-unplug: {@code device_del} (release domain, release_device). */
    public void remove(PciDevice dev) {
        vtd.remove(dev);
    }

    /** The device's DMA engine: its requests reach its unit with the requester id the root complex sees. */
    public DmaEngine dma(PciDevice dev) {
        return vtd.dma(dev);
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
