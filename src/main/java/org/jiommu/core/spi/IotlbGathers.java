package org.jiommu.core.spi;

import org.jiommu.pgtable.IotlbGather;

/**
 * The gather helpers {@code include/linux/iommu.h} gives drivers as static inlines
 * (SEMANTICS.md 9.5): the core's front end uses the same ones.
 */
public final class IotlbGathers {
    private IotlbGathers() {
    }

    /** {@code iommu_iotlb_sync}: the domain's {@code iotlb_sync} if any, then the gather starts over. */
    public static void sync(IommuDomain domain, IotlbGather gather) {
        DomainOps.IotlbSync op = domain.ops().iotlbSync();
        if (op != null) {
            op.iotlbSync(domain, gather);
        }
        gather.reset();
    }

    /**
     * {@code iommu_iotlb_gather_add_page}: a page of another size, or one disjoint from the
     * gathered range, forces a sync first so the gather can be rewritten.
     */
    public static void addPage(IommuDomain domain, IotlbGather gather, long iova, long size) {
        if ((gather.pgsize != 0 && gather.pgsize != size) || gather.isDisjoint(iova, size)) {
            sync(domain, gather);
        }
        gather.pgsize = size;
        gather.addRange(iova, size);
    }
}
