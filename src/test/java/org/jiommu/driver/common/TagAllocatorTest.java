package org.jiommu.driver.common;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.BitSet;
import java.util.List;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

class TagAllocatorTest {
    @Test
    @DisplayName("Lowest free from the first unreserved value, reuse after free, -1 when full (ida_alloc_range)")
    void idaRules() {
        TagAllocator ids = new TagAllocator("dmar0 domain id", 2, 6);
        assertThat(ids.alloc()).isEqualTo(2);
        assertThat(ids.alloc()).isEqualTo(3);
        assertThat(ids.alloc()).isEqualTo(4);
        assertThat(ids.free(3)).isTrue();
        assertThat(ids.alloc()).isEqualTo(3);
        assertThat(ids.alloc()).isEqualTo(5);
        assertThat(ids.alloc()).isEqualTo(-1);
        assertThat(ids.free(1)).as("reserved").isFalse();
        assertThat(ids.free(6)).as("beyond the range").isFalse();
        assertThat(ids.free(4)).isTrue();
        assertThat(ids.free(4)).as("twice").isFalse();
        assertThat(ids.inUse(4)).isFalse();
        assertThat(ids.snapshot().cardinality()).isEqualTo(3);
    }

    /** Against a reference: a set of held tags, the answer always its lowest free value. */
    @Property(tries = 200)
    void lowestFree(@ForAll @Size(max = 60) List<@IntRange(min = -1, max = 20) Integer> ops) {
        TagAllocator ids = new TagAllocator("asid", 1, 16);
        BitSet held = new BitSet();
        for (int op : ops) {
            if (op < 0) {
                int want = held.nextClearBit(1);
                int got = ids.alloc();
                assertThat(got).isEqualTo(want < 16 ? want : -1);
                if (got >= 0) {
                    held.set(got);
                }
            } else {
                assertThat(ids.free(op)).isEqualTo(op >= 1 && op < 16 && held.get(op));
                held.clear(op);
            }
            assertThat(ids.snapshot()).isEqualTo(held);
        }
    }
}
