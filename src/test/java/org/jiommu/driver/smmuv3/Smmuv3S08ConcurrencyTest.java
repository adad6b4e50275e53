package org.jiommu.driver.smmuv3;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.Semaphore;
import org.jiommu.base.Prot;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.driver.common.DriverFaults;
import org.jiommu.hw.smmuv3.SmmuCommand;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * S08 with several callers, driven deterministically: user threads join and leave one domain at
 * SubstreamID {@link #S} while another thread detaches the long-lived user; a device {@code o}
 * stays on the domain at another SubstreamID. Each thread keeps its own thread (the callers'
 * locks are real), but a seeded scheduler hands the turn to one thread for one call at a time,
 * so a seed is one interleaving. Inside a call, at the driver's lock points (every CFGI_CD or
 * ATC_INV it queues for {@link #S}, i.e. inside the domain's devices lock, before the SMMU has
 * consumed the command), the seed may make ATS devices issue a DMA at {@link #S}: a translation
 * request that refills an ATC from whatever the SMMU still sees there.
 *
 * <p>Checked after every call: no device off {@link #S} translates at it or keeps an ATC entry
 * tagged with it (what S08 protects), and the leave issued an ATC_INV for {@link #S} after the
 * leaver's CFGI_CD to exactly the devices the rule names: the leaver, plus, when it was the last
 * at {@link #S}, every other ATS device on the domain's list. The second check is the only one
 * that sees the "leaver only" variant: on SMMUv3 every master has its own CD table, so no other
 * device can hold an entry for the SubstreamID (docs/driver-smmuv3.md, S08 deviation).
 */
class Smmuv3S08ConcurrencyTest {
    private static final int S = 7;
    private static final int T = 9;
    private static final long IOVA = 0x40000;
    private static final long PA = 0x100_0000;
    private static final long[] SEEDS = {1, 2, 3, 5, 8, 13, 21, 34};

    /** What one seeded run saw. */
    record Outcome(List<String> problems, int lastLeavesWithOthers, int leavesNotLast, int lockPointDmas) {}

    @Test
    @DisplayName("S08 concurrent (serial scheduler, 8 seeds): users join and leave the SSID while another thread"
            + " detaches the last user; no device keeps an ATC entry for the cleared SSID, the ATC_INVs follow the rule")
    void clean() {
        int lastWithOthers = 0;
        int notLast = 0;
        int dmas = 0;
        for (long seed : SEEDS) {
            Outcome o = run(seed, null);
            assertThat(o.problems()).as("seed %d", seed).isEmpty();
            lastWithOthers += o.lastLeavesWithOthers();
            notLast += o.leavesNotLast();
            dmas += o.lockPointDmas();
        }
        // The seeds cover both halves of the rule and the lock-point refills.
        assertThat(lastWithOthers).isPositive();
        assertThat(notLast).isPositive();
        assertThat(dmas).isPositive();
    }

    @Test
    @DisplayName("S08 concurrent, planted: a last teardown that invalidates only the leaving device's ATC is caught"
            + " on every seed")
    void leaverOnlyCaught() {
        caughtOnEverySeed(DriverFaults.Skip.TEARDOWN_OTHER_DEVICE_TLB, "ATC_INV for SSID " + S);
    }

    @Test
    @DisplayName("S08 concurrent, planted: a teardown without the leaver's ATC_INV leaves a stale ATC entry for the"
            + " cleared SSID, caught on every seed")
    void noTeardownAtcInvCaught() {
        caughtOnEverySeed(DriverFaults.Skip.TEARDOWN_DEVICE_TLB, "keeps an ATC entry for SSID " + S);
    }

    private static void caughtOnEverySeed(DriverFaults.Skip plant, String problem) {
        for (long seed : SEEDS) {
            assertThat(run(seed, plant).problems()).as("seed %d", seed)
                    .anySatisfy(p -> assertThat(p).contains(problem));
        }
    }

    private static Outcome run(long seed, DriverFaults.Skip plant) {
        Smmuv3Bed b = new Smmuv3Bed(Smmuv3Bed.features());
        List<PciDevice> users = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            users.add(b.endpoint("u" + i, true, 20, false));
        }
        PciDevice last = b.endpoint("last", true, 20, false);
        PciDevice o = b.endpoint("o", true, 20, false);
        List<PciDevice> all = new ArrayList<>(users);
        all.add(last);
        all.add(o);
        all.forEach(d -> b.add(d));
        IommuDomain dom = b.core.pagingDomainAlloc(o);
        b.core.map(dom, IOVA, PA, 0x1000, Prot.RW);
        b.core.attachDevicePasid(dom, o, T);
        b.core.attachDevicePasid(dom, last, S);
        if (plant != null) {
            b.drv.faults().skip(plant, 1_000_000);
        }
        Random rnd = new Random(seed);
        // The reference: who is on the domain at S (o is at T throughout).
        Set<PciDevice> atS = new LinkedHashSet<>(List.of(last));
        List<String> problems = new ArrayList<>();
        int[] counts = new int[3];

        // Lock points: the tap runs on the calling thread while it holds the devices lock.
        b.drv.tapCommands(c -> {
            int op = SmmuCommand.opcode(c[0]);
            synchronized (b.cmds) {
                b.cmds.add(c.clone());
            }
            boolean atSsid = (op == SmmuCommand.CFGI_CD && (int) (c[0] >>> SmmuCommand.SSID_SHIFT & 0xFFFFF) == S)
                    || (op == SmmuCommand.ATC_INV && ssv(c) == S);
            if (atSsid && rnd.nextInt(3) == 0) {
                counts[2]++;
                b.write(all.get(rnd.nextInt(all.size())), S, IOVA);
            }
        });

        Map<String, List<Runnable>> scripts = new HashMap<>();
        for (PciDevice u : users) {
            List<Runnable> steps = new ArrayList<>();
            for (int cycle = 0; cycle < 3; cycle++) {
                steps.add(() -> {
                    b.core.attachDevicePasid(dom, u, S);
                    atS.add(u);
                });
                steps.add(() -> b.write(u, S, IOVA));
                steps.add(() -> leave(b, dom, u, atS, all, problems, counts));
            }
            scripts.put(u.toString(), steps);
        }
        scripts.put("detacher", List.of(() -> leave(b, dom, last, atS, all, problems, counts)));
        scripts.put("o-dma", List.of(() -> b.write(o, T, IOVA), () -> b.write(o, T, IOVA)));

        new SerialRun(rnd, scripts, () -> checkQuiescent(b, all, atS, problems)).run();
        b.drv.tapCommands(null);
        return new Outcome(problems, counts[0], counts[1], counts[2]);
    }

    /** One leave at S and its rule check (the reference decides "last" from its own list). */
    private static void leave(Smmuv3Bed b, IommuDomain dom, PciDevice dev, Set<PciDevice> atS,
                              List<PciDevice> all, List<String> problems, int[] counts) {
        atS.remove(dev);
        boolean isLast = atS.isEmpty();
        Set<Integer> expected = new TreeSet<>();
        expected.add(b.sid(dev));
        if (isLast) {
            // Every other ATS master on the domain's list: o (at T); nobody else is left at S.
            for (PciDevice d : all) {
                if (d != dev && b.drv.pasidDomains(d).containsValue(dom) && b.drv.atsEnabled(d)) {
                    expected.add(b.sid(d));
                }
            }
            if (expected.size() > 1) {
                counts[0]++;
            }
        } else {
            counts[1]++;
        }
        b.clear();
        b.core.detachDevicePasid(dom, dev, S);
        List<long[]> cmds;
        synchronized (b.cmds) {
            cmds = new ArrayList<>(b.cmds);
        }
        int cfgi = -1;
        Set<Integer> invalidated = new TreeSet<>();
        for (int i = 0; i < cmds.size(); i++) {
            long[] c = cmds.get(i);
            int op = SmmuCommand.opcode(c[0]);
            if (op == SmmuCommand.CFGI_CD && sid(c) == b.sid(dev) && cfgi < 0) {
                cfgi = i;
            } else if (op == SmmuCommand.ATC_INV && ssv(c) == S) {
                if (cfgi < 0) {
                    problems.add(dev + ": ATC_INV for SSID " + S + " before the CD's CFGI_CD");
                }
                invalidated.add(sid(c));
            }
        }
        if (!invalidated.equals(expected)) {
            problems.add(dev + (isLast ? " (last)" : "") + ": ATC_INV for SSID " + S + " to streams " + invalidated
                    + ", the rule names " + expected);
        }
    }

    /** Between calls: nobody off S translates at S or keeps an ATC entry for it; users at S do. */
    private static void checkQuiescent(Smmuv3Bed b, List<PciDevice> all, Set<PciDevice> atS, List<String> problems) {
        for (PciDevice d : all) {
            if (atS.contains(d)) {
                continue;
            }
            if (d.atc().entries().stream().anyMatch(e -> e.pasid() == S)) {
                problems.add(d + " keeps an ATC entry for SSID " + S + " after leaving it");
            }
            if (b.read(d, S, IOVA) >= 0) {
                problems.add(d + " still translates at SSID " + S);
            }
        }
        for (PciDevice d : atS) {
            if (b.read(d, S, IOVA) != PA) {
                problems.add(d + " lost its translation at SSID " + S);
            }
        }
    }

    private static int ssv(long[] c) {
        return (c[0] & SmmuCommand.SSV) == 0 ? 0 : (int) (c[0] >>> SmmuCommand.SSID_SHIFT & 0xFFFFF);
    }

    private static int sid(long[] c) {
        return (int) (c[0] >>> SmmuCommand.SID_SHIFT);
    }

    /**
     * The seeded serial scheduler: one thread per script, each step run on its own thread when the
     * seed picks it; exactly one step runs at a time, the check after each on the scheduler's thread.
     */
    private static final class SerialRun {
        private final Random rnd;
        private final List<List<Runnable>> scripts = new ArrayList<>();
        private final Runnable check;

        SerialRun(Random rnd, Map<String, List<Runnable>> named, Runnable check) {
            this.rnd = rnd;
            this.check = check;
            named.keySet().stream().sorted().forEach(k -> scripts.add(named.get(k)));
        }

        void run() {
            int n = scripts.size();
            Semaphore[] turn = new Semaphore[n];
            Semaphore done = new Semaphore(0);
            Throwable[] failure = new Throwable[1];
            List<Thread> threads = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                turn[i] = new Semaphore(0);
                List<Runnable> steps = scripts.get(i);
                Semaphore mine = turn[i];
                Thread t = new Thread(() -> {
                    for (Runnable step : steps) {
                        mine.acquireUninterruptibly();
                        try {
                            step.run();
                        } catch (Throwable e) {
                            failure[0] = e;
                        } finally {
                            done.release();
                        }
                    }
                }, "s08-" + i);
                t.setDaemon(true);
                threads.add(t);
                t.start();
            }
            int[] left = new int[n];
            for (int i = 0; i < n; i++) {
                left[i] = scripts.get(i).size();
            }
            while (true) {
                List<Integer> ready = new ArrayList<>();
                for (int i = 0; i < n; i++) {
                    if (left[i] > 0) {
                        ready.add(i);
                    }
                }
                if (ready.isEmpty() || failure[0] != null) {
                    break;
                }
                int pick = ready.get(rnd.nextInt(ready.size()));
                left[pick]--;
                turn[pick].release();
                done.acquireUninterruptibly();
                if (failure[0] == null) {
                    check.run();
                }
            }
            if (failure[0] != null) {
                throw new AssertionError("a step failed", failure[0]);
            }
            for (Thread t : threads) {
                try {
                    t.join();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new AssertionError(e);
                }
            }
        }
    }
}
