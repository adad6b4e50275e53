package org.jiommu.check;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.jiommu.base.IommuException;
import org.jiommu.core.CoreSnapshot;
import org.jiommu.core.IommuCore;
import org.jiommu.mem.FrameAllocator;
import org.jiommu.mm.MmStruct;
import org.jiommu.platform.IommuUnits;
import org.jiommu.platform.Platform;

/**
 * The kernel's {@code fail_nth} sweep (tools/testing/selftests/iommu/iommufd_fail_nth.c, as
 * REFERENCES.md 1a describes it) for the model: a recorded sequence of calls that all succeed is
 * replayed, and each call in turn is run again with its Nth allocation failing, for N = 1, 2, ...
 * until the call succeeds without the injection firing. Two allocation sources are swept one
 * after the other: the core's and the drivers' modelled allocation sites
 * ({@link IommuCore#failNthAllocation}) and page-table pages
 * ({@link FrameAllocator#failNthAllocation}).
 *
 * <p>Where the kernel's sweep only watches for WARNs and leaks, the model asks more: after every
 * call that failed, the whole platform ({@link FullState}: the core snapshot, every IOMMU kind's
 * driver state (the mock's: hardware and page-table leaves), the frame allocator's blocks outside
 * live tables) must equal what
 * it was before the call, and the state invariants must hold. A call that succeeds although the
 * failure fired (the kernel ignores some allocation failures) must leave the invariants intact.
 *
 * <p>Each attempt starts from a fresh platform built by the setup and brought up to the call by
 * replaying the calls before it without injection, as the kernel's sweep tears its fixture down
 * and up between runs.
 */
public final class FailNthSweep {
    /** No call in the model needs more allocations than this; a sweep going further is stuck. */
    public static final int MAX_N = 400;

    private FailNthSweep() {
    }

    /** Where the injected allocation failure comes from. */
    public enum Source {
        /** {@link IommuCore#failNthAllocation}: core sites and the drivers' {@code shouldFailAlloc}. */
        CORE,
        /** {@link FrameAllocator#failNthAllocation}: page-table pages. */
        FRAMES
    }

    /**
     * A platform under test plus the objects the steps create and name.
     */
    public static final class Env {
        private final Platform platform;
        private final Map<String, Object> vars = new HashMap<>();

        public Env(Platform platform) {
            this.platform = Objects.requireNonNull(platform);
            if (platform.frames() == null) {
                throw new IllegalArgumentException("a fail_nth platform needs its frame allocator");
            }
        }

        public Platform platform() {
            return platform;
        }

        public IommuCore core() {
            return platform.core();
        }

        /** Names an object for later steps. */
        public <T> T put(String name, T value) {
            vars.put(name, value);
            return value;
        }

        /** The object named {@code name}. */
        @SuppressWarnings("unchecked")
        public <T> T get(String name) {
            Object v = vars.get(name);
            if (v == null) {
                throw new IllegalStateException("no object named " + name);
            }
            return (T) v;
        }
    }

    /**
     * One call of the recorded sequence.
     *
     * @param name what it does, for reports
     * @param action the call
     */
    public record Step(String name, Consumer<Env> action) {
    }

    /** What one injected failure did. */
    public enum Outcome {
        /** The call failed and left the platform exactly as before. */
        FAILED_CLEANLY,
        /** The call failed and changed the platform, or left an invariant broken. */
        FAILED_DIRTY,
        /** The call succeeded although the failure fired (the kernel ignores that allocation). */
        ABSORBED,
        /** The call succeeded without reaching the Nth allocation: the sweep of this call is done. */
        DONE
    }

    /**
     * One attempt.
     *
     * @param step the call's name
     * @param source where the failure was injected
     * @param n which allocation failed
     * @param outcome what happened
     * @param detail the error, or what differed
     */
    public record Attempt(String step, Source source, long n, Outcome outcome, String detail) {
        @Override
        public String toString() {
            return "fail_nth " + source + " n=" + n + " in " + step + ": " + outcome + (detail.isEmpty() ? "" : " (" + detail + ")");
        }
    }

    /**
     * The sweep's findings.
     *
     * @param attempts every attempt in order
     * @param problems everything that went wrong (empty for a clean sweep)
     */
    public record Result(List<Attempt> attempts, List<String> problems) {
        /** Attempts where the call failed (cleanly or not) for {@code step} and {@code source}. */
        public long failures(String step, Source source) {
            return attempts.stream().filter(a -> a.step().equals(step) && a.source() == source
                    && (a.outcome() == Outcome.FAILED_CLEANLY || a.outcome() == Outcome.FAILED_DIRTY)).count();
        }

