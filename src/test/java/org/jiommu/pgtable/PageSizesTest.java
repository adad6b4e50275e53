package org.jiommu.pgtable;

import static org.assertj.core.api.Assertions.assertThat;

import net.jqwik.api.ForAll;
import net.jqwik.api.Label;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.LongRange;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

class PageSizesTest {
    static final long SZ_4K = 0x1000, SZ_2M = 0x200000, SZ_1G = 0x40000000;
    static final long BITMAP = SZ_4K | SZ_2M | SZ_1G;

    @Test
    @DisplayName("9.1 aligned run uses the largest page")
    void largest() {
        assertThat(PageSizes.pgsize(BITMAP, 0x40000000, 0x80000000L, 0x80000000L))
                .isEqualTo(new PageSizes.Step(SZ_1G, 2));
    }

    @Test
    @DisplayName("9.1 a 4K run stops at the next 2M boundary when iova and paddr are congruent")
    void stopsAtBoundary() {
        assertThat(PageSizes.pgsize(BITMAP, 0x3fe000, 0x3fe000, 0x400000))
                .isEqualTo(new PageSizes.Step(SZ_4K, 2));
    }

    @Test
    @DisplayName("9.1 incongruent iova and paddr never use a bigger page")
    void incongruent() {
        assertThat(PageSizes.pgsize(BITMAP, 0x3fe000, 0x3ff000, 0x400000))
                .isEqualTo(new PageSizes.Step(SZ_4K, 0x400));
    }

    @Test
    @DisplayName("9.1 the boundary is not taken when the big page would not fit in the rest")
    void noRoomForBig() {
        assertThat(PageSizes.pgsize(BITMAP, 0x3fe000, 0x3fe000, 0x5000))
                .isEqualTo(new PageSizes.Step(SZ_4K, 5));
    }

    @Property
    @Label("9.1 every step is a supported size, aligned, and never longer than the run")
    void stepIsLegal(@ForAll @LongRange(min = 0, max = 1L << 20) long iovaPfn,
                     @ForAll @LongRange(min = 0, max = 1L << 20) long paPfn,
                     @ForAll @LongRange(min = 1, max = 1L << 20) long pages) {
        long iova = iovaPfn << 12, pa = paPfn << 12, size = pages << 12;
        PageSizes.Step s = PageSizes.pgsize(BITMAP, iova, pa, size);
        assertThat(s.pgsize() & BITMAP).isEqualTo(s.pgsize());
        assertThat(Long.bitCount(s.pgsize())).isEqualTo(1);
        assertThat(iova % s.pgsize()).isZero();
        assertThat(pa % s.pgsize()).isZero();
        assertThat(s.count()).isPositive();
        assertThat(s.count() * s.pgsize()).isLessThanOrEqualTo(size);
    }
}
