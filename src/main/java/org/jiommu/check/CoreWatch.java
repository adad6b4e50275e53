package org.jiommu.check;

import org.jiommu.platform.Platform;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Deque;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.Map;
import org.jiommu.base.Errno;
import org.jiommu.bus.Device;
import org.jiommu.core.CoreSnapshot;
import org.jiommu.core.IommuCore;
import org.jiommu.core.IommuGroup;
import org.jiommu.core.TraceEvent;
import org.jiommu.core.TraceListener;
import org.jiommu.core.spi.IommuDevice;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.core.spi.IommuOps;

/**
 * Runs the {@link InvariantChecker} on one core after every public call returns, hooked on the
 * core's trace: a CALL event opens a call, the matching RETURN or ERROR closes it, and then the
 * whole platform is captured and checked (state invariants, plus the call's transition
 * invariants against the state captured at the CALL). Nested calls (a public call made while
 * another is running on the same thread) are checked with their outermost call.
 *
 * <p><b>Concurrency.</b> A per-core gate makes every check see only whole calls: a call holds the
 * gate's read lock from its CALL to its RETURN, a check takes the write lock, so it waits for the
 * calls in flight and holds new ones at their CALL (where they hold no core lock). Transition
 * invariants need the state right before a call: they are skipped for a call that overlapped
 * another (the state checks still run, and the I4 ledger restarts from the core's counters).
 *
 * <p><b>WARNs.</b> A kernel WARN means the kernel itself noticed broken state and carried on. The
 * violations found after a call that WARNed are recorded as excused, not reported, and so is the
 * same violation found again later (the damage persists), and any violation about a group the
 * excused ones named, until that group checks clean again (damage spreads within a group: an
 * owner left with owner_cnt 0 lets a DMA-API driver bind next to it). Other new violations are
 * reported. A logged
 * failure to establish direct mappings (the kernel ignores it on hot-add) excuses I8 the same way,
 * and so does an unbalanced ownership call the kernel lets through without a WARN (an unuse with no
 * matching use takes the count from an owner's claim, SEMANTICS.md 7.2: a caller bug, as the I4
 * ledger shows).
 *
 * <p><b>Hardware view.</b> By default the {@link TraceHardwareView} (what the core told the
 * driver); {@link #usePlatform} switches to the platform's view (each IOMMU kind's exact state)
 * and adds I10.
 */
public final class CoreWatch implements TraceListener {
    private static final StackWalker WALKER = StackWalker.getInstance();
    /** Only a thread that left a call by an unexpected exception can hold a check up this long. */
    private static final long GATE_WAIT_SECONDS = 60;

    private final IommuCore core;
    private final String label;
    private final Consumer<Report> sink;
    private final TraceHardwareView traceView = new TraceHardwareView();
    private volatile Platform platform;
    private volatile boolean paused;

    private final ReentrantReadWriteLock gate = new ReentrantReadWriteLock();
    private final AtomicInteger inflight = new AtomicInteger();
    /** Bumped whenever a call starts while another is in flight; guarded by {@link #overlapLock} for writes. */
    private final AtomicLong overlapEpoch = new AtomicLong();
    private final Object overlapLock = new Object();
    private final ThreadLocal<Frame> frames = new ThreadLocal<>();
    /** Guarded by the gate's write lock. */
    private final History history = new History();
    private final Set<Violation> excused = ConcurrentHashMap.newKeySet();
    /** Groups ({@code group3}) whose damage a WARN or an unbalanced call excused, until they check clean. */
    private final Set<String> tainted = ConcurrentHashMap.newKeySet();
    private static final Pattern GROUP = Pattern.compile("\\bgroup\\d+\\b");

    /** State checks run by every watch in this JVM. */
    private static final AtomicLong TOTAL_CHECKS = new AtomicLong();
    /** Outermost public calls seen by every watch in this JVM. */
    private static final AtomicLong TOTAL_CALLS = new AtomicLong();

    private final AtomicLong calls = new AtomicLong();
    private final AtomicLong checks = new AtomicLong();
    private final AtomicLong transitionChecks = new AtomicLong();
    private final AtomicLong reported = new AtomicLong();
    private final AtomicLong excusedCount = new AtomicLong();
    private final AtomicLong scopedChecks = new AtomicLong();

