package org.jiommu.hw.smmuv3;

import static org.assertj.core.api.Assertions.assertThat;
import static org.jiommu.hw.smmuv3.SmmuBed.*;

import org.jiommu.base.Prot;
import org.jiommu.bus.dma.DmaTranslator;
import org.jiommu.bus.dma.TranslationResult;
import org.jiommu.hw.HwStats;
import org.jiommu.pgtable.arm.ArmLpaePageTable;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** DMA through S1, S2, nested and bypass STEs programmed as a driver would, and the caches' rules. */
class SmmuV3TranslationTest {
    final SmmuBed bed = new SmmuBed().enable(8);
    final TranslationResult out = new TranslationResult();

    /**
     * Two stage-1 tables mapping 0x1000 to 0xa000 and 0xb000; StreamID 1 uses the first through
     * a single CD (ASID 1) at CDTAB.
     */
    ArmLpaePageTable[] twoTablesOnSid1() {
        ArmLpaePageTable a = bed.s1Table();
        ArmLpaePageTable b = bed.s1Table();
        map(a, 0x1000, 0xa000, 0x1000, Prot.RW);
        map(b, 0x1000, 0xb000, 0x1000, Prot.RW);
        bed.writeWords(CDTAB, cdWords(a, 1));
        bed.writeSte(1, s1Ste(CDTAB, 0, 0));
        return new ArmLpaePageTable[] {a, b};
    }

    boolean dma(int sid, int ssid, long iova, boolean write) {
        return bed.unit.translate(sid, ssid, iova, write, false, out);
    }

    @Test
    @DisplayName("SMMUEN = 0: GBPA bypass, then GBPA.ABORT aborts without an event")
    void gbpa() {
        SmmuBed b = new SmmuBed();
        assertThat(b.unit.translate(1, -1, 0x1234, false, false, out)).isTrue();
        assertThat(out.pa).isEqualTo(0x1234);
        b.unit.writeRegister32(SmmuRegs.GBPA, SmmuRegs.GBPA_ABORT | SmmuRegs.GBPA_UPDATE);
        assertThat(b.unit.readRegister32(SmmuRegs.GBPA)).isEqualTo(SmmuRegs.GBPA_ABORT);
        assertThat(b.unit.translate(1, -1, 0x1234, false, false, out)).isFalse();
    }

    @Test
    @DisplayName("bypass STE: output = input; abort STE: terminated without an event")
    void bypassAndAbort() {
        bed.writeSte(3, steWords(StreamTableEntry.CFG_BYPASS));
        bed.writeSte(4, steWords(StreamTableEntry.CFG_ABORT));
        assertThat(dma(3, -1, 0xdead_b000L, true)).isTrue();
        assertThat(out.pa).isEqualTo(0xdead_b000L);
        // A SubstreamID on a bypass stream, and an ATS request to it (EATS effectively 0b00).
        assertThat(dma(3, 2, 0x1000, false)).isFalse();
        assertThat(bed.event()[0]).isEqualTo(SmmuEvent.C_BAD_SUBSTREAMID | 1L << 11 | 2L << 12 | 3L << 32);
        assertThat(bed.unit.translate(3, -1, 0x1000, false, true, out)).isFalse();
        assertThat(bed.event()[0]).isEqualTo(SmmuEvent.F_BAD_ATS_TREQ | 3L << 32);
        assertThat(dma(4, -1, 0x1000, false)).isFalse();
        assertThat(bed.events()).isEmpty();
    }

    @Test
    @DisplayName("S1 STE + CD: DMA lands where io-pgtable-arm mapped it; unmapped is F_TRANSLATION")
    void stage1() {
        ArmLpaePageTable t = bed.s1Table();
        map(t, 0x4000_0000L, 0x8765_4000L, 0x1000, Prot.RW);
        map(t, 0x4020_0000L, 0x9000_0000L, 0x20_0000, Prot.READ);
        bed.writeWords(CDTAB, cdWords(t, 1));
        bed.writeSte(5, s1Ste(CDTAB, 0, 0));
        assertThat(dma(5, -1, 0x4000_0123L, true)).isTrue();
        assertThat(out.pa).isEqualTo(0x8765_4123L);
        assertThat(dma(5, -1, 0x4021_0008L, false)).isTrue();
        assertThat(out.pa).isEqualTo(0x9001_0008L);
        assertThat(out.pageSize).isEqualTo(0x20_0000);
        assertThat(bed.unit.tlbEntries()).hasSize(2);
        assertThat(dma(5, -1, 0x5000_0000L, false)).isFalse();
        long[] e = bed.event();
        assertThat(e[0]).isEqualTo(SmmuEvent.F_TRANSLATION | 5L << 32);
        assertThat(e[1]).isEqualTo(SmmuEvent.RNW | (long) SmmuEvent.CLASS_IN << SmmuEvent.CLASS_SHIFT);
        assertThat(e[2]).isEqualTo(0x5000_0000L);
        assertThat(e[3]).isZero();
        assertThat(dma(5, -1, 0x4020_0000L, true)).isFalse();
        e = bed.event();
        assertThat(e[0] & 0xff).isEqualTo(SmmuEvent.F_PERMISSION);
        assertThat(e[1] & SmmuEvent.RNW).isZero();
    }

