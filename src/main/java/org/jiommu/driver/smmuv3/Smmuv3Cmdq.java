package org.jiommu.driver.smmuv3;

import static org.jiommu.hw.smmuv3.SmmuRegs.*;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import org.jiommu.base.WarningSink;
import org.jiommu.driver.common.CommandBatch;
import org.jiommu.hw.smmuv3.SmmuCommand;
import org.jiommu.hw.smmuv3.SmmuV3Unit;
import org.jiommu.mem.PhysicalMemory;

/**
 * The driver's side of the SMMUv3 command queue ({@code arm_smmu_cmdq_issue_cmdlist} and its
 * callers): commands are written at the software PROD, PROD is published, and a CMD_SYNC waits
 * for everything before it. Completion is polled the way the kernel does with MSIs on a coherent
 * SMMU ({@code ARM_SMMU_OPT_MSIPOLL}): the CMD_SYNC asks for an MSI write of 0 to its own queue
 * slot, and the driver waits for the slot's first word to read 0. A command the SMMU refuses
 * (CMDQ_CONS.ERR) is replaced by a CMD_SYNC and acknowledged in GERRORN
 * ({@code arm_smmu_cmdq_skip_err}), with a warning. One lock serialises producers.
 */
final class Smmuv3Cmdq implements CommandBatch.SyncQueue<long[]> {
    /** CMDQ_BATCH_ENTRIES: a batch is issued (without sync) every 64 commands. */
    static final int BATCH_ENTRIES = 64;

    private final SmmuV3Unit unit;
    private final PhysicalMemory mem;
    private final WarningSink warnings;
    private final long base;
    private final int log2Size;
    private int prod;
    private volatile Consumer<long[]> tap;

    Smmuv3Cmdq(SmmuV3Unit unit, long base, int log2Size, WarningSink warnings) {
        this.unit = unit;
        this.mem = unit.memory();
        this.base = base;
        this.log2Size = log2Size;
        this.warnings = warnings;
    }

    /** Q_BASE: read-allocate hint, address and LOG2SIZE (arm_smmu_init_one_queue). */
    long qBase() {
        return 1L << 62 | base & Q_BASE_ADDR_MASK | log2Size;
    }

    long base() {
        return base;
    }

    /** Every command issued from now on is also handed to {@code tap} (tests, traces); null: none. */
    void tap(Consumer<long[]> tap) {
        this.tap = tap;
    }

    private int entries() {
        return 1 << log2Size;
    }

    private long slot(int p) {
        return base + 16L * (p & (entries() - 1));
    }

    private int advance(int p) {
        return (p + 1) & ((entries() << 1) - 1);
    }

    /** Issues {@code commands} without a sync (arm_smmu_cmdq_issue_cmd). */
    synchronized boolean issue(List<long[]> commands) {
        return issue(commands, false);
    }

    /** Issues {@code commands} followed by a CMD_SYNC and waits for it (arm_smmu_cmdq_batch_submit). */
    @Override
    public synchronized boolean submitSync(List<long[]> commands) {
        return issue(commands, true);
    }

    private boolean issue(List<long[]> commands, boolean sync) {
        boolean ok = true;
        List<long[]> all = new ArrayList<>(commands);
        // A batch never holds more than BATCH_ENTRIES commands: the rest go out before, unsynced.
        int from = 0;
        while (all.size() - from > BATCH_ENTRIES) {
            ok &= write(all.subList(from, from + BATCH_ENTRIES), false);
            from += BATCH_ENTRIES;
        }
        ok &= write(all.subList(from, all.size()), sync);
        return ok;
    }

    private boolean write(List<long[]> commands, boolean sync) {
        Consumer<long[]> t = tap;
        for (long[] c : commands) {
            long at = slot(prod);
            mem.writeLong(at, c[0]);
            mem.writeLong(at + 8, c[1]);
            prod = advance(prod);
            if (t != null) {
                t.accept(c);
            }
        }
        long syncSlot = -1;
        if (sync) {
            syncSlot = slot(prod);
            long[] s = SmmuCommand.sync(SmmuCommand.SYNC_CS_IRQ, syncSlot, 0);
            mem.writeLong(syncSlot, s[0]);
            mem.writeLong(syncSlot + 8, s[1]);
            prod = advance(prod);
            if (t != null) {
                t.accept(s);
            }
        }
        if (commands.isEmpty() && !sync) {
            return true;
        }
        unit.writeRegister32(CMDQ_PROD, prod);
        boolean ok = true;
        while (cmdqError()) {
            ok = false;
            skipError();
        }
        if (syncSlot >= 0) {
            // The SMMU has consumed up to PROD (or stopped at an error we skipped): the CMD_SYNC's
            // MSI wrote 0 over the first word of its own slot.
            int spins = 0;
            while ((int) mem.readLongAcquire(syncSlot) != 0) {
                if (++spins > 1_000_000) {
                    warnings.warn("arm_smmu_cmdq_poll_until_sync", "CMD_SYNC timeout at prod " + prod);
                    return false;
                }
                Thread.onSpinWait();
            }
        }
        return ok;
    }

    private boolean cmdqError() {
        return ((unit.readRegister32(GERROR) ^ unit.readRegister32(GERRORN)) & GERROR_CMDQ_ERR) != 0;
    }

    /**
     * arm_smmu_cmdq_skip_err: the command at CONS was refused; warn, overwrite it with a CMD_SYNC
     * (a harmless command the SMMU will accept) and acknowledge GERROR.CMDQ_ERR so consumption
     * resumes.
     */
    private void skipError() {
        int cons = unit.readRegister32(CMDQ_CONS);
        int err = cons >>> CMDQ_CONS_ERR_SHIFT & 0x7f;
        long at = slot(cons);
        long w0 = mem.readLong(at);
        warnings.warn("arm_smmu_cmdq_skip_err", String.format("CMDQ error (cons 0x%08x): %s; skipping command "
                + "0x%016x 0x%016x", cons, err == CERROR_ILL ? "Illegal command" : err == CERROR_ABT
                ? "Abort on command fetch" : "error " + err, w0, mem.readLong(at + 8)));
        long[] s = SmmuCommand.sync(SmmuCommand.SYNC_CS_NONE, 0, 0);
        mem.writeLong(at, s[0]);
        mem.writeLong(at + 8, s[1]);
        unit.writeRegister32(GERRORN, unit.readRegister32(GERROR));
    }
}
