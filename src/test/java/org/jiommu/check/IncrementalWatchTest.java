package org.jiommu.check;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jiommu.bus.PlatformDevice;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.core.CoreCorruption;
import org.jiommu.core.IommuGroup;
import org.jiommu.core.TraceEvent;
import org.jiommu.core.TraceListener;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.mm.MmStruct;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The incremental watch ({@link CoreWatch#checkIncrementally}, docs/check.md 2) is as strong as
 * checking the whole platform after every call: a scoped state finds the same group-local
 * violations as the whole one; a corruption made inside a scoped call is reported after that
 * call; and a stress seed with every plant of a kind reports the same violations and problems
 * whichever way it is checked.
 */
class IncrementalWatchTest {

    /** The state invariants of the whole platform and of {@code g}'s scope alone. */
    private static void sameInScope(TestPlatform p, IommuGroup g, Consumer<TestPlatform> corrupt) {
        PlatformState cleanWhole = p.capture();
        assertThat(InvariantChecker.checkState(cleanWhole, null)).as("before the corruption").isEmpty();
        corrupt.accept(p);
        List<Violation> whole = InvariantChecker.checkState(p.capture(), null);
        PlatformState scoped = PlatformState.scoped(p.platform, cleanWhole.core(), Set.of(g), g.devices());
        assertThat(scoped.isScoped()).isTrue();
        assertThat(scoped.core().groups()).hasSize(1);
        List<Violation> inScope = InvariantChecker.checkState(scoped, null);
        assertThat(whole).as("the corruption is found").isNotEmpty();
        assertThat(new LinkedHashSet<>(inScope)).as("scoped finds what the whole check finds")
                .isEqualTo(new LinkedHashSet<>(whole));
    }

    @Test
    @DisplayName("a scoped state finds the group-local corruptions the whole state finds (I-UNIFORM, I-OWNER, I-PASID-SLOT both ways)")
    void scopedFindsGroupLocalViolations() {
        TestPlatform p = new TestPlatform();
        PlatformDevice a = p.plat("a");
        p.plat("other"); // a second group the scope leaves out
        IommuGroup g = p.group(a);
        IommuDomain id = p.m.identityDomain();
        sameInScope(p, g, q -> id.ops().attachDev().attachDev(id, a, null));

        TestPlatform p2 = new TestPlatform();
        PlatformDevice o = p2.plat("o");
        p2.plat("other");
        sameInScope(p2, p2.group(o), q -> {
            CoreCorruption.setOwner(q.group(o), "vfio", 0);
            CoreCorruption.setBlockingDomain(q.group(o), q.m.blockedDomain());
        });

        TestPlatform p3 = new TestPlatform();
        PciDevice c = p3.pci("c");
        p3.plat("other");
        IommuDomain d = p3.core.pagingDomainAlloc(c);
        sameInScope(p3, p3.group(c), q -> CoreCorruption.putPasid(q.group(c), 5, d));

        TestPlatform p4 = new TestPlatform();
        PciDevice e = p4.pci("e");
        p4.plat("other");
        IommuDomain d4 = p4.core.pagingDomainAlloc(e);
        sameInScope(p4, p4.group(e), q -> assertThat(d4.ops().setDevPasid().setDevPasid(d4, e, 7, null)).isZero());
    }

    @ParameterizedTest(name = "check period {0}")
    @ValueSource(ints = {0, 64})
    @DisplayName("a driver that programs another domain inside a scoped call (iommu_attach_group) is reported after that call, incrementally as in full")
    void corruptionInsideScopedCall(int period) {
        TestPlatform p = new TestPlatform();
        PlatformDevice a = p.plat("a");
        p.plat("other");
        CoreWatch w = p.watch();
        assertThat(w).isNotNull();
        w.checkIncrementally(period);
        IommuDomain d = p.core.pagingDomainAlloc(a); // a whole check: the scoped ones have a core to start from
        IommuDomain id = p.m.identityDomain();
        // after the core's attach_dev of a to d, the "driver" points a's RID entry at identity
        TraceListener rogue = ev -> {
            if (ev.kind() == TraceEvent.Kind.DRIVER && ev.function().equals("attach_dev")
                    && ev.text().startsWith("(" + d + ", a")) {
                id.ops().attachDev().attachDev(id, a, null);
            }
        };
        long scopedBefore = w.scopedChecks();
        p.core.addTraceListener(rogue);
        try {
            p.core.attachGroup(d, p.group(a));
        } finally {
            p.core.removeTraceListener(rogue);
        }
        List<CoreWatch.Report> reports = InvariantWatch.drain();
        assertThat(reports).as(reports.toString()).anySatisfy(r -> {
            assertThat(r.call()).startsWith("iommu_attach_group(");
            assertThat(r.violations()).anyMatch(v -> v.invariant() == Invariant.UNIFORM
                    && v.message().contains("a is programmed for " + id));
        });
        assertThat(w.scopedChecks() - scopedBefore).as("checked in scope").isEqualTo(period == 0 ? 0 : 1);
    }

    @ParameterizedTest(name = "check period {0}")
    @ValueSource(ints = {0, 64})
    @DisplayName("a call on the core's global half (iommu_free_global_pasid of a bound process's PASID) is checked in scope with the global half read anew: I-MM-PASID is reported after that call")
    void globalHalfCallInScope(int period) {
        TestPlatform p = new TestPlatform();
        PciDevice a = p.pci("a");
        p.plat("other");
        CoreWatch w = p.watch();
        w.checkIncrementally(period);
        MmStruct mm = new MmStruct("proc", p.frames);
        p.core.svaBindDevice(a, mm);
        int pasid = p.core.mmPasid(mm);
        assertThat(InvariantWatch.drain()).isEmpty();
        long scopedBefore = w.scopedChecks();

        p.core.freeGlobalPasid(pasid); // what the rogue-pasid-free plant's caller does

        List<CoreWatch.Report> reports = InvariantWatch.drain();
        assertThat(reports).as(reports.toString()).anySatisfy(r -> {
            assertThat(r.call()).startsWith("iommu_free_global_pasid(");
            assertThat(r.violations()).anyMatch(v -> v.invariant() == Invariant.MM_PASID
                    && v.message().equals(mm + " has PASID " + pasid + ", which is not allocated"));
        });
        assertThat(w.scopedChecks() - scopedBefore).as("checked in scope").isEqualTo(period == 0 ? 0 : 1);
    }

    private static final Pattern PAIR = Pattern.compile("(.*) is owned by both (.+) and (.+)");

    /**
     * A violation as comparable texts. "PASID p is owned by both X and Y" pairs the first owner
     * the core's map of mms yields with each later one, and that map iterates in identity-hash
     * order, which differs between two runs of the same seed: it becomes "PASID p is shared by X"
     * and "... by Y", which do not depend on the order.
     */
    private static List<String> normal(Violation v) {
        String m = v.invariant().id() + ": " + v.message();
        Matcher x = PAIR.matcher(m);
        if (x.matches()) {
            return List.of(x.group(1) + " is shared by " + x.group(2), x.group(1) + " is shared by " + x.group(3));
        }
        return List.of(m);
    }

    /** Distinct violations a run's watch reported, its unexpected outcomes and warnings. */
    private static List<Object> outcome(StressHarness.Result r) {
        Set<String> v = new TreeSet<>();
        r.reports().forEach(x -> x.violations().forEach(y -> v.addAll(normal(y))));
        List<Object> out = new ArrayList<>();
        out.add(r.clean());
        out.add(v);
        out.add(new LinkedHashSet<>(r.unexpected()));
        out.add(r.warnings());
        out.add(new TreeSet<>(r.finalViolations().stream().flatMap(y -> normal(y).stream()).toList()));
        return out;
    }

    private static StressHarness.Result run(String kind, String plant, int period) {
        try {
            StressHarness.Config c = new StressHarness.Config(7, 4, 300, 3).withPasids().on(kind).serialised()
                    .checkingEvery(period);
            return StressHarness.run(plant == null ? c : c.planting(StressHarness.Plant.named(plant)));
        } finally {
            InvariantWatch.drain();
        }
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"mock", "vtd"})
    @DisplayName("one serial seed, every plant of the kind and none: the same violations and problems checked in full after every call and incrementally")
    void sameViolationsFullAndIncremental(String kind) {
        List<String> plants = new ArrayList<>();
        plants.add(null);
        plants.addAll(StressHarness.plants(kind).keySet());
        for (String plant : plants) {
            StressHarness.Result full = run(kind, plant, 0);
            StressHarness.Result inc = run(kind, plant, StressHarness.CHECK_PERIOD);
            assertThat(full.calls()).as(plant + ": the same calls").isEqualTo(inc.calls());
            assertThat(full.trace()).as(plant + ": the same calls").isEqualTo(inc.trace());
            assertThat(outcome(inc)).as(kind + " " + plant + ": incremental\n" + inc + "\nfull\n" + full)
                    .isEqualTo(outcome(full));
            assertThat(full.clean()).as(kind + " " + plant + " caught").isEqualTo(plant == null);
        }
    }
}
