package org.jiommu.dma;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.jiommu.base.IommuException;
import org.jiommu.bus.Device;
import org.jiommu.core.IommuCore;
import org.jiommu.core.SgEntry;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.core.spi.ResvRegion;
import org.jiommu.core.spi.ResvType;
import org.jiommu.mem.PhysicalMemory;
import org.jiommu.pgtable.IotlbGather;

/**
 * The DMA API on IOMMU default domains (drivers/iommu/dma-iommu.c): what a kernel driver that
 * calls {@code dma_map_*} gets when its device sits behind an IOMMU. It lives above the core and
 * uses only its public API: the device's default domain ({@code iommu_get_dma_domain}),
 * {@code iommu_map}, {@code iommu_unmap_fast}, {@code iommu_iotlb_sync},
 * {@code iommu_flush_iotlb_all}.
 *
 * <p>Each default domain gets a cookie on first use: an {@link IovaDomain} whose granule is the
 * domain's smallest page size, starting at pfn 1 (or the aperture start), with the device's
 * reserved regions and (for PCI) the host bridge windows taken out; and, on a DMA-FQ domain, a
 * {@link FlushQueue}. Devices whose default domain is not a DMA domain (identity) use
 * {@code dma-direct}: the DMA address is the physical address.
 *
 * <p>Errors are the kernel's: a failed map returns {@link #DMA_MAPPING_ERROR}, a failed
 * {@code dma_map_sg} 0, {@code dma_set_mask} -EIO; misuse (unmapping what is not mapped) is a
 * WARN that changes nothing. The CPU of a call is the thread's bound CPU ({@link #bindCpu}) or
 * one derived from the thread.
 */
public final class DmaIommu {
    /** {@code DMA_MAPPING_ERROR}: {@code (dma_addr_t)~0}. */
    public static final long DMA_MAPPING_ERROR = ~0L;
    /** {@code DMA_BIT_MASK(32)}: a device's mask until its driver sets one. */
    public static final long DMA_BIT_MASK_32 = 0xFFFF_FFFFL;
    /** {@code dma_get_max_seg_size} without {@code dma_parms}: 64 KiB. */
    public static final long DEFAULT_MAX_SEG_SIZE = 0x1_0000L;
    /** {@code dma_get_seg_boundary} without {@code dma_parms}: 4 GiB. */
    public static final long DEFAULT_SEG_BOUNDARY = 0xFFFF_FFFFL;

    /**
     * The machine the layer runs on.
     *
     * @param cpus CPUs with their own IOVA caches and flush-queue rings
     * @param forcedac {@code iommu.forcedac=1}: PCI devices skip the 32-bit-first allocation
     * @param singleQueue use the single flush queue (units that shadow their tables)
     * @param swiotlbBase first byte of the bounce-buffer pool
     * @param swiotlbSize bytes of the pool
     * @param coherentBase first byte of the pages {@code dma_alloc_coherent} hands out
     * @param coherentSize bytes of them
     * @param pciHostBridgeWindows inclusive {start, end} MMIO windows of the host bridge, never
     *     used as IOVA for PCI devices (a peer's BAR address would not reach the IOMMU)
     */
    public record Config(int cpus, boolean forcedac, boolean singleQueue, long swiotlbBase, long swiotlbSize,
                         long coherentBase, long coherentSize, List<long[]> pciHostBridgeWindows) {
        public Config {
            if (cpus < 1) {
                throw new IllegalArgumentException("cpus " + cpus);
            }
            pciHostBridgeWindows = List.copyOf(pciHostBridgeWindows);
        }

        /** Pools of 4 MiB each just below the top quarter of {@code memorySize} (where page tables live). */
        public static Config defaults(long memorySize, int cpus) {
            long top = memorySize / 4 * 3;
            return new Config(cpus, false, false, top - (8L << 20), 4L << 20, top - (4L << 20), 4L << 20, List.of());
        }
    }

    /** What a driver set for its device ({@code dev->dma_mask} etc.) and the layer's per-device flag. */
    static final class DevState {
        volatile long dmaMask = DMA_BIT_MASK_32;
        volatile long coherentDmaMask = DMA_BIT_MASK_32;
        /** {@code dev->iommu->pci_32bit_workaround}: try below 4 GiB first. */
        volatile boolean pci32bitWorkaround;
    }

