package org.jiommu.core;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.jiommu.base.Errno;
import org.jiommu.base.IommuException;
import org.jiommu.base.WarningSink;
import org.jiommu.bus.Device;
import org.jiommu.core.spi.CoreServices;
import org.jiommu.core.spi.CookieType;
import org.jiommu.core.spi.DevFeature;
import org.jiommu.core.spi.DomainAttr;
import org.jiommu.core.spi.DevIommuView;
import org.jiommu.core.spi.DomainOps;
import org.jiommu.core.spi.DomainType;
import org.jiommu.core.spi.GroupRef;
import org.jiommu.core.spi.IommuCap;
import org.jiommu.core.spi.IommuDevice;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.core.spi.IommuOps;
import org.jiommu.core.spi.IopfFault;
import org.jiommu.core.spi.IopfQueueRef;
import org.jiommu.core.spi.MmStruct;
import org.jiommu.core.spi.PageResponse;
import org.jiommu.core.spi.ResvRegion;
import org.jiommu.pgtable.IotlbGather;

/**
 * The Linux IOMMU core ({@code drivers/iommu/iommu.c}) for one simulated platform: device probe
 * and release, groups and default domains, attach/detach/replace, DMA ownership and the map/unmap
 * front end, rule by rule and errno by errno as SEMANTICS.md sections 2-7 and 9 describe them.
 * Every public method is named after the kernel function it models.
 *
 * <p><b>Errors.</b> A public call that fails throws {@link IommuException} with the kernel's errno
 * and a message naming the objects, and leaves the core, the driver and memory as they were
 * (except where the kernel itself keeps a side effect, documented at the method). A kernel WARN
 * is recorded ({@link #warnings()}) and the call carries on as the kernel does; void kernel calls
 * that only WARN (releasing what is not held) return normally.
 *
 * <p><b>Lock order</b> (outermost first); a thread may take a lock only if it holds none listed
 * after it:
 * <ol>
 * <li>{@link #probeLock} ({@code iommu_probe_device_lock}): probe, release (the model serialises a
 *     device's add and removal as the driver core does), bus scans, snapshots;</li>
 * <li>the part-2 global locks: the aux lock ({@code AuxEngine.lock}, S05's one lock; RID
 *     attaches of caller domains take its read side), then the SVA lock ({@code iommu_sva_lock}).
 *     Only {@link #snapshot()} holds both;</li>
 * <li>{@link IommuGroup#mutex} ({@code group->mutex}): one group's state; held across the driver
 *     callbacks that change it. Two group mutexes are only ever held together by
 *     {@link #snapshot()}, in ascending group id;</li>
 * <li>driver-internal locks (taken inside driver callbacks);</li>
 * <li>the IOPF locks: an IOPF queue's lock, then a device's fault-parameter lock (the kernel's
 *     {@code queue->lock}, {@code dev->iommu->lock} / {@code fault_param->lock}); fault handlers
 *     run with none of the core's locks held;</li>
 * <li>leaf locks: {@link #registry} (device, group, instance and domain tables), the trace and
 *     warning logs, fault injection. Nothing is called out while holding one.</li>
 * </ol>
 * Drivers are handed the old domain and never call back into the core from a callback (S20): a
 * re-entrant group lock is reported as a warning and refused, and {@link #getDomainForDev} warns
 * when called with the group mutex held (Δ7.0's lockdep assertion).
 *
 * <p>Thread-safe: any public method may be called from any thread.
 */
public final class IommuCore {
    static final String NAME_PREFIX = "D";

    /** {@code IOMMU_NO_PASID}: DMA without a PASID, the RID's domain (SEMANTICS.md 8). */
    public static final int IOMMU_NO_PASID = 0;
    /** {@code IOMMU_FIRST_GLOBAL_PASID}: the global allocator never hands out 0. */
    public static final int IOMMU_FIRST_GLOBAL_PASID = 1;
    /** {@code IOMMU_PASID_INVALID} (0xFFFFFFFF as an unsigned 32-bit PASID). */
    public static final int IOMMU_PASID_INVALID = 0xFFFFFFFF;

    final CoreConfig config;
    final KernelVersion version;

    /** {@code iommu_probe_device_lock}. */
    final ReentrantLock probeLock = new ReentrantLock();

    /** Leaf lock over the tables below. */
    final Object registry = new Object();
    /** Every device the core has heard of, in first-seen order. Guarded by {@link #registry}. */
    private final Map<Device, CoreDevice> devices = new LinkedHashMap<>();
    /** Bus membership in add order ({@code bus_for_each_dev} order). Guarded by {@link #registry}. */
    private final Map<Device.BusType, List<Device>> buses = new LinkedHashMap<>();
    /** {@code iommu_device_list}. Guarded by {@link #registry}. */
    private final List<IommuDevice> iommus = new ArrayList<>();
    /** {@code iommu->singleton_group}. Guarded by {@link #registry}. */
    final Map<IommuDevice, IommuGroup> singletonGroups = new LinkedHashMap<>();
    /** Live groups by id ({@code iommu_group_ida}: lowest free id). Guarded by {@link #registry}. */
    private final TreeMap<Integer, IommuGroup> groups = new TreeMap<>();
    /** Domains allocated through the core and not yet freed, in allocation order. Guarded by {@link #registry}. */
    private final Set<IommuDomain> liveDomains = new LinkedHashSet<>();

    private final AtomicLong domainSeq = new AtomicLong();
    private final AtomicLong traceSeq = new AtomicLong();
    private final List<TraceListener> listeners = new CopyOnWriteArrayList<>();
    /** Guarded by itself. */
    private final List<Warning> warnings = new ArrayList<>();
    /** The last {@value #LOG_KEEP} log lines. Guarded by {@link #warnings}. */
    private final List<TraceEvent> logLines = new ArrayList<>();
    private static final int LOG_KEEP = 10_000;
    private final FaultInjection faults = new FaultInjection();

    /** {@code iommu_def_domain_type}; IDENTITY, DMA or DMA_FQ. */
    private volatile DomainType defDomainType;
    /** {@code iommu_dma_strict}. */
    private volatile boolean dmaStrict;

    final ProbeEngine probe;
    final AttachEngine attach;
    final OwnershipEngine ownership;
    final MapEngine mapEngine;
    /** Part 2 engines: they only keep {@code this}, so they are built as field initialisers. */
    final PasidEngine pasidEngine = new PasidEngine(this);
    /** {@code iommu_global_pasid_ida}: system-wide, i.e. one per simulated platform. */
    final GlobalPasidAllocator globalPasids = new GlobalPasidAllocator();
    final AuxEngine auxEngine = new AuxEngine(this);
    final SvaEngine sva = new SvaEngine(this);
    final IopfEngine iopf = new IopfEngine(this);
    private final CoreServices services = new Services();

    public IommuCore() {
        this(CoreConfig.defaults());
    }

    public IommuCore(CoreConfig config) {
        if (config == null) {
            throw new IllegalArgumentException("config must not be null");
        }
        this.config = config;
        this.version = config.version();
        for (Device.BusType b : Device.BusType.values()) {
            buses.put(b, new ArrayList<>());
        }
        subsysInit();
        this.probe = new ProbeEngine(this);
        this.attach = new AttachEngine(this);
        this.ownership = new OwnershipEngine(this);
        this.mapEngine = new MapEngine(this);
        for (Consumer<IommuCore> hook : CREATION_HOOKS) {
            hook.accept(this);
        }
    }

    /** See {@link #addCreationHook}. */
    private static final List<Consumer<IommuCore>> CREATION_HOOKS = new CopyOnWriteArrayList<>();

    /**
     * Tooling hook: {@code hook} is told of every core constructed from now on, at the end of its
     * constructor, on the constructing thread. The invariant checker's test extension attaches its
     * trace listener to every core this way, so tests need not know about it. Not for model code.
     */
    public static void addCreationHook(Consumer<IommuCore> hook) {
        CREATION_HOOKS.add(java.util.Objects.requireNonNull(hook));
    }

    /** Undoes {@link #addCreationHook}. */
    public static void removeCreationHook(Consumer<IommuCore> hook) {
        CREATION_HOOKS.remove(hook);
    }

    /**
     * {@code iommu_subsys_init} with the command-line parsers: the global default domain type
     * (SEMANTICS.md 2.1).
     */
    private void subsysInit() {
        dmaStrict = config.cmdlineStrict() != null ? config.cmdlineStrict() : config.defaultStrict();
        DomainType t;
        if (config.cmdlinePassthrough() != null) {
            t = config.cmdlinePassthrough() ? DomainType.IDENTITY : DomainType.DMA;
        } else {
            t = config.defaultPassthrough() ? DomainType.IDENTITY : DomainType.DMA;
            // Memory encryption rules out a build-default passthrough, not an explicit one.
            if (t == DomainType.IDENTITY && config.memEncrypt()) {
                log("iommu_subsys_init", "Memory encryption detected - Disabling default IOMMU Passthrough");
                t = DomainType.DMA;
            }
        }
        if (t != DomainType.IDENTITY && !dmaStrict) {
            t = DomainType.DMA_FQ;
        }
        defDomainType = t;
        log("iommu_subsys_init", "Default domain type: " + t
                + (config.cmdlinePassthrough() != null ? " (set via kernel command line)" : ""));
    }

