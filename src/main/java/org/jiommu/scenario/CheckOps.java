package org.jiommu.scenario;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.jiommu.bus.Device;
import org.jiommu.check.HardwareView;
import org.jiommu.check.InvariantChecker;
import org.jiommu.check.MockHardwareView;
import org.jiommu.check.PlatformState;
import org.jiommu.check.Violation;
import org.jiommu.core.CoreSnapshot;
import org.jiommu.core.PasidInvariants;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.driver.vtd.VtdIommuDriver;
import org.jiommu.platform.VtdHardwareAgreement;

/**
 * {@code check: invariants}: the invariant checker of {@code org.jiommu.check} over the whole
 * platform, with the hardware as it really is (the mock drivers' exact state, the VT-d driver's
 * programmed entries), the core's PASID invariants ({@link PasidInvariants}: I-MM-PASID,
 * I-SVA-REF, I-IOPF-ONCE and the allocator halves of I-NO-PASID-0 / I-PASID-RANGE), and on VT-d
 * the hardware agreement I7 (every context and PASID entry walked from memory matches the core).
 */
final class CheckOps {
    private CheckOps() {
    }

    static Outcome invariants(Machine m, StepArgs a) {
        return new Outcome.Checked(violations(m));
    }

    /** Every violation, each as "ID: message", in a stable order (checker, PASID, I7). */
    static List<String> violations(Machine m) {
        org.jiommu.check.Platform p = m.checkPlatform();
        // I10 (frames back at the baseline when no domain lives) counts every page-table page
        // of the allocator: VT-d's context/PASID tables and process page tables (mm_create) are
        // not domains, so the baseline only means something on a mock-only platform without mms.
        boolean exactFrames = m.vtd == null && !m.hasMms();
        PlatformState s = PlatformState.capture(m.core, cs -> view(m, cs), exactFrames ? p.frames() : null,
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
        if (m.vtd != null) {
            for (String v : VtdHardwareAgreement.check(m.vtd)) {
                out.add("I7: " + v);
            }
        }
        return out;
    }

    /** The mock drivers' exact view, and for VT-d devices what the driver programmed. */
    private static HardwareView view(Machine m, CoreSnapshot cs) {
        MockHardwareView mock = new MockHardwareView(new ArrayList<>(m.mocks().values()), PlatformState.fwspecMap(cs));
        if (m.vtd == null) {
            return mock;
        }
        VtdIommuDriver drv = m.vtd.driver();
        Map<Device, Map<Integer, IommuDomain>> pasids = new HashMap<>();
        for (CoreSnapshot.DeviceState d : cs.devices()) {
            if (m.vtdUnits().containsKey(m.iommuOf(d.dev()))) {
                pasids.put(d.dev(), vtdPasids(drv, d.dev(), cs));
            }
        }
        return new HardwareView() {
            @Override
            public boolean knows(Device dev) {
                return pasids.containsKey(dev) || mock.knows(dev);
            }

            @Override
            public IommuDomain rid(Device dev) {
                return pasids.containsKey(dev) ? drv.programmedDomain(dev) : mock.rid(dev);
            }

            @Override
            public Map<Integer, IommuDomain> pasids(Device dev) {
                return pasids.containsKey(dev) ? pasids.get(dev) : mock.pasids(dev);
            }

            @Override
            public Boolean driverHolds(Device dev) {
                return pasids.containsKey(dev) ? drv.probed(dev) : mock.driverHolds(dev);
            }

            @Override
            public int liveDriverDomains() {
                return -1; // the VT-d driver keeps no list of its domains
            }
        };
    }

    /**
     * The VT-d driver's PASID entries of {@code dev} at every PASID the core knows of (the
     * driver has no list of them; entries at other PASIDs are I7's to find, from memory).
     */
    private static Map<Integer, IommuDomain> vtdPasids(VtdIommuDriver drv, Device dev, CoreSnapshot cs) {
        java.util.TreeSet<Integer> candidates = new java.util.TreeSet<>(cs.globalPasids().keySet());
        for (CoreSnapshot.GroupState g : cs.groups()) {
            candidates.addAll(g.pasids().keySet());
        }
        for (CoreSnapshot.MmState mm : cs.mms().values()) {
            candidates.add(mm.pasid());
        }
        candidates.remove(0);
        Map<Integer, IommuDomain> out = new TreeMap<>();
        for (int p : candidates) {
            IommuDomain d = drv.programmedPasid(dev, p);
            if (d != null) {
                out.put(p, d);
            }
        }
        return out;
    }
}
