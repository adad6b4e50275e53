package org.jiommu.driver.vtd;

import java.util.HashMap;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import org.jiommu.bus.Device;
import org.jiommu.core.CoreSnapshot;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.platform.HardwareView;

/**
 * The VT-d driver's programmed state as the checker's hardware view: per device behind a unit,
 * the domain its RID entry was last programmed for and its PASID entries at every PASID the
 * core knows of (the driver has no list of them; entries at other PASIDs are I7's to find, from
 * memory, {@link VtdAgreement}).
 */
final class VtdDriverView implements HardwareView {
    private final VtdIommuDriver drv;
    private final Map<Device, Map<Integer, IommuDomain>> pasids = new HashMap<>();

    VtdDriverView(VtdIommuDriver drv, CoreSnapshot cs) {
        this.drv = drv;
        TreeSet<Integer> candidates = knownPasids(cs);
        for (CoreSnapshot.DeviceState d : cs.devices()) {
            if (drv.unitFor(d.dev()) == null) {
                continue;
            }
            Map<Integer, IommuDomain> out = new TreeMap<>();
            for (int p : candidates) {
                IommuDomain dom = drv.programmedPasid(d.dev(), p);
                if (dom != null) {
                    out.put(p, dom);
                }
            }
            pasids.put(d.dev(), out);
        }
    }

    /** Every PASID other than 0 the core knows of: group slots, global PASIDs, mm PASIDs. */
    static TreeSet<Integer> knownPasids(CoreSnapshot cs) {
        TreeSet<Integer> candidates = new TreeSet<>(cs.globalPasids().keySet());
        for (CoreSnapshot.GroupState g : cs.groups()) {
            candidates.addAll(g.pasids().keySet());
        }
        for (CoreSnapshot.MmState mm : cs.mms().values()) {
            candidates.add(mm.pasid());
        }
        candidates.remove(0);
        return candidates;
    }

    @Override
    public boolean knows(Device dev) {
        return pasids.containsKey(dev);
    }

    @Override
    public IommuDomain rid(Device dev) {
        return drv.programmedDomain(dev);
    }

    @Override
    public Map<Integer, IommuDomain> pasids(Device dev) {
        return pasids.getOrDefault(dev, Map.of());
    }

    @Override
    public Boolean driverHolds(Device dev) {
        return drv.probed(dev);
    }

    @Override
    public int liveDriverDomains() {
        return -1; // the VT-d driver keeps no list of its domains
    }
}
