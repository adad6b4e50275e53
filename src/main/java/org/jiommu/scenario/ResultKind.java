package org.jiommu.scenario;

/** What a step returns (and so what 'as' binds and what {value: V} compares). */
public enum ResultKind {
    /** A void call, or an int call that returns only 0 or -errno. */
    NONE(""),
    DOMAIN("domain"),
    /** iommu_get_domain_for_dev: a bound name, or default / blocked / identity. */
    DOMAIN_NAME("domain name"),
    PASID("pasid"),
    NUMBER("number"),
    BOOL("bool"),
    HANDLE("handle"),
    HEX("hex"),
    /** dma: the physical address of the first byte, or a fault. */
    DMA("paddr or fault"),
    VIOLATIONS("violations"),
    /** hw_dump, stats: printed text. */
    REPORT("report");

    public final String written;

    ResultKind(String written) {
        this.written = written;
    }

    /** Whether 'as' may bind this result. */
    public boolean bindable() {
        return this != NONE && this != REPORT && this != VIOLATIONS;
    }
}
