package org.jiommu.hw.smmuv3;

import static org.jiommu.hw.smmuv3.SmmuCommand.*;

import org.jiommu.bus.dma.DeviceTlb;
import org.jiommu.bus.dma.DmaTranslator;
import org.jiommu.bus.dma.PageResponseReceiver;
import org.jiommu.hw.EndpointRegistry;
import org.jiommu.hw.HwStats;
import org.jiommu.mem.PhysicalMemory;

/**
 * Executes one command of the SMMUv3 command queue (IHI 0070 chapter 4). Returns
 * {@link SmmuRegs#CERROR_NONE} or {@link SmmuRegs#CERROR_ILL} for a command the spec calls
 * illegal (4.1.3: an unknown opcode, a command for a feature the SMMU does not implement, a
 * reserved field value); the unit then stops consuming at it (3.5.2, 4.1.4).
 */
final class SmmuCommandQueue {
    private final SmmuFeatures features;
    private final SmmuV3Translation translation;
    private final PhysicalMemory memory;
    private final EndpointRegistry<DeviceTlb> atcs;
    private final EndpointRegistry<PageResponseReceiver> priReceivers;
    private final HwStats stats;
    /** The unit's stalled transactions (CMD_RESUME, CMD_STALL_TERM); null without the stall model. */
    interface Resumer {
        void resume(int sid, int stag, int action);

        void terminateAll(int sid);
    }

    volatile Resumer resumer;

    /** Why the last command was illegal, for traces. */
    volatile String lastError;

    SmmuCommandQueue(SmmuFeatures features, SmmuV3Translation translation, PhysicalMemory memory,
                     EndpointRegistry<DeviceTlb> atcs, EndpointRegistry<PageResponseReceiver> priReceivers,
                     HwStats stats) {
        this.features = features;
        this.translation = translation;
        this.memory = memory;
        this.atcs = atcs;
        this.priReceivers = priReceivers;
        this.stats = stats;
    }

    int execute(long w0, long w1) {
        int op = opcode(w0);
        int sid = (int) (w0 >>> SID_SHIFT);
        boolean ssv = (w0 & SSV) != 0;
        int ssid = (int) (w0 >>> SSID_SHIFT) & 0xFFFFF;
        int vmid = features.stage2() ? (int) (w0 >>> VMID_SHIFT) & 0xffff : 0;
        int asid = (int) (w0 >>> ASID_SHIFT) & 0xffff;
        if (ssv && features.ssidBits() == 0) {
            return ill("SSV with SSIDSIZE = 0");
        }
        switch (op) {
            case PREFETCH_CONFIG, PREFETCH_ADDR:
                // A prefetch is a hint; not fetching is allowed (4.2).
                count("prefetch");
                return SmmuRegs.CERROR_NONE;
            case CFGI_STE:
                count("cfgi-ste");
                translation.invalidateSteRange(sid & 0xFFFF_FFFFL, sid & 0xFFFF_FFFFL);
                return SmmuRegs.CERROR_NONE;
            case CFGI_STE_RANGE: {
                int range = (int) w1 & RANGE_MASK;
                count(range == 31 ? "cfgi-all" : "cfgi-ste-range");
                long n = 1L << (range + 1);
                long first = (sid & 0xFFFF_FFFFL) & -n;
                translation.invalidateSteRange(first, first + n - 1);
                return SmmuRegs.CERROR_NONE;
            }
            case CFGI_CD:
                if (!features.stage1()) {
                    return ill("CFGI_CD without stage 1");
                }
                count("cfgi-cd");
                translation.invalidateCd(sid, ssid);
                return SmmuRegs.CERROR_NONE;
            case CFGI_CD_ALL:
                if (!features.stage1()) {
                    return ill("CFGI_CD_ALL without stage 1");
                }
                count("cfgi-cd-all");
                translation.invalidateCdAll(sid);
                return SmmuRegs.CERROR_NONE;
            case TLBI_NH_ALL:
                if (!features.stage1()) {
                    return ill("TLBI_NH_ALL without stage 1");
                }
                count("tlbi-nh-all");
                translation.invalidateStage1(vmid, -1, 0, 0);
                return SmmuRegs.CERROR_NONE;
            case TLBI_NH_ASID:
                if (!features.stage1()) {
                    return ill("TLBI_NH_ASID without stage 1");
                }
                count("tlbi-nh-asid");
                translation.invalidateStage1(vmid, asid, 0, 0);
                return SmmuRegs.CERROR_NONE;
            case TLBI_NH_VA, TLBI_NH_VAA: {
                if (!features.stage1()) {
                    return ill("TLBI_NH_VA without stage 1");
                }
                count(op == TLBI_NH_VA ? "tlbi-nh-va" : "tlbi-nh-vaa");
                long[] r = range(w0, w1, w1 & ADDR_63_12);
                // The leaf flag only spares walk caches, which are not modelled: leaves go either way.
                translation.invalidateStage1(vmid, op == TLBI_NH_VA ? asid : -1, r[0], r[1]);
                return SmmuRegs.CERROR_NONE;
            }
            case TLBI_S12_VMALL:
                if (!features.stage2()) {
                    return ill("TLBI_S12_VMALL without stage 2");
                }
                count("tlbi-s12-vmall");
                translation.invalidateVmid(vmid);
                return SmmuRegs.CERROR_NONE;
            case TLBI_S2_IPA: {
                if (!features.stage2()) {
                    return ill("TLBI_S2_IPA without stage 2");
                }
                count("tlbi-s2-ipa");
                long[] r = range(w0, w1, w1 & IPA_51_12);
                translation.invalidateStage2(vmid, r[0], r[1]);
                return SmmuRegs.CERROR_NONE;
            }
            case TLBI_NSNH_ALL:
                count("tlbi-nsnh-all");
                translation.invalidateTlbAll();
                return SmmuRegs.CERROR_NONE;
            case ATC_INV:
                return atcInv(w0, w1, sid, ssv, ssid);
            case PRI_RESP:
                return priResp(w1, sid, ssv, ssid);
            case SYNC:
                return sync(w0, w1);
            case RESUME:
            case STALL_TERM:
                if (!features.stall() || resumer == null) {
                    return ill("opcode " + String.format("%#x", op) + " without the stall model");
                }
                count(op == RESUME ? "resume" : "stall-term");
                if (op == RESUME) {
                    int action = (int) (w0 >>> RESUME_ACTION_SHIFT) & 3;
                    if (action == 3) {
                        return ill("CMD_RESUME Action 0b11 is reserved");
                    }
                    resumer.resume(sid, (int) w1 & 0xFFFF, action);
                } else {
                    resumer.terminateAll(sid);
                }
                return SmmuRegs.CERROR_NONE;
            default:
                // TLBI_EL2_* (IDR0.HYP = 0), TLBI_EL3_* (Secure only), and every unassigned opcode.
                return ill("opcode " + String.format("%#x", op));
        }
    }

