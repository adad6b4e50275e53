package org.jiommu.pgtable.x86;

import org.jiommu.pgtable.IotlbGather;

/**
 * The {@code iommu_iotlb_sync(domain, gather)} a generic_pt table calls on its own: after a map
 * that replaced empty tables by a large leaf ({@code map_pages} in iommu_pt.h syncs when the
 * gather's freelist is not empty), and after an unmap made without a caller's gather.
 *
 * <p>The implementation must invalidate {@code [gather.start, gather.end]} (and the paging-structure
 * caches, since tables were freed) and only then give the table pages back, usually with
 * {@link X86RadixPageTable#releaseFreelist(IotlbGather)}. The default of a table nobody attached a
 * driver to is {@link X86RadixPageTable#releaseFreelist} alone: there is no IOTLB to flush.
 */
@FunctionalInterface
public interface IotlbSync {
    void sync(IotlbGather gather);
}
