package org.jiommu.scenario;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jiommu.bus.Device;
import org.jiommu.bus.dma.DmaEngine;
import org.jiommu.core.IommuGroup;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.platform.IommuUnits;
import org.jiommu.platform.Platform;

/**
 * One scenario run step by step, for {@code jiommu serve}: the platform after steps 1..N, with
 * the same runner and comparisons as {@code jiommu run}. Going back rebuilds a fresh platform
 * (the model has no undo, as a machine has none) and replays the kept steps on it without
 * re-checking them ({@link ScenarioRunner#replay}: the model is deterministic). A DMA issued from outside the steps
 * ({@link #dma}) acts on the current state; running forward continues from that state, going
 * back forgets it. Not thread-safe: the caller serialises.
 */
public final class ScenarioSession {
    private final Scenario scenario;
    private final ScenarioRunner runner = new ScenarioRunner(false);
    private Machine machine;
    private String platformError;
    private final List<ScenarioRunner.StepReport> reports = new ArrayList<>();
    private final List<Counters> counters = new ArrayList<>();

    /**
     * Translation-cache and fault counters, cumulative, after a step (index 0: after boot).
     *
     * @param iotlbHits IOTLB (and context/PASID cache) hits over every unit
     * @param iotlbLookups their lookups
     * @param atcHits device ATC hits over every endpoint
     * @param atcLookups ATC lookups
     * @param faults DMA steps that faulted so far
     */
    public record Counters(long iotlbHits, long iotlbLookups, long atcHits, long atcLookups, long faults) {
    }

    public ScenarioSession(Scenario scenario) {
        this.scenario = scenario;
        reset();
    }

    private void reset() {
        reports.clear();
        counters.clear();
        platformError = null;
        try {
            machine = ScenarioRunner.machineFor(scenario);
            counters.add(count(0));
        } catch (RuntimeException e) {
            machine = null;
            platformError = "the platform could not be built: " + e.getMessage();
        }
    }

    public Scenario scenario() {
        return scenario;
    }

    /** Why the platform could not be built (no step can run), or null. */
    public String platformError() {
        return platformError;
    }

    /** How many steps have run. */
    public int position() {
        return reports.size();
    }

    /** The reports of the steps run so far, in order. */
    public List<ScenarioRunner.StepReport> reports() {
        return Collections.unmodifiableList(reports);
    }

    /** The counters after boot and after each step run so far. */
    public List<Counters> counters() {
        return Collections.unmodifiableList(counters);
    }

    /**
     * Runs to the state after step {@code n} (0: after boot): forward from here, or from a fresh
     * platform when {@code n} is behind.
     *
     * @throws IllegalArgumentException if {@code n} is outside 0..steps
     */
    public void runTo(int n) {
        if (n < 0 || n > scenario.steps().size()) {
            throw new IllegalArgumentException("step " + n + " outside 0.." + scenario.steps().size());
        }
        if (n < reports.size()) {
            // back: a fresh platform, the first n steps replayed without re-checking them (their
            // reports stand: the model is deterministic), then nothing more to run
            List<ScenarioRunner.StepReport> kept = new ArrayList<>(reports.subList(0, n));
            List<Counters> keptCounters = new ArrayList<>(counters.subList(0, n + 1));
            reset();
            if (machine != null) {
                for (ScenarioRunner.StepReport r : kept) {
                    runner.replay(machine, r.step(), r);
                }
                reports.addAll(kept);
                counters.clear();
                counters.addAll(keptCounters);
            }
        }
        while (machine != null && reports.size() < n) {
            ScenarioRunner.StepReport r = runner.runStep(machine, scenario.steps().get(reports.size()));
            reports.add(r);
            counters.add(count(counters.get(counters.size() - 1).faults()
                    + (r.outcome() instanceof Outcome.Faulted ? 1 : 0)));
        }
    }

    private Counters count(long faults) {
        long hits = 0;
        long lookups = 0;
        for (IommuUnits u : machine.platform.units()) {
            long[] c = u.cacheStats();
            hits += c[0];
            lookups += c[1];
        }
        long atcHits = 0;
        long atcLookups = 0;
        for (DmaEngine e : machine.engines().values()) {
            DmaEngine.Stats st = e.stats();
            atcHits += st.atcHits();
            atcLookups += st.atcHits() + st.atcMisses();
        }
        return new Counters(hits, lookups, atcHits, atcLookups, faults);
    }

    /** The current counters (after the last step and any DMA issued since). */
    public Counters countersNow() {
        return machine == null ? new Counters(0, 0, 0, 0, 0) : count(counters.get(counters.size() - 1).faults());
    }

    /** The running platform, or null if it could not be built. */
    public Platform platform() {
        return machine == null ? null : machine.platform;
    }

    /** One line saying what was built. */
    public String summary() {
        return machine == null ? "" : machine.summary();
    }

    /** The scenario's devices by name, in platform order (hot-plugged ones once added). */
    public Map<String, Device> devices() {
        Map<String, Device> out = new LinkedHashMap<>();
        if (machine == null) {
            return out;
        }
        for (DeviceSpec d : scenario.platform().devices()) {
            out.put(d.name(), machine.device(d.name()));
        }
        for (Step st : scenario.steps()) {
            if (st.args().get("device") instanceof DeviceSpec d) {
                try {
                    out.put(d.name(), machine.device(d.name()));
                } catch (StepError notYet) {
                    // a device_add step that has not run yet
                }
            }
        }
        return out;
    }

    /** The driver bound to a device ("dma-api", "none"), or null. */
    public String driver(Device dev) {
        return machine.driverOf(dev);
    }

    /**
     * How results name a domain: its bound name, else default / blocked / identity, else the
     * core's name ({@code g}: the group it is seen from, may be null).
     */
    public String domainName(IommuDomain d, IommuGroup g) {
        return machine.showDomain(d, g).name();
    }

    /** The number an earlier step bound to {@code name} ({@code as:}), or null if none. */
    public Long boundNumber(String name) {
        try {
            return machine != null && machine.binding(name) instanceof Value.Num n ? n.value() : null;
        } catch (StepError unbound) {
            return null;
        }
    }

    /** The device's group, or null. */
    public IommuGroup group(Device dev) {
        return machine.core.groupGet(dev);
    }

    /**
     * A DMA issued by {@code dev}, as a {@code dma} step would do it: its outcome (translated or
     * faulted, in the scenario's words).
     */
    public Outcome dma(Device dev, int pasid, long iova, boolean write, int len) {
        try {
            return PlatformOps.dma(machine, dev, pasid, iova, write, len, null);
        } catch (StepError e) {
            return new Outcome.Error(e.getMessage());
        }
    }
}
