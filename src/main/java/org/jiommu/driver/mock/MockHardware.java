package org.jiommu.driver.mock;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;
import org.jiommu.bus.dma.DmaTranslator;
import org.jiommu.bus.dma.TranslationResult;
import org.jiommu.mem.PhysicalMemory;

/**
 * The mock IOMMU's "hardware": a stream table of entries the driver writes on attach (abort,
 * bypass, or translate through a table root), per source ID and per PASID, and a walker that
 * reads the ARM LPAE stage-1 descriptors from simulated memory on its own (written from the
 * VMSAv8-64 descriptor format, not from the table writer), so a DMA on a mock platform lands
 * where the tables really say. No TLB: every request walks.
 *
 * <p>Thread-safe: entries are replaced atomically; walks read memory words atomically.
 */
public final class MockHardware implements DmaTranslator {
    /** Fault codes (the names are the scenario expectations' words). */
    public static final int FAULT_BLOCKED = 1;
    public static final int FAULT_NOT_PRESENT = 2;
    public static final int FAULT_PERMISSION = 3;
    public static final int FAULT_BAD_PASID = 4;
    public static final int FAULT_OUT_OF_RANGE = 5;

    private static final long AP_RDONLY = 1L << 7;
    private static final long OA_MASK = 0x0000_ffff_ffff_f000L;
    private static final long X86_OA_MASK = 0x000f_ffff_ffff_f000L;

    /**
     * What one stream-table (or PASID-table) entry says. A TRANSLATE entry walks a VMSAv8-64
     * stage-1 table, or with format X86_FIRST_LEVEL an x86-64 4-level process table (an SVA PASID
     * entry pointing at {@code mm->pgd}).
     */
    public record Entry(Kind kind, long root, int ias, int granuleShift, TableFormat format) {
        public enum Kind { ABORT, BYPASS, TRANSLATE }

        /** The table format a TRANSLATE entry's walk reads. */
        public enum TableFormat { ARM_LPAE_S1, X86_FIRST_LEVEL }

        /** An entry walking an ARM LPAE stage-1 table (or not walking at all). */
        public Entry(Kind kind, long root, int ias, int granuleShift) {
            this(kind, root, ias, granuleShift, TableFormat.ARM_LPAE_S1);
        }

        public static final Entry ABORT = new Entry(Kind.ABORT, 0, 0, 0);
        public static final Entry BYPASS = new Entry(Kind.BYPASS, 0, 0, 0);
    }

    private final PhysicalMemory memory;
    /** source ID → RID entry. */
    private final ConcurrentHashMap<Integer, Entry> streams = new ConcurrentHashMap<>();
    /** (source ID << 32 | PASID) → PASID entry. */
    private final ConcurrentHashMap<Long, Entry> pasids = new ConcurrentHashMap<>();
    /** source ID → the TTBR1 half of a split address space (SMMUv2 with TTBR1 in use, S11). */
    private final ConcurrentHashMap<Integer, Split> splits = new ConcurrentHashMap<>();
    private final LongAdder translations = new LongAdder();
    private final LongAdder faults = new LongAdder();
    private final LongAdder walkReads = new LongAdder();

    public MockHardware(PhysicalMemory memory) {
        if (memory == null) {
            throw new IllegalArgumentException("mock hardware needs memory");
        }
        this.memory = memory;
    }

    /** The driver programs a source ID's RID entry. */
    void writeStream(int sid, Entry e) {
        streams.put(sid, e);
    }

    /** The driver programs (or with null clears) a PASID entry. */
    void writePasid(int sid, int pasid, Entry e) {
        long key = (long) sid << 32 | (pasid & 0xffffffffL);
        if (e == null) {
            pasids.remove(key);
        } else {
            pasids.put(key, e);
        }
    }

    /**
     * A split address space: IOVAs with {@code splitBit} set walk {@code ttbr1} (its table indexed
     * by the bits below its input size), the others the RID entry (TTBR0).
     */
    public record Split(Entry ttbr1, int splitBit) {
    }

    /** The master (or its driver) sets or clears (null) the TTBR1 half of a source ID's context. */
    void writeSplit(int sid, Split split) {
        if (split == null) {
            splits.remove(sid);
        } else {
            splits.put(sid, split);
        }
    }

    /** The RID entry of a source ID (ABORT, the reset state, if never written). */
    public Entry stream(int sid) {
        return streams.getOrDefault(sid, Entry.ABORT);
    }

    /** The PASID entry of a source ID, or null (the walk view, {@link MockWalk}). */
    Entry pasidEntry(int sid, int pasid) {
        return pasids.get((long) sid << 32 | (pasid & 0xffffffffL));
    }

    /** The TTBR1 half of a source ID's context, or null. */
    Split split(int sid) {
        return splits.get(sid);
    }

    public long translations() {
        return translations.sum();
    }

    public long faults() {
        return faults.sum();
    }

