package org.jiommu.bench;

import java.util.concurrent.TimeUnit;
import org.jiommu.check.InvariantWatch;
import org.jiommu.check.StressHarness;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * One stress run (issue 16's checked-calls target) with the watch checking the whole platform
 * after every call ({@code period} 0) or incrementally ({@code period} 64, the harness's
 * default): the same seed, so the same calls, in one JVM. A run's calls are printed by
 * {@code jiommu stress}; here the score is per run, and {@code -prof gc} gives the bytes
 * allocated per run, a figure the machine's load does not move.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
@State(Scope.Benchmark)
public class StressCheckBench {
    @Param({"mock", "vtd"})
    String kind;

    @Param({"0", "64"})
    int period;

    @Param({"1"})
    int threads;

    @Param({"1000"})
    int ops;

    @Benchmark
    public long run() {
        StressHarness.Result r = StressHarness.run(new StressHarness.Config(1, threads, ops, 3, true,
                StressHarness.Plant.NONE, kind, false).checkingEvery(period));
        InvariantWatch.drain();
        if (!r.problems().isEmpty()) {
            throw new IllegalStateException(String.join("\n", r.problems()));
        }
        return r.calls();
    }
}
