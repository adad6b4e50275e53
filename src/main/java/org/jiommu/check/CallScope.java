package org.jiommu.check;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.jiommu.bus.Device;
import org.jiommu.core.CoreSnapshot;
import org.jiommu.core.IommuCore;
import org.jiommu.core.IommuGroup;
import org.jiommu.core.spi.IommuDomain;

/**
 * What one call of the incremental watch ({@link CoreWatch#checkIncrementally}) can have changed:
 * the groups and devices it names, directly or through a domain, and the devices its driver
 * callbacks name. Only {@link #LOCAL} calls and the {@link #GLOBAL} ones (whose scope adds the
 * global half) have a scope; every other call changes state that is not any one group's
 * (allocated domains, probed devices) and is checked against the whole platform.
 *
 * <p>Why a local call cannot change anything outside its scope: each of these kernel functions
 * takes only the mutex of the group it names or of its device's group
 * ({@code iommu_attach_device}, {@code __iommu_attach_group}, {@code iommu_group_replace_domain},
 * the ownership calls, {@code iommu_attach_device_pasid} ...) or none at all ({@code iommu_map},
 * {@code iommu_unmap}: a domain's page table, read by a state invariant only where it is a
 * group's default domain, I8), and its driver callbacks ({@code attach_dev},
 * {@code set_dev_pasid}, {@code remove_dev_pasid}) name the devices they program, which the
 * watch adds to the scope after the call. A call whose callbacks name a device outside the scope
 * computed from its arguments is checked in full.
 */
final class CallScope {
    /**
     * Calls whose effect is confined to the groups they name: set-domain and ownership calls,
     * map/unmap and their syncs, per-device PASID attachments (their IOPF side is checked at the
     * full checks), and queries.
     */
    static final Set<String> LOCAL = Set.of(
            "iommu_attach_device", "iommu_detach_device", "iommu_attach_group", "iommu_detach_group",
            "iommu_group_replace_domain", "iommu_attach_group_handle", "iommu_detach_group_handle",
            "iommu_replace_group_handle", "iommu_group_claim_dma_owner", "iommu_group_release_dma_owner",
            "iommu_device_claim_dma_owner", "iommu_device_release_dma_owner", "iommu_device_use_default_domain",
            "iommu_device_unuse_default_domain", "iommu_map", "iommu_map_nosync", "iommu_map_sg", "iommu_unmap",
            "iommu_unmap_fast", "iommu_iotlb_sync", "iommu_sync_map", "iommu_flush_iotlb_all",
            "iommu_attach_device_pasid", "iommu_replace_device_pasid", "iommu_detach_device_pasid",
            "iommu_group_dma_owner_claimed", "iommu_get_group_resv_regions", "iommu_domain_get_attr",
            "iommu_attach_handle_get", "iommu_aux_get_pasid");

    /**
     * Calls whose effect is confined to the groups they name plus the core's global half (the
     * global PASID allocator, mms, SVA and aux domains, page request groups): checked in scope
     * like the {@link #LOCAL} ones, with the global half read anew in both captures
     * ({@link PlatformState#scoped}), so the PASID invariants on global state (I-NO-PASID-0,
     * I-PASID-RANGE, I-MM-PASID, I-IOPF-ONCE, and the I-MM-PASID and I-IOPF-ONCE transition
     * rules) judge the call itself. I-SVA-REF, which counts an SVA domain's bonds over every
     * group, and the placeholders of I-PASID-SLOT wait for the whole checks. Why each stays in
     * scope: the PASID allocator calls ({@code iommu_alloc_global_pasid},
     * {@code iommu_free_global_pasid}) and {@code mm_pasid_drop} touch no group;
     * {@code iommu_dev_enable/disable_feature}, {@code iommu_report_device_fault} and
     * {@code iopf_group_response} change a device's IOPF parameter and what its driver is told
     * (their callbacks name the device); the aux calls and {@code iommu_sva_bind_device} /
     * {@code iommu_sva_unbind_device} program PASIDs of the devices they name or their
     * callbacks name (a callback outside the scope taken at the call makes it a whole check, as
     * for the local calls); {@code iommu_domain_set_iopf_handler} sets a domain's field.
     */
    static final Set<String> GLOBAL = Set.of(
            "iommu_alloc_global_pasid", "iommu_free_global_pasid", "mm_pasid_drop", "iommu_dev_enable_feature",
            "iommu_dev_disable_feature", "iommu_report_device_fault", "iopf_group_response", "iommu_aux_attach_device",
            "iommu_aux_detach_device", "iommu_sva_bind_device", "iommu_sva_unbind_device",
            "iommu_domain_set_iopf_handler");

