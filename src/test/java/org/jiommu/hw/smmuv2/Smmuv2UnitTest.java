package org.jiommu.hw.smmuv2;

import static org.assertj.core.api.Assertions.assertThat;
import static org.jiommu.hw.smmuv2.Smmuv2Regs.*;

import org.jiommu.base.Prot;
import org.jiommu.pgtable.IotlbGather;
import org.jiommu.pgtable.Mapped;
import org.jiommu.pgtable.arm.ArmLpaePageTable;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

class Smmuv2UnitTest {
    private static final int SID = 0x10;
    private static final long PA = 0x2000_0000L;
    private static final long PAGE = 4096;

    private static void map(ArmLpaePageTable pt, long iova, long pa, int prot) {
        assertThat(pt.mapPages(iova, pa, PAGE, 1, prot, new Mapped())).isZero();
    }

    /** A bed with bank 0 translating stream 0x10 through one TTBR0 table (ASID 1): {@code bed.ttbr0Table}. */
    private static Smmuv2Bed s1Bed() {
        Smmuv2Bed bed = new Smmuv2Bed();
        bed.ttbr0Table = bed.s1Table(false);
        bed.s1Bank(0, bed.ttbr0Table, null, 1);
        bed.stream(0, SID, 0, s2cr(S2CR_TYPE_TRANS, 0));
        bed.enable(SCR0_USFCFG | SCR0_SMCFCFE);
        return bed;
    }

    @Test
    @DisplayName("ID registers: NUMSMRG, SMS, NUMCB, NUMPAGENDXB and the bank pages after 2 x NUMPAGE")
    void idRegisters() {
        Smmuv2Bed bed = new Smmuv2Bed(Smmuv2Config.defaults().withNumCb(5));
        int idr0 = bed.unit.readl(IDR0);
        int idr1 = bed.unit.readl(IDR1);
        assertThat(idr0 & IDR0_NUMSMRG_MASK).isEqualTo(16);
        assertThat(idr0 & IDR0_SMS).isNotZero();
        assertThat(idr0 >>> IDR0_NUMSIDB_SHIFT & 0xf).isEqualTo(15);
        assertThat(idr1 & IDR1_NUMCB_MASK).isEqualTo(5);
        int numPage = 1 << ((idr1 >>> IDR1_NUMPAGENDXB_SHIFT & 7) + 1);
        assertThat(numPage).isEqualTo(8);
        assertThat(bed.unit.cbOffset(3)).isEqualTo((8 + 3) * PAGE);
        assertThat(bed.unit.size()).isEqualTo(16 * PAGE);
        assertThat(bed.unit.readl(IDR2) >>> IDR2_OAS_SHIFT & 0xf).isEqualTo(5);
        // Reset: client port disabled, and IDs are read-only.
        assertThat(bed.unit.readl(SCR0) & SCR0_CLIENTPD).isNotZero();
        bed.unit.writel(IDR1, 0);
        assertThat(bed.unit.readl(IDR1)).isEqualTo(idr1);
    }

    @Test
    @DisplayName("register encodings: SMR id 0x10 mask 0x7 valid = 0x80070010; S2CR translate CB3 / bypass / fault")
    void encodings() {
        assertThat(smr(0x10, 0x7, true)).isEqualTo(0x8007_0010);
        assertThat(s2cr(S2CR_TYPE_TRANS, 3)).isEqualTo(3);
        assertThat(s2cr(S2CR_TYPE_BYPASS, 0)).isEqualTo(0x1_0000);
        assertThat(s2cr(S2CR_TYPE_FAULT, 0)).isEqualTo(0x2_0000);
        assertThat(Smmuv2Bed.SCTLR_S1).isEqualTo(0x1067);
    }

    @Test
    @DisplayName("DMA through a TTBR0 table lands where the table says; a masked SMR matches its whole group")
    void ttbr0() {
        Smmuv2Bed bed = s1Bed();
        ArmLpaePageTable t = bed.ttbr0Table;
        map(t, 0x1000, PA, Prot.RW);
        assertThat(bed.write(SID, 0x1234)).isTrue();
        assertThat(bed.out.pa).isEqualTo(PA + 0x234);
        // SMR 1 with MASK 0x3 takes streams 0x20..0x23 to the same bank.
        bed.stream(1, 0x20, 0x3, s2cr(S2CR_TYPE_TRANS, 0));
        assertThat(bed.read(0x23, 0x1008)).isTrue();
        assertThat(bed.out.pa).isEqualTo(PA + 8);
        assertThat(bed.read(0x24, 0x1008)).isFalse(); // outside the mask: unidentified
    }