    /** Incremental checking ({@link #checkIncrementally}): a whole check every this many calls; 0 = every call. */
    private volatile int period;
    /** The last whole core snapshot and its device names (the scoped captures' global half); null: none yet. */
    private volatile CoreSnapshot lastWhole;
    private volatile Map<String, Device> lastNames;
    /** Calls checked in scope since the last whole check; guarded by the gate's write lock. */
    private int sinceWhole;
    /** Outermost calls started so far (counted under the gate's read hold, so never during a check). */
    private final AtomicLong started = new AtomicLong();
    /**
     * The last whole state captured after a call (or by {@link #checkWhole}) with no call in
     * flight, and {@link #started} then: the next call, if it is the first to start since, takes
     * it as its "before" instead of capturing the same state again. Null: none.
     */
    private volatile PlatformState lastAfter;
    private volatile long lastAfterStarted;
    private final AtomicLong reusedBefore = new AtomicLong();

    /**
     * One finding: the violations a check found after a call.
     *
     * @param core which core ({@code core@1a2b})
     * @param call the call, with arguments and outcome
     * @param violations what is broken
     */
    public record Report(String core, String call, List<Violation> violations) {
        @Override
        public String toString() {
            StringBuilder sb = new StringBuilder("after " + call + " on " + core + ":");
            for (Violation v : violations) {
                sb.append("\n    ").append(v);
            }
            return sb.toString();
        }
    }

    /** What one thread's current outermost call has done so far. */
    private static final class Frame {
        final Deque<String> stack = new ArrayDeque<>();
        String function;
        List<String> args;
        long epoch;
        long started;
        boolean overlapped;
        PlatformState before;
        final List<CallRecord.AttachCall> attaches = new ArrayList<>();
        boolean warned;
        boolean directMapFailed;
        /** A {@link CallScope#LOCAL} or {@link CallScope#GLOBAL} call under incremental checking; its scope from the arguments. */
        boolean local;
        /** A {@link CallScope#GLOBAL} call: its scoped captures read the global half too. */
        boolean global;
        CallScope scope;
        /** The device names {@link #scope} was resolved with. */
        Map<String, Device> scopeNames;
        /** Arguments of its driver callbacks (device names among them widen the scope). */
        final List<String> eventArgs = new ArrayList<>();
        IommuDomain mapDomain;
        long mapIova;
        long mapPaddr;
        long mapSize;
        long[] mapOffsets;
        long[] mapBefore;
    }

    /**
     * Watches {@code core} from now on.
     *
     * @param sink where reports go (called on the thread that made the call)
     */
    public CoreWatch(IommuCore core, Consumer<Report> sink) {
        this.core = core;
        this.label = "core@" + Integer.toHexString(System.identityHashCode(core));
        this.sink = sink;
        core.addTraceListener(this);
    }

    public IommuCore core() {
        return core;
    }

    /** The name reports give this core ({@code core@1a2b}). */
    public String label() {
        return label;
    }

    /**
     * Use {@code p}'s hardware view (its kinds' exact state) and its frame allocator for I10:
     * only for a platform whose frame baseline means "no domain" ({@link Platform#exactFrames}).
     */
    public void usePlatform(Platform p) {
        if (p.core() != core) {
            throw new IllegalArgumentException("platform of another core");
        }
        gate.writeLock().lock();
        try {
            this.platform = p;
            this.lastWhole = null;
            this.lastAfter = null;
        } finally {
            gate.writeLock().unlock();
        }
    }

    /** Whether the watch uses a platform's view ({@link #usePlatform}), so it can {@link #pause()}. */
    public boolean followsPlatform() {
        return platform != null;
    }

    /**
     * Stops checking until {@link #resume()} (a fail_nth sweep replaying a known-good prefix).
     * Only with {@link #usePlatform}: the trace view cannot follow calls it does not see.
     */
    public void pause() {
        if (platform == null) {
            throw new IllegalStateException("pausing needs the platform's hardware view");
        }
        paused = true;
    }

    /** Checks again after {@link #pause()}; the I4 ledger restarts from the core's counters. */
    public void resume() {
        gate.writeLock().lock();
        try {
            history.ledgerUnsure.addAll(history.ledger.keySet());
            history.ledgerUnsure.addAll(core.groups());
            lastWhole = null; // calls it did not see may have changed anything
            lastAfter = null;
            paused = false;
        } finally {
            gate.writeLock().unlock();
        }
    }

    /** Stops watching. */
    public void detach() {
        core.removeTraceListener(this);
    }

