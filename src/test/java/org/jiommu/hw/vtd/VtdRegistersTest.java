package org.jiommu.hw.vtd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.jiommu.hw.vtd.VtdRegisters.*;
import static org.jiommu.hw.vtd.VtdTestEncoder.*;

import org.jiommu.bus.dma.DmaTranslator;
import org.jiommu.bus.dma.TranslationResult;
import org.jiommu.mem.PhysicalMemory;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** Capability values, register access rules and the global-command sequencing. */
class VtdRegistersTest {
    private static final int SID = 0x0100;

    @Test
    @DisplayName("CAP of a legacy 39-bit unit: ND 6, SAGAW 39-bit, MGAW 38, FRO 0x22, SLLPS 2M+1G, PSI, NFR 7, MAMV 18, DWD, DRD")
    void legacyCap() {
        VtdUnit u = new VtdUnit(VtdConfig.legacy(39), new PhysicalMemory());
        long expected = 6L | 0b00010L << 8 | 38L << 16 | 0x22L << 24 | 0b11L << 34 | 1L << 39 | 7L << 40
                | 18L << 48 | 1L << 54 | 1L << 55;
        assertThat(u.read64(CAP_REG)).isEqualTo(expected);
        // No scalable-mode, PASID, first-level or nesting bits in ECAP.
        long ecap = u.read64(ECAP_REG);
        assertThat(ecap).isEqualTo(1L | 1L << 1 | 1L << 2 | 1L << 6 | 1L << 7 | 0x20L << 8);
        assertThat(u.read32(VER_REG)).isEqualTo(0x10);
        assertThat(u.read32(CAP_REG + 4)).isEqualTo((int) (expected >>> 32));
    }

    @Test
    @DisplayName("CAP/ECAP of a scalable 57-bit unit: SAGAW 39/48/57, FL1GP, FL5LP, SMTS, PSS 19, PASID, NEST, SLTS, FLTS, PRS, PDS")
    void scalableCap() {
        VtdUnit u = new VtdUnit(VtdConfig.scalable(57), new PhysicalMemory());
        long cap = u.read64(CAP_REG);
        assertThat(cap >>> 8 & 0x1F).isEqualTo(0b01110);
        assertThat(cap >>> 16 & 0x3F).isEqualTo(56);
        assertThat(cap & (1L << 56 | 1L << 60)).isEqualTo(1L << 56 | 1L << 60);
        long ecap = u.read64(ECAP_REG);
        assertThat(ecap >>> 35 & 0x1F).isEqualTo(19);
        for (int bit : new int[] {0, 1, 2, 6, 7, 26, 29, 40, 42, 43, 46, 47, 48, 49}) {
            assertThat(ecap & 1L << bit).as("ECAP bit %d", bit).isNotZero();
        }
        for (int bit : new int[] {3, 31, 45}) {
            assertThat(ecap & 1L << bit).as("ECAP bit %d (not implemented)", bit).isZero();
        }
        assertThat(u.read32(VER_REG)).isEqualTo(0x30);
    }

    @Test
    @DisplayName("CAP.ND 2 (8-bit domain ids): DID bits above the width are reserved in a context entry")
    void narrowDomainIds() {
        VtdTestBed bed = new VtdTestBed(VtdConfig.builder().scalableMode(false).numberOfDomainsField(2).build())
                .boot();
        assertThat(bed.unit.read64(CAP_REG) & 7).isEqualTo(2);
        VtdTestBed.SlTable t = bed.new SlTable(4);
        t.map(0x1000, 0x4000_1000L, 12, true, true);
        bed.setLegacyContext(SID, legacyContext(t.root, 0, 2, 0xFF, false));
        bed.setLegacyContext(SID + 1, legacyContext(t.root, 0, 2, 0x100, false));
        assertThat(bed.pa(SID, 0x1000, false)).isEqualTo(0x4000_1000L);
        assertThat(bed.pa(SID + 1, 0x1000, false)).isEqualTo(-FaultReason.CONTEXT_ENTRY_RESERVED);
    }

