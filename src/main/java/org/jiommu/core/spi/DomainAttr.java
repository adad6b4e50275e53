package org.jiommu.core.spi;

/** {@code enum iommu_attr} members the model keeps (the attribute API was removed in v5.13). */
public enum DomainAttr {
    /**
     * {@code DOMAIN_ATTR_PTBASE} (the 2019 SMMUv2 aux series, seed 002, S10): the page-table base
     * (TTBR0) of an aux domain, which a context-switching GPU programs itself.
     */
    PTBASE
}
