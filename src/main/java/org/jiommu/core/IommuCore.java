package org.jiommu.core;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.jiommu.base.Errno;
import org.jiommu.base.IommuException;
import org.jiommu.bus.Device;
import org.jiommu.core.spi.CoreServices;
import org.jiommu.core.spi.DevFeature;
import org.jiommu.core.spi.DomainAttr;
import org.jiommu.core.spi.DomainType;
import org.jiommu.core.spi.IommuCap;
import org.jiommu.core.spi.IommuDevice;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.core.spi.IommuOps;
import org.jiommu.core.spi.IopfFault;
import org.jiommu.mm.MmStruct;
import org.jiommu.core.spi.PageResponse;
import org.jiommu.core.spi.ResvRegion;
import org.jiommu.pgtable.IotlbGather;

/**
 * The Linux IOMMU core ({@code drivers/iommu/iommu.c}) for one simulated platform: device probe
 * and release, groups and default domains, attach/detach/replace, DMA ownership, PASIDs, SVA,
 * I/O page faults and the map/unmap front end, rule by rule and errno by errno as SEMANTICS.md
 * describes them. Every public method is named after the kernel function it models.
 *
 * <p><b>Shape.</b> This class is only the public face: each call traces itself ({@link Tracer})
 * and hands over to the engine that owns its rules ({@link ProbeEngine}, {@link AttachEngine},
 * {@link OwnershipEngine}, {@link MapEngine}, {@link PasidEngine}, {@link AuxEngine},
 * {@link SvaEngine}, {@link IopfEngine}, {@link Features}). Engines share the device, group and
 * domain tables ({@link CoreRegistry}), the lock helpers ({@link GroupLocks}), argument checks
 * ({@link Args}) and domain allocation and free ({@link DomainLifecycle}); they never see this
 * class. The detailed contract of a call (every errno) is at its engine method.
 *
 * <p><b>Errors.</b> A public call that fails throws {@link IommuException} with the kernel's errno
 * and a message naming the objects, and leaves the core, the driver and memory as they were
 * (except where the kernel itself keeps a side effect, documented at the engine). A kernel WARN
 * is recorded ({@link #warnings()}) and the call carries on as the kernel does; void kernel calls
 * that only WARN (releasing what is not held) return normally.
 *
 * <p><b>Locks</b>: the probe lock, the aux and SVA locks, group mutexes, driver locks, IOPF locks,
 * leaf locks, outermost first; the full order and its rules are at {@link GroupLocks}.
 *
 * <p>Thread-safe: any public method may be called from any thread.
 */
public final class IommuCore {
    /** {@code IOMMU_NO_PASID}: DMA without a PASID, the RID's domain (SEMANTICS.md 8). */
    public static final int IOMMU_NO_PASID = 0;
    /** {@code IOMMU_FIRST_GLOBAL_PASID}: the global allocator never hands out 0. */
    public static final int IOMMU_FIRST_GLOBAL_PASID = 1;
    /** {@code IOMMU_PASID_INVALID} (0xFFFFFFFF as an unsigned 32-bit PASID). */
    public static final int IOMMU_PASID_INVALID = 0xFFFFFFFF;

    /** See {@link #addCreationHook}. */
    private static final List<Consumer<IommuCore>> CREATION_HOOKS = new CopyOnWriteArrayList<>();

    private final CoreConfig config;
    private final Tracer tracer = new Tracer();
    private final CoreRegistry registry = new CoreRegistry(tracer);
    private final GroupLocks locks = new GroupLocks(tracer);
    /** {@code iommu_probe_device_lock} (the lock order's first lock). */
    final ReentrantLock probeLock = locks.probeLock;
    private final SubsysDefaults defaults;
    /** {@code iommu_global_pasid_ida}: system-wide, i.e. one per simulated platform. */
    final GlobalPasidAllocator globalPasids = new GlobalPasidAllocator(tracer);
    final IopfEngine iopf = new IopfEngine(tracer, registry);
    private final DomainLifecycle domains = new DomainLifecycle(tracer, registry, iopf);
    private final ResvRegions resv = new ResvRegions(tracer, registry, locks);
    final MapEngine mapEngine = new MapEngine(tracer);
    final AttachEngine attach;
    final ProbeEngine probe;
    final OwnershipEngine ownership;
    final PasidEngine pasidEngine;
    final AuxEngine auxEngine;
    final SvaEngine sva;
    private final Features features;
    private final CoreServices services;
    private final CoreSnapshots snapshots;

    public IommuCore() { this(CoreConfig.defaults()); }