    @Test
    @DisplayName("GCMD: TE before a root table pointer is ignored with a warning; SRTP then TE works; TE off stops remapping")
    void gcmdSequencing() {
        VtdTestBed bed = new VtdTestBed(VtdConfig.legacy(48));
        bed.rootTable = bed.allocPage();
        bed.unit.write32(GCMD_REG, GCMD_TE);
        assertThat(bed.unit.read32(GSTS_REG)).isZero();
        assertThat(bed.warnings).anyMatch(w -> w.contains("root table pointer"));
        assertThat(bed.pa(SID, 0x1234, false)).isEqualTo(0x1234);

        bed.unit.write64(RTADDR_REG, bed.rootTable | 0x3FF); // bits 9:0 are RsvdZ
        assertThat(bed.unit.read64(RTADDR_REG)).isEqualTo(bed.rootTable);
        bed.unit.write32(GCMD_REG, GCMD_SRTP);
        assertThat(bed.unit.read32(GSTS_REG)).isEqualTo(GSTS_RTPS);
        bed.unit.write32(GCMD_REG, GCMD_TE);
        assertThat(bed.unit.read32(GSTS_REG) & GSTS_TES).isNotZero();
        assertThat(bed.pa(SID, 0x1234, false)).isEqualTo(-FaultReason.ROOT_ENTRY_NOT_PRESENT);
        assertThat(bed.unit.read32(GCMD_REG)).as("GCMD is write-only").isZero();
        bed.unit.write32(GCMD_REG, 0);
        assertThat(bed.unit.read32(GSTS_REG) & GSTS_TES).isZero();
        assertThat(bed.pa(SID, 0x1234, false)).isEqualTo(0x1234);
        assertThat(bed.unit.stats().get("programming-errors")).isEqualTo(1);
    }

    @Test
    @DisplayName("SRTP with a new root table while translating switches tables (after the driver's global invalidations)")
    void switchRootTable() {
        VtdTestBed bed = VtdTestBed.legacy(48);
        VtdTestBed.SlTable t = bed.new SlTable(4);
        t.map(0x1000, 0x4000_1000L, 12, true, true);
        bed.setLegacyContext(SID, legacyContext(t.root, 0, 2, 1, false));
        assertThat(bed.pa(SID, 0x1000, false)).isEqualTo(0x4000_1000L);
        long oldRoot = bed.rootTable;
        bed.rootTable = bed.allocPage();
        bed.unit.write64(RTADDR_REG, bed.rootTable);
        bed.unit.write32(GCMD_REG, bed.persistent() | GCMD_SRTP);
        assertThat(bed.pa(SID, 0x1000, false)).as("cached context and IOTLB").isEqualTo(0x4000_1000L);
        bed.submit(ccGlobal(), iotlbGlobal());
        assertThat(bed.pa(SID, 0x1000, false)).isEqualTo(-FaultReason.ROOT_ENTRY_NOT_PRESENT);
        assertThat(oldRoot).isNotEqualTo(bed.rootTable);
    }

    @Test
    @DisplayName("QIE: enabling resets IQH; IQA is frozen while enabled; disabling with work pending warns")
    void queueEnable() {
        VtdTestBed bed = new VtdTestBed(VtdConfig.builder().scalableMode(false).deferredInvalidation(true).build());
        long q = bed.allocPage();
        bed.unit.write64(IQA_REG, q | 0x7F8 | 1); // bits 10:3 are reserved; QS 1 = two pages
        assertThat(bed.unit.read64(IQA_REG)).isEqualTo(q | 1);
        bed.unit.write32(GCMD_REG, GCMD_QIE);
        assertThat(bed.unit.read32(GSTS_REG)).isEqualTo(GSTS_QIES);
        assertThat(bed.unit.read64(IQH_REG)).isZero();
        bed.unit.write64(IQA_REG, bed.allocPage());
        assertThat(bed.unit.read64(IQA_REG)).isEqualTo(q | 1);
        assertThat(bed.warnings).anyMatch(w -> w.contains("IQA written while"));
        bed.mem.writeLong(q + 0x1F0 * 16, iotlbGlobal()[0]);
        bed.unit.write64(IQT_REG, 0x1F0L << 4); // within the 512-entry queue of QS 1
        assertThat(bed.unit.read32(FSTS_REG) & FSTS_IQE).isZero();
        bed.unit.write32(GCMD_REG, 0);
        assertThat(bed.warnings).anyMatch(w -> w.contains("pending"));
        assertThat(bed.unit.read32(GSTS_REG) & GSTS_QIES).isZero();
        bed.unit.write32(GCMD_REG, GCMD_QIE);
        assertThat(bed.unit.read64(IQH_REG)).isZero();
    }

