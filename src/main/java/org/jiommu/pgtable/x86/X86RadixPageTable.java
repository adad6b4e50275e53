package org.jiommu.pgtable.x86;

import org.jiommu.base.Errno;
import org.jiommu.base.IommuException;
import org.jiommu.base.Prot;
import org.jiommu.base.WarningSink;
import org.jiommu.mem.FrameAllocator;
import org.jiommu.mem.PhysicalMemory;
import org.jiommu.pgtable.IoPageTable;
import org.jiommu.pgtable.IotlbGather;
import org.jiommu.pgtable.Mapped;
import org.jiommu.pgtable.TlbOps;

/**
 * The walker shared by the two Intel radix formats, following the kernel's generic page-table
 * code ({@code drivers/iommu/generic_pt/iommu_pt.h}, ~v6.18/6.19): 4 KiB tables of 512 8-byte
 * entries, 9 index bits per level, leaves of 4 KiB (level 1), 2 MiB (level 2, PS=1) and 1 GiB
 * (level 3, PS=1). The formats differ only in how an entry says "present" and in the attribute
 * bits ({@link VtdSecondLevelPageTable} for {@code fmt/vtdss.h}, {@link X86FirstLevelPageTable}
 * for {@code fmt/x86_64.h}); everything else lives here.
 *
 * <p>Levels are numbered as the VT-d specification and QEMU do: 1 = the 4 KiB page table,
 * {@link #levels()} = the top table (generic_pt counts from 0 at the page table).
 *
 * <p>Rules kept from generic_pt (docs/pgtable-vtd-x86.md has the sources):
 * <ul>
 * <li>map_pages picks one leaf size for the whole call ({@code pt_compute_best_pgsize}),
 *     map_range the best size at each point; an occupied
 *     entry gives {@code -EADDRINUSE}; an empty table where a leaf goes is freed through a gather
 *     and {@link TlbOps#iotlbSync} ({@code clear_contig});</li>
 * <li>unmap removes whole leaves, stops at the first hole, returns 0 when the first leaf does not
 *     start at the requested address, and frees a table only when one call covers all of it
 *     ({@code __unmap_range}); freed tables go on the gather's freelist.</li>
 * </ul>
 *
 * <p>Thread safety: disjoint concurrent map and unmap calls are safe. A table is installed with
 * compare-and-set; the loser of a race frees its page and uses the winner's
 * ({@code pt_iommu_new_table}). Leaves are written with a plain atomic store, as the kernel's
 * {@code WRITE_ONCE}. Hot paths allocate nothing.
 */
