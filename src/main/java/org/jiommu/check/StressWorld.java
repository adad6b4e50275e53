package org.jiommu.check;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import org.jiommu.base.Errno;
import org.jiommu.bus.Device;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.core.IommuCore;
import org.jiommu.core.IommuGroup;
import org.jiommu.core.IopfGroup;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.mm.CpuFormat;
import org.jiommu.mm.MmStruct;
import org.jiommu.core.spi.PageResponse;
import org.jiommu.mem.FrameAllocator;
import org.jiommu.platform.IommuKind;
import org.jiommu.platform.IommuUnits;
import org.jiommu.platform.Platform;
import org.jiommu.platform.StressBed;
import org.jiommu.platform.StressPlant;

/**
 * The platform a stress run shares, as the run's IOMMU kind builds it ({@link StressBed}: core,
 * driver, devices, groups, DMA lanes when the kind's hardware translates the workers' DMA), plus
 * what the harness adds: shared domains; with the part-2 churn an IOPF-capable paging domain,
 * aux domains, processes and the page request groups the IOPF handler kept for later answers.
 */
final class StressWorld {
    static final long DIRECT = StressBed.DIRECT;
    /** Processes alive at a time (each exits and is replaced by a new one during the run). */
    static final int PROCESSES = 3;
    /** User memory every process maps, where SVA page requests land. */
    static final long VMA_START = 0x10_0000L;
    static final long VMA_PAGES = 16;

    final IommuCore core;
    final FrameAllocator frames;
    /** What the kind built for the run. */
    final StressBed bed;
    /** The format of the processes' page tables ({@link #cpuFormat(Platform)}). */
    final CpuFormat cpuFormat;
    final Platform platform;
    /** One DMA lane per worker, outside the shared groups (empty when the kind's DMA is not checked). */
    final List<DmaLane.Lane> lanes = new ArrayList<>();
    /** Frame statistics I10 compares the end of the run with. */
    final FrameAllocator.Stats baseline;
    final boolean pasids;
    final StressHarness.Plant plant;
    /** The kind's plant the run plants, or null (none, or one of the harness's own). */
    final StressPlant kindPlant;
    final List<Device> devices = new ArrayList<>();
    /** The PCI functions with PASIDs (p, q1, q2, n). */
    final List<PciDevice> pasidDevices = new ArrayList<>();
    final List<IommuGroup> groups = new ArrayList<>();
    /** Shared paging domains; with part 2 on a bed without DMA page requests, domain 0 is {@link #iopfDomain}. */
    final List<IommuDomain> domains = new ArrayList<>();
    /**
     * With part 2, the paging domain carrying the IOPF handler (half the PASID work attaches it):
     * domain 0 where page requests are reported by the workers (the mock); where they come from
     * DMA (a real driver: VT-d, SMMUv3) a domain of its own, attached only at PASIDs, never at a
     * RID or a lane. Such a driver takes an IOPF reference for every domain with a fault handler
     * ({@code iopf_for_domain_set} tests {@code domain->iopf_handler}) and refuses it on a device
     * without PRI (VT-d {@code intel_iommu_enable_iopf}: -ENODEV), as iommufd's user attaches a
     * fault-capable HWPT only to devices that can fault. Null without part 2.
     */
    IommuDomain iopfDomain;
    /** Paging domains used only as aux domains (S04 keeps them off RIDs). */
    final List<IommuDomain> auxDomains = new ArrayList<>();
    /** The live process of each slot; an exiting one is replaced. */
    final AtomicReferenceArray<Proc> procs = new AtomicReferenceArray<>(PROCESSES);
    /** Exited processes whose PASID may still be held by SVA domains. */
    final ConcurrentLinkedQueue<Proc> exited = new ConcurrentLinkedQueue<>();
    /** Every process ever made, for the teardown. */
    final ConcurrentLinkedQueue<Proc> allProcs = new ConcurrentLinkedQueue<>();
    /** Page request groups the IOPF handler kept; a worker answers them. */
    final ConcurrentLinkedQueue<IopfGroup> heldFaults = new ConcurrentLinkedQueue<>();
    private final AtomicInteger procSeq = new AtomicInteger();
    /**
     * Per group: the PASID-type attachments the workers hold (PASIDs, aux, SVA), and a gate that
     * keeps new ones out while a worker gives back a use or claim of the group.
     */
    private final Map<IommuGroup, AtomicInteger> pasidHolds = new IdentityHashMap<>();
    private final Map<IommuGroup, ReentrantReadWriteLock> gates = new IdentityHashMap<>();
    /** Per shared group, its first device in bed order: how a scenario step names the group. */
    private final Map<IommuGroup, String> groupNames = new IdentityHashMap<>();

    /** A process: its mm and whether it has exited, under a lock binders hold for reading. */
    static final class Proc {
        final MmStruct mm;
        final ReentrantReadWriteLock life = new ReentrantReadWriteLock();
        /** Guarded by {@link #life}. */
        boolean exited;

