package org.jiommu.hw.vtd;

import static org.jiommu.hw.vtd.VtdRegisters.*;

/**
 * An invalidation-queue descriptor, decoded from the 128- or 256-bit words a driver wrote
 * (HARDWARE.md 2.7). Type = bits 3:0 with bits 11:9 as type[6:4]. {@link #decode} accepts
 * exactly the bits the spec defines for the unit's capabilities and refuses anything else with
 * {@link Invalid}, which stops the queue with FSTS.IQE (QEMU vtd_inv_desc_reserved_check).
 */
public sealed interface InvDescriptor {
    int TYPE_CONTEXT_CACHE = 1;
    int TYPE_IOTLB = 2;
    int TYPE_DEVICE_TLB = 3;
    int TYPE_IEC = 4;
    int TYPE_WAIT = 5;
    int TYPE_PASID_IOTLB = 6;
    int TYPE_PASID_CACHE = 7;
    int TYPE_PASID_DEVICE_TLB = 8;
    int TYPE_PAGE_GROUP_RESPONSE = 9;

    /** Page group response codes (VT-d spec 6.5.2.8, Linux QI_RESP_*), as the PCIe PRG Response carries them. */
    int RESPONSE_SUCCESS = 0x0;
    int RESPONSE_INVALID = 0x1;
    int RESPONSE_FAILURE = 0xF;

    /** Granularities of the context-cache and IOTLB descriptors (G field). */
    int G_GLOBAL = 1;
    int G_DOMAIN = 2;
    /** Context cache: device-selective; IOTLB: page-selective. */
    int G_DEVICE_OR_PAGE = 3;

    /** PASID-cache G: all PASIDs of a domain. */
    int PC_G_DOMAIN = 0;
    /** PASID-cache G: one PASID of a domain. */
    int PC_G_PASID = 1;
    /** PASID-cache G: everything. */
    int PC_G_GLOBAL = 3;

    /** PASID-based IOTLB G: all (non-global) entries of a PASID. */
    int PIOTLB_G_PASID = 2;
    /** PASID-based IOTLB G: pages of a PASID. */
    int PIOTLB_G_PAGE = 3;

    /** The descriptor type (1..8). */
    int type();

    /** A descriptor the hardware refuses: the queue stops with IQE and IQERCD.IQEI = {@link #iqei}. */
    final class Invalid extends Exception {
        private static final long serialVersionUID = 1L;
        private final int iqei;

        public Invalid(int iqei, String message) {
            super(message, null, false, false);
            this.iqei = iqei;
        }

        public int iqei() {
            return iqei;
        }
    }

    /** Context-cache invalidate (type 1): G 5:4, DID 31:16, SID 47:32, FM 49:48. */
    record ContextCacheInv(int granularity, int domainId, int sourceId, int functionMask) implements InvDescriptor {
        public int type() {
            return TYPE_CONTEXT_CACHE;
        }

        /** True if this device-selective invalidation covers {@code sid} (FM masks function bits, MSB first). */
        public boolean coversSource(int sid) {
            int ignore = functionMaskBits(functionMask);
            return (sid & ~ignore) == (sourceId & ~ignore);
        }

        /** FM 0: none; 1: function bit 2; 2: bits 2:1; 3: bits 2:0 (HARDWARE.md 5.3). */
        public static int functionMaskBits(int fm) {
            switch (fm) {
                case 1: return 0b100;
                case 2: return 0b110;
                case 3: return 0b111;
                default: return 0;
            }
        }
    }

    /** IOTLB invalidate (type 2): G 5:4, DW 6, DR 7, DID 31:16; qw1 AM 5:0, IH 6, ADDR 63:12. */
    record IotlbInv(int granularity, boolean drainWrites, boolean drainReads, int domainId, long address,
                    int addressMask, boolean invalidationHint) implements InvDescriptor {
        public int type() {
            return TYPE_IOTLB;
        }
    }

