package org.jiommu.bus.dma;

/**
 * What an IOMMU unit offers the endpoints below it: translation of a DMA request, the model of
 * the upstream port of a PCIe root complex (or an SMMU's input). Implemented by the hardware
 * models in {@code hw}; endpoints call it for every untranslated DMA and for ATS translation
 * requests that fill their ATC. Implementations must not allocate on the success path.
 */
public interface DmaTranslator {
    /** No PASID / SubstreamID on the request. */
    int NO_PASID = -1;

    /**
     * Translates one request.
     *
     * @param sourceId requester id (PCI bus << 8 | devfn) or SMMU stream id
     * @param pasid PASID / SSID carried by the request, or {@link #NO_PASID}
     * @param iova the input address
     * @param write true for a write (or a translation request asking for write permission)
     * @param translationRequest true for an ATS translation request: the result is meant for the
     *     device's ATC; no fault is recorded for a permission miss, the permissions come back instead
     * @param out filled with the result
     * @return true if translated ({@code out.pa} etc. valid); false on a fault ({@code out.fault*})
     */
    boolean translate(int sourceId, int pasid, long iova, boolean write, boolean translationRequest,
                      TranslationResult out);
}