    /**
     * A live mapping: the IOVA range and what it must translate to, as runs of {iova, paddr,
     * bytes} (one run for a single buffer, one per segment for a scatterlist); {@code paddr} is
     * the caller's buffer, which differs from the mapped pages when it was bounced.
     */
    public record Mapping(Device dev, IommuDomain domain, long iova, long size, long paddr, List<long[]> runs,
                          DmaDirection dir, boolean bounced) {
    }

    /**
     * What the layer remembers of a live mapping for the checker (the kernel keeps nothing): the
     * fields of a {@link Mapping}, which is built only when someone asks ({@link #liveMappings}),
     * so a single-buffer map allocates no run list. {@code runs} is null for one run
     * {iova, mapped, size}. Keyed in the cookie's {@link LiveTable} by its IOVA.
     */
    private static final class Live extends LiveTable.Entry {
        final Device dev;
        final long size;
        final long mapped;
        final long orig;
        final List<long[]> runs;
        final DmaDirection dir;
        final boolean bounced;

        Live(Device dev, long iova, long size, long mapped, long orig, List<long[]> runs, DmaDirection dir,
             boolean bounced) {
            super(iova);
            this.dev = dev;
            this.size = size;
            this.mapped = mapped;
            this.orig = orig;
            this.runs = runs;
            this.dir = dir;
            this.bounced = bounced;
        }

        Mapping mapping(IommuDomain domain) {
            return new Mapping(dev, domain, iova, size, orig, runs != null ? runs : List.of(new long[] {iova, mapped, size}),
                    dir, bounced);
        }
    }

    /** {@code struct iommu_dma_cookie}. */
    static final class Cookie {
        final IommuDomain domain;
        final IovaDomain iovad;
        volatile FlushQueue fq;
        /** The live mappings, one table per CPU (LiveTable: no line every CPU writes). */
        final LiveTable<Live> live;
        /** The doorbell pages mapped in this domain (MsiCookie). */
        final MsiCookie msi;

        Cookie(IommuDomain domain, IovaDomain iovad) {
            this.domain = domain;
            this.iovad = iovad;
            this.live = new LiveTable<>(iovad.cpus());
            this.msi = MsiCookie.forDma(domain, iovad.granule());
        }
    }

    private final IommuCore core;
    private final PhysicalMemory memory;
    private final SimClock clock;
    private final Config config;
    private final Swiotlb swiotlb;
    private final PagePool coherentPages;
    private final Map<IommuDomain, Cookie> cookies = new ConcurrentHashMap<>();
    /** MSI-only cookies of unmanaged domains (iommu_get_msi_cookie). */
    private final Map<IommuDomain, MsiCookie> msiCookies = new ConcurrentHashMap<>();
    private final Map<Device, DevState> devs = new ConcurrentHashMap<>();
    /**
     * The calling thread's CPU and its scratch gather: {@code __iommu_dma_unmap}'s on-stack
     * {@code struct iommu_iotlb_gather}, reused by the thread's next unmap unless a flush queue
     * kept it for its freelist.
     */
    private abstract static class PerThreadFields {
        int cpu = -1;
        IotlbGather gather = new CpuGather();
    }

    /**
     * A thread's CPU and its reusable gather, written on every unmap: padded (here and in
     * {@link CpuGather}) so that no other thread's data shares their cache lines wherever the
     * collector moves them (a subclass's fields are laid out after its superclass's).
     */
    private static final class PerThread extends PerThreadFields {
        long q00, q01, q02, q03, q04, q05, q06, q07, q08, q09, q10, q11, q12, q13, q14, q15;
    }

    /** A gather with 128 bytes of padding after its fields (see {@link PerThread}). */
    private static final class CpuGather extends IotlbGather {
        long q00, q01, q02, q03, q04, q05, q06, q07, q08, q09, q10, q11, q12, q13, q14, q15;
    }

    private final ThreadLocal<PerThread> perThread = ThreadLocal.withInitial(PerThread::new);
    private final List<String> warnings = new java.util.concurrent.CopyOnWriteArrayList<>();

    public DmaIommu(IommuCore core, PhysicalMemory memory, SimClock clock, Config config) {
        this.core = core;
        this.memory = memory;
        this.clock = clock;
        this.config = config;
        this.swiotlb = new Swiotlb(memory, config.swiotlbBase(), config.swiotlbSize());
        this.coherentPages = new PagePool(config.coherentBase(), config.coherentSize(), PhysicalMemory.FRAME_SIZE);
    }

