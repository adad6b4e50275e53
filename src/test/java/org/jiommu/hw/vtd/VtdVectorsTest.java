package org.jiommu.hw.vtd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.jiommu.hw.vtd.VtdTestEncoder.*;

import org.jiommu.bus.dma.DmaTranslator;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * HARDWARE.md 7.3: the test encoder produces each vector, and the unit's decoders read each
 * vector back into the fields it was built from.
 */
class VtdVectorsTest {

    private static InvDescriptor decode(long q0, long q1) throws InvDescriptor.Invalid {
        return InvDescriptor.decode(q0, q1, 0, 0, true, VtdConfig.scalable(48));
    }

    @Test
    @DisplayName("C1 width -> agaw -> levels: 39/1/3, 48/2/4, 57/3/5")
    void c1() {
        assertThat(VtdConfig.agawToWidth(1)).isEqualTo(39);
        assertThat(VtdConfig.agawToWidth(2)).isEqualTo(48);
        assertThat(VtdConfig.agawToWidth(3)).isEqualTo(57);
        assertThat(new ContextEntry(1, 1).levels()).isEqualTo(3);
        assertThat(new ContextEntry(1, 2).levels()).isEqualTo(4);
        assertThat(new ContextEntry(1, 3).levels()).isEqualTo(5);
    }

    @Test
    @DisplayName("C2 the walker indexes iova 0x1234_5678_9000 with 0x024, 0x0D1, 0x0B3, 0x189")
    void c2() {
        VtdTestBed bed = VtdTestBed.legacy(48);
        long l4 = bed.allocPage();
        long l3 = bed.allocPage();
        long l2 = bed.allocPage();
        long l1 = bed.allocPage();
        // Tables built by hand at the vector's slots, not with the bed's own index arithmetic.
        bed.mem.writeLong(l4 + 0x024 * 8, slPte(l3, true, true, false, false));
        bed.mem.writeLong(l3 + 0x0D1 * 8, slPte(l2, true, true, false, false));
        bed.mem.writeLong(l2 + 0x0B3 * 8, slPte(l1, true, true, false, false));
        bed.mem.writeLong(l1 + 0x189 * 8, slPte(0x4444_5000L, true, false, false, false));
        bed.setLegacyContext(0x10, legacyContext(l4, 0, 2, 3, false));
        assertThat(bed.pa(0x10, 0x0000_1234_5678_9ABCL, false)).isEqualTo(0x4444_5ABCL);
    }

    @Test
    @DisplayName("C3 legacy context SLPT 0x1234_5000 TT 0 AW 2 DID 1: lo 0x1234_5001 hi 0x102")
    void c3() {
        assertThat(legacyContext(0x1234_5000L, 0, 2, 1, false)).containsExactly(0x1234_5001L, 0x102L);
        ContextEntry ce = new ContextEntry(0x1234_5001L, 0x102L);
        assertThat(ce.present()).isTrue();
        assertThat(ce.translationType()).isEqualTo(ContextEntry.TT_MULTI_LEVEL);
        assertThat(ce.secondLevelPointer()).isEqualTo(0x1234_5000L);
        assertThat(ce.addressWidth()).isEqualTo(2);
        assertThat(ce.domainId()).isEqualTo(1);
        assertThat(ce.fpd()).isFalse();
        assertThat(ce.reservedBitsSet(46, 16)).isFalse();
    }

    @Test
    @DisplayName("C4 legacy pass-through context DID 1 AW 2: lo 0x9 hi 0x102")
    void c4() {
        assertThat(legacyContext(0, 2, 2, 1, false)).containsExactly(0x9L, 0x102L);
        ContextEntry ce = new ContextEntry(0x9, 0x102);
        assertThat(ce.translationType()).isEqualTo(ContextEntry.TT_PASS_THROUGH);
        assertThat(ce.domainId()).isEqualTo(1);
    }

