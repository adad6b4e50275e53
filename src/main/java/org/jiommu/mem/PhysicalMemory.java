package org.jiommu.mem;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.util.concurrent.atomic.LongAdder;

/**
 * Sparse, byte-addressed simulated physical memory, up to 52-bit addresses.
 *
 * <p>Storage is 4 KiB frames that appear on first write; a read of an untouched frame returns
 * zero without creating it. A frame is a {@code long[512]} of little-endian 64-bit words: word
 * accesses, which page-table code and hardware walkers make, are plain array-element accesses
 * (no byte view, no alignment re-check); byte accesses (DMA data) assemble and split words.
 *
 * <p>Frames hang from a two-level directory indexed by frame number (a chunk covers 2^18
 * frames = 1 GiB): no hashing and no allocation on any access (issue #2: "a page-table word
 * access must not cost a hash lookup"). Memories above {@link #FLAT_DIRECTORY_MAX_BYTES} put one
 * more level of 2^11 chunks on top, created on first write, so declaring a 52-bit memory costs
 * a few kilobytes rather than a directory sized by the configured size (issue #14: simulated
 * memory costs what is touched); smaller memories keep the flat directory and its one load. The frames of one region, where {@link FrameAllocator}'s
 * default pool lies (the top quarter of memory, at most {@link #DIRECT_MAP_MAX_FRAMES} frames
 * from its base), are not in the directory but in one flat array indexed by
 * {@code (pa - base) >> 12}: the model of the kernel's linear map ({@code __va}), through which
 * io-pgtable code reaches its tables. A page-table word access there is a subtraction, an
 * unsigned compare and two dependent loads (frame, word) instead of three; single-page map and
 * unmap calls are dominated by that chain (docs/PERFORMANCE.md). The region is fixed at
 * construction, so the array is final.
 *
 * <p>Aligned words are read, written and compared-and-set atomically (hardware walkers and
 * concurrent table installs rely on that). A byte write that covers only part of a word merges
 * its bytes with compare-and-set, so it never undoes a concurrent write to the word's other
 * bytes, as on a byte-addressed bus. No lock is taken on any path; frame and chunk creation
 * race through compare-and-set and the loser's array is dropped.
 */
public final class PhysicalMemory {
    public static final int FRAME_SHIFT = 12;
    public static final int FRAME_SIZE = 1 << FRAME_SHIFT;
    public static final long MAX_SIZE = 1L << 52;
    public static final long DEFAULT_SIZE = 4L << 30;

    /**
     * Most frames the direct-mapped region holds: 2^19 frames = 2 GiB of page-table pages, a
     * 2 MiB reference array (4 MiB without compressed pointers).
     */
    public static final int DIRECT_MAP_MAX_FRAMES = 1 << 19;

    private static final int FRAME_WORDS = FRAME_SIZE >>> 3;
    /** Bits of a word's index in its frame (9), and their mask. */
    private static final int WORD_INDEX_BITS = FRAME_SHIFT - 3;
    private static final int WORD_INDEX_MASK = FRAME_WORDS - 1;
    private static final int OFFSET_MASK = FRAME_SIZE - 1;
    private static final int CHUNK_SHIFT = 18; // frames per chunk: 2^18 (1 GiB)
    private static final int CHUNK_MASK = (1 << CHUNK_SHIFT) - 1;
    /** Chunks per directory page above the flat limit: 2^11, so 2^52 bytes need 2^11 pages. */
    private static final int DIR_SHIFT = 11;
    private static final int DIR_MASK = (1 << DIR_SHIFT) - 1;
    /**
     * Largest memory with a flat chunk directory: 4 TiB, a 4096-entry array (16 KiB). Above it
     * the directory is paged (see the class comment).
     */
    public static final long FLAT_DIRECTORY_MAX_BYTES = 1L << 42;

    private static final VarHandle WORD = MethodHandles.arrayElementVarHandle(long[].class);
    private static final VarHandle FRAME_SLOT = MethodHandles.arrayElementVarHandle(long[][].class);
    private static final VarHandle CHUNK_SLOT = MethodHandles.arrayElementVarHandle(long[][][].class);
    private static final VarHandle DIR_SLOT = MethodHandles.arrayElementVarHandle(long[][][][].class);
    /** Little-endian words of a caller's byte buffer (plain, possibly unaligned access). */
    private static final VarHandle BYTES_LE =
            MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

