package org.jiommu.pgtable.arm;

import org.jiommu.base.Errno;
import org.jiommu.base.IommuException;
import org.jiommu.base.Prot;
import org.jiommu.base.WarningSink;
import org.jiommu.mem.FrameAllocator;
import org.jiommu.mem.PhysicalMemory;
import org.jiommu.pgtable.IoPageTable;
import org.jiommu.pgtable.IotlbGather;
import org.jiommu.pgtable.Mapped;
import org.jiommu.pgtable.PgtableFormat;
import org.jiommu.pgtable.TlbOps;

/**
 * VMSAv8-64 long-descriptor tables ({@code ARM_64_LPAE_S1}, {@code ARM_64_LPAE_S2}) written
 * bit for bit as the current kernel's {@code drivers/iommu/io-pgtable-arm.c} writes them
 * (HARDWARE.md 1.1-1.9; no split on partial unmap, mandatory-only stage-2 concatenation).
 *
 * <p>Descriptors live in {@link PhysicalMemory}; table pages come zeroed from a
 * {@link FrameAllocator}. The map, unmap and iova_to_phys paths allocate no Java objects:
 * per-level shifts and masks and the descriptor bits for every prot combination are computed
 * once, here.
 *
 * <p>Thread safety (as the kernel): map and unmap of disjoint ranges may run concurrently.
 * A missing table is installed with compare-and-set; the loser frees its page and walks the
 * winner's. Overlapping concurrent calls are the caller's bug.
 */
public final class ArmLpaePageTable implements IoPageTable {
    static final int MAX_LEVELS = 4;

    // Descriptor bits (HARDWARE.md 1.3).
    static final long TYPE_MASK = 0x3;
    static final long TYPE_BLOCK = 0x1;
    static final long TYPE_TABLE = 0x3;
    static final long TYPE_PAGE = 0x3;
    /** {@code ARM_LPAE_PTE_ADDR_MASK} = GENMASK(47, 12). */
    static final long ADDR_MASK = 0x0000_FFFF_FFFF_F000L;
    static final long NSTABLE = 1L << 63;
    static final long XN = 3L << 53;
    static final long DBM = 1L << 51;
    static final long AF = 1L << 10;
    static final long SH_OS = 2L << 8;
    static final long SH_IS = 3L << 8;
    static final long NS = 1L << 5;
    /** Software bit: the walker-visible copy of this table descriptor was synced (non-coherent walks). */
    static final long SW_SYNC = 1L << 55;
    static final long AP_UNPRIV = 1L << 6;
    static final long AP_RDONLY = 1L << 7;
    static final int ATTRINDX_SHIFT = 2;
    static final long NG = 1L << 11;
    static final long HAP_READ = 1L << 6;
    static final long HAP_WRITE = 2L << 6;
    static final long MEMATTR_FWB_WB = 0x6L << 2;
    static final long MEMATTR_OIWB = 0xfL << 2;
    static final long MEMATTR_NC = 0x5L << 2;
    static final long MEMATTR_DEV = 0x1L << 2;

    // MAIR attributes and the AttrIndx values stage-1 leaves use.
    static final int MAIR_ATTR_NC = 0x44;
    static final int MAIR_ATTR_WBRWA = 0xff;
    static final int MAIR_ATTR_DEVICE = 0x04;
    static final int MAIR_ATTR_INC_OWBRWA = 0xf4;
    static final int MAIR_IDX_NC = 0;
    static final int MAIR_IDX_CACHE = 1;
    static final int MAIR_IDX_DEV = 2;
    static final int MAIR_IDX_INC_OCACHE = 3;

    static final long SZ_4K = 1L << 12;
    static final long SZ_64K = 1L << 16;

    private final ArmLpaeConfig config;
    private final PhysicalMemory memory;
    private final FrameAllocator frames;
    private final TlbOps tlb;
    private final WarningSink warnings;

