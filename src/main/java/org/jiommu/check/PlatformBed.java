package org.jiommu.check;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;
import org.jiommu.base.Errno;
import org.jiommu.bus.Device;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.core.DevIommu;
import org.jiommu.core.IommuCore;
import org.jiommu.core.IommuGroup;
import org.jiommu.mem.FrameAllocator;
import org.jiommu.platform.IommuKind;
import org.jiommu.platform.IommuKinds;
import org.jiommu.platform.Platform;
import org.jiommu.platform.StressBed;

/**
 * A stress bed made of a booted platform's own devices (a scenario file's {@code platform:}),
 * for one IOMMU kind of it, instead of the kind's built-in bed (docs/check.md 6). The roles the
 * harness needs are derived from the devices, never from their names:
 * <ul>
 * <li>shared devices: every probed device behind the kind's units that is not a lane (at least
 *     one; the first allocates the shared domains);</li>
 * <li>PASID devices (the part-2 churn: PASIDs, aux, SVA, page requests): the shared PCI
 *     functions with PASID bits and PRI, as the built-in beds' p, q1, q2, n (SVA binds need
 *     IOPF, which needs PRI; a kind's after-teardown check reads their PRI state);</li>
 * <li>lanes, where the kind's hardware translates the workers' DMA (its built-in bed has lanes):
 *     one per worker, PCI endpoints alone in their group, not require_direct, without PASIDs and
 *     without a bound DMA-API driver (a worker attaches the group to its own domain), and
 *     memory reaching every worker's DMA window; all or none (a file with fewer gets no lanes,
 *     and says so in {@link #notes});</li>
 * <li>the frame baseline: what a twin of the platform (built the same way) holds once the
 *     devices the run uses are deleted, as the run's teardown ends (I10: the run gave back
 *     everything, hardware tables the unit keeps without domains included);</li>
 * </ul>
 * Multi-device groups and require_direct devices are used as the file has them. The file's
 * DMA-API drivers are unbound before the run ({@code iommu_device_unuse_default_domain}, as a
 * driver unbind): the workers play the drivers (their use/unuse calls are driver binds), as on
 * a built-in bed, whose teardown expects every owner count back at 0.
 */
public final class PlatformBed {
    /** The workers' DMA windows start here and take this much each (StressWorld.pa). */
    static final long WINDOW_BASE = 0x1_0000_0000L;
    static final long WINDOW_BYTES = 0x100_0000L;

    private PlatformBed() {
    }

    /**
     * What a file's platform gives a run on {@code kind}.
     *
     * @param bed the bed
     * @param notes what the file lacks for a full run (no lanes, no PASID churn), one line each
     */
    public record Derived(StressBed bed, List<String> notes) {
    }

    /**
     * Derives the bed of {@code kind} on a platform of {@code platforms} (a fresh one, booted, no
     * step run; a second one is the twin the baseline is taken from) for {@code shape}. A part-2
     * shape on a platform without a shared PASID function falls back to part 1 (noted).
     *
     * @param iommus the names of the platform's IOMMUs of that kind (a kind registered under
     *     another name may reuse another kind's units, so units are picked by name)
     * @param dmaApiDrivers the names of the devices the platform bound a DMA-API driver to
     * @throws IllegalArgumentException with the reason when the platform cannot be stressed on
     *     that kind (no probed device behind it)
     */
    public static Derived derive(Supplier<Platform> platforms, String kind, Set<String> iommus, StressBed.Shape shape,
                                 Set<String> dmaApiDrivers) {
        IommuKind k = IommuKinds.require(kind);
        // what the kind's own bed says of its hardware: whether DMA is translated and checked
        // (lanes), page requests come from DMA, and the errnos its driver adds for a legal caller
        StressBed ref = k.stressBed(new StressBed.Shape(1, false));
        Platform platform = platforms.get();
        IommuCore core = platform.core();
        List<Device> probed = unbound(platform, iommus, dmaApiDrivers);
        if (probed.isEmpty()) {
            throw new IllegalArgumentException("no probed device behind a " + kind + " IOMMU to stress");
        }
        List<String> notes = new ArrayList<>();
        List<StressBed.Lane> lanes = new ArrayList<>();
        if (!ref.lanes().isEmpty()) {
            List<PciDevice> cand = new ArrayList<>();
            for (Device d : probed) {
                if (laneCapable(core, d)) {
                    cand.add((PciDevice) d);
                }
            }
            long need = WINDOW_BASE + shape.threads() * WINDOW_BYTES;
            if (cand.size() < shape.threads()) {
                notes.add("no DMA lanes (DMA not checked): " + shape.threads() + " workers need as many PCI endpoints alone"
                        + " in their group, without PASIDs or require_direct; the file has " + cand.size());
            } else if (!platform.memory().contains(WINDOW_BASE, need - WINDOW_BASE)) {
                notes.add("no DMA lanes (DMA not checked): the workers' DMA windows need memory up to 0x"
                        + Long.toHexString(need) + " (memory: " + Math.max(8, (need >> 30) + 1) + "GiB)");
            } else {
                // the last ones, so the file's first devices stay in the shared churn
                for (PciDevice d : cand.subList(cand.size() - shape.threads(), cand.size())) {
                    lanes.add(new StressBed.Lane(d, platform.engine(d)));
                }
            }
        }
        List<Device> shared = new ArrayList<>(probed);
        lanes.forEach(l -> shared.remove(l.dev()));
        if (shared.isEmpty()) {
            throw new IllegalArgumentException("every device behind the " + kind + " IOMMU would be a DMA lane:"
                    + " the shared churn needs one more");
        }
        List<PciDevice> pasidDevices = new ArrayList<>();
        for (Device d : shared) {
            if (d instanceof PciDevice p && p.pasidBits() > 0 && p.hasPri()) {
                pasidDevices.add(p);
            }
        }
        StressBed.Shape s = shape;
        if (shape.pasids() && pasidDevices.isEmpty()) {
            s = new StressBed.Shape(shape.threads(), false);
            notes.add("no PASID churn: no shared PCI function with PASIDs and PRI (caps: [pasid, pri])");
        }
        // the watch's I10 (no domain: frames at the baseline) compares with it too, as on the
        // built-in beds, which take theirs after releasing every device once
        FrameAllocator.Stats baseline = baseline(platforms.get(), iommus, dmaApiDrivers);
        platform.baseline(baseline);
        StressBed bed = new StressBed(s, platform, List.copyOf(shared), List.copyOf(pasidDevices), List.copyOf(lanes),
                baseline, ref.pageRequestsFromDma(), allowedErrors(ref.allowedErrors()));
        return new Derived(bed, List.copyOf(notes));
    }

