package org.jiommu.driver.common;

import static org.assertj.core.api.Assertions.assertThat;

import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.LongRange;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

class InvalidationRangeTest {
    static final int ALL = 52;

    @Test
    @DisplayName("calculate_psi_aligned_address: aligned ranges keep their size, unaligned ones widen")
    void examples() {
        assertThat(InvalidationRange.alignedPow2(0x1000, 0x1FFF, false, 12, ALL)).isEqualTo(new InvalidationRange(0x1000, 0));
        assertThat(InvalidationRange.alignedPow2(0x4000, 0x7FFF, false, 12, ALL)).isEqualTo(new InvalidationRange(0x4000, 2));
        // Two pages straddling a 2-page boundary: the 4-page block around them.
        assertThat(InvalidationRange.alignedPow2(0x3000, 0x4FFF, false, 12, ALL)).isEqualTo(new InvalidationRange(0, 3));
        assertThat(InvalidationRange.alignedPow2(0, -1L, false, 12, ALL)).isEqualTo(new InvalidationRange(0, ALL));
        assertThat(InvalidationRange.alignedPow2(0x1000, 0x1FFF, true, 12, ALL)).isEqualTo(new InvalidationRange(0, ALL));
    }

    /** Against a reference: the smallest order whose aligned block holds both ends. */
    @Property(tries = 500)
    void smallestAlignedBlock(@ForAll @LongRange(min = 0, max = 1L << 40) long start,
                              @ForAll @LongRange(min = 0, max = 1L << 30) long length) {
        long last = start + length;
        InvalidationRange r = InvalidationRange.alignedPow2(start, last, false, 12, ALL);
        int order = 0;
        while (((start >>> 12) >>> order) != ((last >>> 12) >>> order)) {
            order++;
        }
        assertThat(r.order()).isEqualTo(order);
        assertThat(r.address()).isEqualTo((start >>> (12 + order)) << (12 + order));
    }
}