    @Test
    @DisplayName("C5 scalable context PASID dir 0x2222_2000 PDTS 7 DTE: lo 0x2222_2E05 (0x2222_2E01 without DTE)")
    void c5() {
        assertThat(scalableContext(0x2222_2000L, 7, true, false, 0)[0]).isEqualTo(0x2222_2E05L);
        assertThat(scalableContext(0x2222_2000L, 7, false, false, 0)[0]).isEqualTo(0x2222_2E01L);
        ScalableContextEntry sce = new ScalableContextEntry(0x2222_2E05L, 0, 0, 0);
        assertThat(sce.present()).isTrue();
        assertThat(sce.deviceTlbEnable()).isTrue();
        assertThat(sce.pasidDirectorySize()).isEqualTo(7);
        assertThat(sce.pasidDirectoryEntries()).isEqualTo(16384);
        assertThat(sce.pasidDirectoryPointer()).isEqualTo(0x2222_2000L);
        assertThat(sce.ridPasid()).isZero();
        assertThat(new ScalableContextEntry(0x2222_2E01L, 0, 0, 0).deviceTlbEnable()).isFalse();
    }

    @Test
    @DisplayName("C6 PASID 0x12345: directory index 0x48D, table index 0x5")
    void c6() {
        assertThat(pasidDirIndex(0x12345)).isEqualTo(0x48D);
        assertThat(pasidTableIndex(0x12345)).isEqualTo(0x5);
        assertThat(PasidDirEntry.index(0x12345)).isEqualTo(0x48D);
        assertThat(PasidEntry.index(0x12345)).isEqualTo(0x5);
    }

    @Test
    @DisplayName("C7 SL PASID entry SLPT 0x7654_3000 AW 2 DID 5: val0 0x7654_3089, val1 0x5 / 0x80_0005")
    void c7() {
        long[] e = pasidEntrySecondLevel(0x7654_3000L, 2, 5, false);
        assertThat(e[0]).isEqualTo(0x7654_3089L);
        assertThat(e[1]).isEqualTo(0x5L);
        assertThat(pasidEntrySecondLevel(0x7654_3000L, 2, 5, true)[1]).isEqualTo(0x80_0005L);
        PasidEntry pe = PasidEntry.of(pasidEntrySecondLevel(0x7654_3000L, 2, 5, true));
        assertThat(pe.present()).isTrue();
        assertThat(pe.pgtt()).isEqualTo(PasidEntry.PGTT_SECOND_LEVEL);
        assertThat(pe.addressWidth()).isEqualTo(2);
        assertThat(pe.secondLevelLevels()).isEqualTo(4);
        assertThat(pe.secondLevelPointer()).isEqualTo(0x7654_3000L);
        assertThat(pe.domainId()).isEqualTo(5);
        assertThat(pe.pageWalkSnoop()).isTrue();
        assertThat(pe.reservedBitsSet(46, 16)).isFalse();
    }

    @Test
    @DisplayName("C8 FL PASID entry 4-level AW 2 FLPT 0x1111_1000: val0 0x49, val2 0x1111_1000")
    void c8() {
        long[] e = pasidEntryFirstLevel(0x1111_1000L, 2, 0, false);
        assertThat(e[0]).isEqualTo(0x49L);
        assertThat(e[2]).isEqualTo(0x1111_1000L);
        PasidEntry pe = PasidEntry.of(e);
        assertThat(pe.pgtt()).isEqualTo(PasidEntry.PGTT_FIRST_LEVEL);
        assertThat(pe.firstLevelPagingMode()).isZero();
        assertThat(pe.firstLevelLevels()).isEqualTo(4);
        assertThat(pe.firstLevelPointer()).isEqualTo(0x1111_1000L);
        // The ~v6.5 kernel's NXE (bit 133) is accepted as ignored.
        assertThat(new PasidEntry(0x49, 0, 0x1111_1020L, 0, 0, 0, 0, 0).noExecuteEnable()).isTrue();
        assertThat(new PasidEntry(0x49, 0, 0x1111_1020L, 0, 0, 0, 0, 0).reservedBitsSet(46, 16)).isFalse();
        assertThat(PasidEntry.of(pasidEntryFirstLevel(0x1111_1000L, 2, 0, true)).firstLevelLevels()).isEqualTo(5);
    }

