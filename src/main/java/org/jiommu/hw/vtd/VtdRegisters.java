package org.jiommu.hw.vtd;

/**
 * Register offsets and bit fields of a VT-d remapping unit (DRHD), as the driver sees them
 * through MMIO: the names are the VT-d specification's (and Linux {@code intel/iommu.h}'s
 * {@code DMAR_*_REG}). Offsets follow the spec's register map; the IOTLB registers and the
 * fault-recording registers sit where this model's ECAP.IRO and CAP.FRO say (0x200, 0x220).
 */
public final class VtdRegisters {
    private VtdRegisters() {
    }

    // ---- register offsets (spec chapter 11, "Register Descriptions") ----
    public static final int VER_REG = 0x00;
    public static final int CAP_REG = 0x08;
    public static final int ECAP_REG = 0x10;
    public static final int GCMD_REG = 0x18;
    public static final int GSTS_REG = 0x1C;
    public static final int RTADDR_REG = 0x20;
    public static final int CCMD_REG = 0x28;
    public static final int FSTS_REG = 0x34;
    public static final int FECTL_REG = 0x38;
    public static final int FEDATA_REG = 0x3C;
    public static final int FEADDR_REG = 0x40;
    public static final int FEUADDR_REG = 0x44;
    public static final int IQH_REG = 0x80;
    public static final int IQT_REG = 0x88;
    public static final int IQA_REG = 0x90;
    public static final int ICS_REG = 0x9C;
    public static final int IECTL_REG = 0xA0;
    public static final int IEDATA_REG = 0xA4;
    public static final int IEADDR_REG = 0xA8;
    public static final int IEUADDR_REG = 0xAC;
    public static final int IQERCD_REG = 0xB0;
    /** Page request queue (VT-d spec 10.4.31-10.4.37; Linux DMAR_PQH_REG ...). */
    public static final int PQH_REG = 0xC0;
    public static final int PQT_REG = 0xC8;
    public static final int PQA_REG = 0xD0;
    public static final int PRS_REG = 0xDC;
    public static final int PECTL_REG = 0xE0;
    public static final int PEDATA_REG = 0xE4;
    public static final int PEADDR_REG = 0xE8;
    public static final int PEUADDR_REG = 0xEC;
    /** PRS: pending page request (RW1C). */
    public static final int PRS_PPR = 1 << 0;
    /** PRS: page request overflow (RW1C). */
    public static final int PRS_PRO = 1 << 1;
    /** PQA: queue base 63:12, PQS 2:0 (2^PQS 4 KiB pages of 32-byte descriptors). */
    public static final long PQA_ADDR_MASK = ~0xFFFL;
    public static final long PQA_PQS_MASK = 7;
    /** PQH / PQT hold a byte offset of a 32-byte descriptor, bits 18:5. */
    public static final long PQ_OFFSET_MASK = 0x7FFE0L;
    /** Size of one page request descriptor (Linux struct page_req_dsc). */
    public static final int PAGE_REQUEST_SIZE = 32;

    /** IOTLB register block (ECAP.IRO * 16): IVA_REG then IOTLB_REG. */
    public static final int IOTLB_REG_BASE = 0x200;
    public static final int IVA_REG = IOTLB_REG_BASE;
    public static final int IOTLB_REG = IOTLB_REG_BASE + 8;
    /** First fault recording register (CAP.FRO * 16); each is 16 bytes. */
    public static final int FRCD_REG_BASE = 0x220;
    public static final int FRCD_REG_SIZE = 16;

    // ---- GCMD / GSTS (same bit positions) ----
    public static final int GCMD_TE = 1 << 31;
    public static final int GCMD_SRTP = 1 << 30;
    public static final int GCMD_SFL = 1 << 29;
    public static final int GCMD_EAFL = 1 << 28;
    public static final int GCMD_WBF = 1 << 27;
    public static final int GCMD_QIE = 1 << 26;
    public static final int GCMD_IRE = 1 << 25;
    public static final int GCMD_SIRTP = 1 << 24;
    public static final int GCMD_CFI = 1 << 23;
    public static final int GSTS_TES = 1 << 31;
    public static final int GSTS_RTPS = 1 << 30;
    public static final int GSTS_FLS = 1 << 29;
    public static final int GSTS_AFLS = 1 << 28;
    public static final int GSTS_WBFS = 1 << 27;
    public static final int GSTS_QIES = 1 << 26;
    public static final int GSTS_IRES = 1 << 25;
    public static final int GSTS_IRTPS = 1 << 24;
    public static final int GSTS_CFIS = 1 << 23;

    // ---- RTADDR ----
    /** Translation Table Mode, bits 11:10: 00 legacy, 01 scalable, 10 reserved, 11 abort-DMA. */
    public static final int RTADDR_TTM_SHIFT = 10;
    public static final long RTADDR_TTM_MASK = 3L << RTADDR_TTM_SHIFT;
    /** Linux DMA_RTADDR_SMT: TTM = 01 (scalable mode). */
    public static final long RTADDR_SMT = 1L << RTADDR_TTM_SHIFT;
    public static final long RTADDR_RTA_MASK = ~0xFFFL;