    @Test
    @DisplayName("IQT: beyond the queue -> IQE with IQEI 1; bit 4 set in a 256-bit queue -> IQE with IQEI 6")
    void tailChecks() {
        VtdTestBed legacy = VtdTestBed.legacy(48);
        legacy.unit.write64(IQT_REG, 256L << 4); // QS 0: 256 entries of 128 bits; masked to the 15-bit field
        legacy.unit.write64(IQT_REG, 0x7FFF0L);
        assertThat(legacy.unit.read64(IQERCD_REG) & 0xF).isEqualTo(IQEI_INVALID_TAIL);
        VtdTestBed sm = VtdTestBed.scalable(48);
        sm.unit.write64(IQT_REG, (sm.tail() << 5) | 0x10);
        assertThat(sm.unit.read32(FSTS_REG) & FSTS_IQE).isNotZero();
        assertThat(sm.unit.read64(IQERCD_REG) & 0xF).isEqualTo(IQEI_TAIL_MISALIGNED);
    }

    @Test
    @DisplayName("register access: widths are enforced, reserved offsets read 0 and ignore writes, "
            + "unsupported GCMD commands warn")
    void registerAccess() {
        VtdTestBed bed = new VtdTestBed(VtdConfig.legacy(48));
        assertThatThrownBy(() -> bed.unit.read64(GSTS_REG)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> bed.unit.write32(RTADDR_REG, 1)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> bed.unit.read32(0x1000)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> bed.unit.read32(0x3)).isInstanceOf(IllegalArgumentException.class);
        assertThat(bed.unit.read32(0x64)).isZero(); // PMEN: not implemented
        bed.unit.write32(0x64, 1);
        assertThat(bed.unit.read32(0x64)).isZero();
        bed.unit.write64(CAP_REG, 0);
        assertThat(bed.unit.read64(CAP_REG)).isEqualTo(bed.unit.config().capability());
        bed.unit.write32(GCMD_REG, GCMD_IRE);
        assertThat(bed.unit.read32(GSTS_REG)).isZero();
        assertThat(bed.warnings).anyMatch(w -> w.contains("interrupt remapping"));
        bed.unit.write32(FEDATA_REG, 0x1234_5678);
        assertThat(bed.unit.read32(FEDATA_REG)).isEqualTo(0x5678);
    }

    @Test
    @DisplayName("requests: the source id must be 16-bit and the PASID 20-bit")
    void requestValidation() {
        VtdUnit u = new VtdUnit(VtdConfig.legacy(48), new PhysicalMemory());
        TranslationResult r = new TranslationResult();
        assertThatThrownBy(() -> u.translate(0x10000, DmaTranslator.NO_PASID, 0, false, false, r))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("0x10000");
        assertThatThrownBy(() -> u.translate(1, 0x100000, 0, false, false, r))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> u.translate(1, -2, 0, false, false, r))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    @DisplayName("config validation names the unit and the rule")
    void configValidation() {
        assertThatThrownBy(() -> VtdConfig.builder().name("dmar3").addressWidth(32).build())
                .hasMessageContaining("dmar3").hasMessageContaining("MGAW");
        assertThatThrownBy(() -> VtdConfig.builder().addressWidth(48).sagaw(0b01000).build())
                .hasMessageContaining("wider than MGAW");
        assertThatThrownBy(() -> VtdConfig.builder().pasidBits(21).build()).hasMessageContaining("PASID width");
        assertThatThrownBy(() -> VtdConfig.builder().scalableMode(false).secondLevel(false).build())
                .hasMessageContaining("legacy mode");
        VtdConfig c = VtdConfig.scalable(57).toBuilder().name("dmar9").build();
        assertThat(c.capability()).isEqualTo(VtdConfig.scalable(57).capability());
        assertThat(c.toString()).contains("dmar9").contains("scalable");
    }
}
