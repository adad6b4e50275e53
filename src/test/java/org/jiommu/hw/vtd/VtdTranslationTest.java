package org.jiommu.hw.vtd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.jiommu.hw.vtd.VtdTestEncoder.*;

import org.jiommu.bus.dma.DmaTranslator;
import org.jiommu.bus.dma.TranslationResult;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Successful translation paths: legacy and scalable mode, every PGTT, every width, ATS. */
class VtdTranslationTest {
    private static final int SID = 0x0210; // 02:02.0
    private static final int NP = DmaTranslator.NO_PASID;

    @ParameterizedTest(name = "legacy {0}-bit: 4 KiB, 2 MiB and 1 GiB pages at the top of the address space")
    @ValueSource(ints = {39, 48, 57})
    void legacyWidths(int width) {
        VtdTestBed bed = VtdTestBed.legacy(width);
        int aw = (width - 30) / 9;
        VtdTestBed.SlTable t = bed.new SlTable(aw + 2);
        long top = 1L << (width - 1);
        t.map(top + 0x5000, 0x8000_0000L, 12, true, true);
        t.map(top + 0x4000_0000L, 0x4000_0000L, 30, true, false);
        t.map(top + 0x20_0000L, 0x1_0020_0000L, 21, true, true);
        bed.setLegacyContext(SID, legacyContext(t.root, 0, aw, 7, false));

        TranslationResult r = bed.dma(SID, top + 0x5ABC, true);
        assertThat(r.faultCode).isZero();
        assertThat(r.pa).isEqualTo(0x8000_0ABCL);
        assertThat(r.pageSize).isEqualTo(0x1000);
        assertThat(r.readable && r.writable).isTrue();

        r = bed.dma(SID, top + 0x4123_4567L, false);
        assertThat(r.pa).isEqualTo(0x4123_4567L);
        assertThat(r.pageSize).isEqualTo(1L << 30);
        assertThat(r.writable).isFalse();

        assertThat(bed.pa(SID, top + 0x2F_FFF8L, true)).isEqualTo(0x1_002F_FFF8L);
        // Again, from the IOTLB this time, with the same answers.
        assertThat(bed.pa(SID, top + 0x5ABC, false)).isEqualTo(0x8000_0ABCL);
        assertThat(bed.pa(SID, top + 0x4123_4567L, false)).isEqualTo(0x4123_4567L);
        assertThat(bed.unit.stats().get("iotlb.hits")).isEqualTo(2);
        assertThat(bed.unit.stats().get("iotlb.misses")).isEqualTo(3);
        assertThat(bed.unit.stats().get("walks")).isEqualTo(3);
    }

    @Test
    @DisplayName("translation disabled (TES = 0): DMA is not remapped")
    void translationOff() {
        VtdTestBed bed = new VtdTestBed(VtdConfig.legacy(48));
        assertThat(bed.pa(SID, 0x1234_5678L, true)).isEqualTo(0x1234_5678L);
        assertThat(bed.unit.stats().get("translations.identity")).isEqualTo(1);
    }

    @Test
    @DisplayName("legacy TT=2 pass-through: output = input, nothing cached")
    void legacyPassThrough() {
        VtdTestBed bed = VtdTestBed.legacy(48);
        bed.setLegacyContext(SID, legacyContext(0, 2, 2, 1, false));
        assertThat(bed.pa(SID, 0x7_6543_2100L, true)).isEqualTo(0x7_6543_2100L);
        assertThat(bed.unit.iotlbEntries()).isEmpty();
    }

