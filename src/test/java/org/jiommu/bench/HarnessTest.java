package org.jiommu.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** The harness's discipline and arithmetic, on fixtures whose work is known (no timing asserted). */
class HarnessTest {
    @Test
    @DisplayName("median, min, max and spread of the measured iterations")
    void statistics() {
        Result odd = new Result("x", BenchCase.Unit.NS_PER_OP, List.of(30.0, 10.0, 20.0), 3);
        assertThat(odd.median()).isEqualTo(20.0);
        assertThat(odd.min()).isEqualTo(10.0);
        assertThat(odd.max()).isEqualTo(30.0);
        assertThat(odd.spreadPercent()).isEqualTo(50.0);
        assertThat(odd.nanosPerOp()).isEqualTo(20.0);
        Result even = new Result("y", BenchCase.Unit.MOPS_PER_S, List.of(4.0, 1.0, 2.0, 8.0), 4);
        assertThat(even.median()).isEqualTo(3.0);
        assertThat(even.nanosPerOp()).isEqualTo(1e3 / 3.0);
    }

    @Test
    @DisplayName("prepare runs before every batch, warm-up iterations are not recorded, every thread has its own fixture")
    void discipline() {
        AtomicInteger fixtures = new AtomicInteger();
        AtomicInteger unprepared = new AtomicInteger();
        BenchCase c = new BenchCase("t/count", "counts", BenchCase.Unit.NS_PER_OP, () -> {
            fixtures.incrementAndGet();
            return new Fixture() {
                boolean prepared;

                @Override
                public int opsPerBatch() {
                    return 10;
                }

                @Override
                public void prepare() {
                    prepared = true;
                }

                @Override
                public long batch() {
                    if (!prepared) {
                        unprepared.incrementAndGet();
                    }
                    prepared = false;
                    long s = 0;
                    for (int i = 0; i < 1000; i++) {
                        s += i * 31L;
                    }
                    return s;
                }
            };
        }, null);
        Result r = Harness.measure(c, new Budget(2, 3, 2, 2, 0));
        assertThat(fixtures.get()).isEqualTo(2);
        assertThat(unprepared.get()).isZero();
        assertThat(r.iterations()).hasSize(3).allSatisfy(v -> assertThat(v).isPositive());
        assertThat(r.operations() % 10).isZero();
        assertThat(r.operations()).isGreaterThanOrEqualTo(3 * 2 * 10);
    }

    @Test
    @DisplayName("every page-table fixture restores its state: map batches find empty leaves, unmap and lookups find them mapped")
    void pageTableFixturesRoundTrip() {
        for (PageTableFixtures.Format f : PageTableFixtures.Format.values()) {
            for (PageTableFixtures.Op op : PageTableFixtures.Op.values()) {
                PageTableFixtures.Table fx = (PageTableFixtures.Table) PageTableFixtures.fixture(f, op).get();
                try {
                    for (int i = 0; i < 3; i++) {
                        fx.prepare();
                        if (op.needsPages) {
                            // The 4K cases measure 4K leaves in a 4-level table: every page its own leaf.
                            long[] leaves = new long[2];
                            fx.table().walk((level, iova, size, pte, leaf) -> {
                                if (leaf && iova >= PageTableFixtures.PAGE_BASE && iova
                                        < PageTableFixtures.PAGE_BASE + PageTableFixtures.PAGES * PageTableFixtures.SZ_4K) {
                                    leaves[size == PageTableFixtures.SZ_4K ? 0 : 1]++;
                                }
                            });
                            assertThat(leaves).as(f + " " + op + " leaves (4K, other)")
                                    .containsExactly(PageTableFixtures.PAGES, 0);
                        }
                        long v = fx.batch();
                        switch (op) {
                            // map_pages returns 0 per call on success
                            case MAP_4K, MAP_256X4K, MAP_2M -> assertThat(v).as(f + " " + op).isZero();
                            case UNMAP_4K -> assertThat(v).as(f + " " + op)
                                    .isEqualTo(PageTableFixtures.PAGES * PageTableFixtures.SZ_4K);
                            case UNMAP_256X4K -> assertThat(v).as(f + " " + op).isEqualTo(
                                    (long) PageTableFixtures.CHUNKS * PageTableFixtures.CHUNK * PageTableFixtures.SZ_4K);
                            case IOVA_TO_PHYS -> assertThat(v).as(f + " " + op).isNotZero();
                            default -> throw new AssertionError(op);
                        }
                    }
                } finally {
                    fx.close();
                }
            }
        }
    }

    @Test
    @DisplayName("case selection: exact names and prefixes, in registration order; an unknown pattern is refused")
    void selection() {
        assertThat(Cases.select(List.of("vtd-sl/map")).stream().map(BenchCase::name).toList())
                .containsExactly("vtd-sl/map-4k", "vtd-sl/map-256x4k", "vtd-sl/map-2m");
        assertThat(Cases.select(List.of())).hasSameSizeAs(Cases.all());
        assertThat(Cases.all()).hasSize(31); // the DMA API's three and SMMUv3 nested hit/walk
        assertThatThrownBy(() -> Cases.select(List.of("nope"))).isInstanceOf(IllegalArgumentException.class);
    }
}