    private final long size;
    /** Base of the direct-mapped region (frame aligned). */
    private final long directBase;
    /** Bytes in the direct-mapped region; {@code pa - directBase} is inside iff unsigned below this. */
    private final long directLimit;
    /**
     * Words in the direct-mapped region: {@code rotateRight(pa - directBase, 3)} is unsigned
     * below this iff {@code pa} is an aligned word of the region (an unaligned offset rotates
     * its low bits to the top), so the hot accessors test range and alignment with one compare.
     */
    private final long directWords;
    /** direct[(pa - directBase) >> 12] = frame words, or null (all zero). */
    private final long[][] direct;
    /**
     * chunks[frame >> CHUNK_SHIFT][frame & CHUNK_MASK] = frame words, or null (all zero); null
     * itself above {@link #FLAT_DIRECTORY_MAX_BYTES}, where {@link #chunkDirs} is used.
     */
    private final long[][][] chunks;
    /** Paged directory: chunkDirs[ci >> DIR_SHIFT][ci & DIR_MASK] = chunk ci; null when flat. */
    private final long[][][][] chunkDirs;
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
        long chunkCount = (frames + CHUNK_MASK) >>> CHUNK_SHIFT;
        if (size <= FLAT_DIRECTORY_MAX_BYTES) {
            this.chunks = new long[(int) chunkCount][][];
            this.chunkDirs = null;
        } else {
            this.chunks = null;
            this.chunkDirs = new long[(int) ((chunkCount + DIR_MASK) >>> DIR_SHIFT)][][][];
        }
        this.directBase = defaultPoolBase(size);
        long directFrames = Math.min(DIRECT_MAP_MAX_FRAMES, (size - directBase) >>> FRAME_SHIFT);
        this.directLimit = directFrames << FRAME_SHIFT;
        this.directWords = directLimit >>> 3;
        this.direct = new long[(int) directFrames][];
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

    /** Start of the direct-mapped region (see the class comment); other addresses use the directory. */
    public long directMapBase() {
        return directBase;
    }

    /** Bytes in the direct-mapped region. */
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

    /** Index of the word holding byte {@code pa} in its frame. */
    private static int wordIndex(long pa) {
        return (int) ((pa & OFFSET_MASK) >>> 3);
    }

    // ---- frame lookup ------------------------------------------------------------------

    /** The frame holding {@code pa}, or null if it was never written. */
    private long[] frameOrNull(long pa) {
        long off = pa - directBase;
        if (Long.compareUnsigned(off, directLimit) < 0) {
            return (long[]) FRAME_SLOT.getAcquire(direct, (int) (off >>> FRAME_SHIFT));
        }
        long fn = pa >>> FRAME_SHIFT;
        long[][] chunk = chunkOrNull((int) (fn >>> CHUNK_SHIFT));
        if (chunk == null) {
            return null;
        }
        return (long[]) FRAME_SLOT.getAcquire(chunk, (int) (fn & CHUNK_MASK));
    }

    /** Chunk {@code ci} of the directory, or null if none of its frames was ever written. */
    private long[][] chunkOrNull(int ci) {
        long[][][] flat = chunks;
        if (flat != null) {
            return (long[][]) CHUNK_SLOT.getAcquire(flat, ci);
        }
        long[][][] page = (long[][][]) DIR_SLOT.getAcquire(chunkDirs, ci >>> DIR_SHIFT);
        return page == null ? null : (long[][]) CHUNK_SLOT.getAcquire(page, ci & DIR_MASK);
    }

    /** Chunk {@code ci}, created (with its directory page) if needed; creation races by CAS. */
    private long[][] chunk(int ci) {
        long[][][] page = chunks;
        int slot = ci;
        if (page == null) {
            int di = ci >>> DIR_SHIFT;
            page = (long[][][]) DIR_SLOT.getAcquire(chunkDirs, di);
            if (page == null) {
                long[][][] fresh = new long[1 << DIR_SHIFT][][];
                page = DIR_SLOT.compareAndSet(chunkDirs, di, null, fresh)
                        ? fresh : (long[][][]) DIR_SLOT.getAcquire(chunkDirs, di);
            }
            slot = ci & DIR_MASK;
        }
        long[][] chunk = (long[][]) CHUNK_SLOT.getAcquire(page, slot);
        if (chunk == null) {
            long[][] fresh = new long[1 << CHUNK_SHIFT][];
            chunk = CHUNK_SLOT.compareAndSet(page, slot, null, fresh)
                    ? fresh : (long[][]) CHUNK_SLOT.getAcquire(page, slot);
        }
        return chunk;
    }