    @Test
    @DisplayName("C9 PT PASID entry AW 2: val0 0x109, val1 0x1 (FLPT_DEFAULT_DID)")
    void c9() {
        long[] e = pasidEntryPassThrough(2, 1);
        assertThat(e[0]).isEqualTo(0x109L);
        assertThat(e[1]).isEqualTo(0x1L);
        PasidEntry pe = PasidEntry.of(e);
        assertThat(pe.pgtt()).isEqualTo(PasidEntry.PGTT_PASS_THROUGH);
        assertThat(pe.domainId()).isEqualTo(1);
    }

    @Test
    @DisplayName("C10/C11 leaf encodings of the test encoder")
    void c10c11() {
        assertThat(slPte(0x8000_0000L, true, true, false, false)).isEqualTo(0x8000_0003L);
        assertThat(slPte(0x8000_0000L, true, true, false, true)).isEqualTo(0x8000_0803L);
        assertThat(slPte(0x8020_0000L, true, true, true, false)).isEqualTo(0x8020_0083L);
        assertThat(flPte(0x8000_0000L, true, true, true, true, false)).isEqualTo(0x8000_0067L);
        assertThat(flPte(0x8000_0000L, false, true, true, false, false)).isEqualTo(0x8000_0025L);
    }

    @Test
    @DisplayName("C12 context-cache invalidate global / domain 5 / device SID 0x100 DID 5 FM 0")
    void c12() throws Exception {
        assertThat(ccGlobal()[0]).isEqualTo(0x11L);
        assertThat(ccDomain(5)[0]).isEqualTo(0x5_0021L);
        assertThat(ccDevice(0x100, 5, 0)[0]).isEqualTo(0x0000_0100_0005_0031L);
        assertThat(decode(0x11, 0)).isEqualTo(new InvDescriptor.ContextCacheInv(1, 0, 0, 0));
        assertThat(decode(0x5_0021L, 0)).isEqualTo(new InvDescriptor.ContextCacheInv(2, 5, 0, 0));
        assertThat(decode(0x0000_0100_0005_0031L, 0)).isEqualTo(new InvDescriptor.ContextCacheInv(3, 5, 0x100, 0));
    }

    @Test
    @DisplayName("C13 IOTLB invalidate global / DSI DID 5 / PSI DID 5 addr 0x10000 AM 2")
    void c13() throws Exception {
        assertThat(iotlbGlobal()[0]).isEqualTo(0x12L);
        assertThat(iotlbDomain(5)[0]).isEqualTo(0x5_0022L);
        assertThat(iotlbPage(5, 0x10000, 2, false, false, false)).containsExactly(0x5_0032L, 0x1_0002L);
        assertThat(decode(0x12, 0)).isEqualTo(new InvDescriptor.IotlbInv(1, false, false, 0, 0, 0, false));
        assertThat(decode(0x5_0022L, 0)).isEqualTo(new InvDescriptor.IotlbInv(2, false, false, 5, 0, 0, false));
        assertThat(decode(0x5_0032L, 0x1_0002L))
                .isEqualTo(new InvDescriptor.IotlbInv(3, false, false, 5, 0x10000, 2, false));
    }

    @Test
    @DisplayName("C14 IOTLB PSI with read and write drain: qw0 0x5_00F2")
    void c14() throws Exception {
        assertThat(iotlbPage(5, 0x10000, 2, false, true, true)[0]).isEqualTo(0x5_00F2L);
        assertThat(decode(0x5_00F2L, 0x1_0002L))
                .isEqualTo(new InvDescriptor.IotlbInv(3, true, true, 5, 0x10000, 2, false));
    }

    @Test
    @DisplayName("C15 device-TLB SID 0x100 PFSID 0x100 QDEP 32 16 KiB at 0x10000")
    void c15() throws Exception {
        long[] d = devTlb(0x100, 0x100, 32, 0x10000, 2);
        assertThat(d).containsExactly(0x0100_0100_0000_0003L, 0x1_1001L);
        InvDescriptor.DeviceTlbInv inv = (InvDescriptor.DeviceTlbInv) decode(d[0], d[1]);
        assertThat(inv.sourceId()).isEqualTo(0x100);
        assertThat(inv.physicalFunctionSourceId()).isEqualTo(0x100);
        assertThat(inv.maxInvalidationsPending()).isZero();
        assertThat(inv.rangeStart()).isEqualTo(0x10000);
        assertThat(inv.rangeSize()).isEqualTo(0x4000);
    }

