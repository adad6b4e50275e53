package org.jiommu.driver.vtd;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** The driver's encoders against the HARDWARE.md 7.3 vectors (C3-C23). */
class VtdEncoderVectorsTest {
    @Test
    @DisplayName("C3 legacy context: SLPT 0x1234_5000, TT 0, AW 2, DID 1")
    void c3() {
        assertThat(VtdEncoder.contextEntry(VtdEncoder.TT_MULTI_LEVEL, 0x1234_5000L, 2, 1, true))
                .containsExactly(0x1234_5001L, 0x102L);
    }

    @Test
    @DisplayName("C4 legacy pass-through context, DID 1, AW 2")
    void c4() {
        assertThat(VtdEncoder.contextEntry(VtdEncoder.TT_PASS_THROUGH, 0, 2, 1, true)).containsExactly(0x9L, 0x102L);
    }

    @Test
    @DisplayName("C5 scalable context: PASID dir 0x2222_2000, PDTS 7, with and without DTE")
    void c5() {
        assertThat(VtdEncoder.scalableContextEntry(0x2222_2000L, 7, 0, true, false, false, true))
                .containsExactly(0x2222_2E05L, 0L, 0L, 0L);
        assertThat(VtdEncoder.scalableContextEntry(0x2222_2000L, 7, 0, false, false, false, true))
                .containsExactly(0x2222_2E01L, 0L, 0L, 0L);
    }

    @Test
    @DisplayName("C5 PDTS from the directory size (context_get_sm_pds)")
    void pdts() {
        assertThat(VtdEncoder.pdtsFor(1 << 20)).isEqualTo(7);
        assertThat(VtdEncoder.pdtsFor(1 << 15)).isEqualTo(2);
        assertThat(VtdEncoder.pdtsFor(1 << 13)).isEqualTo(0);
    }

    @Test
    @DisplayName("C6 PASID 0x12345: directory index 0x48D, table index 0x5")
    void c6() {
        assertThat(VtdEncoder.pasidDirIndex(0x12345)).isEqualTo(0x48D);
        assertThat(VtdEncoder.pasidTableIndex(0x12345)).isEqualTo(0x5);
    }

    @Test
    @DisplayName("C7 second-level PASID entry: SLPT 0x7654_3000, AW 2, DID 5, with and without PWSNP")
    void c7() {
        long[] e = VtdEncoder.secondLevelPasidEntry(0x7654_3000L, 2, 5, false, true);
        assertThat(e[0]).isEqualTo(0x7654_3089L);
        assertThat(e[1]).isEqualTo(0x5L);
        assertThat(VtdEncoder.secondLevelPasidEntry(0x7654_3000L, 2, 5, true, true)[1]).isEqualTo(0x80_0005L);
        assertThat(e).hasSize(8);
        assertThat(java.util.Arrays.copyOfRange(e, 2, 8)).containsOnly(0L);
    }

    @Test
    @DisplayName("C9 pass-through PASID entry, AW 2, FLPT_DEFAULT_DID")
    void c9() {
        long[] e = VtdEncoder.passThroughPasidEntry(2, VtdIommu.FLPT_DEFAULT_DID, false, true);
        assertThat(e[0]).isEqualTo(0x109L);
        assertThat(e[1]).isEqualTo(0x1L);
    }

    @Test
    @DisplayName("C12 context-cache invalidations: global, domain DID 5, device SID 0x100 DID 5")
    void c12() {
        assertThat(VtdEncoder.contextCacheInv(VtdEncoder.G_GLOBAL, 0, 0, 0)[0]).isEqualTo(0x11L);
        assertThat(VtdEncoder.contextCacheInv(VtdEncoder.G_DOMAIN, 5, 0, 0)[0]).isEqualTo(0x5_0021L);
        assertThat(VtdEncoder.contextCacheInv(VtdEncoder.G_DEVICE_OR_PAGE, 5, 0x100, 0)[0])
                .isEqualTo(0x0000_0100_0005_0031L);
    }

