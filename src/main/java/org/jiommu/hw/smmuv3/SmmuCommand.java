package org.jiommu.hw.smmuv3;

/**
 * Command queue entries (IHI 0070 chapter 4): 16 bytes, two little-endian words, opcode in
 * word 0 bits [7:0]. Field positions as the spec (and the kernel's CMDQ_* masks) give them; the
 * static builders are what a driver (or a test acting as one) writes into the queue.
 */
public final class SmmuCommand {
    private SmmuCommand() {
    }

    public static final int PREFETCH_CONFIG = 0x01;
    public static final int PREFETCH_ADDR = 0x02;
    public static final int CFGI_STE = 0x03;
    /** CFGI_ALL is CFGI_STE_RANGE with Range = 31 (4.3.6). */
    public static final int CFGI_STE_RANGE = 0x04;
    public static final int CFGI_CD = 0x05;
    public static final int CFGI_CD_ALL = 0x06;
    public static final int TLBI_NH_ALL = 0x10;
    public static final int TLBI_NH_ASID = 0x11;
    public static final int TLBI_NH_VA = 0x12;
    public static final int TLBI_NH_VAA = 0x13;
    public static final int TLBI_EL3_ALL = 0x18;
    public static final int TLBI_EL3_VA = 0x1A;
    public static final int TLBI_EL2_ALL = 0x20;
    public static final int TLBI_EL2_ASID = 0x21;
    public static final int TLBI_EL2_VA = 0x22;
    public static final int TLBI_EL2_VAA = 0x23;
    public static final int TLBI_S12_VMALL = 0x28;
    public static final int TLBI_S2_IPA = 0x2A;
    public static final int TLBI_NSNH_ALL = 0x30;
    public static final int ATC_INV = 0x40;
    public static final int PRI_RESP = 0x41;
    public static final int RESUME = 0x44;
    public static final int STALL_TERM = 0x45;
    public static final int SYNC = 0x46;

    // word 0
    public static final long SSV = 1L << 11;
    public static final int SSID_SHIFT = 12;
    public static final int SID_SHIFT = 32;
    public static final int TLBI_NUM_SHIFT = 12;
    public static final int TLBI_SCALE_SHIFT = 20;
    public static final int VMID_SHIFT = 32;
    public static final int ASID_SHIFT = 48;
    public static final long ATC_GLOBAL = 1L << 9;
    public static final int SYNC_CS_SHIFT = 12;
    public static final int SYNC_CS_NONE = 0;
    public static final int SYNC_CS_IRQ = 1;
    public static final int SYNC_CS_SEV = 2;
    public static final int SYNC_MSIDATA_SHIFT = 32;
    // word 1
    public static final long LEAF = 1L;
    public static final int RANGE_MASK = 0x1F;
    public static final int TLBI_TTL_SHIFT = 8;
    public static final int TLBI_TG_SHIFT = 10;
    public static final long ADDR_63_12 = 0xFFFF_FFFF_FFFF_F000L;
    public static final long IPA_51_12 = 0x000F_FFFF_FFFF_F000L;
    public static final int ATC_SIZE_MASK = 0x3F;
    /** ATC_INV Size 52: the whole address space (the kernel's ATC_INV_SIZE_ALL). */
    public static final int ATC_SIZE_ALL = 52;
    public static final int PRI_RESP_SHIFT = 12;
    /** CMD_RESUME Action[13:12] (the kernel's CMDQ_RESUME_0_RESP): terminate, retry, abort; STAG in word 1 [15:0]. */
    public static final int RESUME_ACTION_SHIFT = 12;
    public static final int RESUME_TERM = 0;
    public static final int RESUME_RETRY = 1;
    public static final int RESUME_ABORT = 2;
    public static final int PRI_RESP_DENY = 0;
    public static final int PRI_RESP_FAIL = 1;
    public static final int PRI_RESP_SUCC = 2;
    public static final long SYNC_MSIADDR_MASK = 0x000F_FFFF_FFFF_FFFCL;

    public static int opcode(long w0) {
        return (int) w0 & 0xff;
    }

    public static long[] cfgiSte(int sid, boolean leaf) {
        return new long[] {CFGI_STE | (sid & 0xFFFF_FFFFL) << SID_SHIFT, leaf ? LEAF : 0};
    }

    /** Invalidates 2^(range + 1) StreamIDs from {@code sid} aligned down. */
    public static long[] cfgiSteRange(int sid, int range) {
        return new long[] {CFGI_STE_RANGE | (sid & 0xFFFF_FFFFL) << SID_SHIFT, range & RANGE_MASK};
    }

    public static long[] cfgiAll() {
        return cfgiSteRange(0, 31);
    }