    private final PgtableFormat format;
    private final long pgsizeBitmap;
    private final int ias;
    private final int oas;
    private final boolean noWarn;
    private final boolean ttbr1;
    private final boolean coherentWalk;
    private final boolean granule64k;
    private final int startLevel;
    private final long granule;
    private final int tableOrder;
    private final int ptesPerTable;
    private final long pgd;
    private final long pgdSize;
    private final long tableDescAttrs;
    /** Per level: the IOVA shift and index mask of its tables. */
    private final int[] levelShift = new int[MAX_LEVELS];
    /** The granule-sized leaf walks' geometry: shift and index mask of the top table, bits per level. */
    private final int topShift;
    private final long topIndexMask;
    private final int bitsPerLevel;
    private final long[] indexMask = new long[MAX_LEVELS];
    /** {@code arm_lpae_prot_to_pte} for every combination of the six IOMMU_* flags. */
    private final long[] protToPte = new long[Prot.ALL + 1];
    /** Plain on purpose: a use after free is a caller bug caught on its next call, not a race to win. */
    private boolean freed;

    private ArmLpaePageTable(ArmLpaeConfig config, FrameAllocator frames, TlbOps tlb, WarningSink warnings) {
        ArmLpaeConfig.Geometry g = config.geometry();
        this.config = config;
        this.memory = frames.memory();
        this.frames = frames;
        this.tlb = tlb;
        this.warnings = warnings;
        this.format = config.format();
        this.pgsizeBitmap = config.pgsizeBitmap();
        this.ias = config.ias();
        this.oas = config.oas();
        this.noWarn = config.hasQuirk(ArmLpaeConfig.QUIRK_NO_WARN);
        this.ttbr1 = config.hasQuirk(ArmLpaeConfig.QUIRK_ARM_TTBR1);
        this.coherentWalk = config.coherentWalk();
        this.granule = g.granule();
        this.granule64k = granule == SZ_64K;
        this.startLevel = g.startLevel();
        this.tableOrder = FrameAllocator.orderFor(granule);
        this.ptesPerTable = (int) (granule >>> 3);
        this.pgd = config.ttbr();
        this.pgdSize = g.pgdSize();
        this.tableDescAttrs = TYPE_TABLE | (config.hasQuirk(ArmLpaeConfig.QUIRK_ARM_NS) ? NSTABLE : 0);
        for (int lvl = 0; lvl < MAX_LEVELS; lvl++) {
            levelShift[lvl] = g.levelShift(lvl);
            indexMask[lvl] = (1L << g.indexBits(lvl)) - 1;
        }
        this.topShift = levelShift[startLevel];
        this.topIndexMask = indexMask[startLevel];
        this.bitsPerLevel = g.bitsPerLevel();
        for (int prot = 0; prot <= Prot.ALL; prot++) {
            protToPte[prot] = computeProtToPte(prot);
        }
    }

    /**
     * Allocates a table: {@code alloc_io_pgtable_ops(ARM_64_LPAE_S1/S2, cfg)}. The kernel returns
     * NULL for every failure below (and drivers turn that into -ENOMEM); jiommu says which.
     *
     * @param cfg the driver's request; {@link #config()} returns it with the outputs filled in
     * @param frames where table pages come from (zeroed, naturally aligned)
     * @param tlb the driver's TLB callbacks ({@link TlbOps#NONE} for none)
     * @param warnings where kernel WARNs go
     * @throws IommuException EINVAL for a config the format rejects (format, quirks, no usable
     *     granule, an OAS without a PS encoding, OUTER_WBWA with a coherent walker, more than 16
     *     concatenated stage-2 tables); ENOMEM if the PGD cannot be allocated
     */
    public static ArmLpaePageTable alloc(ArmLpaeConfig cfg, FrameAllocator frames, TlbOps tlb,
                                         WarningSink warnings) {
        return new ArmLpaePageTable(ArmLpaeAlloc.configure(cfg, frames, tlb, warnings), frames, tlb, warnings);
    }

