package org.jiommu.core;

import java.util.TreeSet;
import org.jetbrains.lincheck.datastructures.IntGen;
import org.jetbrains.lincheck.datastructures.ModelCheckingOptions;
import org.jetbrains.lincheck.datastructures.Operation;
import org.jetbrains.lincheck.datastructures.Param;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * Lincheck in model-checking mode on the global PASID allocator ({@code iommu_global_pasid_ida},
 * {@link GlobalPasidAllocator}): every interleaving of two threads making three calls each
 * (alloc with a small {@code max_pasids}, free, isAllocated) must be linearizable against
 * {@link Reference}, a plain sequential lowest-free-id model. Small PASID ranges make
 * exhaustion ({@code IOMMU_PASID_INVALID}) and frees of ids not allocated part of the search.
 * Deliberately small (issue 16: the whole core under Lincheck took 100-200 s per class).
 */
@Param(name = "max", gen = IntGen.class, conf = "1:4")
@Param(name = "pasid", gen = IntGen.class, conf = "0:3")
public class GlobalPasidAllocatorLincheckTest {
    private final GlobalPasidAllocator ida = new GlobalPasidAllocator();

    @Operation
    public int alloc(@Param(name = "max") int max) {
        return ida.alloc(max);
    }

    @Operation
    public boolean free(@Param(name = "pasid") int pasid) {
        return ida.free(pasid);
    }

    @Operation
    public boolean isAllocated(@Param(name = "pasid") int pasid) {
        return ida.isAllocated(pasid);
    }

    /**
     * The sequential reference: the lowest id of {@code [1, max - 1]} not handed out
     * ({@code ida_alloc_range(1, max - 1)}), INVALID when none; free of an id not handed out fails.
     */
    public static final class Reference {
        private final TreeSet<Integer> used = new TreeSet<>();

        public int alloc(int max) {
            for (int id = IommuCore.IOMMU_FIRST_GLOBAL_PASID; id < max; id++) {
                if (used.add(id)) {
                    return id;
                }
            }
            return IommuCore.IOMMU_PASID_INVALID;
        }

        public boolean free(int pasid) {
            return used.remove(pasid);
        }

        public boolean isAllocated(int pasid) {
            return used.contains(pasid);
        }
    }

    @Test
    @DisplayName("global PASID allocator: every interleaving of 2 threads x 3 calls is linearizable to the lowest-free-id model")
    void modelChecking() {
        options().check(GlobalPasidAllocatorLincheckTest.class);
    }

    private static ModelCheckingOptions options() {
        return new ModelCheckingOptions()
                .iterations(12)
                .invocationsPerIteration(300)
                .threads(2)
                .actorsPerThread(3)
                .sequentialSpecification(Reference.class);
    }

    /**
     * The same operations on an allocator whose alloc is a check-then-set without a lock: the
     * model checker must find the interleaving where both threads get the same id (so the test
     * above can fail when the allocator loses its lock).
     */
    @Param(name = "max", gen = IntGen.class, conf = "1:4")
    @Param(name = "pasid", gen = IntGen.class, conf = "0:3")
    public static class Racy {
        private final boolean[] used = new boolean[8];

        @Operation
        public int alloc(@Param(name = "max") int max) {
            for (int id = IommuCore.IOMMU_FIRST_GLOBAL_PASID; id < max; id++) {
                if (!used[id]) {
                    used[id] = true;
                    return id;
                }
            }
            return IommuCore.IOMMU_PASID_INVALID;
        }

        @Operation
        public boolean free(@Param(name = "pasid") int pasid) {
            boolean was = used[pasid];
            used[pasid] = false;
            return was;
        }

        @Operation
        public boolean isAllocated(@Param(name = "pasid") int pasid) {
            return used[pasid];
        }
    }

    @Test
    @DisplayName("the same check finds the lost update of an allocator without its lock")
    void racyAllocatorIsCaught() {
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> options().check(Racy.class))
                .isInstanceOf(AssertionError.class).hasMessageContaining("alloc");
    }
}
