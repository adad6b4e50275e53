package org.jiommu.core;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.mm.MmStruct;

/**
 * Takes {@link IommuCore#snapshot()}: the whole core under the probe lock, the aux and SVA locks
 * and every group mutex (ascending id), so no operation is half done in the picture.
 */
final class CoreSnapshots {
    private final GroupLocks locks;
    private final CoreRegistry registry;
    private final SubsysDefaults defaults;
    private final GlobalPasidAllocator globalPasids;
    private final AuxEngine aux;
    private final SvaEngine sva;
    private final IopfEngine iopf;

    CoreSnapshots(GroupLocks locks, CoreRegistry registry, SubsysDefaults defaults, GlobalPasidAllocator globalPasids,
            AuxEngine aux, SvaEngine sva, IopfEngine iopf) {
        this.locks = locks;
        this.registry = registry;
        this.defaults = defaults;
        this.globalPasids = globalPasids;
        this.aux = aux;
        this.sva = sva;
        this.iopf = iopf;
    }

    CoreSnapshot take() {
        locks.probeLock.lock();
        aux.lock.readLock().lock();
        sva.lock.lock();
        List<IommuGroup> locked = new ArrayList<>();
        try {
            for (IommuGroup g : registry.liveGroups()) {
                g.mutex.lock();
                locked.add(g);
            }
            List<CoreSnapshot.GroupState> gs = new ArrayList<>();
            for (IommuGroup g : locked) {
                gs.add(new CoreSnapshot.GroupState(g.id(), List.copyOf(g.devices), g.domain, g.defaultDomain,
                        g.blockingDomain, g.resettingDomain, g.owner, g.ownerCnt, g.pasidEntries()));
            }
            List<CoreSnapshot.DeviceState> ds = new ArrayList<>();
            for (CoreDevice c : registry.allDevices()) {
                DevIommu di = c.iommu;
                IommuGroup g = c.group;
                ds.add(new CoreSnapshot.DeviceState(c.dev, c.onBus, c.fwspecIommu,
                        di == null ? null : di.iommuDev, g == null ? null : g.id(),
                        di != null && di.attachDeferred, di != null && di.requireDirect,
                        di == null ? 0 : di.maxPasids, c.dmaIommu));
            }
            List<CoreSnapshot.DomainState> doms = new ArrayList<>();
            for (IommuDomain d : registry.liveDomains()) {
                doms.add(new CoreSnapshot.DomainState(d, d.type(), d.owner(), d.cookieType(), d.pgsizeBitmap()));
            }
            Map<Integer, List<Integer>> reserved = new TreeMap<>();
            for (IommuGroup g : locked) {
                List<Integer> r = new ArrayList<>();
                g.pasidArray.forEach((p, e) -> {
                    if (e == PasidEntry.Reserved.INSTANCE) {
                        r.add(p);
                    }
                });
                if (!r.isEmpty()) {
                    reserved.put(g.id(), List.copyOf(r));
                }
            }
            return withGlobalHalf(gs, ds, doms, Collections.unmodifiableMap(reserved));
        } finally {
            for (int i = locked.size() - 1; i >= 0; i--) {
                locked.get(i).mutex.unlock();
            }
            sva.lock.unlock();
            aux.lock.readLock().unlock();
            locks.probeLock.unlock();
        }
    }

    /**
     * The global half alone (the global PASID allocator, mms, SVA and aux domains, page request
     * groups), under the aux and SVA locks; no group, device or domain, no placeholder.
     */
    CoreSnapshot takeGlobal() {
        aux.lock.readLock().lock();
        sva.lock.lock();
        try {
            return withGlobalHalf(List.of(), List.of(), List.of(), Map.of());
        } finally {
            sva.lock.unlock();
            aux.lock.readLock().unlock();
        }
    }

    /** A snapshot of these groups, devices and domains with the global half read now. Aux and SVA locks held. */
    private CoreSnapshot withGlobalHalf(List<CoreSnapshot.GroupState> gs, List<CoreSnapshot.DeviceState> ds,
                                        List<CoreSnapshot.DomainState> doms, Map<Integer, List<Integer>> reserved) {
        Map<MmStruct, CoreSnapshot.MmState> mms = new LinkedHashMap<>();
        sva.mms.forEach((mm, im) -> mms.put(mm, new CoreSnapshot.MmState(im.pasid, List.copyOf(im.svaDomains))));
        Map<IommuDomain, CoreSnapshot.SvaDomainState> svaDoms = new LinkedHashMap<>();
        sva.domains.forEach((d, sd) -> svaDoms.put(d, new CoreSnapshot.SvaDomainState(sd.mm, sd.users)));
        Map<IommuDomain, CoreSnapshot.AuxDomainState> auxDoms = new LinkedHashMap<>();
        aux.domains.forEach((d, a) -> auxDoms.put(d, new CoreSnapshot.AuxDomainState(a.pasid,
                List.copyOf(a.devices.keySet()))));
        return new CoreSnapshot(defaults.defDomainType(), defaults.dmaStrict(), registry.iommus(), gs, ds, doms,
                globalPasids.allocated(), Collections.unmodifiableMap(mms), Collections.unmodifiableMap(svaDoms),
                Collections.unmodifiableMap(auxDoms), iopf.snapshot(), reserved);
    }


}