    public IommuCore(CoreConfig config) {
        if (config == null) {
            throw new IllegalArgumentException("config must not be null");
        }
        this.config = config;
        this.defaults = new SubsysDefaults(config, tracer);
        KernelVersion v = config.version();
        this.attach = new AttachEngine(tracer, registry, locks, v, domains);
        this.probe = new ProbeEngine(tracer, registry, locks, config, defaults, domains, attach, mapEngine, resv);
        this.ownership = new OwnershipEngine(tracer, registry, locks, attach);
        this.pasidEngine = new PasidEngine(tracer, registry, locks, v, attach);
        this.auxEngine = new AuxEngine(tracer, registry, locks, pasidEngine, globalPasids);
        this.sva = new SvaEngine(tracer, registry, domains, attach, pasidEngine, iopf, globalPasids);
        this.features = new Features(tracer, registry);
        this.services = new Services(tracer, registry, probe, attach, iopf);
        this.snapshots = new CoreSnapshots(locks, registry, defaults, globalPasids, auxEngine, sva, iopf);
        for (Consumer<IommuCore> hook : CREATION_HOOKS) {
            hook.accept(this);
        }
    }

    /**
     * Tooling hook (the invariant checker's test extension), not for model code: {@code hook} is
     * told of every core constructed from now on, at the end of its constructor, on its thread.
     */
    public static void addCreationHook(Consumer<IommuCore> hook) { CREATION_HOOKS.add(Objects.requireNonNull(hook)); }

    /** Undoes {@link #addCreationHook}. */
    public static void removeCreationHook(Consumer<IommuCore> hook) { CREATION_HOOKS.remove(hook); }

    /** Public calls in progress on this thread; 0 outside the core. */
    private final ThreadLocal<CallDepth> callDepth = ThreadLocal.withInitial(CallDepth::new);

    private abstract static class CallDepthField {
        int n;
    }

    /**
     * A thread's call depth, written twice by every call: 128 bytes of padding after it (a
     * subclass's fields come after its superclass's) keep other threads' data off its lines
     * wherever the collector moves it; a bare {@code int[1]} per thread could land beside
     * another thread's and make every map and unmap of two threads write one line.
     */
    private static final class CallDepth extends CallDepthField {
        long q00, q01, q02, q03, q04, q05, q06, q07, q08, q09, q10, q11, q12, q13, q14, q15;
    }

    /**
     * Every public call runs through here (CoreWatch counts these frames for the nesting depth):
     * traced; when the outermost call on the thread has returned (no core lock
     * held any more, its RETURN traced), the IOPF work queued meanwhile is released to the queues'
     * workers and waited for (IopfEngine: the model's release points).
     */
    private <T> T call(String fn, Supplier<T> body, Object... args) {
        CallDepth depth = callDepth.get();
        depth.n++;
        try {
            return tracer.call(fn, body, args);
        } finally {
            if (--depth.n == 0) {
                iopf.runPending();
            }
        }
    }

    private void run(String fn, Runnable body, Object... args) { call(fn, () -> { body.run(); return null; }, args); }

    /**
     * The untraced entry of {@link #call} for the map/unmap hot path (iommu_dma_map_page's
     * {@code iommu_map}, {@code iommu_unmap_fast}, {@code iommu_iotlb_sync}): with no listener
     * there is no CALL/RETURN event, so the depth count and the IOPF release at depth 0 are all
     * {@code call} does; this does the same without the body lambda and the boxed argument array.
     * Returns the depth cell to hand to {@link #exitFast}, or null when someone listens (the
     * caller then goes through {@code call}, traced).
     */
    private CallDepth enterFast() {
        if (tracer.tracing()) {
            return null;
        }
        CallDepth depth = callDepth.get();
        depth.n++;
        return depth;
    }

    private void exitFast(CallDepth depth) {
        if (--depth.n == 0) {
            iopf.runPending();
        }
    }

    // ---- configuration and observability -----------------------------------------------------

    public CoreConfig config() { return config; }

    public KernelVersion version() { return config.version(); }

    /** {@code iommu_def_domain_type}. */
    public DomainType defDomainType() { return defaults.defDomainType(); }

    /** {@code iommu_dma_strict}. */
    public boolean dmaStrict() { return defaults.dmaStrict(); }

    /** {@code iommu_default_passthrough()}. */
    public boolean defaultPassthrough() { return defaults.defDomainType() == DomainType.IDENTITY; }

    /** {@code iommu_set_dma_strict}: strict invalidation; a DMA_FQ global default becomes DMA. */
    public void setDmaStrict() { run("iommu_set_dma_strict", defaults::setDmaStrict); }

    /** What drivers may call (the kernel's exported helpers); hand it to a driver at construction. */
    public CoreServices services() { return services; }

    /**
     * The core's locks the calling thread holds, by name (probe lock, aux and SVA locks, group
     * mutexes); empty outside the core. For tests of where callbacks run: an IOPF handler must see
     * none of them.
     */
    public List<String> locksHeldByCurrentThread() {
        List<String> out = new ArrayList<>();
        if (locks.probeLock.isHeldByCurrentThread()) {
            out.add("iommu_probe_device_lock");
        }
        if (auxEngine.lock.isWriteLockedByCurrentThread() || auxEngine.lock.getReadHoldCount() > 0) {
            out.add("aux lock");
        }
        if (sva.lock.isHeldByCurrentThread()) {
            out.add("iommu_sva_lock");
        }
        for (IommuGroup g : registry.liveGroups()) {
            if (g.mutex.isHeldByCurrentThread()) {
                out.add(g + "->mutex");
            }
        }
        return out;
    }