    public SimClock clock() {
        return clock;
    }

    public Config config() {
        return config;
    }

    /** Runs the calling thread as CPU {@code cpu} from now on (-1: derive it from the thread again). */
    public void bindCpu(int cpu) {
        if (cpu >= config.cpus()) {
            throw new IllegalArgumentException("cpu " + cpu + " of " + config.cpus());
        }
        perThread.get().cpu = Math.max(-1, cpu);
    }

    int cpu() {
        return cpu(perThread.get());
    }

    private int cpu(PerThread t) {
        return t.cpu >= 0 ? t.cpu : (int) Math.floorMod(Thread.currentThread().getId(), (long) config.cpus());
    }

    /** WARNs the layer raised (misuse by a caller), oldest first. */
    public List<String> warnings() {
        return List.copyOf(warnings);
    }

    private void warn(String what) {
        warnings.add(what);
    }

    private DevState dev(Device dev) {
        DevState known = devs.get(dev); // no capturing lambda on the hot path
        if (known != null) {
            return known;
        }
        return devs.computeIfAbsent(dev, d -> {
            DevState s = new DevState();
            // iommu_dma_set_pci_32bit_workaround: PCI devices try 32-bit IOVAs first unless iommu.forcedac
            s.pci32bitWorkaround = d.busType() == Device.BusType.PCI && !config.forcedac();
            return s;
        });
    }

    // ------------------------------------------------------------------ masks

    /**
     * {@code dma_set_mask}: 0, or -EIO for a mask the device cannot use. With an IOMMU every mask
     * is supported ({@code dma_supported} is true for dma-iommu); dma-direct needs the mask to
     * reach all of memory it may be handed, which this model does not check beyond a zero mask.
     */
    public int dmaSetMask(Device dev, long mask) {
        if (mask == 0) {
            return org.jiommu.base.Errno.EIO.neg();
        }
        dev(dev).dmaMask = mask;
        return 0;
    }

    /** {@code dma_set_coherent_mask}. */
    public int dmaSetCoherentMask(Device dev, long mask) {
        if (mask == 0) {
            return org.jiommu.base.Errno.EIO.neg();
        }
        dev(dev).coherentDmaMask = mask;
        return 0;
    }

    /** {@code dma_get_mask}. */
    public long dmaGetMask(Device dev) {
        return dev(dev).dmaMask;
    }

    // ------------------------------------------------------------------ domain setup

    /** The cookie of the device's DMA domain, set up on first use; null when the device does not use dma-iommu. */
    Cookie cookie(Device dev) {
        IommuDomain d;
        try {
            d = core.getDmaDomain(dev);
        } catch (IommuException e) {
            return null;
        }
        if (d == null || !d.type().isDmaApi()) {
            return null;
        }
        Cookie c = cookies.get(d);
        if (c == null) {
            c = cookies.computeIfAbsent(d, k -> initDomain(dev, k));
        }
        if (c.fq == null && d.type().bits == org.jiommu.core.spi.DomainType.DMA_FQ.bits) {
            synchronized (c) {
                if (c.fq == null) {
                    c.fq = new FlushQueue(core, d, c.iovad, clock, config.singleQueue(), this::cpu);
                }
            }
        }
        return c;
    }

    /**
     * {@code iommu_dma_init_domain}: granule = the smallest page size, start pfn = max(1,
     * aperture start), then {@code iova_reserve_iommu_regions} for the first device: the PCI
     * host bridge windows and every reserved region except the software MSI window (this layer
     * would be the one to manage it).
     */
    private Cookie initDomain(Device dev, IommuDomain d) {
        long granule = Long.lowestOneBit(d.pgsizeBitmap());
        int order = Long.numberOfTrailingZeros(granule);
        long basePfn = Math.max(1, d.geometry().forceAperture() ? d.geometry().apertureStart() >>> order : 0);
        IovaDomain iovad = new IovaDomain(granule, basePfn, config.cpus(), clock);
        if (dev.busType() == Device.BusType.PCI) {
            for (long[] w : config.pciHostBridgeWindows()) {
                iovad.reserveIova(iovad.iovaPfn(w[0]), iovad.iovaPfn(w[1]));
            }
        }
        for (ResvRegion r : core.getResvRegions(dev)) {
            if (r.type() == ResvType.SW_MSI) {
                continue;
            }
            iovad.reserveIova(iovad.iovaPfn(r.start()), iovad.iovaPfn(r.end()));
        }
        return new Cookie(d, iovad);
    }

