package org.jiommu.hw.smmuv3;

import static org.assertj.core.api.Assertions.assertThat;
import static org.jiommu.hw.smmuv3.SmmuBed.*;
import static org.jiommu.hw.smmuv3.SmmuRegs.*;

import java.util.ArrayList;
import java.util.List;
import org.jiommu.base.Prot;
import org.jiommu.bus.dma.DeviceTlb;
import org.jiommu.bus.dma.PageResponseReceiver;
import org.jiommu.bus.dma.TranslationResult;
import org.jiommu.pgtable.arm.ArmLpaePageTable;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** Registers, the command queue (CERROR_ILL, CMD_SYNC), the event queue's records and overflow, ATC_INV, PRI. */
class SmmuV3QueuesTest {
    final SmmuBed bed = new SmmuBed().enable(8);
    final TranslationResult out = new TranslationResult();

    @Test
    @DisplayName("ID registers advertise the features at the spec's offsets; CR0ACK follows CR0")
    void registers() {
        SmmuBed b = new SmmuBed(SmmuFeatures.full().withStages(true, false).withRangeInvalidation(false));
        SmmuV3Unit u = b.unit;
        int idr0 = u.readRegister32(0x0);
        assertThat(idr0 & 3).as("S1P, no S2P").isEqualTo(2);
        assertThat(idr0 >>> 27 & 3).as("ST_LEVEL 2-level").isEqualTo(1);
        assertThat(idr0 >>> 2 & 3).as("TTF AArch64").isEqualTo(2);
        assertThat(idr0 & 1 << 10).as("ATS").isNotZero();
        assertThat(idr0 & 1 << 16).as("PRI").isNotZero();
        assertThat(idr0 & 1 << 19).as("CD2L").isNotZero();
        assertThat(idr0 & 1 << 9).as("no HYP: TLBI_EL2_* are illegal").isZero();
        int idr1 = u.readRegister32(0x4);
        assertThat(idr1 & 0x3f).as("SIDSIZE").isEqualTo(16);
        assertThat(idr1 >>> 6 & 0x1f).as("SSIDSIZE").isEqualTo(20);
        assertThat(u.readRegister32(0xC) & 1 << 10).as("no RIL").isZero();
        int idr5 = u.readRegister32(0x14);
        assertThat(idr5 & 7).as("OAS 48").isEqualTo(5);
        assertThat(idr5 & 0x70).as("4K and 64K").isEqualTo(0x50);
        u.writeRegister32(0x20, CR0_SMMUEN | CR0_EVTQEN);
        assertThat(u.readRegister32(0x24)).isEqualTo(CR0_SMMUEN | CR0_EVTQEN);
        u.writeRegister32(0x00, 0);
        assertThat(u.readRegister32(0x0)).as("IDR0 is read-only").isEqualTo(idr0);
        u.writeRegister64(0x90, CMDQ | 0x1f);
        assertThat(u.readRegister64(0x90)).isEqualTo(CMDQ | 0x1f);
        assertThat(EVTQ_PROD).isEqualTo(0x100A8);
        assertThat(PRIQ_CONS).isEqualTo(0x100CC);
    }

    @Test
    @DisplayName("CERROR_ILL: CONS stops at the bad command with ERR = 1 and GERROR.CMDQ_ERR toggled; ack resumes")
    void cerrorIll() {
        bed.writeSte(3, steWords(StreamTableEntry.CFG_BYPASS));
        assertThat(bed.unit.translate(3, -1, 0x1000, false, false, out)).isTrue();
        bed.writeSte(3, steWords(StreamTableEntry.CFG_ABORT));
        // An unknown opcode, then the CFGI_STE that would take the abort STE into use.
        bed.submit(new long[] {0x7f, 0}, SmmuCommand.cfgiSte(3, true));
        assertThat(bed.cmdCons()).isEqualTo(CERROR_ILL << 24 | 0);
        assertThat(bed.unit.readRegister32(GERROR) & GERROR_CMDQ_ERR).isEqualTo(1);
        assertThat(bed.unit.translate(3, -1, 0x1000, false, false, out)).as("CFGI_STE not consumed").isTrue();
        // Software replaces the bad command by a CMD_SYNC and acknowledges in GERRORN.
        long[] sync = SmmuCommand.sync(0, 0, 0);
        bed.memory.writeLong(CMDQ, sync[0]);
        bed.memory.writeLong(CMDQ + 8, sync[1]);
        bed.unit.writeRegister32(GERRORN, GERROR_CMDQ_ERR);
        assertThat(bed.cmdCons() & 0xfffff).isEqualTo(2);
        assertThat(bed.unit.translate(3, -1, 0x1000, false, false, out)).isFalse();
    }