    /** {@code arm_lpae_prot_to_pte}, HARDWARE.md 1.4. */
    private long computeProtToPte(int prot) {
        long pte;
        boolean s1 = format == PgtableFormat.ARM_64_LPAE_S1;
        if (s1) {
            pte = NG;
            if ((prot & Prot.WRITE) == 0 && (prot & Prot.READ) != 0) {
                pte |= AP_RDONLY;
            } else if (config.hasQuirk(ArmLpaeConfig.QUIRK_ARM_HD)) {
                pte |= DBM; // writable and already dirty until read_and_clear_dirty sets AP_RDONLY
            }
            if ((prot & Prot.PRIV) == 0) {
                pte |= AP_UNPRIV;
            }
            if ((prot & Prot.MMIO) != 0) {
                pte |= (long) MAIR_IDX_DEV << ATTRINDX_SHIFT;
            } else if ((prot & Prot.CACHE) != 0) {
                pte |= (long) MAIR_IDX_CACHE << ATTRINDX_SHIFT;
            }
        } else {
            pte = 0;
            if ((prot & Prot.READ) != 0) {
                pte |= HAP_READ;
            }
            if ((prot & Prot.WRITE) != 0) {
                pte |= HAP_WRITE;
            }
            if ((prot & Prot.MMIO) != 0) {
                pte |= MEMATTR_DEV;
            } else if ((prot & Prot.CACHE) != 0) {
                pte |= config.hasQuirk(ArmLpaeConfig.QUIRK_ARM_S2FWB) ? MEMATTR_FWB_WB : MEMATTR_OIWB;
            } else {
                pte |= MEMATTR_NC;
            }
        }
        // Shareability follows CACHE alone, even for MMIO.
        pte |= (prot & Prot.CACHE) != 0 ? SH_IS : SH_OS;
        if ((prot & Prot.NOEXEC) != 0) {
            pte |= XN;
        }
        if (config.hasQuirk(ArmLpaeConfig.QUIRK_ARM_NS)) {
            pte |= NS;
        }
        return pte | AF;
    }

    // ---------------------------------------------------------------------------------------
    // Descriptor helpers

    /** {@code paddr_to_iopte}: PA[51:48] folds into bits 15:12 (they are RES0 otherwise). */
    private static long paddrToIopte(long pa) {
        return (pa | (pa >>> 36)) & ADDR_MASK;
    }

    /** {@code iopte_to_paddr}: with a 64K granule, bits 15:12 are PA[51:48]. */
    private long ioptePaddr(long pte) {
        long pa = pte & ADDR_MASK;
        if (!granule64k) {
            return pa;
        }
        return (pa | (pa << 36)) & (ADDR_MASK << 4);
    }

    /** {@code iopte_leaf}: type 3 at level 3 (page), type 1 above (block). */
    private static boolean isLeaf(long pte, int lvl) {
        return lvl == MAX_LEVELS - 1 ? (pte & TYPE_MASK) == TYPE_PAGE : (pte & TYPE_MASK) == TYPE_BLOCK;
    }

    /** {@code iopte_table}: type 3 above level 3. */
    private static boolean isTable(long pte, int lvl) {
        return lvl != MAX_LEVELS - 1 && (pte & TYPE_MASK) == TYPE_TABLE;
    }

    /** {@code arm_lpae_max_entries}: slots left in the table page holding index {@code idx}. */
    private int maxEntries(int idx) {
        return ptesPerTable - (idx & (ptesPerTable - 1));
    }

    private void checkLive() {
        if (freed) {
            throw new IllegalStateException("ARM LPAE table at " + Long.toHexString(pgd) + " used after free");
        }
    }

    // ---------------------------------------------------------------------------------------
    // map_pages

    /**
     * {@code arm_lpae_map_pages}: maps up to {@code pgcount} pages of {@code pgsize}, stopping at
     * the end of the table page holding the first one (the caller loops).
     *
     * @return 0; -EINVAL (pgsize not one supported size: WARN; no READ/WRITE in prot; no level for
     *     pgsize: WARN); -ERANGE (iova beyond IAS or paddr beyond OAS: WARN); -EEXIST (a leaf is
     *     in the way: WARN unless NO_WARN); -ENOMEM (no table page)
     */
    @Override
    public int mapPages(long iova, long paddr, long pgsize, long pgcount, int prot, Mapped mapped) {
        checkLive();
        if (pgsize == 0 || (pgsize & pgsizeBitmap) != pgsize) {
            warnBadPgsize("arm_lpae_map_pages", pgsize, pgcount);
            return Errno.EINVAL.neg();
        }
        long iaext = iova >> ias; // sign-extending: a TTBR1 address has all ones above IAS
        if (ttbr1) {
            iaext = ~iaext;
        }
        if (iaext != 0 || (paddr >>> oas) != 0) {
            warnRange("arm_lpae_map_pages", iova, paddr);
            return Errno.ERANGE.neg();
        }
        if ((prot & (Prot.READ | Prot.WRITE)) == 0) {
            return Errno.EINVAL.neg();
        }
        long pteProt = protToPte[prot & Prot.ALL];
        int leafShift = Long.numberOfTrailingZeros(pgsize);
        if (pgcount == 1 && pgsize == 1L << leafShift
                && mapOneLeaf(iova, paddr, leafShift, pteProt | (pgsize == granule ? TYPE_PAGE : TYPE_BLOCK), mapped)) {
            return 0;
        }
        return mapWalk(iova, paddr, pgsize, pgcount, pteProt, mapped);
    }