    // ------------------------------------------------------------------------------------------
    // Configuration and observability
    // ------------------------------------------------------------------------------------------

    public CoreConfig config() {
        return config;
    }

    public KernelVersion version() {
        return version;
    }

    /** {@code iommu_def_domain_type}. */
    public DomainType defDomainType() {
        return defDomainType;
    }

    /** {@code iommu_dma_strict}. */
    public boolean dmaStrict() {
        return dmaStrict;
    }

    /** {@code iommu_default_passthrough()}. */
    public boolean defaultPassthrough() {
        return defDomainType == DomainType.IDENTITY;
    }

    /** {@code iommu_set_dma_strict}: strict invalidation; a DMA_FQ global default becomes DMA. */
    public void setDmaStrict() {
        call("iommu_set_dma_strict", () -> {
            dmaStrict = true;
            if (defDomainType == DomainType.DMA_FQ) {
                defDomainType = DomainType.DMA;
            }
            return null;
        });
    }

    /** What drivers may call (the kernel's exported helpers); hand it to a driver at construction. */
    public CoreServices services() {
        return services;
    }

    public void addTraceListener(TraceListener l) {
        listeners.add(java.util.Objects.requireNonNull(l));
    }

    public void removeTraceListener(TraceListener l) {
        listeners.remove(l);
    }

    /** Every WARN recorded so far, oldest first. */
    public List<Warning> warnings() {
        synchronized (warnings) {
            return List.copyOf(warnings);
        }
    }

    public int warningCount() {
        synchronized (warnings) {
            return warnings.size();
        }
    }

    /** The recent kernel log lines (dev_warn, dev_err, pr_info ...), oldest first. */
    public List<TraceEvent> logLines() {
        synchronized (warnings) {
            return List.copyOf(logLines);
        }
    }

    /**
     * {@code fail_nth}: the Nth allocation from now (1-based) at any modelled allocation site of
     * the core or of a driver using {@link CoreServices#shouldFailAlloc} fails with -ENOMEM; 0
     * disarms. Page-table pages are counted by the frame allocator's own knob.
     */
    public void failNthAllocation(long n) {
        faults.failNth(n);
    }

    /** True while an armed {@link #failNthAllocation} has not fired yet. */
    public boolean failNthArmed() {
        return faults.armed();
    }

    boolean shouldFailAlloc(String site) {
        if (faults.shouldFail()) {
            log("fail_nth", "injected allocation failure at " + site);
            return true;
        }
        return false;
    }

    void warn(String where, String message) {
        long seq = traceSeq.incrementAndGet();
        synchronized (warnings) {
            warnings.add(new Warning(seq, where, message));
        }
        emit(new TraceEvent(seq, TraceEvent.Kind.WARN, where, message));
    }

    void log(String where, String message) {
        TraceEvent e = new TraceEvent(traceSeq.incrementAndGet(), TraceEvent.Kind.LOG, where, message);
        synchronized (warnings) {
            logLines.add(e);
            if (logLines.size() > LOG_KEEP) {
                logLines.subList(0, logLines.size() - LOG_KEEP).clear();
            }
        }
        emit(e);
    }

    boolean tracing() {
        return !listeners.isEmpty();
    }

    void trace(TraceEvent.Kind kind, String function, String text) {
        if (tracing()) {
            emit(new TraceEvent(traceSeq.incrementAndGet(), kind, function, text));
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
            sb.append(a instanceof Long ? String.format("%#x", (Long) a) : String.valueOf(a));
        }
        return sb.append(')').toString();
    }

    static IommuException err(Errno errno, String message) {
        return new IommuException(errno, message);
    }

    /** An exception for a driver's negative return value. */
    static IommuException driverErr(int ret, String what) {
        Errno e;
        try {
            e = Errno.fromCode(ret);
        } catch (IllegalArgumentException unknown) {
            e = Errno.ENODEV; // SEMANTICS.md 2.7: unknown attach errors are treated like -ENODEV
        }
        return new IommuException(e, what + " returned " + ret);
    }

    // ------------------------------------------------------------------------------------------
    // Registries (leaf lock)
    // ------------------------------------------------------------------------------------------

    CoreDevice cdev(Device dev) {
        synchronized (registry) {
            return devices.get(dev);
        }
    }

    CoreDevice cdevCreate(Device dev) {
        synchronized (registry) {
            return devices.computeIfAbsent(dev, CoreDevice::new);
        }
    }

    /** {@code dev->iommu}. */
    DevIommu devIommuOf(Device dev) {
        CoreDevice c = cdev(dev);
        return c == null ? null : c.iommu;
    }

    /** {@code dev_has_iommu}: probed by a driver ({@code iommu_dev} set). */
    boolean devHasIommu(Device dev) {
        DevIommu di = devIommuOf(dev);
        return di != null && di.iommuDev != null;
    }

    /** {@code dev->iommu_group} (no reference taken: Java keeps the object alive). */
    IommuGroup groupOf(Device dev) {
        CoreDevice c = cdev(dev);
        return c == null ? null : c.group;
    }

    List<Device> busDevices(Device.BusType bus) {
        synchronized (registry) {
            return List.copyOf(buses.get(bus));
        }
    }

    boolean addToBus(Device dev) {
        synchronized (registry) {
            CoreDevice c = devices.computeIfAbsent(dev, CoreDevice::new);
            if (c.onBus) {
                return false;
            }
            c.onBus = true;
            buses.get(dev.busType()).add(dev);
            return true;
        }
    }

    void removeFromBus(Device dev) {
        synchronized (registry) {
            CoreDevice c = devices.get(dev);
            if (c != null) {
                c.onBus = false;
            }
            buses.get(dev.busType()).remove(dev);
        }
    }

    boolean isRegistered(IommuDevice iommu) {
        synchronized (registry) {
            return iommus.contains(iommu);
        }
    }

    void addIommu(IommuDevice iommu) {
        synchronized (registry) {
            iommus.add(iommu);
        }
    }

    void removeIommu(IommuDevice iommu) {
        synchronized (registry) {
            iommus.remove(iommu);
        }
    }

    List<CoreDevice> allDevices() {
        synchronized (registry) {
            return List.copyOf(devices.values());
        }
    }

    /** {@code iommu_group_alloc}: a new group with the lowest free id, one reference. */
    IommuGroup groupAlloc() {
        if (shouldFailAlloc("iommu_group_alloc")) {
            throw err(Errno.ENOMEM, "iommu_group_alloc: out of memory");
        }
        IommuGroup g;
        synchronized (registry) {
            // ida_alloc: the lowest free id. With no hole below the largest (no group released
            // yet, the usual case) that is the count; only a hole costs a scan (64 K probes
            // made this quadratic: docs/PERFORMANCE.md, scale).
            int id = 0;
            if (groups.isEmpty() || groups.lastKey() == groups.size() - 1) {
                id = groups.size();
            } else {
                for (int used : groups.keySet()) {
                    if (used != id) {
                        break;
                    }
                    id++;
                }
            }
            g = new IommuGroup(id);
            groups.put(id, g);
        }
        trace(TraceEvent.Kind.LOG, "iommu_group_alloc", "group " + g.id());
        return g;
    }

    /** {@code iommu_group_ref_get}. */
    IommuGroup groupRefGet(IommuGroup g) {
        synchronized (registry) {
            if (g.released) {
                throw new IllegalStateException("reference to released " + g);
            }
            g.refs++;
        }
        return g;
    }

    /** {@code iommu_group_put}: the last reference releases the group (iommu_group_release). */
    void groupPut(IommuGroup g) {
        boolean release;
        synchronized (registry) {
            release = --g.refs == 0;
            if (release) {
                g.released = true;
                groups.remove(g.id());
            }
        }
        if (release) {
            // iommu_group_release: the domains must have gone with the last device
            if (g.defaultDomain != null) {
                warn("iommu_group_release", g + " released with default domain " + g.defaultDomain + " still set");
            }
            if (g.blockingDomain != null) {
                warn("iommu_group_release", g + " released with blocking domain " + g.blockingDomain + " still set");
            }
            trace(TraceEvent.Kind.LOG, "iommu_group_release", "group " + g.id());
        }
    }

    /** Whether {@code g} is a group the core gave out and has not released (no copy of the registry). */
    boolean isLiveGroup(IommuGroup g) {
        synchronized (registry) {
            return groups.get(g.id()) == g;
        }
    }

    List<IommuGroup> liveGroups() {
        synchronized (registry) {
            return List.copyOf(groups.values());
        }
    }

    // ------------------------------------------------------------------------------------------
    // Argument checks shared by the public API
    // ------------------------------------------------------------------------------------------