    // ---- CCMD (register-based context-cache invalidation) ----
    public static final long CCMD_ICC = 1L << 63;
    public static final int CCMD_CIRG_SHIFT = 61;
    public static final int CCMD_CAIG_SHIFT = 59;
    public static final int CCMD_FM_SHIFT = 32;
    public static final int CCMD_SID_SHIFT = 16;

    // ---- IOTLB_REG / IVA_REG (register-based IOTLB invalidation) ----
    public static final long IOTLB_IVT = 1L << 63;
    public static final int IOTLB_IIRG_SHIFT = 60;
    public static final int IOTLB_IAIG_SHIFT = 57;
    public static final long IOTLB_DR = 1L << 49;
    public static final long IOTLB_DW = 1L << 48;
    public static final int IOTLB_DID_SHIFT = 32;
    public static final long IVA_IH = 1L << 6;

    // ---- FSTS ----
    public static final int FSTS_PFO = 1 << 0;
    public static final int FSTS_PPF = 1 << 1;
    public static final int FSTS_IQE = 1 << 4;
    public static final int FSTS_ICE = 1 << 5;
    public static final int FSTS_ITE = 1 << 6;
    public static final int FSTS_FRI_SHIFT = 8;
    public static final int FSTS_FRI_MASK = 0xFF << FSTS_FRI_SHIFT;

    // ---- FECTL / IECTL ----
    public static final int ECTL_IM = 1 << 31;
    public static final int ECTL_IP = 1 << 30;

    // ---- ICS ----
    public static final int ICS_IWC = 1;

    // ---- IQA / IQH / IQT ----
    public static final long IQA_QS_MASK = 7;
    public static final long IQA_DW = 1L << 11;
    public static final long IQA_ADDR_MASK = ~0xFFFL;
    /** IQH/IQT hold a byte offset into the queue in bits 18:4 (a descriptor index << 4 or << 5). */
    public static final long IQ_OFFSET_MASK = 0x7FFF0L;

    // ---- IQERCD.IQEI: why the queue stopped (spec 11.4.9.x) ----
    public static final int IQEI_INFO_NOT_AVAILABLE = 0;
    public static final int IQEI_INVALID_TAIL = 1;
    public static final int IQEI_FETCH_ERROR = 2;
    public static final int IQEI_INVALID_TYPE = 3;
    public static final int IQEI_RESERVED_FIELD = 4;
    public static final int IQEI_INVALID_WIDTH = 5;
    public static final int IQEI_TAIL_MISALIGNED = 6;
    public static final int IQEI_INVALID_TTM = 7;

    // ---- FRCD (high qword) ----
    public static final long FRCD_F = 1L << 63;
    public static final long FRCD_T = 1L << 62;
    public static final int FRCD_AT_SHIFT = 60;
    public static final int FRCD_PV_SHIFT = 40;
    public static final int FRCD_FR_SHIFT = 32;
    public static final long FRCD_PP = 1L << 31;

    // ---- CAP fields ----
    public static final int CAP_ND_SHIFT = 0;
    public static final long CAP_RWBF = 1L << 4;
    public static final long CAP_CM = 1L << 7;
    public static final int CAP_SAGAW_SHIFT = 8;
    public static final int CAP_MGAW_SHIFT = 16;
    public static final int CAP_FRO_SHIFT = 24;
    public static final int CAP_SLLPS_SHIFT = 34;
    public static final long CAP_PSI = 1L << 39;
    public static final int CAP_NFR_SHIFT = 40;
    public static final int CAP_MAMV_SHIFT = 48;
    public static final long CAP_DWD = 1L << 54;
    public static final long CAP_DRD = 1L << 55;
    public static final long CAP_FL1GP = 1L << 56;
    public static final long CAP_FL5LP = 1L << 60;

    // ---- ECAP fields ----
    public static final long ECAP_C = 1L << 0;
    public static final long ECAP_QI = 1L << 1;
    public static final long ECAP_DT = 1L << 2;
    public static final long ECAP_IR = 1L << 3;
    public static final long ECAP_PT = 1L << 6;
    public static final long ECAP_SC = 1L << 7;
    public static final int ECAP_IRO_SHIFT = 8;
    public static final long ECAP_NEST = 1L << 26;
    public static final long ECAP_PRS = 1L << 29;
    public static final long ECAP_SRS = 1L << 31;
    public static final int ECAP_PSS_SHIFT = 35;
    public static final long ECAP_PASID = 1L << 40;
    public static final long ECAP_PDS = 1L << 42;
    public static final long ECAP_SMTS = 1L << 43;
    public static final long ECAP_SLADS = 1L << 45;
    public static final long ECAP_SLTS = 1L << 46;
    public static final long ECAP_FLTS = 1L << 47;
    public static final long ECAP_SMPWCS = 1L << 48;
    public static final long ECAP_RPS = 1L << 49;
}