    @Test
    @DisplayName("S2 STE: IPA -> PA through the VMID's table; a stage-2 fault sets S2 and the IPA")
    void stage2() {
        ArmLpaePageTable t = bed.s2Table(40);
        map(t, 0x10_0000L, 0x7770_0000L, 0x1000, Prot.RW);
        long[] ste = steWords(StreamTableEntry.CFG_S2_TRANS);
        s2Fields(ste, t, 7);
        bed.writeSte(6, ste);
        assertThat(dma(6, -1, 0x10_0abcL, true)).isTrue();
        assertThat(out.pa).isEqualTo(0x7770_0abcL);
        assertThat(dma(6, -1, 0x20_0000L, false)).isFalse();
        long[] e = bed.event();
        assertThat(e[0] & 0xff).isEqualTo(SmmuEvent.F_TRANSLATION);
        assertThat(e[1] & SmmuEvent.S2).isNotZero();
        assertThat(e[3]).isEqualTo(0x20_0000L);
        assertThat(dma(6, 1, 0x10_0000L, false)).isFalse();
        assertThat(bed.event()[0] & 0xff).isEqualTo(SmmuEvent.C_BAD_SUBSTREAMID);
    }

    @Test
    @DisplayName("nested STE: S1 output and S1 table fetches go through S2; a fault on a table fetch is CLASS TT")
    void nested() {
        ArmLpaePageTable s2 = bed.s2Table(40);
        ArmLpaePageTable s1 = bed.s1Table();
        // Identity S2 over the 4 GiB of memory (where the tables live); IPA 64 GiB -> PA 0x6000_0000.
        for (long g = 0; g < 4; g++) {
            map(s2, g << 30, g << 30, 0x4000_0000L, Prot.RW);
        }
        map(s2, 0x10_0000_0000L, 0x6000_0000L, 0x20_0000, Prot.RW);
        map(s1, 0x1000, 0x10_0000_0000L + 0x3000, 0x1000, Prot.RW);
        long[] ste = steWords(StreamTableEntry.CFG_NESTED);
        ste[0] |= CDTAB;
        s2Fields(ste, s2, 9);
        bed.writeSte(9, ste);
        bed.writeWords(CDTAB, cdWords(s1, 3));
        assertThat(dma(9, -1, 0x1456, true)).as("%s", out.faultName).isTrue();
        assertThat(out.pa).isEqualTo(0x6000_3456L);
        // Now a CD whose TTB0 is an IPA outside S2.
        long[] cd = cdWords(s1, 4);
        cd[1] = 0x20_0000_0000L;
        bed.writeWords(CDTAB, cd);
        bed.submit(SmmuCommand.cfgiCd(9, 0, true));
        assertThat(dma(9, -1, 0x1456, false)).isFalse();
        long[] e = bed.event();
        assertThat(e[0] & 0xff).isEqualTo(SmmuEvent.F_TRANSLATION);
        assertThat(e[1]).isEqualTo(SmmuEvent.RNW | SmmuEvent.S2 | (long) SmmuEvent.CLASS_TT << SmmuEvent.CLASS_SHIFT);
        assertThat(e[2]).isEqualTo(0x1456);
        assertThat(e[3]).isEqualTo(0x20_0000_0000L);
    }

