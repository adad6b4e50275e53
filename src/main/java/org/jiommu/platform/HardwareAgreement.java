package org.jiommu.platform;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.jiommu.core.CoreSnapshot;
import org.jiommu.core.PasidEntry;
import org.jiommu.core.spi.DomainType;
import org.jiommu.core.spi.IommuDomain;

/**
 * Invariant I7, the same for every kind: what the hardware would walk agrees with the core's
 * state. Each kind's {@link EntryView} decodes from memory, with its hardware decoders, the entry
 * every requester id of every device behind its units walks (and the device's PASID entries);
 * this check decides what each entry must be:
 * <ul>
 * <li>group on a paging domain: a paging entry on the domain's table, with the kind's fields
 *     ({@link EntryView#paging});</li>
 * <li>identity: pass-through ({@link EntryView#identityAgrees});</li>
 * <li>blocked (or no domain yet): no translation;</li>
 * <li>a device its driver left blocked after a failed attach while the group stays on its old
 *     domain: reported with {@link #LEFT_BLOCKED}, a finding about the kernel;</li>
 * <li>a device not probed (never, or released): never a paging entry (I5), only not-present or
 *     pass-through (its release state, I9), unless a probed device shares the requester id;</li>
 * <li>every core PASID slot other than 0 has its entry (an SVA domain: first level,
 *     {@link EntryView#firstLevel}), and every present PASID entry is one the core knows.</li>
 * </ul>
 *
 * <p>It takes a core snapshot, so the state it compares with is never half-done, then reads
 * memory after the snapshot's locks are released: run it at a quiescent point. It moves no
 * hardware counter or cache.
 */
public final class HardwareAgreement {
    /**
     * The finding for a device a failed attach left blocked under the group's old domain: the
     * kernel's own behaviour (the VT-d driver blocks translation before it can fail, and since
     * v6.19 the core's revert skips the failing device), reported, not hidden.
     */
    public static final String LEFT_BLOCKED = "DMA blocked by a failed attach_dev that the core did not revert"
            + " (finding about the kernel: device_block_translation first, the revert skips the failing device)";

    private HardwareAgreement() {
    }

    /** Every disagreement on {@code p}, one message each; empty when hardware and core agree. */
    public static List<String> check(Platform p) {
        List<EntryView> views = new ArrayList<>();
        for (IommuUnits u : p.units()) {
            EntryView v = u.entries();
            if (v != null) {
                views.add(v);
            }
        }
        return check(p.core().snapshot(), views);
    }

    /** The check over {@code views} against {@code snap}. */
    public static List<String> check(CoreSnapshot snap, List<EntryView> views) {
        List<String> out = new ArrayList<>();
        for (EntryView v : views) {
            v.start(out);
        }
        Map<CoreSnapshot.DeviceState, EntryView> viewOf = new LinkedHashMap<>();
        Map<CoreSnapshot.DeviceState, EntryView.Decoded> decoded = new HashMap<>();
        // requester ids some probed device uses: a released device sharing one (a bridge alias) is not judged on it
        Map<String, Set<Integer>> liveIds = new HashMap<>();
        for (CoreSnapshot.DeviceState ds : snap.devices()) {
            for (EntryView v : views) {
                EntryView.Decoded dd = v.decode(ds);
                if (dd == null) {
                    continue;
                }
                viewOf.put(ds, v);
                decoded.put(ds, dd);
                if (ds.iommu() != null) {
                    Set<Integer> ids = liveIds.computeIfAbsent(dd.unit(), k -> new HashSet<>());
                    dd.requesters().forEach(q -> ids.add(q.id()));
                }
                break;
            }
        }
        viewOf.forEach((ds, v) -> device(out, snap, ds, v, decoded.get(ds), liveIds));
        for (EntryView v : views) {
            v.finish(out);
        }
        return out;
    }

