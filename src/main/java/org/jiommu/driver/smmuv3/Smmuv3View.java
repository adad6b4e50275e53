package org.jiommu.driver.smmuv3;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.jiommu.bus.Device;
import org.jiommu.core.CoreSnapshot;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.platform.HardwareView;
import org.jiommu.platform.Platform;

/**
 * The smmuv3 kind's hardware view ({@link Smmuv3Units#view}): for each device of a core snapshot
 * that firmware puts behind one of the kind's SMMUs, whether its driver holds it as a probed
 * master ({@code arm_smmu_probe_device} found stream ids for it) and, if so, the domain it
 * programmed for the RID ({@code master->domain}, what the STE / CD 0 point at) and per
 * SubstreamID ({@code arm_smmu_set_pasid}).
 *
 * <p>Only the snapshot's devices are read, each driver's under its own monitor in one go (the
 * driver's lock stands for the kernel's group mutex and {@code arm_smmu_asid_lock}, see
 * {@link Smmuv3Master}): the incremental watch's scoped state names one or two groups' devices,
 * and before, every scoped check read every master of every SMMU, copying each PASID map. A
 * master with no PASID entries shares the empty map; the others get one copy, as a view query
 * reads it.
 */
final class Smmuv3View implements HardwareView {
    /** One device's entries: RID (null: nothing programmed), PASIDs (never null), probed. */
    private record Entries(IommuDomain rid, Map<Integer, IommuDomain> pasids, boolean probed) {
    }

    private static final Entries NOT_PROBED = new Entries(null, Map.of(), false);

    /** The devices this view knows: firmware puts them behind one of the kind's SMMUs. */
    private final Map<Device, Entries> byDevice;

    private Smmuv3View(Map<Device, Entries> byDevice) {
        this.byDevice = byDevice;
    }

    /**
     * Reads the entries of {@code s}'s devices (those the snapshot lists and its groups' members)
     * behind the drivers {@code drivers} (by unit name).
     */
    static Smmuv3View of(Platform platform, Map<String, Smmuv3Driver> drivers, CoreSnapshot s) {
        // the devices the checker can ask about: the snapshot's, and its groups' members
        Map<Smmuv3Driver, List<Device>> perDriver = new LinkedHashMap<>();
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
                    Smmuv3Master m = drv.master(dev);
                    if (m == null || m.streams.length == 0) {
                        continue; // stays NOT_PROBED
                    }
                    TreeMap<Integer, IommuDomain> p = m.pasids();
                    byDevice.put(dev, new Entries(m.ridDomain(), p.isEmpty() ? Map.of() : new TreeMap<>(p), true));
                }
            }
        });
        return new Smmuv3View(byDevice);
    }

    /** Notes {@code dev} once if firmware puts it behind one of {@code drivers}' SMMUs. */
    private static void claim(Platform platform, Map<String, Smmuv3Driver> drivers, Device dev,
                              Map<Smmuv3Driver, List<Device>> perDriver, Map<Device, Entries> byDevice) {
        if (byDevice.containsKey(dev)) {
            return;
        }
        String iommu = platform.iommuOf(dev);
        Smmuv3Driver drv = iommu == null ? null : drivers.get(iommu);
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
        Entries e = byDevice.get(dev);
        return e == null ? Map.of() : e.pasids();
    }

    @Override
    public Boolean driverHolds(Device dev) {
        Entries e = byDevice.get(dev);
        return e == null ? null : e.probed();
    }

    @Override
    public int liveDriverDomains() {
        return -1; // arm-smmu-v3.c keeps no list of its domains
    }
}