    @Test
    @DisplayName("legacy TT=1: ATS translation requests return the page and its permissions, never a permission fault")
    void legacyAts() {
        VtdTestBed bed = VtdTestBed.legacy(48);
        VtdTestBed.SlTable t = bed.new SlTable(4);
        t.map(0x10000, 0x5555_0000L, 12, true, false);
        bed.setLegacyContext(SID, legacyContext(t.root, 1, 2, 3, false));
        TranslationResult r = new TranslationResult();
        assertThat(bed.unit.translate(SID, NP, 0x10010, true, true, r)).isTrue();
        assertThat(r.pa).isEqualTo(0x5555_0010L);
        assertThat(r.readable).isTrue();
        assertThat(r.writable).isFalse();
        // Nothing mapped: an answer with R = W = 0, not a fault.
        assertThat(bed.unit.translate(SID, NP, 0x90000, false, true, r)).isTrue();
        assertThat(r.readable || r.writable).isFalse();
        assertThat(bed.unit.faultLog()).isEmpty();
        // Untranslated requests on the same context still work and still fault.
        assertThat(bed.pa(SID, 0x10010, false)).isEqualTo(0x5555_0010L);
        assertThat(bed.pa(SID, 0x10010, true)).isEqualTo(-FaultReason.WRITE);
    }

    @Test
    @DisplayName("devices in one domain share IOTLB entries: the IOTLB is tagged by domain id, not requester")
    void iotlbTaggedByDomain() {
        VtdTestBed bed = VtdTestBed.legacy(48);
        VtdTestBed.SlTable t = bed.new SlTable(4);
        long pte = t.map(0x3000, 0x6000_0000L, 12, true, true);
        bed.setLegacyContext(0x100, legacyContext(t.root, 0, 2, 9, false));
        bed.setLegacyContext(0x101, legacyContext(t.root, 0, 2, 9, false));
        bed.setLegacyContext(0x102, legacyContext(t.root, 0, 2, 10, false));
        assertThat(bed.pa(0x100, 0x3000, false)).isEqualTo(0x6000_0000L);
        bed.mem.writeLong(pte, 0);
        assertThat(bed.pa(0x101, 0x3000, false)).as("same DID, filled by the other device").isEqualTo(0x6000_0000L);
        assertThat(bed.pa(0x102, 0x3000, false)).as("other DID walks the cleared table").isEqualTo(-FaultReason.READ);
    }

    @ParameterizedTest(name = "scalable {0}-bit: second-level PASID entry, for RID_PASID and for a PASID")
    @ValueSource(ints = {39, 48, 57})
    void scalableSecondLevel(int width) {
        VtdTestBed bed = VtdTestBed.scalable(width);
        int aw = (width - 30) / 9;
        VtdTestBed.SlTable rid = bed.new SlTable(aw + 2);
        VtdTestBed.SlTable p = bed.new SlTable(aw + 2);
        long high = (1L << (width - 1)) | 0x7000;
        rid.map(high, 0x1_0000_0000L, 12, true, true);
        p.map(high, 0x2_0000_0000L, 12, true, false);
        long dir = bed.newPasidDir();
        bed.setPasidEntry(dir, 0, pasidEntrySecondLevel(rid.root, aw, 4, true));
        bed.setPasidEntry(dir, 0x345, pasidEntrySecondLevel(p.root, aw, 5, true));
        bed.setScalableContext(SID, scalableContext(dir, 0, false, false, 0));
        assertThat(bed.pa(SID, high + 8, true)).isEqualTo(0x1_0000_0008L);
        assertThat(bed.pa(SID, 0x345, high + 8, false)).isEqualTo(0x2_0000_0008L);
        assertThat(bed.pa(SID, 0x345, high + 8, true)).isEqualTo(-FaultReason.WRITE);
    }

    @Test
    @DisplayName("scalable: RID_PASID in the context entry selects the PASID entry of requests without PASID")
    void ridPasid() {
        VtdTestBed bed = VtdTestBed.scalable(48);
        VtdTestBed.SlTable t = bed.new SlTable(4);
        t.map(0x1000, 0x3_0000_0000L, 12, true, true);
        long dir = bed.newPasidDir();
        bed.setPasidEntry(dir, 0x77, pasidEntrySecondLevel(t.root, 2, 6, false));
        bed.setScalableContext(SID, scalableContext(dir, 0, false, false, 0x77));
        assertThat(bed.pa(SID, 0x1010, true)).isEqualTo(0x3_0000_0010L);
        // A fault on such a request reports no PASID (PP = 0): the request carried none.
        assertThat(bed.pa(SID, 0x9000, false)).isEqualTo(-FaultReason.READ);
        assertThat(bed.unit.faultLog().get(0).pasidPresent()).isFalse();
    }

