package org.jiommu.scenario;

import java.util.Map;

/**
 * Which ops run against which part of the model: one line per wired op. Ops absent here are
 * "not implemented yet" (their layer does not exist in the model).
 */
final class Wiring {
    private Wiring() {
    }

    static void wire(Map<String, OpSpec> ops) {
        ops.get("mem_write").run(PlatformOps::memWrite);
        ops.get("mem_read").run(PlatformOps::memRead);
    }
}