    public void addTraceListener(TraceListener l) { tracer.addListener(l); }

    public void removeTraceListener(TraceListener l) { tracer.removeListener(l); }

    /** Every WARN recorded so far, oldest first. */
    public List<Warning> warnings() { return tracer.warnings(); }

    public int warningCount() { return tracer.warningCount(); }

    /** The recent kernel log lines (dev_warn, dev_err, pr_info ...), oldest first. */
    public List<TraceEvent> logLines() { return tracer.logLines(); }

    /**
     * {@code fail_nth}: the Nth allocation from now (1-based) at any modelled allocation site of
     * the core or of a driver using {@link CoreServices#shouldFailAlloc} fails with -ENOMEM; 0
     * disarms. Page-table pages are counted by the frame allocator's own knob.
     */
    public void failNthAllocation(long n) { tracer.failNth(n); }

    /** True while an armed {@link #failNthAllocation} has not fired yet. */
    public boolean failNthArmed() { return tracer.failNthArmed(); }

    /** {@code dev->iommu} without argument checks (for tests that corrupt state on purpose). */
    DevIommu devIommuOf(Device dev) { return registry.devIommuOf(dev); }

    CoreDevice cdev(Device dev) { return registry.cdev(dev); }

    static boolean domainOpsCompatible(IommuOps ops, IommuDomain d) { return DomainLifecycle.opsCompatible(ops, d); }

    // ---- domains (SEMANTICS.md 2.5, 3; DomainLifecycle) --------------------------------------

    /** {@code iommu_paging_domain_alloc}: an UNMANAGED domain from the device's driver. */
    public IommuDomain pagingDomainAlloc(Device dev) { return pagingDomainAllocFlags(dev, 0); }

    /** {@code iommu_paging_domain_alloc_flags}: -ENODEV without an IOMMU, -EOPNOTSUPP, -ENOMEM. */
    public IommuDomain pagingDomainAllocFlags(Device dev, int flags) {
        return call("iommu_paging_domain_alloc_flags", () -> domains.allocPaging(
                Args.device(dev, "iommu_paging_domain_alloc"), DomainType.UNMANAGED, flags), dev, flags);
    }

    /** {@code iommu_domain_free}; refuses a use-after-free or a domain still in use (S09). */
    public void domainFree(IommuDomain d) { run("iommu_domain_free", () -> domains.freeChecked(d, auxEngine::isAux), d); }

    /** Domains allocated through the core and not yet freed (static domains are not listed). */
    public List<IommuDomain> liveDomains() { return registry.liveDomains(); }

    /** {@code device_iommu_capable}: false without an IOMMU or a {@code capable} op. */
    public boolean deviceIommuCapable(Device dev, IommuCap cap) { return registry.capable(dev, cap); }

    // ---- instances, firmware, buses, probe and release (SEMANTICS.md 2.2, 4, 5; ProbeEngine) -

    /** {@code iommu_device_register}: link, probe every bus (platform, then PCI); an error unregisters again. */
    public void iommuDeviceRegister(IommuDevice iommu) {
        run("iommu_device_register", () -> probe.iommuDeviceRegister(iommu), iommu);
    }

    /** {@code iommu_device_unregister}: release every device it translates, unlink it. */
    public void iommuDeviceUnregister(IommuDevice iommu) {
        run("iommu_device_unregister", () -> probe.iommuDeviceUnregister(iommu), iommu);
    }

    /** Registered instances in registration order. */
    public List<IommuDevice> iommuDevices() { return registry.iommus(); }

    /** {@code iommu_fwspec_init} + {@code iommu_fwspec_add_ids}: which instance translates {@code dev}, with which IDs. */
    public void fwspecInit(Device dev, IommuDevice iommu, List<Integer> ids) {
        run("iommu_fwspec_init", () -> registry.fwspecInit(dev, iommu, ids), dev, iommu, ids);
    }

    public void fwspecInit(Device dev, IommuDevice iommu) { fwspecInit(dev, iommu, List.of()); }

    /** A device present on its bus at boot: on the bus, not probed (a later register or scan probes it). -EEXIST if already there. */
    public void busAddDevice(Device dev) { run("bus_add_device", () -> registry.busAdd(Args.device(dev, "bus_add_device")), dev); }

    /** {@code device_add} of a hot-plugged device: it joins its bus and is probed; the probe's errno is reported. */
    public void deviceAdd(Device dev) { run("device_add", () -> probe.deviceAdd(dev), dev); }

