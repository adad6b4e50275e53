package org.jiommu.pgtable;

/**
 * The kernel's {@code size_t *mapped} out-parameter of {@code map_pages}: bytes mapped so far.
 * Mutable on purpose so the hot map path allocates nothing per call.
 */
public final class Mapped {
    public long bytes;

    public Mapped() {
    }

    public Mapped reset() {
        bytes = 0;
        return this;
    }
}