    @Test
    @DisplayName("SSIDs: linear and 2-level CD tables, S1DSS terminate / bypass / substream 0")
    void substreams() {
        ArmLpaePageTable a = bed.s1Table();
        ArmLpaePageTable b = bed.s1Table();
        map(a, 0x1000, 0xa000, 0x1000, Prot.RW);
        map(b, 0x1000, 0xb000, 0x1000, Prot.RW);
        bed.writeWords(CDTAB, cdWords(a, 1));
        bed.writeWords(CDTAB + 64 * 5, cdWords(b, 2));
        bed.writeSte(1, s1Ste(CDTAB, 4, StreamTableEntry.S1DSS_TERMINATE));
        assertThat(dma(1, 5, 0x1000, false)).isTrue();
        assertThat(out.pa).isEqualTo(0xb000);
        assertThat(dma(1, -1, 0x1000, false)).isFalse();
        assertThat(bed.event()[0]).isEqualTo(SmmuEvent.F_STREAM_DISABLED | 1L << 32);
        assertThat(dma(1, 16, 0x1000, false)).isFalse();
        assertThat(bed.event()[0]).isEqualTo(SmmuEvent.C_BAD_SUBSTREAMID | 1L << 11 | 16L << 12 | 1L << 32);
        assertThat(dma(1, 3, 0x1000, false)).isFalse();
        assertThat(bed.event()[0] & 0xff).isEqualTo(SmmuEvent.C_BAD_CD);
        bed.writeSte(2, s1Ste(CDTAB, 4, StreamTableEntry.S1DSS_BYPASS));
        assertThat(dma(2, -1, 0x1000, false)).isTrue();
        assertThat(out.pa).isEqualTo(0x1000);
        bed.writeSte(3, s1Ste(CDTAB, 4, StreamTableEntry.S1DSS_SSID0));
        assertThat(dma(3, -1, 0x1000, false)).isTrue();
        assertThat(out.pa).isEqualTo(0xa000);
        assertThat(dma(3, 0, 0x1000, false)).isFalse();
        assertThat(bed.event()[0]).as("SSID 0 with S1DSS = substream 0")
                .isEqualTo(SmmuEvent.F_STREAM_DISABLED | 1L << 11 | 3L << 32);
        // S1DSS 0b11 is reserved and behaves as terminate; S1Fmt 0b11 as linear.
        long[] reserved = s1Ste(CDTAB, 4, 3);
        reserved[0] |= 3L << StreamTableEntry.S1FMT_SHIFT;
        bed.writeSte(5, reserved);
        assertThat(dma(5, -1, 0x1000, false)).isFalse();
        assertThat(bed.event()[0] & 0xff).isEqualTo(SmmuEvent.F_STREAM_DISABLED);
        assertThat(dma(5, 5, 0x1000, false)).isTrue();
        assertThat(out.pa).isEqualTo(0xb000);
        // 2-level, 64K leaves (1024 CDs each): SSID 1030 = L1 entry 1, CD 6.
        long l1 = 0x1500_0000L;
        long l2 = 0x1501_0000L;
        bed.memory.writeLong(l1 + 8, l2 | ContextDescriptor.L1CD_V);
        bed.writeWords(l2 + 64 * 6, cdWords(b, 3));
        long[] ste = s1Ste(l1, 12, 0);
        ste[0] |= (long) StreamTableEntry.S1FMT_64K_L2 << StreamTableEntry.S1FMT_SHIFT;
        bed.writeSte(4, ste);
        assertThat(dma(4, 1030, 0x1000, false)).isTrue();
        assertThat(out.pa).isEqualTo(0xb000);
        assertThat(dma(4, 7, 0x1000, false)).isFalse();
        assertThat(bed.event()[0] & 0xff).as("L1CD.V = 0").isEqualTo(SmmuEvent.C_BAD_SUBSTREAMID);
    }

    @Test
    @DisplayName("2-level stream table: L1STD span; a StreamID outside the span is C_BAD_STREAMID")
    void twoLevelStreamTable() {
        SmmuBed b = new SmmuBed().enable2Level(16);
        long l2 = 0x1600_0000L;
        // StreamID 0x305: L1 entry 3, STE 5 of an L2 table with Span 4 (8 STEs).
        b.memory.writeLong(STRTAB + 3 * 8, l2 | 4);
        b.writeWords(l2 + 5 * 64, steWords(StreamTableEntry.CFG_BYPASS));
        assertThat(b.unit.translate(0x305, -1, 0x42000, false, false, out)).isTrue();
        assertThat(b.unit.translate(0x309, -1, 0x42000, false, false, out)).isFalse();
        assertThat(b.event()[0]).isEqualTo(SmmuEvent.C_BAD_STREAMID | 0x309L << 32);
        assertThat(b.unit.translate(0x1_0000, -1, 0, false, false, out)).isFalse();
        assertThat(b.event()[0] & 0xff).isEqualTo(SmmuEvent.C_BAD_STREAMID);
    }

