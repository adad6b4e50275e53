package org.jiommu.hw.vtd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.jiommu.hw.vtd.VtdTestEncoder.*;

import org.jiommu.hw.HwStats;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * The per-requester route memo of {@code VtdTranslation} (a requester whose context and PASID
 * entries hit in their caches skips those steps) must be invisible: after many requests, so
 * that every later one takes the memo, a rewritten entry is still used until exactly the
 * invalidation that drops it from its cache, and the counters are those of the full path.
 */
class VtdRouteMemoTest {
    private static final int SID = 0x0418;
    private static final int DID = 0x2A;
    private static final int WARM = 5;

    @Test
    @DisplayName("legacy: with the route in use a rewritten context entry stays in use until its context-cache "
            + "invalidation; counters as on the full path")
    void legacyRoute() {
        VtdTestBed bed = VtdTestBed.legacy(48);
        VtdTestBed.SlTable t1 = bed.new SlTable(4);
        VtdTestBed.SlTable t2 = bed.new SlTable(4);
        t1.map(0x1000, 0xA000_1000L, 12, true, true);
        t2.map(0x1000, 0xB000_1000L, 12, true, true);
        bed.setLegacyContext(SID, legacyContext(t1.root, 0, 2, DID, false));
        for (int i = 0; i < WARM; i++) {
            assertThat(bed.pa(SID, 0x1000, false)).isEqualTo(0xA000_1000L);
        }
        HwStats s = bed.unit.stats();
        assertThat(s.get("translations")).isEqualTo(WARM);
        assertThat(s.get("context-cache.misses")).isEqualTo(1);
        assertThat(s.get("context-cache.hits")).isEqualTo(WARM - 1);
        assertThat(s.get("iotlb.hits")).isEqualTo(WARM - 1);
        // 48-bit AGAW: an address beyond it faults on the memo path as on the full one.
        assertThat(bed.pa(SID, 1L << 48, false)).isEqualTo(-FaultReason.ADDRESS_BEYOND_MGAW);
        assertThat(s.get("context-cache.hits")).isEqualTo(WARM);

        bed.setLegacyContext(SID, legacyContext(t2.root, 0, 2, DID + 1, false));
        bed.submit(iotlbGlobal());
        assertThat(bed.pa(SID, 0x1000, false)).as("stale context entry, IOTLB emptied").isEqualTo(0xA000_1000L);
        bed.submit(ccDevice(SID + 8, DID, 0), ccDomain(DID + 1), iotlbGlobal());
        assertThat(bed.pa(SID, 0x1000, false)).as("invalidations of others leave it").isEqualTo(0xA000_1000L);
        bed.submit(ccDevice(SID, DID, 0));
        assertThat(bed.pa(SID, 0x1000, false)).as("its own invalidation").isEqualTo(0xB000_1000L);
        assertThat(bed.pa(SID, 0x1000, false)).isEqualTo(0xB000_1000L);
        assertThat(s.get("context-cache.misses")).isEqualTo(2);
        assertThat(s.get("context-cache.hits")).isEqualTo(s.get("translations") - 2);
    }

    @Test
    @DisplayName("scalable: with the route in use a rewritten PASID entry stays in use until its PASID-cache "
            + "invalidation; two PASIDs of one device keep separate routes")
    void scalableRoute() {
        VtdTestBed bed = VtdTestBed.scalable(48);
        VtdTestBed.SlTable t1 = bed.new SlTable(4);
        VtdTestBed.SlTable t2 = bed.new SlTable(4);
        t1.map(0x1000, 0xA000_1000L, 12, true, true);
        t2.map(0x1000, 0xB000_1000L, 12, true, true);
        long dir = bed.newPasidDir();
        bed.setPasidEntry(dir, 0x20, pasidEntrySecondLevel(t1.root, 2, DID, false));
        bed.setPasidEntry(dir, 0x21, pasidEntrySecondLevel(t2.root, 2, DID + 1, false));
        bed.setScalableContext(SID, scalableContext(dir, 0, false, false, 0));
        for (int i = 0; i < WARM; i++) {
            assertThat(bed.pa(SID, 0x20, 0x1000, false)).isEqualTo(0xA000_1000L);
            assertThat(bed.pa(SID, 0x21, 0x1000, false)).isEqualTo(0xB000_1000L);
        }
        HwStats s = bed.unit.stats();
        assertThat(s.get("pasid-cache.misses")).isEqualTo(2);
        assertThat(s.get("pasid-cache.hits")).isEqualTo(2 * WARM - 2);
        assertThat(s.get("context-cache.hits")).isEqualTo(2 * WARM - 1);

        bed.setPasidEntry(dir, 0x20, pasidEntrySecondLevel(t2.root, 2, DID, false));
        bed.submit(piotlbPasid(DID, 0x20));
        assertThat(bed.pa(SID, 0x20, 0x1000, false)).as("stale PASID entry").isEqualTo(0xA000_1000L);
        bed.submit(pasidCache(1, DID, 0x21), pasidCache(1, DID + 1, 0x20), piotlbPasid(DID, 0x20));
        assertThat(bed.pa(SID, 0x20, 0x1000, false)).as("other PASID / other DID").isEqualTo(0xA000_1000L);
        bed.submit(pasidCache(1, DID, 0x20), piotlbPasid(DID, 0x20));
        assertThat(bed.pa(SID, 0x20, 0x1000, false)).as("its own invalidation").isEqualTo(0xB000_1000L);
        assertThat(bed.pa(SID, 0x21, 0x1000, false)).isEqualTo(0xB000_1000L);
        assertThat(s.get("pasid-cache.hits") + s.get("pasid-cache.misses")).isEqualTo(s.get("translations"));
    }
}