    private final Set<IommuGroup> groups = Collections.newSetFromMap(new IdentityHashMap<>());
    private final Set<Device> devices = Collections.newSetFromMap(new IdentityHashMap<>());

    private CallScope() {
    }

    /** The groups in scope (live at the time the scope was taken). */
    Set<IommuGroup> groups() {
        return groups;
    }

    /** The devices in scope: every member of a group in scope and every device named. */
    Set<Device> devices() {
        return devices;
    }

    /** True if everything in {@code o} is in this scope too. */
    boolean covers(CallScope o) {
        return groups.containsAll(o.groups) && devices.containsAll(o.devices);
    }

    /** True if every name in {@code eventArgs} that names a device names one already in this scope. */
    boolean namesAll(Map<String, Device> names, Collection<String> eventArgs) {
        for (String a : eventArgs) {
            if (names.containsKey(a)) {
                Device d = names.get(a);
                if (d == null || !devices.contains(d)) {
                    return false;
                }
            }
        }
        return true;
    }

    /** Device names of a full snapshot; a name two devices share maps to null (no scope can use it). */
    static Map<String, Device> names(CoreSnapshot s) {
        Map<String, Device> out = new HashMap<>();
        for (CoreSnapshot.DeviceState d : s.devices()) {
            String n = d.dev().name();
            out.put(n, out.containsKey(n) ? null : d.dev());
        }
        return out;
    }

    /**
     * The scope of a call with arguments {@code args} whose driver callbacks named
     * {@code eventArgs}: a group named ({@code group3}), a device named and its group, the groups
     * whose default domain is a domain named. Null when a name is ambiguous (the call is then
     * checked in full).
     *
     * @param names device names ({@link #names}) of the last full snapshot
     */
    static CallScope of(IommuCore core, Map<String, Device> names, List<String> args, Collection<String> eventArgs) {
        CallScope s = new CallScope();
        List<String> rest = new ArrayList<>();
        for (String a : args) {
            if (!s.addDevice(core, names, a) && !s.addDevice(core, names, handleDevice(a))) {
                rest.add(a);
            }
        }
        for (String a : eventArgs) {
            s.addDevice(core, names, a);
        }
        if (s.ambiguous) {
            return null;
        }
        if (!rest.isEmpty()) {
            for (IommuGroup g : core.groups()) {
                if (g.isReleased() || s.groups.contains(g)) {
                    continue;
                }
                IommuDomain def = g.defaultDomain();
                String gn = g.toString();
                String dn = def == null ? null : def.toString();
                for (String a : rest) {
                    if (a.equals(gn) || a.equals(dn)) {
                        s.groups.add(g);
                        break;
                    }
                }
            }
        }
        for (IommuGroup g : s.groups) {
            s.devices.addAll(g.devices());
        }
        return s;
    }

    /**
     * The device an SVA handle ({@code sva(dev, domain)}) or a page request group
     * ({@code iopf_group#7(dev, 2 faults, grp 3)}) argument names, as {@code SvaHandle} and
     * {@code IopfGroup} print themselves; null for any other argument. {@code iommu_sva_unbind_device}
     * and {@code iopf_group_response} take only the handle or the group, whose device is then in
     * the scope from the call on, not only once its callbacks name it.
     */
    static String handleDevice(String arg) {
        int open = arg.indexOf('(');
        if (open < 0 || !arg.endsWith(")") || !(arg.startsWith("sva(") || arg.startsWith("iopf_group#"))) {
            return null;
        }
        int comma = arg.indexOf(", ", open);
        return comma < 0 ? null : arg.substring(open + 1, comma);
    }

    private boolean ambiguous;

    /** Adds the device named {@code a} and its group; false if {@code a} names no device. */
    private boolean addDevice(IommuCore core, Map<String, Device> names, String a) {
        if (a == null || !names.containsKey(a)) {
            return false;
        }
        Device d = names.get(a);
        if (d == null) {
            ambiguous = true;
            return true;
        }
        devices.add(d);
        IommuGroup g = core.groupGet(d);
        if (g != null && !g.isReleased()) {
            groups.add(g);
        }
        return true;
    }
}
