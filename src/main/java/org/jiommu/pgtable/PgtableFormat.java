package org.jiommu.pgtable;

/** Page-table formats jiommu writes, named as the kernel names them. */
public enum PgtableFormat {
    /** VMSAv8-64 stage 1 ({@code ARM_64_LPAE_S1}): SMMUv3 CDs, SMMUv2 S1 context banks. */
    ARM_64_LPAE_S1,
    /** VMSAv8-64 stage 2 ({@code ARM_64_LPAE_S2}): SMMUv3 S2 STEs, SMMUv2 S2 context banks. */
    ARM_64_LPAE_S2,
    /** Intel VT-d second-level (second-stage) tables, 3/4/5 levels. */
    VTD_SECOND_LEVEL,
    /** x86-64 first-level (first-stage) tables, 4 or 5 levels: VT-d FL and SVA process tables. */
    X86_64_FIRST_LEVEL
}
