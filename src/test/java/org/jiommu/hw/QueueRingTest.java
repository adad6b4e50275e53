package org.jiommu.hw;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayDeque;
import java.util.Deque;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;
import java.util.List;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * The ring in both disciplines: VT-d's (indices, one slot kept empty) and SMMUv3's (a wrap bit
 * above the index, every slot usable), against a deque as the reference queue.
 */
class QueueRingTest {
    @Test
    @DisplayName("VT-d style: 256 x 16-byte entries, empty when equal, full with one slot left, wraps to 0")
    void vtdStyle() {
        QueueRing r = new QueueRing(0x10000, 8, 4, false);
        assertThat(r.entries()).isEqualTo(256);
        assertThat(r.slotAddress(3)).isEqualTo(0x10030);
        assertThat(r.capacity()).isEqualTo(255);
        assertThat(r.empty(5, 5)).isTrue();
        assertThat(r.full(4, 5)).isTrue();
        assertThat(r.full(5, 4)).isFalse();
        assertThat(r.advance(255)).isZero();
        assertThat(r.used(2, 250)).isEqualTo(8);
        assertThat(r.valid(255)).isTrue();
        assertThat(r.valid(256)).isFalse();
    }

    @Test
    @DisplayName("SMMUv3 style: the wrap bit flips on each pass; equal indices with different wraps is full")
    void smmuStyle() {
        QueueRing r = new QueueRing(0x20000, 3, 4, true); // 8 entries, pointers 4 bits
        assertThat(r.advance(7)).isEqualTo(8); // index 0, wrap 1
        assertThat(r.advance(15)).isZero();
        assertThat(r.index(8)).isZero();
        assertThat(r.wrap(8)).isTrue();
        assertThat(r.slotAddress(9)).isEqualTo(0x20010);
        assertThat(r.full(8, 0)).isTrue();
        assertThat(r.empty(8, 8)).isTrue();
        assertThat(r.used(3, 13)).isEqualTo(6);
        assertThat(r.capacity()).isEqualTo(8);
        assertThat(r.valid(15)).isTrue();
        assertThat(r.valid(16)).isFalse();
    }

    @Property(tries = 200)
    void producerConsumerAgreeWithADeque(@ForAll boolean wrapBit, @ForAll @IntRange(min = 0, max = 4) int log2,
                                         @ForAll @Size(max = 60) List<@IntRange(min = 0, max = 2) Integer> ops) {
        QueueRing r = new QueueRing(0x1000, log2, 5, wrapBit);
        Deque<Integer> ref = new ArrayDeque<>();
        int prod = 0;
        int cons = 0;
        int next = 0;
        for (int op : ops) {
            if (op < 2) { // produce, if there is room
                if (ref.size() < r.capacity()) {
                    assertThat(r.full(prod, cons)).isFalse();
                    ref.addLast(next++);
                    prod = r.advance(prod);
                } else {
                    assertThat(r.full(prod, cons)).isTrue();
                }
            } else if (!ref.isEmpty()) {
                assertThat(r.empty(prod, cons)).isFalse();
                ref.removeFirst();
                cons = r.advance(cons);
            } else {
                assertThat(r.empty(prod, cons)).isTrue();
            }
            assertThat(r.used(prod, cons)).isEqualTo(ref.size());
            assertThat(r.valid(prod) && r.valid(cons)).isTrue();
        }
    }
}