    /**
     * The kind's legal errnos plus -ENOSPC for every call that attaches a domain: a file's
     * hardware may be small (an SMMUv2 with 4 context banks: {@code arm_smmu_alloc_context_bank}
     * fails -ENOSPC once the shared domains and default domains hold them all), which the
     * built-in beds size away.
     */
    private static Map<String, Set<Errno>> allowedErrors(Map<String, Set<Errno>> kinds) {
        Map<String, Set<Errno>> out = new HashMap<>();
        kinds.forEach((op, e) -> out.put(op, EnumSet.copyOf(e)));
        for (String op : ATTACHING) {
            out.computeIfAbsent(op, x -> EnumSet.noneOf(Errno.class)).add(Errno.ENOSPC);
        }
        return Map.copyOf(out);
    }

    /** The stress ops that attach a domain to a RID (the harness's op names). */
    private static final List<String> ATTACHING = List.of("ATTACH_GROUP", "ATTACH_DEVICE", "REPLACE", "GROUP_CLAIM",
            "DEVICE_CLAIM");

    /**
     * The probed devices behind the IOMMUs named {@code iommus}, in firmware order, after unbinding the DMA-API
     * drivers of those named in {@code dmaApiDrivers} (driver unbind:
     * {@code iommu_device_unuse_default_domain}).
     */
    private static List<Device> unbound(Platform platform, Set<String> iommus, Set<String> dmaApiDrivers) {
        IommuCore core = platform.core();
        List<Device> probed = new ArrayList<>();
        for (String iommu : iommus) {
            for (Device d : platform.devicesOn(iommu)) {
                if (core.groupGet(d) != null) {
                    probed.add(d);
                }
            }
        }
        for (Device d : probed) {
            if (dmaApiDrivers.contains(d.name())) {
                core.deviceUnuseDefaultDomain(d);
            }
        }
        return probed;
    }

    /** The frames of {@code twin} once the devices a run on {@code kind} uses are deleted, as its teardown does. */
    private static FrameAllocator.Stats baseline(Platform twin, Set<String> iommus, Set<String> dmaApiDrivers) {
        for (Device d : unbound(twin, iommus, dmaApiDrivers)) {
            twin.core().deviceDel(d);
        }
        return twin.frames().stats();
    }

    /** A PCI endpoint a worker can own alone: its group has only it, no owner and no DMA-API user. */
    private static boolean laneCapable(IommuCore core, Device d) {
        if (!(d instanceof PciDevice p) || p.isBridge() || p.pasidBits() > 0) {
            return false;
        }
        IommuGroup g = core.groupGet(d);
        DevIommu di = core.devIommu(d);
        return g.devices().size() == 1 && g.ownerCnt() == 0 && (di == null || !di.requireDirect());
    }

    /** A bed source for {@link StressHarness.Config#on(String, Supplier, Set, Set)}: fresh platforms per run. */
    static StressBed build(Supplier<Platform> platforms, String kind, Set<String> iommus, StressBed.Shape shape,
                           Set<String> dmaApiDrivers) {
        return derive(platforms, kind, iommus, shape, dmaApiDrivers).bed();
    }
}
