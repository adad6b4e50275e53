package org.jiommu.driver.common;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * A domain's device-TLB cache tags (the kernel's {@code cache_tag} of type
 * {@code CACHE_TAG_DEVTLB} / {@code _NESTING_DEVTLB} in VT-d's cache.c; SMMUv3's
 * {@code arm_smmu_domain->devices} walk in {@code arm_smmu_atc_inv_domain}): one per (ATS-enabled
 * master, PASID) the domain is attached with, so an invalidation reaches every ATC that may hold
 * the domain's translations, per PASID. Not thread-safe: the domain's lock guards it, held across
 * the whole fan-out so no master joins or leaves in between.
 *
 * @param <M> the driver's master record
 */
public final class DevTlbTags<M extends MasterInfo<?>> {
    /** An ATC that may cache the domain's translations for requests with {@code pasid} (0 = without PASID). */
    public record Tag<M>(M master, int pasid) {
    }

    private final List<Tag<M>> tags = new ArrayList<>();

    /**
     * {@code cache_tag_assign_domain} for the device TLB: only a master with ATS enabled has an
     * ATC to invalidate.
     */
    public void assign(M master, int pasid) {
        if (master.atsEnabled()) {
            tags.add(new Tag<>(master, pasid));
        }
    }

    /** {@code cache_tag_unassign_domain}. */
    public void unassign(M master, int pasid) {
        tags.remove(new Tag<>(master, pasid));
    }

    /**
     * The fan-out of one invalidation behind {@code unit}: {@code command} gets every tag of a
     * master on that unit, in attach order, except those the {@link DriverFaults.Skip#DEVICE_TLB}
     * plant makes the driver forget ({@code faults} null: no plant applies on this path).
     */
    public void forEachOn(Object unit, DriverFaults faults, Consumer<Tag<M>> command) {
        for (Tag<M> t : tags) {
            if (t.master().iommu != unit || (faults != null && faults.take(DriverFaults.Skip.DEVICE_TLB))) {
                continue;
            }
            command.accept(t);
        }
    }

    public boolean isEmpty() {
        return tags.isEmpty();
    }

    public List<Tag<M>> snapshot() {
        return List.copyOf(tags);
    }
}
