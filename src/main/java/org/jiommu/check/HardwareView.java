package org.jiommu.check;

import java.util.Map;
import org.jiommu.bus.Device;
import org.jiommu.core.spi.IommuDomain;

/**
 * What the IOMMU "hardware" holds for each device, as far as a view can tell: the RID entry and
 * the PASID entries. Two views exist: {@link MockHardwareView} reads the mock driver's own
 * state (exact), {@link TraceHardwareView} replays the driver calls the core traced (what the
 * core told the hardware; works for any driver). The checker compares the core's bookkeeping
 * against it (I-UNIFORM, I3, I-PASID-SLOT, I9 ...).
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
