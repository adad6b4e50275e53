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
import org.jiommu.core.spi.MmStruct;
import org.jiommu.core.spi.PageResponse;
import org.jiommu.core.spi.ResvRegion;
import org.jiommu.driver.mock.MockConfig;
import org.jiommu.driver.mock.MockIommuDriver;
import org.jiommu.driver.mock.MockPageTableFactory;
import org.jiommu.mem.FrameAllocator;
import org.jiommu.mem.PhysicalMemory;

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
    final MockIommuDriver m;
    final Platform platform;
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
        core = new IommuCore(CoreConfig.defaults());
        frames = new FrameAllocator(new PhysicalMemory(1L << 34));
        m = new MockIommuDriver(MockConfig.builder("S").build(), core.services(),
                MockPageTableFactory.armLpae(frames, core.services().warnings()));
        core.iommuDeviceRegister(m.iommu());
        platform = new Platform(core, frames, m);
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
            devices.add(d);
            IommuGroup g = core.groupGet(d);
            if (!groups.contains(g)) {
                groups.add(g);
                pasidHolds.put(g, new AtomicInteger());
                gates.put(g, new ReentrantReadWriteLock());
            }
        }
        for (int i = 0; i < cfg.domains(); i++) {
            domains.add(core.pagingDomainAlloc(a1));
        }
        if (pasids) {
            // the handler keeps odd groups for a worker to answer, answers even ones at once and
            // fails every fifth (answered FAILURE by the core), as a fault object's user might
            core.domainSetIopfHandler(domains.get(0), g -> {
                if (g.serial() % 5 == 0) {
                    return Errno.ENOMEM.neg();
                }
                if (g.serial() % 2 == 0) {
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
        switch (cfg.plant()) {
            case IOPF_REFCOUNT_LEAK:
                m.leakIopfRefcount(true);
                break;
            case SET_DEV_PASID_EIO:
                if (pasids) {
                    m.failSetDevPasid(null, pasidDevices.get(pasidDevices.size() - 1), -1, Errno.EIO);
                }
                break;
            default:
                break;
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
