package org.jiommu.core;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.jiommu.bus.Device;
import org.jiommu.core.spi.DomainType;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.mm.MmStruct;

/**
 * The PASID invariants of SEMANTICS.md 11 (10 I-PASID-SLOT, 12 I-NO-PASID-0, 13 I-PASID-RANGE,
 * 14 I-MM-PASID, 15 I-SVA-REF, 20 I-IOPF-ONCE), checked on {@link CoreSnapshot}s plus what the
 * hardware holds at each device's PASIDs. Pure functions of their arguments: the invariant checker
 * ({@code org.jiommu.check}) calls them after every core call; a violation is reported, never
 * thrown.
 */
public final class PasidInvariants {
    /** Which invariant a violation breaks. */
    public enum Invariant {
        /** 10: a slot exists iff every PASID-capable member has its domain installed; no reservation outside a call. */
        PASID_SLOT,
        /** 12: PASID 0 is never a PASID attachment nor a global / mm / aux PASID. */
        NO_PASID_0,
        /** 13: a global PASID is below the {@code max_pasids} it was allocated under, a slot below every member's. */
        PASID_RANGE,
        /** 14: an mm's PASID is allocated, unique, never changes, and goes only when the mm has exited. */
        MM_PASID,
        /** 15: an SVA domain's users = its bonds; it is on its mm's list iff it has users. */
        SVA_REF,
        /** 20: a page request group is answered at most once; a pending group has no answer yet. */
        IOPF_ONCE
    }

    /** One broken invariant, with a message naming the objects. */
    public record Violation(Invariant invariant, String message) {
        @Override
        public String toString() {
            return invariant + ": " + message;
        }
    }

    private PasidInvariants() {
    }

    /**
     * The single-state invariants.
     *
     * @param s the core's state
     * @param hardwarePasids what the hardware holds at each device's PASIDs (PASID → domain), e.g.
     *     {@code dev -> mockSnapshot.pasids().getOrDefault(dev, Map.of())}; null for a device whose
     *     entries are unknown (its hardware half is skipped)
     */
    public static List<Violation> check(CoreSnapshot s, Function<Device, Map<Integer, IommuDomain>> hardwarePasids) {
        List<Violation> out = new ArrayList<>();
        pasidSlots(s, hardwarePasids, out);
        out.addAll(checkCore(s));
        return out;
    }

    /**
     * The single-state invariants that need no hardware view: the placeholder half of
     * I-PASID-SLOT, and I-NO-PASID-0, I-PASID-RANGE, I-MM-PASID, I-SVA-REF, I-IOPF-ONCE on the
     * core's own bookkeeping (global allocator, slots, mms, SVA and aux domains, page requests).
     */
    public static List<Violation> checkCore(CoreSnapshot s) {
        List<Violation> out = new ArrayList<>();
        s.reservedPasidSlots().forEach((gid, slots) -> out.add(new Violation(Invariant.PASID_SLOT, "group" + gid
                + " has reservation placeholders at PASIDs " + slots + " outside any call")));
        for (CoreSnapshot.GroupState g : s.groups()) {
            g.pasids().forEach((p, e) -> {
                IommuDomain d = e.domain();
                if (p != IommuCore.IOMMU_NO_PASID && (d == null || d.isFreed())) {
                    out.add(new Violation(Invariant.PASID_SLOT, "group" + g.id() + " PASID slot " + p + " holds "
                            + (d == null ? "no domain" : "freed domain " + d)));
                }
            });
        }
        noPasid0(s, out);
        pasidRange(s, out);
        mmPasid(s, out);
        svaRef(s, out);
        iopfOnce(s, out);
        return out;
    }

    /** The single-state invariants of {@code after}, plus the transition rules from {@code before}. */
    public static List<Violation> check(CoreSnapshot before, CoreSnapshot after,
                                        Function<Device, Map<Integer, IommuDomain>> hardwarePasids) {
        List<Violation> out = check(after, hardwarePasids);
        out.addAll(checkTransition(before, after));
        return out;
    }

    /**
     * The transition rules from {@code before} to {@code after}: an mm keeps its PASID until the
     * process has exited (I-MM-PASID), and no page request group loses a response (I-IOPF-ONCE).
     */
    public static List<Violation> checkTransition(CoreSnapshot before, CoreSnapshot after) {
        List<Violation> out = new ArrayList<>();
        for (Map.Entry<MmStruct, CoreSnapshot.MmState> e : before.mms().entrySet()) {
            MmStruct mm = e.getKey();
            CoreSnapshot.MmState now = after.mms().get(mm);
            if (now == null) {
                if (!mm.exited()) {
                    out.add(new Violation(Invariant.MM_PASID, mm + " lost its PASID " + e.getValue().pasid()
                            + " while the process still runs"));
                }
            } else if (now.pasid() != e.getValue().pasid()) {
                out.add(new Violation(Invariant.MM_PASID, mm + " changed its PASID from " + e.getValue().pasid()
                        + " to " + now.pasid()));
            }
        }
        for (Map.Entry<Device, CoreSnapshot.IopfState> e : after.iopf().entrySet()) {
            CoreSnapshot.IopfState was = before.iopf().get(e.getKey());
            if (was == null) {
                continue;
            }
            for (Map.Entry<Long, Integer> r : e.getValue().responses().entrySet()) {
                Integer prev = was.responses().get(r.getKey());
                if (prev != null && r.getValue() < prev) {
                    out.add(new Violation(Invariant.IOPF_ONCE, "page request group " + r.getKey() + " of "
                            + e.getKey() + " lost a response (" + prev + " -> " + r.getValue() + ")"));
                }
            }
        }
        return out;
    }

