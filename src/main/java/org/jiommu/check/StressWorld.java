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
import org.jiommu.bus.PlatformDevice;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.core.CoreConfig;
import org.jiommu.core.IommuCore;
import org.jiommu.core.IommuGroup;
import org.jiommu.core.IopfGroup;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.mm.MmStruct;
import org.jiommu.core.spi.PageResponse;
import org.jiommu.core.spi.ResvRegion;
import org.jiommu.driver.mock.MockConfig;
import org.jiommu.driver.mock.MockIommuDriver;
import org.jiommu.driver.mock.MockPageTableFactory;
import org.jiommu.mem.FrameAllocator;
import org.jiommu.mem.PhysicalMemory;
import org.jiommu.bus.pci.Acs;
import org.jiommu.bus.pci.PciBus;
import org.jiommu.driver.vtd.VtdEncoder;
import org.jiommu.driver.vtd.VtdIommu;
import org.jiommu.hw.vtd.VtdConfig;
import org.jiommu.hw.vtd.VtdRegisters;
import org.jiommu.platform.VtdHardwareAgreement;
import org.jiommu.platform.VtdPlatform;

/**
 * The platform a stress run shares: core, mock driver M over ARM LPAE tables, devices, groups and
 * shared domains; with the part-2 churn also three more PCI functions with PASIDs and PRI (two in
 * one group, one only 3 PASID bits wide), an IOPF-capable paging domain, aux domains, processes
 * and the page request groups the IOPF handler kept for later answers.
 */
final class StressWorld {
    static final long DIRECT = 0x8000_0000L;
    /** Processes alive at a time (each exits and is replaced by a new one during the run). */
    static final int PROCESSES = 3;
    /** User memory every process maps, where SVA page requests land. */
    static final long VMA_START = 0x10_0000L;
    static final long VMA_PAGES = 16;