    /**
     * {@code __arm_lpae_map}, as a loop: descend until pgsize is this level's block size. Out of
     * line from {@link #mapPages}, which then stays under the JIT's size limit for inlining a hot
     * call (325 bytes of bytecode): with the loop it was 352 and never inlined.
     */
    private int mapWalk(long iova, long paddr, long pgsize, long pgcount, long pteProt, Mapped mapped) {
        int lvl = startLevel;
        long table = pgd;
        for (;;) {
            int shift = levelShift[lvl];
            int idx = (int) ((iova >>> shift) & indexMask[lvl]);
            long ptep = table + ((long) idx << 3);
            if (pgsize == 1L << shift) {
                return installLeaves(iova, paddr, pgsize, pgcount, pteProt, lvl, idx, ptep, mapped);
            }
            if (lvl >= MAX_LEVELS - 1) {
                warnNoLevel("__arm_lpae_map", pgsize);
                return Errno.EINVAL.neg();
            }
            long pte = memory.readLong(ptep);
            if (pte == 0) {
                pte = allocTable(ptep);
                if (pte == 0) {
                    return Errno.ENOMEM.neg();
                }
            }
            if (isLeaf(pte, lvl)) {
                if (!noWarn) {
                    warnLeafInTheWay("__arm_lpae_map", iova, lvl, pte, pgsize);
                }
                return Errno.EEXIST.neg();
            }
            table = ioptePaddr(pte);
            lvl++;
        }
    }

    /**
     * One leaf of {@code 1 << leafShift} bytes (a page of the granule, or a block) into an empty
     * slot under tables that exist (the common case): what {@code __arm_lpae_map}'s descent and
     * {@code arm_lpae_init_pte} do for it, without the per-level block-size test (the level is
     * the one whose shift is {@code leafShift}) and with the level geometry in locals, so the walk
     * is one read per level. Returns false, having changed nothing, when a slot on the way is not
     * a table (a hole to fill, a block in the way), no level has that shift, or the leaf slot is
     * not empty; the general walk then decides.
     */
    private boolean mapOneLeaf(long iova, long paddr, int leafShift, long attrs, Mapped mapped) {
        final PhysicalMemory mem = memory;
        final int bpl = bitsPerLevel;
        final boolean wide = granule64k;
        long table = pgd;
        int shift = topShift;
        long mask = topIndexMask;
        // leafShift is at least the granule's (pgsize passed the bitmap), so this stops by level 3
        while (shift > leafShift) {
            long pte = mem.readLong(table + (((iova >>> shift) & mask) << 3));
            if ((pte & TYPE_MASK) != TYPE_TABLE) {
                return false;
            }
            table = wide ? ioptePaddr(pte) : pte & ADDR_MASK;
            shift -= bpl;
            mask = (1L << bpl) - 1;
        }
        if (shift != leafShift) {
            return false;
        }
        long ptep = table + (((iova >>> shift) & mask) << 3);
        if (mem.readLong(ptep) != 0) {
            return false;
        }
        mem.writeLongRelease(ptep, attrs | paddrToIopte(paddr));
        mapped.bytes += 1L << shift;
        return true;
    }

    /**
     * Fills the empty slot at {@code ptep} with a new table page and returns the descriptor the
     * walk goes on with: ours, or the one another thread installed first (ours is then freed);
     * 0 if there is no page. Out of line from mapPages, which then stays small enough for the
     * JIT to inline.
     */
    private long allocTable(long ptep) {
        long next = frames.alloc(tableOrder);
        if (next < 0) {
            return 0;
        }
        long old = installTable(next, ptep);
        if (old != 0) {
            frames.free(next); // another thread installed one first: use theirs
            return old;
        }
        return paddrToIopte(next) | tableDescAttrs;
    }

