package org.jiommu.mem;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.util.concurrent.atomic.LongAdder;

/**
 * Sparse, byte-addressed simulated physical memory, up to 52-bit addresses.
 *
 * <p>Storage is 4 KiB frames ({@code byte[4096]}) that appear on first write; a read of an
 * untouched frame returns zero without creating it. Frames hang from a two-level directory
 * indexed by frame number (a chunk covers 2^18 frames = 1 GiB), so a word access is two
 * array loads and a VarHandle access: no hashing and no allocation, which is what makes
 * page-table walks cheap (issue: "a page-table word access must not cost a hash lookup").
 *
 * <p>The frames of one region, where {@link FrameAllocator}'s default pool lies (the top quarter
 * of memory, at most {@link #DIRECT_MAP_MAX_FRAMES} frames from its base), are not in the
 * directory but in one flat array indexed by {@code (pa - base) >> 12}: the model of the
 * kernel's linear map ({@code __va}), through which io-pgtable code reaches its tables. A
 * page-table word access there is one subtraction, one unsigned compare and two dependent
 * loads (frame, word) instead of three; single-page map/unmap calls are dominated by that
 * chain (docs/PERFORMANCE.md). The region is fixed at construction, so the array is final.
 *
 * <p>Words are 64-bit little-endian, accessed through a byte-array view VarHandle, which gives
 * atomic volatile read, write and compare-and-set for aligned words (hardware walkers and
 * concurrent table installs rely on that). No lock is taken on any path; frame and chunk
 * creation race through compare-and-set and the loser's array is dropped.
 */
public final class PhysicalMemory {
    public static final int FRAME_SHIFT = 12;
    public static final int FRAME_SIZE = 1 << FRAME_SHIFT;
    public static final long MAX_SIZE = 1L << 52;
    public static final long DEFAULT_SIZE = 4L << 30;

    private static final int CHUNK_SHIFT = 18; // frames per chunk: 2^18 (1 GiB)
    private static final int CHUNK_MASK = (1 << CHUNK_SHIFT) - 1;

    private static final VarHandle WORD =
            MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle CHUNK_SLOT = MethodHandles.arrayElementVarHandle(byte[][][].class);
    private static final VarHandle FRAME_SLOT = MethodHandles.arrayElementVarHandle(byte[][].class);

    /**
     * Most frames the direct-mapped region holds: 2^19 frames = 2 GiB of page-table pages, a
     * 2 MiB reference array (4 MiB without compressed pointers).
     */
    public static final int DIRECT_MAP_MAX_FRAMES = 1 << 19;

    private final long size;
    /** Base of the direct-mapped region (frame aligned). */
    private final long directBase;
    /** Bytes in the direct-mapped region; {@code pa - directBase} is inside iff unsigned below this. */
    private final long directLimit;
    /** direct[(pa - directBase) >> 12] = frame bytes, or null (all zero). */
    private final byte[][] direct;
    /** chunks[frame >> CHUNK_SHIFT][frame & CHUNK_MASK] = frame bytes, or null (all zero). */
    private final byte[][][] chunks;
    private final LongAdder framesTouched = new LongAdder();

    public PhysicalMemory() {
        this(DEFAULT_SIZE);
    }

    /** @param size bytes of memory, a multiple of 4 KiB, at most 2^52 */
    public PhysicalMemory(long size) {
        if (size <= 0 || size > MAX_SIZE || (size & (FRAME_SIZE - 1)) != 0) {
            throw new IllegalArgumentException(String.format(
                    "memory size %#x must be a positive multiple of 4 KiB, at most 2^52", size));
        }
        this.size = size;
        long frames = size >>> FRAME_SHIFT;
        this.chunks = new byte[(int) ((frames + CHUNK_MASK) >>> CHUNK_SHIFT)][][];
        this.directBase = defaultPoolBase(size);
        long directFrames = Math.min(DIRECT_MAP_MAX_FRAMES, (size - directBase) >>> FRAME_SHIFT);
        this.directLimit = directFrames << FRAME_SHIFT;
        this.direct = new byte[(int) directFrames][];
    }

    /**
     * Base of {@link FrameAllocator}'s default pool in memory of {@code size} bytes: the top
     * quarter, rounded to the allocator's largest block (at least one block).
     */
    static long defaultPoolBase(long size) {
        long block = (long) FRAME_SIZE << FrameAllocator.MAX_ORDER;
        long quarter = Math.max(block, (size / 4) & ~(block - 1));
        return Math.max(0, size - quarter) & ~(block - 1);
    }