    static void requireDevice(Device dev, String fn) {
        if (dev == null) {
            throw err(Errno.EINVAL, fn + ": device is null");
        }
    }

    void requireDomain(IommuDomain d, String fn) {
        if (d == null) {
            throw err(Errno.EINVAL, fn + ": domain is null");
        }
        if (!d.isInitialized()) {
            throw err(Errno.EINVAL, fn + ": domain " + d + " was never initialised by the core");
        }
        if (d.isFreed()) {
            throw err(Errno.EINVAL, fn + ": domain " + d + " was freed (use after free)");
        }
    }

    void requireGroup(IommuGroup g, String fn) {
        if (g == null) {
            throw err(Errno.EINVAL, fn + ": group is null");
        }
        synchronized (registry) {
            if (g.released) {
                throw err(Errno.ENODEV, fn + ": " + g + " was released");
            }
            if (groups.get(g.id()) != g) {
                throw err(Errno.EINVAL, fn + ": " + g + " does not belong to this core");
            }
        }
    }

    /**
     * Takes {@code group->mutex}. A thread already holding it is a driver calling back into the
     * core from a callback: a self-deadlock in the kernel, refused here (S20).
     */
    void lock(IommuGroup g) {
        if (g.mutex.isHeldByCurrentThread()) {
            warn("mutex_lock", "recursive locking of " + g + " mutex: a callback called back into the core"
                    + " (a self-deadlock in the kernel)");
            throw new IllegalStateException("recursive locking of " + g + " mutex");
        }
        g.mutex.lock();
    }

    /**
     * Takes {@code group->mutex} for a call naming {@code dev}, and tells whether {@code dev} is
     * still a member: a release may have taken it out between the caller's group lookup and the
     * lock (the kernel's callers hold a reference on the group, not on its membership). On false
     * the mutex is released again; on true the caller holds it and must unlock.
     */
    boolean lockMember(IommuGroup g, Device dev) {
        lock(g);
        if (g.devices.contains(dev)) {
            return true;
        }
        g.mutex.unlock();
        return false;
    }

    /**
     * After taking the mutex: the group still has members. A caller may hold a group whose last
     * device left meanwhile (the kernel keeps such a group alive by reference); -ENODEV then.
     */
    static void requireMembers(IommuGroup g, String fn) {
        if (g.devices.isEmpty()) {
            throw err(Errno.ENODEV, fn + ": " + g + " has no devices left");
        }
    }

    // ------------------------------------------------------------------------------------------
    // Domains: allocation, init, free (SEMANTICS.md 2.5, 3)
    // ------------------------------------------------------------------------------------------

    /** {@code iommu_domain_init} plus the core's bookkeeping of live domains. */
    void domainInit(IommuDomain d, DomainType type, IommuOps ops) {
        if (d.isStatic()) {
            warn("iommu_domain_init", "driver " + ops + " returned static domain " + d + " from an alloc op");
            throw err(Errno.EINVAL, "driver " + ops + " returned static domain " + d + " from an alloc op");
        }
        d.coreInit(type, ops, NAME_PREFIX + domainSeq.incrementAndGet());
        synchronized (registry) {
            liveDomains.add(d);
        }
        trace(TraceEvent.Kind.LOG, "iommu_domain_alloc", d + " type " + type + " by " + ops);
    }

    /**
     * {@code __iommu_paging_domain_alloc_flags}: the op choice of SEMANTICS.md 3.
     */
    IommuDomain pagingDomainAllocInternal(Device dev, DomainType type, int flags) {
        DevIommu di = devIommuOf(dev);
        if (di == null || di.iommuDev == null) {
            throw err(Errno.ENODEV, dev + " has no IOMMU");
        }
        IommuOps ops = di.ops();
        IommuDomain d;
        String op;
        if (ops.domainAllocPaging() != null && flags == 0) {
            op = "domain_alloc_paging";
            d = driverAlloc(op, dev, () -> ops.domainAllocPaging().domainAllocPaging(dev));
        } else if (ops.domainAllocPagingFlags() != null) {
            op = "domain_alloc_paging_flags";
            d = driverAlloc(op, dev, () -> ops.domainAllocPagingFlags().domainAllocPagingFlags(dev, flags));
        } else {
            throw err(Errno.EOPNOTSUPP, "driver " + ops + " cannot allocate a paging domain with flags "
                    + String.format("%#x", flags) + " for " + dev);
        }
        if (d == null) {
            throw err(Errno.ENOMEM, "driver " + ops + " " + op + " for " + dev + " returned NULL");
        }
        domainInit(d, type, ops);
        return d;
    }

    /** Calls a pointer-returning driver op, tracing it; an ERR_PTR comes back as IommuException. */
    IommuDomain driverAlloc(String op, Device dev, Supplier<IommuDomain> body) {
        try {
            IommuDomain d = body.get();
            trace(TraceEvent.Kind.DRIVER, op, "(" + dev + ") = " + d);
            return d;
        } catch (IommuException e) {
            trace(TraceEvent.Kind.DRIVER, op, "(" + dev + ") = " + e.errno().neg() + "(" + e.errno() + ")");
            throw e;
        }
    }

    /** {@code __iommu_alloc_identity_domain}. */
    IommuDomain identityDomainAlloc(Device dev) {
        IommuOps ops = devIommuOf(dev).ops();
        if (ops.identityDomain() != null) {
            return ops.identityDomain(); // static: returned as is, not initialised
        }
        if (ops.domainAllocIdentity() == null) {
            throw err(Errno.EOPNOTSUPP, "driver " + ops + " has no identity domain for " + dev);
        }
        IommuDomain d = driverAlloc("domain_alloc_identity", dev, () -> ops.domainAllocIdentity().domainAllocIdentity(dev));
        if (d == null) {
            throw err(Errno.ENOMEM, "driver " + ops + " domain_alloc_identity for " + dev + " returned NULL");
        }
        domainInit(d, DomainType.IDENTITY, ops);
        return d;
    }

    /**
     * {@code iommu_domain_free}: release the cookie, call the driver's free. Static domains have
     * no free op, so freeing one changes nothing (I-STATIC).
     */
    void domainFreeInternal(IommuDomain d) {
        if (d == null || d.isStatic() || d.isFreed()) {
            return;
        }
        d.setCookieType(CookieType.NONE);
        iopf.clearHandler(d);
        DomainOps.Free f = d.ops().free();
        if (f != null) {
            f.free(d);
            trace(TraceEvent.Kind.DRIVER, "free", "(" + d + ")");
        }
        d.markFreed();
        synchronized (registry) {
            liveDomains.remove(d);
        }
    }

    /** {@code domain_iommu_ops_compatible} (v6.16+: static blocked/identity domains qualify). */
    static boolean domainOpsCompatible(IommuOps ops, IommuDomain d) {
        return d.owner() == ops || d == ops.blockedDomain() || d == ops.identityDomain();
    }

    /** Where a domain is still in use, for {@link #domainFree}; null if nowhere. */
    private String domainUser(IommuDomain d) {
        if (auxEngine.isAux(d)) {
            return "it is attached as an aux domain";
        }
        for (IommuGroup g : liveGroups()) {
            if (g.domain == d) {
                return g + " is attached to it";
            }
            if (g.defaultDomain == d) {
                return "it is the default domain of " + g;
            }
            if (g.blockingDomain == d) {
                return "it is the blocking domain of " + g;
            }
            for (Map.Entry<Integer, PasidEntry> e : g.pasidArray.entrySet()) {
                if (e.getValue().domain() == d) {
                    return g + " has it at PASID " + e.getKey();
                }
            }
        }
        return null;
    }

    // ------------------------------------------------------------------------------------------
    // Public API: domains
    // ------------------------------------------------------------------------------------------

    /** {@code iommu_paging_domain_alloc}: an UNMANAGED domain from the device's driver. */
    public IommuDomain pagingDomainAlloc(Device dev) {
        return pagingDomainAllocFlags(dev, 0);
    }

    /** {@code iommu_paging_domain_alloc_flags}: -ENODEV without an IOMMU, -EOPNOTSUPP, -ENOMEM. */
    public IommuDomain pagingDomainAllocFlags(Device dev, int flags) {
        return call("iommu_paging_domain_alloc_flags", () -> {
            requireDevice(dev, "iommu_paging_domain_alloc");
            return pagingDomainAllocInternal(dev, DomainType.UNMANAGED, flags);
        }, dev, flags);
    }

    /**
     * {@code iommu_domain_free}. The kernel trusts its caller; the model refuses what would be a
     * use-after-free or a static-domain free: -EINVAL for a static or already freed domain, -EBUSY
     * (changing nothing) for a domain still attached, default, blocking or in a PASID slot (S09).
     */
    public void domainFree(IommuDomain d) {
        call("iommu_domain_free", () -> {
            if (d == null) {
                throw err(Errno.EINVAL, "iommu_domain_free: domain is null");
            }
            if (d.isStatic()) {
                throw err(Errno.EINVAL, "iommu_domain_free: " + d + " is a static domain of its driver");
            }
            requireDomain(d, "iommu_domain_free");
            String user = domainUser(d);
            if (user != null) {
                throw err(Errno.EBUSY, "iommu_domain_free: " + d + " is in use: " + user);
            }
            domainFreeInternal(d);
            return null;
        }, d);
    }