    /** {@code device_del}: the bus notifier releases the device, then it leaves its bus. -ENODEV if not on a bus. */
    public void deviceDel(Device dev) { run("device_del", () -> probe.deviceDel(dev), dev); }

    /** {@code bus_iommu_probe}: probe every device of one bus, then set up the queued groups' default domains. */
    public void busIommuProbe(Device.BusType bus) { run("bus_iommu_probe", () -> probe.busIommuProbe(bus), bus); }

    /** {@code iommu_probe_device}: idempotent; errors as SEMANTICS.md 4.1/4.2. */
    public void probeDevice(Device dev) {
        run("iommu_probe_device", () -> probe.probeDevice(Args.device(dev, "iommu_probe_device")), dev);
    }

    /** {@code iommu_release_device}: release domain, {@code release_device}, group teardown when it empties. */
    public void releaseDevice(Device dev) {
        run("iommu_release_device", () -> probe.releaseDevice(Args.device(dev, "iommu_release_device")), dev);
    }

    /** {@code dev->iommu}: the core's per-device IOMMU state, or null (not probed / released). */
    public DevIommu devIommu(Device dev) { return registry.devIommuOf(Args.device(dev, "dev_iommu")); }

    /** {@code dev_has_iommu}. */
    public boolean deviceHasIommu(Device dev) { return registry.devHasIommu(Args.device(dev, "dev_has_iommu")); }

    /** {@code dev->dma_iommu}: the DMA API translates through the IOMMU (default domain is a DMA domain). */
    public boolean deviceDmaIommu(Device dev) { return registry.dmaIommu(Args.device(dev, "dev_dma_iommu")); }

    /** Devices on their bus, in bus order (platform bus first, as {@code iommu_buses}). */
    public List<Device> busDevices() { return registry.busDevicesInOrder(); }

    // ---- groups --------------------------------------------------------------------------------

    /** {@code iommu_group_get}: the device's group, or null if it has none. */
    public IommuGroup groupGet(Device dev) { return registry.groupOf(Args.device(dev, "iommu_group_get")); }

    /** {@code iommu_group_id} of the device's group; -ENODEV if it has none. */
    public int groupId(Device dev) {
        IommuGroup g = registry.groupOf(Args.device(dev, "iommu_group_id"));
        if (g == null) {
            throw Args.err(Errno.ENODEV, dev + " has no IOMMU group");
        }
        return g.id();
    }

    /** Live groups in id order. */
    public List<IommuGroup> groups() { return registry.liveGroups(); }

    /** {@code iommu_group_default_domain}. */
    public IommuDomain groupDefaultDomain(IommuGroup g) {
        registry.requireGroup(g, "iommu_group_default_domain");
        return g.defaultDomain;
    }

    /** {@code iommu_get_dma_domain}: the device's default domain (no checks beyond a group). */
    public IommuDomain getDmaDomain(Device dev) { return registry.defaultDomainOf(Args.device(dev, "iommu_get_dma_domain")); }

    /** sysfs {@code type} read: the default domain's type name, or {@code unknown}. */
    public String groupShowType(IommuGroup g) {
        registry.requireGroup(g, "iommu_group_show_type");
        return probe.groupShowType(g);
    }

    /** sysfs {@code type} write: identity, DMA, DMA-FQ or auto; the byte count. -EACCES without {@code capSysAdmin}. */
    public int groupStoreType(IommuGroup g, String buf, boolean capSysAdmin) {
        return call("iommu_group_store_type", () -> probe.groupStoreType(g, buf, capSysAdmin), g, buf);
    }

    /** {@code iommu_get_resv_regions}: the driver's list for the device (empty without the op or an IOMMU). */
    public List<ResvRegion> getResvRegions(Device dev) { return resv.ofDevice(Args.device(dev, "iommu_get_resv_regions")); }

    /** {@code iommu_get_group_resv_regions}: the sorted union, same-type overlaps merged (SEMANTICS.md 2.8). */
    public List<ResvRegion> getGroupResvRegions(IommuGroup g) {
        return call("iommu_get_group_resv_regions", () -> {
            registry.requireGroup(g, "iommu_get_group_resv_regions");
            return resv.ofGroup(g);
        }, g);
    }

    /** The sysfs {@code reserved_regions} file. */
    public String groupShowResvRegions(IommuGroup g) { return ResvRegions.sysfs(getGroupResvRegions(g)); }

    // ---- attach, detach, replace (SEMANTICS.md 6; AttachEngine) --------------------------------

    /** {@code iommu_attach_device}: singleton groups only (S13). */
    public void attachDevice(IommuDomain d, Device dev) {
        run("iommu_attach_device", () -> auxEngine.ridAttach(d, "iommu_attach_device",
                () -> attach.attachDevice(d, dev)), d, dev);
    }

