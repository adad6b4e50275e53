package org.jiommu.dma;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.jetbrains.lincheck.datastructures.IntGen;
import org.jetbrains.lincheck.datastructures.ModelCheckingOptions;
import org.jetbrains.lincheck.datastructures.Operation;
import org.jetbrains.lincheck.datastructures.Param;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * Lincheck in model-checking mode on the magazine exchange of the per-CPU IOVA caches (iova.c
 * {@code __iova_rcache_insert} / {@code __iova_rcache_get}, {@link IovaRcache}): two threads
 * acting as either of two CPUs insert and get pfns, so the checker explores every interleaving
 * of the loaded/prev swap, the push of a full magazine to the depot and the pop of a depot
 * magazine into an empty CPU, each under the CPU's lock and the depot's; every outcome must be
 * that of some sequential order of the same calls (the sequential specification is the same
 * structure run one call at a time). Magazines of 2 pfns (the kernel's hold 127) make a CPU
 * reach its depot in 5 inserts, so a few calls per thread, after a sequential start that fills
 * magazines, cover the exchange; the test stays in seconds.
 */
@Param(name = "cpu", gen = IntGen.class, conf = "0:1")
@Param(name = "pfn", gen = IntGen.class, conf = "1:6")
@Param(name = "limit", gen = IntGen.class, conf = "2:6")
public class IovaRcacheLincheckTest {
    static final int MAG = 2;

    private final IovaRcache rcache = cache(true);

    static IovaRcache cache(boolean cpuLocked) {
        return new IovaRcache(new IovaDomain(0x1000, 1, 2, null), 2, null, MAG, cpuLocked);
    }

    @Operation
    public boolean insert(@Param(name = "cpu") int cpu, @Param(name = "pfn") int pfn) {
        return rcache.insert(cpu, pfn);
    }

    /** A pfn at or below the limit from the CPU's magazines or the depot, 0 if none. */
    @Operation
    public long get(@Param(name = "cpu") int cpu, @Param(name = "limit") int limit) {
        return rcache.get(cpu, limit);
    }

    @Operation
    public int depotSize() {
        return rcache.depotSize();
    }

    @Operation
    public int cpuCached(@Param(name = "cpu") int cpu) {
        return rcache.cpuCached(cpu);
    }

    @Test
    @DisplayName("per-CPU IOVA magazines: every interleaving of 2 threads x 3 calls over 2 CPUs and the depot is linearizable")
    void modelChecking() {
        options().check(IovaRcacheLincheckTest.class);
    }

    private static ModelCheckingOptions options() {
        return new ModelCheckingOptions()
                .iterations(6)
                .invocationsPerIteration(120)
                .threads(2)
                .actorsPerThread(3)
                .actorsBefore(5);
    }

    /**
     * The same calls on magazines whose CPU lock is not taken (the planted bug), every call on
     * CPU 0: the lock guards one CPU's magazines, so that is where its absence shows first.
     */
    @Param(name = "cpu", gen = IntGen.class, conf = "0:0")
    @Param(name = "pfn", gen = IntGen.class, conf = "1:6")
    @Param(name = "limit", gen = IntGen.class, conf = "2:6")
    public static class WithoutCpuLock {
        private final IovaRcache rcache = cache(false);

        @Operation
        public boolean insert(@Param(name = "cpu") int cpu, @Param(name = "pfn") int pfn) {
            return rcache.insert(cpu, pfn);
        }

        @Operation
        public long get(@Param(name = "cpu") int cpu, @Param(name = "limit") int limit) {
            return rcache.get(cpu, limit);
        }

        @Operation
        public int depotSize() {
            return rcache.depotSize();
        }

        @Operation
        public int cpuCached(@Param(name = "cpu") int cpu) {
            return rcache.cpuCached(cpu);
        }
    }

    @Test
    @DisplayName("the same check finds the magazines' lost update when the CPU lock is not taken")
    void withoutCpuLockIsCaught() {
        // e.g. two threads as CPU 1 both pop its one pfn: one outcome no sequential order gives
        // (the size goes to -1 and the next get throws)
        // stop at the first wrong outcome (no minimising of the failing scenario)
        assertThatThrownBy(() -> options().minimizeFailedScenario(false).check(WithoutCpuLock.class))
                .isInstanceOf(AssertionError.class).hasMessageContaining("Invalid execution results");
    }
}
