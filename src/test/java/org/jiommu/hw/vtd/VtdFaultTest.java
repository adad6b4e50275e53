package org.jiommu.hw.vtd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.jiommu.hw.vtd.VtdRegisters.*;
import static org.jiommu.hw.vtd.VtdTestEncoder.*;

import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

import org.jiommu.bus.dma.DmaTranslator;
import org.jiommu.bus.dma.TranslationResult;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** Every reachable fault reason, the fault records it leaves, FPD, and the recording algorithm. */
class VtdFaultTest {
    private static final int SID = 0x0308;
    private static final int NP = DmaTranslator.NO_PASID;
    /** Inside HAW (46 bits) but beyond the bed's 8 GiB of memory: reading it is an access error. */
    private static final long NO_MEMORY = 0x30_0000_0000L;

    /** Asserts the request faults with {@code reason} and that a fault record was written for it. */
    private static FaultRecord expectRecorded(VtdTestBed bed, int sid, int pasid, long iova, boolean write, int reason) {
        bed.write32ClearAllFaults(); // else a pending record of the same source id compresses this one
        TranslationResult r = new TranslationResult();
        assertThat(bed.unit.translate(sid, pasid, iova, write, false, r)).as("translated").isFalse();
        assertThat(r.faultCode).as("fault reason %#x (%s)", r.faultCode, r.faultName).isEqualTo(reason);
        assertThat(r.faultName).isEqualTo(FaultReason.name(reason));
        List<FaultRecord> log = bed.unit.faultLog();
        FaultRecord last = log.get(log.size() - 1);
        assertThat(last.reason()).isEqualTo(reason);
        assertThat(last.disposition()).isEqualTo(FaultRecord.Disposition.RECORDED);
        int fri = (bed.unit.read32(FSTS_REG) & FSTS_FRI_MASK) >>> FSTS_FRI_SHIFT;
        long hi = bed.unit.read64(FRCD_REG_BASE + 16 * fri + 8);
        assertThat(hi).isEqualTo(last.frcdHi() | FRCD_F);
        assertThat(bed.unit.read64(FRCD_REG_BASE + 16 * fri)).isEqualTo(iova & ~0xFFFL);
        return last;
    }

    private static VtdTestBed legacyWithTable(VtdTestBed.SlTable[] table) {
        VtdTestBed bed = VtdTestBed.legacy(48);
        table[0] = bed.new SlTable(4);
        bed.setLegacyContext(SID, legacyContext(table[0].root, 0, 2, 1, false));
        return bed;
    }

    // ---------------- legacy: root and context ----------------

    @Test
    @DisplayName("0x1 root entry not present")
    void rootNotPresent() {
        VtdTestBed bed = VtdTestBed.legacy(48);
        expectRecorded(bed, 0x4500, NP, 0x1000, false, FaultReason.ROOT_ENTRY_NOT_PRESENT);
    }

    @Test
    @DisplayName("0x2 context entry not present")
    void contextNotPresent() {
        VtdTestBed bed = VtdTestBed.legacy(48);
        bed.setLegacyContext(SID, legacyContext(bed.allocPage(), 0, 2, 1, false));
        expectRecorded(bed, SID + 1, NP, 0x1000, true, FaultReason.CONTEXT_ENTRY_NOT_PRESENT);
    }

    @Test
    @DisplayName("0x3 invalid context programming: AW not in SAGAW, TT = 11b, TT = 01b without ECAP.DT, SLPTPTR unreadable")
    void contextInvalid() {
        VtdTestBed bed = VtdTestBed.legacy(48);
        bed.setLegacyContext(SID, legacyContext(bed.allocPage(), 0, 3, 1, false));
        expectRecorded(bed, SID, NP, 0x1000, false, FaultReason.CONTEXT_ENTRY_INVALID);
        bed.setLegacyContext(SID + 1, legacyContext(bed.allocPage(), 3, 2, 1, false));
        expectRecorded(bed, SID + 1, NP, 0x1000, false, FaultReason.CONTEXT_ENTRY_INVALID);
        bed.setLegacyContext(SID + 2, legacyContext(NO_MEMORY, 0, 2, 1, false));
        expectRecorded(bed, SID + 2, NP, 0x1000, false, FaultReason.CONTEXT_ENTRY_INVALID);

        VtdTestBed noDt = new VtdTestBed(VtdConfig.builder().scalableMode(false).deviceTlb(false).build()).boot();
        noDt.setLegacyContext(SID, legacyContext(noDt.allocPage(), 1, 2, 1, false));
        expectRecorded(noDt, SID, NP, 0x1000, false, FaultReason.CONTEXT_ENTRY_INVALID);
        assertThat(noDt.unit.read64(ECAP_REG) & ECAP_DT).isZero();
    }

