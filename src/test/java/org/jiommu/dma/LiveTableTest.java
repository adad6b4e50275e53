package org.jiommu.dma;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import net.jqwik.api.ForAll;
import net.jqwik.api.Label;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** The DMA layer's per-CPU live-mapping tables (LiveTable) against a plain map. */
class LiveTableTest {
    static final class E extends LiveTable.Entry {
        E(long iova) {
            super(iova);
        }
    }

    @Property(tries = 200)
    @Label("random puts and removes on random CPUs (tables grow, probe chains wrap, gaps close) hold what a map holds")
    void againstAMap(@ForAll long seed, @ForAll @IntRange(min = 1, max = 4) int cpus) {
        Random r = new Random(seed);
        LiveTable<E> t = new LiveTable<>(cpus);
        Map<Long, E> ref = new HashMap<>();
        List<Long> keys = new ArrayList<>();
        for (int step = 0; step < 600; step++) {
            int cpu = r.nextInt(cpus);
            if (keys.isEmpty() || r.nextInt(10) < 6) {
                // neighbouring pages, as the top-down allocator hands them out, plus a few far ones
                long iova = r.nextInt(4) == 0 ? (r.nextLong() & ~0xFFFL) : (0xFFFF_0000L - r.nextInt(400) * 0x1000L);
                if (ref.containsKey(iova)) {
                    continue;
                }
                E e = new E(iova);
                if (r.nextBoolean()) {
                    t.put(cpu, e);
                } else {
                    assertThat(t.putIfAbsent(cpu, e)).isTrue();
                }
                ref.put(iova, e);
                keys.add(iova);
            } else {
                long iova = keys.remove(r.nextInt(keys.size()));
                assertThat(t.remove(cpu, iova)).isSameAs(ref.remove(iova));
                assertThat(t.remove(cpu, iova)).isNull();
            }
            if (step % 50 == 0) {
                Map<Long, E> seen = new HashMap<>();
                t.forEach(e -> assertThat(seen.put(e.iova, e)).isNull());
                assertThat(seen).isEqualTo(ref);
                assertThat(t.size()).isEqualTo(ref.size());
            }
        }
        for (long iova : keys) {
            assertThat(t.remove(r.nextInt(cpus), iova)).isSameAs(ref.remove(iova));
        }
        assertThat(t.size()).isZero();
    }

    @Test
    @DisplayName("an unmap on another CPU finds the mapping where its CPU put it; putIfAbsent sees every CPU's table")
    void crossCpu() {
        LiveTable<E> t = new LiveTable<>(3);
        E a = new E(0x5000);
        t.put(2, a);
        assertThat(t.putIfAbsent(0, new E(0x5000))).isFalse();
        assertThat(t.remove(0, 0x5000)).isSameAs(a);
        assertThat(t.putIfAbsent(1, a)).isTrue();
        assertThat(t.size()).isEqualTo(1);
    }
}