    /** The frame holding {@code pa}, created zeroed if needed. */
    private long[] frame(long pa) {
        long off = pa - directBase;
        if (Long.compareUnsigned(off, directLimit) < 0) {
            return frameIn(direct, (int) (off >>> FRAME_SHIFT));
        }
        long fn = pa >>> FRAME_SHIFT;
        return frameIn(chunk((int) (fn >>> CHUNK_SHIFT)), (int) (fn & CHUNK_MASK));
    }

    /** {@code frames[fi]}, created zeroed if needed (the loser of a creation race drops its array). */
    private long[] frameIn(long[][] frames, int fi) {
        long[] f = (long[]) FRAME_SLOT.getAcquire(frames, fi);
        if (f == null) {
            long[] fresh = new long[FRAME_WORDS];
            if (FRAME_SLOT.compareAndSet(frames, fi, null, fresh)) {
                framesTouched.increment();
                f = fresh;
            } else {
                f = (long[]) FRAME_SLOT.getAcquire(frames, fi);
            }
        }
        return f;
    }

    /** Drops the frame holding {@code pa}: it reads as zero again and its Java memory is released. */
    private void dropFrame(long pa) {
        long[][] frames;
        int fi;
        long off = pa - directBase;
        if (Long.compareUnsigned(off, directLimit) < 0) {
            frames = direct;
            fi = (int) (off >>> FRAME_SHIFT);
        } else {
            long fn = pa >>> FRAME_SHIFT;
            frames = chunkOrNull((int) (fn >>> CHUNK_SHIFT));
            fi = (int) (fn & CHUNK_MASK);
        }
        if (frames != null && FRAME_SLOT.getAndSet(frames, fi, null) != null) {
            framesTouched.decrement();
        }
    }

    // ---- words ---------------------------------------------------------------------------
    // Each hot word access first tries the direct map (aligned, inside the region); everything
    // else goes to an out-of-line method with the full checks, so walkers inline a short path.

    /**
     * The word number of {@code pa} in the direct-mapped region, or a value unsigned at or above
     * {@link #directWords} when {@code pa} is outside it or not aligned (see there). Its bits
     * above 9 are the frame's index in {@link #direct}, its low 9 bits the word's in the frame.
     */
    private long directWord(long pa) {
        return Long.rotateRight(pa - directBase, 3);
    }

    /** Atomic (volatile) read of the aligned 64-bit little-endian word at {@code pa}. */
    public long readLong(long pa) {
        long w = directWord(pa);
        if (Long.compareUnsigned(w, directWords) < 0) {
            long[] f = (long[]) FRAME_SLOT.getAcquire(direct, (int) (w >>> WORD_INDEX_BITS));
            return f == null ? 0L : (long) WORD.getVolatile(f, (int) w & WORD_INDEX_MASK);
        }
        return readLongIndirect(pa);
    }

    private long readLongIndirect(long pa) {
        checkAligned(pa);
        checkRange(pa, 8);
        long[] f = frameOrNull(pa);
        return f == null ? 0L : (long) WORD.getVolatile(f, wordIndex(pa));
    }

    /** Atomic (volatile) write of the aligned 64-bit little-endian word at {@code pa}. */
    public void writeLong(long pa, long value) {
        checkAligned(pa);
        checkRange(pa, 8);
        long[] f = value == 0 ? frameOrNull(pa) : frame(pa);
        if (f != null) {
            WORD.setVolatile(f, wordIndex(pa), value);
        }
    }

    /**
     * Atomic read of the aligned word at {@code pa} with acquire ordering: a page-table
     * {@code READ_ONCE} that also orders the reads that follow it (the next level's table).
     * Cheaper than {@link #readLong} where a full volatile read is not needed.
     */
    public long readLongAcquire(long pa) {
        long w = directWord(pa);
        if (Long.compareUnsigned(w, directWords) < 0) {
            long[] f = (long[]) FRAME_SLOT.getAcquire(direct, (int) (w >>> WORD_INDEX_BITS));
            return f == null ? 0L : (long) WORD.getAcquire(f, (int) w & WORD_INDEX_MASK);
        }
        return readLongAcquireIndirect(pa);
    }

    private long readLongAcquireIndirect(long pa) {
        checkAligned(pa);
        checkRange(pa, 8);
        long[] f = frameOrNull(pa);
        return f == null ? 0L : (long) WORD.getAcquire(f, wordIndex(pa));
    }