    private static void device(List<String> out, CoreSnapshot snap, CoreSnapshot.DeviceState ds, EntryView v,
                               EntryView.Decoded dd, Map<String, Set<Integer>> liveIds) {
        boolean probed = ds.iommu() != null;
        CoreSnapshot.GroupState g = ds.groupId() == null ? null : snap.group(ds.groupId());
        for (EntryView.Requester q : dd.requesters()) {
            String where = dd.unit() + ": " + ds.dev() + " " + q.label();
            HwEntry e = q.entry();
            if (!probed || g == null) {
                if (liveIds.getOrDefault(dd.unit(), Set.of()).contains(q.id())) {
                    continue;
                }
                if (e.kind() == HwEntry.Kind.PAGING) {
                    out.add(where + ": not probed but its entry translates through table "
                            + Long.toHexString(e.table()) + " (" + e + ")");
                } else if (e.kind() == HwEntry.Kind.INVALID) {
                    out.add(where + ": " + e);
                }
                continue;
            }
            IommuDomain d = g.domain();
            boolean blocked = d == null || d.type() == DomainType.BLOCKED || d == g.blockingDomain();
            if (!blocked && e.kind() == HwEntry.Kind.NONE && v.leftBlocked(ds)) {
                out.add(where + ": " + LEFT_BLOCKED + " (group is on " + d + ")");
            } else if (blocked) {
                if (e.kind() != HwEntry.Kind.NONE) {
                    out.add(where + ": group is on " + d + " (blocked) but the entry is " + e);
                }
            } else if (d.type() == DomainType.IDENTITY) {
                if (e.kind() != HwEntry.Kind.PASS_THROUGH || !v.identityAgrees(e)) {
                    out.add(where + ": group is on identity " + d + " but the entry is " + e);
                }
            } else if (v.owns(d)) {
                paging(out, where, v, dd, d, e);
                if (e.kind() == HwEntry.Kind.PAGING) {
                    v.requester(where, ds, q, out);
                }
            } else {
                out.add(where + ": group domain " + d + " is not " + v.kindName() + " domain");
            }
        }
        if (probed && g != null && dd.pasidEntries() != null) {
            pasids(out, v, dd, ds, g);
        }
    }

    private static void paging(List<String> out, String where, EntryView v, EntryView.Decoded dd, IommuDomain d,
                               HwEntry e) {
        if (e.kind() != HwEntry.Kind.PAGING) {
            out.add(where + ": group is on " + d + " but the entry is " + e);
            return;
        }
        long root = v.tableOf(d);
        if (e.table() != root) {
            out.add(where + ": table " + Long.toHexString(e.table()) + " is not " + d + "'s root "
                    + Long.toHexString(root));
        }
        v.paging(where, dd, d, e, out);
    }

    /** Core PASID slots (other than 0) against the device's PASID entries, both ways. */
    private static void pasids(List<String> out, EntryView v, EntryView.Decoded dd, CoreSnapshot.DeviceState ds,
                               CoreSnapshot.GroupState g) {
        Map<Integer, IommuDomain> want = new HashMap<>();
        for (Map.Entry<Integer, PasidEntry> s : g.pasids().entrySet()) {
            if (s.getKey() != 0 && s.getValue().domain() != null && ds.dev().maxPasids() > 0) {
                want.put(s.getKey(), s.getValue().domain());
            }
        }
        Map<Integer, HwEntry> have = dd.pasidEntries();
        String where = dd.unit() + ": " + ds.dev();
        for (Map.Entry<Integer, IommuDomain> s : want.entrySet()) {
            HwEntry e = have.getOrDefault(s.getKey(), HwEntry.NONE);
            String at = where + " PASID " + s.getKey();
            IommuDomain d = s.getValue();
            if (d.type() == DomainType.IDENTITY) {
                if (e.kind() != HwEntry.Kind.PASS_THROUGH) {
                    out.add(at + ": core has identity but the entry is " + e);
                }
            } else if (v.owns(d) && v.isSva(d)) {
                if (e.kind() != HwEntry.Kind.FIRST_LEVEL) {
                    out.add(at + ": core has SVA domain " + d + " but the entry is " + e);
                } else {
                    v.firstLevel(at, dd, d, e, out);
                }
            } else if (v.owns(d)) {
                paging(out, at, v, dd, d, e);
            } else if (e.kind() != HwEntry.Kind.NONE) {
                out.add(at + ": core has " + d + " but the entry is " + e);
            }
        }
        for (Map.Entry<Integer, HwEntry> e : have.entrySet()) {
            if (!want.containsKey(e.getKey())) {
                out.add(where + " PASID " + e.getKey() + ": entry " + e.getValue() + " that the core does not know");
            }
        }
    }
}