    @Test
    @DisplayName("0x4 address beyond min(AW, MGAW)")
    void beyondWidth() {
        VtdTestBed bed = VtdTestBed.legacy(48);
        bed.setLegacyContext(SID, legacyContext(bed.allocPage(), 0, 1, 1, false)); // a 39-bit table
        expectRecorded(bed, SID, NP, 1L << 39, false, FaultReason.ADDRESS_BEYOND_MGAW);
        bed.setLegacyContext(SID + 1, legacyContext(bed.allocPage(), 0, 2, 1, false));
        expectRecorded(bed, SID + 1, NP, 1L << 48, true, FaultReason.ADDRESS_BEYOND_MGAW);
        expectRecorded(bed, SID + 1, NP, -4096L, true, FaultReason.ADDRESS_BEYOND_MGAW);
    }

    @Test
    @DisplayName("0x5 write without W, 0x6 read without R (also for a non-present entry)")
    void permissions() {
        VtdTestBed.SlTable[] t = new VtdTestBed.SlTable[1];
        VtdTestBed bed = legacyWithTable(t);
        t[0].map(0x1000, 0x5000_0000L, 12, true, false);
        t[0].map(0x2000, 0x5000_1000L, 12, false, true);
        expectRecorded(bed, SID, NP, 0x1000, true, FaultReason.WRITE);
        bed.write32ClearAllFaults();
        expectRecorded(bed, SID, NP, 0x2000, false, FaultReason.READ);
        bed.write32ClearAllFaults();
        expectRecorded(bed, SID, NP, 0x7_0000_0000L, false, FaultReason.READ);
        assertThat(bed.pa(SID, 0x2008, true)).isEqualTo(0x5000_1008L);
    }

    @Test
    @DisplayName("0x7 paging entry access error below the top level")
    void pagingEntryAccess() {
        VtdTestBed.SlTable[] t = new VtdTestBed.SlTable[1];
        VtdTestBed bed = legacyWithTable(t);
        bed.mem.writeLong(t[0].root, slPte(NO_MEMORY, true, true, false, false));
        expectRecorded(bed, SID, NP, 0x1000, false, FaultReason.PAGING_ENTRY_ACCESS);
    }

    @Test
    @DisplayName("0x8 root table access error, 0x9 context table access error")
    void tableAccess() {
        VtdTestBed bed = VtdTestBed.legacy(48);
        bed.mem.writeLong(bed.rootTable + 0x07 * 16, NO_MEMORY | 1);
        expectRecorded(bed, 0x0700, NP, 0x1000, false, FaultReason.CONTEXT_TABLE_ACCESS);
        bed.unit.write64(RTADDR_REG, NO_MEMORY);
        bed.unit.write32(GCMD_REG, bed.persistent() | GCMD_SRTP);
        bed.submit(ccGlobal(), iotlbGlobal());
        expectRecorded(bed, 0x0100, NP, 0x1000, false, FaultReason.ROOT_TABLE_ACCESS);
    }

    @Test
    @DisplayName("0xA root entry reserved bits, 0xB context entry reserved bits (legacy)")
    void rootContextReserved() {
        VtdTestBed bed = VtdTestBed.legacy(48);
        long ct = bed.allocPage();
        bed.mem.writeLong(bed.rootTable + 0x20 * 16, ct | 1 | 0x10);
        expectRecorded(bed, 0x2000, NP, 0x1000, false, FaultReason.ROOT_ENTRY_RESERVED);
        bed.mem.writeLong(bed.rootTable + 0x21 * 16, bed.allocPage() | 1);
        bed.mem.writeLong(bed.rootTable + 0x21 * 16 + 8, 1); // the legacy upper qword is reserved
        expectRecorded(bed, 0x2100, NP, 0x1000, false, FaultReason.ROOT_ENTRY_RESERVED);

        long[] ce = legacyContext(bed.allocPage(), 0, 2, 1, false);
        bed.setLegacyContext(SID, new long[] {ce[0] | 0x10, ce[1]});
        expectRecorded(bed, SID, NP, 0x1000, false, FaultReason.CONTEXT_ENTRY_RESERVED);
        bed.setLegacyContext(SID + 1, new long[] {ce[0], ce[1] | 0x80});
        expectRecorded(bed, SID + 1, NP, 0x1000, false, FaultReason.CONTEXT_ENTRY_RESERVED);
        bed.setLegacyContext(SID + 2, new long[] {ce[0] | 1L << 50, ce[1]}); // SLPTPTR above HAW
        expectRecorded(bed, SID + 2, NP, 0x1000, false, FaultReason.CONTEXT_ENTRY_RESERVED);
    }

