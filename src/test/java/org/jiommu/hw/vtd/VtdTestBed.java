package org.jiommu.hw.vtd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.jiommu.hw.vtd.VtdRegisters.*;

import java.util.ArrayList;
import java.util.List;

import org.jiommu.bus.dma.DmaTranslator;
import org.jiommu.bus.dma.TranslationResult;
import org.jiommu.mem.PhysicalMemory;

/**
 * A unit over fresh memory plus a minimal test-only "driver": a bump allocator for table
 * pages, table builders on {@link VtdTestEncoder}, and register programming in the order Linux
 * uses (queue, root pointer, global invalidation, TE).
 */
final class VtdTestBed {
    final PhysicalMemory mem;
    final VtdUnit unit;
    final List<String> warnings = new ArrayList<>();
    final boolean scalable;
    private long nextPage = 0x1000_0000L;
    long rootTable;
    private long queueBase;
    private int queueEntries;
    private boolean wide;
    private int tail;
    private long statusAddress;
    private int statusSeq = 1;

    VtdTestBed(VtdConfig config) {
        this.mem = new PhysicalMemory(8L << 30);
        this.unit = new VtdUnit(config, mem, (where, msg) -> warnings.add(where + ": " + msg));
        this.scalable = config.scalableMode();
    }

    static VtdTestBed legacy(int aw) {
        return new VtdTestBed(VtdConfig.legacy(aw)).boot();
    }

    static VtdTestBed scalable(int aw) {
        return new VtdTestBed(VtdConfig.scalable(aw)).boot();
    }

    long allocPage() {
        long p = nextPage;
        nextPage += 0x1000;
        return p;
    }

    /** Queue, root table, global invalidations, translation on. */
    VtdTestBed boot() {
        rootTable = allocPage();
        statusAddress = allocPage();
        enableQueue();
        unit.write64(RTADDR_REG, rootTable | (scalable ? RTADDR_SMT : 0));
        unit.write32(GCMD_REG, unit.read32(GSTS_REG) | GCMD_SRTP);
        assertThat(unit.read32(GSTS_REG) & GSTS_RTPS).isNotZero();
        submit(VtdTestEncoder.ccGlobal(), VtdTestEncoder.iotlbGlobal());
        if (scalable) {
            submit(VtdTestEncoder.pasidCache(3, 0, 0));
        }
        unit.write32(GCMD_REG, persistent() | GCMD_TE);
        assertThat(unit.read32(GSTS_REG) & GSTS_TES).isNotZero();
        return this;
    }

    /** GSTS bits that GCMD must carry back (one-shot status bits excluded). */
    int persistent() {
        return unit.read32(GSTS_REG) & (GSTS_TES | GSTS_QIES | GSTS_IRES | GSTS_CFIS);
    }

    void enableQueue() {
        queueBase = allocPage();
        wide = scalable;
        queueEntries = wide ? 128 : 256; // QS = 0: one 4 KiB page
        tail = 0;
        unit.write64(IQT_REG, 0);
        unit.write64(IQA_REG, queueBase | (wide ? IQA_DW : 0));
        unit.write32(GCMD_REG, persistent() | GCMD_QIE);
        assertThat(unit.read32(GSTS_REG) & GSTS_QIES).isNotZero();
    }

    /** Writes descriptors at the tail and moves it, without waiting. */
    void post(long[]... descriptors) {
        for (long[] d : descriptors) {
            long a = queueBase + (long) tail * (wide ? 32 : 16);
            mem.writeLong(a, d[0]);
            mem.writeLong(a + 8, d[1]);
            if (wide) {
                mem.writeLong(a + 16, d.length > 2 ? d[2] : 0);
                mem.writeLong(a + 24, d.length > 3 ? d[3] : 0);
            }
            tail = (tail + 1) % queueEntries;
        }
        unit.write64(IQT_REG, (long) tail << (wide ? 5 : 4));
    }

    /** Posts descriptors followed by a wait (SW, FN) and checks the status write landed. */
    void submit(long[]... descriptors) {
        int seq = statusSeq++;
        mem.writeLong(statusAddress, 0);
        long[][] all = new long[descriptors.length + 1][];
        System.arraycopy(descriptors, 0, all, 0, descriptors.length);
        all[descriptors.length] = VtdTestEncoder.invWait(true, false, true, seq, statusAddress);
        post(all);
        assertThat((int) mem.readLong(statusAddress)).as("wait status after %s", unit.lastQueueError())
                .isEqualTo(seq);
    }

    int tail() {
        return tail;
    }

    /** Clears every pending fault record (W1C of F, as Linux dmar_fault does) and FSTS.PFO. */
    void write32ClearAllFaults() {
        int n = (int) ((unit.read64(CAP_REG) >>> CAP_NFR_SHIFT) & 0xFF) + 1;
        for (int i = 0; i < n; i++) {
            unit.write32(FRCD_REG_BASE + FRCD_REG_SIZE * i + 12, 0x8000_0000);
        }
        unit.write32(FSTS_REG, FSTS_PFO);
    }

    // ---- root / context ----

