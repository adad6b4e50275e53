package org.jiommu.platform;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;

/**
 * The registered IOMMU kinds, by name: those listed in
 * {@code META-INF/services/org.jiommu.platform.IommuKind} (the one registration line a new kind
 * adds), in that order, plus any a test registers. The order is the order a platform builds and
 * starts its kinds in.
 */
public final class IommuKinds {
    private static final Map<String, IommuKind> KINDS = new LinkedHashMap<>();

    static {
        for (IommuKind k : ServiceLoader.load(IommuKind.class, IommuKinds.class.getClassLoader())) {
            KINDS.put(k.name(), k);
        }
    }

    private IommuKinds() {
    }

    /** Adds a kind (a test's second kind); a kind of the same name is replaced. */
    public static synchronized void register(IommuKind kind) {
        KINDS.put(kind.name(), kind);
    }

    /** Removes a kind a test registered. */
    public static synchronized void unregister(String name) {
        KINDS.remove(name);
    }

    /** The kind named {@code name}, or null. */
    public static synchronized IommuKind get(String name) {
        return KINDS.get(name);
    }

    /** The kind named {@code name}. @throws IllegalArgumentException if none is registered */
    public static IommuKind require(String name) {
        IommuKind k = get(name);
        if (k == null) {
            throw new IllegalArgumentException("no IOMMU kind '" + name + "' (registered: " + names() + ")");
        }
        return k;
    }

    /** Every registered kind's name, in registration order. */
    public static synchronized List<String> names() {
        return new ArrayList<>(KINDS.keySet());
    }
}