    @Test
    @DisplayName("C13 C14 IOTLB invalidations: global, DSI, PSI; PSI with drain")
    void c13c14() {
        assertThat(VtdEncoder.iotlbInv(VtdEncoder.G_GLOBAL, 0, 0, 0, false, false, false)[0]).isEqualTo(0x12L);
        assertThat(VtdEncoder.iotlbInv(VtdEncoder.G_DOMAIN, 5, 0, 0, false, false, false)[0]).isEqualTo(0x5_0022L);
        assertThat(VtdEncoder.iotlbInv(VtdEncoder.G_DEVICE_OR_PAGE, 5, 0x10000, 2, false, false, false))
                .containsExactly(0x5_0032L, 0x1_0002L);
        assertThat(VtdEncoder.iotlbInv(VtdEncoder.G_DEVICE_OR_PAGE, 5, 0x10000, 2, false, true, true)[0])
                .isEqualTo(0x5_00F2L);
    }

    @Test
    @DisplayName("C15 C16 device-TLB invalidations: 4 pages at 0x10000 QDEP 32, flush-all QDEP 8")
    void c15c16() {
        assertThat(VtdEncoder.deviceTlbInv(0x100, 0x100, 32, 0x10000, 2))
                .containsExactly(0x0100_0100_0000_0003L, 0x1_1001L);
        assertThat(VtdEncoder.deviceTlbInv(0x100, 0x100, 8, 0, VtdEncoder.DEVTLB_FLUSH_ALL))
                .containsExactly(0x0100_0100_0008_0003L, 0x7FFF_FFFF_FFFF_F001L);
        assertThat(VtdEncoder.deviceTlbInv(0x100, 0x100, 0, 0x5000, 0)[1]).isEqualTo(0x5000L);
    }

    @Test
    @DisplayName("C17 PASID-cache invalidations: PASID-selective, all PASIDs of DID 5, global")
    void c17() {
        assertThat(VtdEncoder.pasidCacheInv(VtdEncoder.PC_G_PASID, 5, 0x10)[0]).isEqualTo(0x10_0005_0017L);
        assertThat(VtdEncoder.pasidCacheInv(VtdEncoder.PC_G_DOMAIN, 5, 0)[0]).isEqualTo(0x5_0007L);
        assertThat(VtdEncoder.pasidCacheInv(VtdEncoder.PC_G_GLOBAL, 0, 0)[0]).isEqualTo(0x37L);
    }

    @Test
    @DisplayName("C18 PASID-based IOTLB: all in PASID, page-selective 3 pages at 0x40000")
    void c18() {
        assertThat(VtdEncoder.pasidIotlbInv(5, 0x10, 0, -1, false)).containsExactly(0x10_0005_0026L, 0L);
        assertThat(VtdEncoder.pasidIotlbInv(5, 0x10, 0x40000, 3, false)).containsExactly(0x10_0005_0036L, 0x4_0002L);
    }

    @Test
    @DisplayName("C19 C20 PASID-based device-TLB: 16 KiB at 0x10000, flush-all")
    void c19c20() {
        assertThat(VtdEncoder.pasidDeviceTlbInv(0x100, 0x100, 0x10, 8, 0x10000, 2))
                .containsExactly(0x0100_0010_0100_0088L, 0x1_1800L);
        assertThat(VtdEncoder.pasidDeviceTlbInv(0x100, 0x100, 0x10, 8, 0, VtdEncoder.DEVTLB_FLUSH_ALL)[1])
                .isEqualTo(0x7FFF_FFFF_FFFF_F800L);
    }

    @Test
    @DisplayName("C23 wait descriptor with status write, data 1")
    void c23() {
        assertThat(VtdEncoder.invWait(true, false, false, 1, 0x1234_5678L))
                .containsExactly(0x0000_0001_0000_0025L, 0x1234_5678L);
    }

    @Test
    @DisplayName("Root entries: legacy P and pointer; scalable halves present only with a table")
    void roots() {
        assertThat(VtdEncoder.rootEntry(0x5000)).containsExactly(0x5001L, 0L);
        assertThat(VtdEncoder.scalableRootEntry(0x5000, 0)).containsExactly(0x5001L, 0L);
        assertThat(VtdEncoder.scalableRootEntry(0, 0x6000)).containsExactly(0L, 0x6001L);
        assertThat(VtdEncoder.pasidDirEntry(0x7000)).isEqualTo(0x7001L);
    }
}
