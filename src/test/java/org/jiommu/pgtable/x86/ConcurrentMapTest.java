package org.jiommu.pgtable.x86;

import static org.assertj.core.api.Assertions.assertThat;
import static org.jiommu.pgtable.x86.Tables.SZ_1G;
import static org.jiommu.pgtable.x86.Tables.SZ_2M;
import static org.jiommu.pgtable.x86.Tables.SZ_4K;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.jiommu.base.Prot;
import org.jiommu.mem.FrameAllocator;
import org.jiommu.pgtable.IotlbGather;
import org.jiommu.pgtable.Mapped;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Disjoint maps racing to install the same missing tables (pt_iommu_new_table's cmpxchg): each
 * round all threads map a different page of the same fresh 2M region, so all of them need the
 * same new level-3/2/1 tables at once. Losers free their page; nothing leaks, nothing is lost.
 */
class ConcurrentMapTest {
    static final int THREADS = 4;
    static final int ROUNDS = 150;

    static java.util.stream.Stream<Tables.Kind> kinds() {
        return java.util.stream.Stream.of(Tables.vtd48(), Tables.x86Canonical48());
    }

    private static long iova(int round, int thread) {
        // a fresh 1G region per round (new level-2 and level-1 tables), a fresh 512G one every
        // 8 rounds (new level-3 table too); the threads' pages share one leaf table
        return ((long) (round / 8) << 39) + ((long) (round % 8) * SZ_1G) + (long) thread * SZ_4K;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("kinds")
    @DisplayName("concurrent disjoint maps and unmaps sharing new tables: every page lands, no page leaks")
    void racingTableInstalls(Tables.Kind kind) throws Exception {
        FrameAllocator a = Tables.allocator();
        long baseline = a.stats().liveBlocks();
        X86RadixPageTable t = kind.make(a);
        CyclicBarrier barrier = new CyclicBarrier(THREADS);
        ExecutorService pool = Executors.newFixedThreadPool(THREADS);
        try {
            List<Future<?>> done = new ArrayList<>();
            for (int th = 0; th < THREADS; th++) {
                int me = th;
                done.add(pool.submit(() -> {
                    Mapped m = new Mapped();
                    for (int r = 0; r < ROUNDS; r++) {
                        barrier.await();
                        int ret = t.mapPages(iova(r, me), 0x1_0000_0000L + (long) me * SZ_2M + (long) r * SZ_4K,
                                SZ_4K, 1, Prot.RW, m);
                        if (ret != 0) {
                            throw new AssertionError("map returned " + ret);
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> f : done) {
                f.get();
            }
            for (int r = 0; r < ROUNDS; r++) {
                for (int th = 0; th < THREADS; th++) {
                    assertThat(t.iovaToPhys(iova(r, th) + 0x10))
                            .isEqualTo(0x1_0000_0000L + (long) th * SZ_2M + (long) r * SZ_4K + 0x10);
                }
            }
            assertThat(Tables.leaves(t)).hasSize(ROUNDS * THREADS);
            long levelThreeTables = (ROUNDS + 7) / 8;
            assertThat(Tables.tableDescriptors(t)).as("one table per path, none duplicated")
                    .isEqualTo(levelThreeTables + 2L * ROUNDS);
            assertThat(a.stats().liveBlocks() - baseline).as("losers freed their pages")
                    .isEqualTo(Tables.tableDescriptors(t) + 1);

            // and disjoint unmaps of the same leaf tables in parallel
            done.clear();
            for (int th = 0; th < THREADS; th++) {
                int me = th;
                done.add(pool.submit(() -> {
                    IotlbGather g = new IotlbGather();
                    for (int r = 0; r < ROUNDS; r++) {
                        barrier.await();
                        long n = t.unmapPages(iova(r, me), SZ_4K, 1, g);
                        if (n != SZ_4K) {
                            throw new AssertionError("unmap returned " + n);
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> f : done) {
                f.get();
            }
            assertThat(Tables.leaves(t)).isEmpty();
        } finally {
            pool.shutdownNow();
        }
        t.free();
        assertThat(a.stats().liveBlocks()).isEqualTo(baseline);
    }
}