    /**
     * {@code arm_lpae_install_table}: compare-and-set the empty slot to a descriptor of
     * {@code next}. Returns 0 if it was installed, else the descriptor found in the slot.
     */
    private long installTable(long next, long ptep) {
        long desc = paddrToIopte(next) | tableDescAttrs;
        for (;;) {
            if (memory.compareAndSetLong(ptep, 0, desc)) {
                if (!coherentWalk) {
                    // Non-coherent walkers: the installer syncs the slot and marks it as synced.
                    memory.writeLong(ptep, desc | SW_SYNC);
                }
                return 0;
            }
            long old = memory.readLong(ptep);
            if (old != 0) {
                return old;
            }
            // Cleared again between the failed CAS and the read: try once more.
        }
    }

    /** {@code arm_lpae_init_pte}: leaves from {@code ptep}, replacing tables, refusing leaves. */
    private int installLeaves(long iova, long paddr, long size, long pgcount, long pteProt, int lvl, int idx,
                              long ptep, Mapped mapped) {
        int n = Math.min((int) pgcount, maxEntries(idx)); // min_t(int, ...) as in the kernel
        long attrs = pteProt | (lvl == MAX_LEVELS - 1 ? TYPE_PAGE : TYPE_BLOCK);
        if (n == 1 && memory.readLong(ptep) == 0) {
            // The common single page into an empty slot: one read, one write.
            memory.writeLongRelease(ptep, attrs | paddrToIopte(paddr));
            mapped.bytes += size;
            return 0;
        }
        return installRun(iova, paddr, size, n, attrs, lvl, ptep, mapped);
    }

    /** {@code arm_lpae_init_pte} for {@code n} slots from {@code ptep} (out of line: the single page is inlined). */
    private int installRun(long iova, long paddr, long size, int n, long attrs, int lvl, long ptep, Mapped mapped) {
        if (n > 0 && memory.countMatchingLongs(ptep, n, -1L, 0) != n) {
            // Something is in the way: check slot by slot, as the kernel does.
            for (int i = 0; i < n; i++) {
                long slot = ptep + ((long) i << 3);
                long old = memory.readLong(slot);
                if (isLeaf(old, lvl)) {
                    if (!noWarn) {
                        warnLeafInTheWay("arm_lpae_init_pte", iova + i * size, lvl, old, size);
                    }
                    return Errno.EEXIST.neg();
                } else if ((old & TYPE_MASK) == TYPE_TABLE) {
                    // A block over a table: unmap and free the whole subtree first, live pages included.
                    memory.writeLong(slot, 0);
                    tlb.tlbFlushWalk(iova + i * size, size, granule);
                    freeTable(lvl + 1, ioptePaddr(old));
                }
            }
        }
        if (n > 0) {
            long last = paddr + (n - 1) * size;
            if ((paddr >>> 48) == 0 && (last >>> 48) == 0) {
                // Below 2^48, paddr_to_iopte is the identity on aligned addresses: an arithmetic run.
                memory.fillLongsRelease(ptep, n, attrs | paddrToIopte(paddr), size);
            } else {
                for (int i = 0; i < n; i++) {
                    memory.writeLongRelease(ptep + ((long) i << 3), attrs | paddrToIopte(paddr + i * size));
                }
            }
        }
        mapped.bytes += (long) n * size;
        return 0;
    }

    // ---------------------------------------------------------------------------------------
    // unmap_pages

    /**
     * {@code arm_lpae_unmap_pages}: clears up to {@code pgcount} leaves of {@code pgsize} (and
     * frees tables found where a leaf of that size would be), stopping at a hole or the end of
     * the table page. A smaller size inside a block unmaps nothing (WARN): the current kernel no
     * longer splits blocks. Tables left empty are not freed.
     *
     * @return bytes unmapped
     */
    @Override
    public long unmapPages(long iova, long pgsize, long pgcount, IotlbGather gather) {
        checkLive();
        if (pgsize == 0 || (pgsize & pgsizeBitmap) != pgsize || pgcount == 0) {
            warnBadPgsize("arm_lpae_unmap_pages", pgsize, pgcount);
            return 0;
        }
        long iaext = iova >> ias;
        if (ttbr1) {
            iaext = ~iaext;
        }
        if (iaext != 0) {
            warnRange("arm_lpae_unmap_pages", iova, 0);
            return 0;
        }

        if (pgsize == granule && pgcount == 1 && unmapGranulePage(iova)) {
            if (gather != null && !gather.queued) {
                tlb.tlbAddPage(gather, iova, pgsize);
            }
            return pgsize;
        }
        return unmapWalk(iova, pgsize, pgcount, gather);
    }

