package org.jiommu.check;

import java.lang.ref.WeakReference;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.WeakHashMap;
import java.util.function.Consumer;
import org.jiommu.core.IommuCore;

/**
 * Puts a {@link CoreWatch} on every {@link IommuCore} constructed once {@link #install()} ran
 * (through {@link IommuCore#addCreationHook}), and collects their reports in one place until
 * someone {@link #drain() drains} them: the test extension does after every test. Cores are held
 * weakly: a core nobody uses any more is collected with its watch; reports are kept regardless.
 */
public final class InvariantWatch {
    private static final Map<IommuCore, WeakReference<CoreWatch>> WATCHES = new WeakHashMap<>();
    private static final List<CoreWatch.Report> REPORTS = new ArrayList<>();
    private static final Consumer<IommuCore> HOOK = InvariantWatch::watch;
    private static boolean installed;

    private InvariantWatch() {
    }

    /** Watches every core created from now on (idempotent). */
    public static synchronized void install() {
        if (!installed) {
            IommuCore.addCreationHook(HOOK);
            installed = true;
        }
    }

    /** Stops watching new cores (existing watches stay). */
    public static synchronized void uninstall() {
        IommuCore.removeCreationHook(HOOK);
        installed = false;
    }

    /** The watch on {@code core}, creating it if there is none. */
    public static CoreWatch watch(IommuCore core) {
        synchronized (WATCHES) {
            WeakReference<CoreWatch> ref = WATCHES.get(core);
            CoreWatch w = ref == null ? null : ref.get();
            if (w == null) {
                w = new CoreWatch(core, InvariantWatch::record);
                WATCHES.put(core, new WeakReference<>(w));
            }
            return w;
        }
    }

    /** The watch on {@code core}, or null if it is not watched. */
    public static CoreWatch of(IommuCore core) {
        synchronized (WATCHES) {
            WeakReference<CoreWatch> ref = WATCHES.get(core);
            return ref == null ? null : ref.get();
        }
    }

    private static void record(CoreWatch.Report r) {
        synchronized (REPORTS) {
            REPORTS.add(r);
        }
    }

    /** The reports recorded since the last drain, oldest first; clears them. */
    public static List<CoreWatch.Report> drain() {
        synchronized (REPORTS) {
            List<CoreWatch.Report> out = List.copyOf(REPORTS);
            REPORTS.clear();
            return out;
        }
    }

    /** The reports recorded since the last drain, without clearing them. */
    public static List<CoreWatch.Report> pending() {
        synchronized (REPORTS) {
            return List.copyOf(REPORTS);
        }
    }
}