    @Test
    @DisplayName("0xC second-level reserved bits: TM, SNP in a non-leaf, PS at level 4, low bits of a large page, "
            + "PS without large-page support")
    void slReserved() {
        VtdTestBed.SlTable[] t = new VtdTestBed.SlTable[1];
        VtdTestBed bed = legacyWithTable(t);
        t[0].mapRaw(0x1000, 12, slPte(0x5000_0000L, true, true, false, false) | 1L << 62);
        expectRecorded(bed, SID, NP, 0x1000, false, FaultReason.PAGING_ENTRY_RESERVED);
        t[0].mapRaw(0x20_0000L, 21, slPte(0x6000_0000L, true, true, true, false) | 0x1000);
        expectRecorded(bed, SID, NP, 0x20_0000L, false, FaultReason.PAGING_ENTRY_RESERVED);
        t[0].mapRaw(0x80_0000_0000L, 39, slPte(0, true, true, true, false)); // PS in a level-4 entry
        expectRecorded(bed, SID, NP, 0x80_0000_0000L, false, FaultReason.PAGING_ENTRY_RESERVED);
        // SNP (bit 11) is accepted in a leaf of a snoop-control unit, reserved in a table pointer.
        t[0].mapRaw(0x3000, 12, slPte(0x5000_3000L, true, true, false, true));
        assertThat(bed.pa(SID, 0x3000, false)).isEqualTo(0x5000_3000L);
        long l3 = bed.allocPage();
        bed.mem.writeLong(t[0].root + ((0x7F00_0000_0000L >>> 39) & 0x1FF) * 8,
                slPte(l3, true, true, false, true));
        expectRecorded(bed, SID, NP, 0x7F00_0000_0000L, false, FaultReason.PAGING_ENTRY_RESERVED);

        VtdTestBed no1g = new VtdTestBed(VtdConfig.builder().scalableMode(false).secondLevel1G(false)
                .snoopControl(false).build()).boot();
        VtdTestBed.SlTable s = no1g.new SlTable(4);
        no1g.setLegacyContext(SID, legacyContext(s.root, 0, 2, 1, false));
        s.map(0x4000_0000L, 0x4000_0000L, 30, true, true);
        expectRecorded(no1g, SID, NP, 0x4000_0000L, false, FaultReason.PAGING_ENTRY_RESERVED);
        s.mapRaw(0x1000, 12, slPte(0x5000_0000L, true, true, false, true));
        no1g.write32ClearAllFaults();
        expectRecorded(no1g, SID, NP, 0x1000, false, FaultReason.PAGING_ENTRY_RESERVED);
        assertThat(no1g.unit.read64(CAP_REG) >>> CAP_SLLPS_SHIFT & 0xF).isEqualTo(1);
    }

    @Test
    @DisplayName("0xD translation type blocks: a PASID request in legacy mode, ATS with TT = 00b or 10b")
    void translationTypeBlocks() {
        VtdTestBed.SlTable[] t = new VtdTestBed.SlTable[1];
        VtdTestBed bed = legacyWithTable(t);
        t[0].map(0x1000, 0x5000_0000L, 12, true, true);
        expectRecorded(bed, SID, 0x5, 0x1000, false, FaultReason.TRANSLATION_TYPE_BLOCKED);
        TranslationResult r = new TranslationResult();
        assertThat(bed.unit.translate(SID, NP, 0x1000, false, true, r)).isFalse();
        assertThat(r.faultCode).isEqualTo(FaultReason.TRANSLATION_TYPE_BLOCKED);
        FaultRecord f = bed.unit.faultLog().get(1);
        assertThat(f.translationRequest()).isTrue();
        assertThat(f.frcdHi() >>> FRCD_AT_SHIFT & 3).isEqualTo(1);
        bed.setLegacyContext(SID + 1, legacyContext(0, 2, 2, 1, false));
        assertThat(bed.unit.translate(SID + 1, NP, 0x1000, false, true, r)).isFalse();
        assertThat(r.faultCode).isEqualTo(FaultReason.TRANSLATION_TYPE_BLOCKED);
    }

