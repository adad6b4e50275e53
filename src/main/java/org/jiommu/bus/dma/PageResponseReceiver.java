package org.jiommu.bus.dma;

/** An endpoint receiving PRG Response Messages (PCIe 10.4.2) from the IOMMU above it. */
public interface PageResponseReceiver {
    /** PRG Response codes (PCIe 10.4.2.1): Success 0000b, Invalid Request 0001b, Response Failure 1111b. */
    int RESPONSE_SUCCESS = 0x0;
    int RESPONSE_INVALID = 0x1;
    int RESPONSE_FAILURE = 0xF;

    /**
     * @param pasid the PASID of the group, or {@link DmaTranslator#NO_PASID}
     * @param prgIndex the group index the response answers
     * @param responseCode one of the {@code RESPONSE_} codes (other values are reserved)
     */
    void pageGroupResponse(int pasid, int prgIndex, int responseCode);
}
