package org.jiommu.dma;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.AtomicReferenceArray;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Label;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** The per-CPU IOVA caches (iova.c: magazines, depot, trim work, flush on a full tree). */
class IovaRcacheTest {
    static final long LIMIT = (1L << 20) - 1;
    static final int MAG = IovaRcache.IOVA_MAG_SIZE;

    /** {@code n} single-pfn ranges from the tree, highest first. */
    static long[] allocate(IovaDomain iovad, int n) {
        long[] pfns = new long[n];
        for (int i = 0; i < n; i++) {
            pfns[i] = iovad.allocIova(1, LIMIT, true).pfnLo();
        }
        return pfns;
    }

    @Test
    @DisplayName("a CPU caches 2 x 127 pfns in loaded and prev; the 255th free sends the full loaded magazine to the depot")
    void magazinesThenDepot() {
        IovaDomain iovad = new IovaDomain(0x1000, 1, 2, null);
        long[] pfns = allocate(iovad, 2 * MAG + 1);
        IovaRcache r = iovad.rcache(0);
        for (int i = 0; i < 2 * MAG; i++) {
            iovad.freeIovaFast(0, pfns[i], 1);
        }
        assertThat(r.cpuCached(0)).isEqualTo(2 * MAG);
        assertThat(r.depotSize()).isZero();
        iovad.freeIovaFast(0, pfns[2 * MAG], 1);
        assertThat(r.depotSize()).isEqualTo(1);
        assertThat(r.cpuCached(0)).isEqualTo(MAG + 1);
        assertThat(r.cpuCached(1)).isZero();
        // Nothing went back to the tree: the caches hold the ranges.
        assertThat(iovad.ranges()).hasSize(2 * MAG + 1);
    }

    @Test
    @DisplayName("get pops loaded last-in first, then swaps in prev, then takes a full magazine from the depot")
    void getOrder() {
        IovaDomain iovad = new IovaDomain(0x1000, 1, 2, null);
        long[] pfns = allocate(iovad, 3 * MAG);
        for (long p : pfns) {
            // the first 127 fill loaded; the next 127 go to prev after a swap (prev becomes
            // loaded); the 255th finds both full: that loaded (the second 127) goes to the depot
            iovad.freeIovaFast(0, p, 1);
        }
        // CPU 1 has nothing of its own: it gets the depot's magazine, last in first out.
        assertThat(iovad.allocIovaFast(1, 1, LIMIT, false)).isEqualTo(pfns[2 * MAG - 1]);
        assertThat(iovad.rcache(0).depotSize()).isZero();
        // CPU 0: loaded is last in, first out.
        assertThat(iovad.allocIovaFast(0, 1, LIMIT, false)).isEqualTo(pfns[3 * MAG - 1]);
        for (int i = 1; i < MAG; i++) {
            iovad.allocIovaFast(0, 1, LIMIT, false);
        }
        // loaded is empty now: prev (the first 127) is swapped in.
        assertThat(iovad.allocIovaFast(0, 1, LIMIT, false)).isEqualTo(pfns[MAG - 1]);
    }

    @Test
    @DisplayName("a cached pfn above the caller's limit is skipped; the highest one below takes the top slot's place")
    void popRespectsLimit() {
        IovaDomain iovad = new IovaDomain(0x1000, 1, 1, null);
        long high = iovad.allocIova(1, LIMIT, true).pfnLo();
        long low = iovad.allocIova(1, 0xff, true).pfnLo();
        assertThat(high).isEqualTo(LIMIT);
        assertThat(low).isEqualTo(0xff);
        iovad.freeIovaFast(0, low, 1);
        iovad.freeIovaFast(0, high, 1);
        assertThat(iovad.allocIovaFast(0, 1, 0xff, false)).isEqualTo(low);
        assertThat(iovad.cachedPfns()).containsExactly(high);
        // Nothing cached fits under 0xff any more: the tree gives a new range.
        long fresh = iovad.allocIovaFast(0, 1, 0xff, false);
        assertThat(fresh).isNotIn(high, 0L).isLessThanOrEqualTo(0xff);
    }

    @Test
    @DisplayName("the depot trim work gives one magazine per 100 ms back to the tree until one per CPU is left")
    void depotTrim() {
        SimClock clock = new SimClock();
        IovaDomain iovad = new IovaDomain(0x1000, 1, 2, clock);
        long[] pfns = allocate(iovad, 6 * MAG);
        for (long p : pfns) {
            iovad.freeIovaFast(0, p, 1);
        }
        IovaRcache r = iovad.rcache(0);
        assertThat(r.depotSize()).isEqualTo(4);
        clock.advance(99);
        assertThat(r.depotSize()).isEqualTo(4);
        clock.advance(1);
        assertThat(r.depotSize()).isEqualTo(3);
        assertThat(iovad.ranges()).hasSize(5 * MAG);
        clock.advance(100);
        assertThat(r.depotSize()).isEqualTo(2);
        clock.advance(1000);
        assertThat(r.depotSize()).isEqualTo(2); // two CPUs: two magazines stay
        assertThat(iovad.ranges()).hasSize(4 * MAG);
    }