    /**
     * I-PASID-SLOT both ways on each member's hardware, and the hardware halves of I-NO-PASID-0 and
     * I-PASID-RANGE (nothing installed at PASID 0 or at or beyond the device's {@code max_pasids}).
     */
    private static void pasidSlots(CoreSnapshot s, Function<Device, Map<Integer, IommuDomain>> hw,
                                   List<Violation> out) {
        for (CoreSnapshot.GroupState g : s.groups()) {
            boolean resetting = g.resettingDomain() != null;
            for (Device m : g.devices()) {
                Map<Integer, IommuDomain> installed = hw.apply(m);
                if (installed == null) {
                    continue; // the view cannot tell
                }
                CoreSnapshot.DeviceState ds = s.device(m);
                int max = ds == null ? 0 : ds.maxPasids();
                if (max <= 0) {
                    if (!installed.isEmpty()) {
                        out.add(new Violation(Invariant.PASID_SLOT, m + " has no PASID support but PASID entries "
                                + installed.keySet()));
                    }
                    continue;
                }
                for (Map.Entry<Integer, IommuDomain> e : installed.entrySet()) {
                    int p = e.getKey();
                    if (p == IommuCore.IOMMU_NO_PASID) {
                        out.add(new Violation(Invariant.NO_PASID_0, m + " has " + e.getValue()
                                + " installed at PASID 0"));
                    } else if (Integer.compareUnsigned(p, max) >= 0) {
                        out.add(new Violation(Invariant.PASID_RANGE, m + " has PASID " + p + " installed but supports "
                                + max));
                    }
                }
                if (resetting) {
                    continue; // Δ7.0: a device under PCI reset has its PASIDs off while the slots stay
                }
                for (Map.Entry<Integer, PasidEntry> e : g.pasids().entrySet()) {
                    int p = e.getKey();
                    IommuDomain want = e.getValue().domain();
                    // the blocked domain attached at a PASID (the core does not refuse it) installs nothing
                    boolean blockedNothing = want != null && want.type() == DomainType.BLOCKED && installed.get(p) == null;
                    if (p != IommuCore.IOMMU_NO_PASID && installed.get(p) != want && !blockedNothing) {
                        out.add(new Violation(Invariant.PASID_SLOT, "group" + g.id() + " records "
                                + e.getValue().domain() + " at PASID " + p + " but " + m + " has " + installed.get(p)
                                + " there"));
                    }
                }
                for (Map.Entry<Integer, IommuDomain> e : installed.entrySet()) {
                    if (e.getKey() != IommuCore.IOMMU_NO_PASID && !g.pasids().containsKey(e.getKey())) {
                        out.add(new Violation(Invariant.PASID_SLOT, m + " has " + e.getValue() + " at PASID "
                                + e.getKey() + " but group" + g.id() + " records nothing there"));
                    }
                }
            }
        }
    }

    private static void noPasid0(CoreSnapshot s, List<Violation> out) {
        if (s.globalPasids().containsKey(IommuCore.IOMMU_NO_PASID)) {
            out.add(new Violation(Invariant.NO_PASID_0, "the global allocator handed out PASID 0"));
        }
        s.mms().forEach((mm, st) -> {
            if (st.pasid() == IommuCore.IOMMU_NO_PASID) {
                out.add(new Violation(Invariant.NO_PASID_0, mm + " has PASID 0"));
            }
        });
        s.auxDomains().forEach((d, st) -> {
            if (st.pasid() == IommuCore.IOMMU_NO_PASID) {
                out.add(new Violation(Invariant.NO_PASID_0, "aux domain " + d + " has PASID 0"));
            }
        });
        for (CoreSnapshot.GroupState g : s.groups()) {
            PasidEntry e0 = g.pasids().get(IommuCore.IOMMU_NO_PASID);
            if (e0 != null && (!(e0 instanceof PasidEntry.HandleEntry)
                    || ((PasidEntry.HandleEntry) e0).handle() instanceof SvaHandle
                    || ((PasidEntry.HandleEntry) e0).handle() instanceof AuxEngine.AuxHandle)) {
                out.add(new Violation(Invariant.NO_PASID_0, "group" + g.id() + " slot 0 holds " + e0
                        + ", which only the group-handle API may store"));
            }
        }
    }

