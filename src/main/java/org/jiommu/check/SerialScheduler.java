package org.jiommu.check;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.Semaphore;

/**
 * The seeded serial scheduler: every worker keeps its own thread (so per-thread state such as
 * the watch's call frames is what it is in a free run), but a worker runs only when handed
 * the turn, for exactly one step, and hands it back. The next worker is drawn from a Random
 * seeded by the run's seed among those that have steps left and are not waiting at the
 * quiescent point; when all are waiting, the quiescent check runs on the scheduler's thread,
 * as the barrier action does in a free run. With no two steps ever overlapping, every call
 * sees the state the previous one left, and the run is the same on every machine.
 */
final class SerialScheduler {
    private final StressHarness.Config cfg;
    private final List<StressHarness.Worker> workers;
    private final Runnable quiesce;
    private final StressHarness.Run run;
    private final Semaphore[] turn;
    private final Semaphore stepDone = new Semaphore(0);
    /** The run's first problem so far, or null: after each step, to end the reproducing log there. */
    private final java.util.function.Supplier<String> problem;

    SerialScheduler(StressHarness.Config cfg, List<StressHarness.Worker> workers, Runnable quiesce, StressHarness.Run run,
                    java.util.function.Supplier<String> problem) {
        this.problem = problem;
        this.cfg = cfg;
        this.workers = workers;
        this.quiesce = quiesce;
        this.run = run;
        this.turn = new Semaphore[workers.size()];
        for (int i = 0; i < turn.length; i++) {
            turn[i] = new Semaphore(0);
        }
    }

    void run() {
        List<Thread> threads = new ArrayList<>();
        for (StressHarness.Worker wk : workers) {
            Thread th = new Thread(() -> {
                for (int i = 0; i < cfg.opsPerThread(); i++) {
                    turn[wk.tid].acquireUninterruptibly();
                    try {
                        wk.step();
                    } catch (Throwable e) {
                        run.unexpected.add("thread " + wk.tid + ": " + e);
                    } finally {
                        stepDone.release();
                    }
                }
            }, "stress-serial-" + cfg.seed() + "-" + wk.tid);
            threads.add(th);
            th.start();
        }
        Random order = new Random(cfg.seed() * 0x9E3779B97F4A7C15L + 0x5EED);
        int n = workers.size();
        int[] done = new int[n];
        boolean[] waiting = new boolean[n];
        int[] ready = new int[n];
        while (true) {
            int count = 0;
            boolean anyWaiting = false;
            for (int t = 0; t < n; t++) {
                if (waiting[t]) {
                    anyWaiting = true;
                } else if (done[t] < cfg.opsPerThread()) {
                    ready[count++] = t;
                }
            }
            if (count == 0) {
                if (!anyWaiting) {
                    break;
                }
                // every worker has reached the quiescent point (they all make the same number of steps)
                quiesce.run();
                markFailure();
                Arrays.fill(waiting, false);
                continue;
            }
            int t = ready[order.nextInt(count)];
            turn[t].release();
            stepDone.acquireUninterruptibly();
            markFailure();
            done[t]++;
            if (quiesce != null && done[t] % StressHarness.QUIESCE == 0) {
                waiting[t] = true;
            }
        }
        StressHarness.join(threads, run);
    }

    private void markFailure() {
        if (!run.repro.failed()) {
            String p = problem.get();
            if (p != null) {
                run.repro.markFailure(p);
            }
        }
    }
}
