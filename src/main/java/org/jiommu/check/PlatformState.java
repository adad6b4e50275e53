package org.jiommu.check;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import org.jiommu.bus.Device;
import org.jiommu.core.CoreSnapshot;
import org.jiommu.core.DevIommu;
import org.jiommu.core.IommuCore;
import org.jiommu.core.IommuGroup;
import org.jiommu.core.KernelVersion;
import org.jiommu.core.spi.IommuDevice;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.core.spi.IommuOps;
import org.jiommu.core.spi.ResvRegion;
import org.jiommu.core.spi.ResvType;
import org.jiommu.mem.FrameAllocator;
import org.jiommu.platform.HardwareView;
import org.jiommu.platform.Platform;

/**
 * One platform at one instant, built only from the core's public queries
 * ({@link IommuCore#snapshot()}, {@link IommuCore#groups()}, {@link IommuCore#devIommu},
 * {@link IommuCore#getResvRegions}) plus a {@link HardwareView} and, when known, the frame
 * allocator's statistics. The checker reads nothing else, except page tables through
 * {@link #iovaToPhys} (I8 and I-MAP samples).
 *
 * <p>Capture it when no call is half done: on a single thread between calls, or under the
 * {@link CoreWatch} gate.
 */
public final class PlatformState {
    private final IommuCore coreRef;
    private final CoreSnapshot core;
    private final Map<Integer, IommuGroup> groupObjects;
    private final Map<Device, DevIommu> devIommus;
    private final HardwareView hw;
    private final Set<IommuDomain> staticDomains;
    private final Map<Device, List<ResvRegion>> directRegions;
    private final FrameAllocator.Stats frames;
    private final FrameAllocator.Stats framesBaseline;
    /** Null for a whole platform; for a scoped state ({@link #scoped}), every live group of the core. */
    private final List<IommuGroup> allGroups;

    private PlatformState(IommuCore coreRef, CoreSnapshot core, Map<Integer, IommuGroup> groupObjects,
                          Map<Device, DevIommu> devIommus, HardwareView hw, Set<IommuDomain> staticDomains,
                          Map<Device, List<ResvRegion>> directRegions, FrameAllocator.Stats frames,
                          FrameAllocator.Stats framesBaseline, List<IommuGroup> allGroups) {
        this.allGroups = allGroups;
        this.coreRef = coreRef;
        this.core = core;
        this.groupObjects = groupObjects;
        this.devIommus = devIommus;
        this.hw = hw;
        this.staticDomains = staticDomains;
        this.directRegions = directRegions;
        this.frames = frames;
        this.framesBaseline = framesBaseline;
    }

    /**
     * Captures the platform.
     *
     * @param core the core
     * @param hw builds the hardware view once the core snapshot is taken (it may need the
     *     device-to-instance map); null for none
     * @param frames the page-table frame allocator, or null if unknown
     * @param framesBaseline its statistics before any domain existed, or null
     */
    public static PlatformState capture(IommuCore core, Function<CoreSnapshot, HardwareView> hw,
                                        FrameAllocator frames, FrameAllocator.Stats framesBaseline) {
        CoreSnapshot s = core.snapshot();
        Map<Integer, IommuGroup> groups = new HashMap<>();
        for (IommuGroup g : core.groups()) {
            groups.put(g.id(), g);
        }
        Map<Device, DevIommu> dis = new IdentityHashMap<>();
        Map<Device, List<ResvRegion>> direct = new IdentityHashMap<>();
        for (CoreSnapshot.DeviceState d : s.devices()) {
            DevIommu di = core.devIommu(d.dev());
            if (di != null) {
                dis.put(d.dev(), di);
            }
            if (d.requireDirect() && d.iommu() != null) {
                List<ResvRegion> rs = new ArrayList<>();
                for (ResvRegion r : core.getResvRegions(d.dev())) {
                    if (r.type() == ResvType.DIRECT) {
                        rs.add(r);
                    }
                }
                direct.put(d.dev(), List.copyOf(rs));
            }
        }
        Set<IommuDomain> statics = computeStaticDomains(s);
        staticCache = new Object[] {s.iommus(), statics}; // for the scoped states taken from this snapshot
        HardwareView view = hw == null ? HardwareView.NONE : hw.apply(s);
        return new PlatformState(core, s, Collections.unmodifiableMap(groups), Collections.unmodifiableMap(dis), view,
                Collections.unmodifiableSet(statics), Collections.unmodifiableMap(direct),
                frames == null ? null : frames.stats(), framesBaseline, null);
    }