    @Test
    @DisplayName("0xE legacy output in the interrupt range (also through pass-through)")
    void interruptRange() {
        VtdTestBed.SlTable[] t = new VtdTestBed.SlTable[1];
        VtdTestBed bed = legacyWithTable(t);
        t[0].map(0x1000, 0xFEE0_1000L, 12, true, true);
        expectRecorded(bed, SID, NP, 0x1000, true, FaultReason.INTERRUPT_ADDRESS);
        bed.setLegacyContext(SID + 1, legacyContext(0, 2, 2, 1, false));
        expectRecorded(bed, SID + 1, NP, 0xFEE0_0000L, true, FaultReason.INTERRUPT_ADDRESS);
        assertThat(bed.unit.iotlbEntries()).isEmpty();
    }

    @Test
    @DisplayName("0x30 root-table address with a reserved TTM (10b, or 01b on a legacy-only unit)")
    void ttmReserved() {
        VtdTestBed bed = VtdTestBed.legacy(48);
        bed.unit.write64(RTADDR_REG, bed.rootTable | 1L << 10);
        bed.unit.write32(GCMD_REG, bed.persistent() | GCMD_SRTP);
        expectRecorded(bed, SID, NP, 0x1000, false, FaultReason.ROOT_TABLE_ADDRESS_TTM);
        assertThat(bed.warnings).anyMatch(w -> w.contains("TTM"));
        VtdTestBed sm = VtdTestBed.scalable(48);
        sm.unit.write64(RTADDR_REG, sm.rootTable | 2L << 10);
        sm.unit.write32(GCMD_REG, sm.persistent() | GCMD_SRTP);
        expectRecorded(sm, SID, NP, 0x1000, false, FaultReason.ROOT_TABLE_ADDRESS_TTM);
    }

    // ---------------- scalable: context, PASID directory, PASID table ----------------

    private static long smContext(VtdTestBed bed, long dir, boolean fpd) {
        bed.setScalableContext(SID, scalableContext(dir, 0, false, fpd, 0));
        return dir;
    }

    @Test
    @DisplayName("0xB / 0x3 scalable context: reserved qwords, DTE on a unit without device TLBs")
    void scalableContextChecks() {
        VtdTestBed bed = VtdTestBed.scalable(48);
        long[] ce = scalableContext(bed.newPasidDir(), 0, false, false, 0);
        ce[2] = 1;
        bed.setScalableContext(SID, ce);
        expectRecorded(bed, SID, NP, 0x1000, false, FaultReason.CONTEXT_ENTRY_RESERVED);
        bed.setScalableContext(SID + 1, new long[] {ce[0] | 0x20, 0, 0, 0});
        expectRecorded(bed, SID + 1, NP, 0x1000, false, FaultReason.CONTEXT_ENTRY_RESERVED);
        VtdTestBed noDt = new VtdTestBed(VtdConfig.builder().deviceTlb(false).build()).boot();
        noDt.setScalableContext(SID, scalableContext(noDt.newPasidDir(), 0, true, false, 0));
        expectRecorded(noDt, SID, NP, 0x1000, false, FaultReason.CONTEXT_ENTRY_INVALID);
    }

    @Test
    @DisplayName("0x50 PASID-directory access error, 0x58 PASID-table access error")
    void pasidAccess() {
        VtdTestBed bed = VtdTestBed.scalable(48);
        smContext(bed, NO_MEMORY, false);
        expectRecorded(bed, SID, 0x3, 0x1000, false, FaultReason.PASID_DIR_ACCESS);
        VtdTestBed bed2 = VtdTestBed.scalable(48);
        long dir = smContext(bed2, bed2.newPasidDir(), false);
        bed2.mem.writeLong(dir, pasidDirEntry(NO_MEMORY, false));
        expectRecorded(bed2, SID, 0x3, 0x1000, false, FaultReason.PASID_TABLE_ACCESS);
    }