    /** {@code iommu_detach_device}: WARNs and does nothing unless {@code d} is the singleton group's domain. */
    public void detachDevice(IommuDomain d, Device dev) { run("iommu_detach_device", () -> attach.detachDevice(d, dev), d, dev); }

    public void attachGroup(IommuDomain d, IommuGroup g) {
        run("iommu_attach_group", () -> auxEngine.ridAttach(d, "iommu_attach_group",
                () -> attach.attachGroup(d, g)), d, g);
    }

    /** {@code iommu_detach_group}: back to the core domain (blocking if owned, else default); {@code d} is not checked. */
    public void detachGroup(IommuDomain d, IommuGroup g) { run("iommu_detach_group", () -> attach.detachGroup(d, g), d, g); }

    /** {@code iommu_group_replace_domain} (≤v6.14, kept for scenarios): switch to {@code d}, no -EBUSY check. */
    public void groupReplaceDomain(IommuGroup g, IommuDomain d) {
        run("iommu_group_replace_domain", () -> auxEngine.ridAttach(d, "iommu_group_replace_domain",
                () -> attach.groupReplaceDomain(g, d)), g, d);
    }

    /** {@code iommu_attach_group_handle}: attach and store {@code h} in PASID slot 0. */
    public void attachGroupHandle(IommuDomain d, IommuGroup g, AttachHandle h) {
        run("iommu_attach_group_handle", () -> auxEngine.ridAttach(d, "iommu_attach_group_handle",
                () -> attach.attachGroupHandle(d, g, h)), d, g, h);
    }

    /** {@code iommu_detach_group_handle}: core domain back, slot 0 erased. */
    public void detachGroupHandle(IommuDomain d, IommuGroup g) {
        run("iommu_detach_group_handle", () -> attach.detachGroupHandle(d, g), d, g);
    }

    /** {@code iommu_replace_group_handle}: switch to {@code d} (no -EBUSY check), slot 0 = {@code h}. */
    public void replaceGroupHandle(IommuGroup g, IommuDomain d, AttachHandle h) {
        run("iommu_replace_group_handle", () -> auxEngine.ridAttach(d, "iommu_replace_group_handle",
                () -> attach.replaceGroupHandle(g, d, h)), g, d, h);
    }

    /** {@code iommu_attach_handle_get}: the handle at {@code pasid} of a domain of {@code type} (null: any). */
    public AttachHandle attachHandleGet(IommuGroup g, int pasid, DomainType type) {
        return call("iommu_attach_handle_get", () -> attach.attachHandleGet(g, pasid, type), g, pasid, type);
    }

    /** {@code iommu_deferred_attach}: the DMA layer's first use of a deferred device. */
    public void deferredAttach(Device dev, IommuDomain d) {
        run("iommu_deferred_attach", () -> attach.deferredAttach(dev, d), dev, d);
    }

    /** {@code iommu_get_domain_for_dev}: the group's domain (null without one); Δ7.0 WARNs under the group mutex. */
    public IommuDomain getDomainForDev(Device dev) { return attach.getDomainForDev(Args.device(dev, "iommu_get_domain_for_dev")); }

    /** {@code iommu_driver_get_domain_for_dev} (Δ7.0): for drivers inside callbacks; warns without the mutex. */
    public IommuDomain driverGetDomainForDev(Device dev) {
        return attach.driverGetDomainForDev(Args.device(dev, "iommu_driver_get_domain_for_dev"));
    }

    /** {@code pci_dev_reset_iommu_prepare} (Δ7.0): park the device on the blocking domain for a reset. */
    public void pciDevResetIommuPrepare(Device dev) { run("pci_dev_reset_iommu_prepare", () -> attach.resetPrepare(dev), dev); }

    /** {@code pci_dev_reset_iommu_done} (Δ7.0): put the device back on the group's domain and PASIDs. */
    public void pciDevResetIommuDone(Device dev) { run("pci_dev_reset_iommu_done", () -> attach.resetDone(dev), dev); }

    // ---- PASID attachments and global PASIDs (SEMANTICS.md 8.1-8.4; PasidEngine) -------------

    /** {@code iommu_attach_device_pasid}: {@code d} at {@code pasid} on every PASID-capable member, with {@code h}. */
    public void attachDevicePasid(IommuDomain d, Device dev, int pasid, AttachHandle h) {
        run("iommu_attach_device_pasid", () -> pasidEngine.attachDevicePasid(d, dev, pasid, h), d, dev, pasid, h);
    }

    /** {@link #attachDevicePasid(IommuDomain, Device, int, AttachHandle)} without a handle. */
    public void attachDevicePasid(IommuDomain d, Device dev, int pasid) { attachDevicePasid(d, dev, pasid, null); }

    /** {@code iommu_replace_device_pasid} (iommufd-internal): switch an attached PASID to {@code d} with {@code h}. */
    public void replaceDevicePasid(IommuDomain d, Device dev, int pasid, AttachHandle h) {
        run("iommu_replace_device_pasid", () -> pasidEngine.replaceDevicePasid(d, dev, pasid, h), d, dev, pasid, h);
    }

