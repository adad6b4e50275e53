package org.jiommu.check;

import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;
import org.jiommu.base.Errno;
import org.jiommu.base.IommuException;
import org.jiommu.base.Prot;
import org.jiommu.bus.Device;
import org.jiommu.bus.PlatformDevice;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.core.CoreConfig;
import org.jiommu.core.IommuCore;
import org.jiommu.core.IommuGroup;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.core.spi.ResvRegion;
import org.jiommu.driver.mock.MockConfig;
import org.jiommu.driver.mock.MockIommuDriver;
import org.jiommu.driver.mock.MockPageTableFactory;
import org.jiommu.mem.FrameAllocator;
import org.jiommu.mem.PhysicalMemory;

/**
 * A seeded, randomized concurrency run against one platform: several threads attach, detach,
 * replace, claim and release ownership (group and device level), use and unuse the default
 * domain, and map and unmap page ranges, on a shared set of groups (singletons, a two-device
 * group, a require_direct device, a PCI function) and shared paging domains. Every thread is a
 * well-behaved caller: it releases only what it holds and maps only in its own IOVA window, so
 * every error must be one the kernel gives a legal caller racing others (EBUSY, EPERM, EINVAL).
 * A {@link CoreWatch} checks the invariants after every call (under its gate, so each check sees
 * whole calls); at the end one thread tears everything down and the frame allocator must be back
 * at its baseline (I10) with no violation.
 *
 * <p>The seed fixes what every thread does; the interleaving is the scheduler's.
 */
public final class StressHarness {
    /** Errors a legal caller may get when another thread got there first. */
    static final Set<Errno> RACE_ERRORS = EnumSet.of(Errno.EBUSY, Errno.EPERM, Errno.EINVAL);
    private static final long DIRECT = 0x8000_0000L;
    private static final long WINDOW = 1L << 32;
    private static final int SLOTS = 4;

    private StressHarness() {
    }

    /**
     * What to run.
     *
     * @param seed fixes every thread's choices
     * @param threads worker threads (4 or more for the proof)
     * @param opsPerThread calls each thread makes
     * @param domains shared paging domains
     */
    public record Config(long seed, int threads, int opsPerThread, int domains) {
        public Config {
            if (threads < 1 || opsPerThread < 0 || domains < 1) {
                throw new IllegalArgumentException("bad stress config " + threads + "/" + opsPerThread + "/" + domains);
            }
        }
    }

    /**
     * What happened.
     *
     * @param seed the seed
     * @param calls core calls made by the workers
     * @param errors IommuExceptions the workers got, by "op errno"
     * @param unexpected every other failure (exceptions, wrong unmap sizes, errors no race explains)
     * @param reports the watch's reports for this platform
     * @param finalViolations the state invariants after teardown
     * @param baseline frame statistics before any domain
     * @param after frame statistics after teardown
     * @param checks invariant checks the watch ran
     * @param transitionChecks of which with the transition invariants (no overlapping call)
     */
    public record Result(long seed, long calls, Map<String, Long> errors, List<String> unexpected,
                         List<CoreWatch.Report> reports, List<Violation> finalViolations,
                         FrameAllocator.Stats baseline, FrameAllocator.Stats after, long checks, long transitionChecks) {
        /** Nothing went wrong. */
        public boolean clean() {
            return unexpected.isEmpty() && reports.isEmpty() && finalViolations.isEmpty()
                    && after.allocatedBytes() == baseline.allocatedBytes() && after.liveBlocks() == baseline.liveBlocks();
        }

        @Override
        public String toString() {
            return "stress seed " + seed + ": " + calls + " calls, errors " + errors + ", " + checks + " checks ("
                    + transitionChecks + " with transitions), unexpected " + unexpected + ", reports " + reports
                    + ", final " + finalViolations + ", frames " + baseline.allocatedBytes() + " -> "
                    + after.allocatedBytes() + " bytes";
        }
    }

    /** The shared platform. */
    private static final class World {
        final IommuCore core;
        final FrameAllocator frames;
        final MockIommuDriver m;
        final Platform platform;
        final List<Device> devices = new ArrayList<>();
        final List<IommuGroup> groups = new ArrayList<>();
        final List<IommuDomain> domains = new ArrayList<>();

        World(int nDomains) {
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
            for (Device d : List.of(a1, a2, b1, b2, r, p)) {
                core.fwspecInit(d, m.iommu());
                core.deviceAdd(d);
                devices.add(d);
                IommuGroup g = core.groupGet(d);
                if (!groups.contains(g)) {
                    groups.add(g);
                }
            }
            for (int i = 0; i < nDomains; i++) {
                domains.add(core.pagingDomainAlloc(a1));
            }
        }
    }

