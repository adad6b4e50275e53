package org.jiommu.hw.smmuv3;

/**
 * One event record (IHI 0070 7.3): 32 bytes, four little-endian words, in the layout the spec
 * gives every record: word 0 = EventType[7:0], SSV[11], SubstreamID[31:12], StreamID[63:32];
 * the translation and walk faults add word 1 = Stall[31], STAG[15:0], PnU[33], InD[34], RnW[35],
 * S2[39], CLASS[41:40]; word 2 = InputAddr[63:0]; word 3 = IPA[51:12] (translation faults) or
 * FetchAddr[51:3] (F_WALK_EABT, F_STE_FETCH, F_CD_FETCH). Built on the fault path only.
 */
public final class SmmuEvent {
    public static final int F_UUT = 0x01;
    public static final int C_BAD_STREAMID = 0x02;
    public static final int F_STE_FETCH = 0x03;
    public static final int C_BAD_STE = 0x04;
    public static final int F_BAD_ATS_TREQ = 0x05;
    public static final int F_STREAM_DISABLED = 0x06;
    public static final int F_TRANSL_FORBIDDEN = 0x07;
    public static final int C_BAD_SUBSTREAMID = 0x08;
    public static final int F_CD_FETCH = 0x09;
    public static final int C_BAD_CD = 0x0A;
    public static final int F_WALK_EABT = 0x0B;
    public static final int F_TRANSLATION = 0x10;
    public static final int F_ADDR_SIZE = 0x11;
    public static final int F_ACCESS = 0x12;
    public static final int F_PERMISSION = 0x13;

    /** CLASS (7.3.x): the access that faulted at stage 2. */
    public static final int CLASS_CD = 0;
    public static final int CLASS_TT = 1;
    public static final int CLASS_IN = 2;

    public static final int SSV_SHIFT = 11;
    public static final int SSID_SHIFT = 12;
    /** Word 1 Stall[31]: the transaction is stalled, waiting for CMD_RESUME with its STAG[15:0]. */
    public static final long STALL = 1L << 31;
    public static final long PNU = 1L << 33;
    public static final long IND = 1L << 34;
    public static final long RNW = 1L << 35;
    public static final long S2 = 1L << 39;
    public static final int CLASS_SHIFT = 40;
    public static final long IPA_MASK = 0x000F_FFFF_FFFF_F000L;
    public static final long FETCH_ADDR_MASK = 0x000F_FFFF_FFFF_FFF8L;

    public final long[] words = new long[4];
    /** The reason in words, for traces (not part of the record). */
    public final String reason;

    private SmmuEvent(int type, int sid, int ssid, String reason) {
        words[0] = type & 0xff | ((long) sid & 0xFFFF_FFFFL) << 32;
        if (ssid >= 0) {
            words[0] |= 1L << SSV_SHIFT | (long) (ssid & 0xFFFFF) << SSID_SHIFT;
        }
        this.reason = reason;
    }

    /** A configuration event (C_BAD_*, F_STREAM_DISABLED ...) that carries only the stream. */
    public static SmmuEvent config(int type, int sid, int ssid, String reason) {
        return new SmmuEvent(type, sid, ssid, reason);
    }

    /** F_STE_FETCH / F_CD_FETCH: the address whose read aborted. */
    public static SmmuEvent fetch(int type, int sid, int ssid, long fetchAddress, String reason) {
        SmmuEvent e = new SmmuEvent(type, sid, ssid, reason);
        e.words[3] = fetchAddress & FETCH_ADDR_MASK;
        return e;
    }

    /**
     * A translation-class event (F_TRANSLATION, F_ADDR_SIZE, F_ACCESS, F_PERMISSION, F_WALK_EABT,
     * F_BAD_ATS_TREQ).
     *
     * @param word3 the IPA (masked to [51:12]) or, for F_WALK_EABT, the fetch address ([51:3])
     */
    public static SmmuEvent translation(int type, int sid, int ssid, boolean read, boolean stage2, int cls,
                                        long input, long word3, String reason) {
        SmmuEvent e = new SmmuEvent(type, sid, ssid, reason);
        e.words[1] = (read ? RNW : 0) | (stage2 ? S2 : 0) | (long) (cls & 3) << CLASS_SHIFT;
        e.words[2] = input;
        e.words[3] = word3 & (type == F_WALK_EABT ? FETCH_ADDR_MASK : IPA_MASK);
        return e;
    }

    /** The record of a stalled transaction: word 1 Stall[31] and STAG[15:0] (7.3.12-7.3.15). */
    public SmmuEvent stalled(int stag) {
        SmmuEvent e = new SmmuEvent(type(), streamId(), substreamId(), reason);
        System.arraycopy(words, 0, e.words, 0, words.length);
        e.words[1] |= STALL | stag & 0xFFFFL;
        return e;
    }

    public int type() {
        return (int) words[0] & 0xff;
    }

    public int streamId() {
        return (int) (words[0] >>> 32);
    }

    /** The SubstreamID, or -1 if SSV is clear. */
    public int substreamId() {
        return (words[0] >>> SSV_SHIFT & 1) != 0 ? (int) (words[0] >>> SSID_SHIFT) & 0xFFFFF : -1;
    }

    public static String name(int type) {
        return switch (type) {
            case F_UUT -> "F_UUT";
            case C_BAD_STREAMID -> "C_BAD_STREAMID";
            case F_STE_FETCH -> "F_STE_FETCH";
            case C_BAD_STE -> "C_BAD_STE";
            case F_BAD_ATS_TREQ -> "F_BAD_ATS_TREQ";
            case F_STREAM_DISABLED -> "F_STREAM_DISABLED";
            case F_TRANSL_FORBIDDEN -> "F_TRANSL_FORBIDDEN";
            case C_BAD_SUBSTREAMID -> "C_BAD_SUBSTREAMID";
            case F_CD_FETCH -> "F_CD_FETCH";
            case C_BAD_CD -> "C_BAD_CD";
            case F_WALK_EABT -> "F_WALK_EABT";
            case F_TRANSLATION -> "F_TRANSLATION";
            case F_ADDR_SIZE -> "F_ADDR_SIZE";
            case F_ACCESS -> "F_ACCESS";
            case F_PERMISSION -> "F_PERMISSION";
            default -> String.format("EVENT_%#x", type);
        };
    }

    @Override
    public String toString() {
        return String.format("%s sid %#x%s: %s [%016x %016x %016x %016x]", name(type()), streamId(),
                substreamId() >= 0 ? " ssid " + substreamId() : "", reason, words[0], words[1], words[2], words[3]);
    }
}
