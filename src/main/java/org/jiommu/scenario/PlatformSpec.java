package org.jiommu.scenario;

import java.util.List;

/** The platform section: simulated memory size, IOMMUs, and the devices present at boot. */
public record PlatformSpec(long memory, List<IommuSpec> iommus, List<DeviceSpec> devices) {
    public static final long DEFAULT_MEMORY = 4L << 30;

    public IommuSpec iommu(String name) {
        for (IommuSpec i : iommus) {
            if (i.name().equals(name)) {
                return i;
            }
        }
        return null;
    }
}