    /** {@code iommu_get_msi_cookie}: MSI pages of the unmanaged {@code domain} from IOVA {@code base} up (MsiCookie). */
    public void getMsiCookie(IommuDomain domain, long base) {
        synchronized (msiCookies) {
            msiCookies.put(domain, MsiCookie.forUnmanaged(domain, base));
        }
    }

    /**
     * {@code iommu_dma_prepare_msi} + {@code iommu_dma_compose_msi_msg}: the address {@code dev}
     * writes an MSI for the doorbell at physical {@code msiAddr}: through the device's current
     * domain's cookie (its doorbell page mapped on first use, MsiCookie), or {@code msiAddr}
     * itself when the domain translates nothing or has no cookie. -ENOMEM as MsiCookie says.
     */
    public long dmaPrepareMsi(Device dev, long msiAddr) {
        IommuDomain d = core.getDomainForDev(dev);
        if (d == null) {
            return msiAddr;
        }
        MsiCookie mc = msiCookies.get(d);
        if (mc != null) {
            return mc.compose(mc.getMsiPage(core, msiAddr, null), msiAddr);
        }
        Cookie c = d.type().isDmaApi() ? cookie(dev) : null;
        if (c == null || c.domain != d) {
            return msiAddr;
        }
        long mask = dmaGetMask(dev);
        MsiCookie.MsiPage p = c.msi.getMsiPage(core, msiAddr, new MsiCookie.IovaSource() {
            @Override
            public long alloc(long size) {
                return allocIova(c, dev, size, mask);
            }

            @Override
            public void free(long iova, long size) {
                freeIova(c, iova, size, null);
            }
        });
        // Live for the domain's life (the invariants count its IOVA as in use): the device writes there.
        Live l = new Live(dev, p.iova(), iovaGranule(c), p.phys(), p.phys(), null, DmaDirection.FROM_DEVICE, false);
        c.live.putIfAbsent(cpu(), l);
        return c.msi.compose(p, msiAddr);
    }

    private static long iovaGranule(Cookie c) {
        return c.iovad.granule();
    }

    /** The doorbell pages mapped in {@code domain} (a DMA or an MSI cookie's), empty without a cookie. */
    public List<MsiCookie.MsiPage> msiPages(IommuDomain domain) {
        MsiCookie mc = msiCookies.get(domain);
        Cookie c = cookies.get(domain);
        return mc != null ? mc.pages() : c != null ? c.msi.pages() : List.of();
    }

    /** The IOVA domain of the device's DMA domain (tests, the invariant checker); null if it uses dma-direct. */
    public IovaDomain iovaDomain(Device dev) {
        Cookie c = cookie(dev);
        return c == null ? null : c.iovad;
    }

    /** The flush queue of the device's DMA domain, null unless it is DMA-FQ. */
    public FlushQueue flushQueue(Device dev) {
        Cookie c = cookie(dev);
        return c == null ? null : c.fq;
    }

    // ------------------------------------------------------------------ IOVA alloc/free

    /**
     * {@code iommu_dma_alloc_iova}: small sizes rounded up to a power of two (the caches hold
     * one size per class), the limit cut to the aperture; a PCI device first tries below 4 GiB
     * without flushing the caches, and after the first failure there never again.
     */
    private long allocIova(Cookie c, Device dev, long size, long dmaLimit) {
        IovaDomain iovad = c.iovad;
        int shift = iovad.shift();
        long iovaLen = size >>> shift;
        if (iovaLen < (1L << (IovaDomain.IOVA_RANGE_CACHE_MAX_SIZE - 1))) {
            iovaLen = 1L << IovaDomain.orderBase2(iovaLen);
        }
        if (c.domain.geometry().forceAperture()) {
            dmaLimit = Long.compareUnsigned(dmaLimit, c.domain.geometry().apertureEnd()) < 0 ? dmaLimit
                    : c.domain.geometry().apertureEnd();
        }
        int cpu = cpu();
        DevState s = dev(dev);
        long pfn = 0;
        if (Long.compareUnsigned(dmaLimit, DMA_BIT_MASK_32) > 0 && s.pci32bitWorkaround) {
            pfn = iovad.allocIovaFast(cpu, iovaLen, DMA_BIT_MASK_32 >>> shift, false);
            if (pfn == 0) {
                s.pci32bitWorkaround = false;
            }
        }
        if (pfn == 0) {
            pfn = iovad.allocIovaFast(cpu, iovaLen, Math.min(dmaLimit >>> shift, IovaDomain.IOVA_ANCHOR - 1), true);
        }
        return pfn << shift;
    }

