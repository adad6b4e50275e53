package org.jiommu.scenario;

import java.util.List;
import java.util.Map;

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

    public boolean bool(String key, boolean dflt) {
        Object v = options.get(key);
        return v == null ? dflt : (Boolean) v;
    }

    public long number(String key, long dflt) {
        Object v = options.get(key);
        return v == null ? dflt : (Long) v;
    }

    public String word(String key, String dflt) {
        Object v = options.get(key);
        return v == null ? dflt : (String) v;
    }

    @SuppressWarnings("unchecked")
    public List<Object> list(String key, List<Object> dflt) {
        Object v = options.get(key);
        return v == null ? dflt : (List<Object>) v;
    }
}