    @Test
    @DisplayName("scalable: first-level 4-level walk sets A on every level and D on the leaf of a write")
    void firstLevel4() {
        VtdTestBed bed = VtdTestBed.scalable(48);
        VtdTestBed.FlTable t = bed.new FlTable(4);
        long leaf = t.map(0x7FFF_FFFF_F000L, 0x4_0000_0000L, 12, true);
        long big = t.map(0x4000_0000L, 0x8000_0000L, 21, false);
        long dir = bed.newPasidDir();
        bed.setPasidEntry(dir, 0x10, pasidEntryFirstLevel(t.root, 2, 11, false));
        bed.setScalableContext(SID, scalableContext(dir, 0, false, false, 0));
        assertThat(bed.pa(SID, 0x10, 0x7FFF_FFFF_F123L, false)).isEqualTo(0x4_0000_0123L);
        assertThat(bed.mem.readLong(leaf) & 0x60).as("A set, D not yet").isEqualTo(0x20);
        assertThat(bed.mem.readLong(t.root + 0xFF * 8) & 0x20).as("A in the PML4E").isEqualTo(0x20);
        assertThat(bed.pa(SID, 0x10, 0x7FFF_FFFF_F123L, true)).isEqualTo(0x4_0000_0123L);
        assertThat(bed.mem.readLong(leaf) & 0x60).as("the first write walks again and sets D").isEqualTo(0x60);
        assertThat(bed.pa(SID, 0x10, 0x4012_3456L, false)).isEqualTo(0x8012_3456L);
        assertThat(bed.pa(SID, 0x10, 0x4012_3456L, true)).isEqualTo(-FaultReason.SM_WRITE);
        assertThat(bed.mem.readLong(big) & 0x40).isZero();
    }

    @Test
    @DisplayName("scalable 57-bit: 5-level first-level table (FLPM = 1) with a canonical upper-half address")
    void firstLevel5() {
        VtdTestBed bed = VtdTestBed.scalable(57);
        VtdTestBed.FlTable t = bed.new FlTable(5);
        long iova = 0xFF12_3456_789A_B000L; // canonical for 57 bits
        t.map(iova, 0x1234_5000L, 12, true);
        long dir = bed.newPasidDir();
        bed.setPasidEntry(dir, 0x1, pasidEntryFirstLevel(t.root, 3, 2, true));
        bed.setScalableContext(SID, scalableContext(dir, 0, false, false, 0));
        assertThat(bed.pa(SID, 0x1, iova + 0x10, true)).isEqualTo(0x1234_5010L);
    }

    @Test
    @DisplayName("scalable pass-through PASID entry: identity with RW")
    void scalablePassThrough() {
        VtdTestBed bed = VtdTestBed.scalable(48);
        long dir = bed.newPasidDir();
        bed.setPasidEntry(dir, 0, pasidEntryPassThrough(2, 1));
        bed.setScalableContext(SID, scalableContext(dir, 0, false, false, 0));
        assertThat(bed.pa(SID, 0xABCD_E123L, true)).isEqualTo(0xABCD_E123L);
        assertThat(bed.unit.iotlbEntries()).isEmpty();
    }

