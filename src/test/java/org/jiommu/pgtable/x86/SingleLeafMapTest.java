package org.jiommu.pgtable.x86;

import static org.assertj.core.api.Assertions.assertThat;
import static org.jiommu.pgtable.x86.Tables.SZ_1G;
import static org.jiommu.pgtable.x86.Tables.SZ_2M;
import static org.jiommu.pgtable.x86.Tables.SZ_4K;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.jiommu.base.Errno;
import org.jiommu.base.Prot;
import org.jiommu.mem.FrameAllocator;
import org.jiommu.pgtable.IotlbGather;
import org.jiommu.pgtable.Mapped;
import org.jiommu.pgtable.TlbOps;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The short single-leaf map path (one 4K or one 2M page into an empty entry under existing
 * tables) and each case where it must decline to the general walk. Every case runs on two twin
 * tables: one as built, one with {@code debugChecks(true)}, which never takes the short path; the
 * two must end identical (return, bytes mapped, descriptors, live pages, syncs), and the result
 * must be the one docs/pgtable-vtd-x86.md section 3 gives.
 */
class SingleLeafMapTest {

    /** Where the 2M page goes: the second 2M slot of the second 1G region. */
    private static final long IOVA = SZ_1G + SZ_2M;
    private static final long PA = 0x4000_0000L;

    /** A format with its twin; pageSizes is the domain's bitmap. */
    private record Format(String name, boolean vtd, int levels, long pageSizes) {
        X86RadixPageTable make(FrameAllocator a, boolean general, Consumer<IotlbGather> sync) {
            if (vtd) {
                return VtdSecondLevelPageTable.builder(a).levels(levels).addressWidth(levels == 3 ? 39 : 48)
                        .pageSizes(pageSizes).debugChecks(general).tlb(TlbOps.syncing(sync)).build();
            }
            return X86FirstLevelPageTable.builder(a).levels(levels).signExtend(true).pageSizes(pageSizes)
                    .debugChecks(general).tlb(TlbOps.syncing(sync)).build();
        }

        long leafBits(long size) {
            long ps = size > SZ_4K ? X86RadixPageTable.PS : 0;
            if (vtd) {
                return VtdSecondLevelPageTable.R | VtdSecondLevelPageTable.W | ps;
            }
            return X86FirstLevelPageTable.P | X86FirstLevelPageTable.RW | X86FirstLevelPageTable.US
                    | X86FirstLevelPageTable.A | X86FirstLevelPageTable.D | ps;
        }

        @Override
        public String toString() {
            return name;
        }
    }

    private static final List<Format> FORMATS = List.of(
            new Format("vtdss 48-bit", true, 4, X86RadixPageTable.ALL_PAGE_SIZES),
            new Format("vtdss 39-bit 3-level", true, 3, X86RadixPageTable.ALL_PAGE_SIZES),
            new Format("x86_64 48-bit sign-extended", false, 4, X86RadixPageTable.ALL_PAGE_SIZES));

    private static final Format NO_2M = new Format("vtdss 48-bit without 2M", true, 4,
            X86RadixPageTable.SZ_4K | X86RadixPageTable.SZ_1G);

    /** What a case expects of the 2M map at IOVA -> pa. */
    private record Expect(int ret, long bytes, long leafSize, int freedTables) {
    }

    /** A case: how the table is prepared, the map's pa, and the result. */
    private record Case(String name, Consumer<X86RadixPageTable> prepare, long pa, Expect expect) {
        @Override
        public String toString() {
            return name;
        }
    }

    private static void ok(int ret) {
        assertThat(ret).isZero();
    }

    private static void mapUnmap(X86RadixPageTable t, long iova, long pa, long size) {
        ok(t.mapPages(iova, pa, size, 1, Prot.RW, new Mapped()));
        IotlbGather g = new IotlbGather();
        assertThat(t.unmapPages(iova, size, 1, g)).isEqualTo(size);
        t.releaseFreelist(g);
    }

