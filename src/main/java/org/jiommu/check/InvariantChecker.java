package org.jiommu.check;

import org.jiommu.platform.HardwareView;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.jiommu.bus.Device;
import org.jiommu.core.CoreSnapshot.DeviceState;
import org.jiommu.core.CoreSnapshot.GroupState;
import org.jiommu.core.DevIommu;
import org.jiommu.core.IommuGroup;
import org.jiommu.core.KernelVersion;
import org.jiommu.core.PasidEntry;
import org.jiommu.core.PasidInvariants;
import org.jiommu.core.spi.DomainType;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.core.spi.IommuOps;
import org.jiommu.core.spi.ResvRegion;

/**
 * The core invariants of SEMANTICS.md section 11 and ARCHITECTURE.md I3, I4, I8, I9, I10, checked
 * on captured platform states. {@link #checkState} looks at one state; {@link #checkCall} at one
 * call (the states around it and what it did). Both return every violation found, each naming
 * its invariant and the objects involved; neither throws for a violation.
 *
 * <p>The six PASID invariants (I-PASID-SLOT, I-NO-PASID-0, I-PASID-RANGE, I-MM-PASID, I-SVA-REF,
 * I-IOPF-ONCE) are the core's {@link PasidInvariants}, run here on the captured snapshot with the
 * state's hardware view; docs/check.md says how each one is read.
 */
public final class InvariantChecker {
    /** At most this many addresses are sampled per range (I8, I-MAP); always the first and last page. */
    static final int MAX_SAMPLES = 64;

    private InvariantChecker() {
    }

    // ------------------------------------------------------------------------------------------
    // One state
    // ------------------------------------------------------------------------------------------

    /**
     * The state invariants of {@code s}.
     *
     * @param history what was seen before (null: the release-time half of I-RMR is skipped)
     */
    public static List<Violation> checkState(PlatformState s, History history) {
        List<Violation> out = new ArrayList<>();
        Set<IommuDomain> live = identitySet();
        for (var d : s.core().domains()) {
            live.add(d.domain());
        }
        Map<Device, GroupState> memberOf = new IdentityHashMap<>();
        for (GroupState g : s.core().groups()) {
            for (Device d : g.devices()) {
                GroupState prev = memberOf.put(d, g);
                if (prev != null) {
                    out.add(new Violation(Invariant.RELEASE, d + " is listed in both " + name(prev) + " and "
                            + name(g)));
                }
            }
            checkGroup(s, g, live, out);
        }
        for (DeviceState d : s.core().devices()) {
            checkDevice(s, d, memberOf.get(d.dev()), history, out);
        }
        for (IommuDomain d : s.staticDomains()) {
            if (d.isFreed()) {
                out.add(new Violation(Invariant.STATIC, "static domain " + d + " was freed"));
            }
            if (live.contains(d)) {
                out.add(new Violation(Invariant.STATIC, "static domain " + d + " is tracked as an allocated domain"));
            }
        }
        checkAccounting(s, out);
        // the six PASID invariants (SEMANTICS 11.10, 11.12-11.15, 11.20), hardware half on what the view knows
        HardwareView view = s.hw();
        List<PasidInvariants.Violation> pasid = new ArrayList<>(PasidInvariants.check(s.core(),
                d -> view.knows(d) ? view.pasids(d) : null));
        if (s.isScoped()) {
            // a scoped state has no global half: an SVA domain's users count the bonds of every
            // group, only a whole state can judge them
            pasid.removeIf(v -> v.invariant() == PasidInvariants.Invariant.SVA_REF);
        }
        translate(pasid, out);
        return out;
    }

    /** Core-side PASID violations under the checker's ids (the two enums share their constant names). */
    private static void translate(List<PasidInvariants.Violation> found, List<Violation> out) {
        for (PasidInvariants.Violation v : found) {
            out.add(new Violation(Invariant.valueOf(v.invariant().name()), v.message()));
        }
    }

