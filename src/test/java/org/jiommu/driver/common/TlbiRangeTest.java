package org.jiommu.driver.common;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.LongRange;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

class TlbiRangeTest {
    @Test
    @DisplayName("__arm_smmu_tlb_inv_range: one command per granule without RIL; NUM/SCALE chunks with it")
    void examples() {
        assertThat(TlbiRange.split(0x10000, 0x3000, 0x1000, 12, true, false)).containsExactly(
                new TlbiRange(0x10000, 0x1000, 0, 0, 0, 0), new TlbiRange(0x11000, 0x1000, 0, 0, 0, 0),
                new TlbiRange(0x12000, 0x1000, 0, 0, 0, 0));
        // 35 pages = 0b100011: 3 pages at scale 0, then 1 chunk of 32 pages (scale 5).
        assertThat(TlbiRange.split(0x10000, 35L << 12, 0x1000, 12, true, true)).containsExactly(
                new TlbiRange(0x10000, 3L << 12, 1, 0, 2, 3), new TlbiRange(0x13000, 32L << 12, 1, 5, 0, 3));
        // A 2 MiB leaf on a 4 KiB granule is level 2; a 64 KiB page on 64 KiB tables level 3 (TG 3).
        assertThat(TlbiRange.split(0, 2L << 20, 2L << 20, 12, true, true)).containsExactly(
                new TlbiRange(0, 2L << 20, 1, 9, 0, 2));
        assertThat(TlbiRange.split(0, 0x10000, 0x10000, 16, true, true)).containsExactly(
                new TlbiRange(0, 0x10000, 3, 0, 0, 3));
        // Non-leaf, one page: widened to two (SCALE 1, NUM 0) so SCALE and NUM are not both 0 (TTL 0).
        assertThat(TlbiRange.split(0x4000, 0x1000, 0x1000, 12, false, true)).containsExactly(
                new TlbiRange(0x4000, 0x2000, 1, 1, 0, 0));
        assertThat(TlbiRange.split(0x4000, 0x1000, 0x1000, 12, true, true)).containsExactly(
                new TlbiRange(0x4000, 0x1000, 1, 0, 0, 3));
    }

    /** Against the rule: the commands tile the range from its start, each NUM fits, few commands. */
    @Property(tries = 500)
    void tiles(@ForAll @LongRange(min = 0, max = 1L << 36) long pfn, @ForAll @LongRange(min = 1, max = 1L << 24) long pages,
               @ForAll @IntRange(min = 0, max = 2) int tgIndex, @ForAll boolean leaf) {
        int shift = 12 + 2 * tgIndex;
        long iova = pfn << shift;
        long size = pages << shift;
        List<TlbiRange> cmds = TlbiRange.split(iova, size, 1L << shift, shift, leaf, true);
        long a = iova;
        for (TlbiRange c : cmds) {
            assertThat(c.address()).isEqualTo(a);
            assertThat(c.num()).isBetween(0, TlbiRange.RANGE_NUM_MAX);
            assertThat(c.bytes()).isEqualTo((long) (c.num() + 1) << (c.scale() + shift));
            assertThat(c.tg()).isEqualTo(tgIndex + 1);
            a += c.bytes();
        }
        long expectedPages = !leaf && (pages & 31) == 1 ? pages + 1 : pages;
        assertThat(a - iova).isEqualTo(expectedPages << shift);
        // Five bits of the page count per command.
        int bits = 64 - Long.numberOfLeadingZeros(expectedPages) - Long.numberOfTrailingZeros(expectedPages);
        assertThat(cmds.size()).isLessThanOrEqualTo((bits + 4) / 5);
    }
}