    /** {@code iommu_dma_free_iova}: into the flush queue when the unmap was queued, else straight back. */
    private void freeIova(Cookie c, long iova, long size, IotlbGather gather) {
        IovaDomain iovad = c.iovad;
        if (gather != null && gather.queued) {
            c.fq.queue(cpu(), iovad.iovaPfn(iova), size >>> iovad.shift(), gather);
        } else {
            iovad.freeIovaFast(cpu(), iovad.iovaPfn(iova), size >>> iovad.shift());
        }
    }

    // ------------------------------------------------------------------ map/unmap

    /** {@code __iommu_dma_map}: an IOVA for the granules covering {@code [phys, +size)}, mapped. */
    private long map(Cookie c, Device dev, long phys, long size, int prot, long dmaMask, long orig, DmaDirection dir) {
        IovaDomain iovad = c.iovad;
        long iovaOff = iovad.iovaOffset(phys);
        long len = iovad.iovaAlign(size + iovaOff);
        long iova = allocIova(c, dev, len, dmaMask);
        if (iova == 0) {
            return DMA_MAPPING_ERROR;
        }
        try {
            core.map(c.domain, iova, phys - iovaOff, len, prot);
        } catch (IommuException e) {
            freeIova(c, iova, len, null);
            return DMA_MAPPING_ERROR;
        }
        Live l = new Live(dev, iova, len, phys - iovaOff, orig, null, dir, orig != phys);
        c.live.put(cpu(), l);
        return iova + iovaOff;
    }

    /** {@code __iommu_dma_unmap}: unmap the granules; sync now unless the IOVA goes to the flush queue. */
    private void unmap(Cookie c, long dmaAddr, long size) {
        IovaDomain iovad = c.iovad;
        long iovaOff = iovad.iovaOffset(dmaAddr);
        dmaAddr -= iovaOff;
        size = iovad.iovaAlign(size + iovaOff);
        PerThread t = perThread.get();
        IotlbGather gather = t.gather.reset(); // iommu_iotlb_gather_init
        gather.queued = c.fq != null;
        long unmapped = core.unmapFast(c.domain, dmaAddr, size, gather);
        if (unmapped != size) {
            warn(String.format("__iommu_dma_unmap: unmapped %#x of %#x at %#x", unmapped, size, dmaAddr));
        }
        if (!gather.queued) {
            core.iotlbSync(c.domain, gather);
        }
        c.live.remove(cpu(t), dmaAddr);
        freeIova(c, dmaAddr, size, gather);
        if (gather.queued && !gather.freelist.isEmpty()) {
            t.gather = new CpuGather(); // the flush queue holds this one until its flush frees the pages
        }
    }

    /** {@code dev_use_swiotlb}: untrusted devices bounce (coherent devices need nothing else here). */
    private static boolean useSwiotlb(Device dev) {
        return dev.untrusted();
    }

    /**
     * {@code dma_map_page} / {@code iommu_dma_map_page}: {@code size} bytes at {@code phys} for
     * the device. An untrusted device's buffer that does not start and end on IOVA granules is
     * bounced first, so the device never reaches the rest of the pages. Returns the DMA address
     * or {@link #DMA_MAPPING_ERROR}.
     */
    public long dmaMapPage(Device dev, long phys, long size, DmaDirection dir) {
        if (size <= 0 || phys < 0 || !memory.contains(phys, size)) {
            warn(String.format("dma_map_page: [%#x, +%#x) is not memory", phys, size));
            return DMA_MAPPING_ERROR;
        }
        Cookie c = cookie(dev);
        DevState s = dev(dev);
        if (c == null) {
            return direct(s.dmaMask, phys, size);
        }
        int prot = dir.prot(true);
        long mapped = phys;
        boolean bounced = false;
        IovaDomain iovad = c.iovad;
        if (useSwiotlb(dev) && (iovad.iovaOffset(phys) != 0 || iovad.iovaOffset(size) != 0)) {
            mapped = swiotlb.mapSingle(phys, size, iovad.granule() - 1);
            if (mapped == DMA_MAPPING_ERROR) {
                return DMA_MAPPING_ERROR;
            }
            bounced = true;
        }
        long iova = map(c, dev, mapped, size, prot, s.dmaMask, phys, dir);
        if (iova == DMA_MAPPING_ERROR && bounced) {
            swiotlb.unmapSingle(mapped, size, dir, true);
        }
        return iova;
    }