    @Test
    @DisplayName("CERROR_ILL for commands the SMMU does not implement or reserved fields")
    void illegalCommands() {
        SmmuBed b = new SmmuBed(SmmuFeatures.full().withStages(true, false)).enable(4);
        long[][] bad = {
            SmmuCommand.tlbiS12Vmall(1),                                  // no stage 2
            {SmmuCommand.TLBI_EL2_ALL, 0},                                // no HYP
            SmmuCommand.sync(3, 0, 0),                                    // CS 0b11
            SmmuCommand.priResp(1, -1, 0, 3),                             // Resp 0b11
        };
        for (long[] c : bad) {
            int before = b.unit.readRegister32(GERROR);
            b.submit(c);
            assertThat(b.cmdCons() >>> 24).as("%x", c[0]).isEqualTo(CERROR_ILL);
            assertThat(b.unit.readRegister32(GERROR) ^ before).isEqualTo(GERROR_CMDQ_ERR);
            // Skip it the way the kernel does: overwrite with CMD_SYNC and acknowledge.
            int at = b.cmdCons() & ((1 << QUEUE_LOG2) - 1);
            long[] sync = SmmuCommand.sync(0, 0, 0);
            b.memory.writeLong(CMDQ + 16L * at, sync[0]);
            b.memory.writeLong(CMDQ + 16L * at + 8, sync[1]);
            b.unit.writeRegister32(GERRORN, b.unit.readRegister32(GERROR));
            assertThat(b.cmdCons() & 0xfffff).isEqualTo(b.cmdProd);
        }
        assertThat(b.unit.lastCommandError()).contains("Resp");
    }

    @Test
    @DisplayName("CMD_SYNC with CS = IRQ writes MSIData to MSIAddress; CONS wraps with the wrap bit")
    void syncMsi() {
        long flag = 0x1700_0000L;
        bed.memory.writeLong(flag, -1L);
        bed.submit(SmmuCommand.sync(SmmuCommand.SYNC_CS_IRQ, flag, 0));
        assertThat(bed.memory.readLong(flag)).isEqualTo(0xFFFF_FFFF_0000_0000L);
        for (int i = 0; i < 8; i++) {
            bed.submit(SmmuCommand.sync(SmmuCommand.SYNC_CS_IRQ, flag, i + 1));
        }
        assertThat(bed.memory.readLong(flag) & 0xFFFF_FFFFL).isEqualTo(8);
        assertThat(bed.cmdCons()).as("9 commands in an 8-entry queue: index 1, wrap set").isEqualTo(8 | 1);
    }

    @Test
    @DisplayName("C_BAD_STE for S2AA64 = 0, an invalid STE, a reserved S2SL0, S1CDMax > SSIDSIZE; never an exception")
    void badSte() {
        long[] aa32 = steWords(StreamTableEntry.CFG_S2_TRANS);
        s2Fields(aa32, bed.s2Table(40), 1);
        aa32[2] &= ~StreamTableEntry.S2AA64;
        bed.writeSte(1, aa32);
        long[] invalid = steWords(StreamTableEntry.CFG_BYPASS);
        invalid[0] &= ~StreamTableEntry.V;
        bed.writeSte(2, invalid);
        ArmLpaePageTable t = bed.s2Table(40);
        long[] s2 = steWords(StreamTableEntry.CFG_S2_TRANS);
        s2Fields(s2, t, 1);
        s2[2] |= 3L << StreamTableEntry.S2SL0_SHIFT; // SL0 0b11: reserved with a 4K granule
        bed.writeSte(3, s2);
        long[] cdmax = s1Ste(CDTAB, 21, 0);
        bed.writeSte(4, cdmax);
        for (int sid = 1; sid <= 4; sid++) {
            assertThat(bed.unit.translate(sid, -1, 0x1000, false, false, out)).isFalse();
            assertThat(bed.event()).as("sid %d", sid).containsExactly(SmmuEvent.C_BAD_STE | (long) sid << 32, 0, 0, 0);
        }
        assertThat(bed.unit.steCacheSize()).as("ILLEGAL STEs are not cached").isZero();
        // An ATS translation request selecting an invalid STE is completed with CA, no event.
        assertThat(bed.unit.translate(2, -1, 0x1000, false, true, out)).isFalse();
        assertThat(bed.events()).isEmpty();
    }

    @Test
    @DisplayName("reserved Config 0b001-0b011 behaves as abort: terminated without an event (5.2)")
    void reservedConfig() {
        for (int cfg = 1; cfg <= 3; cfg++) {
            bed.writeSte(cfg, steWords(cfg));
            assertThat(bed.unit.translate(cfg, -1, 0x1000, false, false, out)).isFalse();
        }
        assertThat(bed.events()).isEmpty();
    }

