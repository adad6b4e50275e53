package org.jiommu.pgtable;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.jiommu.base.Errno;
import org.jiommu.base.Prot;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * The map loop's stopping rules, which the core relies on now that {@link MapLoop} is its only
 * map loop: a driver that maps nothing without an error stops the loop with -EINVAL, and a
 * failed map always calls the unroll callback with what was mapped, partial pages included.
 */
class MapLoopTest {
    private static final long BITMAP = 1L << 12 | 1L << 21;

    /** A fake table: maps {@code okCalls} calls in full, then fails or stalls as told. */
    private static final class Scripted implements MapPagesOps {
        int okCalls;
        int failRet;
        long partialOnFail;
        final List<Long> unmapped = new ArrayList<>();

        @Override
        public int mapPages(long iova, long paddr, long pgsize, long pgcount, int prot, Mapped mapped) {
            if (okCalls-- > 0) {
                mapped.bytes = pgsize * pgcount;
                return 0;
            }
            mapped.bytes = partialOnFail;
            return failRet;
        }

        @Override
        public long unmapPages(long iova, long pgsize, long pgcount, IotlbGather gather) {
            unmapped.add(iova);
            return pgsize * pgcount;
        }
    }

    /** An unroll that records its calls and reports {@code undone} bytes undone (-1: all asked). */
    private static MapLoop.Unroll recorder(List<long[]> calls, long undone) {
        return (iova, size) -> {
            calls.add(new long[] {iova, size});
            return undone < 0 ? size : undone;
        };
    }

    @Test
    @DisplayName("map_pages returning success with nothing mapped stops the loop with -EINVAL instead of spinning")
    void noProgress() {
        Scripted t = new Scripted();
        t.okCalls = 1; // the first 4K-run maps, the 2M block then makes no progress
        List<Long> stalls = new ArrayList<>();
        List<long[]> unrolls = new ArrayList<>();
        MapLoop.MapResult r = MapLoop.map(t, BITMAP, 0x1ff000, 0x1ff000, 0x201000, Prot.RW, new MapLoop.Listener() {
            @Override
            public void noProgress(long iova) {
                stalls.add(iova);
            }
        }, recorder(unrolls, -1));
        assertThat(r.ret()).isEqualTo(Errno.EINVAL.neg());
        assertThat(stalls).containsExactly(0x200000L);
        assertThat(r.mapped()).isEqualTo(0x1000);
        assertThat(unrolls).singleElement().isEqualTo(new long[] {0x1ff000, 0x1000});
    }

    @Test
    @DisplayName("a failed map unrolls what it mapped, partial pages of the failing call included, and calls unroll even with nothing mapped")
    void unrollCallback() {
        Scripted t = new Scripted();
        t.okCalls = 1;
        t.failRet = Errno.ENOMEM.neg();
        t.partialOnFail = 0x1000;
        List<long[]> unrolls = new ArrayList<>();
        MapLoop.MapResult r = MapLoop.map(t, BITMAP, 0x1ff000, 0x1ff000, 0x203000, Prot.RW, MapLoop.Listener.NONE,
                recorder(unrolls, -1));
        assertThat(r).isEqualTo(new MapLoop.MapResult(Errno.ENOMEM.neg(), 0x2000, 0x2000));
        assertThat(unrolls).singleElement().isEqualTo(new long[] {0x1ff000, 0x2000});

        Scripted none = new Scripted();
        none.failRet = Errno.ENOMEM.neg();
        unrolls.clear();
        r = MapLoop.map(none, BITMAP, 0, 0, 0x1000, Prot.RW, MapLoop.Listener.NONE, recorder(unrolls, 0));
        assertThat(r.ret()).isEqualTo(Errno.ENOMEM.neg());
        assertThat(unrolls).singleElement().isEqualTo(new long[] {0, 0});
    }

    @Test
    @DisplayName("without an unroll callback the loop undoes a failed map through unmap_pages")
    void defaultUnroll() {
        Scripted t = new Scripted();
        t.okCalls = 1;
        t.failRet = Errno.ENOMEM.neg();
        MapLoop.MapResult r = MapLoop.map(t, BITMAP, 0x1ff000, 0x1ff000, 0x201000, Prot.RW, MapLoop.Listener.NONE);
        assertThat(r).isEqualTo(new MapLoop.MapResult(Errno.ENOMEM.neg(), 0x1000, 0x1000));
        assertThat(t.unmapped).containsExactly(0x1ff000L);
    }
}