    /**
     * The direct-mapped region {@code [base, base + bytes)} (see the class comment); accesses
     * elsewhere take the directory. For tests and the benchmarks' documentation.
     */
    public long directMapBase() {
        return directBase;
    }

    public long directMapBytes() {
        return directLimit;
    }

    /** Configured size in bytes; addresses [0, size) exist. */
    public long size() {
        return size;
    }

    /** Frames that have been written at least once and are currently backed. */
    public long framesTouched() {
        return framesTouched.sum();
    }

    public boolean contains(long pa, long length) {
        return pa >= 0 && length >= 0 && pa <= size - length;
    }

    private void checkRange(long pa, long length) {
        if (!contains(pa, length)) {
            throw new MemoryFault(pa, length, size);
        }
    }

    private static void checkAligned(long pa) {
        if ((pa & 7) != 0) {
            throw new IllegalArgumentException(String.format("unaligned 64-bit access at %#x", pa));
        }
    }

    /** The frame holding {@code pa}, or null if it was never written. */
    private byte[] frameOrNull(long pa) {
        long off = pa - directBase;
        if (Long.compareUnsigned(off, directLimit) < 0) {
            return (byte[]) FRAME_SLOT.getAcquire(direct, (int) (off >>> FRAME_SHIFT));
        }
        long fn = pa >>> FRAME_SHIFT;
        byte[][] chunk = (byte[][]) CHUNK_SLOT.getAcquire(chunks, (int) (fn >>> CHUNK_SHIFT));
        if (chunk == null) {
            return null;
        }
        return (byte[]) FRAME_SLOT.getAcquire(chunk, (int) (fn & CHUNK_MASK));
    }

    /** The frame holding {@code pa}, created zeroed if needed. */
    private byte[] frame(long pa) {
        long off = pa - directBase;
        if (Long.compareUnsigned(off, directLimit) < 0) {
            return frameIn(direct, (int) (off >>> FRAME_SHIFT));
        }
        long fn = pa >>> FRAME_SHIFT;
        int ci = (int) (fn >>> CHUNK_SHIFT);
        byte[][] chunk = (byte[][]) CHUNK_SLOT.getAcquire(chunks, ci);
        if (chunk == null) {
            byte[][] fresh = new byte[1 << CHUNK_SHIFT][];
            chunk = CHUNK_SLOT.compareAndSet(chunks, ci, null, fresh)
                    ? fresh : (byte[][]) CHUNK_SLOT.getAcquire(chunks, ci);
        }
        return frameIn(chunk, (int) (fn & CHUNK_MASK));
    }

    /** {@code frames[fi]}, created zeroed if needed (the loser of a creation race drops its array). */
    private byte[] frameIn(byte[][] frames, int fi) {
        byte[] f = (byte[]) FRAME_SLOT.getAcquire(frames, fi);
        if (f == null) {
            byte[] fresh = new byte[FRAME_SIZE];
            if (FRAME_SLOT.compareAndSet(frames, fi, null, fresh)) {
                framesTouched.increment();
                f = fresh;
            } else {
                f = (byte[]) FRAME_SLOT.getAcquire(frames, fi);
            }
        }
        return f;
    }

    /** Drops the frame holding {@code pa} (it reads as zero again). */
    private void dropFrame(long pa) {
        byte[][] frames;
        int fi;
        long off = pa - directBase;
        if (Long.compareUnsigned(off, directLimit) < 0) {
            frames = direct;
            fi = (int) (off >>> FRAME_SHIFT);
        } else {
            long fn = pa >>> FRAME_SHIFT;
            frames = (byte[][]) CHUNK_SLOT.getAcquire(chunks, (int) (fn >>> CHUNK_SHIFT));
            fi = (int) (fn & CHUNK_MASK);
        }
        if (frames != null && FRAME_SLOT.getAndSet(frames, fi, null) != null) {
            framesTouched.decrement();
        }
    }