    /** Descriptor words read by walks. */
    public long walkReads() {
        return walkReads.sum();
    }

    @Override
    public boolean translate(int sourceId, int pasid, long iova, boolean write, boolean translationRequest,
                             TranslationResult out) {
        out.clear();
        translations.increment();
        Entry e;
        if (pasid == NO_PASID) {
            e = stream(sourceId);
            Split sp = splits.get(sourceId);
            if (sp != null && e.kind() == Entry.Kind.TRANSLATE && (iova >>> sp.splitBit() & 1) != 0) {
                // S11: the split bit selects TTBR1, whose table sees the address below its input size
                Entry t1 = sp.ttbr1();
                return walk(t1, iova & ((1L << t1.ias()) - 1), write, translationRequest, out);
            }
        } else {
            e = pasids.get((long) sourceId << 32 | (pasid & 0xffffffffL));
            if (e == null) {
                return fault(out, FAULT_BAD_PASID, "bad-pasid");
            }
        }
        switch (e.kind()) {
            case ABORT:
                return fault(out, FAULT_BLOCKED, "blocked");
            case BYPASS:
                out.pa = iova;
                out.pageSize = 1L << 12;
                out.readable = true;
                out.writable = true;
                return true;
            default:
                return e.format() == Entry.TableFormat.X86_FIRST_LEVEL
                        ? walkX86(e, iova, write, translationRequest, out)
                        : walk(e, iova, write, translationRequest, out);
        }
    }

    /**
     * An x86-64 4-level walk (Intel SDM vol. 3 4.5; VT-d first-stage, HARDWARE.md 2.5): P in bit
     * 0, R/W in bit 1 (writable only if set at every level), PS in bit 7 above the last level,
     * address in bits 51:12; user addresses below 2^48, no sign extension.
     */
    private boolean walkX86(Entry e, long iova, boolean write, boolean translationRequest, TranslationResult out) {
        if ((iova >>> e.ias()) != 0) {
            return fault(out, FAULT_OUT_OF_RANGE, "out-of-range");
        }
        long table = e.root();
        boolean writable = true;
        for (int level = 4; level >= 1; level--) {
            int shift = 12 + 9 * (level - 1);
            long pte = memory.readLong(table + ((iova >>> shift) & 511) * 8);
            walkReads.increment();
            if ((pte & 1) == 0) {
                return fault(out, FAULT_NOT_PRESENT, "not-present");
            }
            writable &= (pte & 2) != 0;
            boolean leaf = level == 1 || (pte & (1L << 7)) != 0;
            if (!leaf) {
                table = pte & X86_OA_MASK;
                continue;
            }
            long size = 1L << shift;
            out.pa = (pte & X86_OA_MASK & ~(size - 1)) | (iova & (size - 1));
            out.pageSize = size;
            out.readable = true;
            out.writable = writable;
            if (write && !writable && !translationRequest) {
                return fault(out, FAULT_PERMISSION, "permission");
            }
            return true;
        }
        return fault(out, FAULT_NOT_PRESENT, "not-present");
    }

    /** A VMSAv8-64 stage-1 walk of one granule size from the entry's root. */
    private boolean walk(Entry e, long iova, boolean write, boolean translationRequest, TranslationResult out) {
        if (e.ias() < 64 && (iova >>> e.ias()) != 0) {
            return fault(out, FAULT_OUT_OF_RANGE, "out-of-range");
        }
        int g = e.granuleShift();
        int bitsPerLevel = g - 3;
        int levels = (e.ias() - g + bitsPerLevel - 1) / bitsPerLevel;
        long table = e.root();
        for (int level = 4 - levels; level <= 3; level++) {
            int shift = g + (3 - level) * bitsPerLevel;
            long idx = (iova >>> shift) & ((1L << bitsPerLevel) - 1);
            long pte = memory.readLong(table + idx * 8);
            walkReads.increment();
            if ((pte & 1) == 0) {
                return fault(out, FAULT_NOT_PRESENT, "not-present");
            }
            boolean tableOrPage = (pte & 2) != 0;
            if (level < 3 && tableOrPage) {
                table = pte & OA_MASK & ~((1L << g) - 1);
                continue;
            }
            if (level == 3 && !tableOrPage) {
                return fault(out, FAULT_NOT_PRESENT, "not-present"); // reserved encoding at level 3
            }
            long size = 1L << shift;
            out.pa = (pte & OA_MASK & ~(size - 1)) | (iova & (size - 1));
            out.pageSize = size;
            out.readable = true;
            out.writable = (pte & AP_RDONLY) == 0;
            if (write && !out.writable && !translationRequest) {
                return fault(out, FAULT_PERMISSION, "permission");
            }
            return true;
        }
        return fault(out, FAULT_NOT_PRESENT, "not-present");
    }

    private boolean fault(TranslationResult out, int code, String name) {
        faults.increment();
        out.fault(code, name);
        return false;
    }
}