    @Test
    @DisplayName("a missing CFGI_STE keeps the old STE in use; CFGI_STE makes the new one seen")
    void staleSte() {
        bed.writeSte(3, steWords(StreamTableEntry.CFG_BYPASS));
        assertThat(dma(3, -1, 0x5000, false)).isTrue();
        bed.writeSte(3, steWords(StreamTableEntry.CFG_ABORT));
        assertThat(dma(3, -1, 0x5000, false)).as("stale bypass STE").isTrue();
        bed.submit(SmmuCommand.cfgiSte(3, true), SmmuCommand.sync(0, 0, 0));
        assertThat(dma(3, -1, 0x5000, false)).isFalse();
        // CFGI_STE_RANGE and CFGI_ALL reach it too.
        bed.writeSte(3, steWords(StreamTableEntry.CFG_BYPASS));
        bed.submit(SmmuCommand.cfgiSteRange(0x10, 3));
        assertThat(dma(3, -1, 0x5000, false)).as("range 0x10..0x1f misses sid 3").isFalse();
        bed.submit(SmmuCommand.cfgiSteRange(0x2, 1));
        assertThat(dma(3, -1, 0x5000, false)).isTrue();
        bed.writeSte(3, steWords(StreamTableEntry.CFG_ABORT));
        bed.submit(SmmuCommand.cfgiAll());
        assertThat(dma(3, -1, 0x5000, false)).isFalse();
    }

    @Test
    @DisplayName("a missing CFGI_CD keeps the old CD; a missing TLBI keeps the old translation")
    void staleCdAndTlb() {
        ArmLpaePageTable[] t = twoTablesOnSid1();
        ArmLpaePageTable a = t[0];
        ArmLpaePageTable b = t[1];
        assertThat(dma(1, -1, 0x1000, false)).isTrue();
        assertThat(out.pa).isEqualTo(0xa000);
        // Unmap the page: the TLB still holds it until TLBI_NH_VA.
        a.unmapPages(0x1000, 0x1000, 1, null);
        assertThat(dma(1, -1, 0x1000, false)).as("stale TLB").isTrue();
        bed.submit(SmmuCommand.tlbiNhVa(0, 2, 0x1000, true));
        assertThat(dma(1, -1, 0x1000, false)).as("other ASID's TLBI leaves it").isTrue();
        bed.submit(SmmuCommand.tlbiNhVa(0, 1, 0x1000, true));
        assertThat(dma(1, -1, 0x1000, false)).isFalse();
        bed.events();
        map(a, 0x1000, 0xa000, 0x1000, Prot.RW);
        // Switch the CD to table b with a new ASID, without CFGI_CD: the old CD stays.
        bed.writeWords(CDTAB, cdWords(b, 2));
        assertThat(dma(1, -1, 0x1000, false)).isTrue();
        assertThat(out.pa).isEqualTo(0xa000);
        bed.submit(SmmuCommand.cfgiCd(1, 0, true));
        assertThat(dma(1, -1, 0x1000, false)).isTrue();
        assertThat(out.pa).isEqualTo(0xb000);
        // TLBI_NH_ASID drops the whole ASID.
        b.unmapPages(0x1000, 0x1000, 1, null);
        assertThat(dma(1, -1, 0x1000, false)).isTrue();
        bed.submit(SmmuCommand.tlbiNhAsid(0, 2));
        assertThat(dma(1, -1, 0x1000, false)).isFalse();
    }

    @Test
    @DisplayName("CFGI_STE also drops the CDs cached through the STE (4.3.1); CFGI_CD of another SSID does not")
    void cfgiSteDropsCds() {
        ArmLpaePageTable[] t = twoTablesOnSid1();
        ArmLpaePageTable a = t[0];
        ArmLpaePageTable b = t[1];
        assertThat(dma(1, -1, 0x1000, false)).isTrue();
        bed.writeWords(CDTAB, cdWords(b, 2));
        bed.submit(SmmuCommand.cfgiCd(1, 1, true), SmmuCommand.cfgiCd(2, 0, true));
        assertThat(dma(1, -1, 0x1000, false)).isTrue();
        assertThat(out.pa).as("CFGI_CD for SSID 1 / SID 2 leave SID 1's CD 0").isEqualTo(0xa000);
        bed.submit(SmmuCommand.cfgiSte(1, true));
        assertThat(dma(1, -1, 0x1000, false)).isTrue();
        assertThat(out.pa).isEqualTo(0xb000);
        assertThat(bed.unit.cdCacheSize()).isEqualTo(1);
    }