    @Test
    @DisplayName("0x51 PASID-directory entry not present, beyond PDTS, or beyond the unit's PASID width")
    void pasidDirNotPresent() {
        VtdTestBed bed = VtdTestBed.scalable(48);
        long dir = smContext(bed, bed.newPasidDir(), false);
        bed.setPasidEntry(dir, 0x40 * 127, pasidEntryPassThrough(2, 1));
        expectRecorded(bed, SID, 0x40, 0x1000, false, FaultReason.PASID_DIR_ENTRY_NOT_PRESENT);
        assertThat(bed.pa(SID, 0x40 * 127, 0x1000, false)).isEqualTo(0x1000);
        bed.write32ClearAllFaults();
        // PDTS 0: 128 directory entries, so PASID 128 * 64 is out of the directory.
        expectRecorded(bed, SID, 0x40 * 128, 0x1000, false, FaultReason.PASID_DIR_ENTRY_NOT_PRESENT);

        VtdTestBed narrow = new VtdTestBed(VtdConfig.builder().pasidBits(8).build()).boot();
        long d2 = narrow.newPasidDir();
        narrow.setScalableContext(SID, scalableContext(d2, 7, false, false, 0));
        narrow.setPasidEntry(d2, 0x100, pasidEntryPassThrough(2, 1));
        expectRecorded(narrow, SID, 0x100, 0x1000, false, FaultReason.PASID_DIR_ENTRY_NOT_PRESENT);
        assertThat(narrow.unit.read64(ECAP_REG) >>> ECAP_PSS_SHIFT & 0x1F).isEqualTo(7);
    }

    @Test
    @DisplayName("0x52 PASID-directory entry reserved bits, 0x5A PASID entry reserved bits")
    void pasidReserved() {
        VtdTestBed bed = VtdTestBed.scalable(48);
        long dir = smContext(bed, bed.newPasidDir(), false);
        bed.setPasidEntry(dir, 0x41, pasidEntryPassThrough(2, 1));
        bed.mem.writeLong(dir + 8, bed.mem.readLong(dir + 8) | 0x4);
        expectRecorded(bed, SID, 0x41, 0x1000, false, FaultReason.PASID_DIR_ENTRY_RESERVED);
        long[] pe = pasidEntryPassThrough(2, 1);
        pe[3] = 1;
        bed.setPasidEntry(dir, 0x2, pe);
        expectRecorded(bed, SID, 0x2, 0x1000, false, FaultReason.PASID_ENTRY_RESERVED);
        long[] sre = pasidEntryPassThrough(2, 1);
        sre[2] = 1; // SRE on a unit without supervisor-request support
        bed.setPasidEntry(dir, 0x3, sre);
        bed.write32ClearAllFaults();
        expectRecorded(bed, SID, 0x3, 0x1000, false, FaultReason.PASID_ENTRY_RESERVED);
    }

    @Test
    @DisplayName("0x59 PASID entry not present")
    void pasidEntryNotPresent() {
        VtdTestBed bed = VtdTestBed.scalable(48);
        long dir = smContext(bed, bed.newPasidDir(), false);
        bed.setPasidEntry(dir, 0x5, pasidEntryPassThrough(2, 1));
        expectRecorded(bed, SID, 0x6, 0x1000, false, FaultReason.PASID_ENTRY_NOT_PRESENT);
        expectRecordedAfterClear(bed, NP); // RID_PASID 0 is not present either
    }

    private static void expectRecordedAfterClear(VtdTestBed bed, int pasid) {
        bed.write32ClearAllFaults();
        expectRecorded(bed, SID, pasid, 0x1000, false, FaultReason.PASID_ENTRY_NOT_PRESENT);
    }

    @Test
    @DisplayName("0x5B invalid PASID entry: PGTT 0/5, unsupported SL AW, 5-level FL without FL5LP, "
            + "a translation type the unit lacks")
    void pasidEntryInvalid() {
        VtdTestBed bed = VtdTestBed.scalable(48);
        long dir = smContext(bed, bed.newPasidDir(), false);
        long[] pgtt0 = {1, 1, 0, 0, 0, 0, 0, 0};
        long[] pgtt5 = {5L << 6 | 1, 1, 0, 0, 0, 0, 0, 0};
        bed.setPasidEntry(dir, 1, pgtt0);
        bed.setPasidEntry(dir, 2, pgtt5);
        bed.setPasidEntry(dir, 3, pasidEntrySecondLevel(bed.allocPage(), 3, 1, false));
        bed.setPasidEntry(dir, 4, pasidEntryFirstLevel(bed.allocPage(), 2, 1, true));
        for (int pasid = 1; pasid <= 4; pasid++) {
            bed.write32ClearAllFaults();
            expectRecorded(bed, SID, pasid, 0x1000, false, FaultReason.PASID_ENTRY_INVALID);
        }
        VtdTestBed slOnly = new VtdTestBed(VtdConfig.builder().firstLevel(false).nested(false).build()).boot();
        long d2 = slOnly.newPasidDir();
        slOnly.setScalableContext(SID, scalableContext(d2, 0, false, false, 0));
        slOnly.setPasidEntry(d2, 1, pasidEntryFirstLevel(slOnly.allocPage(), 2, 1, false));
        expectRecorded(slOnly, SID, 1, 0x1000, false, FaultReason.PASID_ENTRY_INVALID);
        assertThat(slOnly.unit.read64(ECAP_REG) & (ECAP_FLTS | ECAP_NEST)).isZero();
    }

