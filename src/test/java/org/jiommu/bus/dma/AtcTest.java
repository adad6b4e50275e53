package org.jiommu.bus.dma;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.HashSet;
import java.util.List;
import java.util.Set;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Label;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** The ATC: fills, hits, and invalidation by PASID and range (the only way entries leave). */
class AtcTest {
    private static final int NO_PASID = DmaTranslator.NO_PASID;
    private static final long K4 = 0x1000;
    private static final long M2 = 0x200000;

    private static TranslationResult tr(long pa, long size, boolean r, boolean w) {
        TranslationResult t = new TranslationResult();
        t.pa = pa;
        t.pageSize = size;
        t.readable = r;
        t.writable = w;
        return t;
    }

    private static Atc filled() {
        Atc atc = new Atc(64);
        for (int pasid : new int[] {NO_PASID, 1, 2}) {
            for (long page = 0; page < 8; page++) {
                atc.fill(pasid, page * K4, tr(0x100000 + page * K4 + (pasid + 1) * M2, K4, true, true));
            }
        }
        return atc;
    }

    @Test
    @DisplayName("fill then lookup: the page's offset is kept, a miss outside, permissions checked, counters move")
    void fillAndLookup() {
        Atc atc = new Atc(8);
        TranslationResult out = new TranslationResult();
        assertThat(atc.lookup(3, 0x5123, false, out)).isFalse();
        assertThat(atc.fill(3, 0x5123, tr(0x9a123, K4, true, false))).isTrue();
        assertThat(atc.lookup(3, 0x5fff, false, out)).isTrue();
        assertThat(out.pa).isEqualTo(0x9afff);
        assertThat(out.pageSize).isEqualTo(K4);
        assertThat(atc.lookup(3, 0x5000, true, out)).as("no write permission").isFalse();
        assertThat(atc.lookup(3, 0x6000, false, out)).isFalse();
        assertThat(atc.lookup(4, 0x5000, false, out)).as("other PASID").isFalse();
        assertThat(atc.lookup(NO_PASID, 0x5000, false, out)).as("no PASID").isFalse();
        assertThat(atc.stats()).isEqualTo(new Atc.Stats(1, 5, 1, 0, 0, 0));
    }

    @Test
    @DisplayName("a completion granting nothing, or with a bad page size, is not cached")
    void refusedFills() {
        Atc atc = new Atc(8);
        assertThat(atc.fill(1, 0, tr(0x1000, K4, false, false))).isFalse();
        assertThat(atc.fill(1, 0, tr(0x1000, 0x800, true, true))).isFalse();
        assertThat(atc.fill(1, 0, tr(0x1000, 0x3000, true, true))).isFalse();
        assertThat(atc.entries()).isEmpty();
    }

    @Test
    @DisplayName("PASID-tagged invalidation drops only that PASID's entries; other PASIDs and PASID-less ones stay")
    void pasidInvalidation() {
        Atc atc = filled();
        atc.invalidate(1, false, 0, 8 * K4);
        assertThat(atc.entries()).extracting(Atc.Entry::pasid).doesNotContain(1).contains(NO_PASID, 2);
        assertThat(atc.entries()).hasSize(16);
        atc.invalidate(NO_PASID, false, 0, 8 * K4);
        assertThat(atc.entries()).extracting(Atc.Entry::pasid).containsOnly(2);
        assertThat(atc.stats().invalidations()).isEqualTo(2);
        assertThat(atc.stats().entriesInvalidated()).isEqualTo(16);
    }

    @Test
    @DisplayName("all-PASID invalidation of a range drops every PASID's pages in the range, nothing outside it")
    void rangeInvalidationAllPasids() {
        Atc atc = filled();
        atc.invalidate(7, true, 3 * K4, 2 * K4);
        assertThat(atc.entries()).hasSize(24 - 6);
        for (int pasid : new int[] {NO_PASID, 1, 2}) {
            assertThat(atc.contains(pasid, 3 * K4)).isFalse();
            assertThat(atc.contains(pasid, 4 * K4 + 0xfff)).isFalse();
            assertThat(atc.contains(pasid, 2 * K4 + 0xfff)).isTrue();
            assertThat(atc.contains(pasid, 5 * K4)).isTrue();
        }
    }