    /** Domains allocated through the core and not yet freed (static domains are not listed). */
    public List<IommuDomain> liveDomains() {
        synchronized (registry) {
            return List.copyOf(liveDomains);
        }
    }

    /** {@code device_iommu_capable}: false without an IOMMU or a {@code capable} op. */
    public boolean deviceIommuCapable(Device dev, IommuCap cap) {
        requireDevice(dev, "device_iommu_capable");
        if (cap == null) {
            throw err(Errno.EINVAL, "device_iommu_capable: capability is null");
        }
        DevIommu di = devIommuOf(dev);
        if (di == null || di.iommuDev == null || di.ops().capable() == null) {
            return false;
        }
        return di.ops().capable().capable(dev, cap);
    }

    // ------------------------------------------------------------------------------------------
    // Public API: IOMMU instances, firmware, buses, probe and release (SEMANTICS.md 2.2, 4, 5)
    // ------------------------------------------------------------------------------------------

    /**
     * {@code iommu_device_register}: link the instance and probe every device on every bus
     * (platform, then PCI); a probe error unregisters it again and is returned.
     */
    public void iommuDeviceRegister(IommuDevice iommu) {
        call("iommu_device_register", () -> {
            probe.iommuDeviceRegister(iommu);
            return null;
        }, iommu);
    }

    /** {@code iommu_device_unregister}: release every device it translates, unlink it. */
    public void iommuDeviceUnregister(IommuDevice iommu) {
        call("iommu_device_unregister", () -> {
            probe.iommuDeviceUnregister(iommu);
            return null;
        }, iommu);
    }

    /** Registered instances in registration order. */
    public List<IommuDevice> iommuDevices() {
        synchronized (registry) {
            return List.copyOf(iommus);
        }
    }

    /**
     * {@code iommu_fwspec_init} + {@code iommu_fwspec_add_ids}: firmware (DT {@code iommus}, IORT,
     * DMAR scope) says which IOMMU instance translates {@code dev} and with which IDs. The model
     * keeps the fwspec across release, as firmware describes a re-added device again.
     * -EBUSY if the device is probed already, -EINVAL on null arguments.
     */
    public void fwspecInit(Device dev, IommuDevice iommu, List<Integer> ids) {
        call("iommu_fwspec_init", () -> {
            requireDevice(dev, "iommu_fwspec_init");
            if (iommu == null || ids == null) {
                throw err(Errno.EINVAL, "iommu_fwspec_init: " + dev + ": IOMMU instance and ids must be given");
            }
            CoreDevice c = cdevCreate(dev);
            if (c.iommu != null) {
                throw err(Errno.EBUSY, "iommu_fwspec_init: " + dev + " is already probed by " + c.iommu.iommuDev);
            }
            c.fwspecIds = List.copyOf(ids);
            c.fwspecIommu = iommu;
            return null;
        }, dev, iommu, ids);
    }

    public void fwspecInit(Device dev, IommuDevice iommu) {
        fwspecInit(dev, iommu, List.of());
    }

    /** A device present on its bus at boot: on the bus, not probed (a later register or scan probes it). -EEXIST if already there. */
    public void busAddDevice(Device dev) {
        call("bus_add_device", () -> {
            requireDevice(dev, "bus_add_device");
            if (!addToBus(dev)) {
                throw err(Errno.EEXIST, dev + " is already on its bus");
            }
            return null;
        }, dev);
    }

    /**
     * {@code device_add} of a hot-plugged device: it joins its bus and the IOMMU bus notifier
     * probes it. The kernel only logs a probe error (the device stays on the bus without an
     * IOMMU); the model also stays that way but reports the probe's errno to the caller.
     */
    public void deviceAdd(Device dev) {
        call("device_add", () -> {
            requireDevice(dev, "device_add");
            if (!addToBus(dev)) {
                throw err(Errno.EEXIST, dev + " is already on its bus");
            }
            try {
                probe.probeDevice(dev);
            } catch (IommuException e) {
                log("iommu_bus_notifier", dev + ": IOMMU probe failed: " + e.getMessage());
                throw e;
            }
            return null;
        }, dev);
    }

    /** {@code device_del}: the bus notifier releases the device, then it leaves its bus. -ENODEV if not on a bus. */
    public void deviceDel(Device dev) {
        call("device_del", () -> {
            requireDevice(dev, "device_del");
            CoreDevice c = cdev(dev);
            if (c == null || !c.onBus) {
                throw err(Errno.ENODEV, dev + " is not on its bus");
            }
            probe.releaseDevice(dev);
            removeFromBus(dev);
            return null;
        }, dev);
    }

    /** {@code bus_iommu_probe}: probe every device of one bus, then set up the queued groups' default domains. */
    public void busIommuProbe(Device.BusType bus) {
        call("bus_iommu_probe", () -> {
            if (bus == null) {
                throw err(Errno.EINVAL, "bus_iommu_probe: bus is null");
            }
            probe.busIommuProbe(bus);
            return null;
        }, bus);
    }

    /** {@code iommu_probe_device}: idempotent; errors as SEMANTICS.md 4.1/4.2. */
    public void probeDevice(Device dev) {
        call("iommu_probe_device", () -> {
            requireDevice(dev, "iommu_probe_device");
            probe.probeDevice(dev);
            return null;
        }, dev);
    }

    /** {@code iommu_release_device}: release domain, {@code release_device}, group teardown when it empties. */
    public void releaseDevice(Device dev) {
        call("iommu_release_device", () -> {
            requireDevice(dev, "iommu_release_device");
            probe.releaseDevice(dev);
            return null;
        }, dev);
    }

    /** {@code dev->iommu}: the core's per-device IOMMU state, or null (not probed / released). */
    public DevIommu devIommu(Device dev) {
        requireDevice(dev, "dev_iommu");
        return devIommuOf(dev);
    }

    /** {@code dev_has_iommu}. */
    public boolean deviceHasIommu(Device dev) {
        requireDevice(dev, "dev_has_iommu");
        return devHasIommu(dev);
    }

    /** {@code dev->dma_iommu}: the DMA API translates through the IOMMU (default domain is a DMA domain). */
    public boolean deviceDmaIommu(Device dev) {
        requireDevice(dev, "dev_dma_iommu");
        CoreDevice c = cdev(dev);
        return c != null && c.dmaIommu;
    }

    /** Devices on their bus, in bus order (platform bus first, as {@code iommu_buses}). */
    public List<Device> busDevices() {
        List<Device> out = new ArrayList<>();
        for (Device.BusType b : Device.BusType.values()) {
            if (b == Device.BusType.PCI) {
                continue;
            }
            out.addAll(busDevices(b));
        }
        out.addAll(busDevices(Device.BusType.PCI));
        return out;
    }

    // ------------------------------------------------------------------------------------------
    // Public API: groups
    // ------------------------------------------------------------------------------------------

    /** {@code iommu_group_get}: the device's group, or null if it has none. */
    public IommuGroup groupGet(Device dev) {
        requireDevice(dev, "iommu_group_get");
        return groupOf(dev);
    }

    /** {@code iommu_group_id} of the device's group; -ENODEV if it has none. */
    public int groupId(Device dev) {
        requireDevice(dev, "iommu_group_id");
        IommuGroup g = groupOf(dev);
        if (g == null) {
            throw err(Errno.ENODEV, dev + " has no IOMMU group");
        }
        return g.id();
    }

    /** Live groups in id order. */
    public List<IommuGroup> groups() {
        return liveGroups();
    }

    /** {@code iommu_group_default_domain}. */
    public IommuDomain groupDefaultDomain(IommuGroup g) {
        requireGroup(g, "iommu_group_default_domain");
        return g.defaultDomain;
    }

    /** {@code iommu_get_dma_domain}: the device's default domain (no checks beyond a group). */
    public IommuDomain getDmaDomain(Device dev) {
        requireDevice(dev, "iommu_get_dma_domain");
        IommuGroup g = groupOf(dev);
        return g == null ? null : g.defaultDomain;
    }

    /** sysfs {@code type} read: the default domain's type name, or {@code unknown}. */
    public String groupShowType(IommuGroup g) {
        requireGroup(g, "iommu_group_show_type");
        return probe.groupShowType(g);
    }

    /**
     * sysfs {@code type} write ({@code iommu_group_store_type}): {@code identity}, {@code DMA},
     * {@code DMA-FQ} or {@code auto}. Returns the byte count on success.
     *
     * @param capSysAdmin the writer has CAP_SYS_ADMIN and CAP_SYS_RAWIO (else -EACCES)
     */
    public int groupStoreType(IommuGroup g, String buf, boolean capSysAdmin) {
        return call("iommu_group_store_type", () -> probe.groupStoreType(g, buf, capSysAdmin), g, buf);
    }

