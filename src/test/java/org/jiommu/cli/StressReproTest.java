package org.jiommu.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import net.jqwik.api.ForAll;
import net.jqwik.api.Label;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** The parts of the reproducing scenario that do not need a stress run: ddmin and the failure kinds. */
class StressReproTest {
    /**
     * Against a simple reference: a failure that needs a set of elements (all of them, in any
     * order) is minimised to exactly that set, in the list's order, since every other element can
     * go and none of the needed ones can (1-minimal).
     */
    @Property(tries = 200)
    @Label("ddmin keeps exactly the elements a monotone failure needs, in order")
    void ddminFindsTheNeededSet(@ForAll @Size(min = 1, max = 60) List<@IntRange(min = 0, max = 9) Integer> noise,
                                @ForAll @Size(min = 1, max = 4) Set<@IntRange(min = 0, max = 59) Integer> needPositions) {
        List<String> c = new ArrayList<>();
        for (int i = 0; i < noise.size(); i++) {
            c.add(i + ":" + noise.get(i));
        }
        Set<String> need = new HashSet<>();
        List<String> expected = new ArrayList<>();
        for (String x : c) {
            if (needPositions.contains(Integer.parseInt(x.substring(0, x.indexOf(':'))))) {
                need.add(x);
                expected.add(x);
            }
        }
        List<String> min = StressRepro.ddmin(c, l -> l.containsAll(need), Integer.MAX_VALUE);
        assertThat(min).isEqualTo(expected);
    }

    @Property(tries = 100)
    @Label("ddmin's result fails and losing any one element of it passes (1-minimal), for a non-monotone failure")
    void ddminOneMinimal(@ForAll @Size(min = 2, max = 40) List<@IntRange(min = 0, max = 5) Integer> c) {
        // fails when the list holds a 3 after a 1 (order matters) and no 5 between them
        java.util.function.Predicate<List<Integer>> fails = l -> {
            boolean one = false;
            for (int x : l) {
                if (x == 1) {
                    one = true;
                } else if (x == 5) {
                    one = false;
                } else if (x == 3 && one) {
                    return true;
                }
            }
            return false;
        };
        if (!fails.test(c)) {
            return;
        }
        List<Integer> min = StressRepro.ddmin(c, fails, Integer.MAX_VALUE);
        assertThat(fails.test(min)).isTrue();
        for (int i = 0; i < min.size(); i++) {
            List<Integer> less = new ArrayList<>(min);
            less.remove(i);
            assertThat(fails.test(less)).as("without element %d of %s", i, min).isFalse();
        }
        assertThat(min).containsExactly(1, 3);
    }

    @Test
    @DisplayName("ddmin stops after its test budget with a list that still fails")
    void ddminBudget() {
        List<Integer> c = new ArrayList<>();
        for (int i = 0; i < 1000; i++) {
            c.add(i);
        }
        int[] tests = new int[1];
        List<Integer> min = StressRepro.ddmin(c, l -> {
            tests[0]++;
            return l.contains(17) && l.contains(900);
        }, 10);
        assertThat(tests[0]).isLessThanOrEqualTo(10);
        assertThat(min).contains(17, 900).hasSizeLessThan(1000);
    }

    @Test
    @DisplayName("a run's first problem says what the replay must fail with: the DMA, an invariant id, or nothing a step checks")
    void expectedFailure() {
        assertThat(StressRepro.expectedFailure("DMA thread 2 lane2 on D23 iova 300040040: not mapped ... landed"))
                .isEqualTo("dma");
        assertThat(StressRepro.expectedFailure("I7 at quiescent point 1: a2 pasid 5 ...")).isEqualTo("check I7");
        assertThat(StressRepro.expectedFailure("watch: after iommu_attach_group(...) on core@1:\n    I-UNIFORM: b2 ..."))
                .isEqualTo("check I-UNIFORM");
        assertThat(StressRepro.expectedFailure("thread 1 SET_DEV_PASID: EIO ...")).isNull();
        assertThat(StressRepro.expectedFailure(null)).isNull();
    }
}
