package org.jiommu.bus.dma;

/**
 * The IOMMU side of PCIe PRI (PCIe 10.4): where an endpoint's Page Request Messages go. An
 * IOMMU that accepts page requests implements it next to {@link DmaTranslator}; the answer (a
 * PRG Response Message) comes back later, through the {@link PageResponseReceiver} the endpoint
 * registered with the IOMMU, once software has handled the group.
 */
public interface PageRequestSink {
    /**
     * One Page Request Message.
     *
     * @param sourceId requester ID of the function
     * @param pasid the PASID, or {@link DmaTranslator#NO_PASID} for a request without one
     * @param address the page (bits 11:0 ignored)
     * @param lastInGroup the L bit: the last request of its page request group
     * @param prgIndex the 9-bit page request group index
     */
    void pageRequest(int sourceId, int pasid, long address, boolean read, boolean write, boolean lastInGroup,
                     int prgIndex);
}
