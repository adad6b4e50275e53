package org.jiommu.check;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.jiommu.base.Errno;
import org.jiommu.base.IommuException;
import org.jiommu.bus.Device;
import org.jiommu.core.AttachHandle;
import org.jiommu.core.IommuCore;
import org.jiommu.core.IommuGroup;
import org.jiommu.core.IopfGroup;
import org.jiommu.core.SvaHandle;
import org.jiommu.core.spi.DevFeature;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.core.spi.IopfFault;
import org.jiommu.core.spi.PageResponse;

/**
 * The part-2 calls of the stress run (issue 4): PASID attach/replace/detach on shared groups,
 * global PASID alloc/free, feature enable/disable, aux attach/detach of shared aux domains (S05:
 * a final detach racing a new first attach), SVA bind/unbind of a few processes across devices
 * and their exit ({@code mm_pasid_drop} once unbound), page requests and the answers to the groups
 * the IOPF handler kept. Each worker gives back only what it holds; the errors each call may get
 * from losing a race with a legal caller are listed in {@link #ALLOWED}, derived from the rules in
 * docs/pasid-aux.md.
 */
final class PasidChurn {
    /** PASIDs the PASID API calls use: they overlap the global ones, so slots collide both ways (S12). */
    static final int PASIDS = 12;
    /** Above every PASID the run attaches (global PASIDs stay far below: a few are live at a time). */
    static final int UNUSED_PASID = 4096;

    private PasidChurn() {
    }

    enum Op {
        PASID_ATTACH, PASID_REPLACE, PASID_DETACH, GLOBAL_ALLOC, GLOBAL_FREE, FEATURE_ENABLE, FEATURE_DISABLE,
        AUX_ATTACH, AUX_DETACH, SVA_BIND, SVA_UNBIND, MM_EXIT, MM_DROP, PAGE_REQUEST, PAGE_RESPONSE
    }

    /** The choice: page requests three times and their answers twice as likely as the other calls. */
    private static final Op[] OPS;

    static {
        List<Op> ops = new ArrayList<>(List.of(Op.values()));
        ops.addAll(List.of(Op.PAGE_REQUEST, Op.PAGE_REQUEST, Op.PAGE_RESPONSE));
        OPS = ops.toArray(new Op[0]);
    }

    /**
     * What each call may fail with when the caller is legal but another thread changed the state
     * under it (docs/pasid-aux.md sections 1-6); anything else fails the run.
     */
    static final Map<Op, Set<Errno>> ALLOWED = new EnumMap<>(Op.class);

    static {
        // slot taken (S12) or, -EINVAL, a device without PASIDs / a PASID beyond the 8 of n
        ALLOWED.put(Op.PASID_ATTACH, EnumSet.of(Errno.EBUSY, Errno.EINVAL));
        ALLOWED.put(Op.PASID_REPLACE, EnumSet.noneOf(Errno.class));
        ALLOWED.put(Op.PASID_DETACH, EnumSet.noneOf(Errno.class));
        ALLOWED.put(Op.GLOBAL_ALLOC, EnumSet.noneOf(Errno.class));
        ALLOWED.put(Op.GLOBAL_FREE, EnumSet.noneOf(Errno.class));
        // the hardware cannot (S01/S02) -EINVAL
        ALLOWED.put(Op.FEATURE_ENABLE, EnumSet.of(Errno.EINVAL));
        // not enabled -EINVAL; in use (aux domains, bonds) or IOPF under SVA -EBUSY
        ALLOWED.put(Op.FEATURE_DISABLE, EnumSet.of(Errno.EINVAL, Errno.EBUSY));
        // AUX off, a RID domain or a blocked RID -EINVAL; already attached or slot taken -EBUSY;
        // no default PASID left -ENODEV; the domain's PASID beyond n's width -EOVERFLOW
        ALLOWED.put(Op.AUX_ATTACH, EnumSet.of(Errno.EINVAL, Errno.EBUSY, Errno.ENODEV, Errno.EOVERFLOW));
        ALLOWED.put(Op.AUX_DETACH, EnumSet.noneOf(Errno.class));
        // slot taken -EBUSY; mm PASID beyond the device -EOVERFLOW; none left -ENOSPC; no PASIDs -EINVAL
        ALLOWED.put(Op.SVA_BIND, EnumSet.of(Errno.EBUSY, Errno.EOVERFLOW, Errno.ENOSPC, Errno.EINVAL));
        ALLOWED.put(Op.SVA_UNBIND, EnumSet.noneOf(Errno.class));
        ALLOWED.put(Op.MM_EXIT, EnumSet.noneOf(Errno.class));
        // SVA domains still hold the mm
        ALLOWED.put(Op.MM_DROP, EnumSet.of(Errno.EBUSY));
        // nobody handles the request (answered INVALID)
        ALLOWED.put(Op.PAGE_REQUEST, EnumSet.of(Errno.EINVAL));
        ALLOWED.put(Op.PAGE_RESPONSE, EnumSet.noneOf(Errno.class));
    }

