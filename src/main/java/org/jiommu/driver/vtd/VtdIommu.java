package org.jiommu.driver.vtd;

import static org.jiommu.hw.vtd.VtdRegisters.*;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.function.Predicate;
import org.jiommu.base.Errno;
import org.jiommu.base.IommuException;
import org.jiommu.base.WarningSink;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.core.spi.IommuDevice;
import org.jiommu.core.spi.IommuOps;
import org.jiommu.driver.common.EntryWrites;
import org.jiommu.driver.common.TagAllocator;
import org.jiommu.hw.vtd.VtdUnit;
import org.jiommu.mem.FrameAllocator;
import org.jiommu.mem.PhysicalMemory;

/**
 * The driver's view of one VT-d remapping unit (a DRHD; the kernel's {@code struct intel_iommu}):
 * what its CAP/ECAP registers say, its root table and context tables in memory, its
 * invalidation queue, its domain-id space and the faults it reported.
 *
 * <p>Everything the unit does is asked of it through its registers ({@link VtdUnit#read64},
 * {@link VtdUnit#write32} ...) and through memory; the driver never looks at the hardware
 * model's configuration or caches.
 *
 * <p>Locking: {@link #lock} ({@code iommu->lock}) guards the context and PASID tables, the
 * domain-id allocator and the per-device attachment state of devices behind this unit. It is
 * the outermost driver lock: a domain's lock and the invalidation queue's lock may be taken
 * inside it, never the reverse.
 */
public final class VtdIommu {
    /** DID the unit uses for pass-through and first-level-default entries (FLPT_DEFAULT_DID). */
    public static final int FLPT_DEFAULT_DID = 1;
    /**
     * First DID handed to domains (Linux IDA_START_DID): 0 is reserved (caching-mode hardware
     * tags not-present entries with it), 1 is {@link #FLPT_DEFAULT_DID}.
     */
    public static final int FIRST_DOMAIN_ID = 2;
    /** Widest second-level table the driver builds (DEFAULT_DOMAIN_ADDRESS_WIDTH). */
    static final int DEFAULT_DOMAIN_ADDRESS_WIDTH = 57;
    /** Faults kept in {@link #faults()}. */
    static final int FAULT_LOG_CAPACITY = 1024;

    final VtdUnit unit;
    final PhysicalMemory mem;
    final FrameAllocator frames;
    final WarningSink warnings;
    final String name;
    final Predicate<PciDevice> scope;
    final IommuDevice iommuDevice;

    // ---- capabilities, read from CAP_REG / ECAP_REG ----
    final long cap;
    final long ecap;
    final boolean scalable;
    /** AGAW of the tables the driver builds: the widest SAGAW not above 57 bits (iommu_calculate_agaw). */
    final int agaw;
    /** The widest SAGAW (iommu_calculate_max_sagaw), used for pass-through context entries. */
    final int msagaw;
    final int sagaw;
    /** MGAW: the widest input address. */
    final int mgaw;
    /** Number of domain ids (cap_ndoms). */
    final int ndoms;
    /** PASIDs the unit can tag (2^(PSS+1)), 0 in legacy mode. */
    final int maxPasids;
    final boolean deviceTlb;
    final boolean passThrough;
    final boolean pageSelective;
    final int maxAddressMask;
    final boolean drainReads;
    final boolean drainWrites;
    final boolean pageWalkSnoop;
    final boolean secondLevel;
    /** ECAP.FLTS: first-level (x86-64 format) translation in scalable mode, what SVA needs. */
    final boolean firstLevel;
    /** CAP.FL5LP: 5-level first-level tables. */
    final boolean firstLevel5Level;
    /** CAP.FL1GP: 1 GiB first-level pages. */
    final boolean firstLevel1G;
    /** nested_supported: scalable mode with ECAP.NEST. */
    final boolean nestedSupported;
    /** ECAP.C: the unit snoops the legacy-mode tables it walks. */
    final boolean coherent;
    final boolean snoopControl;
    final boolean cachingMode;
    final boolean writeBufferFlush;
    final boolean superpage2M;
    final boolean superpage1G;
    final int faultRegisterOffset;
    final int faultRegisters;

