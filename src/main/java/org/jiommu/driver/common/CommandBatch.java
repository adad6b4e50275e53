package org.jiommu.driver.common;

import java.util.ArrayList;
import java.util.List;

/**
 * Commands gathered for one submission that ends in a sync: VT-d's invalidation descriptors
 * followed by a wait descriptor ({@code qi_submit_sync}), SMMUv3's {@code arm_smmu_cmdq_batch}
 * ended by CMD_SYNC ({@code arm_smmu_cmdq_batch_submit}). The queue appends the sync and returns
 * only once the hardware has consumed everything before it.
 *
 * @param <C> one encoded command
 */
public final class CommandBatch<C> {
    /** A command queue that posts a batch, appends its sync and waits for the sync to complete. */
    @FunctionalInterface
    public interface SyncQueue<C> {
        /** @return false when the hardware refused a command (the queue recovered and warned) */
        boolean submitSync(List<C> commands);
    }

    private final SyncQueue<C> queue;
    private final List<C> commands = new ArrayList<>();

    public CommandBatch(SyncQueue<C> queue) {
        this.queue = queue;
    }

    public CommandBatch<C> add(C command) {
        commands.add(command);
        return this;
    }

    public boolean isEmpty() {
        return commands.isEmpty();
    }

    public int size() {
        return commands.size();
    }

    /** Posts the commands with a sync at the end even when there are none (a bare wait). */
    public boolean submit() {
        List<C> out = List.copyOf(commands);
        commands.clear();
        return queue.submitSync(out);
    }

    /** Posts the commands and their sync only if there is at least one. */
    public boolean submitIfAny() {
        return commands.isEmpty() || submit();
    }
}