    @Test
    @DisplayName("C16 device-TLB flush-all (addr 0, mask 52, qdep 8)")
    void c16() throws Exception {
        long[] d = devTlb(0x100, 0x100, 8, 0, 52);
        assertThat(d).containsExactly(0x0100_0100_0008_0003L, 0x7FFF_FFFF_FFFF_F001L);
        InvDescriptor.DeviceTlbInv inv = (InvDescriptor.DeviceTlbInv) decode(d[0], d[1]);
        assertThat(inv.maxInvalidationsPending()).isEqualTo(8);
        assertThat(inv.rangeStart()).isZero();
        assertThat(inv.rangeSize()).isEqualTo(Long.MAX_VALUE);
    }

    @Test
    @DisplayName("C17 PASID-cache invalidate PASID-selective / all PASIDs of DID 5 / global")
    void c17() throws Exception {
        assertThat(pasidCache(1, 5, 0x10)[0]).isEqualTo(0x10_0005_0017L);
        assertThat(pasidCache(0, 5, 0)[0]).isEqualTo(0x5_0007L);
        assertThat(pasidCache(3, 0, 0)[0]).isEqualTo(0x37L);
        assertThat(decode(0x10_0005_0017L, 0)).isEqualTo(new InvDescriptor.PasidCacheInv(1, 5, 0x10));
        assertThat(decode(0x5_0007L, 0)).isEqualTo(new InvDescriptor.PasidCacheInv(0, 5, 0));
        assertThat(decode(0x37L, 0)).isEqualTo(new InvDescriptor.PasidCacheInv(3, 0, 0));
    }

    @Test
    @DisplayName("C18 PIOTLB all-in-PASID DID 5 PASID 0x10 / PSI 3 pages at 0x40000")
    void c18() throws Exception {
        assertThat(piotlbPasid(5, 0x10)).containsExactly(0x10_0005_0026L, 0L);
        assertThat(piotlbPages(5, 0x10, 0x40000, 3, false)).containsExactly(0x10_0005_0036L, 0x4_0002L);
        assertThat(decode(0x10_0005_0026L, 0)).isEqualTo(new InvDescriptor.PasidIotlbInv(2, 5, 0x10, 0, 0, false));
        assertThat(decode(0x10_0005_0036L, 0x4_0002L))
                .isEqualTo(new InvDescriptor.PasidIotlbInv(3, 5, 0x10, 0x40000, 2, false));
    }

    @Test
    @DisplayName("C19 PASID-based device-TLB SID 0x100 PFSID 0x100 PASID 0x10 QDEP 8, 16 KiB at 0x10000")
    void c19() throws Exception {
        long[] d = devPiotlb(0x100, 0x100, 0x10, 8, 0x10000, 2, false);
        assertThat(d).containsExactly(0x0100_0010_0100_0088L, 0x1_1800L);
        InvDescriptor.PasidDeviceTlbInv inv = (InvDescriptor.PasidDeviceTlbInv) decode(d[0], d[1]);
        assertThat(inv.sourceId()).isEqualTo(0x100);
        assertThat(inv.physicalFunctionSourceId()).isEqualTo(0x100);
        assertThat(inv.pasid()).isEqualTo(0x10);
        assertThat(inv.maxInvalidationsPending()).isEqualTo(8);
        assertThat(inv.global()).isFalse();
        assertThat(inv.rangeStart()).isEqualTo(0x10000);
        assertThat(inv.rangeSize()).isEqualTo(0x4000);
    }

