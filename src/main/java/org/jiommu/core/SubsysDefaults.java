package org.jiommu.core;

import org.jiommu.core.spi.DomainType;

/**
 * The global defaults {@code iommu_subsys_init} settles from the command line and the build
 * (SEMANTICS.md 2.1): {@code iommu_def_domain_type} and {@code iommu_dma_strict}. Read lock-free
 * (volatile), changed only by {@link #setDmaStrict}.
 */
final class SubsysDefaults {
    /** {@code iommu_def_domain_type}; IDENTITY, DMA or DMA_FQ. */
    private volatile DomainType defDomainType;
    /** {@code iommu_dma_strict}. */
    private volatile boolean dmaStrict;

    /** {@code iommu_subsys_init} with the command-line parsers. */
    SubsysDefaults(CoreConfig config, Tracer tracer) {
        dmaStrict = config.cmdlineStrict() != null ? config.cmdlineStrict() : config.defaultStrict();
        DomainType t;
        if (config.cmdlinePassthrough() != null) {
            t = config.cmdlinePassthrough() ? DomainType.IDENTITY : DomainType.DMA;
        } else {
            t = config.defaultPassthrough() ? DomainType.IDENTITY : DomainType.DMA;
            // Memory encryption rules out a build-default passthrough, not an explicit one.
            if (t == DomainType.IDENTITY && config.memEncrypt()) {
                tracer.log("iommu_subsys_init", "Memory encryption detected - Disabling default IOMMU Passthrough");
                t = DomainType.DMA;
            }
        }
        if (t != DomainType.IDENTITY && !dmaStrict) {
            t = DomainType.DMA_FQ;
        }
        defDomainType = t;
        tracer.log("iommu_subsys_init", "Default domain type: " + t
                + (config.cmdlinePassthrough() != null ? " (set via kernel command line)" : ""));
    }

    DomainType defDomainType() {
        return defDomainType;
    }

    boolean dmaStrict() {
        return dmaStrict;
    }

    /** {@code iommu_set_dma_strict}: strict invalidation; a DMA_FQ global default becomes DMA. */
    void setDmaStrict() {
        dmaStrict = true;
        if (defDomainType == DomainType.DMA_FQ) {
            defDomainType = DomainType.DMA;
        }
    }
}