    @Test
    @DisplayName("nested: a CD table IPA that stage 2 does not map is a stage-2 F_TRANSLATION with CLASS CD")
    void nestedCdFetch() {
        ArmLpaePageTable s2 = bed.s2Table(40);
        map(s2, 0, 0, 0x4000_0000L, Prot.RW);
        long[] ste = steWords(StreamTableEntry.CFG_NESTED);
        ste[0] |= 0x40_0000_0000L; // S1ContextPtr: an IPA (256 GiB) inside stage 2's 40 bits, unmapped
        s2Fields(ste, s2, 4);
        bed.writeSte(8, ste);
        assertThat(dma(8, -1, 0x1000, false)).isFalse();
        assertThat(bed.event()).containsExactly(SmmuEvent.F_TRANSLATION | 8L << 32,
                SmmuEvent.RNW | SmmuEvent.S2 | (long) SmmuEvent.CLASS_CD << SmmuEvent.CLASS_SHIFT, 0x1000L,
                0x40_0000_0000L);
        // A write: RnW clear, the transaction's address in InputAddr.
        assertThat(dma(8, -1, 0x2345, true)).isFalse();
        assertThat(bed.event()).containsExactly(SmmuEvent.F_TRANSLATION | 8L << 32,
                SmmuEvent.S2 | (long) SmmuEvent.CLASS_CD << SmmuEvent.CLASS_SHIFT, 0x2345L, 0x40_0000_0000L);
    }

    @Test
    @DisplayName("TLBI_S2_IPA drops S2 entries of its VMID; TLBI_S12_VMALL and NSNH_ALL drop everything of theirs")
    void stage2Invalidation() {
        ArmLpaePageTable t = bed.s2Table(40);
        map(t, 0x10_0000L, 0x7770_0000L, 0x1000, Prot.RW);
        long[] ste = steWords(StreamTableEntry.CFG_S2_TRANS);
        s2Fields(ste, t, 7);
        bed.writeSte(6, ste);
        assertThat(dma(6, -1, 0x10_0000L, false)).isTrue();
        t.unmapPages(0x10_0000L, 0x1000, 1, null);
        bed.submit(SmmuCommand.tlbiS2Ipa(8, 0x10_0000L, true));
        assertThat(dma(6, -1, 0x10_0000L, false)).as("VMID 8 is not 7").isTrue();
        bed.submit(SmmuCommand.tlbiS2Ipa(7, 0x10_0000L, true));
        assertThat(dma(6, -1, 0x10_0000L, false)).isFalse();
        map(t, 0x10_0000L, 0x7770_0000L, 0x1000, Prot.RW);
        assertThat(dma(6, -1, 0x10_0000L, false)).isTrue();
        t.unmapPages(0x10_0000L, 0x1000, 1, null);
        bed.submit(SmmuCommand.tlbiS12Vmall(7));
        assertThat(dma(6, -1, 0x10_0000L, false)).isFalse();
        map(t, 0x10_0000L, 0x7770_0000L, 0x1000, Prot.RW);
        assertThat(dma(6, -1, 0x10_0000L, false)).isTrue();
        assertThat(bed.unit.tlbEntries()).isNotEmpty();
        bed.submit(SmmuCommand.tlbiNsnhAll());
        assertThat(bed.unit.tlbEntries()).isEmpty();
    }

    @Test
    @DisplayName("range TLBI_NH_VA (RIL): (NUM + 1) << SCALE granules from the address")
    void rangeInvalidation() {
        ArmLpaePageTable a = bed.s1Table();
        for (int i = 0; i < 8; i++) {
            map(a, 0x10_0000L + i * 0x1000L, 0x20_0000L + i * 0x1000L, 0x1000, Prot.RW);
        }
        bed.writeWords(CDTAB, cdWords(a, 1));
        bed.writeSte(1, s1Ste(CDTAB, 0, 0));
        for (int i = 0; i < 8; i++) {
            assertThat(dma(1, -1, 0x10_0000L + i * 0x1000L, false)).isTrue();
        }
        // 3 pages (NUM 2, SCALE 0) of 4K from page 2.
        bed.submit(SmmuCommand.tlbiRange(SmmuCommand.TLBI_NH_VA, 0, 1, 0x10_2000L, true, 1, 3, 0, 2));
        assertThat(bed.unit.tlbEntries()).extracting(e -> e.iovaBase)
                .containsExactlyInAnyOrder(0x10_0000L, 0x10_1000L, 0x10_5000L, 0x10_6000L, 0x10_7000L);
    }