    // ---------------- scalable: first level ----------------

    private static VtdTestBed.FlTable flBed(VtdTestBed bed, int pasid) {
        VtdTestBed.FlTable t = bed.new FlTable(4);
        long dir = smContext(bed, bed.newPasidDir(), false);
        bed.setPasidEntry(dir, pasid, pasidEntryFirstLevel(t.root, 2, 7, false));
        return t;
    }

    @Test
    @DisplayName("0x70 FS entry access error, 0x73 FS table pointer invalid, 0x71 FS not present")
    void flAccess() {
        VtdTestBed bed = VtdTestBed.scalable(48);
        VtdTestBed.FlTable t = flBed(bed, 0x9);
        bed.mem.writeLong(t.root, flPte(NO_MEMORY, true, true, false, false, false));
        expectRecorded(bed, SID, 0x9, 0x1000, false, FaultReason.FS_PAGING_ENTRY_ACCESS);
        bed.write32ClearAllFaults();
        expectRecorded(bed, SID, 0x9, 0x80_0000_0000L, false, FaultReason.FS_PAGING_ENTRY_NOT_PRESENT);

        VtdTestBed bed2 = VtdTestBed.scalable(48);
        long dir = smContext(bed2, bed2.newPasidDir(), false);
        bed2.setPasidEntry(dir, 0x9, pasidEntryFirstLevel(NO_MEMORY, 2, 7, false));
        expectRecorded(bed2, SID, 0x9, 0x1000, false, FaultReason.FS_PTPTR_INVALID);
    }

    @Test
    @DisplayName("0x72 FS reserved bits: PS in a PML4E, bit 13 of a 2 MiB leaf, address above HAW")
    void flReserved() {
        VtdTestBed bed = VtdTestBed.scalable(48);
        VtdTestBed.FlTable t = flBed(bed, 0x9);
        t.mapRaw(0x20_0000L, 21, flPte(0x4000_0000L, true, true, false, false, true) | 1L << 13);
        expectRecorded(bed, SID, 0x9, 0x20_0000L, false, FaultReason.FS_PAGING_ENTRY_RESERVED);
        bed.mem.writeLong(t.root + 0x100 * 8, flPte(0, true, true, false, false, true));
        bed.write32ClearAllFaults();
        expectRecorded(bed, SID, 0x9, 0xFFFF_8000_0000_0000L, false, FaultReason.FS_PAGING_ENTRY_RESERVED);
        t.mapRaw(0x5000, 12, flPte(1L << 47, true, true, false, false, false));
        bed.write32ClearAllFaults();
        expectRecorded(bed, SID, 0x9, 0x5000, false, FaultReason.FS_PAGING_ENTRY_RESERVED);
        // XD (bit 63) and the ignored bits 62:52 are accepted.
        t.mapRaw(0x6000, 12, flPte(0x4000_6000L, true, true, false, false, false) | 0xFFF0_0000_0000_0000L);
        assertThat(bed.pa(SID, 0x9, 0x6000, false)).isEqualTo(0x4000_6000L);
    }

    @Test
    @DisplayName("0x80 non-canonical input, 0x81 user request to a supervisor page, 0x85 write to read-only")
    void flGeneral() {
        VtdTestBed bed = VtdTestBed.scalable(48);
        VtdTestBed.FlTable t = flBed(bed, 0x9);
        expectRecorded(bed, SID, 0x9, 0x8000_0000_0000L, false, FaultReason.FS_NON_CANONICAL);
        t.mapRaw(0x1000, 12, flPte(0x4000_1000L, true, false, false, false, false));
        bed.write32ClearAllFaults();
        expectRecorded(bed, SID, 0x9, 0x1000, false, FaultReason.FS_USER_SUPERVISOR);
        t.map(0x2000, 0x4000_2000L, 12, false);
        bed.write32ClearAllFaults();
        expectRecorded(bed, SID, 0x9, 0x2000, true, FaultReason.SM_WRITE);
    }