    /** {@code iommu_get_resv_regions}: the driver's list for the device (empty without the op or an IOMMU). */
    public List<ResvRegion> getResvRegions(Device dev) {
        requireDevice(dev, "iommu_get_resv_regions");
        return probe.getResvRegions(dev);
    }

    /** {@code iommu_get_group_resv_regions}: the sorted union, same-type overlaps merged (SEMANTICS.md 2.8). */
    public List<ResvRegion> getGroupResvRegions(IommuGroup g) {
        return call("iommu_get_group_resv_regions", () -> {
            requireGroup(g, "iommu_get_group_resv_regions");
            return probe.groupResvRegions(g);
        }, g);
    }

    /** The sysfs {@code reserved_regions} file. */
    public String groupShowResvRegions(IommuGroup g) {
        StringBuilder sb = new StringBuilder();
        for (ResvRegion r : getGroupResvRegions(g)) {
            sb.append(r.sysfsLine()).append('\n');
        }
        return sb.toString();
    }

    // ------------------------------------------------------------------------------------------
    // Public API: attach, detach, replace (SEMANTICS.md 6)
    // ------------------------------------------------------------------------------------------

    /** {@code iommu_attach_device}: singleton groups only (S13). */
    public void attachDevice(IommuDomain d, Device dev) {
        call("iommu_attach_device", () -> {
            auxEngine.ridAttach(d, "iommu_attach_device", () -> attach.attachDevice(d, dev));
            return null;
        }, d, dev);
    }

    /** {@code iommu_detach_device}: WARNs and does nothing unless {@code d} is the singleton group's domain. */
    public void detachDevice(IommuDomain d, Device dev) {
        call("iommu_detach_device", () -> {
            attach.detachDevice(d, dev);
            return null;
        }, d, dev);
    }

    /** {@code iommu_attach_group}. */
    public void attachGroup(IommuDomain d, IommuGroup g) {
        call("iommu_attach_group", () -> {
            auxEngine.ridAttach(d, "iommu_attach_group", () -> attach.attachGroup(d, g));
            return null;
        }, d, g);
    }

    /** {@code iommu_detach_group}: back to the core domain (blocking if owned, else default); {@code d} is not checked. */
    public void detachGroup(IommuDomain d, IommuGroup g) {
        call("iommu_detach_group", () -> {
            attach.detachGroup(d, g);
            return null;
        }, d, g);
    }

    /**
     * {@code iommu_group_replace_domain} (IOMMUFD-internal until v6.14, then folded into the
     * handle API): switch the group to {@code d} with no -EBUSY check. Kept for scenarios.
     */
    public void groupReplaceDomain(IommuGroup g, IommuDomain d) {
        call("iommu_group_replace_domain", () -> {
            auxEngine.ridAttach(d, "iommu_group_replace_domain", () -> attach.groupReplaceDomain(g, d));
            return null;
        }, g, d);
    }

    /** {@code iommu_attach_group_handle}: attach and store {@code h} in PASID slot 0. */
    public void attachGroupHandle(IommuDomain d, IommuGroup g, AttachHandle h) {
        call("iommu_attach_group_handle", () -> {
            auxEngine.ridAttach(d, "iommu_attach_group_handle", () -> attach.attachGroupHandle(d, g, h));
            return null;
        }, d, g, h);
    }

    /** {@code iommu_detach_group_handle}: core domain back, slot 0 erased. */
    public void detachGroupHandle(IommuDomain d, IommuGroup g) {
        call("iommu_detach_group_handle", () -> {
            attach.detachGroupHandle(d, g);
            return null;
        }, d, g);
    }

    /** {@code iommu_replace_group_handle}: switch to {@code d} (no -EBUSY check), slot 0 = {@code h}. */
    public void replaceGroupHandle(IommuGroup g, IommuDomain d, AttachHandle h) {
        call("iommu_replace_group_handle", () -> {
            auxEngine.ridAttach(d, "iommu_replace_group_handle", () -> attach.replaceGroupHandle(g, d, h));
            return null;
        }, g, d, h);
    }

    /**
     * {@code iommu_attach_handle_get}: the handle at {@code pasid}; -ENOENT if none (or a bare
     * domain), -EBUSY if {@code type} is given and the handle's domain is of another type.
     *
     * @param type the wanted domain type, or null for any ({@code 0})
     */
    public AttachHandle attachHandleGet(IommuGroup g, int pasid, DomainType type) {
        return call("iommu_attach_handle_get", () -> attach.attachHandleGet(g, pasid, type), g, pasid, type);
    }

    /** {@code iommu_deferred_attach}: the DMA layer's first use of a deferred device. */
    public void deferredAttach(Device dev, IommuDomain d) {
        call("iommu_deferred_attach", () -> {
            attach.deferredAttach(dev, d);
            return null;
        }, dev, d);
    }

    /**
     * {@code iommu_get_domain_for_dev}: the group's domain (null without a group). Δ7.0: called
     * with the group mutex held it records the lockdep warning (drivers must use
     * {@link CoreServices#driverGetDomainForDev}).
     */
    public IommuDomain getDomainForDev(Device dev) {
        requireDevice(dev, "iommu_get_domain_for_dev");
        return attach.getDomainForDev(dev);
    }

    /** {@code iommu_driver_get_domain_for_dev} (Δ7.0): for drivers inside callbacks; warns without the mutex. */
    public IommuDomain driverGetDomainForDev(Device dev) {
        requireDevice(dev, "iommu_driver_get_domain_for_dev");
        return attach.driverGetDomainForDev(dev);
    }

    /** {@code pci_dev_reset_iommu_prepare} (Δ7.0): park the device on the blocking domain for a reset. */
    public void pciDevResetIommuPrepare(Device dev) {
        call("pci_dev_reset_iommu_prepare", () -> {
            attach.resetPrepare(dev);
            return null;
        }, dev);
    }

    /** {@code pci_dev_reset_iommu_done} (Δ7.0): put the device back on the group's domain and PASIDs. */
    public void pciDevResetIommuDone(Device dev) {
        call("pci_dev_reset_iommu_done", () -> {
            attach.resetDone(dev);
            return null;
        }, dev);
    }

    // ------------------------------------------------------------------------------------------
    // Public API: PASID attachments (SEMANTICS.md 8.1, 8.2)
    // ------------------------------------------------------------------------------------------

    /**
     * {@code iommu_attach_device_pasid}: install {@code d} at {@code pasid} on every PASID-capable
     * member of the device's group and store it in the group's PASID slot (with {@code h}, whose
     * domain the core sets, or bare when {@code h} is null). -ENODEV without a group or IOMMU;
     * -EOPNOTSUPP without the domain's or the blocked domain's {@code set_dev_pasid}; -EINVAL for an
     * incompatible domain, PASID 0, a device without PASIDs or a PASID beyond a member's range;
     * -EBUSY for an occupied slot or (Δ7.0) a reset in progress; the driver's errno after rollback.
     */
    public void attachDevicePasid(IommuDomain d, Device dev, int pasid, AttachHandle h) {
        call("iommu_attach_device_pasid", () -> {
            pasidEngine.attachDevicePasid(d, dev, pasid, h);
            return null;
        }, d, dev, pasid, h);
    }

    /** {@link #attachDevicePasid(IommuDomain, Device, int, AttachHandle)} without a handle. */
    public void attachDevicePasid(IommuDomain d, Device dev, int pasid) {
        attachDevicePasid(d, dev, pasid, null);
    }

    /**
     * {@code iommu_replace_device_pasid} (iommufd-internal): switch an attached PASID to {@code d}
     * with handle {@code h}; only the handle changes when {@code d} is already there. -EINVAL for
     * an empty slot, a null handle or the very handle already stored (WARN); on a driver failure
     * the old domain stays on every member.
     */
    public void replaceDevicePasid(IommuDomain d, Device dev, int pasid, AttachHandle h) {
        call("iommu_replace_device_pasid", () -> {
            pasidEngine.replaceDevicePasid(d, dev, pasid, h);
            return null;
        }, d, dev, pasid, h);
    }

    /**
     * {@code iommu_detach_device_pasid}: the blocked domain's {@code set_dev_pasid} on every
     * PASID-capable member, then the slot is erased. A PASID never attached is not an error.
     */
    public void detachDevicePasid(IommuDomain d, Device dev, int pasid) {
        call("iommu_detach_device_pasid", () -> {
            pasidEngine.detachDevicePasid(d, dev, pasid);
            return null;
        }, d, dev, pasid);
    }

    /**
     * {@code iommu_alloc_global_pasid}: the lowest free PASID in {@code [1, max_pasids - 1]} of
     * {@code dev} from the platform-wide namespace; {@link #IOMMU_PASID_INVALID} when the device
     * has no PASIDs, the range is exhausted or the allocation fails (fail_nth). Never 0
     * (I-NO-PASID-0). -ENODEV for a device without an IOMMU (the kernel would dereference NULL).
     */
    public int allocGlobalPasid(Device dev) {
        return call("iommu_alloc_global_pasid", () -> {
            requireDevice(dev, "iommu_alloc_global_pasid");
            DevIommu di = devIommuOf(dev);
            if (di == null || di.iommuDev == null) {
                throw err(Errno.ENODEV, "iommu_alloc_global_pasid: " + dev + " has no IOMMU");
            }
            return allocGlobalPasidInternal(di.maxPasids, "iommu_alloc_global_pasid " + dev);
        }, dev);
    }