public abstract sealed class X86RadixPageTable implements IoPageTable
        permits VtdSecondLevelPageTable, X86FirstLevelPageTable {

    public static final long SZ_4K = 1L << 12;
    public static final long SZ_2M = 1L << 21;
    public static final long SZ_1G = 1L << 30;
    /** Every page size the formats can store: 4 KiB, 2 MiB, 1 GiB. */
    public static final long ALL_PAGE_SIZES = SZ_4K | SZ_2M | SZ_1G;

    /** Page size: set in a level-2 or level-3 entry that is a leaf (both formats, bit 7). */
    public static final long PS = 1L << 7;
    /** Output address / next-table address field, bits 51:12 (VTDSS_FMT_OA, X86_64_FMT_OA). */
    public static final long OA_MASK = 0x000F_FFFF_FFFF_F000L;
    /** Largest output address width either format stores (PT_MAX_OUTPUT_ADDRESS_LG2). */
    public static final int MAX_OUTPUT_WIDTH = 52;

    static final int PAGE_SHIFT = 12;
    static final int BITS_PER_LEVEL = 9;
    static final int ENTRIES = 512;
    static final int INDEX_MASK = ENTRIES - 1;
    /** Leaves exist at levels 1..3 only (pt_can_have_leaf: generic_pt level <= 2). */
    static final int MAX_LEAF_LEVEL = 3;

    final PhysicalMemory memory;
    final FrameAllocator allocator;
    final int levels;
    final int vaBits;
    final int oaBits;
    /** PT_FEAT_SIGN_EXTEND: canonical upper/lower halves (x86 first level only). */
    final boolean signExtend;
    final long pgsizeBitmap;
    /** An entry is in use iff {@code (pte & presentMask) != 0}. */
    final long presentMask;
    /** Attribute bits of a non-leaf entry (pt_install_table). */
    final long tableBits;
    final WarningSink warnings;
    /** CONFIG_DEBUG_GENERIC_PT: check each leaf's size against pt_compute_best_pgsize. */
    final boolean debugChecks;
    private final long root;
    private volatile TlbOps tlb;
    private volatile boolean freed;

    X86RadixPageTable(Config c, long presentMask, long tableBits) {
        this.allocator = c.allocator;
        this.memory = c.allocator.memory();
        this.levels = c.levels;
        this.vaBits = c.vaBits;
        this.oaBits = c.oaBits;
        this.signExtend = c.signExtend;
        this.pgsizeBitmap = c.pgsizeBitmap;
        this.presentMask = presentMask;
        this.tableBits = tableBits;
        this.warnings = c.warnings;
        this.debugChecks = c.debugChecks;
        this.tlb = c.tlb != null ? c.tlb : TlbOps.NONE;
        long top = allocator.alloc(0);
        if (top < 0) {
            throw new IommuException(Errno.ENOMEM, "no page for the top table of a " + format() + " table");
        }
        this.root = top;
    }

    /** What the builders collect; validated by them before a table is made. */
    static final class Config {
        FrameAllocator allocator;
        int levels;
        int vaBits;
        int oaBits = MAX_OUTPUT_WIDTH;
        boolean signExtend;
        long pgsizeBitmap = ALL_PAGE_SIZES;
        WarningSink warnings = WarningSink.IGNORE;
        boolean debugChecks;
        TlbOps tlb;

        /** The checks of pt_iommu_init / get_info, as IommuException with the kernel's errno. */
        void validate(String what) {
            if (allocator == null) {
                throw new IllegalArgumentException(what + ": no frame allocator");
            }
            int coverage = coverage(levels);
            if (vaBits <= 30 || vaBits > coverage(5)) {
                // pt_iommu_init: 0 or more than PT_MAX_VA_ADDRESS_LG2 (57) is -EINVAL; the model
                // also wants room for a 1G leaf
                throw new IommuException(Errno.EINVAL, String.format(
                        "%s: input width %d is outside 31..57", what, vaBits));
            }
            if (vaBits > coverage) {
                // pt_init_common: the top table cannot hold max_vasz_lg2
                throw new IommuException(Errno.EOPNOTSUPP, String.format(
                        "%s: %d levels resolve %d bits, not %d", what, levels, coverage, vaBits));
            }
            if (signExtend && vaBits != coverage) {
                // the kernel indexes the top table with va mod 2^vasz while the walker sign-extends
                // from the top bit the levels resolve; the two agree only at full width
                throw new IommuException(Errno.EINVAL, String.format(
                        "%s: sign extension needs the full %d-bit width of %d levels, not %d",
                        what, coverage, levels, vaBits));
            }
            if (oaBits <= PAGE_SHIFT || oaBits > MAX_OUTPUT_WIDTH) {
                throw new IommuException(Errno.EINVAL, String.format(
                        "%s: output width %d is outside 13..%d", what, oaBits, MAX_OUTPUT_WIDTH));
            }
            if ((pgsizeBitmap & ~ALL_PAGE_SIZES) != 0 || (pgsizeBitmap & SZ_4K) == 0) {
                throw new IommuException(Errno.EINVAL, String.format(
                        "%s: page sizes %#x must include 4K and be within 4K|2M|1G", what, pgsizeBitmap));
            }
            // get_info: hide page sizes larger than the maximum OA
            pgsizeBitmap &= oaBits >= 63 ? -1L : (1L << oaBits) - 1;
        }
    }

    /**
     * The settings both formats' builders share; each setter returns the concrete builder so
     * calls chain. The format builders add their own settings and {@code build()}.
     *
     * @param <B> the concrete builder
     */
    public abstract static class CommonBuilder<B extends CommonBuilder<B>> {
        final Config c = new Config();

        CommonBuilder(FrameAllocator allocator) {
            c.allocator = allocator;
        }

        abstract B self();

        /** Output address width, at most 52 (hw_max_oasz_lg2); default 52. */
        public B outputWidth(int bits) {
            c.oaBits = bits;
            return self();
        }

        /**
         * The domain's page sizes, a subset of 4K|2M|1G that includes 4K; default all three.
         * VT-d second level: what CAP.SLLPS allows (bit 0 → 2M, bit 1 → 1G); first level: 1G
         * only with CAP.FL1GP.
         */
        public B pageSizes(long bitmap) {
            c.pgsizeBitmap = bitmap;
            return self();
        }

        public B warnings(WarningSink sink) {
            c.warnings = sink;
            return self();
        }

        /** CONFIG_DEBUG_GENERIC_PT's leaf-size check on every leaf written. */
        public B debugChecks(boolean on) {
            c.debugChecks = on;
            return self();
        }

        /** The driver's TLB ops ({@link TlbOps#iotlbSync} is what this format calls); default {@link TlbOps#NONE}. */
        public B tlb(TlbOps ops) {
            c.tlb = ops;
            return self();
        }
    }

    /** Bytes of input address space {@code levels} levels resolve: 12 + 9 * levels bits. */
    static int coverage(int levels) {
        return PAGE_SHIFT + BITS_PER_LEVEL * levels;
    }

    /** Address bits below an entry at {@code level}: 12, 21, 30, 39, 48. */
    static int shift(int level) {
        return PAGE_SHIFT + BITS_PER_LEVEL * (level - 1);
    }

    /** Index of {@code iova} in a table at {@code level} (9 bits from {@link #shift}). */
    public static int index(long iova, int level) {
        return (int) ((iova >>> shift(level)) & INDEX_MASK);
    }

    // ---- format hooks -------------------------------------------------------------------

    /** {@code pt_iommu_set_prot}'s refusal for this format, 0 if {@code prot} is acceptable. */
    abstract int checkProt(int prot);

    /** {@code pt_iommu_set_prot}: the leaf attribute bits (without PS and address) for {@code prot}. */
    abstract long leafAttributes(int prot);

    // ---- geometry -----------------------------------------------------------------------

    public final int levels() {
        return levels;
    }

    @Override
    public final long pgsizeBitmap() {
        return pgsizeBitmap;
    }

    @Override
    public final int ias() {
        return vaBits;
    }

    @Override
    public final int oas() {
        return oaBits;
    }

    @Override
    public final long root() {
        return root;
    }

    public final boolean signExtend() {
        return signExtend;
    }

    public final FrameAllocator allocator() {
        return allocator;
    }

    /**
     * Replaces the {@link TlbOps} (null: {@link TlbOps#NONE}): a driver whose ops need the domain
     * the table is made for sets them once the domain exists.
     */
    public final void setTlb(TlbOps ops) {
        this.tlb = ops != null ? ops : TlbOps.NONE;
    }


    // ---- map ----------------------------------------------------------------------------

    /**
     * {@code map_pages} (iommu_pt.h). Checks, in the kernel's order: no READ/WRITE ({@code WARN},
     * {@code -EINVAL}); {@code paddr} beyond the output width ({@code -ERANGE}); the format's
     * prot rule ({@code -EINVAL}); an empty ({@code -EINVAL}) or wrapping ({@code -EOVERFLOW})
     * range; no page size fits the alignment ({@code -ENXIO}); the range outside the table
     * ({@code -ERANGE}). Then maps with one leaf size; an occupied entry stops it with
     * {@code -EADDRINUSE} and {@code mapped} says how far it got.
     */
    @Override
    public final int mapPages(long iova, long paddr, long pgsize, long pgcount, int prot, Mapped mapped) {
        int ret = checkMap(iova, paddr, prot);
        if (ret != 0) {
            return ret;
        }
        long attrs = leafAttributes(prot);
        // A single aligned 4 KiB page, or a single aligned 2 MiB page on a table that has 2M
        // leaves, passes every check of map() (it cannot wrap) and gets the leaf size map would
        // pick (pt_compute_best_pgsize: the alignment and the length both stop at pgsize): try
        // the short path first; it changes nothing when it declines.
        if (pgcount == 1 && !debugChecks
                && (pgsize == SZ_4K || (pgsize == SZ_2M && (pgsizeBitmap & SZ_2M) != 0))
                && ((iova | paddr) & (pgsize - 1)) == 0 && rangeOk(iova, iova + pgsize - 1)
                && mapPage(iova, paddr, pgsize == SZ_4K ? attrs : attrs | PS, pgsize == SZ_4K ? 1 : 2, mapped)) {
            return 0;
        }
        return map(iova, paddr, pgsize, pgcount, attrs, mapped);
    }

    /**
     * The checks map_pages and map_range make first, in the kernel's order: no READ/WRITE (WARN,
     * {@code -EINVAL}), {@code paddr} beyond the output width ({@code -ERANGE}), the format's
     * prot rule. 0 when the map may go on.
     */
    private int checkMap(long iova, long paddr, int prot) {
        if ((prot & (Prot.READ | Prot.WRITE)) == 0) {
            return warnNoPermission(iova, prot);
        }
        if ((paddr >>> oaBits) != 0) {
            return Errno.ERANGE.neg();
        }
        return checkProt(prot);
    }

    private int warnNoPermission(long iova, int prot) {
        warnings.warn("map_pages", String.format("%s map of iova %#x with prot %s: neither READ nor WRITE",
                format(), iova, Prot.format(prot)));
        return Errno.EINVAL.neg();
    }

    /**
     * {@code map_range} (iommu_pt.h of the 7.1 merge window, what {@code iommu_map} calls once for
     * a whole generic_pt range): the same checks as {@link #mapPages}, in the same order, then
     * leaves of the best size at each point ({@code pt_compute_best_pgsize} of the domain's page
     * sizes, the alignment of iova and paddr and the remaining length), stepping up to larger
     * leaves where iova and paddr allow them. An occupied entry stops it with
     * {@code -EADDRINUSE}; a tail shorter than the smallest page is {@code -ENXIO} (the kernel's
     * debug build; without it the kernel recurses below the last level). {@code mapped} gets the
     * bytes written before a failure; the caller unrolls them.
     */
    public final int mapRange(long iova, long paddr, long len, int prot, Mapped mapped) {
        int ret = checkMap(iova, paddr, prot);
        if (ret != 0) {
            return ret;
        }
        long attrs = leafAttributes(prot);
        // the single aligned 4 KiB page: the short path (the kernel's __map_single_page)
        if (len == SZ_4K && !debugChecks && ((iova | paddr) & (SZ_4K - 1)) == 0
                && rangeOk(iova, iova + SZ_4K - 1) && mapPage(iova, paddr, attrs, 1, mapped)) {
            return 0;
        }
        return mapWalk(iova, paddr, len, attrs, 0, mapped);
    }

    /**
     * The body of map_pages once {@code paddr} was checked against the output width and the
     * leaf attribute bits are known.
     */
    final int map(long iova, long paddr, long pgsize, long pgcount, long attrs, Mapped mapped) {
        // make_range_no_check
        if (pgsize == 0 || pgcount == 0) {
            return Errno.EINVAL.neg();
        }
        long len = pgsize * pgcount;
        if (pgsize < 0 || pgcount < 0 || Math.multiplyHigh(pgsize, pgcount) != 0 || len < 0) {
            return Errno.EOVERFLOW.neg();
        }
        // the single system page takes 4K leaves whatever its alignment allows; otherwise
        // pt_compute_best_pgsize is computed once for the whole call (-1)
        return mapWalk(iova, paddr, len, attrs, pgsize == SZ_4K && pgcount == 1 ? PAGE_SHIFT : -1, mapped);
    }

    /**
     * The walk of map_pages ({@code fixedShift} ≠ 0: one leaf size for the whole call, -1 to
     * compute it once here) and of map_range ({@code fixedShift} = 0: the best size at each
     * point). {@code len} is not 0 for map_pages; map_range checks it here.
     */
    private int mapWalk(long iova, long paddr, long len, long attrs, int fixedShift, Mapped mapped) {
        if (len == 0) {
            return Errno.EINVAL.neg();
        }
        long last = iova + len - 1;
        if (Long.compareUnsigned(last, iova) < 0) {
            return Errno.EOVERFLOW.neg();
        }
        int firstShift;
        if (fixedShift > 0) {
            // map_pages' single system page: only its alignment matters
            firstShift = ((iova | paddr) & (SZ_4K - 1)) == 0 ? PAGE_SHIFT : 0;
        } else {
            firstShift = bestPageShift(pgsizeBitmap, iova, last, paddr);
        }
        if (firstShift == 0) {
            return Errno.ENXIO.neg();
        }
        if (!rangeOk(iova, last)) {
            return Errno.ERANGE.neg();
        }
        // the walk (do_map); one method with the checks, so the JIT never inlines it whole
        final PhysicalMemory mem = memory;
        long va = iova;
        long oa = paddr;
        int ret = 0;
        int leafShift = firstShift;
        IotlbGather replaced = null;
        fill:
        while (true) {
            long runLast = last;
            if (fixedShift == 0) {
                // map_range: the leaf size where va is now, and how far it lasts
                leafShift = bestPageShift(pgsizeBitmap, va, last, oa);
                if (leafShift == 0) {
                    ret = Errno.ENXIO.neg(); // a tail shorter than the smallest page
                    break;
                }
                runLast = runLast(va, last, leafShift);
            }
            final int leafLevel = (leafShift - PAGE_SHIFT) / BITS_PER_LEVEL + 1;
            final long leafSize = 1L << leafShift;
            final long leafBits = attrs | (leafLevel > 1 ? PS : 0);
            // descend to the table at leafLevel holding va, adding missing tables
            long table = root;
            int level = levels;
            while (level > leafLevel) {
                long slot = table + ((long) index(va, level) << 3);
                long e = mem.readLongAcquire(slot);
                if (!isTable(e, level)) {
                    if ((e & presentMask) != 0) {
                        ret = Errno.EADDRINUSE.neg(); // a leaf where a table is needed
                        break fill;
                    }
                    long t = allocator.alloc(0);
                    if (t < 0) {
                        ret = Errno.ENOMEM.neg();
                        break fill;
                    }
                    long te = t | tableBits;
                    if (!mem.compareAndSetLong(slot, e, te)) {
                        allocator.free(t); // lost a race with a concurrent map: use its table
                        continue;
                    }
                    e = te;
                }
                table = e & OA_MASK;
                level--;
            }
            int idx = index(va, leafLevel);
            int end = ((va ^ runLast) >>> (leafShift + BITS_PER_LEVEL)) == 0 ? index(runLast, leafLevel) + 1 : ENTRIES;
            long slot = table + ((long) idx << 3);
            if (end - idx > 1 && !debugChecks && ((oa + ((long) (end - idx) << leafShift) - 1) >>> MAX_OUTPUT_WIDTH) == 0
                    && mem.countMatchingLongs(slot, end - idx, -1L, 0) == end - idx) {
                // the common case of a run of empty entries: one frame lookup for all of them;
                // anything non-zero takes the entry-by-entry path below, which decides exactly
                int n = end - idx;
                mem.fillLongsRelease(slot, n, oa | leafBits, leafSize);
                va += n * leafSize;
                oa += n * leafSize;
                idx = end;
            }
            for (; idx < end; idx++, slot += 8) {
                long e = mem.readLongAcquire(slot);
                if ((e & presentMask) != 0) {
                    if (leafLevel == 1 || !isTable(e, leafLevel)) {
                        ret = Errno.EADDRINUSE.neg();
                        break fill;
                    }
                    if (replaced == null) {
                        replaced = new IotlbGather();
                    }
                    ret = replaceEmptyTable(slot, e, leafLevel, va, leafSize, replaced);
                    if (ret != 0) {
                        break fill;
                    }
                }
                if (debugChecks) {
                    checkLeafSize(va, last, oa, leafShift);
                }
                // an output range running past 2^52 wraps: the entry holds bits 51:12 only
                mem.writeLongRelease(slot, (oa & OA_MASK) | leafBits);
                va += leafSize;
                oa += leafSize;
            }
            if (Long.compareUnsigned(va - 1, last) >= 0) {
                break;
            }
        }
        mapped.bytes += va - iova;
        if (replaced != null && !replaced.freelist.isEmpty()) {
            // map_pages / map_range: table levels were replaced by leaves; flush walk caches
            // before freeing
            tlb.iotlbSync(this, replaced);
        }
        if (fixedShift != 0 && ret == 0 && va - iova != last - iova + 1) {
            warnings.warn("map_pages", String.format("%s map of [%#x, %#x] wrote %#x bytes of %#x-byte leaves",
                    format(), iova, last, va - iova, 1L << leafShift));
        }
        return ret;
    }

    /**
     * The last byte of the run of {@code 1 << shift} leaves map_range writes from {@code va}: as
     * many whole leaves as the remaining length holds. (Where a larger page could start, a
     * table of this leaf size ends, and the walk picks the size again there.)
     */
    static long runLast(long va, long last, int shift) {
        return va + (((last - va + 1) >>> shift) << shift) - 1;
    }

    /**
     * The single 4 KiB page (leaf level 1) or 2 MiB page (leaf level 2, {@code leafBits} with
     * PS) into an empty entry under tables that exist (the common case): what map does for it,
     * without its set-up. Returns false, having changed nothing, when a table is missing, a
     * large leaf is on the way or the entry is not zero (a leaf: -EADDRINUSE; for 2M, a table
     * that clear_contig may replace); map then decides.
     */
    private boolean mapPage(long iova, long paddr, long leafBits, int leafLevel, Mapped mapped) {
        final PhysicalMemory mem = memory;
        long table = root;
        for (int level = levels; level > leafLevel; level--) {
            long e = mem.readLongAcquire(table + ((long) index(iova, level) << 3));
            if (!isTable(e, level)) {
                return false;
            }
            table = e & OA_MASK;
        }
        long slot = table + ((long) index(iova, leafLevel) << 3);
        if (mem.readLongAcquire(slot) != 0) {
            return false;
        }
        mem.writeLongRelease(slot, paddr | leafBits);
        mapped.bytes += 1L << shift(leafLevel);
        return true;
    }

    /**
     * {@code clear_contig}: a leaf goes where a table is. Allowed only if no leaf lives anywhere
     * below it ({@code -EADDRINUSE} otherwise, nothing changed); then the entry is cleared and
     * every table page of the subtree goes on {@code gather}'s freelist with the entry's range.
     */
    private int replaceEmptyTable(long slot, long e, int level, long va, long size, IotlbGather gather) {
        long child = e & OA_MASK;
        if (subtreeHasLeaf(child, level - 1)) {
            return Errno.EADDRINUSE.neg();
        }
        memory.writeLongRelease(slot, 0);
        gather.addRange(va, size);
        collectTables(child, level - 1, gather);
        return 0;
    }

    private boolean subtreeHasLeaf(long table, int level) {
        for (int i = 0; i < ENTRIES; i++) {
            long e = memory.readLongAcquire(table + ((long) i << 3));
            if ((e & presentMask) == 0) {
                continue;
            }
            if (!isTable(e, level) || subtreeHasLeaf(e & OA_MASK, level - 1)) {
                return true;
            }
        }
        return false;
    }

    /** Puts {@code table} and every table below it on the gather's freelist (__collect_tables). */
    private void collectTables(long table, int level, IotlbGather gather) {
        gather.freelist.add(table);
        if (level == 1) {
            return;
        }
        for (int i = 0; i < ENTRIES; i++) {
            long e = memory.readLongAcquire(table + ((long) i << 3));
            if (isTable(e, level)) {
                collectTables(e & OA_MASK, level - 1, gather);
            }
        }
    }

    /** CONFIG_DEBUG_GENERIC_PT in __map_range_leaf: the leaf size must be the best one for (va, oa). */
    private void checkLeafSize(long va, long last, long oa, int leafShift) {
        int best = bestPageShift(pgsizeBitmap, va, last, oa);
        if (best != leafShift) {
            warnings.warn("__map_range_leaf", String.format(
                    "%s leaf at iova %#x -> %#x is %#x bytes but the best page size there is %#x",
                    format(), va, oa, 1L << leafShift, best == 0 ? 0 : 1L << best));
        }
    }

    /**
     * {@code pt_compute_best_pgsize}: the largest size in {@code bitmap} that both {@code va} and
     * {@code oa} are aligned to and that is not larger than the largest power of two within the
     * length; returns its shift, or 0 if none fits.
     */
    static int bestPageShift(long bitmap, long va, long last, long oa) {
        if (Long.compareUnsigned(va, last) >= 0) {
            return 0;
        }
        long len = last - va + 1;
        long mask = va | oa | Long.highestOneBit(len);
        int best = Long.numberOfTrailingZeros(mask);
        long fits = best >= 63 ? bitmap : bitmap & ((1L << (best + 1)) - 1);
        return fits == 0 ? 0 : 63 - Long.numberOfLeadingZeros(fits);
    }

    /**
     * {@code pt_check_range}: both ends inside the input width. With sign extension the prefix
     * is all ones when {@code va} has any bit at or above {@code vaBits-1} set
     * ({@code fvalog2_div}, a shift, not a test of that one bit), and the bits above the width of
     * {@code va} and {@code last} must equal it: so {@code 0xffff_0000_0000_0000} passes on a
     * 48-bit table and indexes like 0 (vector vtd-x86/16).
     */
    final boolean rangeOk(long va, long last) {
        long prefix = signExtend && (va >>> (vaBits - 1)) != 0 ? -1L : 0L;
        long want = prefix >>> vaBits;
        return (va >>> vaBits) == want && (last >>> vaBits) == want;
    }

    /** A non-leaf entry at {@code level}: present, above level 1 and, where leaves exist, PS clear. */
    final boolean isTable(long e, int level) {
        return (e & presentMask) != 0 && level > 1 && (level > MAX_LEAF_LEVEL || (e & PS) == 0);
    }

    /** A present leaf at {@code level}: any entry at level 1, PS=1 at levels 2 and 3. */
    final boolean isLeaf(long e, int level) {
        return (e & presentMask) != 0 && (level == 1 || (level <= MAX_LEAF_LEVEL && (e & PS) != 0));
    }

    // ---- unmap --------------------------------------------------------------------------

    /**
     * {@code unmap_pages} (iommu_pt.h): removes whole leaves from {@code iova} on, up to
     * {@code pgsize * pgcount} bytes or the first hole. A leaf that starts before {@code iova}
     * stops it at once (returns 0, the leaf stays); a leaf that ends after the range is removed
     * whole and counted whole. Tables the range covers completely are cleared and put on
     * {@code gather}'s freelist; {@code [iova, iova + len)} is added to its range. With a null
     * gather the table syncs its own (through {@link TlbOps#iotlbSync}).
     *
     * @return bytes unmapped; 0 for a bad range
     */
    @Override
    public final long unmapPages(long iova, long pgsize, long pgcount, IotlbGather gather) {
        if (pgsize <= 0 || pgcount <= 0 || Math.multiplyHigh(pgsize, pgcount) != 0) {
            return 0;
        }
        long len = pgsize * pgcount;
        long last = iova + len - 1;
        if (len < 0 || Long.compareUnsigned(last, iova) < 0 || !rangeOk(iova, last)) {
            return 0;
        }
        if (gather == null) {
            return unmapAndSync(iova, last, len);
        }
        long unmapped = len == SZ_4K && (iova & (SZ_4K - 1)) == 0 ? unmapPage(iova) : -1;
        if (unmapped < 0) {
            unmapped = unmapWalk(iova, last, gather);
        }
        // gather_range_pages with PT_FEAT_FLUSH_RANGE: the requested range, not what was removed
        gather.addRange(iova, len);
        return unmapped;
    }

    /**
     * {@code unmap_range} (iommu_pt.h of the 7.1 merge window, what {@code iommu_unmap} calls once
     * for a generic_pt domain): the walk of {@link #unmapPages} over {@code [iova, iova + len)},
     * but the gather gets the range really unmapped, {@code [iova, iova + unmapped)}, and nothing
     * when nothing was unmapped (so the core's {@code iommu_iotlb_sync} has nothing to flush).
     * With a null gather the table syncs its own (through {@link TlbOps#iotlbSync}).
     *
     * @return bytes unmapped; 0 for a bad range (empty, wrapping, outside the table)
     */
    public final long unmapRange(long iova, long len, IotlbGather gather) {
        long last = iova + len - 1;
        if (len == 0 || Long.compareUnsigned(last, iova) < 0 || !rangeOk(iova, last)) {
            return 0;
        }
        IotlbGather g = gather != null ? gather : new IotlbGather();
        long unmapped = len == SZ_4K && (iova & (SZ_4K - 1)) == 0 ? unmapPage(iova) : -1;
        if (unmapped < 0) {
            unmapped = unmapWalk(iova, last, g);
        }
        if (unmapped != 0) {
            g.addRange(iova, unmapped);
        }
        if (gather == null && !g.isEmpty()) {
            tlb.iotlbSync(this, g);
        }
        return unmapped;
    }

    /** unmap_pages without a caller's gather: the table syncs its own. */
    private long unmapAndSync(long iova, long last, long len) {
        IotlbGather g = new IotlbGather();
        long unmapped = unmapWalk(iova, last, g);
        g.addRange(iova, len);
        tlb.iotlbSync(this, g);
        return unmapped;
    }

    /**
     * The walk of unmap_pages over a checked range {@code [iova, last]}; bytes unmapped. (Split
     * from unmapPages so that each stays small enough for the JIT to inline into callers.)
     */
    private long unmapWalk(long iova, long last, IotlbGather g) {
        // While the range sits inside one table entry that it does not cover whole, the walk
        // at that level only passes through: go down without recursing (same result).
        final PhysicalMemory mem = memory;
        long table = root;
        int level = levels;
        while (level > 1) {
            int s = shift(level);
            if (((iova ^ last) >>> s) != 0) {
                break;
            }
            long e = mem.readLongAcquire(table + ((long) index(iova, level) << 3));
            if (!isTable(e, level) || ((iova | ~last) & ((1L << s) - 1)) == 0) {
                break; // a leaf or a hole is handled below, and so is a table to free
            }
            table = e & OA_MASK;
            level--;
        }
        return unmapLevel(table, level, iova, last, g) & ~1L;
    }

    /**
     * The single 4 KiB page at {@code iova} (aligned) when it is a leaf under tables (the common
     * case): clears it and returns 4 KiB, as unmapWalk would. Returns -1, having changed
     * nothing, for anything else (a hole, a large leaf on the way); unmapWalk then decides.
     * Small so that the JIT inlines it into callers.
     */
    private long unmapPage(long iova) {
        final PhysicalMemory mem = memory;
        long table = root;
        for (int level = levels; level > 1; level--) {
            long e = mem.readLongAcquire(table + ((long) index(iova, level) << 3));
            if (!isTable(e, level)) {
                return -1;
            }
            table = e & OA_MASK;
        }
        long slot = table + ((long) index(iova, 1) << 3);
        if ((mem.readLongAcquire(slot) & presentMask) == 0) {
            return -1;
        }
        mem.writeLongRelease(slot, 0);
        return SZ_4K;
    }

    /**
     * {@code __unmap_range} for one table. Returns the bytes of leaves cleared at and below this
     * table, with bit 0 set when the walk must stop (a hole, or a first leaf not starting at
     * {@code va}); sizes are multiples of 4 KiB so the bit is free.
     */
    private long unmapLevel(long table, int level, long va, long last, IotlbGather gather) {
        final PhysicalMemory mem = memory;
        final int s = shift(level);
        final long size = 1L << s;
        final int first = index(va, level);
        final int end = ((va ^ last) >>> (s + BITS_PER_LEVEL)) == 0 ? index(last, level) + 1 : ENTRIES;
        long cleared = 0;
        long stop = 0;
        int idx = first;
        long slot = table + ((long) idx << 3);
        long e = mem.readLongAcquire(slot);
        if (isLeaf(e, level) && (va & (size - 1)) != 0) {
            return 1; // the range starts inside a large leaf: it cannot be split
        }
        if (level == 1 && end - first > 1) {
            // Every present level-1 entry is a leaf: clear the run of present ones up to the
            // first hole with one frame lookup, as the loop below would entry by entry.
            int n = mem.countLongsWithAnyBit(slot, end - first, presentMask);
            mem.fillLongsRelease(slot, n, 0, 0);
            return (long) n * size | (first + n < end ? 1 : 0);
        }
        while (true) {
            if ((e & presentMask) == 0) {
                stop = 1;
                break;
            }
            if (level == 1 || (level <= MAX_LEAF_LEVEL && (e & PS) != 0)) {
                mem.writeLongRelease(slot, 0);
                cleared += size;
            } else {
                long entryVa = idx == first ? va : (va & -(size << BITS_PER_LEVEL)) | ((long) idx << s);
                boolean covered = (entryVa & (size - 1)) == 0
                        && Long.compareUnsigned(last - entryVa, size - 1) >= 0;
                long child = e & OA_MASK;
                long r = unmapLevel(child, level - 1, entryVa, last, gather);
                cleared += r & ~1L;
                if ((r & 1) != 0) {
                    stop = 1;
                    break;
                }
                if (covered) {
                    // every entry below was present and is now clear: the table goes too
                    gather.freelist.add(child);
                    mem.writeLongRelease(slot, 0);
                }
            }
            if (++idx >= end) {
                break;
            }
            slot += 8;
            e = mem.readLongAcquire(slot);
        }
        return cleared | stop;
    }

    // ---- lookup, walk, free -------------------------------------------------------------

    /**
     * {@code iova_to_phys}: the output address of {@code iova} with its offset inside the leaf,
     * or 0 when nothing maps it. For an address outside the table ({@code pt_check_range}) it is
     * what the kernel returns: {@code -ERANGE} cast to phys_addr_t, 0xffff_ffff_ffff_ffde.
     */
    @Override
    public final long iovaToPhys(long iova) {
        if (!rangeOk(iova, iova)) {
            return Errno.ERANGE.neg(); // make_range's errno, cast to phys_addr_t as the kernel returns it
        }
        // The descent through tables is the counted loop of unmapPage (one read per level, the
        // exit test one branch); the 4K leaf is read after it. The kernel's walk is
        // PT_MAKE_LEVELS' per-level functions, __iova_to_phys stopping at the first leaf.
        final PhysicalMemory mem = memory;
        long table = root;
        for (int level = levels; level > 1; level--) {
            long e = mem.readLongAcquire(table + ((long) index(iova, level) << 3));
            if (!isTable(e, level)) {
                return largeLeafToPhys(e, level, iova);
            }
            table = e & OA_MASK;
        }
        long e = mem.readLongAcquire(table + ((long) index(iova, 1) << 3));
        return (e & presentMask) == 0 ? 0 : (e & OA_MASK) | (iova & (SZ_4K - 1));
    }

    /** iova_to_phys at a level-2..5 entry that is not a table: a 2M/1G leaf, or a hole (0). */
    private long largeLeafToPhys(long e, int level, long iova) {
        if (!isLeaf(e, level)) {
            return 0;
        }
        long low = (1L << shift(level)) - 1;
        return (e & OA_MASK & ~low) | (iova & low);
    }

    /**
     * Visits every present entry depth-first in index order. Levels are 1 (4K) .. {@link #levels};
     * with sign extension, upper-half addresses are reported in canonical form.
     */
    @Override
    public final void walk(DescriptorVisitor visitor) {
        walkTable(root, levels, 0, visitor);
    }

    private void walkTable(long table, int level, long base, DescriptorVisitor visitor) {
        int s = shift(level);
        for (int i = 0; i < ENTRIES; i++) {
            long e = memory.readLongAcquire(table + ((long) i << 3));
            if ((e & presentMask) == 0) {
                continue;
            }
            long va = canonical(base | ((long) i << s));
            if (isLeaf(e, level)) {
                visitor.visit(level, va, 1L << s, e, true);
            } else {
                visitor.visit(level, va, 1L << s, e, false);
                walkTable(e & OA_MASK, level - 1, base | ((long) i << s), visitor);
            }
        }
    }

    private long canonical(long va) {
        if (!signExtend) {
            return va;
        }
        int sh = 64 - vaBits;
        return (va << sh) >> sh;
    }

    /** Frees every table page including the top table (pt_iommu_deinit). */
    @Override
    public final void free() {
        if (freed) {
            throw new IllegalStateException(format() + " table at " + Long.toHexString(root) + " freed twice");
        }
        freed = true;
        freeTables(root, levels);
    }

    private void freeTables(long table, int level) {
        if (level > 1) {
            for (int i = 0; i < ENTRIES; i++) {
                long e = memory.readLongAcquire(table + ((long) i << 3));
                if (isTable(e, level)) {
                    freeTables(e & OA_MASK, level - 1);
                }
            }
        }
        allocator.free(table);
    }

    @Override
    public String toString() {
        return String.format("%s{levels=%d, ias=%d, oas=%d, root=%#x}", format(), levels, vaBits, oaBits, root);
    }
}
