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

class TaggedCacheTest {

    /** One operation: 0 put, 1 get, 2 invalidate values = r (mod 3), 3 invalidate all. */
    record Op(int kind, long key1, long key2, int value) {
    }

    @Provide
    Arbitrary<List<Op>> ops() {
        Arbitrary<Op> op = Combinators.combine(Arbitraries.integers().between(0, 3), Arbitraries.longs().between(0, 3),
                Arbitraries.longs().between(0, 5), Arbitraries.integers().between(0, 100)).as(Op::new);
        return op.list().ofMaxSize(80);
    }

    @Property(tries = 300)
    @Label("a TaggedCache behaves as a map that empties itself when a new key finds it full")
    void againstModel(@ForAll("ops") List<Op> ops) {
        int capacity = 8;
        TaggedCache<Integer> cache = new TaggedCache<>(capacity);
        Map<List<Long>, Integer> model = new HashMap<>();
        for (Op op : ops) {
            List<Long> key = List.of(op.key1(), op.key2());
            switch (op.kind()) {
                case 0:
                    assertThat(cache.put(op.key1(), op.key2(), op.value(), cache.epoch())).isTrue();
                    if (!model.containsKey(key) && model.size() >= capacity) {
                        model.clear();
                    }
                    model.put(key, op.value());
                    break;
                case 1:
                    assertThat(cache.get(op.key1(), op.key2())).isEqualTo(model.get(key));
                    break;
                case 2: {
                    int r = op.value() % 3;
                    long before = model.size();
                    model.values().removeIf(v -> v % 3 == r);
                    assertThat(cache.invalidateIf(v -> v % 3 == r)).isEqualTo((int) (before - model.size()));
                    break;
                }
                default:
                    assertThat(cache.invalidateAll()).isEqualTo(model.size());
                    model.clear();
                    break;
            }
            assertThat(cache.size()).isEqualTo(model.size());
        }
        assertThat(cache.values()).containsExactlyInAnyOrderElementsOf(model.values());
    }

    @Test
    @DisplayName("a new key that finds the cache full counts itself even when its bucket held another key")
    void fullCacheClearCountsTheNewEntry() {
        TaggedCache<Integer> cache = new TaggedCache<>(1);
        // capacity 1: every put of a new key clears the cache first; over 64 keys some land in the
        // bucket of the entry being cleared, the case that once left size at 0
        for (int k = 0; k < 64; k++) {
            assertThat(cache.put(k, k, k, cache.epoch())).isTrue();
            assertThat(cache.size()).as("size after put of key %d", k).isEqualTo(1);
            assertThat(cache.get(k, k)).isEqualTo(k);
        }
    }

    @Test
    @DisplayName("a fill that raced with an invalidation is dropped (the epoch moved)")
    void epochDropsRacingFill() {
        TaggedCache<String> cache = new TaggedCache<>(16);
        long epoch = cache.epoch();
        cache.invalidateIf(v -> false); // even an invalidation that matched nothing
        assertThat(cache.put(1, 2, "stale", epoch)).isFalse();
        assertThat(cache.get(1, 2)).isNull();
        assertThat(cache.put(1, 2, "fresh", cache.epoch())).isTrue();
        assertThat(cache.get(1, 2)).isEqualTo("fresh");
    }

    @Test
    @DisplayName("capacity 0 disables caching")
    void disabled() {
        TaggedCache<String> cache = new TaggedCache<>(0);
        assertThat(cache.put(1, 1, "x", cache.epoch())).isFalse();
        assertThat(cache.get(1, 1)).isNull();
    }

    @Test
    @DisplayName("IotlbEntry: translate keeps the offset; overlap is inclusive of the first and last byte")
    void iotlbEntry() {
        IotlbEntry e = new IotlbEntry(7, 0x20_0000L, 21, 0x8020_0000L, IotlbEntry.READ, 2);
        assertThat(e.translate(0x21_2345L)).isEqualTo(0x8021_2345L);
        assertThat(e.overlaps(0x3F_F000L, 0x1000)).isTrue();
        assertThat(e.overlaps(0x40_0000L, 0x1000)).isFalse();
        assertThat(e.overlaps(0x1F_F000L, 0x1000)).isFalse();
        assertThat(e.overlaps(0, Long.MAX_VALUE)).isTrue();
        assertThat(e.readable()).isTrue();
        assertThat(e.writable()).isFalse();
        Iotlb tlb = new Iotlb(4);
        assertThat(tlb.insert(e, tlb.epoch())).isTrue();
        assertThat(tlb.lookup(7, 0x3F_FFFFL, 21)).isSameAs(e);
        assertThat(tlb.lookup(7, 0x3F_FFFFL, 12)).isNull();
        assertThat(tlb.lookup(8, 0x3F_FFFFL, 21)).isNull();
        assertThat(tlb.invalidateRange(7, 0x1000, 0x1000)).isZero();
        assertThat(tlb.invalidateRange(7, 0x20_1000L, 0x1000)).isEqualTo(1);
        assertThat(tlb.size()).isZero();
    }

    @Test
    @DisplayName("HwStats: counters by name, snapshots and differences")
    void stats() {
        HwStats s = new HwStats("unit0");
        s.counter("a").increment();
        s.counter("a").add(4);
        HwStats.Snapshot one = s.snapshot();
        s.counter("b").increment();
        assertThat(s.counter("a")).isSameAs(s.counter("a"));
        assertThat(one.get("a")).isEqualTo(5);
        assertThat(s.snapshot().minus(one).asMap()).containsExactly(Map.entry("b", 1L));
        assertThat(s.toString()).contains("unit0").contains("a 5").contains("b 1");
        assertThat(s.get("missing")).isZero();
    }
}