    @Test
    @DisplayName("0x87 scalable output in the interrupt range (first level and pass-through)")
    void smInterruptRange() {
        VtdTestBed bed = VtdTestBed.scalable(48);
        VtdTestBed.FlTable t = flBed(bed, 0x9);
        t.map(0x1000, 0xFEEF_F000L, 12, true);
        expectRecorded(bed, SID, 0x9, 0x1000, true, FaultReason.SM_INTERRUPT_ADDRESS);
        long dir = bed.newPasidDir();
        bed.setPasidEntry(dir, 0, pasidEntryPassThrough(2, 1));
        bed.setScalableContext(SID + 1, scalableContext(dir, 0, false, false, 0));
        expectRecorded(bed, SID + 1, NP, 0xFEE0_0040L, true, FaultReason.SM_INTERRUPT_ADDRESS);
    }

    @Test
    @DisplayName("0x4 in scalable mode: second-level PASID entry with a 39-bit table")
    void smBeyondWidth() {
        VtdTestBed bed = VtdTestBed.scalable(48);
        long dir = smContext(bed, bed.newPasidDir(), false);
        bed.setPasidEntry(dir, 0, pasidEntrySecondLevel(bed.allocPage(), 1, 1, false));
        expectRecorded(bed, SID, NP, 1L << 39, false, FaultReason.ADDRESS_BEYOND_MGAW);
    }

    // ---------------- FPD ----------------

    @Test
    @DisplayName("FPD in the context entry suppresses qualified faults (even with P clear) but not reserved-bit faults")
    void fpdContext() {
        VtdTestBed bed = VtdTestBed.legacy(48);
        VtdTestBed.SlTable t = bed.new SlTable(4);
        bed.setLegacyContext(SID, legacyContext(t.root, 0, 2, 1, true));
        assertThat(bed.pa(SID, 0x1000, false)).isEqualTo(-FaultReason.READ);
        assertThat(bed.unit.faultLog().get(0).disposition()).isEqualTo(FaultRecord.Disposition.SUPPRESSED_FPD);
        bed.setLegacyContext(SID + 1, new long[] {2, 0}); // P = 0, FPD = 1
        assertThat(bed.pa(SID + 1, 0x1000, false)).isEqualTo(-FaultReason.CONTEXT_ENTRY_NOT_PRESENT);
        assertThat(bed.unit.faultLog().get(1).disposition()).isEqualTo(FaultRecord.Disposition.SUPPRESSED_FPD);
        assertThat(bed.unit.read32(FSTS_REG) & FSTS_PPF).as("nothing recorded").isZero();
        assertThat(bed.unit.stats().get("faults.suppressed-fpd")).isEqualTo(2);
        long[] ce = legacyContext(t.root, 0, 2, 1, true);
        bed.setLegacyContext(SID + 2, new long[] {ce[0], ce[1] | 0x80});
        expectRecorded(bed, SID + 2, NP, 0x1000, false, FaultReason.CONTEXT_ENTRY_RESERVED);
    }

    @Test
    @DisplayName("FPD in the PASID-directory entry or the PASID entry suppresses PASID and walk faults")
    void fpdPasid() {
        VtdTestBed bed = VtdTestBed.scalable(48);
        long dir = smContext(bed, bed.newPasidDir(), false);
        VtdTestBed.FlTable t = bed.new FlTable(4);
        long[] pe = pasidEntryFirstLevel(t.root, 2, 7, false);
        pe[0] |= 2; // FPD
        bed.setPasidEntry(dir, 0x1, pe);
        assertThat(bed.pa(SID, 0x1, 0x1000, false)).isEqualTo(-FaultReason.FS_PAGING_ENTRY_NOT_PRESENT);
        bed.setPasidEntry(dir, 0x2, new long[] {2, 0, 0, 0, 0, 0, 0, 0}); // not present, FPD
        assertThat(bed.pa(SID, 0x2, 0x1000, false)).isEqualTo(-FaultReason.PASID_ENTRY_NOT_PRESENT);
        bed.mem.writeLong(dir + 8, 2); // directory entry 1 (PASIDs 0x40-0x7F): not present, FPD
        assertThat(bed.pa(SID, 0x41, 0x1000, false)).isEqualTo(-FaultReason.PASID_DIR_ENTRY_NOT_PRESENT);
        assertThat(bed.unit.faultLog()).extracting(FaultRecord::disposition)
                .containsOnly(FaultRecord.Disposition.SUPPRESSED_FPD);
        assertThat(bed.unit.read32(FSTS_REG)).isZero();
        // Without FPD the same PASID-0x41 request is reported.
        bed.mem.writeLong(dir + 8, 0);
        expectRecorded(bed, SID, 0x41, 0x1000, false, FaultReason.PASID_DIR_ENTRY_NOT_PRESENT);
    }