    private static void pasidRange(CoreSnapshot s, List<Violation> out) {
        s.globalPasids().forEach((p, max) -> {
            if (p < IommuCore.IOMMU_FIRST_GLOBAL_PASID || p >= max) {
                out.add(new Violation(Invariant.PASID_RANGE, "global PASID " + p + " is outside [1, " + (max - 1)
                        + "] of the device it was allocated for"));
            }
        });
        for (CoreSnapshot.GroupState g : s.groups()) {
            for (int p : g.pasids().keySet()) {
                for (Device m : g.devices()) {
                    CoreSnapshot.DeviceState ds = s.device(m);
                    if (p != IommuCore.IOMMU_NO_PASID && ds != null && ds.maxPasids() > 0
                            && Integer.compareUnsigned(p, ds.maxPasids()) >= 0) {
                        out.add(new Violation(Invariant.PASID_RANGE, "group" + g.id() + " PASID " + p
                                + " is beyond the " + ds.maxPasids() + " PASIDs of " + m));
                    }
                }
            }
        }
        // unique while allocated: no two owners (mms, aux domains) share one PASID
        Map<Integer, String> owners = new HashMap<>();
        s.mms().forEach((mm, st) -> claim(owners, st.pasid(), mm.toString(), out));
        s.auxDomains().forEach((d, st) -> {
            if (st.pasid() != IommuCore.IOMMU_PASID_INVALID) {
                claim(owners, st.pasid(), "aux domain " + d, out);
                if (!s.globalPasids().containsKey(st.pasid())) {
                    out.add(new Violation(Invariant.PASID_RANGE, "aux domain " + d + " uses PASID " + st.pasid()
                            + ", which is not allocated"));
                }
            }
        });
    }

    private static void claim(Map<Integer, String> owners, int pasid, String who, List<Violation> out) {
        String prev = owners.putIfAbsent(pasid, who);
        if (prev != null) {
            out.add(new Violation(Invariant.PASID_RANGE, "PASID " + pasid + " is owned by both " + prev + " and " + who));
        }
    }

    private static void mmPasid(CoreSnapshot s, List<Violation> out) {
        s.mms().forEach((mm, st) -> {
            if (!s.globalPasids().containsKey(st.pasid())) {
                out.add(new Violation(Invariant.MM_PASID, mm + " has PASID " + st.pasid() + ", which is not allocated"));
            }
        });
    }

    private static void svaRef(CoreSnapshot s, List<Violation> out) {
        Map<IommuDomain, Integer> bonds = new HashMap<>();
        for (CoreSnapshot.GroupState g : s.groups()) {
            for (PasidEntry e : g.pasids().values()) {
                if (e instanceof PasidEntry.HandleEntry && ((PasidEntry.HandleEntry) e).handle() instanceof SvaHandle) {
                    SvaHandle h = (SvaHandle) ((PasidEntry.HandleEntry) e).handle();
                    bonds.merge(h.domain(), 1, Integer::sum);
                    if (h.users() < 1) {
                        out.add(new Violation(Invariant.SVA_REF, h + " is stored in group" + g.id()
                                + " with no users"));
                    }
                }
            }
        }
        s.svaDomains().forEach((d, st) -> {
            int n = bonds.getOrDefault(d, 0);
            if (st.users() != n) {
                out.add(new Violation(Invariant.SVA_REF, "SVA domain " + d + " has users " + st.users() + " but "
                        + n + " bonds"));
            }
            CoreSnapshot.MmState mm = s.mms().get(st.mm());
            boolean listed = mm != null && mm.svaDomains().contains(d);
            if (listed != (st.users() > 0)) {
                out.add(new Violation(Invariant.SVA_REF, "SVA domain " + d + " with users " + st.users() + " is "
                        + (listed ? "" : "not ") + "on the list of " + st.mm()));
            }
        });
        s.mms().forEach((mm, st) -> {
            for (IommuDomain d : st.svaDomains()) {
                CoreSnapshot.SvaDomainState sd = s.svaDomains().get(d);
                if (sd == null || sd.mm() != mm) {
                    out.add(new Violation(Invariant.SVA_REF, mm + " lists " + d + ", which is not its live SVA domain"));
                }
            }
        });
        bonds.forEach((d, n) -> {
            if (!s.svaDomains().containsKey(d)) {
                out.add(new Violation(Invariant.SVA_REF, n + " bonds use " + d + ", which is not a live SVA domain"));
            }
        });
    }

    private static void iopfOnce(CoreSnapshot s, List<Violation> out) {
        s.iopf().forEach((dev, st) -> {
            st.responses().forEach((serial, n) -> {
                if (n > 1) {
                    out.add(new Violation(Invariant.IOPF_ONCE, "page request group " + serial + " of " + dev
                            + " was answered " + n + " times"));
                }
                boolean pending = st.pending().contains(serial);
                if (pending && n != 0 || !pending && n == 0) {
                    out.add(new Violation(Invariant.IOPF_ONCE, "page request group " + serial + " of " + dev
                            + " is " + (pending ? "pending" : "not pending") + " with " + n + " responses"));
                }
            });
            for (long serial : st.pending()) {
                if (!st.responses().containsKey(serial)) {
                    out.add(new Violation(Invariant.IOPF_ONCE, "pending page request group " + serial + " of " + dev
                            + " is not among its live groups"));
                }
            }
        });
    }
}