    final IommuCore core;
    final FrameAllocator frames;
    /** The mock driver and its platform (null on VT-d). */
    final MockIommuDriver m;
    final Platform platform;
    /** The VT-d machine (null on the mock driver). */
    final VtdPlatform vtd;
    /** VT-d: one DMA lane per worker, outside the shared groups. */
    final List<DmaLane.Lane> lanes = new ArrayList<>();
    /** Frame statistics I10 compares the end of the run with. */
    final FrameAllocator.Stats baseline;
    final boolean pasids;
    final StressHarness.Plant plant;
    final List<Device> devices = new ArrayList<>();
    /** The PCI functions with PASIDs (p, q1, q2, n). */
    final List<PciDevice> pasidDevices = new ArrayList<>();
    final List<IommuGroup> groups = new ArrayList<>();
    /** Shared paging domains; with part 2, domain 0 carries an IOPF handler. */
    final List<IommuDomain> domains = new ArrayList<>();
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
        if (cfg.vtd()) {
            vtd = VtdPlatform.builder().unit(VtdConfig.scalable(48)).build();
            core = vtd.core();
            frames = vtd.frames();
            m = null;
            platform = null;
            baseline = buildVtd(cfg);
        } else {
            vtd = null;
            core = new IommuCore(CoreConfig.defaults());
            frames = new FrameAllocator(new PhysicalMemory(1L << 34));
            m = new MockIommuDriver(MockConfig.builder("S").build(), core.services(),
                    MockPageTableFactory.armLpae(frames, core.services().warnings()));
            core.iommuDeviceRegister(m.iommu());
            platform = new Platform(core, frames, m);
            baseline = platform.baseline();
            buildMock();
        }
        shared(cfg);
        switch (cfg.plant()) {
            case IOPF_REFCOUNT_LEAK:
                if (m != null) {
                    m.leakIopfRefcount(true);
                }
                break;
            case SET_DEV_PASID_EIO:
                if (pasids && m != null) {
                    m.failSetDevPasid(null, pasidDevices.get(pasidDevices.size() - 1), -1, Errno.EIO);
                }
                break;
            default:
                break;
        }
    }

    /** The mock platform: platform devices, a mock-made group, a direct region, PCI functions. */
    private void buildMock() {
        PlatformDevice a1 = new PlatformDevice("a1", List.of(1), 0);
        PlatformDevice a2 = new PlatformDevice("a2", List.of(2), 0);
        PlatformDevice b1 = new PlatformDevice("b1", List.of(3), 0);
        PlatformDevice b2 = new PlatformDevice("b2", List.of(4), 0);
        PlatformDevice r = new PlatformDevice("r", List.of(5), 0);
        PciDevice p = new PciDevice("p", 0, 0, 8, true, 20, true, false);
        m.groupWith(b2, b1);
        m.setResvRegions(r, List.of(ResvRegion.direct(DIRECT, 0x2000)));
        List<Device> all = new ArrayList<>(List.of(a1, a2, b1, b2, r, p));
        pasidDevices.add(p);
        if (pasids) {
            // two functions of one card share a group (shared PASID slots); n has only 8 PASIDs
            PciDevice q1 = new PciDevice("q1", 0, 0, 16, true, 20, true, false);
            PciDevice q2 = new PciDevice("q2", 0, 0, 17, true, 20, true, false);
            PciDevice n = new PciDevice("n", 0, 0, 24, true, 3, true, false);
            m.groupWith(q2, q1);
            all.addAll(List.of(q1, q2, n));
            pasidDevices.addAll(List.of(q1, q2, n));
        }
        for (Device d : all) {
            core.fwspecInit(d, m.iommu());
            core.deviceAdd(d);
        }
        collect(all);
    }

    /** Records the devices and their groups (in device order) for the workers. */
    private void collect(List<? extends Device> all) {
        for (Device d : all) {
            devices.add(d);
            IommuGroup g = core.groupGet(d);
            if (!groups.contains(g)) {
                groups.add(g);
                pasidHolds.put(g, new AtomicInteger());
                gates.put(g, new ReentrantReadWriteLock());
            }
        }
    }

    /** The shared domains, the IOPF handler, aux domains and processes. */
    private void shared(StressHarness.Config cfg) {
        Device a1 = devices.get(0);
        Device p = pasidDevices.get(0);
        for (int i = 0; i < cfg.domains(); i++) {
            domains.add(core.pagingDomainAlloc(a1));
        }
        if (pasids) {
            // the handler keeps odd groups for a worker to answer, answers even ones at once and
            // fails every fifth (answered FAILURE by the core), as a fault object's user might.
            // On VT-d it answers none at once: there the handler runs inside the driver's PRQ
            // handler, and an answer from it is a core call nested there, which the watch's gate
            // deadlocks against a PASID teardown draining the queue (the teardown's call holds the
            // gate and waits for the PRQ handler; the nested call waits for the gate). The
            // kernel's handlers queue the group too (iommu_sva_iopf_handler, iommufd's fault queue).
            boolean answerAtOnce = vtd == null;
            core.domainSetIopfHandler(domains.get(0), g -> {
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
            for (int i = 0; i < 2; i++) {
                auxDomains.add(core.pagingDomainAlloc(p));
            }
            for (int i = 0; i < PROCESSES; i++) {
                procs.set(i, newProc());
            }
        }
    }

    /**
     * The VT-d platform: one scalable-mode unit; every shared device a PCI function (docs/check.md 4):
     * a1 plain, a2 with ATS, b1+b2 conventional PCI behind a PCIe-to-PCI bridge (one group, DMA
     * aliased to the bridge), r with a firmware RMRR (require_direct), p with ATS, 20 PASID bits and
     * PRI, q1+q2 two functions of one card without ACS (one group; shared PASID slots with part 2);
     * with part 2 also n (3 PASID bits). Each worker gets its own lane endpoint (ATS on even ones).
     * The devices are probed, all released and probed again: the frames the driver keeps for good
     * (context tables, the tables retained for an RMRR device parked on identity) are then in the
     * baseline, and a driver that leaks anything else at release fails I10 at the end.
     */
    private FrameAllocator.Stats buildVtd(StressHarness.Config cfg) {
        PciBus root = vtd.topology().rootBus(0, 0);
        PciDevice a1 = endpoint(root, "a1", 0x02, false, 0, false);
        PciDevice a2 = endpoint(root, "a2", 0x03, true, 0, false);
        PciBus legacy = root.pcieToPciBridge("p2p", 0x1e, 0, 0x1e);
        PciDevice b1 = legacy.endpoint("b1", 1, 0);
        PciDevice b2 = legacy.endpoint("b2", 2, 0);
        PciDevice r = endpoint(root, "r", 0x04, false, 0, false);
        vtd.driver().addRmrr(r, DIRECT, 0x2000, false);
        PciDevice p = endpoint(root, "p", 0x05, true, 20, true);
        PciBus card = root.rootPort("rp-q", 0x06, 0, 0x06, Acs.ISOLATED);
        PciDevice q1 = card.endpoint("q1", 0, 0, true, 20, true, Acs.NONE);
        PciDevice q2 = card.endpoint("q2", 0, 1, true, 20, true, Acs.NONE);
        List<PciDevice> all = new ArrayList<>(List.of(a1, a2, b1, b2, r, p, q1, q2));
        pasidDevices.add(p);
        if (pasids) {
            PciDevice n = endpoint(root, "n", 0x07, true, 3, true);
            all.add(n);
            pasidDevices.addAll(List.of(q1, q2, n));
        }
        List<PciDevice> laneDevices = new ArrayList<>();
        for (int t = 0; t < cfg.threads(); t++) {
            laneDevices.add(endpoint(root, "lane" + t, 0x08 + t, t % 2 == 0, 0, false));
        }
        List<PciDevice> every = new ArrayList<>(all);
        every.addAll(laneDevices);
        for (PciDevice d : every) {
            vtd.hotplug(d);
        }
        for (PciDevice d : every) {
            vtd.remove(d);
        }
        if (!core.liveDomains().isEmpty()) {
            throw new IllegalStateException("domains left after releasing every device: " + core.liveDomains());
        }
        FrameAllocator.Stats base = frames.stats();
        for (PciDevice d : every) {
            vtd.hotplug(d);
        }
        collect(all);
        for (PciDevice d : laneDevices) {
            lanes.add(new DmaLane.Lane(d, core.groupGet(d), vtd.dma(d)));
        }
        return base;
    }

    private static PciDevice endpoint(PciBus root, String name, int slot, boolean ats, int pasidBits, boolean pri) {
        return root.rootPort("rp-" + name, slot, 0, slot, Acs.ISOLATED).endpoint(name, 0, 0, ats, pasidBits, pri,
                Acs.NONE);
    }

    /** Where worker {@code tid} maps its window slot: inside memory on VT-d, where DMA lands. */
    long pa(int tid, int slot) {
        if (vtd == null) {
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
     * VT-d, with no core call running: invariant I7 (VtdHardwareAgreement), each violation
     * reported as unexpected with where it was found.
     */
    void quiesce(String where, StressHarness.Run run) {
        try {
            run.hardwareChecks.incrementAndGet();
            for (String v : VtdHardwareAgreement.check(vtd)) {
                run.unexpected.add("I7 at " + where + ": " + v);
            }
        } catch (RuntimeException e) {
            run.unexpected.add("I7 at " + where + ": " + e);
        }
    }

    /**
     * The planted bug {@link StressHarness.Plant#STRAY_PASID_ENTRY}: a present pass-through entry
     * at PASID 5 of a2 (a device without PASIDs, whose table only RID_PASID uses), as a driver that
     * forgot to clear an entry would leave it. Walks the tables as the unit does (HARDWARE.md 2.3).
     */
    void plantStrayPasidEntry() {
        PciDevice a2 = (PciDevice) devices.get(1);
        PhysicalMemory mem = vtd.memory();
        int sid = a2.requesterId();
        long rootTable = vtd.unitOf(a2).unit().read64(VtdRegisters.RTADDR_REG) & ~0xFFFL;
        int devfn = sid & 0xFF;
        long re = mem.readLong(rootTable + (sid >>> 8) * 16L + (devfn > 127 ? 8 : 0));
        long ctx = mem.readLong((re & ~0xFFFL) + (devfn & 0x7F) * 32L);
        long dir = mem.readLong(ctx & ~0xFFFL);
        if ((re & 1) == 0 || (ctx & 1) == 0 || (dir & 1) == 0) {
            throw new IllegalStateException("a2 has no PASID table to corrupt");
        }
        long entry = (dir & ~0xFFFL) + 64L * 5;
        long[] words = VtdEncoder.passThroughPasidEntry(48, VtdIommu.FLPT_DEFAULT_DID, false, true);
        for (int i = words.length - 1; i >= 0; i--) {
            mem.writeLong(entry + 8L * i, words[i]);
        }
    }

    /**
     * Runs {@code report} (a page request from {@code dev}, a worker playing the driver) on the mock
     * platform. Not on VT-d: there page requests come from the devices' own DMA through the unit's
     * page request queue and the driver's PRQ handler ({@link DmaLane#pasidDma}); a worker's report
     * would play a driver other than the real one. False if not sent.
     */
    boolean pageRequest(Runnable report) {
        if (vtd != null) {
            return false;
        }
        report.run();
        return true;
    }

    /**
     * VT-d, after the teardown: the drain left nothing behind (docs/driver-vtd.md 9,
     * {@code intel_iommu_drain_pasid_prq}): every unit's page request ring is empty (PQH = PQT, no
     * pending event) and no PRI function still has PRI enabled, so no page request can be
     * reported any more; a report after its device left the IOPF queue would also have WARNed.
     */
    void prqDrained(StressHarness.Run run) {
        for (VtdIommu u : vtd.units()) {
            long head = u.unit().read64(VtdRegisters.PQH_REG);
            long tail = u.unit().read64(VtdRegisters.PQT_REG);
            int prs = u.unit().read32(VtdRegisters.PRS_REG);
            if (head != tail || (prs & VtdRegisters.PRS_PPR) != 0) {
                run.unexpected.add("after teardown: " + u + " page request queue not drained: PQH " + head
                        + ", PQT " + tail + ", PRS " + prs);
            }
        }
        for (PciDevice d : pasidDevices) {
            if (d.pri().enabled()) {
                run.unexpected.add("after teardown: " + d + " still has PRI enabled");
            }
        }
    }

    /** Whether worker {@code tid} plays the rogue caller of {@link StressHarness.Plant#ROGUE_PASID_FREE}. */
    boolean plantRogueFree(int tid) {
        return plant == StressHarness.Plant.ROGUE_PASID_FREE && tid == 0;
    }

    /** A new process with one read/write VMA. */
    Proc newProc() {
        MmStruct mm = new MmStruct("proc" + procSeq.incrementAndGet(), frames);
        mm.mmap(VMA_START, VMA_PAGES * 0x1000L, org.jiommu.base.Prot.RW);
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