    private long contextTable(int bus, boolean upper) {
        long a = rootTable + bus * 16L + (upper ? 8 : 0);
        long e = mem.readLong(a);
        if ((e & 1) == 0) {
            long t = allocPage();
            mem.writeLong(a, t | 1);
            return t;
        }
        return e & ~0xFFFL;
    }

    void setLegacyContext(int sid, long[] entry) {
        long t = contextTable(sid >> 8, false);
        long a = t + (sid & 0xFF) * 16L;
        mem.writeLong(a + 8, entry[1]);
        mem.writeLong(a, entry[0]);
    }

    void setScalableContext(int sid, long[] entry) {
        int devfn = sid & 0xFF;
        long t = contextTable(sid >> 8, devfn > 127);
        long a = t + (devfn & 0x7F) * 32L;
        for (int i = 3; i >= 0; i--) {
            mem.writeLong(a + 8L * i, entry[i]);
        }
    }

    /** A PASID directory of one page (PDTS 0 covers 128 entries x 64 PASIDs). */
    long newPasidDir() {
        return allocPage();
    }

    void setPasidEntry(long pasidDir, int pasid, long[] entry) {
        long da = pasidDir + VtdTestEncoder.pasidDirIndex(pasid) * 8L;
        long de = mem.readLong(da);
        long table;
        if ((de & 1) == 0) {
            table = allocPage();
            mem.writeLong(da, VtdTestEncoder.pasidDirEntry(table, false));
        } else {
            table = de & ~0xFFFL;
        }
        long a = table + VtdTestEncoder.pasidTableIndex(pasid) * 64L;
        for (int i = 7; i >= 0; i--) {
            mem.writeLong(a + 8L * i, entry[i]);
        }
    }

    long pasidEntryAddress(long pasidDir, int pasid) {
        long de = mem.readLong(pasidDir + VtdTestEncoder.pasidDirIndex(pasid) * 8L);
        return (de & ~0xFFFL) + VtdTestEncoder.pasidTableIndex(pasid) * 64L;
    }

    // ---- page tables ----

    /** A second-level table of {@code levels} levels; intermediate entries carry R|W. */
    final class SlTable {
        final long root = allocPage();
        final int levels;

        SlTable(int levels) {
            this.levels = levels;
        }

        /** Maps one page of 2^shift bytes; returns the leaf entry's address. */
        long map(long iova, long pa, int shift, boolean r, boolean w) {
            return mapRaw(iova, shift, VtdTestEncoder.slPte(pa, r, w, shift > 12, false));
        }

        long mapRaw(long iova, int shift, long leaf) {
            long table = root;
            int leafLevel = (shift - 12) / 9 + 1;
            for (int level = levels; level > leafLevel; level--) {
                long a = table + ((iova >>> (12 + 9 * (level - 1))) & 0x1FF) * 8;
                long e = mem.readLong(a);
                if ((e & 3) == 0) {
                    long t = allocPage();
                    mem.writeLong(a, VtdTestEncoder.slPte(t, true, true, false, false));
                    table = t;
                } else {
                    table = e & 0x000F_FFFF_FFFF_F000L;
                }
            }
            long a = table + ((iova >>> (12 + 9 * (leafLevel - 1))) & 0x1FF) * 8;
            mem.writeLong(a, leaf);
            return a;
        }
    }

    /** An x86-64 first-level table of 4 or 5 levels; intermediate entries carry P|RW|US. */
    final class FlTable {
        final long root = allocPage();
        final int levels;

        FlTable(int levels) {
            this.levels = levels;
        }

        long map(long iova, long pa, int shift, boolean rw) {
            return mapRaw(iova, shift, VtdTestEncoder.flPte(pa, rw, true, false, false, shift > 12));
        }

        long mapRaw(long iova, int shift, long leaf) {
            long table = root;
            int leafLevel = (shift - 12) / 9 + 1;
            for (int level = levels; level > leafLevel; level--) {
                long a = table + ((iova >>> (12 + 9 * (level - 1))) & 0x1FF) * 8;
                long e = mem.readLong(a);
                if ((e & 1) == 0) {
                    long t = allocPage();
                    mem.writeLong(a, VtdTestEncoder.flPte(t, true, true, false, false, false));
                    table = t;
                } else {
                    table = e & 0x000F_FFFF_FFFF_F000L;
                }
            }
            long a = table + ((iova >>> (12 + 9 * (leafLevel - 1))) & 0x1FF) * 8;
            mem.writeLong(a, leaf);
            return a;
        }
    }

    // ---- requests ----

    TranslationResult dma(int sid, long iova, boolean write) {
        return dma(sid, DmaTranslator.NO_PASID, iova, write);
    }

    TranslationResult dma(int sid, int pasid, long iova, boolean write) {
        TranslationResult r = new TranslationResult();
        unit.translate(sid, pasid, iova, write, false, r);
        return r;
    }

    /** Output address of a successful request, or -(fault reason). */
    long pa(int sid, int pasid, long iova, boolean write) {
        TranslationResult r = new TranslationResult();
        return unit.translate(sid, pasid, iova, write, false, r) ? r.pa : -r.faultCode;
    }

    long pa(int sid, long iova, boolean write) {
        return pa(sid, DmaTranslator.NO_PASID, iova, write);
    }
}
