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

    private final long size;
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
        long fn = pa >>> FRAME_SHIFT;
        byte[][] chunk = (byte[][]) CHUNK_SLOT.getAcquire(chunks, (int) (fn >>> CHUNK_SHIFT));
        if (chunk == null) {
            return null;
        }
        return (byte[]) FRAME_SLOT.getAcquire(chunk, (int) (fn & CHUNK_MASK));
    }

    /** The frame holding {@code pa}, created zeroed if needed. */
    private byte[] frame(long pa) {
        long fn = pa >>> FRAME_SHIFT;
        int ci = (int) (fn >>> CHUNK_SHIFT);
        byte[][] chunk = (byte[][]) CHUNK_SLOT.getAcquire(chunks, ci);
        if (chunk == null) {
            byte[][] fresh = new byte[1 << CHUNK_SHIFT][];
            chunk = CHUNK_SLOT.compareAndSet(chunks, ci, null, fresh)
                    ? fresh : (byte[][]) CHUNK_SLOT.getAcquire(chunks, ci);
        }
        int fi = (int) (fn & CHUNK_MASK);
        byte[] f = (byte[]) FRAME_SLOT.getAcquire(chunk, fi);
        if (f == null) {
            byte[] fresh = new byte[FRAME_SIZE];
            if (FRAME_SLOT.compareAndSet(chunk, fi, null, fresh)) {
                framesTouched.increment();
                f = fresh;
            } else {
                f = (byte[]) FRAME_SLOT.getAcquire(chunk, fi);
            }
        }
        return f;
    }

    /** Atomic (volatile) read of the aligned 64-bit little-endian word at {@code pa}. */
    public long readLong(long pa) {
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
        checkAligned(pa);
        checkRange(pa, 8);
        byte[] f = value == 0 ? frameOrNull(pa) : frame(pa);
        if (f != null) {
            WORD.setRelease(f, (int) (pa & (FRAME_SIZE - 1)), value);
        }
    }

    /**
     * The first of {@code words} aligned words from {@code pa} (all inside one frame) that is
     * not zero, as an index from 0, or -1 if all are zero. Acquire reads; one frame lookup for
     * the whole run (a page-table map checks a run of empty entries this way).
     */
    public int firstNonZeroLong(long pa, int words) {
        checkRun(pa, words);
        byte[] f = frameOrNull(pa);
        if (f == null) {
            return -1;
        }
        int off = (int) (pa & (FRAME_SIZE - 1));
        for (int i = 0; i < words; i++, off += 8) {
            if ((long) WORD.getAcquire(f, off) != 0) {
                return i;
            }
        }
        return -1;
    }

    /**
     * Writes {@code words} aligned words from {@code pa} (all inside one frame) with release
     * ordering: {@code first}, {@code first + step}, {@code first + 2 * step}, ... (a run of
     * page-table leaves whose output addresses advance by the page size).
     */
    public void writeLongRunRelease(long pa, long first, long step, int words) {
        checkRun(pa, words);
        if (words == 0) {
            return;
        }
        byte[] f = frame(pa);
        int off = (int) (pa & (FRAME_SIZE - 1));
        long v = first;
        for (int i = 0; i < words; i++, off += 8, v += step) {
            WORD.setRelease(f, off, v);
        }
    }

    private void checkRun(long pa, int words) {
        checkAligned(pa);
        if (words < 0 || (pa & (FRAME_SIZE - 1)) + 8L * words > FRAME_SIZE) {
            throw new IllegalArgumentException(String.format(
                    "run of %d words at %#x leaves its frame", words, pa));
        }
        checkRange(pa, 8L * words);
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
                long fn = pa >>> FRAME_SHIFT;
                byte[][] chunk = (byte[][]) CHUNK_SLOT.getAcquire(chunks, (int) (fn >>> CHUNK_SHIFT));
                if (chunk != null && FRAME_SLOT.getAndSet(chunk, (int) (fn & CHUNK_MASK), null) != null) {
                    framesTouched.decrement();
                }
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
    // The kernel writes PTEs with plain stores and one barrier per map call. These resolve the
    // frame once per 4 KiB instead of once per word and use acquire/release ordering, which
    // keeps every word access atomic for concurrent walkers without a full fence per word.

    // writeLongRelease: defined above with the VT-d tables' accessors (same body, merged once).

    /**
     * Counts the consecutive aligned words from {@code pa} (at most {@code max}) for which
     * {@code (word & mask) == value}, reading each atomically with acquire ordering.
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
                    if (((long) WORD.getAcquire(f, off) & mask) != value) {
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
     * {@code pa}, each atomically with release ordering, in ascending address order.
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
                    WORD.setRelease(f, off, v);
                    v += step;
                }
            } else {
                v += step * inFrame;
            }
            done += inFrame;
            pa += (long) inFrame << 3;
        }
    }
}
