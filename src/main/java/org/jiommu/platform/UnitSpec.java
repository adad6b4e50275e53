package org.jiommu.platform;

import java.util.List;
import java.util.Map;

/**
 * One IOMMU of a platform as its kind builds it: the scenario file's {@code platform.iommus}
 * entry (options already type-checked by the reader) or a programmatic one (the stress bed, a
 * test). Absent options take the kind's defaults through the getters; a programmatic spec may
 * also carry a ready-made configuration object under a key the kind documents.
 */
public record UnitSpec(String name, String kind, Map<String, Object> options) {
    public UnitSpec {
        options = Map.copyOf(options);
    }

    public boolean bool(String key, boolean dflt) {
        Object v = options.get(key);
        return v == null ? dflt : (Boolean) v;
    }

    public long number(String key, long dflt) {
        Object v = options.get(key);
        return v == null ? dflt : ((Number) v).longValue();
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

    /** The option {@code key} as a {@code type}, or null if absent. */
    public <T> T object(String key, Class<T> type) {
        return type.cast(options.get(key));
    }
}