    @Test
    @DisplayName("S11 a bank with TTBR1 in use translates addresses with the split bit set by the TTBR1 table, others by TTBR0")
    void ttbr1Split() {
        Smmuv2Bed bed = new Smmuv2Bed();
        ArmLpaePageTable low = bed.s1Table(false);
        ArmLpaePageTable high = bed.s1Table(true);
        long top = 0xFFFF_0000_0000_0000L;
        map(low, 0x5000, PA, Prot.RW);
        map(high, top | 0x5000, PA + 0x10_0000, Prot.RW);
        bed.s1Bank(2, low, high, 3);
        // Both halves populated, EPD0 and EPD1 clear: HARDWARE.md 7.4 D4.
        assertThat(bed.cb(2, CB_TCR)).isEqualTo(0xB510_3510);
        bed.stream(0, SID, 0, s2cr(S2CR_TYPE_TRANS, 2));
        bed.enable(0);
        assertThat(bed.read(SID, 0x5010)).isTrue();
        assertThat(bed.out.pa).isEqualTo(PA + 0x10);
        assertThat(bed.read(SID, top | 0x5010)).isTrue();
        assertThat(bed.out.pa).isEqualTo(PA + 0x10_0010);
        // An address in neither range (bits above T1SZ not all ones) is a translation fault at level 0.
        assertThat(bed.read(SID, 0x00FF_0000_0000_5000L)).isFalse();
        assertThat(bed.cb(2, CB_FSR)).isEqualTo(FSR_TF);
        assertThat(bed.cb(2, CB_FSYNR0)).isZero();
    }

    @Test
    @DisplayName("TTBR1 only (the quirk): TCR 0xB5100080 with EPD0, a TTBR0 address faults")
    void ttbr1Only() {
        Smmuv2Bed bed = new Smmuv2Bed();
        ArmLpaePageTable high = bed.s1Table(true);
        map(high, -PAGE, PA, Prot.READ);
        bed.s1Bank(0, null, high, 0);
        assertThat(bed.cb(0, CB_TCR)).isEqualTo(0xB510_0080);
        bed.stream(0, SID, 0, s2cr(S2CR_TYPE_TRANS, 0));
        bed.enable(0);
        assertThat(bed.read(SID, -PAGE + 4)).isTrue();
        assertThat(bed.out.pa).isEqualTo(PA + 4);
        assertThat(bed.read(SID, 0x1000)).isFalse();
        assertThat(bed.cb(0, CB_FSR)).isEqualTo(FSR_TF);
    }

    @Test
    @DisplayName("unmatched streams bypass with sCR0.USFCFG clear and fault USF with it set; sGFSR MULTI on the second")
    void unmatched() {
        Smmuv2Bed bed = s1Bed();
        ArmLpaePageTable t = bed.ttbr0Table;
        bed.enable(0);
        assertThat(bed.write(0x33, 0xABC000)).isTrue();
        assertThat(bed.out.pa).isEqualTo(0xABC000);
        bed.enable(SCR0_USFCFG);
        assertThat(bed.write(0x33, 0xABC010)).isFalse();
        assertThat(bed.out.faultCode).isEqualTo(SGFSR_USF);
        assertThat(bed.unit.readl(SGFSR)).isEqualTo(SGFSR_USF);
        assertThat(bed.unit.readq(SGFAR)).isEqualTo(0xABC010);
        assertThat(bed.unit.readl(SGFSYNR0)).isEqualTo(SGFSYNR0_WNR);
        assertThat(bed.unit.readl(SGFSYNR1)).isEqualTo(0x33);
        assertThat(bed.read(0x34, 0x1000)).isFalse();
        assertThat(bed.unit.readl(SGFSR)).isEqualTo(SGFSR_USF | SGFSR_MULTI);
        assertThat(bed.unit.readl(SGFSYNR1)).isEqualTo(0x33); // the first fault's syndrome stays
        bed.unit.writel(SGFSR, SGFSR_USF | SGFSR_MULTI); // write 1 to clear
        assertThat(bed.unit.readl(SGFSR)).isZero();
        // With the client port disabled nothing is translated or checked.
        bed.unit.writel(SCR0, SCR0_CLIENTPD | SCR0_USFCFG);
        assertThat(bed.read(0x34, 0x7000)).isTrue();
        assertThat(bed.out.pa).isEqualTo(0x7000);
    }

