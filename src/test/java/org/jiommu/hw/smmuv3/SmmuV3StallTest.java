package org.jiommu.hw.smmuv3;

import static org.assertj.core.api.Assertions.assertThat;
import static org.jiommu.hw.smmuv3.SmmuBed.*;
import static org.jiommu.hw.smmuv3.SmmuRegs.*;

import java.util.ArrayList;
import java.util.List;
import org.jiommu.base.Prot;
import org.jiommu.bus.dma.TranslationResult;
import org.jiommu.pgtable.arm.ArmLpaePageTable;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * The stall model (IHI 0070 3.12.2): with IDR0.STALL_MODEL = 0b00, a stage-1 fault of a CD with
 * S = 1 (and STE.S1STALLD = 0) holds the transaction and records the fault with Stall and a STAG;
 * CMD_RESUME retries or terminates it, CMD_STALL_TERM terminates every stalled transaction of the
 * stream. The event interrupt is a call on the faulting thread.
 */
class SmmuV3StallTest {
    private final TranslationResult out = new TranslationResult();

    private static SmmuBed bed() {
        return new SmmuBed(SmmuFeatures.full().withStall(true)).enable(4);
    }

    /** SID 1 on a stage-1 CD with S = {@code stall} over an empty table; returns the table. */
    private static ArmLpaePageTable stallingStream(SmmuBed b, boolean stall, boolean s1stalld) {
        ArmLpaePageTable t = b.s1Table();
        long[] cd = cdWords(t, 1);
        if (stall) {
            cd[0] |= ContextDescriptor.S;
        }
        b.writeWords(CDTAB, cd);
        long[] ste = s1Ste(CDTAB, 0, 0);
        if (s1stalld) {
            ste[1] |= StreamTableEntry.S1STALLD;
        }
        b.writeSte(1, ste);
        return t;
    }

    @Test
    @DisplayName("IDR0.STALL_MODEL: 0b01 (terminate only) without the stall model, 0b00 with it; RESUME and"
            + " STALL_TERM are CERROR_ILL only without it")
    void idrAndCommands() {
        assertThat(new SmmuBed().unit.readRegister32(IDR0) >>> 24 & 3).isEqualTo(1);
        SmmuBed b = bed();
        assertThat(b.unit.readRegister32(IDR0) >>> 24 & 3).isZero();
        b.submit(SmmuCommand.resume(1, 7, SmmuCommand.RESUME_RETRY), new long[] {SmmuCommand.STALL_TERM | 1L << 32, 0});
        assertThat(b.cmdCons() >>> 24).isEqualTo(CERROR_NONE);
        assertThat(b.cmdCons() & 0xfffff).isEqualTo(b.cmdProd);
        b.submit(SmmuCommand.resume(1, 7, 3));
        assertThat(b.cmdCons() >>> 24).as("Action 0b11 is reserved").isEqualTo(CERROR_ILL);
    }

    @Test
    @DisplayName("a stalled fault: the record carries Stall and the STAG; CMD_RESUME retry after the page is mapped"
            + " completes the transaction, terminate fails it; nothing stays stalled")
    void resumeRetryAndTerminate() {
        SmmuBed b = bed();
        ArmLpaePageTable t = stallingStream(b, true, false);
        List<long[]> seen = new ArrayList<>();
        b.unit.setEventHandler(() -> {
            long[] e = b.event();
            seen.add(e);
            int stag = (int) e[1] & 0xFFFF;
            if (seen.size() == 1) {
                map(t, 0x1000, 0xa000, 0x1000, Prot.RW); // software fixes the fault, then retries
                b.submit(SmmuCommand.resume(1, stag, SmmuCommand.RESUME_RETRY));
            } else {
                b.submit(SmmuCommand.resume(1, stag, SmmuCommand.RESUME_ABORT));
            }
        });
        assertThat(b.unit.translate(1, -1, 0x1010, true, false, out)).isTrue();
        assertThat(out.pa).isEqualTo(0xa010);
        assertThat(seen).singleElement().satisfies(e -> {
            assertThat(e[0] & 0xff).isEqualTo(SmmuEvent.F_TRANSLATION);
            assertThat(e[1] & SmmuEvent.STALL).isNotZero();
            assertThat(e[2]).isEqualTo(0x1010);
        });
        assertThat(b.unit.translate(1, -1, 0x5000, false, false, out)).isFalse();
        assertThat(seen).hasSize(2);
        assertThat(seen.get(1)[1] & 0xFFFF).isNotEqualTo(seen.get(0)[1] & 0xFFFF);
        assertThat(b.unit.stalledTransactions()).isZero();
    }

    @Test
    @DisplayName("no CMD_RESUME from software: the model terminates the transaction (as STALL_TERM would);"
            + " a retry that faults again stalls again, at most MAX_STALL_RETRIES times")
    void unresumedAndRetryBound() {
        SmmuBed b = bed();
        stallingStream(b, true, false);
        b.unit.setEventHandler(() -> b.event());
        assertThat(b.unit.translate(1, -1, 0x1000, false, false, out)).isFalse();
        assertThat(b.unit.stalledTransactions()).isZero();
        int[] stalls = new int[1];
        b.unit.setEventHandler(() -> {
            long[] e = b.event();
            if ((e[1] & SmmuEvent.STALL) != 0) {
                stalls[0]++;
                b.submit(SmmuCommand.resume(1, (int) e[1] & 0xFFFF, SmmuCommand.RESUME_RETRY)); // never fixed
            }
        });
        assertThat(b.unit.translate(1, -1, 0x1000, false, false, out)).isFalse();
        assertThat(stalls[0]).isEqualTo(SmmuV3Unit.MAX_STALL_RETRIES);
    }

    @Test
    @DisplayName("no stall without CD.S, with STE.S1STALLD, or for an ATS translation request: the fault"
            + " terminates with an ordinary record (or an R = W = 0 completion)")
    void noStallCases() {
        for (int c = 0; c < 3; c++) {
            SmmuBed b = bed();
            stallingStream(b, c != 0, c == 1);
            int[] calls = new int[1];
            b.unit.setEventHandler(() -> calls[0]++);
            if (c == 2) {
                long[] ste = s1Ste(CDTAB, 0, 0);
                ste[1] |= 1L << 28; // EATS = translate
                b.writeSte(1, ste);
                assertThat(b.unit.translate(1, -1, 0x1000, false, true, out)).isTrue();
                assertThat(out.readable || out.writable).isFalse();
                assertThat(calls[0]).isZero();
                continue;
            }
            assertThat(b.unit.translate(1, -1, 0x1000, false, false, out)).isFalse();
            assertThat(calls[0]).isZero();
            assertThat(b.event()[1] & SmmuEvent.STALL).isZero();
        }
    }
}