    private static void checkGroup(PlatformState s, GroupState g, Set<IommuDomain> live, List<Violation> out) {
        String gn = name(g);
        IommuDomain dom = g.domain();
        IommuDomain def = g.defaultDomain();
        IommuDomain blk = g.blockingDomain();
        if (g.devices().isEmpty()) {
            // I-GROUP-DOMAIN (b): after the last device left, no domain of any kind
            if (dom != null || def != null || blk != null) {
                out.add(new Violation(Invariant.GROUP_DOMAIN, gn + " has no devices but still has domain " + dom
                        + ", default " + def + ", blocking " + blk));
            }
            if (g.ownerCnt() != 0 || g.owner() != null) {
                out.add(new Violation(Invariant.OWNER, gn + " has no devices but owner_cnt " + g.ownerCnt()
                        + " and owner " + g.owner()));
            }
            return;
        }

        // I-GROUP-DOMAIN
        if (dom == null) {
            // (a): before the first default-domain setup nothing is set yet
            if (def != null || blk != null) {
                out.add(new Violation(Invariant.GROUP_DOMAIN, gn + " has no domain but default " + def
                        + " and blocking " + blk));
            }
        } else if (dom.isFreed()) {
            out.add(new Violation(Invariant.GROUP_DOMAIN, gn + " is attached to freed domain " + dom));
        } else if (dom != def && dom != blk && !live.contains(dom) && !s.staticDomains().contains(dom)) {
            out.add(new Violation(Invariant.GROUP_DOMAIN, gn + " is attached to " + dom
                    + ", which is neither its default, its blocking, a live allocated nor a static domain"));
        }
        if (def != null && def.isFreed()) {
            out.add(new Violation(Invariant.GROUP_DOMAIN, "default domain " + def + " of " + gn + " was freed"));
        }
        if (g.resettingDomain() != null && g.resettingDomain() != blk) {
            out.add(new Violation(Invariant.GROUP_DOMAIN, gn + " is resetting on " + g.resettingDomain()
                    + ", not on its blocking domain " + blk));
        }
        if (dom != null) {
            for (Device d : g.devices()) {
                DeviceState ds = s.device(d);
                if (ds == null || ds.iommu() == null) {
                    continue; // I9 reports it
                }
                IommuOps ops = ds.iommu().ops();
                if (!compatible(ops, dom)) {
                    out.add(new Violation(Invariant.GROUP_DOMAIN, gn + " is on " + dom + " of "
                            + (dom.owner() == null ? "no driver" : "driver " + dom.owner()) + ", which " + d
                            + "'s driver " + ops + " cannot use"));
                }
            }
        }

        // I-BLOCKING-LIFE: freed only when the group empties
        if (blk != null && blk.isFreed()) {
            out.add(new Violation(Invariant.BLOCKING_LIFE, "blocking domain " + blk + " of " + gn
                    + " was freed while the group has devices"));
        }

        // I-OWNER
        if (g.ownerCnt() < 0) {
            out.add(new Violation(Invariant.OWNER, gn + " has negative owner_cnt " + g.ownerCnt()));
        }
        if (g.owner() != null && g.ownerCnt() < 1) {
            out.add(new Violation(Invariant.OWNER, gn + " has owner " + g.owner() + " but owner_cnt "
                    + g.ownerCnt()));
        }
        // I-OWNED-DOMAIN: a claim made the blocking domain; it cannot be gone while owned
        if (g.owner() != null && blk == null) {
            out.add(new Violation(Invariant.OWNED_DOMAIN, gn + " is owned by " + g.owner()
                    + " but has no blocking domain"));
        }

        // I-SLOT0
        PasidEntry slot0 = g.pasids().get(0);
        if (slot0 != null && slot0.domain() != dom) {
            out.add(new Violation(Invariant.SLOT0, gn + " holds " + slot0.domain() + " in PASID slot 0 but is on "
                    + dom));
        }
        boolean resetting = g.resettingDomain() != null;
        HardwareView hw = s.hw();
        Map<IommuDomain, List<Device>> onDomain = new LinkedHashMap<>();
        for (Device d : g.devices()) {
            DeviceState ds = s.device(d);
            if (ds == null) {
                continue;
            }
            // I-RMR, core side: the group's own domain
            if (ds.requireDirect() && dom != null && !resetting && (dom.type() == DomainType.BLOCKED || dom == blk)) {
                out.add(new Violation(Invariant.RMR, gn + " with require_direct device " + d + " is on blocking domain "
                        + dom));
            }
            if (!hw.knows(d)) {
                continue;
            }
            IommuDomain rid = hw.rid(d);
            boolean deferredOk = ds.attachDeferred() && dom == def;
            boolean resetOk = resetting && rid == blk;
            // I-UNIFORM
            if (dom != null && rid != dom && !deferredOk && !resetOk) {
                out.add(new Violation(Invariant.UNIFORM, d + " is programmed for " + rid + " but " + gn + " is on "
                        + dom));
            }
            if (!deferredOk && !resetOk) {
                onDomain.computeIfAbsent(rid, k -> new ArrayList<>()).add(d);
            }
            // I-RMR, hardware side
            if (ds.requireDirect() && rid != null && !resetting && (rid.type() == DomainType.BLOCKED || rid == blk)) {
                out.add(new Violation(Invariant.RMR, "require_direct device " + d + " is programmed for blocking domain "
                        + rid));
            }
        }
        // I3: one domain for the PASID-less DMA of all members
        if (onDomain.size() > 1) {
            StringBuilder sb = new StringBuilder("members of " + gn + " are on different domains:");
            onDomain.forEach((k, v) -> sb.append(' ').append(v).append(" on ").append(k).append(';'));
            out.add(new Violation(Invariant.GROUP_COHERENCE, sb.substring(0, sb.length() - 1)));
        }
        // I8: the default DMA domain maps every require_direct region 1:1
        if (def != null && !def.isFreed() && def.type().isDmaApi() && def.pgsizeBitmap() != 0) {
            long pg = Long.lowestOneBit(def.pgsizeBitmap());
            for (Device d : g.devices()) {
                for (ResvRegion r : s.directRegions().getOrDefault(d, List.of())) {
                    // iommu_create_device_direct_mappings rounds the start up: a partial first page is not mapped
                    long start = alignUp(r.start(), pg);
                    long end = alignUp(r.start() + r.length(), pg);
                    if (Long.compareUnsigned(end, start) <= 0) {
                        continue;
                    }
                    for (long off : sampleOffsets(end - start, pg)) {
                        long iova = start + off;
                        long pa = s.iovaToPhys(def, iova);
                        if (pa != iova) {
                            out.add(new Violation(Invariant.DIRECT_MAPPINGS, String.format("default domain %s of %s"
                                    + " maps %#x of %s's require_direct region [%#x, +%#x) to %#x, not 1:1", def, gn,
                                    iova, d, r.start(), r.length(), pa)));
                            break;
                        }
                    }
                }
            }
        }
    }