    /** The allocator with the kernel's reading of {@code max_pasids == 0} and of an IDA OOM. */
    int allocGlobalPasidInternal(int maxPasids, String site) {
        if (maxPasids == 0) {
            return IOMMU_PASID_INVALID; // max_pasids == 0: the device cannot issue PASIDs
        }
        if (shouldFailAlloc("ida_alloc_range " + site)) {
            return IOMMU_PASID_INVALID;
        }
        return globalPasids.alloc(maxPasids);
    }

    /**
     * {@code iommu_free_global_pasid}: return a PASID to the namespace. WARN and ignore for
     * {@link #IOMMU_PASID_INVALID} and (as {@code ida_free}) for an id that is not allocated.
     */
    public void freeGlobalPasid(int pasid) {
        call("iommu_free_global_pasid", () -> {
            freeGlobalPasidInternal(pasid, "iommu_free_global_pasid");
            return null;
        }, pasid);
    }

    void freeGlobalPasidInternal(int pasid, String fn) {
        if (pasid == IOMMU_PASID_INVALID) {
            warn(fn, "freeing IOMMU_PASID_INVALID");
            return;
        }
        if (!globalPasids.free(pasid)) {
            warn(fn, "ida_free called for PASID " + Integer.toUnsignedString(pasid) + " which is not allocated");
        }
    }

    /** Allocated global PASIDs, each with the {@code max_pasids} it was allocated under (I-PASID-RANGE). */
    public Map<Integer, Integer> globalPasids() {
        return globalPasids.allocated();
    }

    // ------------------------------------------------------------------------------------------
    // Public API: per-device features (v5.2-v6.15 iommu_dev_*_feature, S01, S02)
    // ------------------------------------------------------------------------------------------

    /** The ops of the driver that probed {@code dev}, or null: the feature calls' "dev->iommu" test. */
    private IommuOps probedOps(Device dev) {
        DevIommu di = devIommuOf(dev);
        return di == null || di.iommuDev == null ? null : di.ops();
    }

    private static void requireFeature(DevFeature f, String fn) {
        if (f == null) {
            throw err(Errno.EINVAL, fn + ": feature is null");
        }
    }

    /** {@code iommu_dev_has_feature}: the driver's answer; false without an IOMMU or the op. */
    public boolean devHasFeature(Device dev, DevFeature f) {
        requireDevice(dev, "iommu_dev_has_feature");
        requireFeature(f, "iommu_dev_has_feature");
        IommuOps ops = probedOps(dev);
        return ops != null && ops.devHasFeat() != null && ops.devHasFeat().devHasFeat(dev, f);
    }

    /** {@code iommu_dev_feature_enabled}: false without an IOMMU or the op. */
    public boolean devFeatureEnabled(Device dev, DevFeature f) {
        requireDevice(dev, "iommu_dev_feature_enabled");
        requireFeature(f, "iommu_dev_feature_enabled");
        IommuOps ops = probedOps(dev);
        return ops != null && ops.devFeatEnabled() != null && ops.devFeatEnabled().devFeatEnabled(dev, f);
    }

    /**
     * {@code iommu_dev_enable_feature}: -ENODEV without an IOMMU or the op; else the driver's
     * answer (the mock: -EINVAL when the hardware behind the device cannot do it, S01/S02).
     */
    public void devEnableFeature(Device dev, DevFeature f) {
        call("iommu_dev_enable_feature", () -> {
            requireDevice(dev, "iommu_dev_enable_feature");
            requireFeature(f, "iommu_dev_enable_feature");
            IommuOps ops = probedOps(dev);
            if (ops == null || ops.devEnableFeat() == null) {
                throw err(Errno.ENODEV, "iommu_dev_enable_feature: " + dev + " has no IOMMU driver that knows features");
            }
            int ret = ops.devEnableFeat().devSetFeat(dev, f);
            trace(TraceEvent.Kind.DRIVER, "dev_enable_feat", "(" + dev + ", " + f + ") = " + Errno.describe(ret));
            if (ret != 0) {
                throw driverErr(ret, "driver " + ops + " dev_enable_feat(" + dev + ", " + f + ")");
            }
            return null;
        }, dev, f);
    }

    /**
     * {@code iommu_dev_disable_feature}: -ENODEV without an IOMMU or the op; -EBUSY while the
     * feature is in use by the core (AUX with aux domains attached, SVA with bonds: the model
     * checks this in the core for every driver, as SMMUv3's {@code arm_smmu_master_disable_sva}
     * does for its bonds); else the driver's answer.
     */
    public void devDisableFeature(Device dev, DevFeature f) {
        call("iommu_dev_disable_feature", () -> {
            requireDevice(dev, "iommu_dev_disable_feature");
            requireFeature(f, "iommu_dev_disable_feature");
            IommuOps ops = probedOps(dev);
            if (ops == null || ops.devDisableFeat() == null) {
                throw err(Errno.ENODEV, "iommu_dev_disable_feature: " + dev + " has no IOMMU driver that knows features");
            }
            String user = featureUser(dev, f);
            if (user != null) {
                throw err(Errno.EBUSY, "iommu_dev_disable_feature: " + f + " of " + dev + " is in use: " + user);
            }
            int ret = ops.devDisableFeat().devSetFeat(dev, f);
            trace(TraceEvent.Kind.DRIVER, "dev_disable_feat", "(" + dev + ", " + f + ") = " + Errno.describe(ret));
            if (ret != 0) {
                throw driverErr(ret, "driver " + ops + " dev_disable_feat(" + dev + ", " + f + ")");
            }
            return null;
        }, dev, f);
    }

    /** What of the core still uses feature {@code f} of {@code dev}, or null. */
    private String featureUser(Device dev, DevFeature f) {
        if (f == DevFeature.AUX) {
            List<IommuDomain> aux = auxEngine.domainsOf(dev);
            return aux.isEmpty() ? null : "aux domains " + aux + " are attached";
        }
        if (f == DevFeature.SVA) {
            IommuGroup g = groupOf(dev);
            if (g != null) {
                for (Map.Entry<Integer, PasidEntry> e : g.pasidArray.entrySet()) {
                    if (e.getValue() instanceof PasidEntry.HandleEntry
                            && ((PasidEntry.HandleEntry) e.getValue()).handle() instanceof SvaHandle) {
                        return "an address space is bound at PASID " + e.getKey();
                    }
                }
            }
        }
        return null;
    }

    // ------------------------------------------------------------------------------------------
    // Public API: the 2019 aux-domain API on the PASID machinery (SEMANTICS.md 8.6, S03-S12)
    // ------------------------------------------------------------------------------------------

    /**
     * {@code iommu_aux_attach_device}: attach {@code d} to {@code dev} as an aux domain. With a
     * PASID-capable driver the domain's default PASID is allocated on its first aux attach (within
     * the device's PASID width), shared by later ones and installed with the PASID API; a
     * table-only driver (SMMUv2) only sets the domain up. -ENODEV without an IOMMU or aux support
     * or when no default PASID is left; the driver's refusal errno (VT-d -EPERM, else -EINVAL)
     * without AUX enabled or for a non-UNMANAGED domain; -EINVAL for a RID domain (S04) or a
     * blocked RID; -EBUSY if already attached to {@code dev} or the PASID is taken (S12);
     * -EOVERFLOW if the domain's PASID is beyond the device's width. A failure undoes exactly what
     * the call did (S06).
     */
    public void auxAttachDevice(IommuDomain d, Device dev) {
        call("iommu_aux_attach_device", () -> {
            auxEngine.attach(d, dev);
            return null;
        }, d, dev);
    }

    /**
     * {@code iommu_aux_detach_device}: the PASID entry goes with the last aux user of its group, the
     * default PASID with the domain's last aux attachment (exactly once, S05). Not attached: nothing.
     */
    public void auxDetachDevice(IommuDomain d, Device dev) {
        call("iommu_aux_detach_device", () -> {
            auxEngine.detach(d, dev);
            return null;
        }, d, dev);
    }

    /** {@code iommu_aux_get_pasid}: the domain's PASID while aux-attached to {@code dev}; -EINVAL otherwise (S07). */
    public int auxGetPasid(IommuDomain d, Device dev) {
        return call("iommu_aux_get_pasid", () -> auxEngine.getPasid(d, dev), d, dev);
    }

    /**
     * {@code iommu_domain_get_attr} (≤v5.12): -EINVAL without the driver op; PTBASE: an aux
     * domain's page-table base (TTBR0), -ENODEV for any other domain (S10).
     */
    public long domainGetAttr(IommuDomain d, DomainAttr attr) {
        return call("iommu_domain_get_attr", () -> auxEngine.getAttr(d, attr), d, attr);
    }