    /** {@code __arm_lpae_unmap}, as a loop; out of line from {@link #unmapPages} as {@link #mapWalk} is. */
    private long unmapWalk(long iova, long pgsize, long pgcount, IotlbGather gather) {
        int lvl = startLevel;
        long table = pgd;
        for (;;) {
            if (lvl == MAX_LEVELS) {
                warnNoLevel("__arm_lpae_unmap", pgsize);
                return 0;
            }
            int shift = levelShift[lvl];
            int idx = (int) ((iova >>> shift) & indexMask[lvl]);
            long ptep = table + ((long) idx << 3);
            long pte = memory.readLong(ptep);
            if (pte == 0) {
                if (!noWarn) {
                    warnHole(iova, lvl);
                }
                return 0;
            }
            if (pgsize == 1L << shift) {
                if (pgcount == 1 && isLeaf(pte, lvl)) {
                    // The common single-leaf unmap, without rescanning the slot just read.
                    memory.writeLongRelease(ptep, 0);
                    if (gather != null && !gather.queued) {
                        tlb.tlbAddPage(gather, iova, pgsize);
                    }
                    return pgsize;
                }
                return clearLeaves(iova, pgsize, pgcount, lvl, idx, ptep, gather);
            }
            if (isLeaf(pte, lvl)) {
                warnPartialUnmap(iova, pgsize, lvl);
                return 0;
            }
            table = ioptePaddr(pte);
            lvl++;
        }
    }

    /**
     * {@code __arm_lpae_unmap} for one page of the granule that is mapped under tables (the
     * common case): the descent reads one slot per level, and the granule size matches level 3
     * only, so no per-level size test; the page is cleared ({@code __arm_lpae_clear_pte}).
     * Returns false, having changed nothing, for anything else (a hole, a block on the way);
     * the general walk then WARNs or refuses exactly as before.
     */
    private boolean unmapGranulePage(long iova) {
        final PhysicalMemory mem = memory;
        final int bpl = bitsPerLevel;
        final boolean wide = granule64k;
        long table = pgd;
        int shift = topShift;
        long mask = topIndexMask;
        for (int lvl = startLevel; lvl < MAX_LEVELS - 1; lvl++) {
            long pte = mem.readLong(table + (((iova >>> shift) & mask) << 3));
            if ((pte & TYPE_MASK) != TYPE_TABLE) {
                return false;
            }
            table = wide ? ioptePaddr(pte) : pte & ADDR_MASK;
            shift -= bpl;
            mask = (1L << bpl) - 1;
        }
        long ptep = table + (((iova >>> shift) & mask) << 3);
        if ((mem.readLong(ptep) & TYPE_MASK) != TYPE_PAGE) {
            return false;
        }
        mem.writeLongRelease(ptep, 0);
        return true;
    }

    /** The size-matches-level half of {@code __arm_lpae_unmap}; the slot at {@code ptep} is non-zero. */
    private long clearLeaves(long iova, long size, long pgcount, int lvl, int idx, long ptep, IotlbGather gather) {
        int n = Math.min((int) pgcount, maxEntries(idx));
        long leafType = lvl == MAX_LEVELS - 1 ? TYPE_PAGE : TYPE_BLOCK;
        int i = 0;
        while (i < n) {
            // Leaves need nothing before the clear below; stop at anything else.
            i += memory.countMatchingLongs(ptep + ((long) i << 3), n - i, TYPE_MASK, leafType);
            if (i == n) {
                break;
            }
            long slot = ptep + ((long) i << 3);
            long pte = memory.readLong(slot);
            if (pte == 0) {
                if (!noWarn) {
                    warnHole(iova + i * size, lvl);
                }
                break;
            }
            // A table where a leaf of this size would be: cut it off, flush partial walks, free it.
            memory.writeLong(slot, 0);
            tlb.tlbFlushWalk(iova + i * size, size, granule);
            freeTable(lvl + 1, ioptePaddr(pte));
            i++;
        }
        memory.fillLongsRelease(ptep, i, 0, 0);
        if (gather != null && !gather.queued) {
            for (int j = 0; j < i; j++) {
                tlb.tlbAddPage(gather, iova + j * size, size);
            }
        }
        return (long) i * size;
    }

    // ---------------------------------------------------------------------------------------
    // iova_to_phys, walk, free