    /** {@code dma_map_single}: the kernel virtual address is the physical one here. */
    public long dmaMapSingle(Device dev, long paddr, long size, DmaDirection dir) {
        return dmaMapPage(dev, paddr, size, dir);
    }

    /** dma-direct: the physical address, if the device can reach it. */
    private static long direct(long mask, long phys, long size) {
        return Long.compareUnsigned(phys + size - 1, mask) <= 0 ? phys : DMA_MAPPING_ERROR;
    }

    /**
     * {@code dma_unmap_page} / {@code iommu_dma_unmap_page}: the IOVA is unmapped (and freed now,
     * or after the next flush on a DMA-FQ domain), then a bounce buffer is copied back and freed.
     * An address that is not mapped is a WARN and nothing else.
     */
    public void dmaUnmapPage(Device dev, long dmaAddr, long size, DmaDirection dir) {
        Cookie c = cookie(dev);
        if (c == null) {
            return;
        }
        long phys = core.iovaToPhys(c.domain, dmaAddr);
        if (phys == 0) {
            warn(String.format("dma_unmap_page: %#x is not mapped for %s", dmaAddr, dev.name()));
            return;
        }
        unmap(c, dmaAddr, size);
        if (swiotlb.isSwiotlbBuffer(phys)) {
            swiotlb.unmapSingle(phys, size, dir, false);
        }
    }

    /** {@code dma_unmap_single}. */
    public void dmaUnmapSingle(Device dev, long dmaAddr, long size, DmaDirection dir) {
        dmaUnmapPage(dev, dmaAddr, size, dir);
    }

    /** {@code dma_sync_single_for_cpu}: a bounced buffer's device data is copied to the caller's buffer. */
    public void dmaSyncSingleForCpu(Device dev, long dmaAddr, long size, DmaDirection dir) {
        long phys = bouncePhys(dev, dmaAddr);
        if (phys >= 0) {
            swiotlb.syncForCpu(phys, size, dir);
        }
    }

    /** {@code dma_sync_single_for_device}: the caller's data is copied into the bounce buffer. */
    public void dmaSyncSingleForDevice(Device dev, long dmaAddr, long size, DmaDirection dir) {
        long phys = bouncePhys(dev, dmaAddr);
        if (phys >= 0) {
            swiotlb.syncForDevice(phys, size, dir);
        }
    }

    /** The bounce address {@code dmaAddr} maps to for a device that bounces; -1 when nothing is to be copied. */
    private long bouncePhys(Device dev, long dmaAddr) {
        Cookie c = cookie(dev);
        if (c == null || !useSwiotlb(dev)) {
            return -1;
        }
        long phys = core.iovaToPhys(c.domain, dmaAddr);
        return phys != 0 && swiotlb.isSwiotlbBuffer(phys) ? phys : -1;
    }

    // ------------------------------------------------------------------ scatterlists