        Proc(MmStruct mm) {
            this.mm = mm;
        }
    }

    StressWorld(StressHarness.Config cfg) {
        this.pasids = cfg.pasids();
        this.plant = cfg.plant();
        this.bed = cfg.bed(new StressBed.Shape(cfg.threads(), cfg.pasids()));
        this.platform = bed.platform();
        this.core = platform.core();
        this.frames = platform.frames();
        this.baseline = bed.baseline();
        this.cpuFormat = cpuFormat(platform);
        this.kindPlant = kindPlant(platform, cfg.plant());
        String why = StressHarness.unplantable(cfg.plant(), bed);
        if (why != null) {
            throw new IllegalArgumentException("plant '" + cfg.plant() + "' cannot be planted on this bed: " + why);
        }
        pasidDevices.addAll(bed.pasidDevices());
        collect(bed.devices());
        for (StressBed.Lane l : bed.lanes()) {
            lanes.add(new DmaLane.Lane(l.dev(), core.groupGet(l.dev()), l.dma()));
        }
        shared(cfg);
        if (kindPlant != null && kindPlant.when() == StressPlant.When.BUILD) {
            kindPlant.plant(bed);
        }
    }

    /** The kind's plant of that name; null for the harness's own. @throws IllegalArgumentException if none */
    private static StressPlant kindPlant(Platform platform, StressHarness.Plant plant) {
        if (plant.harness()) {
            return null;
        }
        for (IommuUnits u : platform.units()) {
            StressPlant p = u.plants().get(plant.name());
            if (p != null) {
                return p;
            }
        }
        throw new IllegalArgumentException("no stress plant '" + plant.name() + "' on this platform");
    }

    /** The device name a scenario step names shared group {@code g} by. */
    String groupName(IommuGroup g) {
        return groupNames.get(g);
    }

    /** Whether the kind checks its hardware against the core at quiescent points (I7). */
    boolean quiescentPoints() {
        return platform.hasAgreement();
    }

    /** Records the devices and their groups (in device order) for the workers. */
    private void collect(List<? extends Device> all) {
        for (Device d : all) {
            devices.add(d);
            IommuGroup g = core.groupGet(d);
            if (!groups.contains(g)) {
                groups.add(g);
                groupNames.put(g, d.name());
                pasidHolds.put(g, new AtomicInteger());
                gates.put(g, new ReentrantReadWriteLock());
            }
        }
    }

    /** The shared domains, the IOPF handler, aux domains and processes. */
    private void shared(StressHarness.Config cfg) {
        Device a1 = devices.get(0);
        for (int i = 0; i < cfg.domains(); i++) {
            domains.add(core.pagingDomainAlloc(a1));
        }
        if (pasids) {
            // the handler keeps odd groups for a worker to answer, answers even ones at once and
            // fails every fifth (answered FAILURE by the core), as a fault object's user might.
            // Where page requests come from DMA it answers none at once: there a PASID teardown's
            // drain waits for the IOPF queue's worker (iopf_queue_flush_dev) from inside its core
            // call, holding the watch's gate for reading; an answer from the handler is a core
            // call on that worker, which can wait at the gate behind the watch's writer, itself
            // waiting for the teardown's call. A harness cycle (the kernel has no such gate), so
            // there the groups are kept for PAGE_RESPONSE steps, as iommufd's fault queue keeps them.
            boolean answerAtOnce = !bed.pageRequestsFromDma();
            iopfDomain = bed.pageRequestsFromDma() ? core.pagingDomainAlloc(a1) : domains.get(0);
            core.domainSetIopfHandler(iopfDomain, g -> {
                if (g.serial() % 5 == 0) {
                    return Errno.ENOMEM.neg();
                }
                if (answerAtOnce && g.serial() % 2 == 0) {
                    core.iopfGroupResponse(g, PageResponse.Code.SUCCESS);
                    core.iopfFreeGroup(g);
                } else {
                    heldFaults.add(g);
                }
                return 0;
            });
            // a file's platform may have no PASID function at all (part 1 only, PlatformBed)
            Device p = pasidDevices.get(0);
            for (int i = 0; i < 2; i++) {
                auxDomains.add(core.pagingDomainAlloc(p));
            }
            for (int i = 0; i < PROCESSES; i++) {
                procs.set(i, newProc());
            }
        }
    }

    /** Where worker {@code tid} maps its window slot: inside memory when DMA lands there (lanes). */
    long pa(int tid, int slot) {
        if (lanes.isEmpty()) {
            return 0x1_0000_0000L + StressHarness.iova(tid, slot);
        }
        return 0x1_0000_0000L + tid * 0x100_0000L + slot * 0x20000L;
    }