    /** What one worker holds, so it only gives back its own. */
    private static final class Holdings {
        /** Group claims (VFIO-style) and device claims (iommufd-style) use different owners, as in the kernel. */
        final Object groupToken;
        final Object deviceToken;
        final Set<IommuGroup> groupClaims = Collections.newSetFromMap(new LinkedHashMap<>());
        final Map<Device, Integer> deviceClaims = new LinkedHashMap<>();
        final Map<Device, Integer> uses = new LinkedHashMap<>();
        /** (domain index, slot) -> mapped size. */
        final Map<Long, Long> mapped = new TreeMap<>();

        Holdings(int t) {
            this.groupToken = "vfio-" + t;
            this.deviceToken = "iommufd-" + t;
        }
    }

    /** Runs one seed. */
    public static Result run(Config cfg) {
        World w = new World(cfg.domains());
        CoreWatch watch = InvariantWatch.watch(w.core);
        watch.usePlatform(w.platform);
        FrameAllocator.Stats baseline = w.platform.baseline();
        List<String> unexpected = Collections.synchronizedList(new ArrayList<>());
        Map<String, AtomicLong> errors = new ConcurrentHashMap<>();
        AtomicLong calls = new AtomicLong();
        List<Holdings> holdings = new ArrayList<>();
        List<Thread> threads = new ArrayList<>();
        CountDownLatch start = new CountDownLatch(1);
        for (int t = 0; t < cfg.threads(); t++) {
            Holdings h = new Holdings(t);
            holdings.add(h);
            Random rnd = new Random(cfg.seed() * 1_000_003L + t);
            int tid = t;
            Thread th = new Thread(() -> {
                try {
                    start.await();
                    for (int i = 0; i < cfg.opsPerThread(); i++) {
                        step(w, h, tid, rnd, calls, errors, unexpected);
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                } catch (Throwable e) {
                    unexpected.add("thread " + tid + ": " + e);
                }
            }, "stress-" + cfg.seed() + "-" + t);
            threads.add(th);
            th.start();
        }
        start.countDown();
        for (Thread th : threads) {
            try {
                th.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                unexpected.add("interrupted while joining " + th.getName());
            }
        }
        teardown(w, holdings, unexpected);
        List<Violation> fin = InvariantChecker.checkState(w.platform.capture(), null);
        List<CoreWatch.Report> reports = new ArrayList<>();
        for (CoreWatch.Report r : InvariantWatch.pending()) {
            if (r.core().equals(watch.label())) {
                reports.add(r);
            }
        }
        Map<String, Long> errs = new TreeMap<>();
        errors.forEach((k, v) -> errs.put(k, v.get()));
        return new Result(cfg.seed(), calls.get(), errs, List.copyOf(unexpected), reports, fin, baseline,
                w.frames.stats(), watch.checks(), watch.transitionChecks());
    }

    private enum Op {
        ATTACH_GROUP, ATTACH_DEVICE, DETACH_GROUP, REPLACE, GROUP_CLAIM, GROUP_RELEASE, DEVICE_CLAIM,
        DEVICE_RELEASE, USE, UNUSE, MAP, UNMAP
    }

    private static final Op[] OPS = Op.values();

    private static void step(World w, Holdings h, int tid, Random rnd, AtomicLong calls, Map<String, AtomicLong> errors,
                             List<String> unexpected) {
        Op op = OPS[rnd.nextInt(OPS.length)];
        IommuGroup g = w.groups.get(rnd.nextInt(w.groups.size()));
        Device dev = w.devices.get(rnd.nextInt(w.devices.size()));
        int di = rnd.nextInt(w.domains.size());
        IommuDomain d = w.domains.get(di);
        int slot = rnd.nextInt(SLOTS);
        IommuCore core = w.core;
        try {
            switch (op) {
                case ATTACH_GROUP:
                    calls.incrementAndGet();
                    core.attachGroup(d, g);
                    break;
                case ATTACH_DEVICE:
                    calls.incrementAndGet();
                    core.attachDevice(d, dev);
                    break;
                case DETACH_GROUP:
                    calls.incrementAndGet();
                    core.detachGroup(d, g);
                    break;
                case REPLACE:
                    calls.incrementAndGet();
                    core.groupReplaceDomain(g, d);
                    break;
                case GROUP_CLAIM:
                    if (h.groupClaims.contains(g)) {
                        return;
                    }
                    calls.incrementAndGet();
                    core.groupClaimDmaOwner(g, h.groupToken);
                    h.groupClaims.add(g);
                    break;
                case GROUP_RELEASE:
                    if (h.groupClaims.isEmpty()) {
                        return;
                    }
                    IommuGroup held = h.groupClaims.iterator().next();
                    calls.incrementAndGet();
                    core.groupReleaseDmaOwner(held);
                    h.groupClaims.remove(held);
                    break;
                case DEVICE_CLAIM:
                    calls.incrementAndGet();
                    core.deviceClaimDmaOwner(dev, h.deviceToken);
                    h.deviceClaims.merge(dev, 1, Integer::sum);
                    break;
                case DEVICE_RELEASE:
                    if (h.deviceClaims.isEmpty()) {
                        return;
                    }
                    Device cd = h.deviceClaims.keySet().iterator().next();
                    calls.incrementAndGet();
                    core.deviceReleaseDmaOwner(cd);
                    drop(h.deviceClaims, cd);
                    break;
                case USE:
                    calls.incrementAndGet();
                    core.deviceUseDefaultDomain(dev);
                    h.uses.merge(dev, 1, Integer::sum);
                    break;
                case UNUSE:
                    if (h.uses.isEmpty()) {
                        return;
                    }
                    Device ud = h.uses.keySet().iterator().next();
                    calls.incrementAndGet();
                    core.deviceUnuseDefaultDomain(ud);
                    drop(h.uses, ud);
                    break;
                case MAP: {
                    long key = (long) di * SLOTS + slot;
                    if (h.mapped.containsKey(key)) {
                        return;
                    }
                    long size = (1 + rnd.nextInt(8)) * 0x1000L;
                    calls.incrementAndGet();
                    core.map(d, iova(tid, slot), 0x1_0000_0000L + iova(tid, slot), size, Prot.RW);
                    h.mapped.put(key, size);
                    break;
                }
                case UNMAP: {
                    long key = (long) di * SLOTS + slot;
                    Long size = h.mapped.get(key);
                    if (size == null) {
                        return;
                    }
                    calls.incrementAndGet();
                    long u = core.unmap(d, iova(tid, slot), size);
                    h.mapped.remove(key);
                    if (u != size) {
                        unexpected.add("thread " + tid + ": unmap of its own " + size + " bytes gave " + u);
                    }
                    break;
                }
                default:
                    throw new AssertionError(op);
            }
        } catch (IommuException e) {
            errors.computeIfAbsent(op + " " + e.errno(), k -> new AtomicLong()).incrementAndGet();
            boolean race = RACE_ERRORS.contains(e.errno()) && op != Op.MAP && op != Op.UNMAP;
            if (!race) {
                unexpected.add("thread " + tid + " " + op + ": " + e.getMessage());
            }
        }
    }

    /** Each worker maps only in its own window, one slot of 32 pages per (domain, slot). */
    private static long iova(int tid, int slot) {
        return (tid + 1) * WINDOW + slot * 0x20000L;
    }

    private static void drop(Map<Device, Integer> m, Device d) {
        if (m.merge(d, -1, Integer::sum) == 0) {
            m.remove(d);
        }
    }

    /** Gives back everything, frees every domain and releases every device (one thread). */
    private static void teardown(World w, List<Holdings> holdings, List<String> unexpected) {
        IommuCore core = w.core;
        try {
            for (int t = 0; t < holdings.size(); t++) {
                Holdings h = holdings.get(t);
                for (IommuGroup g : h.groupClaims) {
                    core.groupReleaseDmaOwner(g);
                }
                h.deviceClaims.forEach((d, n) -> {
                    for (int i = 0; i < n; i++) {
                        core.deviceReleaseDmaOwner(d);
                    }
                });
                h.uses.forEach((d, n) -> {
                    for (int i = 0; i < n; i++) {
                        core.deviceUnuseDefaultDomain(d);
                    }
                });
                for (Map.Entry<Long, Long> e : h.mapped.entrySet()) {
                    int di = (int) (e.getKey() / SLOTS);
                    int slot = (int) (e.getKey() % SLOTS);
                    long u = core.unmap(w.domains.get(di), iova(t, slot), e.getValue());
                    if (u != e.getValue()) {
                        unexpected.add("teardown: unmap of " + e.getValue() + " bytes gave " + u);
                    }
                }
            }
            for (IommuGroup g : w.groups) {
                core.detachGroup(g.domain(), g);
                if (g.ownerCnt() != 0) {
                    unexpected.add("teardown: " + g + " still has owner_cnt " + g.ownerCnt());
                }
            }
            for (IommuDomain d : w.domains) {
                core.domainFree(d);
            }
            for (Device d : w.devices) {
                core.deviceDel(d);
            }
            if (!core.liveDomains().isEmpty()) {
                unexpected.add("teardown: domains left " + core.liveDomains());
            }
        } catch (RuntimeException e) {
            unexpected.add("teardown: " + e);
        }
    }
}
