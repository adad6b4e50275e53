package org.jiommu.core;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.jiommu.base.Prot;
import org.jiommu.bus.PlatformDevice;
import org.jiommu.bus.dma.DmaEngine;
import org.jiommu.bus.dma.DmaResult;
import org.jiommu.bus.dma.DmaTranslator;
import org.jiommu.bus.dma.TranslationResult;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.core.spi.ResvRegion;
import org.jiommu.driver.mock.MockHardware;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** The mock's hardware: DMA is translated by what the driver wrote, walking the tables in memory. */
class MockHardwareTest {
    private static boolean dma(Fixture f, PlatformDevice d, long iova, boolean write, TranslationResult r) {
        int sid = f.m.sourceIds(d).get(0);
        return f.m.hardware().translate(sid, DmaTranslator.NO_PASID, iova, write, false, r);
    }

    @Test
    @DisplayName("DMA follows the domain: translated through the default domain's table, faults where unmapped")
    void translatesThroughTables() {
        Fixture f = new Fixture();
        PlatformDevice a = f.add("a");
        IommuDomain def = f.group(a).defaultDomain();
        TranslationResult r = new TranslationResult();
        assertThat(dma(f, a, 0x10_0000, false, r)).isFalse();
        assertThat(r.faultName).isEqualTo("not-present");
        f.core.map(def, 0x10_0000, 0x4000_0000L, 0x20_0000, Prot.RW);
        assertThat(dma(f, a, 0x10_0123, true, r)).isTrue();
        assertThat(r.pa).isEqualTo(0x4000_0123L);
        f.core.map(def, 0x40_0000, 0x8000_0000L, 0x1000, Prot.READ);
        assertThat(dma(f, a, 0x40_0010, false, r)).isTrue();
        assertThat(r.pa).isEqualTo(0x8000_0010L);
        assertThat(dma(f, a, 0x40_0010, true, r)).isFalse();
        assertThat(r.faultName).isEqualTo("permission");
        f.core.unmap(def, 0x10_0000, 0x20_0000);
        assertThat(dma(f, a, 0x10_0123, false, r)).isFalse();
        // a DMA engine moves bytes through it
        f.core.map(def, 0x10_0000, 0x4000_0000L, 0x2000, Prot.RW);
        DmaEngine eng = new DmaEngine(a, f.m.sourceIds(a).get(0), f.m.hardware(), f.mem);
        DmaResult res = eng.write(DmaTranslator.NO_PASID, 0x10_0ffe, new byte[] {1, 2, 3, 4}, 0, 4, new DmaResult());
        assertThat(res.ok()).isTrue();
        assertThat(f.mem.read(0x4000_0ffeL, 4)).containsExactly(1, 2, 3, 4);
    }

    @Test
    @DisplayName("DMA on blocked and identity domains; a released device stays blocked, an RMR device stays 1:1")
    void blockedIdentityRelease() {
        Fixture f = new Fixture();
        PlatformDevice a = f.add("a");
        PlatformDevice b = f.plat("b");
        f.m.setResvRegions(b, List.of(ResvRegion.direct(0x1000_0000L, 0x1000)));
        f.core.deviceAdd(b);
        TranslationResult r = new TranslationResult();
        f.core.groupClaimDmaOwner(f.group(a), "vfio");
        assertThat(dma(f, a, 0x1000, false, r)).isFalse();
        assertThat(r.faultName).isEqualTo("blocked");
        f.core.attachGroup(f.m.identityDomain(), f.group(a));
        assertThat(dma(f, a, 0x1234_5678L, true, r)).isTrue();
        assertThat(r.pa).isEqualTo(0x1234_5678L);
        f.core.groupReleaseDmaOwner(f.group(a));
        f.core.deviceDel(a);
        assertThat(dma(f, a, 0x1000, false, r)).isFalse();
        assertThat(r.faultName).isEqualTo("blocked");
        // b's RMR region is 1:1 in its default domain, and after release through IDENTITY (S18)
        assertThat(dma(f, b, 0x1000_0040L, false, r)).isTrue();
        assertThat(r.pa).isEqualTo(0x1000_0040L);
        f.core.deviceDel(b);
        assertThat(dma(f, b, 0x1000_0040L, false, r)).isTrue();
        assertThat(f.m.hardware().stream(f.m.sourceIds(b).get(0)).kind()).isEqualTo(MockHardware.Entry.Kind.BYPASS);
    }
}