    /**
     * Atomic write of the aligned word at {@code pa} with release ordering: a page-table
     * {@code WRITE_ONCE} of a leaf, ordered after every earlier write, without the full fence
     * of {@link #writeLong}.
     */
    public void writeLongRelease(long pa, long value) {
        long w = directWord(pa);
        if (Long.compareUnsigned(w, directWords) < 0) {
            long[] f = (long[]) FRAME_SLOT.getAcquire(direct, (int) (w >>> WORD_INDEX_BITS));
            if (f != null) {
                WORD.setRelease(f, (int) w & WORD_INDEX_MASK, value);
                return;
            }
        }
        writeLongReleaseIndirect(pa, value); // also creates a missing frame, out of line
    }

    private void writeLongReleaseIndirect(long pa, long value) {
        checkAligned(pa);
        checkRange(pa, 8);
        long[] f = value == 0 ? frameOrNull(pa) : frame(pa);
        if (f != null) {
            WORD.setRelease(f, wordIndex(pa), value);
        }
    }

    /** Atomic compare-and-set of the aligned 64-bit word at {@code pa}. */
    public boolean compareAndSetLong(long pa, long expected, long value) {
        checkAligned(pa);
        checkRange(pa, 8);
        if (expected == 0 && value == 0) {
            return readLong(pa) == 0;
        }
        long[] f = frame(pa);
        return WORD.compareAndSet(f, wordIndex(pa), expected, value);
    }

    /** Atomically sets the word to {@code value} and returns the old one. */
    public long getAndSetLong(long pa, long value) {
        checkAligned(pa);
        checkRange(pa, 8);
        long[] f = frame(pa);
        return (long) WORD.getAndSet(f, wordIndex(pa), value);
    }

    // ---- bytes (DMA data) ----------------------------------------------------------------

    /** Copies {@code len} bytes at {@code pa} into {@code dst[off..]}. */
    public void read(long pa, byte[] dst, int off, int len) {
        checkRange(pa, len);
        while (len > 0) {
            int fo = (int) (pa & OFFSET_MASK);
            int n = Math.min(len, FRAME_SIZE - fo);
            long[] f = frameOrNull(pa);
            if (f == null) {
                java.util.Arrays.fill(dst, off, off + n, (byte) 0);
            } else {
                copyOut(f, fo, dst, off, n);
            }
            pa += n;
            off += n;
            len -= n;
        }
    }

    /** Bytes {@code [fo, fo+n)} of frame {@code f} into {@code dst[off..]}, whole words at a time. */
    private static void copyOut(long[] f, int fo, byte[] dst, int off, int n) {
        int i = 0;
        for (; i < n && ((fo + i) & 7) != 0; i++) {
            dst[off + i] = byteAt(f, fo + i);
        }
        for (; n - i >= 8; i += 8) {
            BYTES_LE.set(dst, off + i, (long) WORD.getOpaque(f, (fo + i) >>> 3));
        }
        for (; i < n; i++) {
            dst[off + i] = byteAt(f, fo + i);
        }
    }