    /** The shared groups and the lanes' groups. */
    List<IommuGroup> allGroups() {
        List<IommuGroup> out = new ArrayList<>(groups);
        for (DmaLane.Lane l : lanes) {
            out.add(l.group());
        }
        return out;
    }

    /** The shared devices and the lane devices. */
    List<Device> allDevices() {
        List<Device> out = new ArrayList<>(devices);
        for (DmaLane.Lane l : lanes) {
            out.add(l.dev());
        }
        return out;
    }

    /**
     * With no core call running: invariant I7 (the platform's hardware agreement), each violation
     * reported as unexpected with where it was found.
     */
    void quiesce(String where, StressHarness.Run run) {
        try {
            run.hardwareChecks.incrementAndGet();
            for (String v : platform.agreement()) {
                run.unexpected.add("I7 at " + where + ": " + v);
            }
        } catch (RuntimeException e) {
            run.unexpected.add("I7 at " + where + ": " + e);
        }
    }

    /**
     * Runs {@code report} (a page request from {@code dev}, a worker playing the driver) where page
     * requests do not come from DMA. Not where they do: there they come from the devices'
     * own DMA through the hardware's page request queue and the driver's handler
     * ({@link DmaLane#pasidDma}); a worker's report would play a driver other than the real one.
     * False if not sent.
     */
    boolean pageRequest(Runnable report) {
        if (bed.pageRequestsFromDma()) {
            return false;
        }
        report.run();
        return true;
    }

    /** After the teardown: what each kind's hardware must have drained ({@link IommuUnits#afterStress}). */
    void afterTeardown(StressHarness.Run run) {
        for (IommuUnits u : platform.units()) {
            u.afterStress(bed, run.unexpected);
        }
    }

    /** Whether worker {@code tid} plays the rogue caller of {@link StressHarness.Plant#ROGUE_PASID_FREE}. */
    boolean plantRogueFree(int tid) {
        return plant.equals(StressHarness.Plant.ROGUE_PASID_FREE) && tid == 0;
    }

    /**
     * The CPU page-table format of the bed's processes: the platform's IOMMU kinds' ({@link
     * IommuKind#cpuFormat()}, arm64 for an SMMUv3), x86-64 when they differ or there is none, as a
     * scenario's {@code mm_create} decides it. An SVA domain shares its process's table, so an SMMUv3
     * bed needs arm64 processes to bind at all ({@code arm_smmu_sva_supported} walks AArch64 tables).
     */
    static CpuFormat cpuFormat(Platform platform) {
        if (platform.units().isEmpty()) {
            return CpuFormat.X86_64;
        }
        CpuFormat f = platform.units().get(0).kind().cpuFormat();
        for (IommuUnits u : platform.units()) {
            if (u.kind().cpuFormat() != f) {
                return CpuFormat.X86_64;
            }
        }
        return f;
    }

    /** A new process with one read/write VMA, its table in the bed's {@link #cpuFormat}. */
    Proc newProc() {
        MmStruct mm = new MmStruct("proc" + procSeq.incrementAndGet(), frames, cpuFormat, cpuFormat.defaultLevels());
        mm.mmap(VMA_START, VMA_PAGES * 0x1000L, org.jiommu.base.Prot.RW);
        // the process writes every other page of its buffer before a device sees it: an SVA DMA
        // there lands without a page fault, also on a kind whose devices take none (SMMUv3 PCI)
        for (long page = 0; page < VMA_PAGES; page += 2) {
            mm.handleMmFault(VMA_START + page * 0x1000L, true, false);
        }
        Proc p = new Proc(mm);
        allProcs.add(p);
        return p;
    }

    /**
     * Runs {@code add} (a call that may add a PASID-type attachment to {@code g}) while no worker
     * is giving back a use or claim of {@code g}; on success the group counts one more holding.
     */
    void addPasidHolding(IommuGroup g, Runnable add) {
        ReentrantReadWriteLock gate = gates.get(g);
        gate.readLock().lock();
        try {
            add.run();
            pasidHolds.get(g).incrementAndGet();
        } finally {
            gate.readLock().unlock();
        }
    }

    /** A PASID-type attachment of {@code g} was given back. */
    void dropPasidHolding(IommuGroup g) {
        pasidHolds.get(g).decrementAndGet();
    }

    /**
     * Runs {@code release} (giving back a use or a claim of {@code g}) only if no worker holds a
     * PASID-type attachment of the group, and keeps new ones out meanwhile: legal users detach
     * their PASIDs first ({@code iommu_device_unuse_default_domain} and
     * {@code __iommu_release_dma_ownership} WARN on a non-empty pasid_array). False if skipped.
     */
    boolean releaseGate(IommuGroup g, Runnable release) {
        ReentrantReadWriteLock gate = gates.get(g);
        gate.writeLock().lock();
        try {
            if (pasidHolds.get(g).get() != 0) {
                return false;
            }
            release.run();
            return true;
        } finally {
            gate.writeLock().unlock();
        }
    }
}
