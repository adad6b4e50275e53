package org.jiommu.core;

import java.util.ArrayList;
import java.util.List;
import org.jiommu.base.Errno;
import org.jiommu.bus.Device;
import org.jiommu.core.spi.ResvRegion;
import org.jiommu.core.spi.ResvType;

/**
 * Reserved regions (SEMANTICS.md 2.8): a device's list from its driver and a group's merged
 * list ({@code iommu_get_group_resv_regions}), which direct mappings and the sysfs
 * {@code reserved_regions} file are built from.
 */
final class ResvRegions {
    private final Tracer tracer;
    private final CoreRegistry registry;
    private final GroupLocks locks;

    ResvRegions(Tracer tracer, CoreRegistry registry, GroupLocks locks) {
        this.tracer = tracer;
        this.registry = registry;
        this.locks = locks;
    }


    /** {@code iommu_get_resv_regions}: the driver's list for the device (empty without the op or an IOMMU). */
    List<ResvRegion> ofDevice(Device dev) {
        DevIommu di = registry.devIommuOf(dev);
        if (di == null || di.iommuDev == null || di.ops().getResvRegions() == null) {
            return List.of();
        }
        List<ResvRegion> l = di.ops().getResvRegions().getResvRegions(dev);
        return l == null ? List.of() : List.copyOf(l);
    }

    /** {@code iommu_get_group_resv_regions}: the sorted union, same-type overlaps merged. */
    List<ResvRegion> ofGroup(IommuGroup group) {
        locks.lock(group);
        try {
            List<long[]> merged = new ArrayList<>(); // {start, length, prot, typeOrdinal}
            for (Device dev : group.devices) {
                if (!registry.devHasIommu(dev)) {
                    break;
                }
                for (ResvRegion r : ofDevice(dev)) {
                    if (tracer.shouldFailAlloc("iommu_alloc_resv_region")) {
                        throw Args.err(Errno.ENOMEM, "cannot copy reserved region of " + dev);
                    }
                    insertResvRegion(merged, r);
                }
            }
            List<ResvRegion> out = new ArrayList<>();
            for (long[] m : merged) {
                out.add(new ResvRegion(m[0], m[1], (int) m[2], ResvType.values()[(int) m[3]]));
            }
            return out;
        } finally {
            group.mutex.unlock();
        }
    }

    /**
     * {@code iommu_insert_resv_region}: insert sorted by (start, type), then merge regions of the
     * new region's type that overlap or touch; other types are never merged.
     */
    static void insertResvRegion(List<long[]> list, ResvRegion nr) {
        long[] n = {nr.start(), nr.length(), nr.prot(), nr.type().ordinal()};
        int at = 0;
        while (at < list.size()) {
            long[] it = list.get(at);
            if (Long.compareUnsigned(n[0], it[0]) < 0 || (n[0] == it[0] && n[3] <= it[3])) {
                break;
            }
            at++;
        }
        list.add(at, n);
        List<long[]> out = new ArrayList<>();
        for (long[] it : list) {
            if (it[3] != n[3]) {
                out.add(it);
                continue;
            }
            long[] top = null;
            for (int i = out.size() - 1; i >= 0; i--) {
                if (out.get(i)[3] == it[3]) {
                    top = out.get(i);
                    break;
                }
            }
            if (top == null) {
                out.add(it);
                continue;
            }
            long topEnd = top[0] + top[1] - 1;
            long itEnd = it[0] + it[1] - 1;
            if (Long.compareUnsigned(it[0], topEnd + 1) > 0) {
                out.add(it);
            } else {
                long end = Long.compareUnsigned(topEnd, itEnd) >= 0 ? topEnd : itEnd;
                top[1] = end - top[0] + 1;
            }
        }
        list.clear();
        list.addAll(out);
    }

    /** The sysfs {@code reserved_regions} file of a merged list. */
    static String sysfs(List<ResvRegion> regions) {
        StringBuilder sb = new StringBuilder();
        for (ResvRegion r : regions) {
            sb.append(r.sysfsLine()).append('\n');
        }
        return sb.toString();
    }
}
