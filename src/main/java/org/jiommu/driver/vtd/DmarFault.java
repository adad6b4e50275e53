package org.jiommu.driver.vtd;

/**
 * One fault the driver read from a unit's fault recording register (HARDWARE.md 2.8), decoded by
 * the driver itself ({@code dmar_fault_do_one} prints the same fields).
 *
 * @param unit the unit's name
 * @param sourceId requester id of the faulting request
 * @param pasid the PASID the request carried, or -1 without one (PP clear)
 * @param address the faulting page (FRCD bits 63:12)
 * @param reason the fault reason code (FR)
 * @param write true for a write request (T clear)
 * @param translationRequest AT = 01: an ATS translation request
 */
public record DmarFault(String unit, int sourceId, int pasid, long address, int reason, boolean write,
                        boolean translationRequest) {

    /** Decodes FRCD: lo = page address; hi = SID 15:0, PP 31, FR 39:32, PV 59:40, AT 61:60, T 62. */
    static DmarFault decode(String unit, long lo, long hi) {
        int sid = (int) (hi & 0xFFFF);
        boolean pp = (hi & (1L << 31)) != 0;
        int pasid = pp ? (int) ((hi >>> 40) & 0xFFFFF) : -1;
        int reason = (int) ((hi >>> 32) & 0xFF);
        boolean write = (hi & (1L << 62)) == 0;
        boolean tr = ((hi >>> 60) & 3) == 1;
        return new DmarFault(unit, sid, pasid, lo & ~0xFFFL, reason, write, tr);
    }

    @Override
    public String toString() {
        return String.format("DMAR: %s: [%s %s] Request device [%02x:%02x.%d]%s fault addr %#x [fault reason %#04x]",
                unit, translationRequest ? "Translation" : "DMA", write ? "Write" : "Read", sourceId >> 8,
                (sourceId >> 3) & 0x1F, sourceId & 7, pasid >= 0 ? String.format(" PASID %#x", pasid) : " NO_PASID",
                address, reason);
    }
}