    /**
     * Checks incrementally from now on (docs/check.md 2, "Incremental checking"): after a call
     * of {@link CallScope#LOCAL}, only the groups and devices it can have changed (its scope),
     * with the rest of the core from the last whole snapshot; after any other call, after a call
     * that WARNed, whose driver callbacks left its scope or that logged a direct-mapping failure,
     * and after every {@code period}-th scoped check, the whole platform, as without it.
     *
     * @param period calls between two whole checks at most; 0 checks the whole platform after every call
     */
    public void checkIncrementally(int period) {
        if (period < 0) {
            throw new IllegalArgumentException("period " + period);
        }
        gate.writeLock().lock();
        try {
            this.period = period;
            this.sinceWhole = 0;
            this.lastAfter = null;
        } finally {
            gate.writeLock().unlock();
        }
    }

    /** The incremental checking period ({@link #checkIncrementally}); 0 when every check is whole. */
    public int incrementalPeriod() {
        return period;
    }

    /** Checks that looked only at a call's scope ({@link #checkIncrementally}). */
    public long scopedChecks() {
        return scopedChecks.get();
    }

    /**
     * Checks the whole platform's state invariants now, under the gate, with this watch's
     * history, and reports what is found (after {@code why}) like a call's violations: the
     * incremental watch's check at the end of a run.
     *
     * @return the violations reported
     */
    public List<Violation> checkWhole(String why) {
        List<Violation> toReport;
        gate.writeLock().lock();
        try {
            PlatformState now = captureLocked();
            remember(now);
            // not counted in checks(): those are one per call
            toReport = excuse(InvariantChecker.checkState(now, history), false, false, null);
        } finally {
            gate.writeLock().unlock();
        }
        if (!toReport.isEmpty()) {
            report(new CallRecord(why, List.of(), null, List.of(), false, null), toReport);
        }
        return toReport;
    }

    /**
     * Says the platform changed outside a core call (a plant writing the hardware): the next call
     * captures its own "before" and the next check is whole.
     */
    public void invalidate() {
        gate.writeLock().lock();
        try {
            lastAfter = null;
            lastWhole = null;
        } finally {
            gate.writeLock().unlock();
        }
    }

    /** Calls whose "before" was the state the check of the call before them captured. */
    public long reusedBefore() {
        return reusedBefore.get();
    }

    /**
     * Keeps a whole state, captured with no call in flight, for the scoped captures that follow
     * and as the next call's "before". Gate held for writing.
     */
    private void remember(PlatformState whole) {
        sinceWhole = 0;
        lastAfter = whole;
        lastAfterStarted = started.get();
        if (period > 0) {
            lastNames = CallScope.names(whole.core());
            lastWhole = whole.core();
        }
    }

    /** The call's scope now; with the global half read too when {@code global} ({@link CallScope#GLOBAL}). */
    private PlatformState captureScoped(CallScope scope, boolean global) {
        Platform p = platform;
        if (p != null) {
            return PlatformState.scoped(p, lastWhole, scope.groups(), scope.devices(), global);
        }
        return PlatformState.scoped(core, lastWhole, scope.groups(), scope.devices(),
                s -> traceView.copy(scope.devices()), null, null, global);
    }

    /** Outermost public calls seen. */
    public long calls() {
        return calls.get();
    }

    /** State checks run (one per outermost call). */
    public long checks() {
        return checks.get();
    }

    /** State checks run by all watches of this JVM so far. */
    public static long totalChecks() {
        return TOTAL_CHECKS.get();
    }

    /** Outermost public calls seen by all watches of this JVM so far. */
    public static long totalCalls() {
        return TOTAL_CALLS.get();
    }

    /** Calls whose transition invariants were checked (not overlapping another call). */
    public long transitionChecks() {
        return transitionChecks.get();
    }

    /** Violations reported to the sink. */
    public long reported() {
        return reported.get();
    }

    /** Violations excused by a WARN (or an ignored direct-mapping failure). */
    public long excused() {
        return excusedCount.get();
    }

    /** The current platform state, captured under the gate (so between whole calls). */
    public PlatformState capture() {
        gate.writeLock().lock();
        try {
            return captureLocked();
        } finally {
            gate.writeLock().unlock();
        }
    }

    /** Checks the state invariants now, under the gate, without reporting. */
    public List<Violation> checkNow() {
        gate.writeLock().lock();
        try {
            return InvariantChecker.checkState(captureLocked(), history);
        } finally {
            gate.writeLock().unlock();
        }
    }

