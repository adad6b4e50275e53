package org.jiommu.core;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import org.jiommu.base.IommuException;
import org.jiommu.base.WarningSink;

/**
 * The core's trace, WARN and log sink, and {@code fail_nth}: every engine reports through one
 * instance so events keep one sequence ({@link TraceEvent#seq}). A WARN is recorded and the
 * model carries on as the kernel does after its {@code WARN_ON}; log lines are the kernel's
 * {@code dev_warn}/{@code dev_err}/{@code pr_info}.
 *
 * <p>Leaf locks only (the warning list, fault injection); listeners run on the calling thread,
 * possibly under a group mutex, and must not call back into the core.
 */
final class Tracer {
    private static final int LOG_KEEP = 10_000;

    private final AtomicLong seq = new AtomicLong();
    private final List<TraceListener> listeners = new CopyOnWriteArrayList<>();
    /** Guarded by itself. */
    private final List<Warning> warnings = new ArrayList<>();
    /** The last {@value #LOG_KEEP} log lines. Guarded by {@link #warnings}. */
    private final List<TraceEvent> logLines = new ArrayList<>();
    private final FaultInjection faults = new FaultInjection();
    /** What drivers get as their WARN sink ({@code CoreServices.warnings()}). */
    final WarningSink sink = this::warn;

    void addListener(TraceListener l) {
        listeners.add(Objects.requireNonNull(l));
    }

    void removeListener(TraceListener l) {
        listeners.remove(l);
    }

    List<Warning> warnings() {
        synchronized (warnings) {
            return List.copyOf(warnings);
        }
    }

    int warningCount() {
        synchronized (warnings) {
            return warnings.size();
        }
    }

    List<TraceEvent> logLines() {
        synchronized (warnings) {
            return List.copyOf(logLines);
        }
    }

    void failNth(long n) {
        faults.failNth(n);
    }

    boolean failNthArmed() {
        return faults.armed();
    }

    /** A modelled allocation site: true (and a log line) when {@code fail_nth} fires here. */
    boolean shouldFailAlloc(String site) {
        if (faults.shouldFail()) {
            log("fail_nth", "injected allocation failure at " + site);
            return true;
        }
        return false;
    }

    /** A kernel WARN: recorded, traced; the caller returns having changed nothing. */
    void warn(String where, String message) {
        warn(where, message, false);
    }

    /**
     * A kernel WARN after which the kernel goes on and changes state (a {@code nofail} path, a
     * PASID removal whose slot is erased anyway): {@link Warning#carriesOn()}.
     */
    void warnCarryingOn(String where, String message) {
        warn(where, message, true);
    }

    private void warn(String where, String message, boolean carriesOn) {
        long s = seq.incrementAndGet();
        synchronized (warnings) {
            warnings.add(new Warning(s, where, message, carriesOn));
        }
        emit(new TraceEvent(s, TraceEvent.Kind.WARN, where, message));
    }

    /** A kernel log line. */
    void log(String where, String message) {
        TraceEvent e = new TraceEvent(seq.incrementAndGet(), TraceEvent.Kind.LOG, where, message);
        synchronized (warnings) {
            logLines.add(e);
            if (logLines.size() > LOG_KEEP) {
                logLines.subList(0, logLines.size() - LOG_KEEP).clear();
            }
        }
        emit(e);
    }

    /** Whether anyone listens: callers skip building trace text otherwise. */
    boolean tracing() {
        return !listeners.isEmpty();
    }

    void trace(TraceEvent.Kind kind, String function, String text) {
        if (tracing()) {
            emit(new TraceEvent(seq.incrementAndGet(), kind, function, text));
        }
    }

    private void emit(TraceEvent e) {
        for (TraceListener l : listeners) {
            l.onEvent(e);
        }
    }

    /** Runs a public API body with CALL/RETURN/ERROR trace events around it. */
    <T> T call(String fn, Supplier<T> body, Object... args) {
        boolean t = tracing();
        if (t) {
            trace(TraceEvent.Kind.CALL, fn, formatArgs(args));
        }
        try {
            T r = body.get();
            if (t) {
                trace(TraceEvent.Kind.RETURN, fn, r == null ? "" : String.valueOf(r));
            }
            return r;
        } catch (IommuException e) {
            if (t) {
                trace(TraceEvent.Kind.ERROR, fn, e.getMessage());
            }
            throw e;
        }
    }

    private static String formatArgs(Object[] args) {
        StringBuilder sb = new StringBuilder("(");
        for (int i = 0; i < args.length; i++) {
            if (i > 0) {
                sb.append(", ");
            }
            Object a = args[i];
            if (a instanceof Long) {
                // what String.format("%#x") gives, without parsing a format string on every call
                sb.append("0x").append(Long.toHexString((Long) a));
            } else {
                sb.append(a);
            }
        }
        return sb.append(')').toString();
    }
}