    @Test
    @DisplayName("C_BAD_CD, F_STE_FETCH, F_CD_FETCH, F_WALK_EABT, F_ADDR_SIZE, F_ACCESS records")
    void faultRecords() {
        long[] cd = new long[8];
        cd[0] = ContextDescriptor.AA64; // V = 0
        bed.writeWords(CDTAB, cd);
        bed.writeSte(1, s1Ste(CDTAB, 0, 0));
        assertThat(bed.unit.translate(1, -1, 0x1000, false, false, out)).isFalse();
        assertThat(bed.event()).containsExactly(SmmuEvent.C_BAD_CD | 1L << 32, 0, 0, 0);
        // CD table beyond memory.
        long far = 0x2_0000_0000L;
        bed.writeSte(2, s1Ste(far, 0, 0));
        assertThat(bed.unit.translate(2, -1, 0x1000, false, false, out)).isFalse();
        assertThat(bed.event()).containsExactly(SmmuEvent.F_CD_FETCH | 2L << 32, 0, 0, far);
        // Stream table beyond memory.
        SmmuBed b = new SmmuBed();
        b.unit.writeRegister64(STRTAB_BASE, far);
        b.unit.writeRegister32(STRTAB_BASE_CFG, 4);
        b.queues();
        b.unit.writeRegister32(CR0, CR0_SMMUEN | CR0_EVTQEN | CR0_CMDQEN);
        assertThat(b.unit.translate(5, -1, 0, false, false, out)).isFalse();
        assertThat(b.event()).containsExactly(SmmuEvent.F_STE_FETCH | 5L << 32, 0, 0, far + 5 * 64);
        // A table descriptor pointing beyond memory: the walk's fetch aborts.
        ArmLpaePageTable t = bed.s1Table();
        map(t, 0x1000, 0xa000, 0x1000, Prot.RW);
        long root = t.config().ttbr();
        long l0 = bed.memory.readLong(root);
        bed.memory.writeLong(root, (l0 & 0xfff) | far);
        bed.writeWords(CDTAB + 64, cdWords(t, 1));
        bed.writeSte(3, s1Ste(CDTAB + 64, 0, 0));
        assertThat(bed.unit.translate(3, -1, 0x1000, true, false, out)).isFalse();
        assertThat(bed.event()).containsExactly(SmmuEvent.F_WALK_EABT | 3L << 32,
                (long) SmmuEvent.CLASS_IN << SmmuEvent.CLASS_SHIFT, 0x1000L, far);
        // A leaf with AF = 0, and a leaf whose output is beyond the CD's 48-bit IPS... use IPS 32 instead.
        ArmLpaePageTable u = bed.s1Table();
        map(u, 0x1000, 0xa000, 0x1000, Prot.RW);
        map(u, 0x2000, 0x1_0000_0000L, 0x1000, Prot.RW);
        bed.writeWords(CDTAB + 128, cdWords(u, 2));
        bed.writeSte(4, s1Ste(CDTAB + 128, 0, 0));
        long leaf = leafAddress(u, 0x1000);
        bed.memory.writeLong(leaf, bed.memory.readLong(leaf) & ~(1L << 10));
        assertThat(bed.unit.translate(4, -1, 0x1000, false, false, out)).isFalse();
        assertThat(bed.event()[0] & 0xff).isEqualTo(SmmuEvent.F_ACCESS);
        long[] small = cdWords(u, 2);
        small[0] &= ~(7L << ContextDescriptor.IPS_SHIFT); // IPS 0: 32-bit output
        bed.writeWords(CDTAB + 128, small);
        bed.submit(SmmuCommand.cfgiCdAll(4));
        assertThat(bed.unit.translate(4, -1, 0x2000, false, false, out)).isFalse();
        assertThat(bed.event()).containsExactly(SmmuEvent.F_ADDR_SIZE | 4L << 32,
                SmmuEvent.RNW | (long) SmmuEvent.CLASS_IN << SmmuEvent.CLASS_SHIFT, 0x2000L, 0L);
    }