    /**
     * {@code arm_lpae_iova_to_phys}: the PA of the first leaf on the walk plus the offset in it;
     * 0 at any empty or invalid slot. Like the kernel it does not check the IAS: address bits
     * above the top table's index are ignored.
     */
    @Override
    public long iovaToPhys(long iova) {
        checkLive();
        if (iova == -1L) {
            return 0; // the kernel's walk range [iova, iova+1) is empty here
        }
        int lvl = startLevel;
        long table = pgd;
        for (;;) {
            int shift = levelShift[lvl];
            int idx = (int) ((iova >>> shift) & indexMask[lvl]);
            long pte = memory.readLong(table + ((long) idx << 3));
            if (isLeaf(pte, lvl)) {
                return ioptePaddr(pte) | (iova & ((1L << shift) - 1));
            }
            if (!isTable(pte, lvl)) {
                return 0;
            }
            table = ioptePaddr(pte);
            lvl++;
        }
    }

    /**
     * Every valid descriptor, depth first in index order. {@code iova} is the first input address
     * the descriptor covers; with the TTBR1 quirk it carries the all-ones upper bits.
     */
    @Override
    public void walk(DescriptorVisitor visitor) {
        checkLive();
        long base = ttbr1 ? ~((1L << ias) - 1) : 0;
        walkTable(visitor, startLevel, pgd, base);
    }

    private void walkTable(DescriptorVisitor visitor, int lvl, long table, long base) {
        int shift = levelShift[lvl];
        long entries = lvl == startLevel ? pgdSize >>> 3 : ptesPerTable;
        long size = 1L << shift;
        for (long i = 0; i < entries; i++) {
            long pte = memory.readLong(table + (i << 3));
            long iova = base | (i << shift);
            if (isLeaf(pte, lvl)) {
                visitor.visit(lvl, iova, size, pte, true);
            } else if (isTable(pte, lvl)) {
                visitor.visit(lvl, iova, size, pte, false);
                walkTable(visitor, lvl + 1, ioptePaddr(pte), iova);
            }
        }
    }

    /** Receives the dirty ranges of {@link #readAndClearDirty} ({@code iommu_dirty_bitmap_record}). */
    @FunctionalInterface
    public interface DirtyRecorder {
        void record(long iova, long size);
    }

    /**
     * {@code arm_lpae_read_and_clear_dirty} (stage 1 only): reports every leaf in
     * {@code [iova, iova+size)} that is writable-dirty (DBM set, AP_RDONLY clear: the SMMU
     * cleared AP_RDONLY on a write, or it was mapped writable with the HD quirk) and, unless
     * {@code noClear} ({@code IOMMU_DIRTY_NO_CLEAR}), sets AP_RDONLY again atomically to re-arm it.
     * Like the kernel's visitor walk, the range must be fully mapped: an empty slot ends the walk
     * with -EINVAL after what was already reported.
     *
     * @return 0, or -EINVAL (size 0 or range beyond the IAS: WARN; stage 2; a hole in the range)
     */
    public int readAndClearDirty(long iova, long size, boolean noClear, DirtyRecorder recorder) {
        checkLive();
        if (size == 0) {
            warnings.warn("arm_lpae_read_and_clear_dirty", "size 0");
            return Errno.EINVAL.neg();
        }
        if (((iova + size - 1) & ~((1L << ias) - 1)) != 0) {
            warnings.warn("arm_lpae_read_and_clear_dirty", String.format(
                    "range [%#x, +%#x) beyond ias %d", iova, size, ias));
            return Errno.EINVAL.neg();
        }
        if (format != PgtableFormat.ARM_64_LPAE_S1) {
            return Errno.EINVAL.neg();
        }
        long[] cursor = {iova};
        return walkDirty(startLevel, pgd, cursor, iova + size, noClear, recorder);
    }

