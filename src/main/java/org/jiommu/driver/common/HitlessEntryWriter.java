package org.jiommu.driver.common;

/**
 * Updates a live multi-word table entry that the hardware may fetch at any moment, in the fewest
 * syncs and without a window in which the hardware sees neither the old nor the new
 * configuration where that is possible: the kernel's {@code arm_smmu_entry_writer}
 * ({@code arm_smmu_write_entry}, {@code arm_smmu_entry_qword_diff} in
 * drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.c), parameterised by an {@link EntryFormat}.
 *
 * <p>The idea: each configuration of an entry uses only some of its bits (the format's
 * {@link EntryFormat#usedBits}); the hardware ignores the rest. So the bits the current
 * configuration does not use can be set to the target's values first, at no risk. After that,
 * if the bits the target uses differ from the entry in only one word, writing that word (64-bit
 * writes are single-copy atomic) switches the hardware from the old configuration to the new in
 * one step:
 * <ol>
 * <li>set every unused bit to the target's value (except in the critical word), sync;</li>
 * <li>write the critical word, sync;</li>
 * <li>write the remaining words (now bits the new configuration does not use), sync.</li>
 * </ol>
 * A sync is only issued after a step that changed something, so the count is 1, 2 or 3. When the
 * used bits differ in more than one word the update cannot be hitless: word 0 (with the valid
 * bit) is zeroed, sync, words 1.. written, sync, word 0 written, sync. When no used bit differs
 * the entry already is the target on every bit that matters and nothing is written.
 *
 * <p>A format may also name bits that are safe to change at any step although both configurations
 * use them ({@link EntryFormat#updateSafe}, the kernel's {@code get_update_safe}, since v6.19 for
 * the SMMUv3 STE): they are moved with the unused bits in step 1, so a change confined to them
 * and one other word stays hitless, and a change of only such bits costs one sync.
 *
 * <p>Targets must have no bits set outside their own used bits (the kernel WARNs); the writer
 * reports such a target with an {@link IllegalArgumentException}, a programming error.
 */
public final class HitlessEntryWriter {
    /** An entry layout: how many 64-bit words it has, and which bits a given content uses. */
    public interface EntryFormat {
        int qwords();

        /**
         * The bits the hardware reads when the entry holds {@code entry} ({@code get_used}): for
         * an invalid entry only the valid bit; otherwise the fields its configuration uses.
         */
        long[] usedBits(long[] entry);

        /**
         * {@code get_update_safe}: bits that may change in any order between {@code cur} and
         * {@code target} although the hardware reads them (only those both configurations use
         * count); null (the default) for none.
         */
        default long[] updateSafe(long[] cur, long[] target) {
            return null;
        }
    }

    /** Where the entry lives: word reads and single-copy-atomic word writes. */
    public interface EntryStore {
        long read(int qword);

        void write(int qword, long value);
    }

    /** What the update did: the syncs issued and whether the entry went through invalid. */
    public record Result(int syncs, boolean breaking) {
    }

    private final EntryFormat format;

    public HitlessEntryWriter(EntryFormat format) {
        this.format = format;
    }

    public EntryFormat format() {
        return format;
    }

    /**
     * Updates the entry in {@code store} to {@code target}, calling {@code sync} after every step
     * that changed it (the driver's cache invalidation + CMD_SYNC: the hardware has dropped what
     * it cached of the entry and will fetch it again).
     */
    public Result write(EntryStore store, long[] target, Runnable sync) {
        int n = format.qwords();
        if (target.length != n) {
            throw new IllegalArgumentException("target has " + target.length + " words, the format " + n);
        }
        long[] entry = new long[n];
        for (int i = 0; i < n; i++) {
            entry[i] = store.read(i);
        }
        long[] unusedUpdate = new long[n];
        int diff = qwordDiff(entry, target, unusedUpdate);
        int syncs = 0;
        boolean breaking = false;
        if (Integer.bitCount(diff) == 1) {
            // Hitless: only one word changes bits the hardware uses.
            int critical = Integer.numberOfTrailingZeros(diff);
            unusedUpdate[critical] = entry[critical];
            syncs += set(store, entry, unusedUpdate, 0, n, sync);
            syncs += set(store, entry, target, critical, 1, sync);
            syncs += set(store, entry, target, 0, n, sync);
        } else if (diff != 0) {
            // Several words: break the entry (valid bit 0), fill it in, make it valid last.
            breaking = true;
            unusedUpdate[0] = 0;
            syncs += set(store, entry, unusedUpdate, 0, 1, sync);
            syncs += set(store, entry, target, 1, n - 1, sync);
            syncs += set(store, entry, target, 0, 1, sync);
        } else {
            // Every used bit is already the target's, though safe bits may differ (one sync then).
            syncs += set(store, entry, target, 0, n, sync);
        }
        return new Result(syncs, breaking);
    }

    /**
     * {@code arm_smmu_entry_qword_diff}: fills {@code unusedUpdate} with the entry whose bits
     * unused by the current configuration take the target's values, and returns a bit per word
     * in which the target's used bits still differ from that.
     */
    int qwordDiff(long[] entry, long[] target, long[] unusedUpdate) {
        long[] curUsed = format.usedBits(entry);
        long[] targetUsed = format.usedBits(target);
        long[] safe = format.updateSafe(entry, target);
        int diff = 0;
        for (int i = 0; i < entry.length; i++) {
            if ((target[i] & ~targetUsed[i]) != 0) {
                throw new IllegalArgumentException(String.format(
                        "target word %d sets bits %#x its configuration does not use", i, target[i] & ~targetUsed[i]));
            }
            if (safe != null) {
                // Safe bits count only where both configurations use them; they change with the unused ones.
                curUsed[i] &= ~(safe[i] & targetUsed[i] & curUsed[i]);
            }
            unusedUpdate[i] = (entry[i] & curUsed[i]) | (target[i] & ~curUsed[i]);
            if ((unusedUpdate[i] & targetUsed[i]) != target[i]) {
                diff |= 1 << i;
            }
        }
        return diff;
    }

    /** {@code entry_set}: writes the words of [start, start + len) that differ; one sync if any did. */
    private static int set(EntryStore store, long[] entry, long[] values, int start, int len, Runnable sync) {
        boolean changed = false;
        for (int i = start; i < start + len; i++) {
            if (entry[i] != values[i]) {
                entry[i] = values[i];
                store.write(i, values[i]);
                changed = true;
            }
        }
        if (changed) {
            sync.run();
            return 1;
        }
        return 0;
    }
}
