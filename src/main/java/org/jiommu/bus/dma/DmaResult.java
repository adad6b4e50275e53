package org.jiommu.bus.dma;

/**
 * The outcome of one {@link DmaEngine} transfer: how many bytes moved, where the first one
 * went, and, on a fault, where and why the transfer stopped. Mutable and reused by the caller
 * (one per thread), so a transfer allocates nothing; it also carries the scratch
 * {@link TranslationResult} the engine hands to the IOMMU.
 */
public final class DmaResult {
    /** {@link #faultCode()} of an access the IOMMU translated to an address beyond memory. */
    public static final int MEMORY_FAULT_CODE = -1;
    public static final String MEMORY_FAULT_NAME = "physical address beyond memory";

    /** How a transfer ended. */
    public enum Status {
        /** Every byte moved. */
        OK,
        /** The IOMMU refused a page (fault code and name from its {@link TranslationResult}). */
        TRANSLATION_FAULT,
        /** A translated address lies beyond simulated physical memory ({@code MemoryFault}). */
        MEMORY_FAULT
    }

    final TranslationResult translation = new TranslationResult();
    private Status status = Status.OK;
    private long bytes;
    private long firstPa = -1;
    private long faultIova;
    private int faultCode;
    private String faultName;

    void reset() {
        status = Status.OK;
        bytes = 0;
        firstPa = -1;
        faultIova = 0;
        faultCode = 0;
        faultName = null;
    }

    void moved(long pa, int n) {
        if (bytes == 0) {
            firstPa = pa;
        }
        bytes += n;
    }

    void fault(Status kind, long iova, int code, String name) {
        status = kind;
        faultIova = iova;
        faultCode = code;
        faultName = name;
    }

    public boolean ok() {
        return status == Status.OK;
    }

    public Status status() {
        return status;
    }

    /** Bytes moved; on a fault, those before the faulting page (they did reach memory). */
    public long bytes() {
        return bytes;
    }

    /** Physical address of the first byte moved, or -1 if none moved. */
    public long firstPa() {
        return firstPa;
    }

    /** The input address of the access that faulted. */
    public long faultIova() {
        return faultIova;
    }

    public int faultCode() {
        return faultCode;
    }

    /** The fault's name as the IOMMU gave it, or {@link #MEMORY_FAULT_NAME}; null when ok. */
    public String faultName() {
        return faultName;
    }

    @Override
    public String toString() {
        return ok() ? String.format("ok %d bytes at %#x", bytes, firstPa)
                : String.format("%s at iova %#x: %s (%d) after %d bytes", status, faultIova, faultName, faultCode, bytes);
    }
}
