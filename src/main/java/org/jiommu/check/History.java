package org.jiommu.check;

import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.Set;
import org.jiommu.bus.Device;
import org.jiommu.core.IommuGroup;

/**
 * What the checker remembers across calls of one core: the ownership ledger (I4: who holds a
 * group, counted from the calls that succeeded) and the devices ever seen with
 * {@code require_direct} (I-RMR after release, when the core has forgotten the flag).
 * Guarded by the owning {@link CoreWatch}'s gate (or used by one thread).
 */
public final class History {
    /** Per group: DMA-API users and explicit-owner claims, as the successful calls add them up. */
    final Map<IommuGroup, int[]> ledger = new IdentityHashMap<>();
    /** Groups whose ledger cannot be trusted (overlapping calls); resynchronised from the state. */
    final Set<IommuGroup> ledgerUnsure = Collections.newSetFromMap(new IdentityHashMap<>());
    final Set<Device> requireDirectSeen = Collections.newSetFromMap(new IdentityHashMap<>());
    /**
     * The last call checked was an unbalanced ownership call the kernel does not WARN about
     * (unuse without a use, device release of a claim nobody made): it still decrements owner_cnt.
     */
    boolean lastCallUnbalanced;

    /** The ledger entry of {@code g}: {DMA-API users, owner claims}. */
    int[] ledger(IommuGroup g) {
        return ledger.computeIfAbsent(g, k -> new int[2]);
    }

    /**
     * True if the last call checked was an unbalanced ownership call (a caller bug the kernel
     * lets through without a WARN, SEMANTICS.md 7.2): the watch excuses what follows from it.
     */
    public boolean lastCallUnbalanced() {
        return lastCallUnbalanced;
    }

    /** True if {@code dev} ever had {@code require_direct} while this history watched. */
    public boolean wasRequireDirect(Device dev) {
        return requireDirectSeen.contains(dev);
    }
}
