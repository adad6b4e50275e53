package org.jiommu.core;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.core.spi.MmStruct;

/**
 * I/O page faults ({@code io-pgfault.c}, SEMANTICS.md 10): the fault handlers of domains.
 */
final class IopfEngine {
    private final IommuCore core;
    /** {@code domain->iopf_handler}: the SVA handler or a user's. */
    final Map<IommuDomain, Object> handlers = new ConcurrentHashMap<>();

    IopfEngine(IommuCore core) {
        this.core = core;
    }

    /** An SVA domain's handler resolves faults against its mm ({@code iommu_sva_iopf_handler}). */
    void setSvaHandler(IommuDomain d, MmStruct mm) {
        handlers.put(d, mm);
        d.setIopfHandlerPresent(true);
    }

    Map<org.jiommu.bus.Device, CoreSnapshot.IopfState> snapshot() {
        return Map.of();
    }

    void clearHandler(IommuDomain d) {
        handlers.remove(d);
        d.setIopfHandlerPresent(false);
    }
}
