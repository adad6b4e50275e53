package org.jiommu.driver.common;

import org.jiommu.mem.PhysicalMemory;

/**
 * Table entries of several 64-bit words written and read the way every driver does it: the
 * valid/present bit sits in word 0, so a new entry is written highest word first and word 0 last
 * with release semantics, and a walker that sees the entry present sees all of it (VT-d
 * {@code context_set_present} / {@code pasid_set_present} after the other fields; SMMUv3 writes
 * STE/CD word 0 last on a non-hitless update, {@code arm_smmu_write_entry}).
 */
public final class EntryWrites {
    private EntryWrites() {
    }

    /** Writes {@code words} at {@code address}, word 0 (holding the present bit) last. */
    public static void writePresentLast(PhysicalMemory mem, long address, long[] words) {
        for (int i = words.length - 1; i > 0; i--) {
            mem.writeLong(address + 8L * i, words[i]);
        }
        mem.writeLongRelease(address, words[0]);
    }

    /** Reads {@code words} 64-bit words at {@code address}, each with acquire semantics. */
    public static long[] read(PhysicalMemory mem, long address, int words) {
        long[] w = new long[words];
        for (int i = 0; i < words; i++) {
            w[i] = mem.readLongAcquire(address + 8L * i);
        }
        return w;
    }

    /** An {@link HitlessEntryWriter.EntryStore} over an entry in physical memory. */
    public static HitlessEntryWriter.EntryStore inMemory(PhysicalMemory mem, long address) {
        return new HitlessEntryWriter.EntryStore() {
            @Override
            public long read(int qword) {
                return mem.readLongAcquire(address + 8L * qword);
            }

            @Override
            public void write(int qword, long value) {
                mem.writeLongRelease(address + 8L * qword, value);
            }
        };
    }
}
