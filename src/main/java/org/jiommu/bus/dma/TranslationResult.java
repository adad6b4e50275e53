package org.jiommu.bus.dma;

/**
 * The outcome of one {@link DmaTranslator#translate} call. Mutable and reused by the caller so the
 * DMA path allocates nothing per request.
 */
public final class TranslationResult {
    /** Output address of the requested iova (page base + offset). */
    public long pa;
    /** Size of the translated page (what an ATC may cache), a power of two. */
    public long pageSize;
    public boolean readable;
    public boolean writable;
    /** Hardware fault code (VT-d fault reason, SMMUv3 event id, ...); valid when translate returned false. */
    public int faultCode;
    /** Short name of the fault, e.g. {@code "read without R permission"}. */
    public String faultName;

    public TranslationResult clear() {
        pa = 0;
        pageSize = 0;
        readable = false;
        writable = false;
        faultCode = 0;
        faultName = null;
        return this;
    }

    public void fault(int code, String name) {
        faultCode = code;
        faultName = name;
    }
}