    final long rootTable;
    final InvalidationQueue queue;
    /** The page request queue, on scalable units with ECAP.PRS and ECAP.PDS; null otherwise. Set once after construction. */
    volatile PageRequestQueue prq;
    private final long queuePages;
    private final long statusPage;

    final Object lock = new Object();
    /** Serialises one-shot GCMD commands issued outside {@link #lock} (register_lock). */
    private final Object registerLock = new Object();
    /** Domain ids (domain_attach_iommu's ida). Assigned once in the constructor; guarded by {@link #lock}. */
    private final TagAllocator domainIds;
    /** GCMD persistent bits software has set (iommu->gcmd). Guarded by {@link #lock}. */
    private volatile int gcmd;
    /** Faults read from the fault recording registers. Guarded by itself. */
    private final List<DmarFault> faults = new ArrayList<>();
    private long faultsDropped;

    /**
     * Reads the unit's capabilities, allocates the root table and the invalidation queue, and
     * turns translation on in the kernel's order (init_dmars): queued invalidation, root table
     * pointer, global invalidation of every cache, fault interrupt unmasked, TE.
     *
     * @throws IommuException ENOMEM without memory for the root table or the queue; EOPNOTSUPP
     *     for a unit without queued invalidation (the driver does not implement register-based
     *     invalidation)
     */
    VtdIommu(VtdUnit unit, FrameAllocator frames, WarningSink warnings, IommuOps ops, Predicate<PciDevice> scope,
             boolean useScalableMode) {
        this.unit = unit;
        this.mem = frames.memory();
        this.frames = frames;
        this.warnings = warnings;
        this.scope = scope;
        this.name = unit.config().name();

        this.cap = unit.read64(CAP_REG);
        this.ecap = unit.read64(ECAP_REG);
        this.scalable = useScalableMode && (ecap & ECAP_SMTS) != 0;
        this.firstLevel = scalable && (ecap & ECAP_FLTS) != 0;
        this.secondLevel = !scalable || (ecap & ECAP_SLTS) != 0;
        this.firstLevel5Level = (cap & CAP_FL5LP) != 0;
        this.sagaw = calculateSagaw((int) field(cap, 12, 8));
        this.mgaw = (int) field(cap, 21, 16) + 1;
        this.ndoms = 1 << (4 + 2 * (int) field(cap, 2, 0));
        this.agaw = agawNotAbove(sagaw, DEFAULT_DOMAIN_ADDRESS_WIDTH);
        this.msagaw = agawNotAbove(sagaw, 64);
        if (agaw < 0) {
            // alloc_iommu: "Cannot get a valid agaw"
            throw new IommuException(Errno.ENODEV, name + ": SAGAW " + Integer.toHexString(sagaw)
                    + " names no table width both translation stages support");
        }
        boolean qi = (ecap & ECAP_QI) != 0;
        if (!qi) {
            throw new IommuException(Errno.EOPNOTSUPP, name + ": no queued invalidation (ECAP.QI); register-based "
                    + "invalidation is not implemented by this driver");
        }
        this.maxPasids = scalable && (ecap & ECAP_PASID) != 0 ? 1 << ((int) field(ecap, 39, 35) + 1) : 0;
        this.deviceTlb = (ecap & ECAP_DT) != 0;
        this.passThrough = (ecap & ECAP_PT) != 0;
        this.pageSelective = (cap & CAP_PSI) != 0;
        this.maxAddressMask = (int) field(cap, 53, 48);
        this.drainReads = (cap & CAP_DRD) != 0;
        this.drainWrites = (cap & CAP_DWD) != 0;
        this.pageWalkSnoop = (ecap & ECAP_SMPWCS) != 0;
        this.firstLevel1G = (cap & CAP_FL1GP) != 0;
        this.nestedSupported = scalable && (ecap & ECAP_NEST) != 0;
        this.coherent = (ecap & ECAP_C) != 0;
        this.snoopControl = (ecap & ECAP_SC) != 0;
        this.cachingMode = (cap & CAP_CM) != 0;
        this.writeBufferFlush = (cap & CAP_RWBF) != 0;
        long sllps = field(cap, 37, 34);
        this.superpage2M = (sllps & 1) != 0;
        this.superpage1G = (sllps & 2) != 0;
        this.faultRegisterOffset = (int) field(cap, 33, 24) * 16;
        this.faultRegisters = (int) field(cap, 47, 40) + 1;

        this.rootTable = allocPage(0, "root table");
        this.statusPage = allocPage(0, "invalidation status");
        boolean wide = scalable;
        this.queuePages = allocPage(wide ? 1 : 0, "invalidation queue");
        this.queue = new InvalidationQueue(unit, mem, warnings, name, queuePages, wide, statusPage);
        this.iommuDevice = new IommuDevice(name, ops, maxPasids);
        this.domainIds = new TagAllocator(name + " domain id", FIRST_DOMAIN_ID, ndoms);
        enable();
    }