    private static final List<Case> CASES = List.of(
            // the level-2 table exists and the entry is empty: the short path writes the leaf
            new Case("short path: empty entry under existing tables",
                    t -> mapUnmap(t, IOVA, PA, SZ_2M), PA, new Expect(0, SZ_2M, SZ_2M, 0)),
            new Case("decline: no tables yet (they are allocated)",
                    t -> { }, PA, new Expect(0, SZ_2M, SZ_2M, 0)),
            new Case("decline: level-2 table missing under an existing level-3 table",
                    t -> mapUnmap(t, SZ_1G * 5, PA, SZ_2M), PA, new Expect(0, SZ_2M, SZ_2M, 0)),
            new Case("decline: empty level-1 table where the leaf goes (clear_contig replaces it)",
                    t -> mapUnmap(t, IOVA + SZ_4K * 7, PA, SZ_4K), PA, new Expect(0, SZ_2M, SZ_2M, 1)),
            new Case("decline: level-1 table holding a leaf where the leaf goes",
                    t -> ok(t.mapPages(IOVA + SZ_4K * 7, PA, SZ_4K, 1, Prot.RW, new Mapped())), PA,
                    new Expect(Errno.EADDRINUSE.neg(), 0, 0, 0)),
            new Case("decline: entry occupied by a 2M leaf",
                    t -> ok(t.mapPages(IOVA, PA + SZ_2M, SZ_2M, 1, Prot.READ, new Mapped())), PA,
                    new Expect(Errno.EADDRINUSE.neg(), 0, 0, 0)),
            new Case("decline: a 1G leaf on the way",
                    t -> ok(t.mapPages(SZ_1G, 0, SZ_1G, 1, Prot.RW, new Mapped())), PA,
                    new Expect(Errno.EADDRINUSE.neg(), 0, 0, 0)),
            new Case("not taken: pa only 4K aligned (512 4K leaves)",
                    t -> mapUnmap(t, IOVA, PA, SZ_2M), PA + SZ_4K, new Expect(0, SZ_2M, SZ_4K, 0)));

    static Stream<Arguments> cases() {
        return FORMATS.stream().flatMap(f -> CASES.stream().map(c -> Arguments.of(f, c)));
    }

    /** One table's run of a case: what it returned and how it ended. */
    private record Outcome(int ret, long bytes, List<Tables.Desc> descriptors, long livePages, List<Integer> syncs) {
    }

    private static Outcome run(Format f, Case c, boolean general, long pgsize, long pgcount) {
        List<Integer> syncs = new ArrayList<>();
        X86RadixPageTable[] self = new X86RadixPageTable[1];
        X86RadixPageTable t = f.make(Tables.allocator(), general, g -> {
            syncs.add(g.freelist.size());
            self[0].releaseFreelist(g);
        });
        self[0] = t;
        c.prepare.accept(t);
        syncs.clear();
        Mapped m = new Mapped();
        int ret = t.mapPages(IOVA, c.pa, pgsize, pgcount, Prot.RW, m);
        return new Outcome(ret, m.bytes, Tables.descriptors(t), t.allocator().stats().liveBlocks(), syncs);
    }

    @ParameterizedTest(name = "{0}: {1}")
    @MethodSource("cases")
    void singleTwoMegabyteMap(Format f, Case c) {
        Outcome fast = run(f, c, false, SZ_2M, 1);
        Outcome general = run(f, c, true, SZ_2M, 1);
        assertThat(fast).as("short path and general walk agree").isEqualTo(general);
        Expect e = c.expect;
        assertThat(fast.ret).isEqualTo(e.ret);
        assertThat(fast.bytes).isEqualTo(e.bytes);
        assertThat(fast.syncs).as("syncs of a map that replaced tables")
                .isEqualTo(e.freedTables == 0 ? List.of() : List.of(e.freedTables));
        List<Tables.Desc> inRange = fast.descriptors.stream()
                .filter(d -> d.leaf() && d.iova() >= IOVA && d.iova() < IOVA + SZ_2M).toList();
        if (e.ret == 0) {
            assertThat(inRange).hasSize((int) (SZ_2M / e.leafSize)).allSatisfy(d -> {
                assertThat(d.size()).isEqualTo(e.leafSize);
                assertThat(d.pte()).isEqualTo(c.pa + (d.iova() - IOVA) | f.leafBits(e.leafSize));
            });
        }
    }

    @Test
    @DisplayName("a single 2M map on a table without 2M pages is 512 4K leaves, as the general walk makes")
    void tableWithout2MMapsSmallLeaves() {
        // the bitmap without 2M (CAP.SLLPS bit 0 clear): a single 2M call is 512 4K leaves
        Case c = CASES.get(0);
        Outcome fast = run(NO_2M, c, false, SZ_2M, 1);
        assertThat(fast).isEqualTo(run(NO_2M, c, true, SZ_2M, 1));
        assertThat(fast.ret).isZero();
        assertThat(fast.descriptors.stream().filter(d -> d.leaf() && d.size() == SZ_4K)).hasSize(512);
    }

    @ParameterizedTest(name = "{0}: {1}")
    @MethodSource("cases")
    void singleFourKilobyteMapAgrees(Format f, Case c) {
        // the 4K short path against the general walk over the same prepared tables
        Outcome fast = run(f, c, false, SZ_4K, 1);
        assertThat(fast).isEqualTo(run(f, c, true, SZ_4K, 1));
    }
}
