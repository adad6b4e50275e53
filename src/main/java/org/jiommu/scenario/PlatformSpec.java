package org.jiommu.scenario;

import java.util.List;
import java.util.Map;

/**
 * The platform section: simulated memory size, IOMMUs, and the devices present at boot. The
 * ports and bridges of {@code platform.pci} are devices too (in tree order, each before the
 * functions below it); {@code bridges} says how to place them, by name.
 */
public record PlatformSpec(long memory, List<IommuSpec> iommus, List<DeviceSpec> devices,
                           Map<String, PciBridgeSpec> bridges) {
    public static final long DEFAULT_MEMORY = 4L << 30;

    /** A platform without declared ports or bridges (every PCI function on a root bus or a bus of its own). */
    public PlatformSpec(long memory, List<IommuSpec> iommus, List<DeviceSpec> devices) {
        this(memory, iommus, devices, Map.of());
    }

    public IommuSpec iommu(String name) {
        for (IommuSpec i : iommus) {
            if (i.name().equals(name)) {
                return i;
            }
        }
        return null;
    }
}
