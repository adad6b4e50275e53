package org.jiommu.mem;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import net.jqwik.api.ForAll;
import net.jqwik.api.Label;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

class FrameAllocatorTest {

    @Test
    @DisplayName("blocks are zeroed, naturally aligned, lowest address first, and counted")
    void basics() {
        PhysicalMemory m = new PhysicalMemory(64L << 20);
        FrameAllocator a = new FrameAllocator(m, 16L << 20, 16L << 20);
        long p = a.alloc(0);
        assertThat(p).isEqualTo(16L << 20);
        m.writeLong(p, 42);
        a.free(p);
        long q = a.alloc(0);
        assertThat(q).isEqualTo(p);
        assertThat(m.readLong(q)).as("reallocated page is zeroed").isZero();
        long big = a.alloc(4);
        assertThat(big % (16 * 4096)).isZero();
        assertThat(a.stats().allocatedBytes()).isEqualTo(4096 + 16 * 4096);
        assertThat(a.stats().peakBytes()).isEqualTo(4096 + 16 * 4096);
        a.free(q);
        a.free(big);
        assertThat(a.stats().allocatedBytes()).isZero();
        assertThat(a.stats().liveBlocks()).isZero();
    }

    @Test
    @DisplayName("every order reads zero when handed out, even over stray writes into its free frames; large blocks stay unbacked")
    void zeroedEveryOrder() {
        PhysicalMemory m = new PhysicalMemory(64L << 20);
        FrameAllocator a = new FrameAllocator(m, 16L << 20, 16L << 20);
        for (int order = 0; order <= 6; order++) {
            long bytes = 4096L << order;
            long p = a.alloc(order);
            for (long off = 0; off < bytes; off += 4096) {
                m.writeLong(p + off + 8 * order, 0x5A5A + off); // what the previous owner left
            }
            a.free(p);
            for (long off = 0; off < bytes; off += 4096) {
                m.writeLong(p + off + 16, 0x77); // a stray write into the free block
            }
            long touched = m.framesTouched();
            long q = a.alloc(order);
            assertThat(q).isEqualTo(p);
            assertThat(m.read(q, (int) bytes)).as("order %d", order).containsOnly(0);
            long frames = bytes / 4096;
            // the stray writes backed every frame: up to BACKED_MAX_ORDER each is replaced by a zero
            // frame, beyond it every one is dropped
            assertThat(m.framesTouched()).as("order %d", order)
                    .isEqualTo(order <= FrameAllocator.BACKED_MAX_ORDER ? touched : touched - frames);
            m.writeLongRelease(q + bytes - 8, 3); // a write into an unbacked frame creates it
            assertThat(m.readLongAcquire(q + bytes - 8)).isEqualTo(3);
            a.free(q);
        }
        assertThat(a.stats().liveBlocks()).isZero();
    }

    @Test
    @DisplayName("double free and free of a foreign address are model bugs")
    void badFree() {
        FrameAllocator a = new FrameAllocator(new PhysicalMemory());
        long p = a.alloc(0);
        a.free(p);
        assertThatThrownBy(() -> a.free(p)).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> a.free(0x1000)).isInstanceOf(IllegalStateException.class);
    }

    @Test
    @DisplayName("an exhausted pool and an injected failure return -1 and change nothing")
    void exhaustion() {
        PhysicalMemory m = new PhysicalMemory(8L << 20);
        FrameAllocator a = new FrameAllocator(m, 4L << 20, 4L << 20);
        long whole = a.alloc(FrameAllocator.MAX_ORDER);
        assertThat(whole).isEqualTo(4L << 20);
        assertThat(a.alloc(0)).isEqualTo(-1);
        a.free(whole);
        a.failNthAllocation(2);
        long first = a.alloc(0);
        assertThat(first).isPositive();
        FrameAllocator.Stats before = a.stats();
        assertThat(a.alloc(0)).isEqualTo(-1);
        assertThat(a.stats()).isEqualTo(before);
        assertThat(a.alloc(0)).isPositive();
    }

    @Property(tries = 200)
    @Label("random alloc/free never overlaps live blocks and coalesces back to the baseline")
    void neverOverlaps(@ForAll @Size(max = 60) List<@IntRange(min = -1, max = 6) Integer> ops) {
        PhysicalMemory m = new PhysicalMemory(16L << 20);
        FrameAllocator a = new FrameAllocator(m, 8L << 20, 8L << 20);
        Map<Long, Integer> live = new HashMap<>();
        List<Long> order = new ArrayList<>();
        for (int op : ops) {
            if (op < 0 || live.size() > 20) {
                if (!order.isEmpty()) {
                    long p = order.remove(0);
                    live.remove(p);
                    a.free(p);
                }
                continue;
            }
            long p = a.alloc(op);
            assertThat(p).isPositive();
            long size = 4096L << op;
            assertThat(p % size).isZero();
            for (Map.Entry<Long, Integer> e : live.entrySet()) {
                long s = e.getKey();
                long n = 4096L << e.getValue();
                assertThat(p + size <= s || s + n <= p).as("overlap").isTrue();
            }
            live.put(p, op);
            order.add(p);
        }
        for (long p : order) {
            a.free(p);
        }
        assertThat(a.stats().allocatedBytes()).isZero();
        // Fully coalesced: both max-order blocks are allocatable again.
        assertThat(a.alloc(FrameAllocator.MAX_ORDER)).isPositive();
        assertThat(a.alloc(FrameAllocator.MAX_ORDER)).isPositive();
    }
}