    /** Device-TLB invalidate (type 3): PFSID, MIP (QDEP) 20:16, SID 47:32; qw1 S 0, ADDR 63:12. */
    record DeviceTlbInv(int sourceId, int physicalFunctionSourceId, int maxInvalidationsPending, long addressField,
                        boolean sizeBit) implements InvDescriptor {
        public int type() {
            return TYPE_DEVICE_TLB;
        }

        /** Start of the invalidated range (see {@link InvDescriptor#atsRangeStart}). */
        public long rangeStart() {
            return atsRangeStart(addressField, sizeBit);
        }

        public long rangeSize() {
            return atsRangeSize(addressField, sizeBit);
        }
    }

    /** Interrupt-entry-cache invalidate (type 4): G 4, IM 31:27, IIDX 47:32. Interrupt remapping is not modelled. */
    record IecInv(boolean selective, int indexMask, int interruptIndex) implements InvDescriptor {
        public int type() {
            return TYPE_IEC;
        }
    }

    /** Invalidation wait (type 5): IF 4, SW 5, FN 6, PD 7, status data 63:32; qw1 status address 63:2. */
    record InvWait(boolean interruptFlag, boolean statusWrite, boolean fence, boolean pageRequestDrain,
                   int statusData, long statusAddress) implements InvDescriptor {
        public int type() {
            return TYPE_WAIT;
        }
    }

    /** PASID-based IOTLB invalidate (type 6): G 5:4, DID 31:16, PASID 51:32; qw1 AM 5:0, IH 6, ADDR 63:12. */
    record PasidIotlbInv(int granularity, int domainId, int pasid, long address, int addressMask,
                         boolean invalidationHint) implements InvDescriptor {
        public int type() {
            return TYPE_PASID_IOTLB;
        }
    }

    /** PASID-cache invalidate (type 7): G 5:4, DID 31:16, PASID 51:32. */
    record PasidCacheInv(int granularity, int domainId, int pasid) implements InvDescriptor {
        public int type() {
            return TYPE_PASID_CACHE;
        }
    }

    /** PASID-based Device-TLB invalidate (type 8): MIP 8:4, SID 31:16, PASID 51:32; qw1 G 0, S 11, ADDR 63:12. */
    record PasidDeviceTlbInv(int sourceId, int physicalFunctionSourceId, int maxInvalidationsPending, int pasid,
                             boolean global, long addressField, boolean sizeBit) implements InvDescriptor {
        public int type() {
            return TYPE_PASID_DEVICE_TLB;
        }

        public long rangeStart() {
            return atsRangeStart(addressField, sizeBit);
        }

        public long rangeSize() {
            return atsRangeSize(addressField, sizeBit);
        }
    }

    /**
     * Page group response (type 9, Linux {@code QI_PGRP_*}): qw0 PASID present bit 4, response
     * code 15:12, requester id 31:16, PASID 51:32; qw1 LPIG bit 2, page request group index 11:3.
     */
    record PageGroupResponse(boolean pasidPresent, int responseCode, int requesterId, int pasid,
                             boolean lastPageInGroup, int prgIndex) implements InvDescriptor {
        public int type() {
            return TYPE_PAGE_GROUP_RESPONSE;
        }
    }

    /**
     * Range size encoded by an ATS invalidation address (PCIe ATS, as HARDWARE.md 2.7 and QEMU
     * do_invalidate_device_tlb read it): S = 0 is one 4 KiB page; with S = 1 the lowest clear
     * address bit at or above bit 12, bit k, encodes 2^(k+1) bytes. A size of 2^63 or more (the
     * "flush everything" encoding) is reported as {@link Long#MAX_VALUE} from address 0.
     */
    static long atsRangeSize(long addressField, boolean s) {
        if (!s) {
            return 4096;
        }
        int ones = Long.numberOfTrailingZeros(~(addressField >>> 12));
        int shift = 13 + ones;
        return shift >= 63 ? Long.MAX_VALUE : 1L << shift;
    }

    static long atsRangeStart(long addressField, boolean s) {
        long size = atsRangeSize(addressField, s);
        return size == Long.MAX_VALUE ? 0 : addressField & ~0xFFFL & ~(size - 1);
    }

