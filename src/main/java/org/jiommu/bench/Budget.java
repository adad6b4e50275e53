package org.jiommu.bench;

/**
 * How long a case is measured: warm-up iterations (run, not recorded: the JIT compiles the hot
 * path), then measured iterations, each at least {@code iterationMillis} of timed batches, on
 * {@code threads} threads with a fixture each; in {@code forks} fresh JVMs one after the other
 * (0 = in this JVM). {@code cpuClock}: batches are timed by the measuring thread's CPU time
 * instead of the wall clock, so time spent waiting for a core on a busy machine is not counted
 * (JMH times by the wall clock, the default here too).
 */
public record Budget(int warmupIterations, int measuredIterations, int iterationMillis, int threads, int forks,
                     boolean cpuClock) {
    public Budget(int warmupIterations, int measuredIterations, int iterationMillis, int threads, int forks) {
        this(warmupIterations, measuredIterations, iterationMillis, threads, forks, false);
    }

    public Budget {
        if (warmupIterations < 0 || measuredIterations < 1 || iterationMillis < 1 || threads < 1 || forks < 0) {
            throw new IllegalArgumentException("bad budget " + warmupIterations + "/" + measuredIterations + "/"
                    + iterationMillis + " ms/" + threads + " threads/" + forks + " forks");
        }
    }

    /** The default run: 1 fork per case, 5 x 500 ms warm-up, 10 x 500 ms measured (~8 s a case). */
    public static Budget full() {
        return new Budget(5, 10, 500, 1, 1);
    }

    /**
     * {@code --quick}: 1 fork per case, 2 x 100 ms warm-up, 5 x 100 ms measured of timed work
     * (a case's untimed preparation between batches makes an iteration up to 4x longer; with
     * the fork's start about 1.6 s a case, all 31 in about 50 s). Three warm-up iterations took
     * the run just over its one-minute budget on the quiet machine (60.07 s, 2026-12-07).
     */
    public static Budget quick() {
        return new Budget(2, 5, 100, 1, 1);
    }

    public Budget withThreads(int n) {
        return new Budget(warmupIterations, measuredIterations, iterationMillis, n, forks, cpuClock);
    }

    public Budget withForks(int n) {
        return new Budget(warmupIterations, measuredIterations, iterationMillis, threads, n, cpuClock);
    }

    public Budget withIterationMillis(int ms) {
        return new Budget(warmupIterations, measuredIterations, ms, threads, forks, cpuClock);
    }

    public Budget withCpuClock(boolean on) {
        return new Budget(warmupIterations, measuredIterations, iterationMillis, threads, forks, on);
    }
}
