package org.jiommu.mem;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

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
import net.jqwik.api.constraints.Size;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * The direct-mapped region (FrameAllocator's default pool, where page tables live) must behave
 * exactly like the rest of memory: same values, zero reads of untouched frames, faults and
 * alignment errors, frame counting; and accesses crossing its edges must join up.
 */
class PhysicalMemoryDirectMapTest {
    /** 16 GiB: the pool is the top 4 GiB, of which the first 2 GiB are direct-mapped. */
    static final long SIZE = 16L << 30;

    @Test
    @DisplayName("the direct map covers the bottom of FrameAllocator's default pool, capped")
    void region() {
        PhysicalMemory m = new PhysicalMemory(SIZE);
        FrameAllocator a = new FrameAllocator(m);
        assertThat(m.directMapBase()).isEqualTo(a.poolBase()).isEqualTo(12L << 30);
        assertThat(m.directMapBytes()).isEqualTo((long) PhysicalMemory.DIRECT_MAP_MAX_FRAMES << 12);
        long table = a.alloc(0);
        assertThat(table - m.directMapBase()).isNotNegative().isLessThan(m.directMapBytes());

        PhysicalMemory small = new PhysicalMemory(64L << 20);
        assertThat(small.directMapBase()).isEqualTo(48L << 20);
        assertThat(small.directMapBytes()).isEqualTo(16L << 20);
    }

    @Test
    @DisplayName("direct-mapped words: zero until written, frames counted, unaligned refused, dropped by zero()")
    void directWords() {
        PhysicalMemory m = new PhysicalMemory(SIZE);
        long base = m.directMapBase();
        assertThat(m.readLong(base + 0x1008)).isZero();
        assertThat(m.readLongAcquire(base + 0x1008)).isZero();
        m.writeLongRelease(base + 0x1008, 0); // a zero store into an untouched frame creates nothing
        assertThat(m.framesTouched()).isZero();
        m.writeLongRelease(base + 0x1008, 0x1234);
        assertThat(m.framesTouched()).isEqualTo(1);
        assertThat(m.readLong(base + 0x1008)).isEqualTo(0x1234);
        assertThat(m.read(base + 0x1008, 2)).containsExactly(0x34, 0x12);
        assertThatThrownBy(() -> m.readLong(base + 0x1004)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> m.readLongAcquire(base + 0x1001)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> m.writeLongRelease(base + 0x100c, 1)).isInstanceOf(IllegalArgumentException.class);
        m.zero(base + 0x1000, 0x1000);
        assertThat(m.framesTouched()).isZero();
        assertThat(m.readLong(base + 0x1008)).isZero();
    }

    @Test
    @DisplayName("allocated table pages are backed and zero, inside and outside the direct map; free drops them")
    void allocatorBacksPages() {
        PhysicalMemory m = new PhysicalMemory(SIZE);
        long base = m.directMapBase();
        long outside = base + m.directMapBytes(); // the pool goes on past the direct map
        m.writeLong(base + 0x10, 0x55);           // stale data where the first page will be
        m.writeLong(outside + 0x10, 0x66);
        FrameAllocator inPool = new FrameAllocator(m);
        FrameAllocator pastDirect = new FrameAllocator(m, outside, 4L << 20);
        long before = m.framesTouched();
        long a = inPool.alloc(0);
        long b = pastDirect.alloc(1);
        long c = new FrameAllocator(m, 8L << 30, 4L << 20).alloc(0); // a chunk not yet created
        assertThat(a).isEqualTo(base);
        assertThat(b).isEqualTo(outside);
        assertThat(m.readLong(a + 0x10)).isZero();
        assertThat(m.readLong(b + 0x10)).isZero();
        assertThat(m.read(c, 4096)).containsOnly(0);
        // a and b replaced touched frames; b's second frame and c are new
        assertThat(m.framesTouched()).isEqualTo(before + 2);
        m.writeLongRelease(b + 0x1ff8, 9);
        assertThat(m.readLongAcquire(b + 0x1ff8)).isEqualTo(9);
        inPool.free(a);
        pastDirect.free(b);
        assertThat(m.framesTouched()).isEqualTo(1); // c
    }

    @Test
    @DisplayName("memory smaller than one pool block is direct-mapped whole; beyond it still faults")
    void tinyMemory() {
        PhysicalMemory m = new PhysicalMemory(1L << 20);
        assertThat(m.directMapBase()).isZero();
        assertThat(m.directMapBytes()).isEqualTo(1L << 20);
        m.writeLong((1L << 20) - 8, 7);
        assertThat(m.readLongAcquire((1L << 20) - 8)).isEqualTo(7);
        assertThatThrownBy(() -> m.readLong(1L << 20)).isInstanceOf(MemoryFault.class);
        assertThatThrownBy(() -> m.readLongAcquire(-8)).isInstanceOf(MemoryFault.class);
        assertThatThrownBy(() -> m.writeLongRelease(1L << 20, 1)).isInstanceOf(MemoryFault.class);
    }

    /** One access: kind, address (word aligned unless a byte access), length or count, value. */
    record Op(int kind, long pa, int len, long value) {
    }

    /** Word addresses around both edges of the direct region and in its middle. */
    @Provide
    Arbitrary<List<Op>> ops() {
        long base = 12L << 30;
        long end = base + ((long) PhysicalMemory.DIRECT_MAP_MAX_FRAMES << 12);
        Arbitrary<Long> frame = Arbitraries.of(base - 0x2000, base - 0x1000, base, base + 0x1000,
                base + 0x10_0000, end - 0x2000, end - 0x1000, end, end + 0x1000);
        Arbitrary<Long> offset = Arbitraries.of(0L, 8L, 0xff8L, 0xff0L, 0x800L, 0xffbL, 0x3L);
        Arbitrary<Long> value = Arbitraries.oneOf(Arbitraries.just(0L), Arbitraries.longs(),
                Arbitraries.longs().between(1, 3));
        return Combinators.combine(Arbitraries.integers().between(0, 10), frame, offset,
                Arbitraries.integers().between(1, 600), value)
                .as((k, f, o, n, v) -> new Op(k, f + o, n, v))
                .list().ofMaxSize(40);
    }

    @Property(tries = 300)
    @Label("every access path agrees with a byte-map reference across the direct-map edges")
    void agreesWithReference(@ForAll("ops") @Size(max = 40) List<Op> ops) {
        PhysicalMemory m = new PhysicalMemory(SIZE);
        Map<Long, Byte> ref = new HashMap<>();
        for (Op op : ops) {
            long pa = op.pa();
            boolean aligned = (pa & 7) == 0;
            switch (op.kind()) {
                case 0, 1 -> { // readLong / readLongAcquire
                    if (!aligned) {
                        assertThatThrownBy(() -> m.readLong(pa)).isInstanceOf(IllegalArgumentException.class);
                        break;
                    }
                    long got = op.kind() == 0 ? m.readLong(pa) : m.readLongAcquire(pa);
                    assertThat(got).as("word at %#x", pa).isEqualTo(refWord(ref, pa));
                }
                case 2, 3 -> { // writeLong / writeLongRelease
                    if (!aligned) {
                        assertThatThrownBy(() -> m.writeLongRelease(pa, op.value()))
                                .isInstanceOf(IllegalArgumentException.class);
                        break;
                    }
                    if (op.kind() == 2) {
                        m.writeLong(pa, op.value());
                    } else {
                        m.writeLongRelease(pa, op.value());
                    }
                    putWord(ref, pa, op.value());
                }
                case 4 -> { // compare-and-set against what the reference holds (or a wrong guess)
                    if (!aligned) {
                        break;
                    }
                    long expected = (op.len() & 1) == 0 ? refWord(ref, pa) : refWord(ref, pa) + 1;
                    boolean ok = m.compareAndSetLong(pa, expected, op.value());
                    assertThat(ok).isEqualTo(expected == refWord(ref, pa));
                    if (ok) {
                        putWord(ref, pa, op.value());
                    }
                }
                case 5 -> { // byte write crossing frames
                    byte[] b = new byte[op.len()];
                    for (int i = 0; i < b.length; i++) {
                        b[i] = (byte) (op.value() >>> ((i & 7) * 8) ^ i);
                    }
                    m.write(pa, b);
                    for (int i = 0; i < b.length; i++) {
                        ref.put(pa + i, b[i]);
                    }
                }
                case 6 -> { // byte read crossing frames
                    byte[] got = m.read(pa, op.len());
                    for (int i = 0; i < got.length; i++) {
                        assertThat(got[i]).as("byte at %#x", pa + i).isEqualTo(ref.getOrDefault(pa + i, (byte) 0));
                    }
                }
                case 7 -> { // zero: partial frames and whole frames (which are dropped)
                    long len = (long) op.len() * 16;
                    m.zero(pa, len);
                    for (long i = 0; i < len; i++) {
                        ref.remove(pa + i);
                    }
                }
                case 8 -> { // fill a run of words
                    if (!aligned) {
                        break;
                    }
                    int n = op.len();
                    long step = op.value() & 0xf000;
                    long first = (op.len() & 1) == 0 ? 0 : op.value();
                    m.fillLongsRelease(pa, n, first, step);
                    for (int i = 0; i < n; i++) {
                        putWord(ref, pa + 8L * i, first + step * i);
                    }
                }
                case 10 -> { // count a run of words with any bit of the mask
                    if (!aligned) {
                        break;
                    }
                    long mask = (op.len() & 1) == 0 ? -1L : op.value() | 1;
                    int expected = 0;
                    while (expected < op.len() && (refWord(ref, pa + 8L * expected) & mask) != 0) {
                        expected++;
                    }
                    assertThat(m.countLongsWithAnyBit(pa, op.len(), mask)).isEqualTo(expected);
                }
                default -> { // count matching words
                    if (!aligned) {
                        break;
                    }
                    long want = (op.len() & 1) == 0 ? 0 : refWord(ref, pa);
                    int expected = 0;
                    while (expected < op.len() && refWord(ref, pa + 8L * expected) == want) {
                        expected++;
                    }
                    assertThat(m.countMatchingLongs(pa, op.len(), -1L, want)).isEqualTo(expected);
                }
            }
        }
        // Every frame holding a non-zero byte is backed; zeroing every frame the ops could have
        // touched drops them all again.
        java.util.Set<Long> nonZeroFrames = new java.util.HashSet<>();
        ref.forEach((pa, b) -> {
            if (b != 0) {
                nonZeroFrames.add(pa >>> 12);
            }
        });
        assertThat(m.framesTouched()).isGreaterThanOrEqualTo(nonZeroFrames.size());
        java.util.Set<Long> touched = new java.util.HashSet<>();
        for (Op op : ops) {
            for (long f = op.pa() >>> 12; f <= (op.pa() + 16L * op.len()) >>> 12; f++) {
                touched.add(f);
            }
        }
        for (long f : touched) {
            m.zero(f << 12, 4096);
        }
        assertThat(m.framesTouched()).isZero();
    }

    private static long refWord(Map<Long, Byte> ref, long pa) {
        long w = 0;
        for (int i = 0; i < 8; i++) {
            w |= (ref.getOrDefault(pa + i, (byte) 0) & 0xffL) << (8 * i);
        }
        return w;
    }

    private static void putWord(Map<Long, Byte> ref, long pa, long value) {
        for (int i = 0; i < 8; i++) {
            ref.put(pa + i, (byte) (value >>> (8 * i)));
        }
    }
}
