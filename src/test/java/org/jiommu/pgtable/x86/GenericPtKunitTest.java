package org.jiommu.pgtable.x86;

import static org.assertj.core.api.Assertions.assertThat;
import static org.jiommu.pgtable.x86.Tables.SZ_1G;
import static org.jiommu.pgtable.x86.Tables.SZ_2M;
import static org.jiommu.pgtable.x86.Tables.SZ_4K;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.jiommu.base.Errno;
import org.jiommu.mem.FrameAllocator;
import org.jiommu.pgtable.IotlbGather;
import org.jiommu.pgtable.Mapped;
import org.jiommu.pgtable.TlbOps;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The kernel's generic_pt KUnit cases (kunit_iommu_pt.h) replayed on every configuration of
 * the two formats, through the core's map/unmap loops (MapLoop), plus the leak check of the
 * suite's exit hook (the frame allocator back to its baseline).
 */
class GenericPtKunitTest {

    static Stream<Tables.Kind> kinds() {
        return Tables.kinds();
    }

    /** Runs {@code body} on a fresh table and checks nothing leaks after free(). */
    private static void withTable(Tables.Kind kind, java.util.function.BiConsumer<X86RadixPageTable, FrameAllocator> body) {
        FrameAllocator a = Tables.allocator();
        long baseline = a.stats().liveBlocks();
        X86RadixPageTable t = kind.make(a);
        body.accept(t, a);
        // every live page is a table the walk can reach (no page was lost on the way)
        assertThat(a.stats().liveBlocks() - baseline).isEqualTo(Tables.tableDescriptors(t) + 1);
        t.free();
        assertThat(a.stats().liveBlocks()).as("pages after free()").isEqualTo(baseline);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("kinds")
    @DisplayName("test_map_simple: one page of every size, exactly one leaf per size, unmap leaves none")
    void mapSimple(Tables.Kind kind) {
        withTable(kind, (t, a) -> {
            long testOa = 0x12_3456_7000L;
            long va = 256 * SZ_4K;
            List<long[]> done = new ArrayList<>();
            for (long size = SZ_4K; size != 0; size <<= 1) {
                if ((t.pgsizeBitmap() & size) == 0) {
                    continue;
                }
                long pa = testOa & ~(size - 1);
                va = (va + size - 1) & ~(size - 1);
                assertThat(Tables.map(t, va, pa, size)).isZero();
                Tables.checkIova(t, va, pa, size);
                done.add(new long[] {va, size});
                va += size;
            }
            assertThat(Tables.leafSizes(t)).isEqualTo(Map.of(SZ_4K, 1, SZ_2M, 1, SZ_1G, 1));
            for (long[] d : done) {
                assertThat(Tables.unmap(t, d[0], d[1], new IotlbGather())).isEqualTo(d[1]);
            }
            assertThat(Tables.leaves(t)).isEmpty();
        });
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("kinds")
    @DisplayName("test_map_simple in the upper half of a sign-extended table: canonical addresses work")
    void mapSimpleUpperHalf(Tables.Kind kind) {
        withTable(kind, (t, a) -> {
            if (!t.signExtend()) {
                // without sign extension the upper half does not exist: -ERANGE
                assertThat(Tables.map(t, -SZ_1G, 0, SZ_4K)).isEqualTo(Errno.ERANGE.neg());
                return;
            }
            long upper = -(1L << (t.ias() - 1)); // first canonical upper-half address
            long va = upper + 256 * SZ_4K;
            for (long size : new long[] {SZ_4K, SZ_2M, SZ_1G}) {
                va = (va + size - 1) & ~(size - 1);
                assertThat(Tables.map(t, va, size, size)).isZero();
                assertThat(t.iovaToPhys(va + size - 8)).isEqualTo(2 * size - 8);
                va += size;
            }
            assertThat(Tables.leaves(t)).extracting(Tables.Desc::iova).allMatch(v -> v < 0);
            assertThat(t.iovaToPhys(-SZ_4K)).as("unmapped top page").isZero();
            assertThat(Tables.map(t, -SZ_4K, 0, SZ_4K)).as("the very last page of the address space").isZero();
            assertThat(t.iovaToPhys(-1)).isEqualTo(SZ_4K - 1);
            assertThat(Tables.unmap(t, -SZ_4K, SZ_4K, new IotlbGather())).isEqualTo(SZ_4K);
        });
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("kinds")
    @DisplayName("test_map_table_to_oa: fill 1G with each page size, unmap, the next size replaces the tables")
    void mapTableToOa(Tables.Kind kind) {
        withTable(kind, (t, a) -> {
            long max = SZ_1G;
            long cur = max; // ALIGN(va + 256 pages, max)
            long paBase = 0x40_0000_0000L;
            List<IotlbGather> syncs = new ArrayList<>();
            t.setTlb(TlbOps.syncing(g -> {
                syncs.add(copy(g));
                t.releaseFreelist(g);
            }));
            for (long len = SZ_4K; len <= max; len <<= 1) {
                if ((t.pgsizeBitmap() & len) == 0) {
                    continue;
                }
                syncs.clear();
                for (long off = 0; off != max; off += len) {
                    assertThat(Tables.map(t, cur + off, paBase + off, len)).isZero();
                }
                Tables.checkIova(t, cur, paBase, max);
                assertThat(Tables.leafSizes(t)).isEqualTo(Map.of(len, (int) (max / len)));
                if (len == SZ_2M) {
                    // the 4K round left 256 empty leaf tables in the upper half: each 2M map
                    // there replaced one and synced before freeing it
                    assertThat(syncs).hasSize(256);
                    for (int i = 0; i < 256; i++) {
                        assertThat(syncs.get(i).freelist).hasSize(1);
                        assertThat(syncs.get(i).start).isEqualTo(cur + max / 2 + i * SZ_2M);
                        assertThat(syncs.get(i).end).isEqualTo(cur + max / 2 + (i + 1) * SZ_2M - 1);
                    }
                } else if (len == SZ_1G) {
                    // the 2M round left one empty level-2 table: replaced by the 1G leaf
                    assertThat(syncs).hasSize(1);
                    assertThat(syncs.get(0).freelist).hasSize(1);
                } else {
                    assertThat(syncs).isEmpty();
                }
                IotlbGather g = new IotlbGather();
                if (len == max) {
                    assertThat(Tables.unmap(t, cur, max, g)).isEqualTo(max);
                } else {
                    assertThat(Tables.unmap(t, cur, max / 2, g)).isEqualTo(max / 2);
                    for (long off = max / 2; off != max; off += len) {
                        assertThat(Tables.unmap(t, cur + off, len, g)).isEqualTo(len);
                    }
                }
                t.releaseFreelist(g);
                assertThat(Tables.leaves(t)).isEmpty();
            }
        });
    }

    private static IotlbGather copy(IotlbGather g) {
        IotlbGather c = new IotlbGather();
        c.start = g.start;
        c.end = g.end;
        c.pgsize = g.pgsize;
        c.freelist.addAll(g.freelist);
        return c;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("kinds")
    @DisplayName("test_unmap_split: unmapping a small page at the start of a large one removes the large one, no further")
    void unmapSplit(Tables.Kind kind) {
        withTable(kind, (t, a) -> {
            int count = 0;
            for (long base : new long[] {SZ_4K, SZ_2M}) {
                for (long next : new long[] {SZ_2M, SZ_1G}) {
                    if (next <= base) {
                        continue;
                    }
                    IotlbGather g = new IotlbGather();
                    assertThat(Tables.map(t, 0, 0, next)).isZero();
                    assertThat(Tables.unmap(t, 0, base, g)).isEqualTo(next);
                    assertThat(Tables.leaves(t)).isEmpty();

                    assertThat(Tables.map(t, 0, 0, next)).isZero();
                    assertThat(Tables.map(t, next, next, next)).isZero();
                    assertThat(Tables.unmap(t, 0, base, g)).isEqualTo(next);
                    assertThat(t.iovaToPhys(next + 8)).as("the next large page stays").isEqualTo(next + 8);
                    assertThat(Tables.leaves(t)).singleElement().satisfies(d -> {
                        assertThat(d.iova()).isEqualTo(next);
                        assertThat(d.size()).isEqualTo(next);
                    });
                    assertThat(Tables.unmap(t, next, next, g)).isEqualTo(next);
                    assertThat(Tables.leaves(t)).isEmpty();
                    t.releaseFreelist(g);
                    count++;
                }
            }
            assertThat(count).isEqualTo(3);
        });
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("kinds")
    @DisplayName("unmapping a small page in the middle of a large one removes nothing and returns 0")
    void unmapMiddleOfLargePage(Tables.Kind kind) {
        withTable(kind, (t, a) -> {
            assertThat(Tables.map(t, SZ_1G, 0x8000_0000L, SZ_1G)).isZero();
            assertThat(Tables.map(t, 2 * SZ_1G + SZ_2M, 0x8020_0000L, SZ_2M)).isZero();
            List<Tables.Desc> before = Tables.descriptors(t);
            IotlbGather g = new IotlbGather();
            assertThat(Tables.unmap(t, SZ_1G + SZ_4K, SZ_4K, g)).isZero();
            assertThat(Tables.unmap(t, SZ_1G + SZ_2M, SZ_2M, g)).isZero();
            assertThat(Tables.unmap(t, 2 * SZ_1G + SZ_2M + 0x10_0000, 0x10_0000, g)).isZero();
            assertThat(Tables.descriptors(t)).isEqualTo(before);
            assertThat(t.iovaToPhys(SZ_1G + SZ_4K + 5)).isEqualTo(0x8000_1005L);
            // generic_pt still adds the requested range to the gather (gather_range_pages)
            assertThat(g.start).isEqualTo(SZ_1G + SZ_4K);
            assertThat(g.end).isEqualTo(2 * SZ_1G + SZ_2M + 0x20_0000 - 1);
            assertThat(g.freelist).isEmpty();
            // an unmap that ends inside a large page removes it whole and reports it whole
            assertThat(Tables.unmap(t, SZ_1G, SZ_4K * 3, g)).isEqualTo(SZ_1G);
        });
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("kinds")
    @DisplayName("test_mixed: identity [0x3fe400 << 12, 0x4c0600 << 12) is exactly 14 x 2M, 3 x 1G, 3 x 2M")
    void mixed(Tables.Kind kind) {
        withTable(kind, (t, a) -> {
            long start = 0x3fe400L << 12;
            long end = 0x4c0600L << 12;
            assertThat(Tables.map(t, start, start, end - start)).isZero();
            List<Tables.Desc> leaves = Tables.leaves(t);
            assertThat(leaves).hasSize(20);
            List<Long> sizes = leaves.stream().map(Tables.Desc::size).toList();
            List<Long> expected = new ArrayList<>();
            for (int i = 0; i < 14; i++) {
                expected.add(SZ_2M);
            }
            expected.addAll(List.of(SZ_1G, SZ_1G, SZ_1G, SZ_2M, SZ_2M, SZ_2M));
            assertThat(sizes).isEqualTo(expected);
            assertThat(leaves.get(0).iova()).isEqualTo(start);
            assertThat(leaves.get(14).iova()).isEqualTo(0x4_0000_0000L);
            Tables.checkIova(t, start, start, end - start);
            assertThat(Tables.unmap(t, start, end - start, new IotlbGather())).isEqualTo(end - start);
        });
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("kinds")
    @DisplayName("test_pgsize_boundary (AMD report): 0xfef80000 -> 0x208b95d000, 128K, with the debug leaf-size check on")
    void pgsizeBoundary(Tables.Kind kind) {
        FrameAllocator a = Tables.allocator();
        List<String> warnings = new ArrayList<>();
        X86RadixPageTable plain = kind.make(a);
        // the same configuration with CONFIG_DEBUG_GENERIC_PT's check recording its WARNs
        X86RadixPageTable t = plain instanceof VtdSecondLevelPageTable v
                ? VtdSecondLevelPageTable.builder(a).addressWidth(v.ias()).debugChecks(true)
                        .warnings((w, m) -> warnings.add(w + ": " + m)).build()
                : X86FirstLevelPageTable.builder(a).levels(plain.levels()).inputWidth(plain.ias())
                        .signExtend(plain.signExtend()).debugChecks(true)
                        .warnings((w, m) -> warnings.add(w + ": " + m)).build();
        plain.free();
        assertThat(Tables.map(t, 0xfef80000L, 0x208b95d000L, 0xfef9ffffL - 0xfef80000L + 1)).isZero();
        assertThat(warnings).isEmpty();
        assertThat(Tables.leafSizes(t)).isEqualTo(Map.of(SZ_4K, 32));
        Tables.checkIova(t, 0xfef80000L, 0x208b95d000L, 0x20000);

        // the check is live: a caller asking 4K pages across a 2M boundary it could have used warns
        assertThat(t.mapPages(SZ_1G - SZ_4K, SZ_1G - SZ_4K, SZ_4K, 513, org.jiommu.base.Prot.RW, new Mapped()))
                .isZero();
        assertThat(warnings).singleElement().asString().startsWith("__map_range_leaf");
        t.free();
        assertThat(a.stats().liveBlocks()).isZero();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("kinds")
    @DisplayName("test_random_map's rule: an overlapping map fails with -EADDRINUSE and the core undoes its part")
    void overlapIsAddrInUse(Tables.Kind kind) {
        withTable(kind, (t, a) -> {
            assertThat(Tables.map(t, 0x20_0000, 0x20_0000, 0x3000)).isZero();
            List<Tables.Desc> before = Tables.leaves(t);
            // starts before the existing mapping: maps 0x1f0000..0x1fffff, hits it, and the
            // core unrolls; the leaf table made for the first part stays, empty (no unmap
            // covered it whole)
            long tablesBefore = Tables.tableDescriptors(t);
            assertThat(Tables.map(t, 0x1f_0000, 0x1f_0000, 0x20000)).isEqualTo(Errno.EADDRINUSE.neg());
            assertThat(Tables.leaves(t)).isEqualTo(before);
            assertThat(Tables.tableDescriptors(t)).isEqualTo(tablesBefore + 1);
            // a 1G leaf over a table that holds leaves
            assertThat(Tables.map(t, 0, 0, SZ_1G)).isEqualTo(Errno.EADDRINUSE.neg());
            assertThat(Tables.leaves(t)).isEqualTo(before);
            TreeMap<Long, Integer> sizes = Tables.leafSizes(t);
            assertThat(sizes).isEqualTo(Map.of(SZ_4K, 3));
        });
    }
}