    /** {@code iommu_detach_device_pasid}: the blocked domain on every PASID-capable member, then the slot is erased. */
    public void detachDevicePasid(IommuDomain d, Device dev, int pasid) {
        run("iommu_detach_device_pasid", () -> pasidEngine.detachDevicePasid(d, dev, pasid), d, dev, pasid);
    }

    /**
     * {@code iommu_alloc_global_pasid}: the lowest free PASID in {@code [1, max_pasids - 1]} of
     * {@code dev}; {@link #IOMMU_PASID_INVALID} when it has none, the range is exhausted or the
     * allocation fails (fail_nth). Never 0. -ENODEV without an IOMMU (the kernel dereferences NULL).
     */
    public int allocGlobalPasid(Device dev) {
        return call("iommu_alloc_global_pasid", () -> globalPasids.allocFor(registry.requireIommu(
                Args.device(dev, "iommu_alloc_global_pasid"), "iommu_alloc_global_pasid").maxPasids,
                "iommu_alloc_global_pasid " + dev), dev);
    }

    /** {@code iommu_free_global_pasid}: WARN and ignore for IOMMU_PASID_INVALID or an id not allocated. */
    public void freeGlobalPasid(int pasid) {
        run("iommu_free_global_pasid", () -> globalPasids.release(pasid, "iommu_free_global_pasid"), pasid);
    }

    /** Allocated global PASIDs, each with the {@code max_pasids} it was allocated under (I-PASID-RANGE). */
    public Map<Integer, Integer> globalPasids() { return globalPasids.allocated(); }

    // ---- per-device features (v5.2-v6.15, S01, S02; Features) --------------------------------

    /** {@code iommu_dev_has_feature}: the driver's answer; false without an IOMMU or the op. */
    public boolean devHasFeature(Device dev, DevFeature f) { return features.has(dev, f); }

    /** {@code iommu_dev_feature_enabled}: false without an IOMMU or the op. */
    public boolean devFeatureEnabled(Device dev, DevFeature f) { return features.enabled(dev, f); }

    /** {@code iommu_dev_enable_feature}: -ENODEV without an IOMMU or the op; else the driver's answer. */
    public void devEnableFeature(Device dev, DevFeature f) {
        run("iommu_dev_enable_feature", () -> features.set(dev, f, true), dev, f);
    }

    /** {@code iommu_dev_disable_feature}: as enable, and -EBUSY while the core still uses the feature. */
    public void devDisableFeature(Device dev, DevFeature f) {
        run("iommu_dev_disable_feature", () -> features.set(dev, f, false), dev, f);
    }

    // ---- the 2019 aux-domain API (SEMANTICS.md 8.6, S03-S12; AuxEngine) -----------------------

    /** {@code iommu_aux_attach_device}: {@code d} as an aux domain of {@code dev} at its default PASID. */
    public void auxAttachDevice(IommuDomain d, Device dev) {
        run("iommu_aux_attach_device", () -> auxEngine.attach(d, dev), d, dev);
    }

    /** {@code iommu_aux_detach_device}: PASID entry and default PASID go with their last user (S05). */
    public void auxDetachDevice(IommuDomain d, Device dev) {
        run("iommu_aux_detach_device", () -> auxEngine.detach(d, dev), d, dev);
    }

    /** {@code iommu_aux_get_pasid}: the domain's PASID while aux-attached to {@code dev}; -EINVAL otherwise (S07). */
    public int auxGetPasid(IommuDomain d, Device dev) {
        return call("iommu_aux_get_pasid", () -> auxEngine.getPasid(d, dev), d, dev);
    }

    /** {@code iommu_domain_get_attr} (≤v5.12): PTBASE of an aux domain (S10). */
    public long domainGetAttr(IommuDomain d, DomainAttr attr) {
        return call("iommu_domain_get_attr", () -> auxEngine.getAttr(d, attr), d, attr);
    }

    // ---- shared virtual addressing (SEMANTICS.md 8.5; SvaEngine) ------------------------------

    /** {@code iommu_sva_bind_device}: bind {@code mm} to {@code dev} at the mm's global PASID. */
    public SvaHandle svaBindDevice(Device dev, MmStruct mm) {
        return call("iommu_sva_bind_device", () -> sva.bind(dev, mm), dev, mm);
    }

    /** {@code iommu_sva_unbind_device}: one user less; the last detaches the PASID and frees an unused SVA domain. */
    public void svaUnbindDevice(SvaHandle h) { run("iommu_sva_unbind_device", () -> sva.unbind(h), h); }

    /** {@code iommu_sva_get_pasid}: the bond's PASID (the mm's). */
    public int svaGetPasid(SvaHandle h) { return sva.getPasid(h); }