    // ---------------- recording algorithm ----------------

    @Test
    @DisplayName("fault recording: FRI, PPF, one event, compression by source id, PFO on overflow, W1C of F")
    void recordingAlgorithm() {
        VtdTestBed bed = new VtdTestBed(VtdConfig.builder().scalableMode(false).faultRecordingRegisters(2).build())
                .boot();
        AtomicInteger events = new AtomicInteger();
        bed.unit.setFaultEventHandler(events::incrementAndGet);
        bed.unit.write32(FECTL_REG, 0); // unmask
        assertThat(bed.unit.read64(CAP_REG) >>> CAP_NFR_SHIFT & 0xFF).isEqualTo(1);

        bed.pa(0x100, 0x1000, false); // 0x1, recorded in FRCD0
        bed.pa(0x100, 0x2000, true); // same SID: compressed
        bed.pa(0x200, 0x3000, false); // FRCD1, no new event (PPF already set)
        bed.pa(0x300, 0x4000, false); // no free register: PFO
        assertThat(bed.unit.faultLog()).extracting(FaultRecord::disposition).containsExactly(
                FaultRecord.Disposition.RECORDED, FaultRecord.Disposition.COMPRESSED,
                FaultRecord.Disposition.RECORDED, FaultRecord.Disposition.OVERFLOW);
        int fsts = bed.unit.read32(FSTS_REG);
        assertThat(fsts & FSTS_PPF).isNotZero();
        assertThat(fsts & FSTS_PFO).isNotZero();
        assertThat((fsts & FSTS_FRI_MASK) >>> FSTS_FRI_SHIFT).isZero();
        assertThat(events.get()).isEqualTo(1);
        assertThat(bed.unit.read64(FRCD_REG_BASE + 8) & 0xFFFF).isEqualTo(0x100);
        assertThat(bed.unit.read64(FRCD_REG_BASE + 24) & 0xFFFF).isEqualTo(0x200);

        // Linux dmar_fault: read the upper dword, clear F with a 32-bit write, then clear PFO.
        for (int i = 0; i < 2; i++) {
            int upper = bed.unit.read32(FRCD_REG_BASE + 16 * i + 12);
            assertThat(upper & 0x8000_0000).isNotZero();
            assertThat(upper & 0xFF).as("FR in the upper dword").isEqualTo(FaultReason.ROOT_ENTRY_NOT_PRESENT);
            bed.unit.write32(FRCD_REG_BASE + 16 * i + 12, 0x8000_0000);
        }
        assertThat(bed.unit.read32(FSTS_REG) & FSTS_PPF).isZero();
        bed.pa(0x400, 0x5000, false);
        assertThat(bed.unit.faultLog().get(4).disposition()).as("PFO still set").isEqualTo(
                FaultRecord.Disposition.OVERFLOW);
        bed.unit.write32(FSTS_REG, FSTS_PFO | FSTS_PPF);
        bed.pa(0x400, 0x5000, false);
        assertThat(bed.unit.faultLog().get(5).disposition()).isEqualTo(FaultRecord.Disposition.RECORDED);
        assertThat((bed.unit.read32(FSTS_REG) & FSTS_FRI_MASK) >>> FSTS_FRI_SHIFT).as("next register wraps to 0")
                .isZero();
        assertThat(events.get()).isEqualTo(2);
    }

    @Test
    @DisplayName("a masked fault event stays pending (FECTL.IP) and is sent when software unmasks")
    void maskedFaultEvent() {
        VtdTestBed bed = VtdTestBed.legacy(48);
        AtomicInteger events = new AtomicInteger();
        bed.unit.setFaultEventHandler(events::incrementAndGet);
        assertThat(bed.unit.read32(FECTL_REG) & ECTL_IM).as("masked at reset").isNotZero();
        bed.pa(0x100, 0x1000, false);
        assertThat(events.get()).isZero();
        assertThat(bed.unit.read32(FECTL_REG) & ECTL_IP).isNotZero();
        bed.unit.write32(FECTL_REG, 0);
        assertThat(events.get()).isEqualTo(1);
        assertThat(bed.unit.read32(FECTL_REG)).isZero();
    }
}