    private static byte byteAt(long[] f, int fo) {
        return (byte) ((long) WORD.getOpaque(f, fo >>> 3) >>> ((fo & 7) << 3));
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
            int fo = (int) (pa & OFFSET_MASK);
            int n = Math.min(len, FRAME_SIZE - fo);
            copyIn(src, off, frame(pa), fo, n);
            pa += n;
            off += n;
            len -= n;
        }
    }

    /**
     * {@code src[off..off+n)} into bytes {@code [fo, fo+n)} of frame {@code f}: whole words
     * stored atomically, partial words merged so their other bytes survive concurrent writes.
     */
    private static void copyIn(byte[] src, int off, long[] f, int fo, int n) {
        int i = 0;
        if ((fo & 7) != 0) {
            int k = Math.min(n, 8 - (fo & 7));
            mergeBytes(f, fo, src, off, k);
            i = k;
        }
        for (; n - i >= 8; i += 8) {
            WORD.setOpaque(f, (fo + i) >>> 3, (long) BYTES_LE.get(src, off + i));
        }
        if (i < n) {
            mergeBytes(f, fo + i, src, off + i, n - i);
        }
    }

    /** Writes {@code k} bytes (all in one word) at frame offset {@code fo}; zeros if {@code src} is null. */
    private static void mergeBytes(long[] f, int fo, byte[] src, int off, int k) {
        int shift = (fo & 7) << 3;
        long mask = (k == 8 ? -1L : (1L << (k << 3)) - 1) << shift;
        long bits = 0;
        if (src != null) {
            for (int j = 0; j < k; j++) {
                bits |= (src[off + j] & 0xffL) << (j << 3);
            }
        }
        bits <<= shift;
        int w = fo >>> 3;
        long old;
        do {
            old = (long) WORD.getVolatile(f, w);
        } while (!WORD.compareAndSet(f, w, old, (old & ~mask) | bits));
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
            int fo = (int) (pa & OFFSET_MASK);
            int n = (int) Math.min(end - pa, FRAME_SIZE - fo);
            if (n == FRAME_SIZE) {
                dropFrame(pa);
            } else {
                long[] f = frameOrNull(pa);
                if (f != null) {
                    clearBytes(f, fo, n);
                }
            }
            pa += n;
        }
    }

    /**
     * Makes every frame of the frame-aligned block {@code [pa, pa+len)} a fresh zeroed, backed
     * frame: how {@link FrameAllocator} hands out page-table pages (the kernel's zeroed page).
     * Reads see zero as after {@link #zero}; the difference is that the first descriptor
     * writes find their frame already there and stay on the short path.
     */
    void zeroBacked(long pa, long len) {
        checkRange(pa, len);
        if (((pa | len) & OFFSET_MASK) != 0) {
            throw new IllegalArgumentException(String.format("block [%#x, +%#x) is not frame aligned", pa, len));
        }
        for (long end = pa + len; pa < end; pa += FRAME_SIZE) {
            long[][] frames;
            int fi;
            long off = pa - directBase;
            if (Long.compareUnsigned(off, directLimit) < 0) {
                frames = direct;
                fi = (int) (off >>> FRAME_SHIFT);
            } else {
                long fn = pa >>> FRAME_SHIFT;
                frames = chunk((int) (fn >>> CHUNK_SHIFT));
                fi = (int) (fn & CHUNK_MASK);
            }
            if (FRAME_SLOT.getAndSet(frames, fi, new long[FRAME_WORDS]) == null) {
                framesTouched.increment();
            }
        }
    }

    private static void clearBytes(long[] f, int fo, int n) {
        int i = 0;
        if ((fo & 7) != 0) {
            int k = Math.min(n, 8 - (fo & 7));
            mergeBytes(f, fo, null, 0, k);
            i = k;
        }
        for (; n - i >= 8; i += 8) {
            WORD.setOpaque(f, (fo + i) >>> 3, 0L);
        }
        if (i < n) {
            mergeBytes(f, fo + i, null, 0, n - i);
        }
    }

    // ---- Word runs for page-table writers (added with the ARM LPAE format) ----
    // The kernel writes PTEs with plain stores and one barrier per map call. The run helpers
    // resolve the frame once per 4 KiB instead of once per word and use opaque accesses (atomic
    // per word, so no walker sees a torn descriptor, but unordered), which the JIT can unroll;
    // a fill ends with a release fence, the kernel's wmb().

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
            int w = wordIndex(pa);
            int inFrame = Math.min(max - n, FRAME_WORDS - w);
            long[] f = frameOrNull(pa);
            if (f == null) {
                if (value != 0) { // an untouched frame reads as zeros
                    return n;
                }
            } else {
                for (int i = 0; i < inFrame; i++) {
                    if (((long) WORD.getOpaque(f, w + i) & mask) != value) {
                        return n + i;
                    }
                }
            }
            n += inFrame;
            pa += (long) inFrame << 3;
        }
        return n;
    }

    /**
     * Counts the consecutive aligned words from {@code pa} (at most {@code max}) that have any
     * bit of {@code mask} set (a run of present entries). Each word is read atomically, without
     * ordering (READ_ONCE).
     */
    public int countLongsWithAnyBit(long pa, int max, long mask) {
        checkAligned(pa);
        if (max <= 0) {
            return 0;
        }
        checkRange(pa, 8L * max);
        int n = 0;
        while (n < max) {
            int w = wordIndex(pa);
            int inFrame = Math.min(max - n, FRAME_WORDS - w);
            long[] f = frameOrNull(pa);
            if (f == null) {
                return n; // an untouched frame reads as zeros
            }
            for (int i = 0; i < inFrame; i++) {
                if (((long) WORD.getOpaque(f, w + i) & mask) == 0) {
                    return n + i;
                }
            }
            n += inFrame;
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
            int w = wordIndex(pa);
            int inFrame = Math.min(count - done, FRAME_WORDS - w);
            long[] f = zeros ? frameOrNull(pa) : frame(pa);
            if (f != null) {
                for (int i = 0; i < inFrame; i++) {
                    WORD.setOpaque(f, w + i, v);
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
