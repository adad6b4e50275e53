package org.jiommu.scenario;

/** One named argument of an op. */
public record ArgSpec(String name, ArgType type, boolean required) {
    static ArgSpec req(String name, ArgType type) {
        return new ArgSpec(name, type, true);
    }

    static ArgSpec opt(String name, ArgType type) {
        return new ArgSpec(name, type, false);
    }

    /** {@code name: type} with a {@code ?} for optional arguments, as `jiommu ops` lists it. */
    public String describe() {
        if (type == ArgType.DEVICE_ENTRY) {
            // device_add takes the entry itself: {name, bus, bdf, iommu, ...}.
            return "<device entry>";
        }
        return name + (required ? "" : "?");
    }
}