    @Test
    @DisplayName("S2CR bypass passes the address through, S2CR fault terminates it, CBNDX beyond NUMCB is UCBF")
    void s2crTypes() {
        Smmuv2Bed bed = s1Bed();
        ArmLpaePageTable t = bed.ttbr0Table;
        bed.stream(1, 0x40, 0, s2cr(S2CR_TYPE_BYPASS, 0));
        bed.stream(2, 0x41, 0, s2cr(S2CR_TYPE_FAULT, 0));
        bed.stream(3, 0x42, 0, s2cr(S2CR_TYPE_TRANS, 9));
        assertThat(bed.write(0x40, 0x9000)).isTrue();
        assertThat(bed.out.pa).isEqualTo(0x9000);
        assertThat(bed.write(0x41, 0x9000)).isFalse();
        assertThat(bed.unit.readl(SGFSR)).isZero();
        assertThat(bed.cb(0, CB_FSR)).isZero();
        assertThat(bed.read(0x42, 0x9000)).isFalse();
        assertThat(bed.unit.readl(SGFSR)).isEqualTo(SGFSR_UCBF);
        assertThat(bed.unit.readl(SGFSYNR1)).isEqualTo(0x42);
    }

    @Test
    @DisplayName("a stream matching two SMRs faults: SMCF with sCR0.SMCFCFE, terminated without a record otherwise")
    void multiMatch() {
        Smmuv2Bed bed = s1Bed();
        ArmLpaePageTable t = bed.ttbr0Table;
        map(t, 0x1000, PA, Prot.RW);
        bed.stream(1, 0x18, 0x8, s2cr(S2CR_TYPE_BYPASS, 0)); // 0x10 and 0x18
        assertThat(bed.read(SID, 0x1000)).isFalse();
        assertThat(bed.unit.readl(SGFSR)).isEqualTo(SGFSR_SMCF);
        assertThat(bed.unit.readl(SGFSYNR1)).isEqualTo(SID);
        bed.unit.writel(SGFSR, -1);
        bed.enable(SCR0_USFCFG);
        assertThat(bed.read(SID, 0x1000)).isFalse();
        assertThat(bed.unit.readl(SGFSR)).isZero();
        assertThat(bed.read(0x18, 0x1000)).isTrue(); // 0x18 matches SMR 1 only
        assertThat(bed.out.pa).isEqualTo(0x1000);
        // Invalidating SMR 1 ends the conflict.
        bed.unit.writel(SMR_BASE + 4, 0);
        assertThat(bed.read(SID, 0x1000)).isTrue();
        assertThat(bed.out.pa).isEqualTo(PA);
    }

    @Test
    @DisplayName("context faults fill FSR / FAR / FSYNR0 / CBFRSYNRA bit-exactly; MULTI while pending; W1C clears")
    void contextFaults() {
        Smmuv2Bed bed = s1Bed();
        ArmLpaePageTable t = bed.ttbr0Table;
        map(t, 0x1000, PA, Prot.READ);
        // A write to a read-only page: PF at level 3, WNR.
        assertThat(bed.write(SID, 0x1ABC)).isFalse();
        assertThat(bed.out.faultCode).isEqualTo(FSR_PF);
        assertThat(bed.cb(0, CB_FSR)).isEqualTo(FSR_PF);
        assertThat(bed.cbq(0, CB_FAR)).isEqualTo(0x1ABC);
        assertThat(bed.cb(0, CB_FSYNR0)).isEqualTo(3 | FSYNR0_WNR);
        assertThat(bed.cb(0, CB_FSYNR1)).isZero();
        assertThat(bed.unit.readl(bed.unit.gr1Offset() + CBFRSYNRA_BASE)).isEqualTo(SID);
        // A second fault while PF is pending only sets MULTI.
        assertThat(bed.read(SID, 0x2000)).isFalse();
        assertThat(bed.cb(0, CB_FSR)).isEqualTo(FSR_PF | FSR_MULTI);
        assertThat(bed.cbq(0, CB_FAR)).isEqualTo(0x1ABC);
        bed.unit.writel(bed.unit.cbOffset(0) + CB_FSR, bed.cb(0, CB_FSR));
        assertThat(bed.cb(0, CB_FSR)).isZero();
        // A read of an unmapped page next to the mapped one: TF at level 3, a read.
        assertThat(bed.read(SID, 0x2008)).isFalse();
        assertThat(bed.cb(0, CB_FSR)).isEqualTo(FSR_TF);
        assertThat(bed.cbq(0, CB_FAR)).isEqualTo(0x2008);
        assertThat(bed.cb(0, CB_FSYNR0)).isEqualTo(3);
        bed.unit.writel(bed.unit.cbOffset(0) + CB_FSR, FSR_TF);
        // Nothing mapped in the 1 GiB region of 0x4000_0000: TF at level 2; at 2^39: level 1.
        assertThat(bed.read(SID, 0x4000_0000L)).isFalse();
        assertThat(bed.cb(0, CB_FSYNR0)).isEqualTo(1);
        bed.unit.writel(bed.unit.cbOffset(0) + CB_FSR, FSR_TF);
        assertThat(bed.read(SID, 1L << 39)).isFalse();
        assertThat(bed.cb(0, CB_FSYNR0)).isEqualTo(0);
    }