    /**
     * __iommu_calculate_sagaw: the widths the driver may build tables of. A scalable unit with
     * first-level support limits them to what first-level tables have (4 levels, and 5 with
     * CAP.FL5LP), also for second-level tables when it has both stages, since the kernel picks
     * one AGAW per unit for either kind of domain.
     */
    private int calculateSagaw(int slSagaw) {
        int flSagaw = (1 << 2) | (firstLevel5Level ? 1 << 3 : 0);
        if (!firstLevel) {
            return slSagaw;
        }
        return secondLevel ? flSagaw & slSagaw : flSagaw;
    }

    /** The largest AGAW in {@code sagaw} whose width is at most {@code maxWidth}, or -1 (__iommu_calculate_agaw). */
    static int agawNotAbove(int sagaw, int maxWidth) {
        for (int a = (maxWidth - 30 + 8) / 9; a >= 0; a--) {
            if (a < 5 && (sagaw & (1 << a)) != 0) {
                return a;
            }
        }
        return -1;
    }

    /** Bits {@code [hi:lo]} of a register value. */
    static long field(long value, int hi, int lo) {
        return (value >>> lo) & (hi - lo == 63 ? -1L : (1L << (hi - lo + 1)) - 1);
    }

    /** width(agaw) = min(30 + 9 agaw, 64) (HARDWARE.md 2.1). */
    static int agawToWidth(int agaw) {
        return Math.min(30 + 9 * agaw, 64);
    }

    private long allocPage(int order, String what) {
        long pa = frames.alloc(order);
        if (pa < 0) {
            throw new IommuException(Errno.ENOMEM, name + ": no memory for the " + what);
        }
        return pa;
    }

    /**
     * iommu_superpage_capability: how many superpage levels a domain of the given stage gets on
     * this unit (first level: 2M always, 1G with CAP.FL1GP; second level: the highest SLLPS bit).
     */
    int superpageCapability(boolean firstStage) {
        if (firstStage) {
            return firstLevel1G ? 2 : 1;
        }
        int sllps = (superpage2M ? 1 : 0) | (superpage1G ? 2 : 0);
        return 32 - Integer.numberOfLeadingZeros(sllps);
    }

    /** iommu_paging_structure_coherency: SMPWC in scalable mode, ECAP.C in legacy mode. */
    boolean pagingStructureCoherency() {
        return scalable ? pageWalkSnoop : coherent;
    }

    /** The domain guest address width: the AGAW's width, capped at MGAW (paging_domain_alloc). */
    int domainGaw() {
        return Math.min(agawToWidth(agaw), mgaw);
    }

    /**
     * iommu_flush_write_buffer: on a unit with CAP.RWBF, GCMD.WBF and a wait for GSTS.WBFS to
     * clear; nothing elsewhere. Takes only the register lock (the kernel's register_lock), so a
     * caller may hold a domain's lock.
     */
    void flushWriteBuffer() {
        if (!writeBufferFlush) {
            return;
        }
        synchronized (registerLock) {
            unit.write32(GCMD_REG, gcmd | GCMD_WBF);
            waitStatus(GSTS_WBFS, false, "write buffer flush");
        }
    }

    /** Allocates a zeroed 4 KiB table page; -1 when memory is exhausted. */
    long allocTable() {
        return frames.alloc(0);
    }