    @Test
    @DisplayName("C_BAD_CD for an unimplemented granule and an out-of-range T0SZ; IPS 0b111 is not ILLEGAL")
    void badCd() {
        ArmLpaePageTable t = bed.s1Table();
        map(t, 0x1000, 0xa000, 0x1000, Prot.RW);
        long[] g16k = cdWords(t, 1);
        g16k[0] = g16k[0] & ~(3L << ContextDescriptor.TG0_SHIFT) | 2L << ContextDescriptor.TG0_SHIFT;
        long[] t0sz = cdWords(t, 1);
        t0sz[0] = t0sz[0] & ~0x3fL | 10;
        long[] ips7 = cdWords(t, 1);
        ips7[0] |= 7L << ContextDescriptor.IPS_SHIFT;
        long[][] cds = {g16k, t0sz, ips7};
        for (int i = 0; i < cds.length; i++) {
            bed.writeWords(CDTAB + 64L * i, cds[i]);
            bed.writeSte(1 + i, s1Ste(CDTAB + 64L * i, 0, 0));
        }
        for (int sid = 1; sid <= 2; sid++) {
            assertThat(bed.unit.translate(sid, -1, 0x1000, false, false, out)).isFalse();
            assertThat(bed.event()).containsExactly(SmmuEvent.C_BAD_CD | (long) sid << 32, 0, 0, 0);
        }
        assertThat(bed.unit.translate(3, -1, 0x1000, false, false, out)).isTrue();
        assertThat(out.pa).isEqualTo(0xa000);
    }

    /** The level-3 descriptor of a 4K, 48-bit table for {@code va}. */
    long leafAddress(ArmLpaePageTable t, long va) {
        long table = t.config().ttbr();
        for (int level = 0; level < 3; level++) {
            long d = bed.memory.readLong(table + ((va >>> (39 - 9 * level)) & 0x1ff) * 8);
            table = d & 0x0000_FFFF_FFFF_F000L;
        }
        return table + ((va >>> 12) & 0x1ff) * 8;
    }

    @Test
    @DisplayName("a full event queue sets EVTQ_PROD.OVFLG once; records are lost until CONS moves")
    void overflow() {
        long[] invalid = steWords(StreamTableEntry.CFG_BYPASS);
        invalid[0] &= ~StreamTableEntry.V;
        bed.writeSte(1, invalid);
        for (int i = 0; i < 10; i++) {
            bed.unit.translate(1, -1, 0, false, false, out);
        }
        int prod = bed.unit.readRegister32(EVTQ_PROD);
        assertThat(prod & Q_OVFLG).isNotZero();
        assertThat(prod & 0xfffff).as("8 records: index 0, wrap").isEqualTo(8);
        List<long[]> e = bed.events();
        assertThat(e).hasSize(8);
        assertThat(bed.unit.readRegister32(EVTQ_CONS) & Q_OVFLG).as("acknowledged").isNotZero();
        bed.unit.translate(1, -1, 0, false, false, out);
        assertThat(bed.events()).hasSize(1);
        assertThat(bed.unit.stats().get("events.lost")).isEqualTo(2);
    }

    @Test
    @DisplayName("ATC_INV reaches the endpoint's ATC with its SSID, range and Global; PRI_RESP its PRI function")
    void atcAndPri() {
        List<String> seen = new ArrayList<>();
        DeviceTlb atc = (pasid, all, address, size) -> seen.add("inv " + pasid + " " + all + " "
                + Long.toHexString(address) + " " + Long.toHexString(size));
        PageResponseReceiver pri = (pasid, prg, code) -> seen.add("resp " + pasid + " " + prg + " " + code);
        bed.unit.connectAtc(7, atc);
        bed.unit.connectPri(7, pri);
        bed.submit(SmmuCommand.atcInv(7, 3, false, 0x12345000L, 2), SmmuCommand.atcInv(7, -1, true, 0, 52),
                SmmuCommand.atcInv(8, -1, false, 0, 0), SmmuCommand.priResp(7, 5, 17, SmmuCommand.PRI_RESP_SUCC),
                SmmuCommand.priResp(7, -1, 3, SmmuCommand.PRI_RESP_DENY));
        assertThat(seen).containsExactly("inv 3 false 12344000 4000", "inv -1 true 0 7fffffffffffffff",
                "resp 5 17 0", "resp -1 3 1");
    }

    @Test
    @DisplayName("a page request becomes a 16-byte PRI queue entry")
    void priQueue() {
        bed.unit.pageRequest(7, 9, 0x4567_8abcL, true, true, true, 0x1a5);
        long w0 = bed.memory.readLong(PRIQ);
        long w1 = bed.memory.readLong(PRIQ + 8);
        assertThat(w0).isEqualTo(7L | 9L << 32 | 1L << 60 | 1L << 61 | 1L << 62 | 1L << 63);
        assertThat(w1).isEqualTo(0x4567_8000L | 0x1a5);
        assertThat(bed.unit.readRegister32(PRIQ_PROD)).isEqualTo(1);
    }
}