    /**
     * The address range of a TLBI_NH_VA / TLBI_S2_IPA: with IDR3.RIL and TG != 0,
     * (NUM + 1) * 2^SCALE granules (4.4.1.1); otherwise the one address (every leaf holding it).
     * Without RIL, TG / NUM / SCALE are RES0 and ignored.
     */
    private long[] range(long w0, long w1, long address) {
        int tg = (int) (w1 >>> TLBI_TG_SHIFT) & 3;
        if (!features.rangeInvalidation() || tg == 0) {
            return new long[] {address, 1};
        }
        int shift = tg == 1 ? 12 : tg == 2 ? 14 : 16;
        int num = (int) (w0 >>> TLBI_NUM_SHIFT) & 0x1f;
        int scale = (int) (w0 >>> TLBI_SCALE_SHIFT) & 0x1f;
        long start = address & -(1L << shift);
        int bits = scale + shift;
        long size = bits >= 63 ? Long.MAX_VALUE : (num + 1L) << bits;
        return new long[] {start, size};
    }

    private int atcInv(long w0, long w1, int sid, boolean ssv, int ssid) {
        if (!features.ats()) {
            return ill("ATC_INV without ATS");
        }
        count("atc-inv");
        int size = (int) w1 & ATC_SIZE_MASK;
        long address;
        long span;
        if (size >= ATC_SIZE_ALL) {
            address = 0;
            span = Long.MAX_VALUE;
        } else {
            span = 4096L << size;
            address = w1 & ADDR_63_12 & -span;
        }
        DeviceTlb atc = atcs.get(sid);
        if (atc != null) {
            // 4.5.1: the request goes to the endpoint; Global = 1 reaches every PASID's entries.
            atc.invalidate(ssv ? ssid : DmaTranslator.NO_PASID, (w0 & ATC_GLOBAL) != 0, address, span);
        }
        return SmmuRegs.CERROR_NONE;
    }

    private int priResp(long w1, int sid, boolean ssv, int ssid) {
        if (!features.pri()) {
            return ill("PRI_RESP without PRI");
        }
        int resp = (int) (w1 >>> PRI_RESP_SHIFT) & 3;
        int code = switch (resp) {
            case PRI_RESP_DENY -> PageResponseReceiver.RESPONSE_INVALID;
            case PRI_RESP_FAIL -> PageResponseReceiver.RESPONSE_FAILURE;
            case PRI_RESP_SUCC -> PageResponseReceiver.RESPONSE_SUCCESS;
            default -> -1;
        };
        if (code < 0) {
            return ill("PRI_RESP Resp 0b11 is reserved");
        }
        count("pri-resp");
        PageResponseReceiver r = priReceivers.get(sid);
        if (r != null) {
            r.pageGroupResponse(ssv ? ssid : DmaTranslator.NO_PASID, (int) w1 & 0x1ff, code);
        }
        return SmmuRegs.CERROR_NONE;
    }

    private int sync(long w0, long w1) {
        int cs = (int) (w0 >>> SYNC_CS_SHIFT) & 3;
        if (cs == 3) {
            return ill("CMD_SYNC CS 0b11 is reserved");
        }
        count("sync");
        long msiAddress = w1 & SYNC_MSIADDR_MASK;
        if (cs == SYNC_CS_IRQ && msiAddress != 0) {
            // 4.7.3: completion signalled by a 32-bit MSI write of MSIData (the kernel polls it).
            int data = (int) (w0 >>> SYNC_MSIDATA_SHIFT);
            byte[] b = {(byte) data, (byte) (data >>> 8), (byte) (data >>> 16), (byte) (data >>> 24)};
            try {
                memory.write(msiAddress, b);
            } catch (RuntimeException e) {
                count("sync.msi-abort");
            }
        }
        return SmmuRegs.CERROR_NONE;
    }

    private int ill(String why) {
        lastError = why;
        count("cerror-ill");
        return SmmuRegs.CERROR_ILL;
    }

    private void count(String what) {
        stats.counter("cmd." + what).increment();
    }
}
