package org.jiommu.bus;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.jiommu.base.Errno;
import org.jiommu.base.IommuException;

/**
 * The platform devices of a machine and the IOMMU firmware puts each behind
 * ({@code iommus = <&smmu sid...>} in a device tree, an IORT named-component node).
 *
 * <p>Grouping, as the kernel's drivers do it for non-PCI devices:
 * <ul>
 * <li>{@code generic_device_group}: one new group per device. What VT-d, SMMUv3
 *     ({@code arm_smmu_device_group}: stream IDs shared between devices are not supported
 *     apart from PCI aliases) and the mock driver use.</li>
 * <li>SMMUv2 ({@code arm_smmu_device_group} in arm-smmu.c): two devices behind the same SMMU
 *     that use a common stream ID end up on the same stream-map entry, so the second one
 *     probed joins the group the entry already has; if its entries carry two different
 *     groups the probe fails with {@code -EINVAL}. {@link #sharingStreamIds} gives the
 *     devices concerned, in the order added.</li>
 * </ul>
 * Thread-safe (synchronized on the bus).
 */
public final class PlatformBus {
    private final Map<PlatformDevice, String> iommuOf = new LinkedHashMap<>();
    private final Map<String, PlatformDevice> byName = new LinkedHashMap<>();

    /**
     * Adds a device behind the IOMMU named {@code iommu}.
     *
     * @throws IommuException EEXIST for a name already used, EINVAL without an IOMMU name
     */
    public synchronized PlatformDevice add(PlatformDevice dev, String iommu) {
        if (iommu == null || iommu.isEmpty()) {
            throw new IommuException(Errno.EINVAL, dev.name() + ": no IOMMU named for a platform device");
        }
        if (byName.containsKey(dev.name())) {
            throw new IommuException(Errno.EEXIST, "a platform device named " + dev.name() + " exists");
        }
        byName.put(dev.name(), dev);
        iommuOf.put(dev, iommu);
        return dev;
    }

    /** The devices, in the order added. */
    public synchronized List<PlatformDevice> devices() {
        return new ArrayList<>(iommuOf.keySet());
    }

    public synchronized PlatformDevice byName(String name) {
        return byName.get(name);
    }

    /** The IOMMU firmware names for the device, or null if the bus does not hold it. */
    public synchronized String iommuOf(PlatformDevice dev) {
        return iommuOf.get(dev);
    }

    /**
     * The other devices behind the same IOMMU that share at least one stream ID with
     * {@code dev} (directly, not transitively: the SMMUv2 driver looks only at the device's own
     * stream-map entries), in the order added.
     *
     * @throws IommuException EINVAL if the bus does not hold {@code dev}
     */
    public synchronized List<PlatformDevice> sharingStreamIds(PlatformDevice dev) {
        String iommu = iommuOf.get(dev);
        if (iommu == null) {
            throw new IommuException(Errno.EINVAL, dev.name() + " is not on this platform bus");
        }
        List<PlatformDevice> out = new ArrayList<>();
        for (Map.Entry<PlatformDevice, String> e : iommuOf.entrySet()) {
            PlatformDevice other = e.getKey();
            if (other != dev && iommu.equals(e.getValue())
                    && other.streamIds().stream().anyMatch(dev.streamIds()::contains)) {
                out.add(other);
            }
        }
        return out;
    }
}
