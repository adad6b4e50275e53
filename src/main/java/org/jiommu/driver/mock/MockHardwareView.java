package org.jiommu.driver.mock;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.jiommu.bus.Device;
import org.jiommu.core.spi.IommuDevice;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.platform.HardwareView;

/**
 * The exact hardware state of one or more mock drivers ({@link MockIommuDriver#snapshot()}, each
 * taken under the driver's own lock). A device is known when firmware names one of these drivers'
 * instances for it.
 */
public final class MockHardwareView implements HardwareView {
    private final Map<IommuDevice, MockSnapshot> byInstance = new HashMap<>();
    private final Map<Device, IommuDevice> fwspec;
    /** The RID entries, read one by one: the snapshot leaves out entries parked on a static BLOCKED domain. */
    private final Map<Device, IommuDomain> rid = new HashMap<>();

    /**
     * @param drivers the mock drivers of the platform
     * @param fwspec for each device the core knows, the instance firmware names for it (or absent)
     */
    public MockHardwareView(List<MockIommuDriver> drivers, Map<Device, IommuDevice> fwspec) {
        Map<IommuDevice, MockIommuDriver> drv = new HashMap<>();
        for (MockIommuDriver m : drivers) {
            byInstance.put(m.iommu(), m.snapshot(false)); // entries only: no view query reads the tables
            drv.put(m.iommu(), m);
        }
        this.fwspec = Map.copyOf(fwspec);
        fwspec.forEach((dev, inst) -> {
            MockIommuDriver m = drv.get(inst);
            IommuDomain d = m == null ? null : m.programmed(dev);
            if (d != null) {
                rid.put(dev, d);
            }
        });
    }

    private MockSnapshot of(Device dev) {
        IommuDevice i = fwspec.get(dev);
        return i == null ? null : byInstance.get(i);
    }

    /** The snapshots, by instance, without their page-table leaves ({@link MockIommuDriver#snapshot(boolean)}). */
    public Map<IommuDevice, MockSnapshot> snapshots() {
        return Map.copyOf(byInstance);
    }

    @Override
    public boolean knows(Device dev) {
        return of(dev) != null;
    }

    @Override
    public IommuDomain rid(Device dev) {
        return rid.get(dev);
    }

    @Override
    public Map<Integer, IommuDomain> pasids(Device dev) {
        MockSnapshot s = of(dev);
        Map<Integer, IommuDomain> m = s == null ? null : s.pasids().get(dev);
        return m == null ? Map.of() : m;
    }

    @Override
    public Boolean driverHolds(Device dev) {
        MockSnapshot s = of(dev);
        return s == null ? null : s.probed().contains(dev);
    }

    @Override
    public int liveDriverDomains() {
        int n = 0;
        for (MockSnapshot s : byInstance.values()) {
            n += s.liveDomains().size();
        }
        return n;
    }
}