    // ------------------------------------------------------------------------------------------
    // Public API: shared virtual addressing (SEMANTICS.md 8.5)
    // ------------------------------------------------------------------------------------------

    /**
     * {@code iommu_sva_bind_device}: bind {@code mm} to {@code dev} at the mm's PASID (allocated
     * from the global namespace on the mm's first bind and kept until {@link #mmPasidDrop}).
     * Binding again where the group already has the bond returns the same handle with one more
     * user; a new bond shares an existing SVA domain of the mm if the driver accepts it, else the
     * driver allocates one ({@code domain_alloc_sva}). -ENODEV without a group; -EBUSY for an mm
     * the IOMMU cannot follow or a PASID slot holding another domain; -EOVERFLOW when the mm's
     * PASID is beyond the device's width; -ENOSPC when no PASID is left; -EOPNOTSUPP without
     * {@code domain_alloc_sva}; PASID API errors. A failure after the mm got its PASID keeps the
     * PASID (the kernel does; it belongs to the mm).
     */
    public SvaHandle svaBindDevice(Device dev, MmStruct mm) {
        return call("iommu_sva_bind_device", () -> sva.bind(dev, mm), dev, mm);
    }

    /** {@code iommu_sva_unbind_device}: one user less; the last detaches the PASID and frees an unused SVA domain. */
    public void svaUnbindDevice(SvaHandle h) {
        call("iommu_sva_unbind_device", () -> {
            sva.unbind(h);
            return null;
        }, h);
    }

    /** {@code iommu_sva_get_pasid}: the bond's PASID (the mm's). */
    public int svaGetPasid(SvaHandle h) {
        return sva.getPasid(h);
    }

    /** {@code mm->iommu_mm->pasid}, or {@link #IOMMU_PASID_INVALID} before the mm's first bind. */
    public int mmPasid(MmStruct mm) {
        return sva.mmPasid(mm);
    }

    /**
     * {@code mm_pasid_drop} (mm teardown): the mm's PASID returns to the namespace. -EBUSY while
     * the process still runs ({@link MmStruct#exit} not called) or SVA domains still hold the mm
     * (in the kernel both keep a reference that delays the teardown).
     */
    public void mmPasidDrop(MmStruct mm) {
        call("mm_pasid_drop", () -> {
            sva.mmPasidDrop(mm);
            return null;
        }, mm);
    }

    // ------------------------------------------------------------------------------------------
    // Public API: I/O page faults (SEMANTICS.md 10)
    // ------------------------------------------------------------------------------------------

    /**
     * Installs {@code h} as {@code d}'s fault handler (what iommufd does for a HW page table with
     * a fault object; null removes it). Only while the domain is not attached anywhere (-EBUSY):
     * drivers enable IOPF for what they see at attach time. -EINVAL for static and SVA domains.
     */
    public void domainSetIopfHandler(IommuDomain d, IopfHandler h) {
        call("iommu_domain_set_iopf_handler", () -> {
            requireDomain(d, "iommu_domain_set_iopf_handler");
            if (d.isStatic() || d.type() == DomainType.SVA) {
                throw err(Errno.EINVAL, "iommu_domain_set_iopf_handler: " + d + " is a " + (d.isStatic()
                        ? "static" : "SVA") + " domain");
            }
            String user = domainUser(d);
            if (user != null) {
                throw err(Errno.EBUSY, "iommu_domain_set_iopf_handler: " + d + " is in use: " + user);
            }
            iopf.setHandler(d, h);
            return null;
        }, d, h);
    }

    /** {@code iopf_queue_alloc}. */
    public IopfQueue iopfQueueAlloc(String name) {
        return call("iopf_queue_alloc", () -> iopf.queueAlloc(name), name);
    }

    /** {@code iopf_queue_add_device}: -ENODEV without {@code page_response}, -EBUSY if already added, -ENOMEM. */
    public void iopfQueueAddDevice(IopfQueue q, Device dev) {
        call("iopf_queue_add_device", () -> {
            int r = iopf.addDevice(q, dev);
            if (r != 0) {
                throw err(Errno.fromCode(r), "iopf_queue_add_device: " + dev + " on " + q);
            }
            return null;
        }, q, dev);
    }

    /** {@code iopf_queue_remove_device}: pending groups are answered INVALID and freed, partial faults dropped. */
    public void iopfQueueRemoveDevice(IopfQueue q, Device dev) {
        call("iopf_queue_remove_device", () -> {
            iopf.removeDevice(q, dev);
            return null;
        }, q, dev);
    }

    /** {@code iopf_queue_flush_dev}: WARN and -ENODEV without a fault parameter. */
    public void iopfQueueFlushDev(Device dev) {
        call("iopf_queue_flush_dev", () -> {
            requireDevice(dev, "iopf_queue_flush_dev");
            iopf.flushDev(dev);
            return null;
        }, dev);
    }

    /** {@code iopf_queue_discard_partial}: drops the partial requests of every device on the queue. */
    public void iopfQueueDiscardPartial(IopfQueue q) {
        call("iopf_queue_discard_partial", () -> {
            iopf.discardPartial(q);
            return null;
        }, q);
    }

    /** {@code iopf_queue_free}: removes every device, then the queue. */
    public void iopfQueueFree(IopfQueue q) {
        call("iopf_queue_free", () -> {
            iopf.queueFree(q);
            return null;
        }, q);
    }

    /**
     * {@code iommu_report_device_fault}: route a page request to the handler of the domain at its
     * PASID. A request nobody handles is answered INVALID and is -EINVAL; a non-last request is
     * kept until its group's last one; a complete group goes to the handler (a handler error is
     * answered FAILURE). Called by drivers; public for scenarios.
     */
    public void reportDeviceFault(Device dev, IopfFault fault) {
        call("iommu_report_device_fault", () -> {
            int r = iopf.report(dev, fault);
            if (r != 0) {
                throw err(Errno.fromCode(r), "iommu_report_device_fault: " + dev + " " + fault);
            }
            return null;
        }, dev, fault);
    }

    /** {@code iopf_group_response}: the first answer of a group reaches the driver, later ones do nothing (I-IOPF-ONCE). */
    public void iopfGroupResponse(IopfGroup g, PageResponse.Code code) {
        call("iopf_group_response", () -> {
            iopf.groupResponse(g, code);
            return null;
        }, g, code);
    }

    /** {@code iopf_free_group}: the handler is done with the group. */
    public void iopfFreeGroup(IopfGroup g) {
        iopf.freeGroup(g);
    }

    // ------------------------------------------------------------------------------------------
    // Public API: DMA ownership (SEMANTICS.md 7)
    // ------------------------------------------------------------------------------------------

    /** {@code iommu_device_use_default_domain}: a kernel driver using the DMA API binds. */
    public void deviceUseDefaultDomain(Device dev) {
        call("iommu_device_use_default_domain", () -> {
            ownership.useDefaultDomain(dev);
            return null;
        }, dev);
    }

    /** {@code iommu_device_unuse_default_domain}: WARN if nothing is held (S16). */
    public void deviceUnuseDefaultDomain(Device dev) {
        call("iommu_device_unuse_default_domain", () -> {
            ownership.unuseDefaultDomain(dev);
            return null;
        }, dev);
    }

    /** {@code iommu_group_claim_dma_owner}. */
    public void groupClaimDmaOwner(IommuGroup g, Object owner) {
        call("iommu_group_claim_dma_owner", () -> {
            ownership.groupClaim(g, owner);
            return null;
        }, g, owner);
    }

    /** {@code iommu_group_release_dma_owner}. */
    public void groupReleaseDmaOwner(IommuGroup g) {
        call("iommu_group_release_dma_owner", () -> {
            ownership.groupRelease(g);
            return null;
        }, g);
    }

    /** {@code iommu_device_claim_dma_owner}: shared by equal owner tokens (S15). */
    public void deviceClaimDmaOwner(Device dev, Object owner) {
        call("iommu_device_claim_dma_owner", () -> {
            ownership.deviceClaim(dev, owner);
            return null;
        }, dev, owner);
    }

    /** {@code iommu_device_release_dma_owner}. */
    public void deviceReleaseDmaOwner(Device dev) {
        call("iommu_device_release_dma_owner", () -> {
            ownership.deviceRelease(dev);
            return null;
        }, dev);
    }

    /** {@code iommu_group_dma_owner_claimed}: any user at all (also plain kernel drivers). */
    public boolean groupDmaOwnerClaimed(IommuGroup g) {
        return call("iommu_group_dma_owner_claimed", () -> ownership.claimed(g), g);
    }

    // ------------------------------------------------------------------------------------------
    // Public API: map / unmap front end (SEMANTICS.md 9)
    // ------------------------------------------------------------------------------------------