    @Test
    @DisplayName("ATS: EATS = 0 gives F_BAD_ATS_TREQ; EATS = 1 translates and an unmapped page answers R = W = 0")
    void ats() {
        ArmLpaePageTable a = bed.s1Table();
        map(a, 0x1000, 0xa000, 0x1000, Prot.READ);
        bed.writeWords(CDTAB, cdWords(a, 1));
        bed.writeSte(1, s1Ste(CDTAB, 0, 0));
        assertThat(bed.unit.translate(1, -1, 0x1000, false, true, out)).isFalse();
        long[] e = bed.event();
        assertThat(e[0]).isEqualTo(SmmuEvent.F_BAD_ATS_TREQ | 1L << 32);
        assertThat(e[2]).isEqualTo(0x1000);
        long[] ste = s1Ste(CDTAB, 0, 0);
        ste[1] |= (long) StreamTableEntry.EATS_TRANS << StreamTableEntry.EATS_SHIFT;
        bed.writeSte(1, ste);
        bed.submit(SmmuCommand.cfgiSte(1, true));
        assertThat(bed.unit.translate(1, -1, 0x1000, false, true, out)).isTrue();
        assertThat(out.pa).isEqualTo(0xa000);
        assertThat(out.readable).isTrue();
        assertThat(out.writable).isFalse();
        assertThat(bed.unit.translate(1, -1, 0x9000, false, true, out)).isTrue();
        assertThat(out.readable || out.writable).isFalse();
        assertThat(bed.events()).isEmpty();
    }

    @Test
    @DisplayName("with the per-requester route in use, a rewritten CD and then STE stay in use until their CFGI; "
            + "STE/CD cache counters as on the full path")
    void routeMemoKeepsCachesVisible() {
        ArmLpaePageTable[] t = twoTablesOnSid1();
        ArmLpaePageTable b = t[1];
        int warm = 5;
        for (int i = 0; i < warm; i++) {
            assertThat(dma(1, -1, 0x1000, false)).isTrue();
            assertThat(out.pa).isEqualTo(0xa000);
        }
        HwStats s = bed.unit.stats();
        assertThat(s.get("ste-cache.misses")).isEqualTo(1);
        assertThat(s.get("ste-cache.hits")).isEqualTo(warm - 1);
        assertThat(s.get("cd-cache.misses")).isEqualTo(1);
        assertThat(s.get("cd-cache.hits")).isEqualTo(warm - 1);
        assertThat(s.get("iotlb.hits")).isEqualTo(warm - 1);
        // CD switched to table b (ASID 2) without CFGI_CD; CFGI of other SIDs / SSIDs drop nothing of it.
        bed.writeWords(CDTAB, cdWords(b, 2));
        bed.submit(SmmuCommand.cfgiCd(2, 0, true), SmmuCommand.cfgiSte(7, true), SmmuCommand.tlbiNhAsid(0, 1));
        assertThat(dma(1, -1, 0x1000, false)).isTrue();
        assertThat(out.pa).as("stale CD, TLB emptied: walks table a").isEqualTo(0xa000);
        bed.submit(SmmuCommand.cfgiCd(1, 0, true));
        assertThat(dma(1, -1, 0x1000, false)).isTrue();
        assertThat(out.pa).isEqualTo(0xb000);
        // STE to abort without CFGI_STE: still translating; CFGI_STE: aborted.
        bed.writeSte(1, steWords(StreamTableEntry.CFG_ABORT));
        for (int i = 0; i < 3; i++) {
            assertThat(dma(1, -1, 0x1000, false)).as("stale STE").isTrue();
        }
        bed.submit(SmmuCommand.cfgiSte(1, true));
        assertThat(dma(1, -1, 0x1000, false)).isFalse();
        long translations = s.get("translations");
        assertThat(s.get("ste-cache.hits") + s.get("ste-cache.misses")).isEqualTo(translations);
        assertThat(s.get("cd-cache.hits") + s.get("cd-cache.misses")).isEqualTo(translations - 1);
    }

    @Test
    @DisplayName("NO_PASID is -1 for the DmaTranslator contract")
    void noPasid() {
        assertThat(DmaTranslator.NO_PASID).isEqualTo(-1);
    }
}