    /** {@code __arm_lpae_iopte_walk} with {@code visit_dirty}; {@code cursor[0]} is walk_data->addr. */
    private int walkDirty(int lvl, long table, long[] cursor, long end, boolean noClear, DirtyRecorder recorder) {
        int shift = levelShift[lvl];
        long entries = lvl == startLevel ? pgdSize >>> 3 : ptesPerTable;
        long size = 1L << shift;
        for (long idx = (cursor[0] >>> shift) & indexMask[lvl];
                idx < entries && Long.compareUnsigned(cursor[0], end) < 0; idx++) {
            long ptep = table + (idx << 3);
            long pte = memory.readLong(ptep);
            if (isLeaf(pte, lvl)) {
                if ((pte & (DBM | AP_RDONLY)) == DBM) {
                    recorder.record(cursor[0], size);
                    if (!noClear) {
                        // set_bit: the SMMU may update the same descriptor concurrently.
                        long old = pte;
                        while (!memory.compareAndSetLong(ptep, old, old | AP_RDONLY)) {
                            old = memory.readLong(ptep);
                        }
                    }
                }
                cursor[0] += size;
                continue;
            }
            if (!isTable(pte, lvl)) {
                return Errno.EINVAL.neg();
            }
            int ret = walkDirty(lvl + 1, ioptePaddr(pte), cursor, end, noClear, recorder);
            if (ret != 0) {
                return ret;
            }
        }
        return 0;
    }

    /** {@code free_io_pgtable_ops}: flush the whole TLB, then free every table page, post-order. */
    @Override
    public void free() {
        checkLive();
        tlb.tlbFlushAll();
        freeTable(startLevel, pgd);
        freed = true;
    }

    /** {@code __arm_lpae_free_pgtable}: children first; level-3 tables hold only leaves. */
    private void freeTable(int lvl, long table) {
        if (lvl < MAX_LEVELS - 1) {
            long entries = lvl == startLevel ? pgdSize >>> 3 : ptesPerTable;
            for (long i = 0; i < entries; i++) {
                long pte = memory.readLong(table + (i << 3));
                if (pte != 0 && !isLeaf(pte, lvl)) {
                    freeTable(lvl + 1, ioptePaddr(pte));
                }
            }
        }
        frames.free(table);
    }

    // ---------------------------------------------------------------------------------------
    // WARNs: kept out of line so the hot paths stay small.

    private void warnBadPgsize(String where, long pgsize, long pgcount) {
        warnings.warn(where, String.format("pgsize %#x (count %d) is not one size of pgsize_bitmap %#x",
                pgsize, pgcount, pgsizeBitmap));
    }

    private void warnRange(String where, long iova, long paddr) {
        warnings.warn(where, String.format("iova %#x or paddr %#x outside ias %d / oas %d%s", iova, paddr, ias, oas,
                ttbr1 ? " (TTBR1: upper bits must be ones)" : ""));
    }

    private void warnNoLevel(String where, long pgsize) {
        warnings.warn(where, String.format("no level has block size %#x", pgsize));
    }

    private void warnLeafInTheWay(String where, long iova, int lvl, long pte, long pgsize) {
        warnings.warn(where, String.format("iova %#x: level %d leaf %#x already maps it (new size %#x); unmap first",
                iova, lvl, pte, pgsize));
    }

    private void warnHole(long iova, int lvl) {
        warnings.warn("__arm_lpae_unmap", String.format("iova %#x is not mapped (empty level %d slot)", iova, lvl));
    }

    /** WARN_ONCE in the kernel; every occurrence is reported here, a sink may dedupe. */
    private void warnPartialUnmap(long iova, long pgsize, int lvl) {
        warnings.warn("__arm_lpae_unmap", String.format(
                "Unmap of a partial large IOPTE is not allowed (iova %#x size %#x inside a level %d leaf)",
                iova, pgsize, lvl));
    }

    // ---------------------------------------------------------------------------------------
    // Accessors

    /** The allocated configuration: restricted sizes and widths, geometry, TCR/VTCR, MAIR, TTBR. */
    public ArmLpaeConfig config() {
        return config;
    }

    public ArmLpaeConfig.Geometry geometry() {
        return config.geometry();
    }

    /** The stage-1 or stage-2 leaf bits {@code map_pages} would write for {@code prot} (no type, no address). */
    public long protToPte(int prot) {
        return protToPte[prot & Prot.ALL];
    }

    @Override
    public PgtableFormat format() {
        return format;
    }

    @Override
    public long pgsizeBitmap() {
        return pgsizeBitmap;
    }

    @Override
    public int ias() {
        return ias;
    }

    @Override
    public int oas() {
        return oas;
    }

    @Override
    public long root() {
        return pgd;
    }

    @Override
    public FrameAllocator allocator() {
        return frames;
    }

    @Override
    public String toString() {
        return "ArmLpaePageTable{" + config + " pgd=" + Long.toHexString(pgd) + "}";
    }
}
