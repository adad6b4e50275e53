package org.jiommu.scenario;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.jiommu.base.WarningSink;
import org.jiommu.mem.PhysicalMemory;

/**
 * The running platform of one scenario: simulated memory, the IOMMUs and devices built from the
 * platform section through the model's real probe path, and the names steps have bound.
 */
final class Machine {
    /** IOMMU kinds whose driver and hardware exist in the model (validation refuses the others). */
    static final Set<IommuSpec.Kind> SUPPORTED_KINDS = EnumSet.noneOf(IommuSpec.Kind.class);

    final PhysicalMemory memory;
    private final Map<String, Value> bindings = new HashMap<>();
    private final Map<Object, String> domainNames = new java.util.IdentityHashMap<>();
    private final List<String> warnings = new ArrayList<>();
    /** Every kernel WARN the model raises lands here; a step reports those raised while it ran. */
    final WarningSink warningSink = (where, message) -> {
        synchronized (warnings) {
            warnings.add(where + ": " + message);
        }
    };

    private Machine(PlatformSpec platform) {
        this.memory = new PhysicalMemory(platform.memory());
    }

    /** Builds the platform: memory, then IOMMUs and devices through the core's probe path. */
    static Machine build(PlatformSpec platform) {
        Machine m = new Machine(platform);
        if (!platform.iommus().isEmpty() || !platform.devices().isEmpty()) {
            // Validation only lets supported kinds through, and no kind is supported until the
            // core and a driver exist; reaching here is a bug in the validator.
            throw new IllegalStateException("no IOMMU driver is available to build this platform");
        }
        return m;
    }

    /** One line saying what was built, for the run's header. */
    String summary() {
        return "memory " + Numbers.formatSize(memory.size()) + ", no IOMMUs, no devices";
    }

    /**
     * Translation-cache hits and lookups over every IOMMU unit and device ATC, as {hits, lookups};
     * {-1, -1} when the platform has no translation caches.
     */
    long[] cacheStats() {
        return new long[] {-1, -1};
    }

    /** Remembers the name a domain was bound to, so results can show it. */
    void nameDomain(Object domain, String name) {
        domainNames.put(domain, name);
    }

    /** The bound name of a domain, or null. */
    String domainName(Object domain) {
        return domainNames.get(domain);
    }

    Value binding(String name) {
        Value v = bindings.get(name);
        if (v == null) {
            throw new StepError("'" + name + "' is unbound: the step that binds it did not succeed");
        }
        return v;
    }

    void bind(String name, Value v) {
        bindings.put(name, v);
    }

    int warningCount() {
        synchronized (warnings) {
            return warnings.size();
        }
    }

    List<String> warningsSince(int mark) {
        synchronized (warnings) {
            return List.copyOf(warnings.subList(mark, warnings.size()));
        }
    }
}
