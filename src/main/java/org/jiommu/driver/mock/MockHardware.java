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

    /** What one stream-table (or PASID-table) entry says. */
    public record Entry(Kind kind, long root, int ias, int granuleShift) {
        public enum Kind { ABORT, BYPASS, TRANSLATE }

        public static final Entry ABORT = new Entry(Kind.ABORT, 0, 0, 0);
        public static final Entry BYPASS = new Entry(Kind.BYPASS, 0, 0, 0);
    }

    private final PhysicalMemory memory;
    /** source ID → RID entry. */
    private final ConcurrentHashMap<Integer, Entry> streams = new ConcurrentHashMap<>();
    /** (source ID << 32 | PASID) → PASID entry. */
    private final ConcurrentHashMap<Long, Entry> pasids = new ConcurrentHashMap<>();
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

    /** The RID entry of a source ID (ABORT, the reset state, if never written). */
    public Entry stream(int sid) {
        return streams.getOrDefault(sid, Entry.ABORT);
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
                return walk(e, iova, write, translationRequest, out);
        }
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