    private PlatformState captureLocked() {
        Platform p = platform;
        if (p != null) {
            return PlatformState.of(p);
        }
        return PlatformState.capture(core, s -> traceView.copy(), null, null);
    }

    // ------------------------------------------------------------------------------------------
    // Trace events
    // ------------------------------------------------------------------------------------------

    @Override
    public void onEvent(TraceEvent e) {
        if (paused) {
            return;
        }
        switch (e.kind()) {
            case CALL:
                onCall(e);
                break;
            case RETURN:
            case ERROR:
                onReturn(e);
                break;
            case DRIVER:
                if (platform == null) {
                    // only the trace view's captures read it: with the platform's view it would be
                    // replayed (a domain lookup by name per event) for nothing
                    traceView.onDriverEvent(e.function(), e.text(), this::resolveDomain);
                }
                if (period > 0) {
                    Frame cur = frames.get();
                    if (cur != null && !cur.stack.isEmpty() && cur.local) {
                        cur.eventArgs.addAll(TraceText.driverArgs(e.text()));
                    }
                }
                if (e.function().equals("attach_dev")) {
                    Frame f = frames.get();
                    if (f != null && !f.stack.isEmpty()) {
                        List<String> a = TraceText.driverArgs(e.text());
                        if (a.size() >= 2) {
                            f.attaches.add(new CallRecord.AttachCall(resolveDomain(a.get(0)), a.get(0), a.get(1),
                                    TraceText.ok(TraceText.driverResult(e.text()))));
                        }
                    }
                }
                break;
            case WARN: {
                Frame f = frames.get();
                if (f != null && !f.stack.isEmpty()) {
                    f.warned = true;
                }
                break;
            }
            case LOG: {
                Frame f = frames.get();
                // iommu_setup_default_domain and __iommu_probe_device log and go on
                if (f != null && !f.stack.isEmpty() && e.text().contains("direct mapping")) {
                    f.directMapFailed = true;
                }
                break;
            }
            default:
                break;
        }
    }

    /** Number of {@code IommuCore.call} frames on this thread's stack (the real nesting depth). */
    private static long callFrames() {
        String cls = IommuCore.class.getName();
        return WALKER.walk(s -> s.filter(f -> f.getMethodName().equals("call") && f.getClassName().equals(cls))
                .count());
    }

    private void onCall(TraceEvent e) {
        Frame f = frames.get();
        if (f != null && !f.stack.isEmpty()) {
            long onStack = callFrames();
            long outer = onStack - 1; // the calls this one is nested in
            // no frame at all: the core's call wrapper is not where we look, so trust the events
            if (onStack == 0 || outer >= f.stack.size()) {
                f.stack.push(e.function());
                return;
            }
            // Some earlier call left by an exception other than IommuException: no RETURN came.
            while (f.stack.size() > outer) {
                f.stack.removeLast();
            }
            if (!f.stack.isEmpty()) {
                f.stack.push(e.function());
                return;
            }
            abandon(f);
        }
        gate.readLock().lock();
        f = new Frame();
        frames.set(f);
        f.stack.push(e.function());
        f.function = e.function();
        f.args = TraceText.callArgs(e.text());
        synchronized (overlapLock) {
            // one step, so no other call can slip in between counting and reading the epoch
            int prev = inflight.getAndIncrement();
            if (prev > 0) {
                overlapEpoch.incrementAndGet();
            }
            f.started = started.incrementAndGet();
            f.epoch = overlapEpoch.get();
            f.overlapped = prev > 0;
        }
        Map<String, Device> names = lastNames;
        boolean global = CallScope.GLOBAL.contains(f.function);
        if (period > 0 && lastWhole != null && names != null && (global || CallScope.LOCAL.contains(f.function))) {
            f.scope = CallScope.of(core, names, f.args, List.of());
            f.scopeNames = names;
            f.local = f.scope != null;
            f.global = global;
        }
        if (!f.overlapped) {
            PlatformState last = lastAfter;
            if (f.local) {
                f.before = captureScoped(f.scope, f.global);
            } else if (period > 0 && last != null && lastAfterStarted == f.started - 1) {
                // incremental checking (a stress run, where only core calls change the platform,
                // or {@link #invalidate} says otherwise): nothing started since that state was
                // captured with no call in flight, so it is this call's "before" (page request
                // work the IOPF worker finished meanwhile only adds responses, which
                // I-IOPF-ONCE's transition rule accepts)
                f.before = last;
                reusedBefore.incrementAndGet();
            } else {
                f.before = captureLocked();
            }
        }
        if ((f.function.equals("iommu_map") || f.function.equals("iommu_map_nosync")) && f.args.size() == 5) {
            prepareMapProbe(f);
        }
    }

