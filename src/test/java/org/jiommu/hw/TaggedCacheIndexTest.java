package org.jiommu.hw;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
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
 * The per-key1 index behind {@link TaggedCache#invalidateIf(java.util.function.LongPredicate,
 * java.util.function.Predicate)} and {@link TaggedCache#invalidateKey1If}: the indexed
 * invalidations drop exactly what the full scan with the combined predicate drops, leave the
 * same entries in the same order, and stay right across capacity clears and scans.
 */
class TaggedCacheIndexTest {

    /** A cached value that knows its tag, as an IOTLB entry does. */
    record V(long tag, int v) {
    }

    /**
     * 0 put, 1 indexed invalidate of tags = key1 (mod 2) and values = v (mod 3), 2 the same for
     * one tag, 3 scan invalidate (mod 3), 4 invalidate all, 5 get.
     */
    record Op(int kind, long key1, long key2, int value) {
    }

    @Provide
    Arbitrary<List<Op>> ops() {
        Arbitrary<Op> op = Combinators.combine(Arbitraries.integers().between(0, 5), Arbitraries.longs().between(0, 4),
                Arbitraries.longs().between(0, 6), Arbitraries.integers().between(0, 100)).as(Op::new);
        return op.list().ofMaxSize(120);
    }

    @Property(tries = 300)
    @Label("indexed invalidation drops what the full scan drops and keeps the same entries in the same order")
    void indexedMatchesScan(@ForAll("ops") List<Op> ops) {
        int capacity = 10;
        TaggedCache<V> indexed = new TaggedCache<>(capacity);
        TaggedCache<V> scanned = new TaggedCache<>(capacity);
        Map<List<Long>, V> model = new HashMap<>();
        for (Op op : ops) {
            int r = op.value() % 3;
            long parity = op.key1() % 2;
            switch (op.kind()) {
                case 0: {
                    V v = new V(op.key1(), op.value());
                    assertThat(indexed.put(op.key1(), op.key2(), v, indexed.epoch())).isTrue();
                    scanned.put(op.key1(), op.key2(), v, scanned.epoch());
                    List<Long> key = List.of(op.key1(), op.key2());
                    if (!model.containsKey(key) && model.size() >= capacity) {
                        model.clear();
                    }
                    model.put(key, v);
                    break;
                }
                case 1: {
                    long epoch = indexed.epoch();
                    int n = indexed.invalidateIf(tag -> tag % 2 == parity, v -> v.v() % 3 == r);
                    assertThat(indexed.epoch()).isEqualTo(epoch + 1);
                    assertThat(n).isEqualTo(scanned.invalidateIf(v -> v.tag() % 2 == parity && v.v() % 3 == r));
                    assertThat(n).isEqualTo(removeFromModel(model, v -> v.tag() % 2 == parity && v.v() % 3 == r));
                    break;
                }
                case 2: {
                    long epoch = indexed.epoch();
                    int n = indexed.invalidateKey1If(op.key1(), v -> v.v() % 3 == r);
                    assertThat(indexed.epoch()).isEqualTo(epoch + 1);
                    assertThat(n).isEqualTo(scanned.invalidateIf(v -> v.tag() == op.key1() && v.v() % 3 == r));
                    assertThat(n).isEqualTo(removeFromModel(model, v -> v.tag() == op.key1() && v.v() % 3 == r));
                    break;
                }
                case 3: {
                    int n = indexed.invalidateIf(v -> v.v() % 3 == r);
                    assertThat(n).isEqualTo(scanned.invalidateIf(v -> v.v() % 3 == r));
                    assertThat(n).isEqualTo(removeFromModel(model, v -> v.v() % 3 == r));
                    break;
                }
                case 4:
                    assertThat(indexed.invalidateAll()).isEqualTo(scanned.invalidateAll()).isEqualTo(model.size());
                    model.clear();
                    break;
                default:
                    assertThat(indexed.get(op.key1(), op.key2())).isEqualTo(model.get(List.of(op.key1(), op.key2())));
                    break;
            }
            assertThat(indexed.values()).containsExactlyElementsOf(scanned.values());
            assertThat(indexed.size()).isEqualTo(model.size());
            assertThat(indexed.values()).containsExactlyInAnyOrderElementsOf(model.values());
        }
    }

    private static int removeFromModel(Map<List<Long>, V> model, java.util.function.Predicate<V> p) {
        int before = model.size();
        model.values().removeIf(p);
        return before - model.size();
    }

    @Test
    @DisplayName("an indexed invalidation of a tag with no entries drops nothing but still fences racing fills")
    void emptyTagStillBumpsEpoch() {
        TaggedCache<V> c = new TaggedCache<>(4);
        c.put(1, 1, new V(1, 1), c.epoch());
        long seen = c.epoch();
        assertThat(c.invalidateKey1If(2, v -> true)).isZero();
        assertThat(c.put(2, 1, new V(2, 1), seen)).isFalse();
        assertThat(c.invalidateIf(tag -> tag == 3, v -> true)).isZero();
        assertThat(c.values()).containsExactly(new V(1, 1));
    }

    @Test
    @DisplayName("the index forgets entries a capacity clear dropped: a later invalidation counts only live ones")
    void capacityClearResetsIndex() {
        TaggedCache<V> c = new TaggedCache<>(2);
        c.put(7, 1, new V(7, 1), c.epoch());
        c.put(7, 2, new V(7, 2), c.epoch());
        c.put(8, 1, new V(8, 1), c.epoch()); // full: emptied, then this one
        assertThat(c.invalidateKey1If(7, v -> true)).isZero();
        List<V> left = new ArrayList<>(c.values());
        assertThat(left).containsExactly(new V(8, 1));
        assertThat(c.invalidateIf(tag -> true, v -> true)).isEqualTo(1);
        assertThat(c.size()).isZero();
    }
}
