package org.jiommu.driver.smmuv3;

import static org.jiommu.hw.smmuv3.SmmuRegs.*;

import java.util.ArrayList;
import java.util.List;
import org.jiommu.base.Errno;
import org.jiommu.driver.common.EntryWrites;
import org.jiommu.driver.common.HitlessEntryWriter;
import org.jiommu.hw.smmuv3.ContextDescriptor;
import org.jiommu.hw.smmuv3.SmmuCommand;
import org.jiommu.hw.smmuv3.StreamTableEntry;
import org.jiommu.mem.FrameAllocator;
import org.jiommu.mem.PhysicalMemory;

/**
 * The stream table and the masters' CD tables in memory, and the only way the driver changes an
 * STE or a CD: the hitless entry writer with the kernel's syncs ({@code arm_smmu_write_ste}: one
 * CFGI_STE (leaf) + CMD_SYNC per step, then a PREFETCH_CFG; {@code arm_smmu_write_cd_entry}: one
 * CFGI_CD per stream of the master + CMD_SYNC per step). Linear or 2-level stream table
 * ({@code arm_smmu_init_strtab_linear} / {@code _2lvl}, STRTAB_SPLIT = 8), linear or 64K-leaf
 * 2-level CD tables ({@code arm_smmu_alloc_cd_tables}). Guarded by the driver's lock.
 */
final class Smmuv3Tables {
    /** STRTAB_SPLIT: StreamID bits resolved by a level-2 table (256 STEs, 16 KiB). */
    static final int STRTAB_SPLIT = 8;
    /** STRTAB_L1_SZ_SHIFT: the level-1 table is at most 1 MiB. */
    static final int STRTAB_L1_SZ_SHIFT = 20;
    static final int STE_BYTES = 64;
    /** CTXDESC_L2_ENTRIES: CDs per 64 KiB leaf of a 2-level CD table. */
    static final int CD_L2_ENTRIES = 1024;
    static final int CD_BYTES = 64;
    /** CTXDESC_LINEAR_CDMAX: a linear CD table holds at most 2^10 CDs (64 KiB). */
    static final int CD_LINEAR_MAX_BITS = 10;

    private final PhysicalMemory mem;
    private final FrameAllocator frames;
    private final Smmuv3Cmdq cmdq;
    private final boolean twoLevel;
    private final boolean cd2l;
    private final boolean skipPrefetch;
    private final HitlessEntryWriter steWriter = new HitlessEntryWriter(Smmuv3Entries.STE_FORMAT);
    private final HitlessEntryWriter cdWriter = new HitlessEntryWriter(Smmuv3Entries.CD_FORMAT);
    /**
     * A planted bug (stress plant {@code skip-cfgi}, docs/driver-smmuv3.md): STE and CD writes
     * leave out their CFGI commands (the CMD_SYNC still runs), so the SMMU keeps using what it
     * cached of the old entry.
     */
    volatile boolean skipCfgi;
    final long strtab;
    final int numL1Ents;
    final long strtabBaseCfg;
    /** 2-level: the level-2 table of each level-1 descriptor, 0 where none. */
    private final long[] l2;

    /**
     * Allocates the stream table: 2-level (L1 of at most 2^17 descriptors) when the SMMU has
     * ST_LEVEL 2-level and more than STRTAB_SPLIT SID bits, else linear over all SIDs with every
     * STE abort. Throws ENOMEM (as {@code IommuException}) when memory runs out.
     */
    Smmuv3Tables(PhysicalMemory mem, FrameAllocator frames, Smmuv3Cmdq cmdq, int sidBits, boolean twoLevel,
                 boolean cd2l, boolean skipPrefetch) {
        this.mem = mem;
        this.frames = frames;
        this.cmdq = cmdq;
        this.twoLevel = twoLevel;
        this.cd2l = cd2l;
        this.skipPrefetch = skipPrefetch;
        if (twoLevel) {
            int size = Math.min(STRTAB_L1_SZ_SHIFT - 3, sidBits - STRTAB_SPLIT);
            numL1Ents = 1 << size;
            strtab = alloc(8L * numL1Ents, "l1 stream table");
            strtabBaseCfg = (long) STRTAB_CFG_FMT_2LVL << STRTAB_CFG_FMT_SHIFT
                    | (long) STRTAB_SPLIT << STRTAB_CFG_SPLIT_SHIFT | (size + STRTAB_SPLIT);
            l2 = new long[numL1Ents];
        } else {
            numL1Ents = 1 << sidBits;
            strtab = alloc((long) STE_BYTES * numL1Ents, "linear stream table");
            strtabBaseCfg = (long) STRTAB_CFG_FMT_LINEAR << STRTAB_CFG_FMT_SHIFT | sidBits;
            l2 = null;
            initialStes(strtab, numL1Ents);
        }
    }

