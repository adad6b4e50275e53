package org.jiommu.bench;

import java.util.concurrent.TimeUnit;
import org.jiommu.mem.PhysicalMemory;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * What one page-table word access costs in {@link PhysicalMemory}: the floor under every
 * ARM LPAE figure (docs/PERFORMANCE.md). 512 words = one 4K table, over 64 tables.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
@State(Scope.Thread)
public class PhysicalMemoryBench {
    static final int WORDS = 64 * 512;
    static final long BASE = 0x1000_0000L;

    PhysicalMemory memory;

    @Setup
    public void setup() {
        memory = new PhysicalMemory(1L << 30);
        memory.fillLongsRelease(BASE, WORDS, 0x1003, 0x1000);
    }

    @Benchmark
    @OperationsPerInvocation(WORDS)
    public long readLong() {
        long sum = 0;
        for (int i = 0; i < WORDS; i++) {
            sum += memory.readLong(BASE + 8L * i);
        }
        return sum;
    }

    @Benchmark
    @OperationsPerInvocation(WORDS)
    public void writeLongVolatile() {
        for (int i = 0; i < WORDS; i++) {
            memory.writeLong(BASE + 8L * i, 0x1003 + i);
        }
    }

    @Benchmark
    @OperationsPerInvocation(WORDS)
    public void writeLongRelease() {
        for (int i = 0; i < WORDS; i++) {
            memory.writeLongRelease(BASE + 8L * i, 0x1003 + i);
        }
    }

    @Benchmark
    @OperationsPerInvocation(WORDS)
    public int countMatchingLongs() {
        int n = 0;
        for (int t = 0; t < WORDS; t += 512) {
            n += memory.countMatchingLongs(BASE + 8L * t, 512, 3, 3);
        }
        return n;
    }

    @Benchmark
    @OperationsPerInvocation(WORDS)
    public void fillLongsRelease() {
        for (int t = 0; t < WORDS; t += 512) {
            memory.fillLongsRelease(BASE + 8L * t, 512, 0x1003, 0x1000);
        }
    }
}
