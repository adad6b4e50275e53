package org.jiommu.scenario;

import java.util.List;
import java.util.Map;
import org.jiommu.platform.UnitSpec;

/**
 * One entry of platform.iommus: a hardware IOMMU instance and its driver, of a registered
 * kind ({@code platform.IommuKinds}, named by its word). Options are the keys of the kind's
 * table ({@code IommuKind.options}) and the common ones, already type-checked; absent keys take
 * the documented defaults through the getters.
 */
public record IommuSpec(String name, String kind, Loc loc, Map<String, Object> options) {
    /** This entry as the platform's kind plug-ins take it. */
    public UnitSpec unit() {
        return new UnitSpec(name, kind, options);
    }

    public boolean bool(String key, boolean dflt) {
        return unit().bool(key, dflt);
    }

    public long number(String key, long dflt) {
        return unit().number(key, dflt);
    }

    public String word(String key, String dflt) {
        return unit().word(key, dflt);
    }

    public List<Object> list(String key, List<Object> dflt) {
        return unit().list(key, dflt);
    }
}