    private void enable() {
        synchronized (lock) {
            // Faults interrupt the driver (dmar_set_interrupt): unmask the fault event.
            unit.setFaultEventHandler(this::faultEvent);
            unit.write32(FECTL_REG, 0);
            queue.program();
            gcmd |= GCMD_QIE;
            unit.write32(GCMD_REG, gcmd);
            waitStatus(GSTS_QIES, true, "queued invalidation enable");
            unit.write64(RTADDR_REG, rootTable | (scalable ? RTADDR_SMT : 0));
            unit.write32(GCMD_REG, gcmd | GCMD_SRTP);
            waitStatus(GSTS_RTPS, true, "root table pointer");
            List<long[]> global = new ArrayList<>();
            global.add(VtdEncoder.contextCacheInv(VtdEncoder.G_GLOBAL, 0, 0, 0));
            if (scalable) {
                global.add(VtdEncoder.pasidCacheInv(VtdEncoder.PC_G_GLOBAL, 0, 0));
            }
            global.add(VtdEncoder.iotlbInv(VtdEncoder.G_GLOBAL, 0, 0, 0, false, drainWrites, drainReads));
            queue.submit(global);
            gcmd |= GCMD_TE;
            unit.write32(GCMD_REG, gcmd);
            waitStatus(GSTS_TES, true, "translation enable");
        }
    }

    /** IOMMU_WAIT_OP on GSTS: the model's unit acts on the write, so one read normally suffices. */
    private void waitStatus(int bit, boolean set, String what) {
        for (int i = 0; i < 1000; i++) {
            if (((unit.read32(GSTS_REG) & bit) != 0) == set) {
                return;
            }
            Thread.onSpinWait();
        }
        throw new IllegalStateException(name + ": GSTS never reported " + what);
    }

    // ------------------------------------------------------------------------------------------
    // Root and context tables
    // ------------------------------------------------------------------------------------------

    /** Size of one context entry: 128 bit legacy, 256 bit scalable. */
    int contextEntrySize() {
        return scalable ? 32 : 16;
    }

    /**
     * {@code iommu_context_addr}: the address of the context entry of {@code sid}, allocating
     * its context table (and setting the root entry present) when {@code alloc}; 0 when there
     * is none (or no memory for one). Holds {@link #lock}.
     */
    long contextEntryAddress(int sid, boolean alloc) {
        int bus = (sid >>> 8) & 0xFF;
        int devfn = sid & 0xFF;
        long rootAddr = rootTable + bus * 16L;
        boolean upper = scalable && devfn > 127;
        long word = mem.readLong(rootAddr + (upper ? 8 : 0));
        long table;
        if ((word & 1) != 0) {
            table = word & ~0xFFFL;
        } else {
            if (!alloc) {
                return 0;
            }
            table = allocTable();
            if (table < 0) {
                return 0;
            }
            // A not-present root entry is never cached: no invalidation is needed to make it visible.
            if (scalable) {
                long lo = mem.readLong(rootAddr);
                long hi = mem.readLong(rootAddr + 8);
                long[] e = VtdEncoder.scalableRootEntry(upper ? (lo & ~0xFFFL) : table, upper ? table : (hi & ~0xFFFL));
                mem.writeLongRelease(rootAddr + (upper ? 8 : 0), e[upper ? 1 : 0]);
            } else {
                long[] e = VtdEncoder.rootEntry(table);
                mem.writeLong(rootAddr + 8, e[1]);
                mem.writeLongRelease(rootAddr, e[0]);
            }
        }
        int index = scalable ? devfn & 0x7F : devfn;
        return table + (long) index * contextEntrySize();
    }

    /** Writes an entry's words highest first, so the word holding P (word 0) lands last. */
    void writeEntry(long address, long[] words) {
        EntryWrites.writePresentLast(mem, address, words);
    }

    long[] readEntry(long address, int words) {
        return EntryWrites.read(mem, address, words);
    }

    // ------------------------------------------------------------------------------------------
    // Domain ids (domain_attach_iommu's allocator)
    // ------------------------------------------------------------------------------------------

