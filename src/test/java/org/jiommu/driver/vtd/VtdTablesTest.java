package org.jiommu.driver.vtd;

import static org.assertj.core.api.Assertions.assertThat;

import org.jiommu.base.Prot;
import org.jiommu.core.IommuGroup;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.hw.vtd.ContextEntry;
import org.jiommu.hw.vtd.PasidEntry;
import org.jiommu.hw.vtd.ScalableContextEntry;
import org.jiommu.hw.vtd.VtdTables;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@link VtdTables}, the decoders of root, context and PASID entries every reader outside the
 * unit uses (I7, hw_dump, the stress plant): what they find is what the driver programmed, and
 * where they find a PASID entry is where the fixture's own independent walk finds it.
 */
class VtdTablesTest {
    @ParameterizedTest(name = "scalable {0}")
    @ValueSource(booleans = {false, true})
    @DisplayName("the entry a device's requests without PASID walk points at its domain's table with its DID")
    void ridEntryIsTheDomains(boolean scalable) {
        VtdFixture f = VtdFixture.secondStage(scalable, 48);
        f.hotplug(f.nic, f.disk);
        VtdDomain d = (VtdDomain) f.domain(f.nic);
        VtdTables t = VtdTables.of(f.unit().unit(), f.p.memory());
        assertThat(t.scalable()).isEqualTo(scalable);
        int rid = f.nic.requesterId();
        if (!scalable) {
            ContextEntry ce = t.legacyContext(rid);
            assertThat(ce.present()).isTrue();
            assertThat(ce.secondLevelPointer()).isEqualTo(d.pageTable().root());
            assertThat(ce.domainId()).isEqualTo(d.domainId(f.unit()));
            return;
        }
        ScalableContextEntry ctx = t.scalableContext(rid);
        assertThat(ctx.present()).isTrue();
        PasidEntry pe = t.pasidEntry(ctx, ctx.ridPasid());
        assertThat(pe.present()).isTrue();
        assertThat(pe.pgtt()).isEqualTo(PasidEntry.PGTT_SECOND_LEVEL);
        assertThat(pe.secondLevelPointer()).isEqualTo(d.pageTable().root());
        assertThat(pe.domainId()).isEqualTo(d.domainId(f.unit()));
        assertThat(t.pasidEntryAddress(ctx, ctx.ridPasid())).isEqualTo(f.pasidEntryAddress(rid, ctx.ridPasid()));
    }

    @Test
    @DisplayName("a PASID attached later is decoded where the fixture's walk finds it; a PASID beyond the directory has no entry")
    void pasidEntries() {
        VtdFixture f = VtdFixture.secondStage(true, 48);
        f.hotplug(f.nic);
        IommuGroup g = f.core().groupGet(f.nic);
        f.core().groupClaimDmaOwner(g, "vfio");
        IommuDomain d = f.core().pagingDomainAlloc(f.nic);
        f.core().map(d, 0, 0x2000_0000L, 0x1000, Prot.RW);
        f.core().attachDevicePasid(d, f.nic, 70);
        VtdTables t = VtdTables.of(f.unit().unit(), f.p.memory());
        ScalableContextEntry ctx = t.scalableContext(f.nic.requesterId());
        long a = t.pasidEntryAddress(ctx, 70);
        assertThat(a).isPositive().isEqualTo(f.pasidEntryAddress(f.nic.requesterId(), 70));
        PasidEntry pe = t.pasidEntryAt(a);
        assertThat(pe.present()).isTrue();
        assertThat(pe.secondLevelPointer()).isEqualTo(((VtdDomain) d).pageTable().root());
        assertThat(t.pasidEntry(ctx, 71).present()).isFalse();
        int beyond = ctx.pasidDirectoryEntries() * VtdTables.PASIDS_PER_TABLE;
        assertThat(t.pasidEntryAddress(ctx, beyond)).isEqualTo(-1);
        f.core().detachDevicePasid(d, f.nic, 70);
        assertThat(t.pasidEntryAt(a).present()).isFalse();
        f.core().groupReleaseDmaOwner(g);
        f.core().domainFree(d);
    }

    @Test
    @DisplayName("nextPresentPasidDir finds exactly the directory entries with P set, in order, as decoding each one does")
    void nextPresentPasidDir() {
        VtdFixture f = VtdFixture.secondStage(true, 48);
        f.hotplug(f.nic);
        IommuGroup g = f.core().groupGet(f.nic);
        f.core().groupClaimDmaOwner(g, "vfio");
        IommuDomain d = f.core().pagingDomainAlloc(f.nic);
        int[] pasids = {70, 64 * 9 + 3, 64 * 700};
        VtdTables t = VtdTables.of(f.unit().unit(), f.p.memory());
        ScalableContextEntry ctx = t.scalableContext(f.nic.requesterId());
        for (int p : pasids) {
            if (p < ctx.pasidDirectoryEntries() * VtdTables.PASIDS_PER_TABLE) {
                f.core().attachDevicePasid(d, f.nic, p);
            }
        }
        java.util.List<Integer> decoded = new java.util.ArrayList<>();
        for (int di = 0; di < ctx.pasidDirectoryEntries(); di++) {
            if (t.pasidDirEntry(ctx, di).present()) {
                decoded.add(di);
            }
        }
        java.util.List<Integer> skipped = new java.util.ArrayList<>();
        for (int di = t.nextPresentPasidDir(ctx, 0); di < ctx.pasidDirectoryEntries();
                di = t.nextPresentPasidDir(ctx, di + 1)) {
            skipped.add(di);
        }
        assertThat(skipped).isEqualTo(decoded).contains(1, 9); // PASIDs 70 and 579 (RID_PASID's table too)
        assertThat(t.nextPresentPasidDir(ctx, ctx.pasidDirectoryEntries())).isEqualTo(ctx.pasidDirectoryEntries());
    }

    @Test
    @DisplayName("a bus no device was probed on has no root entry: no context entry address")
    void absentBus() {
        VtdFixture f = VtdFixture.secondStage(true, 48);
        f.hotplug(f.nic);
        VtdTables t = VtdTables.of(f.unit().unit(), f.p.memory());
        assertThat(t.rootEntry(0x7f).present()).isFalse();
        assertThat(t.contextEntryAddress(0x7f << 8)).isEqualTo(-1);
        assertThat(t.scalableContext(0x7f << 8)).isNull();
    }
}
