package org.jiommu.scenario;

import java.util.List;
import java.util.Map;
import org.jiommu.platform.UnitSpec;

/**
 * One entry of platform.iommus: a hardware IOMMU instance and its driver. Options are the
 * kind-specific keys of SCENARIOS.md, already type-checked; absent keys take the documented
 * defaults through the getters.
 */
public record IommuSpec(String name, Kind kind, Loc loc, Map<String, Object> options) {
    public enum Kind {
        VTD("vtd"), SMMUV3("smmuv3"), SMMUV2("smmuv2"), MOCK("mock");

        public final String word;

        Kind(String word) {
            this.word = word;
        }

        static Kind of(String word) {
            for (Kind k : values()) {
                if (k.word.equals(word)) {
                    return k;
                }
            }
            return null;
        }

        public boolean isSmmu() {
            return this == SMMUV3 || this == SMMUV2;
        }
    }

    /** This entry as the platform's kind plug-ins take it. */
    public UnitSpec unit() {
        return new UnitSpec(name, kind.word, options);
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