    /** {@code mm->iommu_mm->pasid}, or {@link #IOMMU_PASID_INVALID} before the mm's first bind. */
    public int mmPasid(MmStruct mm) { return sva.mmPasid(mm); }

    /** {@code mm_pasid_drop} (mm teardown): the mm's PASID returns; -EBUSY while the mm is still used. */
    public void mmPasidDrop(MmStruct mm) { run("mm_pasid_drop", () -> sva.mmPasidDrop(mm), mm); }

    // ---- I/O page faults (SEMANTICS.md 10; IopfEngine) -----------------------------------------

    /** Installs {@code h} as {@code d}'s fault handler (iommufd's fault object; null removes it). */
    public void domainSetIopfHandler(IommuDomain d, IopfHandler h) {
        run("iommu_domain_set_iopf_handler", () -> domains.setIopfHandler(d, h, auxEngine::isAux), d, h);
    }

    public IopfQueue iopfQueueAlloc(String name) { return call("iopf_queue_alloc", () -> iopf.queueAlloc(name), name); }

    /** {@code iopf_queue_add_device}: -ENODEV without {@code page_response}, -EBUSY if already added, -ENOMEM. */
    public void iopfQueueAddDevice(IopfQueue q, Device dev) {
        run("iopf_queue_add_device", () -> Args.check(iopf.addDevice(q, dev),
                () -> "iopf_queue_add_device: " + dev + " on " + q), q, dev);
    }

    /** {@code iopf_queue_remove_device}: pending groups are answered INVALID and freed, partial faults dropped. */
    public void iopfQueueRemoveDevice(IopfQueue q, Device dev) {
        run("iopf_queue_remove_device", () -> iopf.removeDevice(q, dev), q, dev);
    }

    /** {@code iopf_queue_flush_dev}: WARN and -ENODEV without a fault parameter. */
    public void iopfQueueFlushDev(Device dev) {
        run("iopf_queue_flush_dev", () -> Args.check(iopf.flushDev(Args.device(dev, "iopf_queue_flush_dev")),
                () -> "iopf_queue_flush_dev: " + dev + " has no fault parameter"), dev);
    }

    /** {@code iopf_queue_discard_partial}: drops the partial requests of every device on the queue. */
    public void iopfQueueDiscardPartial(IopfQueue q) { run("iopf_queue_discard_partial", () -> iopf.discardPartial(q), q); }

    /** {@code iopf_queue_free}: removes every device, then the queue. */
    public void iopfQueueFree(IopfQueue q) { run("iopf_queue_free", () -> iopf.queueFree(q), q); }

    /** {@code iommu_report_device_fault}: route a page request to its domain's handler; unhandled: -EINVAL. */
    public void reportDeviceFault(Device dev, IopfFault fault) {
        run("iommu_report_device_fault", () -> Args.check(iopf.report(dev, fault),
                () -> "iommu_report_device_fault: " + dev + " " + fault), dev, fault);
    }

    /** {@code iopf_group_response}: the first answer of a group reaches the driver, later ones do nothing (I-IOPF-ONCE). */
    public void iopfGroupResponse(IopfGroup g, PageResponse.Code code) {
        run("iopf_group_response", () -> iopf.groupResponse(g, code), g, code);
    }

    /** {@code iopf_free_group}: the handler is done with the group. */
    public void iopfFreeGroup(IopfGroup g) { iopf.freeGroup(g); }

    // ---- DMA ownership (SEMANTICS.md 7; OwnershipEngine) ---------------------------------------

    /** {@code iommu_device_use_default_domain}: a kernel driver using the DMA API binds. */
    public void deviceUseDefaultDomain(Device dev) {
        run("iommu_device_use_default_domain", () -> ownership.useDefaultDomain(dev), dev);
    }

    /** {@code iommu_device_unuse_default_domain}: WARN if nothing is held (S16). */
    public void deviceUnuseDefaultDomain(Device dev) {
        run("iommu_device_unuse_default_domain", () -> ownership.unuseDefaultDomain(dev), dev);
    }

    public void groupClaimDmaOwner(IommuGroup g, Object owner) {
        run("iommu_group_claim_dma_owner", () -> ownership.groupClaim(g, owner), g, owner);
    }

    public void groupReleaseDmaOwner(IommuGroup g) { run("iommu_group_release_dma_owner", () -> ownership.groupRelease(g), g); }

    /** {@code iommu_device_claim_dma_owner}: shared by equal owner tokens (S15). */
    public void deviceClaimDmaOwner(Device dev, Object owner) {
        run("iommu_device_claim_dma_owner", () -> ownership.deviceClaim(dev, owner), dev, owner);
    }

    public void deviceReleaseDmaOwner(Device dev) { run("iommu_device_release_dma_owner", () -> ownership.deviceRelease(dev), dev); }