    /**
     * {@code dma_map_sg} / {@code iommu_dma_map_sg}: one IOVA range for the whole list, each
     * segment laid out from a granule boundary (padded so none crosses the segment boundary
     * mask), mapped with one {@code iommu_map_sg}, then merged into as few DMA segments as the
     * device's max segment size and boundary allow ({@code __finalise_sg}). Returns the number
     * of DMA segments, 0 on failure. Untrusted devices map each segment on its own (bounced as
     * needed), as {@code iommu_dma_map_sg_swiotlb} does.
     */
    public int dmaMapSg(Device dev, ScatterList sg, DmaDirection dir) {
        Cookie c = cookie(dev);
        DevState s = dev(dev);
        int nents = sg.nents();
        if (c == null) {
            for (int i = 0; i < nents; i++) {
                sg.dmaAddress[i] = direct(s.dmaMask, sg.paddr[i], sg.length[i]);
                sg.dmaLength[i] = sg.length[i];
                if (sg.dmaAddress[i] == DMA_MAPPING_ERROR) {
                    return 0;
                }
            }
            return nents;
        }
        if (useSwiotlb(dev)) {
            for (int i = 0; i < nents; i++) {
                long a = dmaMapPage(dev, sg.paddr[i], sg.length[i], dir);
                if (a == DMA_MAPPING_ERROR) {
                    for (int j = 0; j < i; j++) {
                        dmaUnmapPage(dev, sg.dmaAddress[j], sg.dmaLength[j], dir);
                    }
                    return 0;
                }
                sg.dmaAddress[i] = a;
                sg.dmaLength[i] = sg.length[i];
            }
            return nents;
        }
        IovaDomain iovad = c.iovad;
        long mask = DEFAULT_SEG_BOUNDARY;
        long[] iovaOff = new long[nents];
        long[] iovaLen = new long[nents]; // each segment's granule-aligned length, padding included
        long total = 0;
        for (int i = 0; i < nents; i++) {
            iovaOff[i] = iovad.iovaOffset(sg.paddr[i]);
            iovaLen[i] = iovad.iovaAlign(sg.length[i] + iovaOff[i]);
            long pad = (mask - total + 1) & mask;
            // Pad the previous segment so this one starts on a boundary if it would cross one
            // (the single size-aligned allocation makes the layout address-independent).
            if (pad != 0 && pad < iovaLen[i] - 1) {
                iovaLen[i - 1] += pad;
                total += pad;
            }
            total += iovaLen[i];
        }
        long iova = allocIova(c, dev, total, s.dmaMask);
        if (iova == 0) {
            return 0;
        }
        // iommu_map_sg maps each segment's padded length from its first granule: the padding
        // maps whatever memory follows the previous segment, as in the kernel
        List<SgEntry> entries = new ArrayList<>(nents);
        List<long[]> runs = new ArrayList<>(nents);
        long at = iova;
        for (int i = 0; i < nents; i++) {
            entries.add(new SgEntry(sg.paddr[i] - iovaOff[i], iovaLen[i]));
            runs.add(new long[] {at, sg.paddr[i] - iovaOff[i], iovaLen[i]});
            at += iovaLen[i];
        }
        long mapped;
        try {
            mapped = core.mapSg(c.domain, iova, entries, dir.prot(true));
        } catch (IommuException e) {
            mapped = -1;
        }
        if (mapped < total) {
            freeIova(c, iova, total, null);
            return 0;
        }
        Live l = new Live(dev, iova, total, sg.paddr[0] - iovaOff[0], sg.paddr[0], runs, dir, false);
        c.live.put(cpu(), l);
        return finaliseSg(sg, iovaOff, iovaLen, iova);
    }

    /**
     * {@code __finalise_sg}: a segment joins the current DMA segment if it starts on a granule,
     * the IOVA is not on a segment boundary, and the merged length stays within the max segment
     * size; a segment that does not fill its granules ends the current one.
     */
    private static int finaliseSg(ScatterList sg, long[] iovaOff, long[] iovaLen, long dmaAddr) {
        int count = 0;
        int cur = -1;
        long curLen = 0;
        for (int i = 0; i < sg.nents(); i++) {
            sg.dmaAddress[i] = DMA_MAPPING_ERROR;
            sg.dmaLength[i] = 0;
        }
        for (int i = 0; i < sg.nents(); i++) {
            long sLen = sg.length[i];
            if (curLen != 0 && iovaOff[i] == 0 && (dmaAddr & DEFAULT_SEG_BOUNDARY) != 0
                    && DEFAULT_MAX_SEG_SIZE - curLen >= sLen) {
                curLen += sLen;
            } else {
                cur++;
                curLen = sLen;
                count++;
                sg.dmaAddress[cur] = dmaAddr + iovaOff[i];
            }
            sg.dmaLength[cur] = curLen;
            dmaAddr += iovaLen[i];
            if (sLen + iovaOff[i] < iovaLen[i]) {
                curLen = 0;
            }
        }
        return count;
    }

