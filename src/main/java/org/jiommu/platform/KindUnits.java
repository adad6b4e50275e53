package org.jiommu.platform;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jiommu.bus.Device;

/**
 * What every kind's {@link IommuUnits} keeps the same way: its kind, its platform and one driver
 * per unit by unit name, with the lookups by name and by device. A kind's Units extends it and
 * adds how its firmware, boot, DMA engines and views work.
 *
 * @param <D> the kind's per-unit driver
 */
public abstract class KindUnits<D> implements IommuUnits {
    protected final IommuKind kind;
    protected final Platform platform;
    /** The drivers by unit name, in the order the units were declared. */
    protected final Map<String, D> drivers = new LinkedHashMap<>();
    private final String title;

    /** {@code title} names the hardware in messages ("an SMMUv3"). */
    protected KindUnits(IommuKind kind, Platform platform, String title) {
        this.kind = kind;
        this.platform = platform;
        this.title = title;
    }

    @Override
    public IommuKind kind() {
        return kind;
    }

    @Override
    public List<String> names() {
        return List.copyOf(drivers.keySet());
    }

    /** The driver of unit {@code name}, or null. */
    public D driver(String name) {
        return drivers.get(name);
    }

    /** The driver of the unit firmware puts {@code dev} behind; IllegalArgumentException if none of these. */
    protected D driverOf(Device dev) {
        D d = drivers.get(platform.iommuOf(dev));
        if (d == null) {
            throw new IllegalArgumentException(dev.name() + " is not behind " + title);
        }
        return d;
    }
}