    /** The lowest free DID at or above {@link #FIRST_DOMAIN_ID}, or -1 when all are in use. Holds {@link #lock}. */
    int allocDomainId() {
        return domainIds.alloc();
    }

    /** Holds {@link #lock}. */
    void freeDomainId(int did) {
        if (!domainIds.free(did)) {
            warnings.warn("domain_detach_iommu", name + ": freeing domain id " + did + " that is not allocated");
        }
    }

    // ------------------------------------------------------------------------------------------
    // Invalidation helpers
    // ------------------------------------------------------------------------------------------

    long[] iotlbDomain(int did) {
        return VtdEncoder.iotlbInv(VtdEncoder.G_DOMAIN, did, 0, 0, false, drainWrites, drainReads);
    }

    long[] contextDevice(int did, int sid) {
        return VtdEncoder.contextCacheInv(VtdEncoder.G_DEVICE_OR_PAGE, did, sid, 0);
    }

    // ------------------------------------------------------------------------------------------
    // Faults (dmar_fault)
    // ------------------------------------------------------------------------------------------

    /**
     * The fault event handler ({@code dmar_fault}): reads every pending fault recording
     * register from FSTS.FRI on, logs it and clears its F bit, then clears PFO and PPF.
     */
    private void faultEvent() {
        int fsts = unit.read32(FSTS_REG);
        if ((fsts & FSTS_PPF) != 0) {
            int index = (fsts & FSTS_FRI_MASK) >>> FSTS_FRI_SHIFT;
            for (int n = 0; n < faultRegisters; n++) {
                int reg = faultRegisterOffset + index * FRCD_REG_SIZE;
                long hi = unit.read64(reg + 8);
                if ((hi & FRCD_F) == 0) {
                    break;
                }
                long lo = unit.read64(reg);
                record(DmarFault.decode(name, lo, hi));
                unit.write32(reg + 12, (int) (FRCD_F >>> 32));
                index = (index + 1) % faultRegisters;
            }
        }
        if ((fsts & FSTS_PFO) != 0) {
            synchronized (faults) {
                faultsDropped++;
            }
        }
        unit.write32(FSTS_REG, FSTS_PFO | FSTS_PPF);
    }

    private void record(DmarFault f) {
        synchronized (faults) {
            if (faults.size() == FAULT_LOG_CAPACITY) {
                faults.remove(0);
            }
            faults.add(f);
        }
    }

    // ------------------------------------------------------------------------------------------
    // Public view
    // ------------------------------------------------------------------------------------------

    /** The hardware unit this driver state programs. */
    public VtdUnit unit() {
        return unit;
    }

    /** The instance registered with the core and named in devices' fwspecs. */
    public IommuDevice iommuDevice() {
        return iommuDevice;
    }

    public String name() {
        return name;
    }

    /** Whether the driver runs this unit in scalable mode (RTADDR.TTM = 01). */
    public boolean scalableMode() {
        return scalable;
    }

    /** AGAW of the second-level tables built for devices behind this unit. */
    public int agaw() {
        return agaw;
    }

    /** Input address width of those tables: 39, 48 or 57. */
    public int domainAddressWidth() {
        return Math.min(agawToWidth(agaw), mgaw);
    }

    /** Whether this unit's DMA-remapping hardware unit scope covers {@code dev}. */
    public boolean covers(PciDevice dev) {
        return scope == null || scope.test(dev);
    }

    /** Domain ids in use on this unit (including the two reserved ones). */
    public BitSet domainIdsInUse() {
        synchronized (lock) {
            BitSet inUse = domainIds.snapshot();
            inUse.set(0, FIRST_DOMAIN_ID);
            return inUse;
        }
    }

    /** Faults the driver read from the fault recording registers, oldest first. */
    public List<DmarFault> faults() {
        synchronized (faults) {
            return List.copyOf(faults);
        }
    }

    public void clearFaults() {
        synchronized (faults) {
            faults.clear();
        }
    }

    /** Invalidation batches submitted (each completed by its wait descriptor). */
    public long invalidationBatches() {
        return queue.batches();
    }

    @Override
    public String toString() {
        return name;
    }
}
