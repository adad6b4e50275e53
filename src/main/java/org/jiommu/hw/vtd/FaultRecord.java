package org.jiommu.hw.vtd;

import org.jiommu.bus.dma.DmaTranslator;
import org.jiommu.hw.FaultKind;

/**
 * One translation fault as the unit saw it, and its 128-bit fault-recording-register
 * encoding (HARDWARE.md 2.8): lo = faulting page address [63:12]; hi = SID 15:0, PP 31,
 * FR 39:32, PV 59:40, AT 61:60 (01 for an ATS translation request), T 62 (1 = read), F 63.
 *
 * @param pasid the PASID the request carried, or {@link DmaTranslator#NO_PASID}
 * @param address the faulting input address (the register keeps its page)
 * @param disposition what the fault-recording logic did with it
 */
public record FaultRecord(int sourceId, int pasid, long address, int reason, boolean write,
                          boolean translationRequest, Disposition disposition) {

    /** What happened to a fault (QEMU vtd_report_frcd_fault, plus FPD). */
    public enum Disposition {
        /** Written to a fault recording register. */
        RECORDED,
        /** Qualified fault with FPD set in the context, PASID-directory or PASID entry: not reported. */
        SUPPRESSED_FPD,
        /** A pending record of the same source id exists ("fault compression"): not recorded. */
        COMPRESSED,
        /** No free fault recording register, or FSTS.PFO already set: PFO set, not recorded. */
        OVERFLOW
    }

    /** The reason as the neutral kind every IOMMU model shares. */
    public FaultKind kind() {
        return FaultReason.kind(reason);
    }

    public boolean pasidPresent() {
        return pasid != DmaTranslator.NO_PASID;
    }

    /** FRCD low qword. */
    public long frcdLo() {
        return address & ~0xFFFL;
    }

    /** FRCD high qword without the F bit. */
    public long frcdHi() {
        long hi = sourceId & 0xFFFFL;
        hi |= (long) (reason & 0xFF) << VtdRegisters.FRCD_FR_SHIFT;
        if (pasidPresent()) {
            hi |= VtdRegisters.FRCD_PP | (long) (pasid & 0xFFFFF) << VtdRegisters.FRCD_PV_SHIFT;
        }
        if (translationRequest) {
            hi |= 1L << VtdRegisters.FRCD_AT_SHIFT;
        }
        if (!write) {
            hi |= VtdRegisters.FRCD_T;
        }
        return hi;
    }

    /** Decodes a fault recording register (F ignored) back into a record marked RECORDED. */
    public static FaultRecord decode(long lo, long hi) {
        int sid = (int) (hi & 0xFFFF);
        boolean pp = (hi & VtdRegisters.FRCD_PP) != 0;
        int pasid = pp ? (int) ((hi >>> VtdRegisters.FRCD_PV_SHIFT) & 0xFFFFF) : DmaTranslator.NO_PASID;
        int reason = (int) ((hi >>> VtdRegisters.FRCD_FR_SHIFT) & 0xFF);
        boolean write = (hi & VtdRegisters.FRCD_T) == 0;
        boolean tr = ((hi >>> VtdRegisters.FRCD_AT_SHIFT) & 3) == 1;
        return new FaultRecord(sid, pasid, lo & ~0xFFFL, reason, write, tr, Disposition.RECORDED);
    }

    @Override
    public String toString() {
        return String.format("DMAR: [%s %s] Request device [%02x:%02x.%d]%s fault addr %#x [fault reason %#04x] %s (%s)",
                translationRequest ? "Translation" : "DMA", write ? "Write" : "Read", sourceId >> 8,
                (sourceId >> 3) & 0x1F, sourceId & 7, pasidPresent() ? String.format(" PASID %#x", pasid) : "",
                address, reason, FaultReason.name(reason), disposition);
    }
}
