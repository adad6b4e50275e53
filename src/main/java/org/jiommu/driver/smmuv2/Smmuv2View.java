package org.jiommu.driver.smmuv2;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jiommu.bus.Device;
import org.jiommu.core.CoreSnapshot;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.platform.HardwareView;
import org.jiommu.platform.Platform;

/**
 * The smmuv2 kind's hardware view ({@link Smmuv2Units#view}): for each device of a core snapshot
 * that firmware puts behind one of the kind's SMMUs, whether its driver holds it as a probed
 * master (stream-map entries allocated, {@code arm_smmu_master_alloc_smes}) and the domain its
 * S2CRs were last pointed at ({@code arm_smmu_attach_dev}); an SMMUv2 has no PASIDs.
 *
 * <p>Only the snapshot's devices are read, each driver's under its own monitor in one go: the
 * incremental watch's scoped state names one or two groups' devices, and before, every scoped
 * check read the stream-map entries of every master of every SMMU.
 */
final class Smmuv2View implements HardwareView {
    /** One device's state: the domain its S2CRs point at (null: none since probe), probed. */
    private record Entries(IommuDomain rid, boolean probed) {
    }

    private static final Entries NOT_PROBED = new Entries(null, false);

    /** The devices this view knows: firmware puts them behind one of the kind's SMMUs. */
    private final Map<Device, Entries> byDevice;

    private Smmuv2View(Map<Device, Entries> byDevice) {
        this.byDevice = byDevice;
    }

    /**
     * Reads the entries of {@code s}'s devices (those the snapshot lists and its groups' members)
     * behind the drivers {@code drivers} (by unit name).
     */
    static Smmuv2View of(Platform platform, Map<String, Smmuv2Driver> drivers, CoreSnapshot s) {
        // the devices the checker can ask about: the snapshot's, and its groups' members
        Map<Smmuv2Driver, List<Device>> perDriver = new LinkedHashMap<>();
        Map<Device, Entries> byDevice = new HashMap<>();
        for (CoreSnapshot.DeviceState d : s.devices()) {
            claim(platform, drivers, d.dev(), perDriver, byDevice);
        }
        for (CoreSnapshot.GroupState g : s.groups()) {
            for (Device dev : g.devices()) {
                claim(platform, drivers, dev, perDriver, byDevice);
            }
        }
        perDriver.forEach((drv, devs) -> {
            synchronized (drv) { // one consistent reading per driver
                for (Device dev : devs) {
                    byDevice.put(dev, new Entries(drv.attachedDomain(dev), drv.hasStreamMapEntries(dev)));
                }
            }
        });
        return new Smmuv2View(byDevice);
    }

    /** Notes {@code dev} once if firmware puts it behind one of {@code drivers}' SMMUs. */
    private static void claim(Platform platform, Map<String, Smmuv2Driver> drivers, Device dev,
                              Map<Smmuv2Driver, List<Device>> perDriver, Map<Device, Entries> byDevice) {
        if (byDevice.containsKey(dev)) {
            return;
        }
        String iommu = platform.iommuOf(dev);
        Smmuv2Driver drv = iommu == null ? null : drivers.get(iommu);
        if (drv != null) {
            byDevice.put(dev, NOT_PROBED);
            perDriver.computeIfAbsent(drv, k -> new ArrayList<>()).add(dev);
        }
    }

    @Override
    public boolean knows(Device dev) {
        return byDevice.containsKey(dev);
    }

    @Override
    public IommuDomain rid(Device dev) {
        Entries e = byDevice.get(dev);
        return e == null ? null : e.rid();
    }

    @Override
    public Map<Integer, IommuDomain> pasids(Device dev) {
        return Map.of();
    }

    @Override
    public Boolean driverHolds(Device dev) {
        Entries e = byDevice.get(dev);
        return e == null ? null : e.probed();
    }

    @Override
    public int liveDriverDomains() {
        return -1; // the driver keeps no list of its domains (arm-smmu.c has none)
    }
}
