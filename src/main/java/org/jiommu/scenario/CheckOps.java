package org.jiommu.scenario;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.LinkedHashSet;
import java.util.Set;
import org.jiommu.bus.Device;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.check.InvariantChecker;
import org.jiommu.check.PlatformState;
import org.jiommu.check.Violation;
import org.jiommu.core.PasidInvariants;
import org.jiommu.platform.HardwareView;
import org.jiommu.platform.IommuUnits;
import org.jiommu.platform.Platform;
import org.jiommu.platform.StressBed;
import org.jiommu.platform.StressPlant;

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

    /**
     * {@code plant: {name: N}}: plants the documented bug N of the platform's IOMMU kinds (the
     * stress plants, {@code jiommu stress --list-plants}) on this platform, as a stress run
     * plants it on its bed: the step a reproducing scenario of a planted stress run starts with
     * (docs/check.md 6). The plant sees the platform as a one-worker stress bed (its devices,
     * the PASID-capable PCI functions among them, no lanes). A name no kind of the platform has
     * fails the step.
     */
    static Outcome plant(Machine m, StepArgs a) {
        String name = a.word("name");
        Platform p = m.platform;
        for (IommuUnits u : p.units()) {
            StressPlant plant = u.plants().get(name);
            if (plant != null) {
                Set<Device> devices = new LinkedHashSet<>();
                for (IommuUnits v : p.units()) {
                    devices.addAll(p.devicesOn(v));
                }
                List<PciDevice> pasidDevices = new ArrayList<>();
                for (Device d : devices) {
                    if (d instanceof PciDevice pci && pci.pasidBits() > 0) {
                        pasidDevices.add(pci);
                    }
                }
                plant.plant(new StressBed(new StressBed.Shape(1, true), p, List.copyOf(devices), pasidDevices, List.of(),
                        p.baseline(), false, Map.of()));
                return new Outcome.Returned(null);
            }
        }
        throw new StepError("no plant '" + name + "' on this platform's IOMMU kinds (jiommu stress --list-plants)");
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