    @Test
    @DisplayName("a range touching one byte of a large page drops the whole large page")
    void partialOverlapOfLargePage() {
        Atc atc = new Atc(8);
        atc.fill(NO_PASID, M2 + 0x5000, tr(0x4000_0000L, M2, true, true));
        atc.invalidate(NO_PASID, false, 2 * M2 - 1, 1);
        assertThat(atc.entries()).isEmpty();
    }

    @Test
    @DisplayName("size 0 drops nothing; WHOLE_ADDRESS_SPACE and ranges running past 2^64 reach the top")
    void sizeEdges() {
        Atc atc = new Atc(8);
        atc.fill(1, -K4, tr(0x1000, K4, true, true)); // the last page of the 64-bit space
        atc.fill(1, 0, tr(0x2000, K4, true, true));
        atc.invalidate(1, false, 0, 0);
        assertThat(atc.entries()).hasSize(2);
        atc.invalidate(1, false, -2 * K4, 4 * K4); // wraps: clamped at the top, page 0 untouched
        assertThat(atc.entries()).extracting(Atc.Entry::iova).containsExactly(0L);
        atc.invalidate(1, false, 0, Atc.WHOLE_ADDRESS_SPACE);
        assertThat(atc.entries()).isEmpty();
    }

    @Test
    @DisplayName("refilling the same page replaces its entry; a full ATC evicts round-robin")
    void replaceAndEvict() {
        Atc atc = new Atc(2);
        atc.fill(1, 0, tr(0xa000, K4, true, true));
        atc.fill(1, 0, tr(0xb000, K4, true, false));
        assertThat(atc.entries()).containsExactly(new Atc.Entry(1, 0, 0xb000, K4, true, false));
        atc.fill(1, K4, tr(0xc000, K4, true, true));
        atc.fill(1, 2 * K4, tr(0xd000, K4, true, true));
        assertThat(atc.entries()).extracting(Atc.Entry::iova).containsExactlyInAnyOrder(K4, 2 * K4);
        assertThat(atc.stats().evictions()).isEqualTo(1);
    }

    // ---- property: the ATC against a set of entries ----

    /** One operation: a fill of (pasid, page, size) or an invalidation (pasid, all, start page, pages). */
    record Op(boolean fill, int pasid, boolean all, long page, long pages, boolean large) {
    }

    @Provide
    Arbitrary<List<Op>> ops() {
        Arbitrary<Op> op = Combinators.combine(Arbitraries.integers().between(0, 2),
                Arbitraries.of(NO_PASID, 1, 2), Arbitraries.of(false, false, true),
                Arbitraries.longs().between(0, 1100), Arbitraries.longs().between(0, 600),
                Arbitraries.of(false, false, false, true))
                .as((kind, pasid, all, page, pages, large) -> new Op(kind != 0, pasid, all, page, pages, large));
        return op.list().ofMaxSize(120);
    }

    @Property(tries = 300)
    @Label("ATC invalidation matches a reference set: an entry survives iff no matching invalidation overlapped it")
    void atcMatchesReference(@ForAll("ops") List<Op> ops) {
        Atc atc = new Atc(4096);
        Set<Atc.Entry> ref = new HashSet<>();
        for (Op op : ops) {
            long size = op.large() ? M2 : K4;
            long iova = op.page() * K4 & -size;
            if (op.fill()) {
                Atc.Entry e = new Atc.Entry(op.pasid(), iova, 0x4000_0000L + iova, size, true, true);
                ref.removeIf(x -> x.pasid() == e.pasid() && x.iova() == e.iova() && x.size() == e.size());
                ref.add(e);
                atc.fill(op.pasid(), op.page() * K4, tr(e.pa(), size, true, true));
            } else {
                long start = op.page() * K4;
                long end = start + op.pages() * K4; // exclusive
                ref.removeIf(x -> (op.all() || x.pasid() == op.pasid()) && start < end
                        && x.iova() < end && start < x.iova() + x.size());
                atc.invalidate(op.pasid(), op.all(), start, op.pages() * K4);
            }
        }
        assertThat(new HashSet<>(atc.entries())).isEqualTo(ref);
        TranslationResult out = new TranslationResult();
        for (int pasid : new int[] {NO_PASID, 1, 2}) {
            for (long page = 0; page < 1100; page += 7) {
                long a = page * K4;
                boolean expected = ref.stream().anyMatch(x -> x.pasid() == pasid && x.iova() <= a && a < x.iova() + x.size());
                assertThat(atc.lookup(pasid, a, true, out)).as("pasid %d page %#x", pasid, a).isEqualTo(expected);
            }
        }
    }
}
