package org.jiommu.hw.vtd;

import org.jiommu.mem.PhysicalMemory;

/**
 * The VT-d remapping structures read from memory, the way the hardware finds them (VT-d spec
 * 3.4.2-3.4.3 legacy, 3.4.3-3.4.4 and 9.4-9.6 scalable mode): root table at RTADDR_REG, root
 * entry by bus, context entry by devfn (scalable mode: lower or upper context table, 32-byte
 * entries), PASID directory entry by PASID[19:6], PASID table entry by PASID[5:0]. Every reader
 * of VT-d tables outside the driver's encoders uses these decoders: the platform's hardware view
 * and I7 agreement, {@code hw_dump}, the stress run's planted stray entry; none of them reads a
 * cache or the driver's bookkeeping.
 *
 * <p>Reads only: nothing here moves a counter or fills a cache.
 */
public final class VtdTables {
    private final PhysicalMemory mem;
    private final long rootTable;
    private final boolean scalable;

    /**
     * @param mem the memory the unit reads
     * @param rtaddr the unit's RTADDR_REG value (root table address and TTM)
     */
    public VtdTables(PhysicalMemory mem, long rtaddr) {
        this.mem = mem;
        this.rootTable = rtaddr & VtdRegisters.RTADDR_RTA_MASK;
        this.scalable = (rtaddr & VtdRegisters.RTADDR_TTM_MASK) == VtdRegisters.RTADDR_SMT;
    }

    /** The tables of {@code unit} as its RTADDR_REG names them now. */
    public static VtdTables of(VtdUnit unit, PhysicalMemory mem) {
        return new VtdTables(mem, unit.read64(VtdRegisters.RTADDR_REG));
    }

    /** RTADDR_REG.TTM = 01b: scalable-mode root and context entries. */
    public boolean scalable() {
        return scalable;
    }

    public long rootTable() {
        return rootTable;
    }

    /** The root entry of {@code bus}. */
    public RootEntry rootEntry(int bus) {
        long a = rootTable + (long) bus * RootEntry.SIZE;
        return new RootEntry(mem.readLong(a), mem.readLong(a + 8));
    }

    /**
     * Where the context entry of {@code rid} is, or -1 if its root entry (the half covering the
     * devfn, in scalable mode) is not present.
     */
    public long contextEntryAddress(int rid) {
        int devfn = rid & 0xFF;
        RootEntry re = rootEntry(rid >>> 8);
        if (!re.presentFor(scalable, devfn)) {
            return -1;
        }
        long table = re.contextTableFor(scalable, devfn);
        return scalable ? table + (long) (devfn & 0x7F) * ScalableContextEntry.SIZE
                : table + (long) devfn * ContextEntry.SIZE;
    }

    /** Legacy mode: the context entry of {@code rid}, or null if its root entry is not present. */
    public ContextEntry legacyContext(int rid) {
        return legacyContextAt(contextEntryAddress(rid));
    }

    /** Legacy mode: the context entry at {@code a} (-1: none). */
    public ContextEntry legacyContextAt(long a) {
        return a < 0 ? null : new ContextEntry(mem.readLong(a), mem.readLong(a + 8));
    }

    /** Scalable mode: the context entry of {@code rid}, or null if its root entry is not present. */
    public ScalableContextEntry scalableContext(int rid) {
        return scalableContextAt(contextEntryAddress(rid));
    }

    /** Scalable mode: the context entry at {@code a} (-1: none). */
    public ScalableContextEntry scalableContextAt(long a) {
        return a < 0 ? null
                : new ScalableContextEntry(mem.readLong(a), mem.readLong(a + 8), mem.readLong(a + 16),
                        mem.readLong(a + 24));
    }

    /** Directory entry {@code index} of the context's PASID directory. */
    public PasidDirEntry pasidDirEntry(ScalableContextEntry ctx, int index) {
        return new PasidDirEntry(mem.readLong(ctx.pasidDirectoryPointer() + (long) index * PasidDirEntry.SIZE));
    }

    /**
     * Where {@code pasid}'s PASID-table entry is under {@code ctx}, or -1 if the directory is too
     * small for it or its directory entry is not present.
     */
    public long pasidEntryAddress(ScalableContextEntry ctx, int pasid) {
        int di = PasidDirEntry.index(pasid);
        if (di >= ctx.pasidDirectoryEntries()) {
            return -1;
        }
        PasidDirEntry de = pasidDirEntry(ctx, di);
        if (!de.present()) {
            return -1;
        }
        return de.pasidTablePointer() + (long) PasidEntry.index(pasid) * PasidEntry.SIZE;
    }

    /**
     * The index of the first entry of the context's PASID directory at or after {@code from}
     * with P set (bit 0, VT-d spec 9.5), or {@code pasidDirectoryEntries()} if there is none. A
     * 20-bit PASID space has a 16384-entry directory, mostly not present: the run of clear P
     * bits is counted a frame at a time ({@link PhysicalMemory#countMatchingLongs}) instead of
     * decoding each entry.
     */
    public int nextPresentPasidDir(ScalableContextEntry ctx, int from) {
        int n = ctx.pasidDirectoryEntries();
        if (from >= n) {
            return n;
        }
        return from + mem.countMatchingLongs(ctx.pasidDirectoryPointer() + (long) from * PasidDirEntry.SIZE,
                n - from, 1, 0);
    }

    /**
     * True if the PASID-table entry at {@code a} has P set (bit 0 of its first word, VT-d spec
     * 9.6): one word read, for a reader that skips not-present entries without decoding them.
     */
    public boolean pasidEntryPresentAt(long a) {
        return (mem.readLong(a) & 1) != 0;
    }

    /** The 64-byte PASID-table entry at {@code a}. */
    public PasidEntry pasidEntryAt(long a) {
        long[] w = new long[8];
        for (int i = 0; i < 8; i++) {
            w[i] = mem.readLong(a + 8L * i);
        }
        return PasidEntry.of(w);
    }

    /** The PASID entry of {@code pasid} under {@code ctx}, or null if its directory entry is not present. */
    public PasidEntry pasidEntry(ScalableContextEntry ctx, int pasid) {
        long a = pasidEntryAddress(ctx, pasid);
        return a < 0 ? null : pasidEntryAt(a);
    }

    /** Entries per PASID table (PASID[5:0]). */
    public static final int PASIDS_PER_TABLE = 64;
}