    /**
     * {@code dma_unmap_sg} / {@code iommu_dma_unmap_sg}: the one IOVA range from the first DMA
     * segment to the end of the last (untrusted devices: each segment).
     */
    public void dmaUnmapSg(Device dev, ScatterList sg, DmaDirection dir) {
        Cookie c = cookie(dev);
        if (c == null) {
            return;
        }
        if (useSwiotlb(dev)) {
            for (int i = 0; i < sg.nents(); i++) {
                dmaUnmapPage(dev, sg.dmaAddress[i], sg.dmaLength[i], dir);
            }
            return;
        }
        long start = sg.dmaAddress[0];
        long end = 0;
        for (int i = 0; i < sg.nents() && sg.dmaLength[i] != 0; i++) {
            end = sg.dmaAddress[i] + sg.dmaLength[i];
        }
        if (end != 0 && start != DMA_MAPPING_ERROR) {
            unmap(c, start, end - start);
        }
    }

    // ------------------------------------------------------------------ coherent buffers

    /** A coherent buffer: the CPU's address and the device's. */
    public record Coherent(long cpuAddr, long dmaHandle) {
    }

    /**
     * {@code dma_alloc_coherent} / {@code iommu_dma_alloc}: zeroed, physically contiguous pages
     * mapped read/write under the coherent mask; null if no pages or no IOVA.
     */
    public Coherent dmaAllocCoherent(Device dev, long size) {
        if (size <= 0) {
            return null;
        }
        long len = (size + PhysicalMemory.FRAME_SIZE - 1) & -(long) PhysicalMemory.FRAME_SIZE;
        int pages = (int) (len / PhysicalMemory.FRAME_SIZE);
        long pa = coherentPages.alloc(pages, 1);
        if (pa < 0) {
            return null;
        }
        memory.zero(pa, len);
        Cookie c = cookie(dev);
        DevState s = dev(dev);
        long handle = c == null ? direct(s.coherentDmaMask, pa, len)
                : map(c, dev, pa, len, DmaDirection.BIDIRECTIONAL.prot(true), s.coherentDmaMask, pa,
                        DmaDirection.BIDIRECTIONAL);
        if (handle == DMA_MAPPING_ERROR) {
            coherentPages.free(pa, pages);
            return null;
        }
        return new Coherent(pa, handle);
    }

    /** {@code dma_free_coherent}: unmap, then free the pages. */
    public void dmaFreeCoherent(Device dev, long size, Coherent buf) {
        long len = (size + PhysicalMemory.FRAME_SIZE - 1) & -(long) PhysicalMemory.FRAME_SIZE;
        Cookie c = cookie(dev);
        if (c != null) {
            unmap(c, buf.dmaHandle(), len);
        }
        coherentPages.free(buf.cpuAddr(), (int) (len / PhysicalMemory.FRAME_SIZE));
    }

    // ------------------------------------------------------------------ flush queue and accounting

    /** Flush the device's DMA-FQ domain now ({@code fq_flush_timeout}'s work); false if it has no queue. */
    public boolean fqFlush(Device dev) {
        FlushQueue fq = flushQueue(dev);
        if (fq == null) {
            return false;
        }
        fq.flushNow();
        return true;
    }

    /** Every live mapping of every DMA domain (the invariant checker). */
    public List<Mapping> liveMappings() {
        List<Mapping> out = new ArrayList<>();
        for (Cookie c : cookies.values()) {
            c.live.forEach(l -> out.add(l.mapping(c.domain)));
        }
        return out;
    }

    /** The IOVA domains in use, by DMA domain. */
    public Map<IommuDomain, IovaDomain> iovaDomains() {
        Map<IommuDomain, IovaDomain> m = new java.util.LinkedHashMap<>();
        cookies.forEach((d, c) -> m.put(d, c.iovad));
        return m;
    }

    /** The flush queues in use, by DMA domain. */
    public Map<IommuDomain, FlushQueue> flushQueues() {
        Map<IommuDomain, FlushQueue> m = new java.util.LinkedHashMap<>();
        cookies.forEach((d, c) -> {
            if (c.fq != null) {
                m.put(d, c.fq);
            }
        });
        return m;
    }

    /** Bounce mappings live now. */
    public int bounceMappings() {
        return swiotlb.liveMappings();
    }

    /** Pages held by coherent buffers now. */
    public int coherentPagesInUse() {
        return coherentPages.usedUnits();
    }

    /** Whether {@code pa} is in the bounce-buffer pool. */
    public boolean isSwiotlbBuffer(long pa) {
        return swiotlb.isSwiotlbBuffer(pa);
    }

    Collection<Cookie> cookies() {
        return cookies.values();
    }
}