    @Test
    @DisplayName("alloc_iova_fast on a full space gives every cache back to the tree and retries once")
    void flushOnFull() {
        IovaDomain iovad = new IovaDomain(0x1000, 1, 2, null);
        // A space of pfns 1..16: fill it with single pfns, cache them all on CPU 1.
        List<Long> pfns = new ArrayList<>();
        for (long p; (p = iovad.allocIovaFast(0, 1, 16, false)) != 0; ) {
            pfns.add(p);
        }
        assertThat(pfns).hasSize(16);
        pfns.forEach(p -> iovad.freeIovaFast(1, p, 1));
        // CPU 0 wants 4 aligned pfns: none without the flush, and with it they come from the tree.
        assertThat(iovad.allocIovaFast(0, 4, 16, false)).isZero();
        long got = iovad.allocIovaFast(0, 4, 16, true);
        assertThat(got).isEqualTo(12); // (17 - 4) & ~3: the highest aligned start
        assertThat(iovad.cachedRanges()).isZero();
        assertThat(iovad.ranges()).hasSize(1);
    }

    // ------------------------------------------------------------------ concurrency

    /** One step of a schedule: CPU {@code cpu} allocates {@code 2^order} pfns, or frees the held range {@code pick}. */
    record Step(int cpu, boolean alloc, int order, int pick) {
    }

    @Provide
    Arbitrary<List<Step>> schedules() {
        return Combinators.combine(Arbitraries.integers().between(0, 3), Arbitraries.of(true, true, false),
                Arbitraries.integers().between(0, 2), Arbitraries.integers().between(0, 100_000))
                .as(Step::new).list().ofMinSize(50).ofMaxSize(1500);
    }

    @Property(tries = 60)
    @Label("per-CPU caches under a driven interleaving of 4 CPUs: no IOVA handed out twice, none lost")
    void drivenInterleaving(@ForAll("schedules") List<Step> schedule) {
        // The schedule is the interleaving: each step is one CPU's whole call, which is what the
        // per-CPU and depot locks make atomic. Ranges are freed on any CPU, so magazines travel
        // through the depot from the CPU that frees to the CPU that allocates.
        IovaDomain iovad = new IovaDomain(0x1000, 1, 4, null);
        List<long[]> held = new ArrayList<>();
        Set<Long> live = new HashSet<>();
        for (Step s : schedule) {
            if (s.alloc()) {
                long size = 1L << s.order();
                long pfn = iovad.allocIovaFast(s.cpu(), size, 0x3fff, true);
                assertThat(pfn).isNotZero();
                for (long p = pfn; p < pfn + size; p++) {
                    assertThat(live.add(p)).as("pfn %#x handed out twice", p).isTrue();
                }
                held.add(new long[] {pfn, size});
            } else if (!held.isEmpty()) {
                long[] h = held.remove(s.pick() % held.size());
                for (long p = h[0]; p < h[0] + h[1]; p++) {
                    live.remove(p);
                }
                iovad.freeIovaFast(s.cpu(), h[0], h[1]);
            }
        }
        checkNoneLost(iovad, held);
    }

    /** Every tree range is held or cached, never both; after freeing all and flushing, the tree is empty. */
    static void checkNoneLost(IovaDomain iovad, List<long[]> held) {
        Set<Long> cached = new HashSet<>(iovad.cachedPfns());
        Set<Long> heldPfns = new HashSet<>();
        held.forEach(h -> heldPfns.add(h[0]));
        assertThat(cached.stream().filter(heldPfns::contains)).isEmpty();
        Set<Long> tree = new HashSet<>();
        iovad.ranges().forEach(n -> tree.add(n.pfnLo()));
        Set<Long> both = new HashSet<>(cached);
        both.addAll(heldPfns);
        assertThat(tree).isEqualTo(both);
        for (long[] h : held) {
            iovad.freeIovaFast(0, h[0], h[1]);
        }
        for (int c = 0; c < iovad.cpus(); c++) {
            iovad.freeCpuCachedIovas(c);
        }
        iovad.freeGlobalCachedIovas();
        assertThat(iovad.ranges()).isEmpty();
    }

    @Test
    @DisplayName("two threads on two CPUs allocating and freeing each other's ranges: no IOVA handed out twice, none lost")
    void twoThreads() throws Exception {
        // The assertions hold in every interleaving (each is checked under no assumption about
        // which thread ran first), so the outcome does not depend on the scheduler.
        IovaDomain iovad = new IovaDomain(0x1000, 1, 2, null);
        Set<Long> live = ConcurrentHashMap.newKeySet();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        AtomicReferenceArray<List<long[]>> handoff = new AtomicReferenceArray<>(2);
        CyclicBarrier phase = new CyclicBarrier(2);
        Thread[] t = new Thread[2];
        for (int cpu = 0; cpu < 2; cpu++) {
            int me = cpu;
            t[cpu] = new Thread(() -> {
                try {
                    for (int round = 0; round < 20; round++) {
                        List<long[]> mine = new ArrayList<>();
                        for (int i = 0; i < 300; i++) {
                            long size = 1L << (i % 3);
                            long pfn = iovad.allocIovaFast(me, size, 0xffff, true);
                            if (pfn == 0 || !live.add(pfn)) {
                                throw new AssertionError("pfn " + pfn + " lost or handed out twice");
                            }
                            mine.add(new long[] {pfn, size});
                        }
                        handoff.set(me, mine);
                        phase.await();
                        // free what the other CPU allocated, on this CPU
                        for (long[] h : handoff.get(1 - me)) {
                            live.remove(h[0]);
                            iovad.freeIovaFast(me, h[0], h[1]);
                        }
                        phase.await();
                    }
                } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                    phase.reset();
                }
            });
            t[cpu].start();
        }
        for (Thread th : t) {
            th.join();
        }
        assertThat(failure.get()).isNull();
        assertThat(live).isEmpty();
        checkNoneLost(iovad, List.of());
    }
}
