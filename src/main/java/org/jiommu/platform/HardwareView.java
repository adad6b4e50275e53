package org.jiommu.platform;

import java.util.LinkedHashMap;
import java.util.Map;
import org.jiommu.bus.Device;
import org.jiommu.core.CoreSnapshot;
import org.jiommu.core.spi.IommuDevice;
import org.jiommu.core.spi.IommuDomain;

/**
 * What the IOMMU "hardware" holds for each device, as far as a view can tell: the RID entry and
 * the PASID entries, as domains. It is the seam between the invariant checker and the IOMMU
 * kinds: every kind's {@link IommuUnits#view} supplies one for its devices (the mock reads its
 * driver's exact state; VT-d what its driver programmed, with the entries themselves decoded
 * from memory by {@link IommuUnits#entries} for I7), and the checker's
 * {@code TraceHardwareView} replays the driver calls the core traced (what the core told the
 * hardware; works for any driver). The checker compares the core's bookkeeping against it
 * (I-UNIFORM, I3, I-PASID-SLOT, I9 ...).
 */
public interface HardwareView {
    /** True if this view can tell what {@code dev}'s entries hold; the other methods need it. */
    boolean knows(Device dev);

    /** What {@code dev}'s RID entry points at; null if nothing (never programmed, or cleared). */
    IommuDomain rid(Device dev);

    /** {@code dev}'s PASID entries, PASID to domain; empty if none. */
    Map<Integer, IommuDomain> pasids(Device dev);

    /** Whether the driver still holds {@code dev} as probed; null if the view cannot tell. */
    Boolean driverHolds(Device dev);

    /** How many domains the drivers still have allocated; -1 if the view cannot tell (I10). */
    int liveDriverDomains();

    /** For each device the core knows, the instance firmware names for it. */
    static Map<Device, IommuDevice> fwspecMap(CoreSnapshot s) {
        Map<Device, IommuDevice> m = new LinkedHashMap<>();
        for (CoreSnapshot.DeviceState d : s.devices()) {
            if (d.fwspecIommu() != null) {
                m.put(d.dev(), d.fwspecIommu());
            }
        }
        return m;
    }

    /** A view that knows nothing (state checks that need the hardware are skipped). */
    HardwareView NONE = new HardwareView() {
        @Override
        public boolean knows(Device dev) {
            return false;
        }

        @Override
        public IommuDomain rid(Device dev) {
            return null;
        }

        @Override
        public Map<Integer, IommuDomain> pasids(Device dev) {
            return Map.of();
        }

        @Override
        public Boolean driverHolds(Device dev) {
            return null;
        }

        @Override
        public int liveDriverDomains() {
            return -1;
        }
    };
}
