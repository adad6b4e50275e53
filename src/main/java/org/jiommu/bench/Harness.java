package org.jiommu.bench;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Measures one case in this JVM with JMH's discipline: a fixture per thread built before any
 * timing, warm-up iterations thrown away, measured iterations of whole timed batches (the
 * fixture's un-timed {@code prepare} between batches), every batch's result folded into a
 * published sink, and a figure per iteration from which the median and spread are taken.
 * Forking a fresh JVM per case (so one case's JIT profile cannot slow another's) is
 * {@link BenchRunner}'s job; this class is what runs inside the fork.
 */
public final class Harness {
    /** Where batch results end up, so the JIT must compute them. */
    private static volatile long sink;

    private Harness() {
    }

    /** Runs {@code c} for {@code budget}'s iterations on its threads (forks are ignored here). */
    public static Result measure(BenchCase c, Budget budget) {
        int threads = budget.threads();
        List<Fixture> fixtures = new ArrayList<>();
        try {
            for (int t = 0; t < threads; t++) {
                fixtures.add(c.fixture().get());
            }
            long iterNanos = budget.iterationMillis() * 1_000_000L;
            for (int i = 0; i < budget.warmupIterations(); i++) {
                iteration(fixtures, iterNanos, budget.cpuClock());
            }
            List<Double> figures = new ArrayList<>();
            long ops = 0;
            for (int i = 0; i < budget.measuredIterations(); i++) {
                long[][] perThread = iteration(fixtures, iterNanos, budget.cpuClock());
                figures.add(figure(c.unit(), perThread));
                for (long[] p : perThread) {
                    ops += p[0];
                }
            }
            return new Result(c.name(), c.unit(), figures, ops);
        } finally {
            for (Fixture f : fixtures) {
                f.close();
            }
        }
    }

    /** ns per call as one thread sees it (mean over threads), or M calls/s summed over threads. */
    private static double figure(BenchCase.Unit unit, long[][] perThread) {
        double v = 0;
        for (long[] p : perThread) {
            v += unit == BenchCase.Unit.NS_PER_OP ? (double) p[1] / p[0] : p[0] * 1e3 / p[1];
        }
        return unit == BenchCase.Unit.NS_PER_OP ? v / perThread.length : v;
    }

    /** One iteration on every fixture at once; per thread {calls, timed nanoseconds}. */
    private static long[][] iteration(List<Fixture> fixtures, long iterNanos, boolean cpu) {
        long[][] out = new long[fixtures.size()][];
        if (fixtures.size() == 1) {
            out[0] = run(fixtures.get(0), iterNanos, cpu);
            return out;
        }
        CyclicBarrier start = new CyclicBarrier(fixtures.size());
        AtomicReference<Throwable> failure = new AtomicReference<>();
        List<Thread> workers = new ArrayList<>();
        for (int t = 0; t < fixtures.size(); t++) {
            int idx = t;
            Thread w = new Thread(() -> {
                try {
                    start.await();
                    out[idx] = run(fixtures.get(idx), iterNanos, cpu);
                } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                    start.reset();
                }
            }, "bench-" + t);
            workers.add(w);
            w.start();
        }
        for (Thread w : workers) {
            try {
                w.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted", e);
            }
        }
        if (failure.get() != null) {
            throw new IllegalStateException("bench thread failed: " + failure.get(), failure.get());
        }
        return out;
    }

    /**
     * Timed batches until {@code iterNanos} of timed work (at least one batch); the un-timed
     * prepare steps count only against a wall-clock cap of four times that (with the CPU clock,
     * a busy machine can hit the cap first: fewer batches, the same per-call figure).
     */
    private static long[] run(Fixture f, long iterNanos, boolean cpu) {
        long timed = 0;
        long ops = 0;
        long acc = 0;
        int n = f.opsPerBatch();
        ThreadMXBean threads = ManagementFactory.getThreadMXBean();
        long wallEnd = System.nanoTime() + 4 * iterNanos;
        do {
            f.prepare();
            long t0 = cpu ? threads.getCurrentThreadCpuTime() : System.nanoTime();
            acc += f.batch();
            long t1 = cpu ? threads.getCurrentThreadCpuTime() : System.nanoTime();
            timed += t1 - t0;
            ops += n;
        } while (timed < iterNanos && System.nanoTime() < wallEnd);
        sink ^= acc;
        return new long[] {ops, Math.max(1, timed)};
    }
}