    @Test
    @DisplayName("SCTLR.CFCFG stalls a faulting transaction (FSR.SS) until RESUME; SCTLR.M clear bypasses the bank")
    void stallAndDisabledBank() {
        Smmuv2Bed bed = s1Bed();
        ArmLpaePageTable t = bed.ttbr0Table;
        long cb = bed.unit.cbOffset(0);
        bed.unit.writel(cb + CB_SCTLR, Smmuv2Bed.SCTLR_S1 | SCTLR_CFCFG);
        assertThat(bed.read(SID, 0x3000)).isFalse();
        assertThat(bed.cb(0, CB_FSR)).isEqualTo(FSR_TF | FSR_SS);
        bed.unit.writel(cb + CB_RESUME, RESUME_TERMINATE);
        assertThat(bed.cb(0, CB_FSR)).isEqualTo(FSR_TF);
        bed.unit.writel(cb + CB_SCTLR, 0);
        assertThat(bed.read(SID, 0x3000)).isTrue();
        assertThat(bed.out.pa).isEqualTo(0x3000);
    }

    @Test
    @DisplayName("a stage-1 TLB entry stays after the table changes until TLBIVA / TLBIASID of its ASID; TLBSYNC completes")
    void staleUntilTlbi() {
        Smmuv2Bed bed = s1Bed();
        ArmLpaePageTable t = bed.ttbr0Table;
        long cb = bed.unit.cbOffset(0);
        map(t, 0x1000, PA, Prot.RW);
        map(t, 0x2000, PA + PAGE, Prot.RW);
        assertThat(bed.read(SID, 0x1000)).isTrue();
        assertThat(bed.read(SID, 0x2000)).isTrue();
        assertThat(t.unmapPages(0x1000, PAGE, 2, new IotlbGather())).isEqualTo(2 * PAGE);
        // Unmapped in memory, still cached: the stale translation is used.
        assertThat(bed.read(SID, 0x1010)).isTrue();
        assertThat(bed.out.pa).isEqualTo(PA + 0x10);
        // TLBIVA for another ASID, or another VA, changes nothing.
        bed.unit.writeq(cb + CB_TLBIVA, 0x1 | 2L << 48);
        bed.unit.writeq(cb + CB_TLBIVA, 0x3 | 1L << 48);
        assertThat(bed.read(SID, 0x1010)).isTrue();
        // TLBIVA(0x1000, ASID 1), then TLBSYNC and TLBSTATUS idle.
        bed.unit.writeq(cb + CB_TLBIVA, 0x1 | 1L << 48);
        bed.unit.writel(cb + CB_TLBSYNC, 0);
        assertThat(bed.cb(0, CB_TLBSTATUS) & TLBSTATUS_SACTIVE).isZero();
        assertThat(bed.read(SID, 0x1010)).isFalse();
        bed.unit.writel(cb + CB_FSR, -1);
        assertThat(bed.read(SID, 0x2000)).isTrue(); // its own entry was not named
        bed.unit.writel(cb + CB_TLBIASID, 2);
        assertThat(bed.read(SID, 0x2000)).isTrue();
        bed.unit.writel(cb + CB_TLBIASID, 1);
        assertThat(bed.read(SID, 0x2000)).isFalse();
    }