    /**
     * Part of the platform: only the groups {@code groups} and the devices {@code devices} (each
     * device's group must be among {@code groups}), read from the core's public queries, with
     * the live domains read now, the instances and defaults taken from {@code last} (a whole
     * snapshot taken since the last call that could change those) and an empty global half (no
     * global PASIDs, mms, SVA or aux domains, page request groups or placeholders: the calls
     * checked in scope do not change them, the whole checks do). For the incremental watch
     * ({@link CallScope}): capture it with no call in flight.
     *
     * @param last the last whole snapshot
     * @param hw builds the hardware view for the partial snapshot (it knows only its devices)
     */
    public static PlatformState scoped(IommuCore core, CoreSnapshot last, Collection<IommuGroup> groups,
                                       Collection<Device> devices, Function<CoreSnapshot, HardwareView> hw,
                                       FrameAllocator frames, FrameAllocator.Stats framesBaseline) {
        return scoped(core, last, groups, devices, hw, frames, framesBaseline, false);
    }

    /**
     * {@link #scoped} with, if {@code global}, the global half read now
     * ({@link IommuCore#snapshotGlobal()}: global PASIDs, mms, SVA and aux domains, page request
     * groups) instead of an empty one: for the calls of {@link CallScope#GLOBAL}. Placeholders
     * stay for the whole checks.
     */
    public static PlatformState scoped(IommuCore core, CoreSnapshot last, Collection<IommuGroup> groups,
                                       Collection<Device> devices, Function<CoreSnapshot, HardwareView> hw,
                                       FrameAllocator frames, FrameAllocator.Stats framesBaseline, boolean global) {
        List<CoreSnapshot.GroupState> gs = new ArrayList<>();
        Map<Integer, IommuGroup> objects = new HashMap<>();
        List<IommuGroup> sorted = new ArrayList<>(groups);
        sorted.sort(java.util.Comparator.comparingInt(IommuGroup::id));
        for (IommuGroup g : sorted) {
            if (g.isReleased()) {
                continue;
            }
            gs.add(new CoreSnapshot.GroupState(g.id(), g.devices(), g.domain(), g.defaultDomain(), g.blockingDomain(),
                    g.resettingDomain(), g.owner(), g.ownerCnt(), g.pasidEntries()));
            objects.put(g.id(), g);
        }
        List<CoreSnapshot.DeviceState> ds = new ArrayList<>();
        Map<Device, DevIommu> dis = new IdentityHashMap<>();
        Map<Device, List<ResvRegion>> direct = new IdentityHashMap<>();
        for (Device dev : devices) {
            CoreSnapshot.DeviceState was = last.device(dev);
            DevIommu di = core.devIommu(dev);
            IommuGroup g = core.groupGet(dev);
            // bus presence and the firmware's instance change only in probe/add/remove calls (never local)
            CoreSnapshot.DeviceState d = new CoreSnapshot.DeviceState(dev, was == null || was.onBus(),
                    di != null ? di.fwspecIommu() : was == null ? null : was.fwspecIommu(),
                    di == null ? null : di.iommuDevice(), g == null || g.isReleased() ? null : g.id(),
                    di != null && di.attachDeferred(), di != null && di.requireDirect(), di == null ? 0 : di.maxPasids(),
                    core.deviceDmaIommu(dev));
            ds.add(d);
            if (di != null) {
                dis.put(dev, di);
            }
            if (d.requireDirect() && d.iommu() != null) {
                List<ResvRegion> rs = new ArrayList<>();
                for (ResvRegion r : core.getResvRegions(dev)) {
                    if (r.type() == ResvType.DIRECT) {
                        rs.add(r);
                    }
                }
                direct.put(dev, List.copyOf(rs));
            }
        }
        List<CoreSnapshot.DomainState> doms = new ArrayList<>();
        for (IommuDomain d : core.liveDomains()) {
            doms.add(new CoreSnapshot.DomainState(d, d.type(), d.owner(), d.cookieType(), d.pgsizeBitmap()));
        }
        // the global half (global PASIDs, mms, SVA and aux domains, page request groups, placeholders)
        // is left empty unless asked for: no other scoped call changes it, and the whole checks judge it
        CoreSnapshot s;
        if (global) {
            CoreSnapshot g = core.snapshotGlobal();
            s = new CoreSnapshot(last.defDomainType(), last.dmaStrict(), last.iommus(), gs, ds, doms, g.globalPasids(),
                    g.mms(), g.svaDomains(), g.auxDomains(), g.iopf(), Map.of());
        } else {
            s = new CoreSnapshot(last.defDomainType(), last.dmaStrict(), last.iommus(), gs, ds, doms);
        }
        Set<IommuDomain> statics = staticDomains(s);
        HardwareView view = hw == null ? HardwareView.NONE : hw.apply(s);
        return new PlatformState(core, s, Collections.unmodifiableMap(objects), Collections.unmodifiableMap(dis), view,
                Collections.unmodifiableSet(statics), Collections.unmodifiableMap(direct),
                frames == null ? null : frames.stats(), framesBaseline, core.groups());
    }