    @Test
    @DisplayName("scalable nested: first-level tables and output are guest-physical, translated by the second level")
    void nested() {
        VtdTestBed bed = VtdTestBed.scalable(48);
        // Second level maps guest-physical [0, 64 MiB) to host [1 GiB, 1 GiB + 64 MiB), read-write.
        VtdTestBed.SlTable s2 = bed.new SlTable(4);
        long hostBase = 0x4000_0000L;
        for (long g = 0; g < 0x400_0000L; g += 0x20_0000L) {
            s2.map(g, hostBase + g, 21, true, true);
        }
        // First-level tables live at guest-physical addresses: write them at host = guest + 1 GiB.
        long flRoot = 0x10_0000L;
        long pdpt = 0x11_0000L;
        long pd = 0x12_0000L;
        long pt = 0x13_0000L;
        long iova = 0x8765_4000L;
        bed.mem.writeLong(hostBase + flRoot + ((iova >>> 39) & 0x1FF) * 8, flPte(pdpt, true, true, false, false, false));
        bed.mem.writeLong(hostBase + pdpt + ((iova >>> 30) & 0x1FF) * 8, flPte(pd, true, true, false, false, false));
        bed.mem.writeLong(hostBase + pd + ((iova >>> 21) & 0x1FF) * 8, flPte(pt, true, true, false, false, false));
        bed.mem.writeLong(hostBase + pt + ((iova >>> 12) & 0x1FF) * 8, flPte(0x2AB_C000L, true, true, false, false, false));
        long dir = bed.newPasidDir();
        bed.setPasidEntry(dir, 0x42, pasidEntryNested(flRoot, s2.root, 2, 12));
        bed.setScalableContext(SID, scalableContext(dir, 0, false, false, 0));
        assertThat(bed.pa(SID, 0x42, iova + 0x321, true)).isEqualTo(hostBase + 0x2AB_C321L);
        // The A bit went into the guest table through its host address.
        assertThat(bed.mem.readLong(hostBase + pt + ((iova >>> 12) & 0x1FF) * 8) & 0x60).isEqualTo(0x60);
        // An output beyond the second-level mapping faults with a second-level reason.
        bed.mem.writeLong(hostBase + pt + (((iova + 0x1000) >>> 12) & 0x1FF) * 8,
                flPte(0x800_0000L, true, true, false, false, false));
        assertThat(bed.pa(SID, 0x42, iova + 0x1000, false)).isEqualTo(-FaultReason.READ);
    }

    @Test
    @DisplayName("scalable ATS needs DTE in the context entry and returns permissions")
    void scalableAts() {
        VtdTestBed bed = VtdTestBed.scalable(48);
        VtdTestBed.FlTable t = bed.new FlTable(4);
        t.map(0x20000, 0x7000_0000L, 12, false);
        long dir = bed.newPasidDir();
        bed.setPasidEntry(dir, 0x9, pasidEntryFirstLevel(t.root, 2, 3, false));
        bed.setScalableContext(SID, scalableContext(dir, 0, true, false, 0));
        TranslationResult r = new TranslationResult();
        assertThat(bed.unit.translate(SID, 0x9, 0x20000, true, true, r)).isTrue();
        assertThat(r.pa).isEqualTo(0x7000_0000L);
        assertThat(r.readable).isTrue();
        assertThat(r.writable).isFalse();
        bed.setScalableContext(SID + 1, scalableContext(dir, 0, false, false, 0));
        assertThat(bed.unit.translate(SID + 1, 0x9, 0x20000, false, true, r)).isFalse();
        assertThat(r.faultCode).isEqualTo(FaultReason.TRANSLATION_TYPE_BLOCKED);
    }

    @Test
    @DisplayName("probe walks memory without caching, recording faults or counting")
    void probe() {
        VtdTestBed bed = VtdTestBed.legacy(48);
        VtdTestBed.SlTable t = bed.new SlTable(4);
        long pte = t.map(0x5000, 0x6000_0000L, 12, true, true);
        bed.setLegacyContext(SID, legacyContext(t.root, 0, 2, 1, false));
        long before = bed.unit.stats().get("translations");
        TranslationResult r = new TranslationResult();
        assertThat(bed.unit.probe(SID, NP, 0x5004, true, r)).isTrue();
        assertThat(r.pa).isEqualTo(0x6000_0004L);
        assertThat(bed.unit.probe(SID, NP, 0x9000, false, r)).isFalse();
        assertThat(bed.unit.faultLog()).isEmpty();
        assertThat(bed.unit.iotlbEntries()).isEmpty();
        assertThat(bed.unit.contextCacheSize()).isZero();
        assertThat(bed.unit.stats().get("translations")).isEqualTo(before);
        // A filled IOTLB does not fool a probe: it reads the cleared entry.
        assertThat(bed.pa(SID, 0x5004, false)).isEqualTo(0x6000_0004L);
        bed.mem.writeLong(pte, 0);
        assertThat(bed.unit.probe(SID, NP, 0x5004, false, r)).isFalse();
        assertThat(bed.pa(SID, 0x5004, false)).isEqualTo(0x6000_0004L);
    }
}
