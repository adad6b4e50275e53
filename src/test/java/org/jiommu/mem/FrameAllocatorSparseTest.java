package org.jiommu.mem;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import net.jqwik.api.ForAll;
import net.jqwik.api.Label;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * The allocator keeps only what was split or returned (issue 14): a pool of any size costs
 * nothing until used, and it hands out exactly the blocks a buddy allocator listing every free
 * block would.
 */
class FrameAllocatorSparseTest {

    /** The reference: every free block of every order listed, lowest first (the allocator as it was). */
    private static final class ListedBuddy {
        final long base;
        @SuppressWarnings("unchecked")
        final TreeSet<Long>[] free = new TreeSet[FrameAllocator.MAX_ORDER + 1];
        final Map<Long, Integer> live = new HashMap<>();

        ListedBuddy(long base, long size) {
            this.base = base;
            for (int i = 0; i <= FrameAllocator.MAX_ORDER; i++) {
                free[i] = new TreeSet<>();
            }
            for (long a = base; a < base + size; a += 4096L << FrameAllocator.MAX_ORDER) {
                free[FrameAllocator.MAX_ORDER].add(a);
            }
        }

        long alloc(int order) {
            int o = order;
            while (o <= FrameAllocator.MAX_ORDER && free[o].isEmpty()) {
                o++;
            }
            if (o > FrameAllocator.MAX_ORDER) {
                return -1;
            }
            long pa = free[o].pollFirst();
            while (o > order) {
                o--;
                free[o].add(pa + (4096L << o));
            }
            live.put(pa, order);
            return pa;
        }

        void free(long pa) {
            int o = live.remove(pa);
            long a = pa;
            while (o < FrameAllocator.MAX_ORDER) {
                long buddy = ((a - base) ^ (4096L << o)) + base;
                if (!free[o].remove(buddy)) {
                    break;
                }
                a = Math.min(a, buddy);
                o++;
            }
            free[o].add(a);
        }
    }

    @Property(tries = 300)
    @Label("alloc/free in any order hands out the same addresses as a buddy listing every free block")
    void sameAddressesAsListedBuddy(@ForAll @Size(max = 120) List<@IntRange(min = -40, max = 10) Integer> ops) {
        long base = 16L << 20;
        long size = 24L << 20; // six max-order blocks
        FrameAllocator a = new FrameAllocator(new PhysicalMemory(64L << 20), base, size);
        ListedBuddy ref = new ListedBuddy(base, size);
        List<Long> live = new ArrayList<>();
        for (int op : ops) {
            if (op < 0) {
                if (!live.isEmpty()) {
                    long p = live.remove(-op % live.size());
                    a.free(p);
                    ref.free(p);
                }
                continue;
            }
            long p = a.alloc(op);
            assertThat(p).isEqualTo(ref.alloc(op));
            if (p >= 0) {
                live.add(p);
            }
        }
        for (long p : live) {
            a.free(p);
        }
        assertThat(a.stats().allocatedBytes()).isZero();
        for (int i = 0; i < 6; i++) {
            assertThat(a.alloc(FrameAllocator.MAX_ORDER)).as("fully coalesced").isEqualTo(base + ((long) i << 22));
        }
        assertThat(a.alloc(0)).isEqualTo(-1);
    }

    @Test
    @DisplayName("a 52-bit memory's default pool starts at its quarter mark and hands out its lowest blocks")
    void fiftyTwoBitPool() {
        PhysicalMemory m = new PhysicalMemory(PhysicalMemory.MAX_SIZE);
        FrameAllocator a = new FrameAllocator(m);
        long base = PhysicalMemory.MAX_SIZE - PhysicalMemory.MAX_SIZE / 4;
        assertThat(a.poolBase()).isEqualTo(base);
        long p = a.alloc(0);
        long q = a.alloc(FrameAllocator.MAX_ORDER);
        assertThat(p).isEqualTo(base);
        assertThat(q).isEqualTo(base + (4L << 20));
        m.writeLong(p, 0x1234);
        assertThat(m.readLong(p)).isEqualTo(0x1234);
        a.free(q);
        a.free(p);
        assertThat(m.framesTouched()).isZero();
        assertThat(a.alloc(FrameAllocator.MAX_ORDER)).as("the returned blocks are the lowest again").isEqualTo(base);
    }

    @Test
    @DisplayName("the top 4 MiB of a 52-bit memory serve as a pool and run out after one block")
    void topOfFiftyTwoBits() {
        PhysicalMemory m = new PhysicalMemory(PhysicalMemory.MAX_SIZE);
        long top = PhysicalMemory.MAX_SIZE - (4L << 20);
        FrameAllocator a = new FrameAllocator(m, top, 4L << 20);
        long p = a.alloc(FrameAllocator.MAX_ORDER);
        assertThat(p).isEqualTo(top);
        assertThat(a.alloc(0)).isEqualTo(-1);
        a.free(p);
        assertThat(a.alloc(0)).isEqualTo(top);
        m.writeLong(PhysicalMemory.MAX_SIZE - 8, -1L);
        assertThat(m.readLong(PhysicalMemory.MAX_SIZE - 8)).isEqualTo(-1L);
    }
}
