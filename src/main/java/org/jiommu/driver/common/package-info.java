/**
 * The pieces every IOMMU driver of the model needs, taken out of the VT-d driver so that the
 * SMMUv3 and SMMUv2 drivers are not built by copying it (docs/driver-common.md): the tag
 * allocator ({@link org.jiommu.driver.common.TagAllocator}, the kernel's ida for DIDs, ASIDs and
 * VMIDs), the per-master record ({@link org.jiommu.driver.common.MasterInfo},
 * {@code dev_iommu_priv}), device-TLB fan-out ({@link org.jiommu.driver.common.DevTlbTags}), IOPF
 * enablement ({@link org.jiommu.driver.common.IopfRefs}), command batches ending in a sync
 * ({@link org.jiommu.driver.common.CommandBatch}), invalidation ranges
 * ({@link org.jiommu.driver.common.InvalidationRange}, {@link org.jiommu.driver.common.TlbiRange}),
 * entry writes
 * ({@link org.jiommu.driver.common.EntryWrites}, {@link org.jiommu.driver.common.HitlessEntryWriter})
 * and the bug plants of the stress run and the stale-translation tests
 * ({@link org.jiommu.driver.common.DriverFaults}).
 */
package org.jiommu.driver.common;