    private static void checkDevice(PlatformState s, DeviceState d, GroupState member, History history,
                                    List<Violation> out) {
        Device dev = d.dev();
        // I9, core side: group membership and dev->iommu agree
        if (d.groupId() != null) {
            GroupState g = s.group(d.groupId());
            if (g == null || member != g) {
                out.add(new Violation(Invariant.RELEASE, dev + " names group" + d.groupId() + ", which "
                        + (g == null ? "does not exist" : "does not list it")));
            }
        }
        if (d.iommu() != null) {
            if (member == null) {
                out.add(new Violation(Invariant.RELEASE, "probed " + dev + " is in no group"));
            }
            return;
        }
        if (member != null) {
            out.add(new Violation(Invariant.RELEASE, dev + " has no IOMMU but is still listed in " + name(member)));
        }
        HardwareView hw = s.hw();
        if (Boolean.TRUE.equals(hw.driverHolds(dev))) {
            out.add(new Violation(Invariant.RELEASE, "the driver still holds released " + dev));
        }
        if (!hw.knows(dev) || d.fwspecIommu() == null) {
            return;
        }
        // I9, hardware side: parked in a release state, not on a translating domain
        IommuOps ops = d.fwspecIommu().ops();
        IommuDomain rid = hw.rid(dev);
        if (rid != null && rid.type() != DomainType.BLOCKED && rid.type() != DomainType.IDENTITY
                && rid != ops.releaseDomain()) {
            out.add(new Violation(Invariant.RELEASE, "released " + dev + " still points at " + rid + " ("
                    + rid.type() + ")"));
        }
        if (!hw.pasids(dev).isEmpty()) {
            out.add(new Violation(Invariant.RELEASE, "released " + dev + " still has PASID entries "
                    + hw.pasids(dev).keySet()));
        }
        // I-RMR Δ6.19: a require_direct device is released onto IDENTITY rather than a BLOCKED release domain
        if (history != null && rid != null && history.wasRequireDirect(dev) && s.version().atLeast(KernelVersion.V6_19)
                && ops.identityDomain() != null && ops.releaseDomain() != null
                && ops.releaseDomain() == ops.blockedDomain() && rid == ops.blockedDomain()) {
            out.add(new Violation(Invariant.RMR, "released require_direct device " + dev + " is parked on " + rid
                    + " although " + ops + " has identity domain " + ops.identityDomain()));
        }
    }