    /**
     * Decodes one descriptor.
     *
     * @param q words of the descriptor (2 used in a 128-bit queue, 4 in a 256-bit one)
     * @param wide true if the queue holds 256-bit descriptors (IQA.DW = 1)
     * @throws Invalid on an unknown type, a reserved bit, or a descriptor the unit does not support
     */
    static InvDescriptor decode(long q0, long q1, long q2, long q3, boolean wide, VtdConfig cfg) throws Invalid {
        int type = (int) (q0 & 0xF) | (int) ((q0 >>> 9) & 7) << 4;
        if (wide && (q2 != 0 || q3 != 0)) {
            throw new Invalid(IQEI_RESERVED_FIELD, String.format("descriptor type %d: qw2/qw3 reserved (%#x, %#x)",
                    type, q2, q3));
        }
        switch (type) {
            case TYPE_CONTEXT_CACHE: {
                reserved(type, q0, 0xFFFC00000000F1C0L, q1, -1L);
                int g = (int) (q0 >>> 4) & 3;
                if (g == 0) {
                    throw new Invalid(IQEI_RESERVED_FIELD, "context-cache invalidate with granularity 0");
                }
                return new ContextCacheInv(g, (int) (q0 >>> 16) & 0xFFFF, (int) (q0 >>> 32) & 0xFFFF,
                        (int) (q0 >>> 48) & 3);
            }
            case TYPE_IOTLB: {
                reserved(type, q0, 0xFFFFFFFF0000F100L, q1, 0xF80L);
                int g = (int) (q0 >>> 4) & 3;
                if (g == 0) {
                    throw new Invalid(IQEI_RESERVED_FIELD, "IOTLB invalidate with granularity 0");
                }
                int am = (int) (q1 & 0x3F);
                if (g == G_DEVICE_OR_PAGE && am > cfg.maxAddressMaskValue()) {
                    throw new Invalid(IQEI_RESERVED_FIELD, String.format(
                            "IOTLB invalidate AM %d above MAMV %d", am, cfg.maxAddressMaskValue()));
                }
                return new IotlbInv(g, (q0 & 0x40) != 0, (q0 & 0x80) != 0, (int) (q0 >>> 16) & 0xFFFF,
                        q1 & ~0xFFFL, am, (q1 & 0x40) != 0);
            }
            case TYPE_DEVICE_TLB: {
                if (!cfg.deviceTlb()) {
                    throw new Invalid(IQEI_INVALID_TYPE, "device-TLB invalidate on a unit without ECAP.DT");
                }
                reserved(type, q0, 0x000F0000FFE001F0L, q1, 0xFFEL);
                int pfsid = (int) ((q0 >>> 12) & 0xF) | (int) ((q0 >>> 52) & 0xFFF) << 4;
                return new DeviceTlbInv((int) (q0 >>> 32) & 0xFFFF, pfsid, (int) (q0 >>> 16) & 0x1F,
                        q1 & ~0xFFFL, (q1 & 1) != 0);
            }
            case TYPE_IEC:
                reserved(type, q0, 0xFFFF000007FFF1E0L, q1, -1L);
                return new IecInv((q0 & 0x10) != 0, (int) (q0 >>> 27) & 0x1F, (int) (q0 >>> 32) & 0xFFFF);
            case TYPE_WAIT:
                // PD (bit 7) needs page-request drain support (ECAP.PDS).
                reserved(type, q0, cfg.pageRequests() ? 0xFFFFF100L : 0xFFFFF180L, q1, 3L);
                return new InvWait((q0 & 0x10) != 0, (q0 & 0x20) != 0, (q0 & 0x40) != 0, (q0 & 0x80) != 0,
                        (int) (q0 >>> 32), q1 & ~3L);
            case TYPE_PASID_IOTLB: {
                pasidBased(type, wide, cfg);
                reserved(type, q0, 0xFFF000000000F1C0L, q1, 0xF80L);
                int g = (int) (q0 >>> 4) & 3;
                if (g != PIOTLB_G_PASID && g != PIOTLB_G_PAGE) {
                    throw new Invalid(IQEI_RESERVED_FIELD, "PASID-based IOTLB invalidate with granularity " + g);
                }
                int am = (int) (q1 & 0x3F);
                if (g == PIOTLB_G_PAGE && am > cfg.maxAddressMaskValue()) {
                    throw new Invalid(IQEI_RESERVED_FIELD, String.format(
                            "PASID-based IOTLB invalidate AM %d above MAMV %d", am, cfg.maxAddressMaskValue()));
                }
                return new PasidIotlbInv(g, (int) (q0 >>> 16) & 0xFFFF, (int) (q0 >>> 32) & 0xFFFFF,
                        q1 & ~0xFFFL, am, (q1 & 0x40) != 0);
            }
            case TYPE_PASID_CACHE: {
                pasidBased(type, wide, cfg);
                reserved(type, q0, 0xFFF000000000F1C0L, q1, -1L);
                int g = (int) (q0 >>> 4) & 3;
                if (g == 2) {
                    throw new Invalid(IQEI_RESERVED_FIELD, "PASID-cache invalidate with reserved granularity 2");
                }
                return new PasidCacheInv(g, (int) (q0 >>> 16) & 0xFFFF, (int) (q0 >>> 32) & 0xFFFFF);
            }
            case TYPE_PASID_DEVICE_TLB: {
                pasidBased(type, wide, cfg);
                if (!cfg.deviceTlb()) {
                    throw new Invalid(IQEI_INVALID_TYPE, "PASID-based device-TLB invalidate on a unit without ECAP.DT");
                }
                reserved(type, q0, 0, q1, 0x7FEL);
                int pfsid = (int) ((q0 >>> 12) & 0xF) | (int) ((q0 >>> 52) & 0xFFF) << 4;
                return new PasidDeviceTlbInv((int) (q0 >>> 16) & 0xFFFF, pfsid, (int) (q0 >>> 4) & 0x1F,
                        (int) (q0 >>> 32) & 0xFFFFF, (q1 & 1) != 0, q1 & ~0xFFFL, (q1 & 0x800) != 0);
            }
            case TYPE_PAGE_GROUP_RESPONSE: {
                pasidBased(type, wide, cfg);
                if (!cfg.pageRequests()) {
                    throw new Invalid(IQEI_INVALID_TYPE, "page group response on a unit without ECAP.PRS");
                }
                reserved(type, q0, 0xFFF00000000001E0L, q1, 0xFFFFFFFFFFFFF003L);
                return new PageGroupResponse((q0 & 0x10) != 0, (int) (q0 >>> 12) & 0xF, (int) (q0 >>> 16) & 0xFFFF,
                        (int) (q0 >>> 32) & 0xFFFFF, (q1 & 4) != 0, (int) (q1 >>> 3) & 0x1FF);
            }
            default:
                throw new Invalid(IQEI_INVALID_TYPE, String.format("invalid descriptor type %d (qw0 %#x)", type, q0));
        }
    }

    private static void reserved(int type, long q0, long mask0, long q1, long mask1) throws Invalid {
        if ((q0 & mask0) != 0 || (q1 & mask1) != 0) {
            throw new Invalid(IQEI_RESERVED_FIELD, String.format(
                    "descriptor type %d: reserved bits set (qw0 %#x & %#x, qw1 %#x & %#x)", type, q0, mask0, q1, mask1));
        }
    }

    /** PASID-based descriptors exist only in scalable mode, in a 256-bit queue (QEMU: "256-bit desc"). */
    private static void pasidBased(int type, boolean wide, VtdConfig cfg) throws Invalid {
        if (!cfg.scalableMode()) {
            throw new Invalid(IQEI_INVALID_TYPE, "descriptor type " + type + " needs scalable-mode support");
        }
        if (!wide) {
            throw new Invalid(IQEI_INVALID_WIDTH, "descriptor type " + type + " in a 128-bit invalidation queue");
        }
    }
}