    /** Atomic (volatile) read of the aligned 64-bit little-endian word at {@code pa}. */
    public long readLong(long pa) {
        long off = pa - directBase;
        if (Long.compareUnsigned(off, directLimit) < 0 && (off & 7) == 0) {
            // direct map: the page-table walk's path (directBase is frame aligned)
            byte[] f = (byte[]) FRAME_SLOT.getAcquire(direct, (int) (off >>> FRAME_SHIFT));
            return f == null ? 0L : (long) WORD.getVolatile(f, (int) (off & (FRAME_SIZE - 1)));
        }
        return readLongIndirect(pa);
    }

    // The indirect halves stay out of line so that the direct-map halves inline into walkers.
    private long readLongIndirect(long pa) {
        checkAligned(pa);
        checkRange(pa, 8);
        byte[] f = frameOrNull(pa);
        return f == null ? 0L : (long) WORD.getVolatile(f, (int) (pa & (FRAME_SIZE - 1)));
    }

    /** Atomic (volatile) write of the aligned 64-bit little-endian word at {@code pa}. */
    public void writeLong(long pa, long value) {
        checkAligned(pa);
        checkRange(pa, 8);
        byte[] f = value == 0 ? frameOrNull(pa) : frame(pa);
        if (f != null) {
            WORD.setVolatile(f, (int) (pa & (FRAME_SIZE - 1)), value);
        }
    }

    /**
     * Atomic read of the aligned word at {@code pa} with acquire ordering: a page-table
     * {@code READ_ONCE} that also orders the reads that follow it (the next level's table).
     * Cheaper than {@link #readLong} where a full volatile read is not needed.
     */
    public long readLongAcquire(long pa) {
        long off = pa - directBase;
        if (Long.compareUnsigned(off, directLimit) < 0 && (off & 7) == 0) {
            byte[] f = (byte[]) FRAME_SLOT.getAcquire(direct, (int) (off >>> FRAME_SHIFT));
            return f == null ? 0L : (long) WORD.getAcquire(f, (int) (off & (FRAME_SIZE - 1)));
        }
        return readLongAcquireIndirect(pa);
    }

    private long readLongAcquireIndirect(long pa) {
        checkAligned(pa);
        checkRange(pa, 8);
        byte[] f = frameOrNull(pa);
        return f == null ? 0L : (long) WORD.getAcquire(f, (int) (pa & (FRAME_SIZE - 1)));
    }

    /**
     * Atomic write of the aligned word at {@code pa} with release ordering: a page-table
     * {@code WRITE_ONCE} of a leaf, ordered after every earlier write, without the full fence
     * of {@link #writeLong}.
     */
    public void writeLongRelease(long pa, long value) {
        long off = pa - directBase;
        if (Long.compareUnsigned(off, directLimit) < 0 && (off & 7) == 0) {
            int fi = (int) (off >>> FRAME_SHIFT);
            byte[] f = (byte[]) FRAME_SLOT.getAcquire(direct, fi);
            if (f == null) {
                if (value == 0) {
                    return;
                }
                f = frameIn(direct, fi);
            }
            WORD.setRelease(f, (int) (off & (FRAME_SIZE - 1)), value);
            return;
        }
        writeLongReleaseIndirect(pa, value);
    }

    private void writeLongReleaseIndirect(long pa, long value) {
        checkAligned(pa);
        checkRange(pa, 8);
        byte[] f = value == 0 ? frameOrNull(pa) : frame(pa);
        if (f != null) {
            WORD.setRelease(f, (int) (pa & (FRAME_SIZE - 1)), value);
        }
    }

    /** Atomic compare-and-set of the aligned 64-bit word at {@code pa}. */
    public boolean compareAndSetLong(long pa, long expected, long value) {
        checkAligned(pa);
        checkRange(pa, 8);
        if (expected == 0 && value == 0) {
            return readLong(pa) == 0;
        }
        byte[] f = frame(pa);
        return WORD.compareAndSet(f, (int) (pa & (FRAME_SIZE - 1)), expected, value);
    }

    /** Atomically sets the word to {@code value} and returns the old one. */
    public long getAndSetLong(long pa, long value) {
        checkAligned(pa);
        checkRange(pa, 8);
        byte[] f = frame(pa);
        return (long) WORD.getAndSet(f, (int) (pa & (FRAME_SIZE - 1)), value);
    }