    /** I10: with no domain left, no page-table page is left either. */
    private static void checkAccounting(PlatformState s, List<Violation> out) {
        if (s.frames() == null || s.framesBaseline() == null || !s.core().domains().isEmpty()) {
            return;
        }
        int driverLive = s.hw().liveDriverDomains();
        if (driverLive > 0) {
            out.add(new Violation(Invariant.ACCOUNTING, "the core freed every domain but the drivers still hold "
                    + driverLive));
            return;
        }
        if (s.frames().allocatedBytes() != s.framesBaseline().allocatedBytes()
                || s.frames().liveBlocks() != s.framesBaseline().liveBlocks()) {
            out.add(new Violation(Invariant.ACCOUNTING, String.format("every domain is freed but %d bytes in %d blocks"
                    + " are allocated (baseline %d bytes in %d blocks)", s.frames().allocatedBytes(),
                    s.frames().liveBlocks(), s.framesBaseline().allocatedBytes(), s.framesBaseline().liveBlocks())));
        }
    }

    // ------------------------------------------------------------------------------------------
    // One call
    // ------------------------------------------------------------------------------------------

    /**
     * The transition invariants of one call, and the I4 ledger (kept in {@code history}).
     *
     * @param before the state before the call (null: only I-MAP and I4 are checked)
     * @param after the state after it
     * @param history the ledger; null skips I4
     */
    public static List<Violation> checkCall(PlatformState before, PlatformState after, CallRecord call,
                                            History history) {
        List<Violation> out = new ArrayList<>();
        checkMap(call, out);
        if (before != null) {
            checkNoop(before, call, out);
            checkAtomic(before, after, call, out);
            checkOwnedDomain(before, after, call, out);
            checkBind(before, call, out);
            checkEmpty(before, after, call, out);
            checkDeferred(before, after, out);
            checkBlockingLife(before, after, call, out);
            checkIdempotentProbe(before, after, call, out);
            checkOrder(before, after, call, out);
            translate(PasidInvariants.checkTransition(before.core(), after.core()), out);
        }
        if (history != null) {
            history.lastCallUnbalanced = false;
            ledger(after, call, history, before == null, out);
        }
        return out;
    }

    private static void checkMap(CallRecord call, List<Violation> out) {
        CallRecord.MapProbe m = call.map();
        if (m == null) {
            return;
        }
        for (int i = 0; i < m.offsets().length; i++) {
            long k = m.offsets()[i];
            if (call.ok() && m.after()[i] != m.paddr() + k) {
                out.add(new Violation(Invariant.MAP, String.format("after %s %#x of %s translates to %#x, not %#x",
                        call.function(), m.iova() + k, m.domain(), m.after()[i], m.paddr() + k)));
                return;
            }
            if (!call.ok() && m.after()[i] != m.before()[i]) {
                out.add(new Violation(Invariant.MAP, String.format("failed %s changed %#x of %s from %#x to %#x",
                        call.function(), m.iova() + k, m.domain(), m.before()[i], m.after()[i])));
                return;
            }
        }
    }

    /** The group a call names by its group argument ({@code group3}) or device argument. */
    private static GroupState targetGroup(PlatformState s, String arg, boolean isGroup) {
        if (isGroup) {
            if (!arg.startsWith("group")) {
                return null;
            }
            try {
                return s.group(Integer.parseInt(arg.substring(5)));
            } catch (NumberFormatException e) {
                return null;
            }
        }
        Device d = s.deviceNamed(arg);
        return d == null ? null : s.groupOf(d);
    }

    /** The group and the domain a set-domain call asks for, or null if the call is not one. */
    private static Object[] setTarget(PlatformState before, CallRecord call) {
        List<String> a = call.args();
        GroupState g;
        IommuDomain target;
        switch (call.function()) {
            case "iommu_attach_device":
            case "iommu_attach_group":
            case "iommu_attach_group_handle":
                if (a.size() < 2) {
                    return null;
                }
                g = targetGroup(before, a.get(1), call.function().endsWith("group") || call.function().endsWith("handle"));
                target = domainNamed(before, a.get(0));
                break;
            case "iommu_group_replace_domain":
            case "iommu_replace_group_handle":
                if (a.size() < 2) {
                    return null;
                }
                g = targetGroup(before, a.get(0), true);
                target = domainNamed(before, a.get(1));
                break;
            case "iommu_detach_device":
            case "iommu_detach_group":
            case "iommu_detach_group_handle":
                if (a.size() < 2) {
                    return null;
                }
                g = targetGroup(before, a.get(1), !call.function().equals("iommu_detach_device"));
                // __iommu_group_set_core_domain: blocking when owned, else default
                target = g == null ? null : g.owner() != null ? g.blockingDomain() : g.defaultDomain();
                if (call.function().equals("iommu_detach_device") && g != null && domainNamed(before, a.get(0)) != g.domain()) {
                    return null; // WARN, no change: not a set
                }
                break;
            default:
                return null;
        }
        if (g == null || target == null) {
            return null;
        }
        return new Object[] {g, target};
    }