    /** A PASID attachment a worker made: the group's slot, the device it named, the domain now there. */
    record PasidAttachment(IommuGroup group, int pasid, Device dev, IommuDomain domain) {
    }

    /** What one worker holds of the part-2 state. */
    static final class Holdings {
        final List<PasidAttachment> pasids = new ArrayList<>();
        final List<Integer> globalPasids = new ArrayList<>();
        /** (aux domain, device) pairs. */
        final List<Object[]> aux = new ArrayList<>();
        /** One entry per successful bind (a handle bound twice is here twice). */
        final List<SvaHandle> bonds = new ArrayList<>();
        /** The process of each bond (same index as {@link #bonds}), for the SVA DMAs of kinds with lanes. */
        final List<StressWorld.Proc> bondProcs = new ArrayList<>();
    }

    static void step(StressWorld w, StressHarness.Holdings all, int tid, Random rnd, StressHarness.Run run) {
        Holdings h = all.part2;
        Op op = OPS[rnd.nextInt(OPS.length)];
        IommuCore core = w.core;
        Device dev = rnd.nextInt(4) == 0 ? w.devices.get(rnd.nextInt(w.devices.size()))
                : w.pasidDevices.get(rnd.nextInt(w.pasidDevices.size()));
        IommuGroup g = core.groupGet(dev);
        // half the PASID work uses the IOPF domain, so page requests find a handler
        IommuDomain d = rnd.nextBoolean() ? w.iopfDomain : w.domains.get(rnd.nextInt(w.domains.size()));
        int pasid = 1 + rnd.nextInt(PASIDS);
        String what = op + " ";
        try {
            switch (op) {
                case PASID_ATTACH: {
                    what += d + " " + dev + " pasid " + pasid;
                    w.addPasidHolding(g, () -> {
                        run.call();
                        core.attachDevicePasid(d, dev, pasid, new AttachHandle());
                    });
                    h.pasids.add(new PasidAttachment(g, pasid, dev, d));
                    break;
                }
                case PASID_REPLACE: {
                    if (h.pasids.isEmpty()) {
                        return;
                    }
                    int i = rnd.nextInt(h.pasids.size());
                    PasidAttachment a = h.pasids.get(i);
                    what += a.group() + " pasid " + a.pasid() + " " + a.domain() + " -> " + d;
                    run.call();
                    core.replaceDevicePasid(d, a.dev(), a.pasid(), new AttachHandle());
                    h.pasids.set(i, new PasidAttachment(a.group(), a.pasid(), a.dev(), d));
                    break;
                }
                case PASID_DETACH: {
                    if (h.pasids.isEmpty()) {
                        return;
                    }
                    PasidAttachment a = h.pasids.remove(rnd.nextInt(h.pasids.size()));
                    what += a.domain() + " " + a.dev() + " pasid " + a.pasid();
                    run.call();
                    core.detachDevicePasid(a.domain(), a.dev(), a.pasid());
                    w.dropPasidHolding(a.group());
                    break;
                }
                case GLOBAL_ALLOC: {
                    what += dev;
                    run.call();
                    int p = core.allocGlobalPasid(dev);
                    what += " = " + Integer.toUnsignedString(p);
                    if (p != IommuCore.IOMMU_PASID_INVALID) {
                        h.globalPasids.add(p);
                    }
                    break;
                }
                case GLOBAL_FREE: {
                    if (w.plantRogueFree(tid)) {
                        // the planted bug: free the PASID of a bound process (I-MM-PASID must see it)
                        for (int i = 0; i < StressWorld.PROCESSES; i++) {
                            int mp = core.mmPasid(w.procs.get(i).mm);
                            if (mp != IommuCore.IOMMU_PASID_INVALID) {
                                what += "rogue " + mp;
                                run.call();
                                core.freeGlobalPasid(mp);
                                break;
                            }
                        }
                        break;
                    }
                    if (h.globalPasids.isEmpty()) {
                        return;
                    }
                    int p = h.globalPasids.remove(rnd.nextInt(h.globalPasids.size()));
                    what += p;
                    run.call();
                    core.freeGlobalPasid(p);
                    break;
                }
                case FEATURE_ENABLE: {
                    DevFeature f = DevFeature.values()[rnd.nextInt(DevFeature.values().length)];
                    what += dev + " " + f;
                    run.call();
                    core.devEnableFeature(dev, f);
                    break;
                }
                case FEATURE_DISABLE: {
                    // any worker may try (the feature is the device's): refusals are the rules under test
                    DevFeature f = DevFeature.values()[rnd.nextInt(DevFeature.values().length)];
                    what += dev + " " + f;
                    run.call();
                    core.devDisableFeature(dev, f);
                    break;
                }
                case AUX_ATTACH: {
                    IommuDomain ad = w.auxDomains.get(rnd.nextInt(w.auxDomains.size()));
                    for (Object[] x : h.aux) {
                        if (x[0] == ad && x[1] == dev) {
                            return;
                        }
                    }
                    what += ad + " " + dev;
                    w.addPasidHolding(g, () -> {
                        run.call();
                        core.auxAttachDevice(ad, dev);
                    });
                    h.aux.add(new Object[] {ad, dev});
                    break;
                }
                case AUX_DETACH: {
                    if (h.aux.isEmpty()) {
                        return;
                    }
                    Object[] x = h.aux.remove(rnd.nextInt(h.aux.size()));
                    IommuDomain ad = (IommuDomain) x[0];
                    Device ax = (Device) x[1];
                    what += ad + " " + ax;
                    run.call();
                    core.auxDetachDevice(ad, ax);
                    w.dropPasidHolding(core.groupGet(ax));
                    break;
                }
                case SVA_BIND: {
                    StressWorld.Proc p = w.procs.get(rnd.nextInt(StressWorld.PROCESSES));
                    what += dev + " " + p.mm;
                    // the binder is (a driver acting for) the running process: it cannot exit meanwhile
                    p.life.readLock().lock();
                    try {
                        if (p.exited) {
                            return;
                        }
                        SvaHandle[] bound = new SvaHandle[1];
                        w.addPasidHolding(g, () -> {
                            run.call();
                            bound[0] = core.svaBindDevice(dev, p.mm);
                        });
                        h.bonds.add(bound[0]);
                        h.bondProcs.add(p);
                        what += " pasid " + core.svaGetPasid(bound[0]);
                    } finally {
                        p.life.readLock().unlock();
                    }
                    break;
                }
                case SVA_UNBIND: {
                    if (h.bonds.isEmpty()) {
                        return;
                    }
                    int bi = rnd.nextInt(h.bonds.size());
                    SvaHandle b = h.bonds.remove(bi);
                    h.bondProcs.remove(bi);
                    what += b;
                    IommuGroup bg = core.groupGet(b.device());
                    run.call();
                    core.svaUnbindDevice(b);
                    w.dropPasidHolding(bg);
                    break;
                }
                case MM_EXIT: {
                    int slot = rnd.nextInt(StressWorld.PROCESSES);
                    StressWorld.Proc p = w.procs.get(slot);
                    p.life.writeLock().lock();
                    try {
                        if (p.exited) {
                            return;
                        }
                        what += p.mm;
                        // exit_mmap: not a core call; its bonds stay until their holders unbind
                        p.mm.exit();
                        p.exited = true;
                        w.procs.set(slot, w.newProc());
                        w.exited.add(p);
                    } finally {
                        p.life.writeLock().unlock();
                    }
                    break;
                }
                case MM_DROP: {
                    StressWorld.Proc p = w.exited.poll();
                    if (p == null) {
                        return;
                    }
                    what += p.mm;
                    try {
                        run.call();
                        core.mmPasidDrop(p.mm);
                    } catch (IommuException e) {
                        w.exited.add(p); // still bound: try again later
                        throw e;
                    }
                    p.mm.mmdrop();
                    break;
                }
                case PAGE_REQUEST: {
                    if (w.bed.pageRequestsFromDma()) {
                        // the request comes from the device's own DMA through the hardware's page
                        // request queue and the driver's handler, not from a worker
                        DmaLane.pasidDma(w, all, tid, rnd, run);
                        return;
                    }
                    Device fd = dev;
                    IopfFault f;
                    int grp = rnd.nextInt(8);
                    boolean last = rnd.nextInt(4) != 0;
                    int perm = rnd.nextBoolean() ? IopfFault.PERM_READ : IopfFault.PERM_READ | IopfFault.PERM_WRITE;
                    int shape = rnd.nextInt(6);
                    if (shape <= 2 && !h.bonds.isEmpty()) {
                        // the device of one of this worker's bonds touches the process's memory (SVA demand paging)
                        SvaHandle b = h.bonds.get(rnd.nextInt(h.bonds.size()));
                        fd = b.device();
                        long addr = rnd.nextInt(5) == 0 ? 0x4000_0000L
                                : StressWorld.VMA_START + rnd.nextInt((int) StressWorld.VMA_PAGES) * 0x1000L;
                        f = IopfFault.withPasid(core.svaGetPasid(b), grp, last, perm, addr);
                    } else if (shape <= 3 && !h.pasids.isEmpty()) {
                        // at one of this worker's PASIDs (handled when the IOPF domain is there); only
                        // from a device that can issue PASID TLPs (the core lets a group member
                        // without PASIDs name a PASID attach, b3f6fcd8404f, but it never faults on one)
                        PasidAttachment a = h.pasids.get(rnd.nextInt(h.pasids.size()));
                        if (issuesPasids(core, a.dev())) {
                            fd = a.dev();
                            f = IopfFault.withPasid(a.pasid(), grp, last, perm, 0x2000L * (1 + rnd.nextInt(16)));
                        } else {
                            f = IopfFault.noPasid(grp, last, perm, 0x1000L * (1 + rnd.nextInt(16)));
                        }
                    } else if (shape == 4) {
                        // at a PASID nobody attaches: answered INVALID while others attach and detach.
                        // Not at a PASID another worker may detach right now: this step reports as a
                        // driver's PRQ handler would but outside any ring, so no drain before
                        // iopf_queue_remove_device can wait for it; that race WARNs "no fault
                        // parameter", a driver reporting after its own teardown (docs/check.md 5)
                        f = IopfFault.withPasid(UNUSED_PASID + pasid, grp, last, perm, 0x2000L * (1 + rnd.nextInt(16)));
                    } else {
                        f = IopfFault.noPasid(grp, last, perm, 0x1000L * (1 + rnd.nextInt(16)));
                    }
                    what += fd + " " + f;
                    Device rd = fd;
                    IopfFault rf = f;
                    if (!w.pageRequest(() -> {
                        run.call();
                        core.reportDeviceFault(rd, rf);
                    })) {
                        return;
                    }
                    break;
                }
                case PAGE_RESPONSE: {
                    IopfGroup fg = w.heldFaults.poll();
                    if (fg == null) {
                        return;
                    }
                    PageResponse.Code code = rnd.nextBoolean() ? PageResponse.Code.SUCCESS : PageResponse.Code.INVALID;
                    what += fg + " " + code;
                    run.call();
                    core.iopfGroupResponse(fg, code);
                    core.iopfFreeGroup(fg);
                    break;
                }
                default:
                    throw new AssertionError(op);
            }
            run.ok(op);
            run.trace(tid, what + " -> ok");
        } catch (IommuException e) {
            run.error(op, e);
            run.trace(tid, what + " -> " + e.errno());
            if (!ALLOWED.get(op).contains(e.errno())
                    && !w.bed.allowedErrors().getOrDefault(op.name(), Set.of()).contains(e.errno())) {
                run.unexpected.add("thread " + tid + " " + op + ": " + e.errno() + " " + e.getMessage());
            }
        }
    }