    /** {@code iommu_group_dma_owner_claimed}: any user at all (also plain kernel drivers). */
    public boolean groupDmaOwnerClaimed(IommuGroup g) {
        return call("iommu_group_dma_owner_claimed", () -> ownership.claimed(g), g);
    }

    // ---- map / unmap front end (SEMANTICS.md 9; MapEngine) --------------------------------------

    /** {@code iommu_map}: map, sync; any failure unmaps what was mapped (I-MAP). */
    public void map(IommuDomain d, long iova, long paddr, long size, int prot) {
        CallDepth depth = enterFast();
        if (depth != null) {
            try {
                mapEngine.map(d, iova, paddr, size, prot);
            } finally {
                exitFast(depth);
            }
            return;
        }
        run("iommu_map", () -> mapEngine.map(d, iova, paddr, size, prot), d, iova, paddr, size, prot);
    }

    /** {@code iommu_map_nosync}: map without {@code iotlb_sync_map} (the DMA layer batches syncs). */
    public void mapNosync(IommuDomain d, long iova, long paddr, long size, int prot) {
        run("iommu_map_nosync", () -> mapEngine.mapNosync(d, iova, paddr, size, prot, true),
                d, iova, paddr, size, prot);
    }

    /** {@code iommu_sync_map}: the driver's {@code iotlb_sync_map}, if any. */
    public void syncMap(IommuDomain d, long iova, long size) {
        run("iommu_sync_map", () -> mapEngine.syncMap(d, iova, size, true), d, iova, size);
    }

    /** {@code iommu_unmap}: bytes unmapped (0 for a misaligned request or a hole), then one IOTLB sync. */
    public long unmap(IommuDomain d, long iova, long size) {
        return call("iommu_unmap", () -> mapEngine.unmap(d, iova, size), d, iova, size);
    }

    /** {@code iommu_unmap_fast}: as unmap, collecting into the caller's gather, no sync. */
    public long unmapFast(IommuDomain d, long iova, long size, IotlbGather gather) {
        CallDepth depth = enterFast();
        if (depth != null) {
            try {
                return mapEngine.unmapFast(d, iova, size, gather);
            } finally {
                exitFast(depth);
            }
        }
        return call("iommu_unmap_fast", () -> mapEngine.unmapFast(d, iova, size, gather), d, iova, size);
    }

    /** {@code iommu_map_sg}: coalesced runs; bytes mapped, or the errno after undoing them. */
    public long mapSg(IommuDomain d, long iova, List<SgEntry> sg, int prot) {
        return call("iommu_map_sg", () -> mapEngine.mapSg(d, iova, sg, prot), d, iova, sg, prot);
    }

    /** {@code iommu_iova_to_phys}: IDENTITY gives the iova, BLOCKED 0, else the driver's walk (0 = unmapped). */
    public long iovaToPhys(IommuDomain d, long iova) { return mapEngine.iovaToPhys(Args.domain(d, "iommu_iova_to_phys"), iova); }

    public void flushIotlbAll(IommuDomain d) {
        CallDepth depth = enterFast();
        if (depth != null) {
            try {
                mapEngine.flushIotlbAll(Args.domain(d, "iommu_flush_iotlb_all"));
            } finally {
                exitFast(depth);
            }
            return;
        }
        run("iommu_flush_iotlb_all", () -> mapEngine.flushIotlbAll(Args.domain(d, "iommu_flush_iotlb_all")), d);
    }

    /** {@code iommu_iotlb_sync}: the driver's {@code iotlb_sync} on the gather, then re-init it. */
    public void iotlbSync(IommuDomain d, IotlbGather gather) {
        CallDepth depth = enterFast();
        if (depth != null) {
            try {
                mapEngine.iotlbSync(Args.domain(d, "iommu_iotlb_sync"), gather);
            } finally {
                exitFast(depth);
            }
            return;
        }
        run("iommu_iotlb_sync", () -> mapEngine.iotlbSync(Args.domain(d, "iommu_iotlb_sync"), gather), d, gather);
    }

    /** {@code iommu_iotlb_gather_add_page}: sync first if the page is disjoint or of another size. */
    public void iotlbGatherAddPage(IommuDomain d, IotlbGather gather, long iova, long size) {
        mapEngine.gatherAddPage(Args.domain(d, "iommu_iotlb_gather_add_page"), gather, iova, size);
    }

    /**
     * A consistent picture of the whole core, taken under the probe lock and every group mutex:
     * records compare by value with objects by identity, so {@code before.equals(after)} proves a
     * failed call changed nothing in the core.
     */
    public CoreSnapshot snapshot() { return snapshots.take(); }

    /**
     * The global half of {@link #snapshot()} alone (global PASIDs, mms, SVA and aux domains, page
     * request groups; no group, device, domain or placeholder), under the aux and SVA locks: for
     * a checker that reads the groups a call touched by themselves.
     */
    public CoreSnapshot snapshotGlobal() { return snapshots.takeGlobal(); }
}