    /** {@code p}, only the groups and devices named ({@link #scoped}). */
    public static PlatformState scoped(Platform p, CoreSnapshot last, Collection<IommuGroup> groups,
                                       Collection<Device> devices) {
        return scoped(p, last, groups, devices, false);
    }

    /** {@code p}, only the groups and devices named, and the global half if {@code global} ({@link #scoped}). */
    public static PlatformState scoped(Platform p, CoreSnapshot last, Collection<IommuGroup> groups,
                                       Collection<Device> devices, boolean global) {
        return scoped(p.core(), last, groups, devices, p::view, p.frames(), p.baseline(), global);
    }

    /**
     * True if this is part of the platform ({@link #scoped}): some groups and devices, and a
     * global half that is empty unless it was captured with them.
     */
    public boolean isScoped() {
        return allGroups != null;
    }

    /** Every live group object of the core: the captured ones, or for a scoped state all of them. */
    public Collection<IommuGroup> liveGroupObjects() {
        return allGroups != null ? allGroups : groupObjects.values();
    }

    /** {@code p} now, with its kinds' hardware views and its frame baseline. */
    public static PlatformState of(Platform p) {
        return capture(p.core(), p::view, p.frames(), p.baseline());
    }

    /** For each device the core knows, the instance firmware names for it. */
    public static Map<Device, IommuDevice> fwspecMap(CoreSnapshot s) {
        return HardwareView.fwspecMap(s);
    }

    public CoreSnapshot core() {
        return core;
    }

    /** The group objects by id at capture time (same ids as {@link CoreSnapshot#groups()}). */
    public Map<Integer, IommuGroup> groupObjects() {
        return groupObjects;
    }

    /** {@code dev->iommu} of every device that has one, by device identity. */
    public Map<Device, DevIommu> devIommus() {
        return devIommus;
    }

    public HardwareView hw() {
        return hw;
    }

    /** Static domains of every registered instance's ops. */
    public Set<IommuDomain> staticDomains() {
        return staticDomains;
    }

    /** DIRECT reserved regions of every probed require_direct device. */
    public Map<Device, List<ResvRegion>> directRegions() {
        return directRegions;
    }

    /** Frame allocator statistics, or null if the allocator is not known. */
    public FrameAllocator.Stats frames() {
        return frames;
    }

    public FrameAllocator.Stats framesBaseline() {
        return framesBaseline;
    }

    public KernelVersion version() {
        return coreRef.version();
    }

    /** {@code iommu_iova_to_phys} on the live page table (not a copy). */
    public long iovaToPhys(IommuDomain d, long iova) {
        return coreRef.iovaToPhys(d, iova);
    }

    /** The group with this id, or null. */
    public CoreSnapshot.GroupState group(int id) {
        return core.group(id);
    }

    /** The state of this device, or null. */
    public CoreSnapshot.DeviceState device(Device dev) {
        return core.device(dev);
    }

    /** The device with this name, or null if none or several. */
    public Device deviceNamed(String name) {
        Device found = null;
        for (CoreSnapshot.DeviceState d : core.devices()) {
            if (d.dev().name().equals(name)) {
                if (found != null) {
                    return null;
                }
                found = d.dev();
            }
        }
        return found;
    }

    /** The group state whose members include {@code dev}, or null. */
    public CoreSnapshot.GroupState groupOf(Device dev) {
        for (CoreSnapshot.GroupState g : core.groups()) {
            for (Device d : g.devices()) {
                if (d == dev) {
                    return g;
                }
            }
        }
        return null;
    }

    /**
     * The instance list of the last whole capture (a fresh copy each time) and its static domains:
     * every scoped state of a watch takes its instances from that whole snapshot, the same list
     * object, and no scoped call registers an instance, so they are the same set.
     */
    private static volatile Object[] staticCache = {null, null};

    /** The drivers' static domains (identity, blocked, release, default of each IOMMU): never freed. */
    @SuppressWarnings("unchecked")
    private static Set<IommuDomain> staticDomains(CoreSnapshot s) {
        Object[] c = staticCache;
        if (c[0] == s.iommus()) {
            return (Set<IommuDomain>) c[1];
        }
        Set<IommuDomain> statics = computeStaticDomains(s);
        staticCache = new Object[] {s.iommus(), statics};
        return statics;
    }

    private static Set<IommuDomain> computeStaticDomains(CoreSnapshot s) {
        Set<IommuDomain> statics = Collections.newSetFromMap(new IdentityHashMap<>());
        for (IommuDevice i : s.iommus()) {
            IommuOps ops = i.ops();
            for (IommuDomain d : new IommuDomain[] {ops.identityDomain(), ops.blockedDomain(), ops.releaseDomain(),
                    ops.defaultDomain()}) {
                if (d != null) {
                    statics.add(d);
                }
            }
        }
        return statics;
    }
}