    /** {@code iommu_map}: map, sync; any failure unmaps what was mapped (I-MAP). */
    public void map(IommuDomain d, long iova, long paddr, long size, int prot) {
        call("iommu_map", () -> {
            mapEngine.map(d, iova, paddr, size, prot);
            return null;
        }, d, iova, paddr, size, prot);
    }

    /** {@code iommu_map_nosync}: map without {@code iotlb_sync_map} (the DMA layer batches syncs). */
    public void mapNosync(IommuDomain d, long iova, long paddr, long size, int prot) {
        call("iommu_map_nosync", () -> {
            mapEngine.mapNosync(d, iova, paddr, size, prot, true);
            return null;
        }, d, iova, paddr, size, prot);
    }

    /** {@code iommu_sync_map}: the driver's {@code iotlb_sync_map}, if any. */
    public void syncMap(IommuDomain d, long iova, long size) {
        call("iommu_sync_map", () -> {
            mapEngine.syncMap(d, iova, size, true);
            return null;
        }, d, iova, size);
    }

    /** {@code iommu_unmap}: bytes unmapped (0 for a misaligned request or a hole), then one IOTLB sync. */
    public long unmap(IommuDomain d, long iova, long size) {
        return call("iommu_unmap", () -> mapEngine.unmap(d, iova, size), d, iova, size);
    }

    /** {@code iommu_unmap_fast}: as unmap, collecting into the caller's gather, no sync. */
    public long unmapFast(IommuDomain d, long iova, long size, IotlbGather gather) {
        return call("iommu_unmap_fast", () -> mapEngine.unmapFast(d, iova, size, gather), d, iova, size);
    }

    /** {@code iommu_map_sg}: coalesced runs; bytes mapped, or the errno after undoing them. */
    public long mapSg(IommuDomain d, long iova, List<SgEntry> sg, int prot) {
        return call("iommu_map_sg", () -> mapEngine.mapSg(d, iova, sg, prot), d, iova, sg, prot);
    }

    /** {@code iommu_iova_to_phys}: IDENTITY gives the iova, BLOCKED 0, else the driver's walk (0 = unmapped). */
    public long iovaToPhys(IommuDomain d, long iova) {
        requireDomain(d, "iommu_iova_to_phys");
        return mapEngine.iovaToPhys(d, iova);
    }

    /** {@code iommu_flush_iotlb_all}. */
    public void flushIotlbAll(IommuDomain d) {
        call("iommu_flush_iotlb_all", () -> {
            requireDomain(d, "iommu_flush_iotlb_all");
            mapEngine.flushIotlbAll(d);
            return null;
        }, d);
    }

    /** {@code iommu_iotlb_sync}: the driver's {@code iotlb_sync} on the gather, then re-init it. */
    public void iotlbSync(IommuDomain d, IotlbGather gather) {
        call("iommu_iotlb_sync", () -> {
            requireDomain(d, "iommu_iotlb_sync");
            mapEngine.iotlbSync(d, gather);
            return null;
        }, d, gather);
    }

    /** {@code iommu_iotlb_gather_add_page}: sync first if the page is disjoint or of another size. */
    public void iotlbGatherAddPage(IommuDomain d, IotlbGather gather, long iova, long size) {
        requireDomain(d, "iommu_iotlb_gather_add_page");
        if (gather == null) {
            throw err(Errno.EINVAL, "iommu_iotlb_gather_add_page: gather is null");
        }
        mapEngine.gatherAddPage(d, gather, iova, size);
    }

    // ------------------------------------------------------------------------------------------
    // Snapshot (for the invariant checker, fail_nth sweeps and scenario "changed nothing" checks)
    // ------------------------------------------------------------------------------------------

    /**
     * A consistent picture of the whole core: taken under the probe lock and every group mutex
     * (ascending id), so no operation is half done in it. Records compare by value, with domains,
     * devices and handles by identity, so {@code before.equals(after)} proves a failed call
     * changed nothing in the core.
     */
    public CoreSnapshot snapshot() {
        probeLock.lock();
        auxEngine.lock.readLock().lock();
        sva.lock.lock();
        List<IommuGroup> locked = new ArrayList<>();
        try {
            for (IommuGroup g : liveGroups()) {
                g.mutex.lock();
                locked.add(g);
            }
            List<CoreSnapshot.GroupState> gs = new ArrayList<>();
            for (IommuGroup g : locked) {
                gs.add(new CoreSnapshot.GroupState(g.id(), List.copyOf(g.devices), g.domain, g.defaultDomain,
                        g.blockingDomain, g.resettingDomain, g.owner, g.ownerCnt, g.pasidEntries()));
            }
            List<CoreSnapshot.DeviceState> ds = new ArrayList<>();
            for (CoreDevice c : allDevices()) {
                DevIommu di = c.iommu;
                IommuGroup g = c.group;
                ds.add(new CoreSnapshot.DeviceState(c.dev, c.onBus, c.fwspecIommu,
                        di == null ? null : di.iommuDev, g == null ? null : g.id(),
                        di != null && di.attachDeferred, di != null && di.requireDirect,
                        di == null ? 0 : di.maxPasids, c.dmaIommu));
            }
            List<CoreSnapshot.DomainState> doms = new ArrayList<>();
            for (IommuDomain d : liveDomains()) {
                doms.add(new CoreSnapshot.DomainState(d, d.type(), d.owner(), d.cookieType(), d.pgsizeBitmap()));
            }
            Map<MmStruct, CoreSnapshot.MmState> mms = new LinkedHashMap<>();
            sva.mms.forEach((mm, im) -> mms.put(mm, new CoreSnapshot.MmState(im.pasid, List.copyOf(im.svaDomains))));
            Map<IommuDomain, CoreSnapshot.SvaDomainState> svaDoms = new LinkedHashMap<>();
            sva.domains.forEach((d, sd) -> svaDoms.put(d, new CoreSnapshot.SvaDomainState(sd.mm, sd.users)));
            Map<IommuDomain, CoreSnapshot.AuxDomainState> aux = new LinkedHashMap<>();
            auxEngine.domains.forEach((d, a) -> aux.put(d, new CoreSnapshot.AuxDomainState(a.pasid,
                    List.copyOf(a.devices.keySet()))));
            Map<Integer, List<Integer>> reserved = new TreeMap<>();
            for (IommuGroup g : locked) {
                List<Integer> r = new ArrayList<>();
                g.pasidArray.forEach((p, e) -> {
                    if (e == PasidEntry.Reserved.INSTANCE) {
                        r.add(p);
                    }
                });
                if (!r.isEmpty()) {
                    reserved.put(g.id(), List.copyOf(r));
                }
            }
            return new CoreSnapshot(defDomainType, dmaStrict, iommuDevices(), gs, ds, doms, globalPasids.allocated(),
                    java.util.Collections.unmodifiableMap(mms), java.util.Collections.unmodifiableMap(svaDoms),
                    java.util.Collections.unmodifiableMap(aux), iopf.snapshot(),
                    java.util.Collections.unmodifiableMap(reserved));
        } finally {
            for (int i = locked.size() - 1; i >= 0; i--) {
                locked.get(i).mutex.unlock();
            }
            sva.lock.unlock();
            auxEngine.lock.readLock().unlock();
            probeLock.unlock();
        }
    }

    // ------------------------------------------------------------------------------------------
    // Driver-facing services
    // ------------------------------------------------------------------------------------------

    private final class Services implements CoreServices {
        private final WarningSink sink = IommuCore.this::warn;

        @Override
        public GroupRef genericDeviceGroup(Device dev) {
            return probe.genericDeviceGroup(dev);
        }

        @Override
        public GroupRef genericSingleDeviceGroup(Device dev) {
            return probe.genericSingleDeviceGroup(dev);
        }

        @Override
        public GroupRef pciDeviceGroup(Device dev) {
            return probe.pciDeviceGroup(dev);
        }

        @Override
        public GroupRef groupGet(Device dev) {
            IommuGroup g = groupOf(dev);
            return g == null ? null : groupRefGet(g);
        }

        @Override
        public DevIommuView devIommu(Device dev) {
            return devIommuOf(dev);
        }

        @Override
        public IommuDomain driverGetDomainForDev(Device dev) {
            return attach.driverGetDomainForDev(dev);
        }

        @Override
        public IommuDomain getDomainForDev(Device dev) {
            return attach.getDomainForDev(dev);
        }

        @Override
        public WarningSink warnings() {
            return sink;
        }

        @Override
        public boolean shouldFailAlloc(String site) {
            return IommuCore.this.shouldFailAlloc(site);
        }

        @Override
        public IopfQueueRef iopfQueueAlloc(String name) {
            return iopf.queueAlloc(name);
        }

        @Override
        public int iopfQueueAddDevice(IopfQueueRef q, Device dev) {
            return iopf.addDevice(q, dev);
        }

        @Override
        public void iopfQueueRemoveDevice(IopfQueueRef q, Device dev) {
            iopf.removeDevice(q, dev);
        }

        @Override
        public int reportDeviceFault(Device dev, IopfFault fault) {
            return iopf.report(dev, fault);
        }
    }
}