    public static long[] cfgiCd(int sid, int ssid, boolean leaf) {
        return new long[] {CFGI_CD | (long) (ssid & 0xFFFFF) << SSID_SHIFT | (sid & 0xFFFF_FFFFL) << SID_SHIFT,
                leaf ? LEAF : 0};
    }

    public static long[] cfgiCdAll(int sid) {
        return new long[] {CFGI_CD_ALL | (sid & 0xFFFF_FFFFL) << SID_SHIFT, 0};
    }

    public static long[] tlbiNhAsid(int vmid, int asid) {
        return new long[] {TLBI_NH_ASID | (long) (vmid & 0xffff) << VMID_SHIFT | (long) (asid & 0xffff) << ASID_SHIFT,
                0};
    }

    public static long[] tlbiNhAll(int vmid) {
        return new long[] {TLBI_NH_ALL | (long) (vmid & 0xffff) << VMID_SHIFT, 0};
    }

    /**
     * TLBI_NH_VA (or with {@code opcode} TLBI_NH_VAA / TLBI_S2_IPA): one address, or with
     * {@code tg} != 0 the range (num + 1) * 2^scale granules of tg (1 = 4K, 2 = 16K, 3 = 64K),
     * with the TTL level hint.
     */
    public static long[] tlbiRange(int opcode, int vmid, int asid, long address, boolean leaf, int tg, int ttl,
                                   int scale, int num) {
        long w0 = opcode | (long) (num & 0x1f) << TLBI_NUM_SHIFT | (long) (scale & 0x1f) << TLBI_SCALE_SHIFT
                | (long) (vmid & 0xffff) << VMID_SHIFT | (long) (asid & 0xffff) << ASID_SHIFT;
        long mask = opcode == TLBI_S2_IPA ? IPA_51_12 : ADDR_63_12;
        long w1 = (leaf ? LEAF : 0) | (long) (ttl & 3) << TLBI_TTL_SHIFT | (long) (tg & 3) << TLBI_TG_SHIFT
                | address & mask;
        return new long[] {w0, w1};
    }

    public static long[] tlbiNhVa(int vmid, int asid, long va, boolean leaf) {
        return tlbiRange(TLBI_NH_VA, vmid, asid, va, leaf, 0, 0, 0, 0);
    }

    public static long[] tlbiS12Vmall(int vmid) {
        return new long[] {TLBI_S12_VMALL | (long) (vmid & 0xffff) << VMID_SHIFT, 0};
    }

    public static long[] tlbiS2Ipa(int vmid, long ipa, boolean leaf) {
        return tlbiRange(TLBI_S2_IPA, vmid, 0, ipa, leaf, 0, 0, 0, 0);
    }

    public static long[] tlbiNsnhAll() {
        return new long[] {TLBI_NSNH_ALL, 0};
    }

    /** ATC_INV of 2^size 4K pages at {@code address} (aligned down to that span). */
    public static long[] atcInv(int sid, int ssid, boolean global, long address, int size) {
        long w0 = ATC_INV | (sid & 0xFFFF_FFFFL) << SID_SHIFT | (global ? ATC_GLOBAL : 0);
        if (ssid >= 0) {
            w0 |= SSV | (long) (ssid & 0xFFFFF) << SSID_SHIFT;
        }
        return new long[] {w0, address & ADDR_63_12 | size & ATC_SIZE_MASK};
    }

    public static long[] priResp(int sid, int ssid, int grpId, int resp) {
        long w0 = PRI_RESP | (sid & 0xFFFF_FFFFL) << SID_SHIFT;
        if (ssid >= 0) {
            w0 |= SSV | (long) (ssid & 0xFFFFF) << SSID_SHIFT;
        }
        return new long[] {w0, grpId & 0x1ff | (long) (resp & 3) << PRI_RESP_SHIFT};
    }

    /** CMD_SYNC; with {@code cs} = SYNC_CS_IRQ and an address, completion writes {@code msiData} there. */
    public static long[] sync(int cs, long msiAddress, int msiData) {
        return new long[] {SYNC | (long) (cs & 3) << SYNC_CS_SHIFT | (msiData & 0xFFFF_FFFFL) << SYNC_MSIDATA_SHIFT,
                msiAddress & SYNC_MSIADDR_MASK};
    }

    /** CMD_RESUME of the stalled transaction {@code stag} of stream {@code sid} with {@code action} (4.7.2). */
    public static long[] resume(int sid, int stag, int action) {
        return new long[] {RESUME | (long) (action & 3) << RESUME_ACTION_SHIFT | (sid & 0xFFFF_FFFFL) << SID_SHIFT,
            stag & 0xFFFFL};
    }
}
