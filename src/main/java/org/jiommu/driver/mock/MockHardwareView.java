package org.jiommu.driver.mock;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.jiommu.bus.Device;
import org.jiommu.core.spi.IommuDevice;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.platform.HardwareView;

/**
 * The exact hardware state of one or more mock drivers, for the devices firmware names one of
 * their instances for: each device's RID entry, PASID entries and whether its driver holds it as
 * probed, read under that driver's own lock, plus how many domains each driver has live. A device
 * is known when firmware names one of these drivers' instances for it.
 *
 * <p>Only the devices asked for are read (the scoped state of the incremental watch names one or
 * two groups' devices, not the platform's): before, every view copied each driver's whole
 * {@link MockIommuDriver#snapshot(boolean)} (every device's entries, the probe list, the live
 * domain list) to answer questions about a few devices.
 */
public final class MockHardwareView implements HardwareView {
    /** The devices this view knows (firmware names one of its drivers' instances for them). */
    private final Map<Device, Entries> byDevice = new HashMap<>();
    private final int liveDomains;

    /** One device's entries: RID as programmed (null: never), PASIDs (empty if none), probed by its driver. */
    private record Entries(IommuDomain rid, Map<Integer, IommuDomain> pasids, boolean probed) {
    }

    /**
     * @param drivers the mock drivers of the platform
     * @param fwspec for each device the core knows (or the part of the platform being captured),
     *     the instance firmware names for it (or absent)
     */
    public MockHardwareView(List<MockIommuDriver> drivers, Map<Device, IommuDevice> fwspec) {
        Map<IommuDevice, List<Device>> devs = new HashMap<>();
        fwspec.forEach((dev, inst) -> devs.computeIfAbsent(inst, k -> new ArrayList<>()).add(dev));
        int live = 0;
        for (MockIommuDriver m : drivers) {
            List<Device> mine = devs.getOrDefault(m.iommu(), List.of());
            synchronized (m) { // the driver's monitor: one consistent reading per driver
                for (Device dev : mine) {
                    byDevice.put(dev, new Entries(m.programmed.get(dev), m.pasidEntriesLocked(dev),
                            m.probed.contains(dev)));
                }
                live += m.live.size();
            }
        }
        this.liveDomains = live;
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
        return liveDomains;
    }
}