    /** Copies {@code len} bytes at {@code pa} into {@code dst[off..]}. */
    public void read(long pa, byte[] dst, int off, int len) {
        checkRange(pa, len);
        while (len > 0) {
            int fo = (int) (pa & (FRAME_SIZE - 1));
            int n = Math.min(len, FRAME_SIZE - fo);
            byte[] f = frameOrNull(pa);
            if (f == null) {
                java.util.Arrays.fill(dst, off, off + n, (byte) 0);
            } else {
                System.arraycopy(f, fo, dst, off, n);
            }
            pa += n;
            off += n;
            len -= n;
        }
    }

    public byte[] read(long pa, int len) {
        byte[] b = new byte[len];
        read(pa, b, 0, len);
        return b;
    }

    /** Copies {@code src[off..off+len)} to memory at {@code pa} (DMA data, not atomic). */
    public void write(long pa, byte[] src, int off, int len) {
        checkRange(pa, len);
        while (len > 0) {
            int fo = (int) (pa & (FRAME_SIZE - 1));
            int n = Math.min(len, FRAME_SIZE - fo);
            System.arraycopy(src, off, frame(pa), fo, n);
            pa += n;
            off += n;
            len -= n;
        }
    }

    public void write(long pa, byte[] src) {
        write(pa, src, 0, src.length);
    }

    /**
     * Zeroes {@code [pa, pa+len)}. Whole frames are dropped (they read as zero again and
     * their Java memory is released); partial frames are cleared in place.
     */
    public void zero(long pa, long len) {
        checkRange(pa, len);
        long end = pa + len;
        while (pa < end) {
            int fo = (int) (pa & (FRAME_SIZE - 1));
            int n = (int) Math.min(end - pa, FRAME_SIZE - fo);
            if (n == FRAME_SIZE) {
                dropFrame(pa);
            } else {
                byte[] f = frameOrNull(pa);
                if (f != null) {
                    java.util.Arrays.fill(f, fo, fo + n, (byte) 0);
                }
            }
            pa += n;
        }
    }

    // ---- Word runs for page-table writers (added with the ARM LPAE format) ----
    // The kernel writes PTEs with plain stores and one barrier per map call. The run helpers
    // resolve the frame once per 4 KiB instead of once per word and use plain VarHandle access,
    // which is still atomic per aligned 64-bit word (no walker sees a torn descriptor) and lets
    // the JIT unroll the loop; a fill ends with a release fence, the kernel's wmb().

    /**
     * Counts the consecutive aligned words from {@code pa} (at most {@code max}) for which
     * {@code (word & mask) == value}. Each word is read atomically, without ordering (READ_ONCE).
     */
    public int countMatchingLongs(long pa, int max, long mask, long value) {
        checkAligned(pa);
        if (max <= 0) {
            return 0;
        }
        checkRange(pa, 8L * max);
        int n = 0;
        while (n < max) {
            int off = (int) (pa & (FRAME_SIZE - 1));
            int inFrame = Math.min(max - n, (FRAME_SIZE - off) >>> 3);
            byte[] f = frameOrNull(pa);
            if (f == null) {
                if (value != 0) { // an untouched frame reads as zeros
                    return n;
                }
                n += inFrame;
            } else {
                for (int i = 0; i < inFrame; i++, off += 8) {
                    if (((long) WORD.get(f, off) & mask) != value) {
                        return n + i;
                    }
                }
                n += inFrame;
            }
            pa += (long) inFrame << 3;
        }
        return n;
    }

    /**
     * Writes {@code first + i * step} to the {@code count} consecutive aligned words from
     * {@code pa}, each atomically; a release fence then orders the whole run before this
     * thread's later writes (as {@code wmb()} after the kernel's plain PTE stores).
     */
    public void fillLongsRelease(long pa, int count, long first, long step) {
        checkAligned(pa);
        if (count <= 0) {
            return;
        }
        checkRange(pa, 8L * count);
        boolean zeros = first == 0 && step == 0;
        long v = first;
        int done = 0;
        while (done < count) {
            int off = (int) (pa & (FRAME_SIZE - 1));
            int inFrame = Math.min(count - done, (FRAME_SIZE - off) >>> 3);
            byte[] f = zeros ? frameOrNull(pa) : frame(pa);
            if (f != null) {
                for (int i = 0; i < inFrame; i++, off += 8) {
                    WORD.set(f, off, v);
                    v += step;
                }
            } else {
                v += step * inFrame;
            }
            done += inFrame;
            pa += (long) inFrame << 3;
        }
        VarHandle.releaseFence();
    }
}