    /** Gives back every part-2 holding, answers the kept faults, ends every process (one thread, after the join). */
    static void teardown(StressWorld w, List<StressHarness.Holdings> holdings, StressHarness.Run run) {
        IommuCore core = w.core;
        try {
            for (StressHarness.Holdings all : holdings) {
                Holdings h = all.part2;
                for (SvaHandle b : h.bonds) {
                    core.svaUnbindDevice(b);
                    w.dropPasidHolding(core.groupGet(b.device()));
                }
                for (Object[] x : h.aux) {
                    core.auxDetachDevice((IommuDomain) x[0], (Device) x[1]);
                    w.dropPasidHolding(core.groupGet((Device) x[1]));
                }
                for (PasidAttachment a : h.pasids) {
                    core.detachDevicePasid(a.domain(), a.dev(), a.pasid());
                    w.dropPasidHolding(a.group());
                }
                for (int p : h.globalPasids) {
                    core.freeGlobalPasid(p);
                }
                h.bonds.clear();
                h.bondProcs.clear();
                h.aux.clear();
                h.pasids.clear();
                h.globalPasids.clear();
            }
            for (IopfGroup fg; (fg = w.heldFaults.poll()) != null; ) {
                core.iopfGroupResponse(fg, PageResponse.Code.INVALID);
                core.iopfFreeGroup(fg);
            }
            for (StressWorld.Proc p : w.allProcs) {
                p.mm.exit();
                core.mmPasidDrop(p.mm);
                p.mm.mmdrop();
            }
            // features off in dependency order (IOPF only once SVA is off)
            for (DevFeature f : List.of(DevFeature.AUX, DevFeature.SVA, DevFeature.IOPF)) {
                for (Device d : w.devices) {
                    if (core.devFeatureEnabled(d, f)) {
                        core.devDisableFeature(d, f);
                    }
                }
            }
            if (!core.globalPasids().isEmpty()) {
                run.unexpected.add("teardown: global PASIDs left " + core.globalPasids().keySet());
            }
        } catch (RuntimeException e) {
            run.unexpected.add("teardown (part 2): " + e);
        }
    }

    /** The device can issue PASID-tagged requests ({@code max_pasids} non-zero; false once released). */
    private static boolean issuesPasids(IommuCore core, Device dev) {
        var di = core.devIommu(dev);
        return di != null && di.maxPasids() > 0;
    }
}
