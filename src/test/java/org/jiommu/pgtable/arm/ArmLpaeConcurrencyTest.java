package org.jiommu.pgtable.arm;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.jiommu.base.Prot;
import org.jiommu.mem.FrameAllocator;
import org.jiommu.pgtable.Mapped;
import org.jiommu.pgtable.PgtableFormat;
import org.jiommu.pgtable.TlbOps;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Disjoint concurrent maps sharing upper-level tables: every thread needs the same L1/L2/L3
 * tables at the same time, so table installs race; the compare-and-set loser must free its
 * page and use the winner's (arm_lpae_install_table).
 */
class ArmLpaeConcurrencyTest {
    private static final int THREADS = 4;
    private static final int REGIONS = 256; // 2M regions, each needing its own L3 table
    private static final long SZ_4K = 0x1000;
    private static final long SZ_2M = 0x20_0000;

    @Test
    @Timeout(value = 300, unit = TimeUnit.SECONDS) // a hang guard only
    @DisplayName("concurrent disjoint maps share tables: all mappings read back, no table page leaks")
    void disjointMapsShareTables() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(THREADS);
        try {
            for (int round = 0; round < 4; round++) {
                runRound(pool, round);
            }
        } finally {
            pool.shutdownNow();
            // the workers are idle here (every future was awaited): termination is immediate, the
            // bound only keeps a broken pool from hanging the suite
            assertThat(pool.awaitTermination(120, TimeUnit.SECONDS)).isTrue();
        }
    }

    private void runRound(ExecutorService pool, int round) throws Exception {
        FrameAllocator frames = LpaeTestSupport.frames();
        LpaeTestSupport.Warnings warnings = new LpaeTestSupport.Warnings();
        ArmLpaePageTable t = ArmLpaePageTable.alloc(LpaeTestSupport.cfg(PgtableFormat.ARM_64_LPAE_S1,
                LpaeTestSupport.BITMAP_4K, 48, 48).build(), frames, TlbOps.NONE, warnings);
        // Odd rounds straddle an L0 boundary, so two L1 and two L2 tables are raced for as well.
        long base = round % 2 == 0 ? 0 : 0x80_0000_0000L - 0x1000_0000L;
        CountDownLatch start = new CountDownLatch(1);
        List<Future<Integer>> results = new ArrayList<>();
        for (int k = 0; k < THREADS; k++) {
            final int thread = k;
            results.add(pool.submit(() -> {
                Mapped mapped = new Mapped();
                start.await();
                int failures = 0;
                for (int r = 0; r < REGIONS; r++) {
                    long iova = base + r * SZ_2M + thread * SZ_4K;
                    if (t.mapPages(iova, pa(iova), SZ_4K, 1, Prot.RW, mapped) != 0) {
                        failures++;
                    }
                }
                return failures;
            }));
        }
        start.countDown();
        for (Future<Integer> f : results) {
            assertThat(f.get()).isZero();
        }
        assertThat(warnings.seen).isEmpty();

        for (int r = 0; r < REGIONS; r++) {
            for (int k = 0; k < THREADS; k++) {
                long iova = base + r * SZ_2M + k * SZ_4K;
                assertThat(t.iovaToPhys(iova + 0x10)).as("iova %#x", iova).isEqualTo(pa(iova) + 0x10);
            }
        }
        // Every live table page is referenced by exactly one table descriptor (or is the pgd).
        long[] tableDescs = {0};
        long[] leaves = {0};
        t.walk((level, iova, size, pte, leaf) -> {
            if (leaf) {
                leaves[0]++;
            } else {
                tableDescs[0]++;
                assertThat(frames.isAllocated(pte & 0x0000_FFFF_FFFF_F000L)).isTrue();
            }
        });
        assertThat(leaves[0]).isEqualTo((long) REGIONS * THREADS);
        assertThat(frames.stats().liveBlocks()).isEqualTo(tableDescs[0] + 1);
        long l0Slots = (base + REGIONS * SZ_2M - 1 >>> 39) - (base >>> 39) + 1;
        long l1Slots = (base + REGIONS * SZ_2M - 1 >>> 30) - (base >>> 30) + 1;
        assertThat(tableDescs[0]).as("L0 + L1 + per-region L2 descriptors").isEqualTo(l0Slots + l1Slots + REGIONS);
        t.free();
        assertThat(frames.stats().allocatedBytes()).isZero();
    }

    private static long pa(long iova) {
        return 0x80_0000_0000L + iova;
    }
}
