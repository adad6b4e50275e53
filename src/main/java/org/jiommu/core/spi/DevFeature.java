package org.jiommu.core.spi;

/**
 * {@code enum iommu_dev_features} (v5.2-v6.15, SEMANTICS.md 2.6 and 8.6, S01): capabilities a
 * device driver switches on per device through {@code iommu_dev_enable_feature}. They belong to
 * the device (its IOMMU driver decides what the hardware behind it can do), not to a domain and
 * not to the whole IOMMU ({@code capable}).
 */
public enum DevFeature {
    /** {@code IOMMU_DEV_FEAT_AUX}: several domains on one device, one per PASID (Scalable-IOV, mdev). */
    AUX,
    /** {@code IOMMU_DEV_FEAT_SVA}: process address spaces bound to PASIDs. */
    SVA,
    /** {@code IOMMU_DEV_FEAT_IOPF}: recoverable I/O page faults (PCI PRI, SMMU stall). */
    IOPF
}