    /** Takes a finished call out of the in-flight count; true if another call overlapped it. */
    private boolean endCall(Frame f) {
        synchronized (overlapLock) {
            inflight.decrementAndGet();
            return f.overlapped || overlapEpoch.get() != f.epoch;
        }
    }

    private void endCall() {
        synchronized (overlapLock) {
            inflight.decrementAndGet();
            overlapEpoch.incrementAndGet();
        }
    }

    /** Forgets a call that never returned: releases its read hold so checks are not held up. */
    private void abandon(Frame f) {
        frames.remove();
        synchronized (overlapLock) {
            inflight.decrementAndGet();
            overlapEpoch.incrementAndGet(); // its half-done state must not serve as a "before"
        }
        while (gate.getReadHoldCount() > 0) {
            gate.readLock().unlock();
        }
    }

    private void prepareMapProbe(Frame f) {
        IommuDomain d = resolveDomain(f.args.get(0));
        try {
            f.mapIova = TraceText.number(f.args.get(1));
            f.mapPaddr = TraceText.number(f.args.get(2));
            f.mapSize = TraceText.number(f.args.get(3));
        } catch (NumberFormatException ex) {
            return;
        }
        if (d == null || d.isFreed() || !d.type().isPaging() || d.pgsizeBitmap() == 0 || f.mapSize == 0
                || Long.compareUnsigned(f.mapIova + f.mapSize - 1, f.mapIova) < 0) {
            return; // refused by validation before touching the table; nothing to sample
        }
        f.mapDomain = d;
        f.mapOffsets = InvariantChecker.sampleOffsets(f.mapSize, Long.lowestOneBit(d.pgsizeBitmap()));
        f.mapBefore = sample(d, f.mapIova, f.mapOffsets);
    }

    private long[] sample(IommuDomain d, long iova, long[] offsets) {
        long[] out = new long[offsets.length];
        for (int i = 0; i < offsets.length; i++) {
            out[i] = core.iovaToPhys(d, iova + offsets[i]);
        }
        return out;
    }

    private void onReturn(TraceEvent e) {
        Frame f = frames.get();
        if (f == null || f.stack.isEmpty()) {
            return;
        }
        f.stack.pop();
        if (!f.stack.isEmpty()) {
            return; // a nested call: checked with its outermost call
        }
        frames.remove();
        Errno error = null;
        if (e.kind() == TraceEvent.Kind.ERROR) {
            error = errnoOf(e.text());
        }
        CallRecord.MapProbe map = null;
        if (f.mapDomain != null && !f.mapDomain.isFreed()) {
            // still under the read hold: the range is this call's (overlapping maps are the caller's bug)
            map = new CallRecord.MapProbe(f.mapDomain, f.mapIova, f.mapPaddr, f.mapSize, f.mapOffsets, f.mapBefore,
                    sample(f.mapDomain, f.mapIova, f.mapOffsets));
        }
        CallRecord call = new CallRecord(f.function, f.args, error, List.copyOf(f.attaches), f.warned, map);
        gate.readLock().unlock();
        calls.incrementAndGet();
        TOTAL_CALLS.incrementAndGet();

        List<Violation> found = new ArrayList<>();
        List<Violation> toReport;
        boolean unbalanced = false;
        boolean locked;
        try {
            locked = gate.writeLock().tryLock(GATE_WAIT_SECONDS, TimeUnit.SECONDS);
        } catch (InterruptedException ie) {
            endCall();
            Thread.currentThread().interrupt();
            return;
        }
        if (!locked) {
            endCall();
            report(call, List.of(new Violation(Invariant.UNCHECKED, "no consistent state to check: a thread"
                    + " left a core call without returning and holds the check gate")));
            return;
        }
        boolean overlapped;
        try {
            // This call stays counted in flight until here: a call that started after its RETURN
            // but before this check got its changes into "after", and marked this one overlapped.
            overlapped = endCall(f);
            CallScope scope = null;
            if (f.local && !call.warned() && !f.directMapFailed && lastWhole != null && ++sinceWhole < period) {
                // a scoped call (LOCAL or GLOBAL) changes no group's membership nor default domain,
                // so the scope its arguments gave at the CALL still stands unless a callback named
                // another device (and no whole check since has renamed anything)
                scope = f.scopeNames == lastNames && f.scope.namesAll(lastNames, f.eventArgs) ? f.scope
                        : CallScope.of(core, lastNames, f.args, f.eventArgs);
                if (scope != null && f.before != null && !f.scope.covers(scope)) {
                    scope = null; // its callbacks reached beyond what its arguments name: check it all
                }
            }
            PlatformState after;
            if (scope != null) {
                after = captureScoped(scope, f.global);
                scopedChecks.incrementAndGet();
            } else {
                after = captureLocked();
                remember(after);
            }
            found.addAll(InvariantChecker.checkState(after, history));
            found.addAll(InvariantChecker.checkCall(overlapped ? null : f.before, after, call, history));
            unbalanced = history.lastCallUnbalanced();
            checks.incrementAndGet();
            TOTAL_CHECKS.incrementAndGet();
            if (!overlapped) {
                transitionChecks.incrementAndGet();
            }
            toReport = excuse(found, call.warned() || unbalanced, f.directMapFailed, scope);
        } finally {
            gate.writeLock().unlock();
        }
        if (!toReport.isEmpty()) {
            report(call, toReport);
        }
    }