    private static void checkNoop(PlatformState before, CallRecord call, List<Violation> out) {
        Object[] t = setTarget(before, call);
        if (t == null) {
            return;
        }
        GroupState g = (GroupState) t[0];
        IommuDomain target = (IommuDomain) t[1];
        if (g.domain() != target) {
            return;
        }
        if (!call.attaches().isEmpty()) {
            out.add(new Violation(Invariant.NOOP, call.function() + " of " + name(g) + " to the domain it is on ("
                    + target + ") called attach_dev " + call.attaches().size() + " time(s)"));
        }
        // these only set the domain; setting the current one cannot fail (the handle APIs also allocate)
        boolean mustSucceed = call.function().equals("iommu_group_replace_domain")
                || call.function().startsWith("iommu_detach_");
        if (mustSucceed && !call.ok()) {
            out.add(new Violation(Invariant.NOOP, call.function() + " of " + name(g) + " to the domain it is on ("
                    + target + ") failed with " + call.error()));
        }
    }

    private static void checkAtomic(PlatformState before, PlatformState after, CallRecord call, List<Violation> out) {
        if (call.ok()) {
            return;
        }
        for (GroupState gb : before.core().groups()) {
            GroupState ga = sameGroup(before, after, gb);
            if (ga == null) {
                continue;
            }
            String gn = name(gb);
            if (ga.domain() != gb.domain()) {
                out.add(new Violation(Invariant.ATOMIC, "failed " + call.function() + " moved " + gn + " from "
                        + gb.domain() + " to " + ga.domain()));
            }
            if (!slotDomains(ga).equals(slotDomains(gb))) {
                out.add(new Violation(Invariant.ATOMIC, "failed " + call.function() + " changed the PASID slots of "
                        + gn + " from " + slotDomains(gb) + " to " + slotDomains(ga)));
            }
            for (Device d : gb.devices()) {
                if (!ga.devices().contains(d) || !before.hw().knows(d) || !after.hw().knows(d)) {
                    continue;
                }
                if (before.hw().rid(d) != after.hw().rid(d)) {
                    out.add(new Violation(Invariant.ATOMIC, "failed " + call.function() + " left " + d + " on "
                            + after.hw().rid(d) + " instead of " + before.hw().rid(d)));
                }
            }
        }
    }

    private static boolean isClaim(String fn) {
        return fn.equals("iommu_group_claim_dma_owner") || fn.equals("iommu_device_claim_dma_owner");
    }

    private static boolean isRelease(String fn) {
        return fn.equals("iommu_group_release_dma_owner") || fn.equals("iommu_device_release_dma_owner");
    }

    private static void checkOwnedDomain(PlatformState before, PlatformState after, CallRecord call,
                                         List<Violation> out) {
        String fn = call.function();
        if (!call.ok() || call.args().isEmpty() || (!isClaim(fn) && !isRelease(fn))) {
            return;
        }
        boolean byGroup = fn.startsWith("iommu_group");
        GroupState gb = targetGroup(before, call.args().get(0), byGroup);
        GroupState ga = gb == null ? null : sameGroup(before, after, gb);
        if (ga == null) {
            return;
        }
        if (isClaim(fn) && gb.ownerCnt() == 0 && (ga.blockingDomain() == null || ga.domain() != ga.blockingDomain())) {
            out.add(new Violation(Invariant.OWNED_DOMAIN, fn + " claimed " + name(ga) + " but left it on "
                    + ga.domain() + ", not its blocking domain " + ga.blockingDomain()));
        }
        if (isRelease(fn) && !call.warned() && ga.ownerCnt() == 0 && ga.domain() != ga.defaultDomain()) {
            out.add(new Violation(Invariant.OWNED_DOMAIN, fn + " released " + name(ga) + " but left it on "
                    + ga.domain() + ", not its default domain " + ga.defaultDomain()));
        }
    }

