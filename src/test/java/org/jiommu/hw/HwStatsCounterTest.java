package org.jiommu.hw;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.SynchronousQueue;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Label;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * {@link HwStats.Counter} keeps one cell per counting thread; these check that the sum stays
 * exact whatever threads count and in whatever order, with more threads than lookup slots (so
 * slots are shared and taken over) and with threads that end (their cells get folded).
 */
class HwStatsCounterTest {

    /** One step: thread {@code thread} adds {@code amount} to counter {@code counter}. */
    record Step(int thread, int counter, int amount) {
    }

    @Provide
    Arbitrary<List<Step>> steps() {
        // 40 threads > the 32 lookup slots: ids that share a slot alternate on it.
        Arbitrary<Step> s = Combinators.combine(Arbitraries.integers().between(0, 39),
                Arbitraries.integers().between(0, 2), Arbitraries.integers().between(1, 5)).as(Step::new);
        return s.list().ofMinSize(1).ofMaxSize(200);
    }

    /**
     * The steps run one at a time in the given order: each is handed to its thread through a
     * synchronous queue and the driver waits for the thread's acknowledgement, so the
     * interleaving is the generated one, not the scheduler's; after each step every counter
     * equals the reference sum.
     */
    @Property(tries = 60)
    @Label("counters incremented by many threads in a driven order sum to the reference")
    void drivenInterleavingSumsExactly(@ForAll("steps") List<Step> steps) throws Exception {
        HwStats stats = new HwStats("t");
        HwStats.Counter[] counters = {stats.counter("a"), stats.counter("b"), stats.counter("c")};
        long[] expected = new long[counters.length];
        int threads = 40;
        List<SynchronousQueue<Step>> inbox = new ArrayList<>();
        SynchronousQueue<Boolean> done = new SynchronousQueue<>();
        List<Thread> workers = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            SynchronousQueue<Step> q = new SynchronousQueue<>();
            inbox.add(q);
            Thread w = new Thread(() -> {
                try {
                    while (true) {
                        Step s = q.take();
                        if (s.amount() == 0) {
                            return;
                        }
                        if (s.amount() == 1) {
                            counters[s.counter()].increment();
                        } else {
                            counters[s.counter()].add(s.amount());
                        }
                        done.put(Boolean.TRUE);
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
            w.start();
            workers.add(w);
        }
        try {
            for (Step s : steps) {
                inbox.get(s.thread()).put(s);
                done.take();
                expected[s.counter()] += s.amount();
                for (int c = 0; c < counters.length; c++) {
                    assertThat(counters[c].sum()).isEqualTo(expected[c]);
                }
            }
        } finally {
            for (SynchronousQueue<Step> q : inbox) {
                q.put(new Step(0, 0, 0));
            }
            for (Thread w : workers) {
                w.join();
            }
        }
        for (int c = 0; c < counters.length; c++) {
            assertThat(stats.get(new String[] {"a", "b", "c"}[c])).isEqualTo(expected[c]);
        }
    }

    @Test
    @DisplayName("a counter keeps the counts of threads that have ended, through the folding of their cells")
    void countsOfEndedThreadsStay() throws Exception {
        HwStats stats = new HwStats("t");
        HwStats.Counter c = stats.counter("x");
        long expected = 0;
        for (int round = 0; round < 50; round++) {
            int n = round + 1;
            Thread t = new Thread(() -> {
                for (int i = 0; i < n; i++) {
                    c.increment();
                }
            });
            t.start();
            t.join();
            expected += n;
            t = null;
            if (round % 10 == 9) {
                System.gc(); // lets ended threads' cells be folded when the next thread's cell is made
            }
            c.increment(); // this thread's own cell, each round
            expected++;
            assertThat(c.sum()).isEqualTo(expected);
        }
        assertThat(stats.snapshot().get("x")).isEqualTo(expected);
    }

    @Test
    @DisplayName("a combined counter's increments count in each named counter's sum, get and snapshot")
    void combinedCountsInEachName() {
        HwStats stats = new HwStats("t");
        HwStats.Counter hit = stats.combined("translations", "iotlb.hits");
        HwStats.Counter hit2 = stats.combined("translations", "context-cache.hits");
        stats.counter("translations").add(5);
        stats.counter("iotlb.misses").increment();
        for (int i = 0; i < 3; i++) {
            hit.increment();
        }
        hit2.add(2);
        assertThat(stats.counter("translations").sum()).isEqualTo(10);
        assertThat(stats.get("iotlb.hits")).isEqualTo(3);
        assertThat(stats.get("context-cache.hits")).isEqualTo(2);
        HwStats.Snapshot snap = stats.snapshot();
        assertThat(snap.get("translations")).isEqualTo(10);
        assertThat(snap.get("iotlb.hits")).isEqualTo(3);
        assertThat(snap.get("iotlb.misses")).isEqualTo(1);
        assertThat(snap.asMap()).doesNotContainKey("translations+iotlb.hits");
    }
}