        /** Attempts with this outcome for {@code step} and {@code source}. */
        public long count(String step, Source source, Outcome outcome) {
            return attempts.stream().filter(a -> a.step().equals(step) && a.source() == source
                    && a.outcome() == outcome).count();
        }

        public long failures() {
            return attempts.stream().filter(a -> a.outcome() == Outcome.FAILED_CLEANLY
                    || a.outcome() == Outcome.FAILED_DIRTY).count();
        }
    }

    /**
     * The whole platform as far as "changed nothing" goes: the core snapshot, each kind's driver
     * state (the mock drivers' snapshots: probe state, RID and PASID entries, IOPF counts, live
     * domains, page-table leaves from a walk), and the frame allocator's live blocks that no live page table reaches.
     * Warnings and counters of past allocations are left out on purpose, and so are two things
     * the kernel itself changes in a failed call:
     * <ul>
     * <li>page-table levels: io-pgtable installs a level before descending
     *     ({@code __arm_lpae_map}) and never frees it on failure or unmap; it belongs to the live
     *     domain and goes with it (I10), so only frames outside every live table are compared;</li>
     * <li>the RID entry of a device whose probe failed: {@code iommu_deinit_device} attaches the
     *     release domain (the idle state, like the never-written reset state the mock snapshot
     *     already folds static BLOCKED entries into), so for an unprobed device an entry on its
     *     driver's release domain counts as idle;</li>
     * <li>an mm's PASID: {@code iommu_sva_bind_device} keeps the {@code iommu_mm_data} and the
     *     PASID it allocated when the bind fails later on (the PASID belongs to the mm until
     *     {@code mm_pasid_drop}), so an mm that got its PASID in the failed call, with no SVA
     *     domain, is left out of the comparison (I-MM-PASID checks the PASID never changes).</li>
     * </ul>
     *
     * @param core the core snapshot
     * @param drivers per kind, its driver state as the kind normalises it for a sweep
     *     ({@link IommuUnits#failNthState}: the mock's snapshots, an unprobed device's entry on the
     *     release domain counted as idle)
     * @param untrackedBlocks live frame blocks not reachable from any live page table
     */
    public record FullState(CoreSnapshot core, List<Object> drivers, long untrackedBlocks) {

        public static FullState capture(Platform p) {
            CoreSnapshot s = p.core().snapshot();
            List<Object> drivers = new ArrayList<>();
            long tablePages = 0;
            for (IommuUnits u : p.units()) {
                drivers.add(u.failNthState(s));
                tablePages += u.tablePages();
            }
            return new FullState(s, drivers, p.frames().stats().liveBlocks() - tablePages);
        }

        /** What differs from {@code o}, one line per part; empty if equal. */
        public List<String> diff(FullState o) {
            List<String> out = new ArrayList<>();
            CoreSnapshot other = withoutNewMmPasids(core, o.core);
            if (!core.equals(other)) {
                if (!core.groups().equals(o.core.groups())) {
                    out.add("groups: " + core.groups() + " -> " + o.core.groups());
                }
                if (!core.devices().equals(o.core.devices())) {
                    out.add("devices: " + core.devices() + " -> " + o.core.devices());
                }
                if (!core.domains().equals(o.core.domains())) {
                    out.add("domains: " + core.domains() + " -> " + o.core.domains());
                }
                if (out.isEmpty()) {
                    out.add("core: " + core + " -> " + other);
                }
            }
            if (!drivers.equals(o.drivers)) {
                out.add("driver state: " + drivers + " -> " + o.drivers);
            }
            if (untrackedBlocks != o.untrackedBlocks) {
                out.add("frames: " + untrackedBlocks + " blocks outside page tables -> " + o.untrackedBlocks);
            }
            return out;
        }
    }

    /** {@code after} without the mms (and their PASIDs) that appeared since {@code before} with no SVA domain. */
    private static CoreSnapshot withoutNewMmPasids(CoreSnapshot before, CoreSnapshot after) {
        Map<MmStruct, CoreSnapshot.MmState> mms = new LinkedHashMap<>(after.mms());
        Map<Integer, Integer> global = new LinkedHashMap<>(after.globalPasids());
        boolean changed = false;
        for (Map.Entry<MmStruct, CoreSnapshot.MmState> e : after.mms().entrySet()) {
            if (!before.mms().containsKey(e.getKey()) && e.getValue().svaDomains().isEmpty()
                    && !before.globalPasids().containsKey(e.getValue().pasid())) {
                mms.remove(e.getKey());
                global.remove(e.getValue().pasid());
                changed = true;
            }
        }
        if (!changed) {
            return after;
        }
        return new CoreSnapshot(after.defDomainType(), after.dmaStrict(), after.iommus(), after.groups(),
                after.devices(), after.domains(), Collections.unmodifiableMap(global),
                Collections.unmodifiableMap(mms), after.svaDomains(), after.auxDomains(), after.iopf(),
                after.reservedPasidSlots());
    }