    private static void checkBind(PlatformState before, CallRecord call, List<Violation> out) {
        if (!call.function().equals("iommu_device_use_default_domain") || !call.ok() || call.args().isEmpty()) {
            return;
        }
        GroupState g = targetGroup(before, call.args().get(0), false);
        if (g == null) {
            return;
        }
        boolean allowed = g.ownerCnt() == 0
                || (g.owner() == null && g.domain() == g.defaultDomain() && g.pasids().isEmpty());
        if (!allowed) {
            out.add(new Violation(Invariant.BIND, "a DMA-API driver bound " + call.args().get(0) + " in " + name(g)
                    + " with owner_cnt " + g.ownerCnt() + ", owner " + g.owner() + ", domain " + g.domain()
                    + " and PASIDs " + g.pasids().keySet()));
        }
    }

    private static void checkEmpty(PlatformState before, PlatformState after, CallRecord call, List<Violation> out) {
        for (GroupState gb : before.core().groups()) {
            if (gb.devices().isEmpty()) {
                continue;
            }
            GroupState ga = sameGroup(before, after, gb);
            if (ga != null && !ga.devices().isEmpty()) {
                continue;
            }
            boolean clean = gb.ownerCnt() == 0 && gb.domain() == gb.defaultDomain();
            if (!clean && !call.warned()) {
                out.add(new Violation(Invariant.EMPTY, call.function() + " took the last device out of " + name(gb)
                        + " with owner_cnt " + gb.ownerCnt() + " on " + gb.domain() + " (default "
                        + gb.defaultDomain() + ") and no WARN"));
            }
        }
    }

    private static void checkDeferred(PlatformState before, PlatformState after, List<Violation> out) {
        for (DeviceState da : after.core().devices()) {
            DevIommu di = after.devIommus().get(da.dev());
            DeviceState db = before.device(da.dev());
            if (di == null || db == null || before.devIommus().get(da.dev()) != di) {
                continue; // a new dev->iommu starts afresh
            }
            if (!db.attachDeferred() && da.attachDeferred()) {
                out.add(new Violation(Invariant.DEFERRED, "attach_deferred of " + da.dev() + " was set again"));
            }
        }
    }

    private static void checkBlockingLife(PlatformState before, PlatformState after, CallRecord call,
                                          List<Violation> out) {
        for (GroupState gb : before.core().groups()) {
            GroupState ga = sameGroup(before, after, gb);
            if (ga == null || ga.devices().isEmpty()) {
                continue;
            }
            if (gb.blockingDomain() != null && ga.blockingDomain() != gb.blockingDomain()) {
                out.add(new Violation(Invariant.BLOCKING_LIFE, call.function() + " replaced blocking domain "
                        + gb.blockingDomain() + " of " + name(gb) + " by " + ga.blockingDomain()));
            }
            if (gb.blockingDomain() == null && ga.blockingDomain() != null && !isClaim(call.function())
                    && !call.function().equals("pci_dev_reset_iommu_prepare")) {
                out.add(new Violation(Invariant.BLOCKING_LIFE, call.function() + " created blocking domain "
                        + ga.blockingDomain() + " of " + name(gb) + " (only a claim or a reset may)"));
            }
        }
    }

    private static void checkIdempotentProbe(PlatformState before, PlatformState after, CallRecord call,
                                             List<Violation> out) {
        if (!call.function().equals("iommu_probe_device") || call.args().size() != 1) {
            return;
        }
        Device dev = before.deviceNamed(call.args().get(0));
        DeviceState d = dev == null ? null : before.device(dev);
        if (d == null || d.groupId() == null) {
            return;
        }
        if (!call.ok()) {
            out.add(new Violation(Invariant.IDEMPOTENT_PROBE, "probing grouped " + dev + " again failed with "
                    + call.error()));
        } else if (!before.core().equals(after.core()) || !call.attaches().isEmpty()) {
            out.add(new Violation(Invariant.IDEMPOTENT_PROBE, "probing grouped " + dev + " again changed the core"
                    + (call.attaches().isEmpty() ? "" : " and called attach_dev")));
        }
    }

