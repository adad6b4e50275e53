package org.jiommu.driver.common;

import java.util.function.Consumer;
import java.util.function.ToIntFunction;
import org.jiommu.base.Errno;
import org.jiommu.base.WarningSink;

/**
 * IOPF enablement on the attach path, the same in every driver since v6.16 ({@code
 * iopf_for_domain_set} / {@code _remove}; VT-d {@code intel_iommu_enable_iopf}, SMMUv3
 * {@code arm_smmu_enable_iopf}): an IOPF-capable domain needs PRI (or stall) on the master, the
 * first such attachment puts the master on the unit's IOPF queue and enables page requests, the
 * last takes it off. The master's {@link MasterInfo#iopfRefcount()} counts the attachments. Every
 * method runs under the unit's lock.
 */
public final class IopfRefs {
    private IopfRefs() {
    }

    /**
     * Before attaching an IOPF-capable ({@code iopfCapable}) domain: -ENODEV without PRI; on the
     * master's first IOPF attachment {@code enable} is called (its -errno is returned).
     *
     * @return -errno, 1 when this call enabled page requests (a failing attach calls
     *     {@link #undoEnable}), else 0
     */
    public static <M extends MasterInfo<?>> int prepare(M info, boolean iopfCapable, ToIntFunction<M> enable) {
        if (!iopfCapable) {
            return 0;
        }
        if (!info.priSupported) {
            return Errno.ENODEV.neg();
        }
        if (info.iopfRefcount() != 0) {
            return 0;
        }
        int r = enable.applyAsInt(info);
        return r != 0 ? r : 1;
    }

    /** A failed attach after {@link #prepare} returned 1: page requests go off again. */
    public static <M extends MasterInfo<?>> void undoEnable(M info, int prepared, Consumer<M> disable) {
        if (prepared == 1) {
            disable.accept(info);
        }
    }

    /** The attachment of an IOPF-capable domain is in place: one more reference. */
    public static void get(MasterInfo<?> info, boolean iopfCapable) {
        if (iopfCapable) {
            info.addIopfRef(1);
        }
    }

    /**
     * An IOPF-capable domain left the master: one reference less, page requests off with the
     * last. The {@link DriverFaults#leakIopfRefcount() leak plant} forgets the reference (S19).
     */
    public static <M extends MasterInfo<?>> void put(M info, boolean iopfCapable, DriverFaults faults,
                                                     Consumer<M> disable) {
        if (!iopfCapable || faults.leakIopfRefcount()) {
            return;
        }
        info.addIopfRef(-1);
        if (info.iopfRefcount() == 0) {
            disable.accept(info);
        }
    }

    /** S19: on a blocked or identity domain with no PASID attached the count must be zero (a WARN otherwise). */
    public static void checkIdle(MasterInfo<?> info, WarningSink warnings, String where) {
        if (info.pasids().isEmpty() && info.iopfRefcount() != 0) {
            warnings.warn(where, info.dev + " on " + info.ridDomain() + " with no PASIDs still has "
                    + "iopf_refcount " + info.iopfRefcount());
        }
    }
}
