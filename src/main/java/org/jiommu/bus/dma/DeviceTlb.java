package org.jiommu.bus.dma;

/**
 * A device's address translation cache (ATC, "device TLB") as the IOMMU sees it: the only way
 * its entries go away is an invalidation the IOMMU sends (VT-d Device-TLB / PASID-based
 * Device-TLB descriptors, SMMUv3 CMD_ATC_INV). Implemented by endpoints in {@code bus}; called
 * by hardware models in {@code hw}.
 */
public interface DeviceTlb {
    /**
     * Invalidates cached translations overlapping {@code [address, address + size)}.
     *
     * @param pasid the PASID whose entries to drop, or {@link DmaTranslator#NO_PASID} for entries
     *     of requests without PASID
     * @param allPasids true to drop matching entries of every PASID (a global invalidation)
     */
    void invalidate(int pasid, boolean allPasids, long address, long size);
}