    /**
     * I-ORDER: per group, the forward pass attaches members in list order; a failed, non
     * MUST_SUCCEED pass rolls back exactly the members before the failing one (Δ6.19; v6.18 also
     * the failing one).
     */
    private static void checkOrder(PlatformState before, PlatformState after, CallRecord call, List<Violation> out) {
        Map<GroupState, List<CallRecord.AttachCall>> perGroup = new LinkedHashMap<>();
        for (CallRecord.AttachCall a : call.attaches()) {
            Device d = before.deviceNamed(a.device());
            GroupState g = d == null ? null : before.groupOf(d);
            if (g == null) {
                return; // a device joining or unknown: not a group pass
            }
            perGroup.computeIfAbsent(g, k -> new ArrayList<>()).add(a);
        }
        for (Map.Entry<GroupState, List<CallRecord.AttachCall>> e : perGroup.entrySet()) {
            GroupState g = e.getKey();
            List<CallRecord.AttachCall> ev = e.getValue();
            String first = ev.get(0).domainName();
            int f = 0;
            while (f < ev.size() && ev.get(f).domainName().equals(first)) {
                f++;
            }
            List<String> order = names(g.devices());
            int last = -1;
            for (int i = 0; i < f; i++) {
                int idx = order.indexOf(ev.get(i).device());
                if (idx <= last) {
                    out.add(new Violation(Invariant.ORDER, "attaching " + first + " to " + name(g) + " went "
                            + devicesOf(ev.subList(0, f)) + ", not in list order " + order));
                    break;
                }
                last = idx;
            }
            int failAt = -1;
            for (int i = 0; i < f; i++) {
                if (!ev.get(i).ok()) {
                    failAt = i;
                    break;
                }
            }
            if (call.ok() || failAt != f - 1) {
                continue; // success, or MUST_SUCCEED (went on past the failure): no rollback to check
            }
            List<CallRecord.AttachCall> rest = ev.subList(f, ev.size());
            if (g.domain() == null) {
                continue; // first attach: nothing to roll back to
            }
            int end = before.version().atLeast(KernelVersion.V6_19) ? failAt : failAt + 1;
            List<String> expected = devicesOf(ev.subList(0, end));
            List<String> got = devicesOf(rest);
            if (!got.equals(expected)) {
                out.add(new Violation(Invariant.ORDER, "rollback of " + name(g) + " after " + ev.get(failAt).device()
                        + " failed touched " + got + ", expected " + expected));
            }
        }
    }

    /** I4: the ledger of users and claims, updated from this call, against the core's counters. */
    private static void ledger(PlatformState after, CallRecord call, History h, boolean unsure, List<Violation> out) {
        Set<IommuGroup> liveGroups = identitySet();
        liveGroups.addAll(after.liveGroupObjects());
        h.ledger.keySet().retainAll(liveGroups);
        h.ledgerUnsure.retainAll(liveGroups);
        for (DeviceState d : after.core().devices()) {
            if (d.requireDirect()) {
                h.requireDirectSeen.add(d.dev());
            }
        }
        if (unsure) {
            h.ledgerUnsure.addAll(liveGroups);
        } else {
            applyToLedger(after, call, h);
        }
        for (GroupState g : after.core().groups()) {
            IommuGroup obj = after.groupObjects().get(g.id());
            if (obj == null) {
                continue;
            }
            int[] l = h.ledger(obj);
            if (h.ledgerUnsure.remove(obj)) {
                // overlapping calls: start counting again from what the core says
                l[0] = g.owner() == null ? g.ownerCnt() : 0;
                l[1] = g.owner() == null ? 0 : g.ownerCnt();
                continue;
            }
            // the group's name is built only for a violation (this runs for every group after every call)
            if (l[0] + l[1] != g.ownerCnt()) {
                out.add(new Violation(Invariant.OWNERSHIP, name(g) + " has owner_cnt " + g.ownerCnt() + " but "
                        + l[0] + " DMA-API user(s) and " + l[1] + " owner claim(s) hold it"));
            }
            if (l[0] > 0 && g.owner() != null) {
                out.add(new Violation(Invariant.OWNERSHIP, name(g) + " has " + l[0] + " DMA-API user(s) and owner "
                        + g.owner()));
            }
            if (l[1] > 0 && g.owner() == null) {
                out.add(new Violation(Invariant.OWNERSHIP, name(g) + " has " + l[1] + " owner claim(s) but no owner"));
            }
        }
    }