    private long alloc(long bytes, String what) {
        if (FrameAllocator.orderFor(bytes) > FrameAllocator.MAX_ORDER) {
            throw Smmuv3Driver.err(Errno.ENOMEM, "failed to allocate " + what + " (" + bytes + " bytes)");
        }
        long pa = frames.allocBytes(bytes);
        if (pa < 0) {
            throw Smmuv3Driver.err(Errno.ENOMEM, "failed to allocate " + what + " (" + bytes + " bytes)");
        }
        return pa;
    }

    /** arm_smmu_init_initial_stes: abort STEs, written directly (the table is not live yet). */
    private void initialStes(long at, int n) {
        long[] abort = Smmuv3Entries.abortSte();
        for (int i = 0; i < n; i++) {
            mem.writeLong(at + (long) STE_BYTES * i, abort[0]);
        }
    }

    /** STRTAB_BASE: RA hint and the table's address. */
    long strtabBase() {
        return 1L << 62 | strtab & STRTAB_BASE_ADDR_MASK;
    }

    /** arm_smmu_sid_in_range. */
    boolean sidInRange(int sid) {
        long limit = twoLevel ? (long) numL1Ents << STRTAB_SPLIT : numL1Ents;
        return (sid & 0xFFFF_FFFFL) < limit;
    }

    /**
     * arm_smmu_init_sid_strtab: -ERANGE outside the table; with 2 levels the SID's level-2 table
     * (all abort) is allocated and its L1 descriptor (Span = SPLIT + 1) written, once.
     */
    int initSid(int sid) {
        if (!sidInRange(sid)) {
            return Errno.ERANGE.neg();
        }
        if (!twoLevel) {
            return 0;
        }
        int idx = sid >>> STRTAB_SPLIT;
        if (l2[idx] != 0) {
            return 0;
        }
        long size = (long) STE_BYTES << STRTAB_SPLIT;
        long pa = frames.allocBytes(size);
        if (pa < 0) {
            return Errno.ENOMEM.neg();
        }
        initialStes(pa, 1 << STRTAB_SPLIT);
        l2[idx] = pa;
        // The SMMU has 64-bit atomicity on the descriptor: one write publishes the table.
        mem.writeLongRelease(strtab + 8L * idx, (STRTAB_SPLIT + 1) | pa & 0x000F_FFFF_FFFF_FFC0L);
        return 0;
    }

    /** arm_smmu_get_step_for_sid: the STE's address (0 if its level-2 table does not exist). */
    long steAddress(int sid) {
        if (!twoLevel) {
            return strtab + (long) STE_BYTES * (sid & 0xFFFF_FFFFL);
        }
        long t = l2[sid >>> STRTAB_SPLIT];
        return t == 0 ? 0 : t + (long) STE_BYTES * (sid & ((1 << STRTAB_SPLIT) - 1));
    }

    long[] readSte(int sid) {
        long a = steAddress(sid);
        return a == 0 ? null : EntryWrites.read(mem, a, StreamTableEntry.WORDS);
    }

    /**
     * arm_smmu_write_ste: the hitless update of one STE, each step synced by CFGI_STE (leaf) +
     * CMD_SYNC, then a PREFETCH_CFG (no sync) since the STE will likely be used soon.
     */
    HitlessEntryWriter.Result writeSte(int sid, long[] target) {
        HitlessEntryWriter.Result r = steWriter.write(EntryWrites.inMemory(mem, steAddress(sid)), target,
                () -> cmdq.submitSync(skipCfgi ? List.of() : List.of(SmmuCommand.cfgiSte(sid, true))));
        if (!skipPrefetch) {
            cmdq.issue(List.of(new long[] {SmmuCommand.PREFETCH_CONFIG | (sid & 0xFFFF_FFFFL) << 32, 0}));
        }
        return r;
    }

    // ---- CD tables -------------------------------------------------------------------------

    /** arm_smmu_get_cd_ptr: the CD's address, 0 when the table or its leaf does not exist. */
    long cdAddress(Smmuv3Master m, int ssid) {
        if (m.cdtab == 0) {
            return 0;
        }
        if (m.s1fmt == StreamTableEntry.S1FMT_LINEAR) {
            return m.cdtab + (long) CD_BYTES * ssid;
        }
        long leaf = m.cdLeaves[ssid / CD_L2_ENTRIES];
        return leaf == 0 ? 0 : leaf + (long) CD_BYTES * (ssid % CD_L2_ENTRIES);
    }