    @Test
    @DisplayName("C20 PASID-based device-TLB flush-all: qw1 0x7FFF_FFFF_FFFF_F800")
    void c20() throws Exception {
        long[] d = devPiotlb(0x100, 0x100, 0x10, 8, 0, 52, false);
        assertThat(d[1]).isEqualTo(0x7FFF_FFFF_FFFF_F800L);
        InvDescriptor.PasidDeviceTlbInv inv = (InvDescriptor.PasidDeviceTlbInv) decode(d[0], d[1]);
        assertThat(inv.rangeStart()).isZero();
        assertThat(inv.rangeSize()).isEqualTo(Long.MAX_VALUE);
    }

    @Test
    @DisplayName("C21 FRCD of a read fault, SID 0x100, reason 0x6, page 0xDEAD_5000")
    void c21() {
        VtdTestBed bed = VtdTestBed.legacy(48);
        VtdTestBed.SlTable t = bed.new SlTable(4);
        t.map(0xDEAD_5000L, 0x9000_0000L, 12, false, true); // write-only page: a read faults 0x6
        bed.setLegacyContext(0x100, legacyContext(t.root, 0, 2, 1, false));
        assertThat(bed.pa(0x100, 0xDEAD_5123L, false)).isEqualTo(-0x6);
        assertThat(bed.unit.read64(VtdRegisters.FRCD_REG_BASE + 8)).isEqualTo(0xC000_0006_0000_0100L);
        assertThat(bed.unit.read64(VtdRegisters.FRCD_REG_BASE)).isEqualTo(0xDEAD_5000L);
        assertThat(frcdHi(0x100, 6, true, -1)).isEqualTo(0xC000_0006_0000_0100L);
        FaultRecord r = FaultRecord.decode(0xDEAD_5000L, 0xC000_0006_0000_0100L);
        assertThat(r.sourceId()).isEqualTo(0x100);
        assertThat(r.reason()).isEqualTo(6);
        assertThat(r.write()).isFalse();
        assertThat(r.pasid()).isEqualTo(DmaTranslator.NO_PASID);
    }

    @Test
    @DisplayName("C22 FRCD of a write fault with PASID 0x10, reason 0x59")
    void c22() {
        VtdTestBed bed = VtdTestBed.scalable(48);
        long dir = bed.newPasidDir();
        bed.setPasidEntry(dir, 0, pasidEntryPassThrough(2, 1)); // RID_PASID 0 is fine; PASID 0x10 is not
        bed.setScalableContext(0x100, scalableContext(dir, 0, false, false, 0));
        assertThat(bed.pa(0x100, 0x10, 0x4000, true)).isEqualTo(-0x59);
        assertThat(bed.unit.read64(VtdRegisters.FRCD_REG_BASE + 8)).isEqualTo(0x8000_1059_8000_0100L);
        assertThat(frcdHi(0x100, 0x59, false, 0x10)).isEqualTo(0x8000_1059_8000_0100L);
        FaultRecord r = FaultRecord.decode(0x4000, 0x8000_1059_8000_0100L);
        assertThat(r.pasid()).isEqualTo(0x10);
        assertThat(r.write()).isTrue();
        assertThat(r.reason()).isEqualTo(0x59);
    }

    @Test
    @DisplayName("C23 wait descriptor SW data 1: qw0 0x1_0000_0025, and the unit writes the status")
    void c23() throws Exception {
        long status = 0x2000_0008L;
        long[] d = invWait(true, false, false, 1, status);
        assertThat(d).containsExactly(0x0000_0001_0000_0025L, status);
        assertThat(decode(d[0], d[1])).isEqualTo(new InvDescriptor.InvWait(false, true, false, false, 1, status));
        VtdTestBed bed = VtdTestBed.legacy(48);
        bed.mem.writeLong(status, 0xAAAA_AAAA_0000_0000L);
        bed.post(d);
        // A 4-byte store: the dword beside it is untouched, also when the status is the upper dword.
        assertThat(bed.mem.readLong(status)).isEqualTo(0xAAAA_AAAA_0000_0001L);
        bed.post(invWait(true, false, false, 0x55, status + 4));
        assertThat(bed.mem.readLong(status)).isEqualTo(0x0000_0055_0000_0001L);
    }
}