    private static void applyToLedger(PlatformState after, CallRecord call, History h) {
        String fn = call.function();
        if (!call.ok() || call.args().isEmpty()) {
            return;
        }
        boolean byGroup = fn.startsWith("iommu_group_");
        GroupState g = targetGroup(after, call.args().get(0), byGroup);
        IommuGroup obj = g == null ? null : after.groupObjects().get(g.id());
        if (obj == null) {
            return;
        }
        int[] l = h.ledger(obj);
        switch (fn) {
            case "iommu_device_use_default_domain":
                l[0]++;
                break;
            case "iommu_device_unuse_default_domain":
                if (!call.warned()) {
                    if (l[0] == 0) {
                        // no matching use: the kernel takes the count from an owner's claim
                        h.lastCallUnbalanced = true;
                        l[1]--;
                    } else {
                        l[0]--;
                    }
                }
                break;
            case "iommu_group_claim_dma_owner":
                l[1] = 1;
                break;
            case "iommu_device_claim_dma_owner":
                l[1]++;
                break;
            case "iommu_group_release_dma_owner":
                if (!call.warned()) {
                    l[0] = 0;
                    l[1] = 0;
                }
                break;
            case "iommu_device_release_dma_owner":
                // the kernel drops one count while more than one is held, else releases ownership
                if (!call.warned()) {
                    if (l[0] + l[1] > 1) {
                        if (l[1] > 0) {
                            l[1]--;
                        } else {
                            h.lastCallUnbalanced = true; // no claim: the kernel takes a DMA-API user's count
                            l[0]--;
                        }
                    } else {
                        l[0] = 0;
                        l[1] = 0;
                    }
                }
                break;
            default:
                break;
        }
    }

    // ------------------------------------------------------------------------------------------
    // Helpers
    // ------------------------------------------------------------------------------------------

    /** The group in {@code after} that is the same object as {@code gb} in {@code before}, or null. */
    static GroupState sameGroup(PlatformState before, PlatformState after, GroupState gb) {
        IommuGroup obj = before.groupObjects().get(gb.id());
        if (obj == null || after.groupObjects().get(gb.id()) != obj) {
            return null;
        }
        return after.group(gb.id());
    }

    /** The domain named {@code name} among the state's live, static and group domains; null if none or several. */
    static IommuDomain domainNamed(PlatformState s, String name) {
        Set<IommuDomain> found = identitySet();
        for (var d : s.core().domains()) {
            if (d.domain().toString().equals(name)) {
                found.add(d.domain());
            }
        }
        for (IommuDomain d : s.staticDomains()) {
            if (d.toString().equals(name)) {
                found.add(d);
            }
        }
        for (GroupState g : s.core().groups()) {
            for (IommuDomain d : new IommuDomain[] {g.domain(), g.defaultDomain(), g.blockingDomain()}) {
                if (d != null && d.toString().equals(name)) {
                    found.add(d);
                }
            }
        }
        return found.size() == 1 ? found.iterator().next() : null;
    }

    private static Map<Integer, IommuDomain> slotDomains(GroupState g) {
        Map<Integer, IommuDomain> m = new HashMap<>();
        g.pasids().forEach((p, e) -> m.put(p, e.domain()));
        return m;
    }

    /** {@code domain_iommu_ops_compatible} widened to every static domain of the ops. */
    private static boolean compatible(IommuOps ops, IommuDomain d) {
        return d.owner() == ops || d == ops.blockedDomain() || d == ops.identityDomain() || d == ops.releaseDomain()
                || d == ops.defaultDomain();
    }

    /**
     * Offsets to sample in a range of {@code size} bytes made of {@code step}-sized pages: every
     * page if there are at most {@link #MAX_SAMPLES}, else that many spread evenly, always with
     * the first and last page and the last byte.
     */
    static long[] sampleOffsets(long size, long step) {
        long pages = Long.divideUnsigned(size, step);
        Set<Long> offs = new LinkedHashSet<>();
        if (pages <= MAX_SAMPLES) {
            for (long i = 0; i < pages; i++) {
                offs.add(i * step);
            }
        } else {
            for (int i = 0; i < MAX_SAMPLES; i++) {
                offs.add(Long.divideUnsigned(pages - 1, MAX_SAMPLES - 1) * i * step);
            }
            offs.add((pages - 1) * step);
        }
        if (size > 0) {
            offs.add(size - 1);
        }
        long[] out = new long[offs.size()];
        int i = 0;
        for (long o : offs) {
            out[i++] = o;
        }
        return out;
    }

    private static long alignUp(long v, long a) {
        return (v + a - 1) & -a;
    }

    private static <T> Set<T> identitySet() {
        return Collections.newSetFromMap(new IdentityHashMap<>());
    }

    /** A group's name in messages: its id only, so a message stays the same while members come and go. */
    private static String name(GroupState g) {
        return "group" + g.id();
    }

    private static List<String> names(List<Device> devs) {
        List<String> out = new ArrayList<>();
        for (Device d : devs) {
            out.add(d.name());
        }
        return out;
    }

    private static List<String> devicesOf(List<CallRecord.AttachCall> ev) {
        List<String> out = new ArrayList<>();
        for (CallRecord.AttachCall a : ev) {
            out.add(a.device());
        }
        return out;
    }
}
