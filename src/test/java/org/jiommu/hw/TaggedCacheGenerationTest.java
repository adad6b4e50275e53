package org.jiommu.hw;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

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
 * {@link TaggedCache#generation()} is what the translation units' per-requester memos trust: a
 * {@code get} result remembered with the generation read before it must equal a fresh {@code
 * get} for as long as the generation has not moved, whatever puts (new keys, replacements, the
 * clear of a full cache) and invalidations (all, by value, by tag, by one tag) came between.
 */
class TaggedCacheGenerationTest {

    /** 0 put, 1 remember a get, 2 invalidate by value, 3 by tag, 4 one tag, 5 all. */
    record Op(int kind, long key1, long key2, int value) {
    }

    record Memo(Integer value, long generation) {
    }

    @Provide
    Arbitrary<List<Op>> ops() {
        Arbitrary<Op> op = Combinators.combine(Arbitraries.integers().between(0, 5).edgeCases(c -> c.includeOnly(0, 1)),
                Arbitraries.longs().between(0, 3), Arbitraries.longs().between(0, 5),
                Arbitraries.integers().between(0, 100)).as(Op::new);
        return op.list().ofMaxSize(80);
    }

    @Property(tries = 400)
    @Label("a get remembered under an unchanged generation equals a fresh get")
    void unchangedGenerationMeansUnchangedResult(@ForAll("ops") List<Op> ops) {
        TaggedCache<Integer> cache = new TaggedCache<>(6);
        Map<List<Long>, Memo> memos = new HashMap<>();
        long lastGeneration = cache.generation();
        for (Op op : ops) {
            switch (op.kind()) {
                case 0 -> cache.put(op.key1(), op.key2(), op.value(), cache.epoch());
                case 1 -> {
                    long g = cache.generation();
                    memos.put(List.of(op.key1(), op.key2()), new Memo(cache.get(op.key1(), op.key2()), g));
                }
                case 2 -> cache.invalidateIf(v -> v % 3 == op.value() % 3);
                case 3 -> cache.invalidateIf(t -> t == op.key1() || t == op.key2(), v -> v % 2 == op.value() % 2);
                case 4 -> cache.invalidateKey1If(op.key1(), v -> v % 2 == op.value() % 2);
                default -> cache.invalidateAll();
            }
            assertThat(cache.generation()).isGreaterThanOrEqualTo(lastGeneration);
            lastGeneration = cache.generation();
            for (Map.Entry<List<Long>, Memo> e : memos.entrySet()) {
                Memo m = e.getValue();
                // A remembered hit must hold; a remembered miss is only a hint (a new key may come).
                if (m.value() != null && m.generation() == cache.generation()) {
                    assertThat(cache.get(e.getKey().get(0), e.getKey().get(1)))
                            .as("key %s remembered at generation %d", e.getKey(), m.generation())
                            .isEqualTo(m.value());
                }
            }
        }
    }

    @Test
    @DisplayName("a new key leaves the generation alone; a replacement, a full-cache clear and a removal move it")
    void whatMovesTheGeneration() {
        TaggedCache<Integer> cache = new TaggedCache<>(2);
        long g0 = cache.generation();
        cache.put(1, 1, 10, cache.epoch());
        cache.put(1, 2, 20, cache.epoch());
        assertThat(cache.generation()).isEqualTo(g0);
        cache.put(1, 2, 21, cache.epoch()); // replacement
        long g1 = cache.generation();
        assertThat(g1).isGreaterThan(g0);
        cache.put(1, 3, 30, cache.epoch()); // full: cleared first
        long g2 = cache.generation();
        assertThat(g2).isGreaterThan(g1);
        assertThat(cache.invalidateKey1If(7, v -> true)).isZero(); // nothing removed
        assertThat(cache.generation()).isEqualTo(g2);
        assertThat(cache.invalidateKey1If(1, v -> true)).isEqualTo(1);
        assertThat(cache.generation()).isGreaterThan(g2);
    }
}
