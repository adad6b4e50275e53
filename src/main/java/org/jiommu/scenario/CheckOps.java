package org.jiommu.scenario;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.jiommu.check.InvariantChecker;
import org.jiommu.check.PlatformState;
import org.jiommu.check.Violation;
import org.jiommu.core.PasidInvariants;
import org.jiommu.platform.HardwareView;
import org.jiommu.platform.Platform;

/**
 * {@code check: invariants}: the invariant checker of {@code org.jiommu.check} over the whole
 * platform, with the hardware as each IOMMU kind's view shows it (the platform's
 * {@code HardwareView}), the core's PASID invariants ({@link PasidInvariants}: I-MM-PASID,
 * I-SVA-REF, I-IOPF-ONCE and the allocator halves of I-NO-PASID-0 / I-PASID-RANGE), and the
 * hardware agreement I7 over every kind that decodes its entries from memory.
 */
final class CheckOps {
    private CheckOps() {
    }

    static Outcome invariants(Machine m, StepArgs a) {
        return new Outcome.Checked(violations(m));
    }

    /** Every violation, each as "ID: message", in a stable order (checker, PASID, I7). */
    static List<String> violations(Machine m) {
        Platform p = m.platform;
        // I10 (frames back at the baseline when no domain lives) counts every page-table page
        // of the allocator: some kinds keep tables that are not domains (VT-d's context and
        // PASID tables), and process page tables (mm_create) are not domains either, so the
        // baseline only means something where every kind says so and no mm exists.
        boolean exactFrames = p.exactFrames() && !m.hasMms();
        PlatformState s = PlatformState.capture(m.core, p::view, exactFrames ? p.frames() : null,
                exactFrames ? p.baseline() : null);
        List<String> out = new ArrayList<>();
        for (Violation v : InvariantChecker.checkState(s, null)) {
            out.add(v.toString());
        }
        HardwareView hw = s.hw();
        for (PasidInvariants.Violation v : PasidInvariants.check(s.core(), dev -> hw.knows(dev) ? hw.pasids(dev)
                : Map.of())) {
            out.add(v.toString());
        }
        out.addAll(DmaOps.violations(m));
        for (String v : p.agreement()) {
            out.add("I7: " + v);
        }
        return out;
    }
}