    /**
     * Runs the sweep.
     *
     * @param setup a fresh platform (no domain yet), the same each time
     * @param steps the recorded sequence; every call must succeed without injection
     * @param sources which allocation sources to sweep
     */
    public static Result run(Supplier<Env> setup, List<Step> steps, Source... sources) {
        List<Attempt> attempts = new ArrayList<>();
        List<String> problems = new ArrayList<>();
        Env ref = setup.get();
        for (int i = 0; i < steps.size(); i++) {
            try {
                steps.get(i).action().accept(ref);
            } catch (RuntimeException e) {
                problems.add("the reference run fails at " + steps.get(i).name() + ": " + e);
                return new Result(attempts, problems);
            }
        }
        for (int i = 0; i < steps.size(); i++) {
            for (Source src : sources) {
                sweepOne(setup, steps, i, src, attempts, problems);
            }
        }
        return new Result(attempts, problems);
    }

    private static void sweepOne(Supplier<Env> setup, List<Step> steps, int i, Source src, List<Attempt> attempts,
                                 List<String> problems) {
        Step step = steps.get(i);
        for (long n = 1; n <= MAX_N; n++) {
            Env env = setup.get();
            Platform p = env.platform();
            CoreWatch watch = InvariantWatch.of(p.core());
            if (watch != null) {
                watch.pause(); // the prefix was checked in the reference run
            }
            for (int j = 0; j < i; j++) {
                steps.get(j).action().accept(env);
            }
            if (watch != null) {
                watch.resume();
            }
            FrameAllocator frames = p.frames();
            FullState before = FullState.capture(p);
            long allocs = frames.stats().totalAllocations();
            if (src == Source.CORE) {
                p.core().failNthAllocation(n);
            } else {
                frames.failNthAllocation(n);
            }
            IommuException err = null;
            try {
                step.action().accept(env);
            } catch (IommuException e) {
                err = e;
            } catch (RuntimeException e) {
                disarm(p);
                attempts.add(new Attempt(step.name(), src, n, Outcome.FAILED_DIRTY, e.toString()));
                problems.add("fail_nth " + src + " n=" + n + " in " + step.name() + " threw " + e);
                return;
            }
            boolean fired = src == Source.CORE ? !p.core().failNthArmed() : framesFired(frames, allocs, n);
            disarm(p);
            List<Violation> broken = InvariantChecker.checkState(PlatformState.of(p), null);
            if (err != null) {
                List<String> diff = before.diff(FullState.capture(p));
                if (!fired) {
                    problems.add("fail_nth " + src + " n=" + n + ": " + step.name() + " failed without the injection: "
                            + err.getMessage());
                }
                if (diff.isEmpty() && broken.isEmpty()) {
                    attempts.add(new Attempt(step.name(), src, n, Outcome.FAILED_CLEANLY, err.errno().name()));
                } else {
                    String d = String.join("; ", diff) + (broken.isEmpty() ? "" : " invariants: " + broken);
                    attempts.add(new Attempt(step.name(), src, n, Outcome.FAILED_DIRTY, d));
                    problems.add("fail_nth " + src + " n=" + n + ": failed " + step.name() + " (" + err.errno()
                            + ") changed the platform: " + d);
                }
                continue;
            }
            if (!broken.isEmpty()) {
                problems.add("fail_nth " + src + " n=" + n + ": " + step.name() + " succeeded"
                        + (fired ? " despite the failure" : "") + " but broke " + broken);
            }
            if (fired) {
                attempts.add(new Attempt(step.name(), src, n, Outcome.ABSORBED, ""));
                continue;
            }
            attempts.add(new Attempt(step.name(), src, n, Outcome.DONE, ""));
            return;
        }
        problems.add("fail_nth " + src + ": " + step.name() + " still hit an injected failure at n=" + MAX_N);
    }

    private static void disarm(Platform p) {
        p.core().failNthAllocation(0);
        p.frames().failNthAllocation(0);
    }

    /**
     * Whether the frame allocator's armed failure fired during the call: it counts attempts and
     * keeps no count of failures, so with {@code n - 1} successful allocations one more probe
     * allocation tells (it fails if, and only if, the countdown had not been reached).
     */
    private static boolean framesFired(FrameAllocator frames, long allocsBefore, long n) {
        long ok = frames.stats().totalAllocations() - allocsBefore;
        if (ok >= n) {
            return true;
        }
        if (ok < n - 1) {
            return false;
        }
        long pa = frames.alloc(0);
        if (pa < 0) {
            return false;
        }
        frames.free(pa);
        return true;
    }
}