    @Test
    @DisplayName("TLBIALLNSNH and TLBIALL empty the TLB; TLBIALLH (hypervisor entries) does not")
    void tlbiAll() {
        Smmuv2Bed bed = s1Bed();
        ArmLpaePageTable t = bed.ttbr0Table;
        map(t, 0x1000, PA, Prot.RW);
        assertThat(bed.read(SID, 0x1000)).isTrue();
        t.unmapPages(0x1000, PAGE, 1, new IotlbGather());
        bed.unit.writel(TLBIALLH, 0);
        bed.unit.writel(STLBGSYNC, 0);
        assertThat(bed.unit.readl(STLBGSTATUS)).isZero();
        assertThat(bed.read(SID, 0x1000)).isTrue();
        bed.unit.writel(TLBIALLNSNH, 0);
        assertThat(bed.read(SID, 0x1000)).isFalse();
        map(t, 0x1000, PA, Prot.RW);
        assertThat(bed.read(SID, 0x1000)).isTrue();
        t.unmapPages(0x1000, PAGE, 1, new IotlbGather());
        bed.unit.writel(bed.unit.cbOffset(0) + CB_TLBIALL, 0);
        assertThat(bed.read(SID, 0x1000)).isFalse();
    }

    @Test
    @DisplayName("a stage-2 bank walks VTTBR with its VMID; stale until TLBIIPAS2 or TLBIVMID of that VMID")
    void stage2() {
        Smmuv2Bed bed = new Smmuv2Bed();
        ArmLpaePageTable s2 = bed.s2Table();
        map(s2, 0x8000, PA, Prot.RW);
        map(s2, 0x9000, PA + PAGE, Prot.READ);
        bed.s2Bank(1, s2, 5);
        bed.stream(0, SID, 0, s2cr(S2CR_TYPE_TRANS, 1));
        bed.enable(SCR0_USFCFG);
        assertThat(bed.write(SID, 0x8008)).isTrue();
        assertThat(bed.out.pa).isEqualTo(PA + 8);
        assertThat(bed.write(SID, 0x9000)).isFalse();
        assertThat(bed.cb(1, CB_FSR)).isEqualTo(FSR_PF);
        assertThat(bed.cb(1, CB_FSYNR0)).isEqualTo(3 | FSYNR0_WNR);
        bed.unit.writel(bed.unit.cbOffset(1) + CB_FSR, -1);
        assertThat(bed.read(SID, 0x9000)).isTrue();
        s2.unmapPages(0x8000, PAGE, 2, new IotlbGather());
        bed.unit.writel(TLBIVMID, 4);
        assertThat(bed.read(SID, 0x8000)).isTrue();
        bed.unit.writeq(bed.unit.cbOffset(1) + CB_TLBIIPAS2, 0x8);
        assertThat(bed.read(SID, 0x8000)).isFalse();
        assertThat(bed.read(SID, 0x9000)).isTrue();
        bed.unit.writel(TLBIVMID, 5);
        assertThat(bed.read(SID, 0x9000)).isFalse();
    }

    @Test
    @DisplayName("rewriting TTBR0 switches the table, and the old ASID's entries stay until TLBIASID")
    void ttbr0SwitchNeedsTlbiasid() {
        Smmuv2Bed bed = s1Bed();
        ArmLpaePageTable t = bed.ttbr0Table;
        ArmLpaePageTable other = bed.s1Table(false);
        map(t, 0x1000, PA, Prot.RW);
        map(other, 0x1000, PA + 0x10_0000, Prot.RW);
        assertThat(bed.read(SID, 0x1000)).isTrue();
        long cb = bed.unit.cbOffset(0);
        bed.unit.writeq(cb + CB_TTBR0, other.config().ttbr() | 1L << 48);
        assertThat(bed.read(SID, 0x1000)).isTrue();
        assertThat(bed.out.pa).isEqualTo(PA); // stale: same ASID, no invalidation
        bed.unit.writel(cb + CB_TLBIASID, 1);
        assertThat(bed.read(SID, 0x1000)).isTrue();
        assertThat(bed.out.pa).isEqualTo(PA + 0x10_0000);
    }
}