    /** The violations to report: those not excused by a WARN, an unbalanced call or a tainted group. Gate held. */
    private List<Violation> excuse(List<Violation> found, boolean excuseAll, boolean directMapFailed,
                                   CallScope scope) {
        List<Violation> toReport = new ArrayList<>();
        Set<String> seen = new java.util.HashSet<>();
        for (Violation v : found) {
            String group = groupOf(v);
            if (group != null) {
                seen.add(group);
            }
            boolean excuse = excuseAll || (directMapFailed && v.invariant() == Invariant.DIRECT_MAPPINGS);
            if (excuse) {
                excused.add(v);
                if (group != null) {
                    tainted.add(group);
                }
            }
            if (excuse || excused.contains(v) || (group != null && tainted.contains(group))) {
                excusedCount.incrementAndGet();
            } else {
                toReport.add(v);
            }
        }
        // a tainted group that checks clean again is healed: later damage there is reported (a
        // scoped check has looked at its own groups only)
        if (scope == null) {
            tainted.retainAll(seen);
        } else {
            for (IommuGroup g : scope.groups()) {
                if (!seen.contains(g.toString())) {
                    tainted.remove(g.toString());
                }
            }
        }
        return toReport;
    }

    /** The group a violation is about ({@code group3}), or null. */
    private static String groupOf(Violation v) {
        Matcher m = GROUP.matcher(v.message());
        return m.find() ? m.group() : null;
    }

    private void report(CallRecord call, List<Violation> v) {
        reported.addAndGet(v.size());
        sink.accept(new Report(label, call.toString(), List.copyOf(v)));
    }

    private static Errno errnoOf(String message) {
        int colon = message.indexOf(':');
        if (colon > 0) {
            try {
                return Errno.valueOf(message.substring(0, colon));
            } catch (IllegalArgumentException ignored) {
                // fall through
            }
        }
        return Errno.EINVAL;
    }

    /**
     * The domain a trace names: among the core's live domains, the static domains of its
     * instances and its groups' domains; null if none or several carry the name. Takes only the
     * core's leaf locks (safe inside a driver callback).
     */
    IommuDomain resolveDomain(String name) {
        Set<IommuDomain> found = Collections.newSetFromMap(new IdentityHashMap<>());
        for (IommuDomain d : core.liveDomains()) {
            if (d.toString().equals(name)) {
                found.add(d);
            }
        }
        for (IommuDevice i : core.iommuDevices()) {
            IommuOps ops = i.ops();
            for (IommuDomain d : new IommuDomain[] {ops.identityDomain(), ops.blockedDomain(), ops.releaseDomain(),
                    ops.defaultDomain()}) {
                if (d != null && d.toString().equals(name)) {
                    found.add(d);
                }
            }
        }
        if (found.isEmpty()) {
            for (IommuGroup g : core.groups()) {
                for (IommuDomain d : new IommuDomain[] {g.domain(), g.defaultDomain(), g.blockingDomain()}) {
                    if (d != null && d.toString().equals(name)) {
                        found.add(d);
                    }
                }
            }
        }
        return found.size() == 1 ? found.iterator().next() : null;
    }
}