    long[] readCd(Smmuv3Master m, int ssid) {
        long a = cdAddress(m, ssid);
        return a == 0 ? null : EntryWrites.read(mem, a, ContextDescriptor.WORDS);
    }

    /**
     * arm_smmu_alloc_cd_ptr: the CD's address, allocating the table on first use and, for a
     * 2-level table, the 64 KiB leaf (its L1 descriptor written and synced with a non-leaf
     * CFGI_CD, since an invalid L1CD may be cached); 0 on ENOMEM.
     */
    long allocCdPtr(Smmuv3Master m, int ssid) {
        if (m.cdtab == 0 && !allocCdTables(m)) {
            return 0;
        }
        if (m.s1fmt == StreamTableEntry.S1FMT_64K_L2) {
            int idx = ssid / CD_L2_ENTRIES;
            if (m.cdLeaves[idx] == 0) {
                long leaf = frames.allocBytes((long) CD_L2_ENTRIES * CD_BYTES);
                if (leaf < 0) {
                    return 0;
                }
                m.cdLeaves[idx] = leaf;
                mem.writeLongRelease(m.cdtab + 8L * idx, leaf & ContextDescriptor.L1CD_L2PTR_MASK
                        | ContextDescriptor.L1CD_V);
                syncCd(m, ssid, false);
            }
        }
        return cdAddress(m, ssid);
    }

    /**
     * arm_smmu_alloc_cd_tables: 2^ssid_bits CDs; linear when the SMMU has no CD2L or they fit
     * one 64 KiB leaf, else a 64K-leaf 2-level table whose leaves come on demand.
     */
    private boolean allocCdTables(Smmuv3Master m) {
        int s1cdmax = m.ssidBits;
        long maxContexts = 1L << s1cdmax;
        int fmt;
        long l1size;
        int numL1;
        if (!cd2l || maxContexts <= CD_L2_ENTRIES) {
            fmt = StreamTableEntry.S1FMT_LINEAR;
            numL1 = (int) maxContexts;
            l1size = maxContexts * CD_BYTES;
        } else {
            fmt = StreamTableEntry.S1FMT_64K_L2;
            numL1 = (int) ((maxContexts + CD_L2_ENTRIES - 1) / CD_L2_ENTRIES);
            l1size = 8L * numL1;
        }
        long t = frames.allocBytes(l1size);
        if (t < 0) {
            return false;
        }
        m.cdtab = t;
        m.s1fmt = fmt;
        m.s1cdmax = s1cdmax;
        m.cdLeaves = fmt == StreamTableEntry.S1FMT_64K_L2 ? new long[numL1] : null;
        return true;
    }

    /** arm_smmu_free_cd_tables. */
    void freeCdTables(Smmuv3Master m) {
        if (m.cdtab == 0) {
            return;
        }
        if (m.cdLeaves != null) {
            for (long leaf : m.cdLeaves) {
                if (leaf != 0) {
                    frames.free(leaf);
                }
            }
        }
        frames.free(m.cdtab);
        m.cdtab = 0;
        m.cdLeaves = null;
    }

    /** arm_smmu_sync_cd: one CFGI_CD per stream of the master, then CMD_SYNC. */
    void syncCd(Smmuv3Master m, int ssid, boolean leaf) {
        List<long[]> cmds = new ArrayList<>();
        for (int sid : skipCfgi ? new int[0] : m.streams) {
            cmds.add(SmmuCommand.cfgiCd(sid, ssid, leaf));
        }
        cmdq.submitSync(cmds);
    }

    /**
     * arm_smmu_write_cd_entry: counts the SubstreamIDs other than 0 with a valid CD
     * (used_ssids), then updates the CD hitlessly where it can.
     */
    HitlessEntryWriter.Result writeCd(Smmuv3Master m, int ssid, long cdptr, long[] target) {
        boolean targetValid = (target[0] & ContextDescriptor.V) != 0;
        boolean curValid = (mem.readLongAcquire(cdptr) & ContextDescriptor.V) != 0;
        if (ssid != 0 && curValid != targetValid) {
            m.usedSsids += curValid ? -1 : 1;
        }
        return cdWriter.write(EntryWrites.inMemory(mem, cdptr), target, () -> syncCd(m, ssid, true));
    }

    /** arm_smmu_clear_cd: writes an all-zero CD (nothing if the master has no table). */
    void clearCd(Smmuv3Master m, int ssid) {
        if (m.cdtab == 0) {
            return;
        }
        long p = cdAddress(m, ssid);
        if (p == 0) {
            return;
        }
        writeCd(m, ssid, p, new long[ContextDescriptor.WORDS]);
    }

    boolean twoLevel() {
        return twoLevel;
    }
}
