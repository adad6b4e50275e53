package org.jiommu.scenario;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.jiommu.base.Errno;
import org.jiommu.core.IommuGroup;
import org.jiommu.core.spi.IommuDomain;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

class ScenarioRunnerTest {
    private static final String PLATFORM = String.join("\n",
            "platform:",
            "  iommus:",
            "    - {name: m0, kind: mock}",
            "  devices:",
            "    - {name: nic0, bus: pci, bdf: \"00:02.0\", iommu: m0}",
            "    - {name: rmr0, bus: pci, bdf: \"00:05.0\", iommu: m0,",
            "       reserved: [{kind: direct, base: 0xe0000000, size: 64KiB}]}",
            "    - {name: lone0, bus: pci, bdf: \"00:07.0\"}",
            "");

    /** Runs the steps on the common platform; returns every step's report. */
    private static List<ScenarioRunner.StepReport> run(String... steps) throws InvalidScenarioException {
        return runText("name: t\n" + PLATFORM + "steps:\n" + String.join("\n", steps) + "\n");
    }

    /** Runs a whole scenario text; returns every step's report. */
    private static List<ScenarioRunner.StepReport> runText(String text) throws InvalidScenarioException {
        Scenario s = ScenarioReader.read("t.yaml", text);
        List<ScenarioRunner.StepReport> out = new ArrayList<>();
        new ScenarioRunner(false).run(s, new ScenarioRunner.StepListener() {
            @Override
            public void begin(Scenario sc, String platformSummary) {
            }

            @Override
            public void step(Scenario sc, ScenarioRunner.StepReport report) {
                out.add(report);
            }

            @Override
            public void end(Scenario sc, ScenarioRunner.FileReport report) {
            }
        });
        return out;
    }

    @Test
    @DisplayName("S16 a WARN from a void call is the result 'warning': it fails 'ok' and meets 'warn'")
    void warnIsItsOwnResult() throws Exception {
        List<ScenarioRunner.StepReport> r = run(
                "  - iommu_group_release_dma_owner: {group: nic0}",
                "  - iommu_group_release_dma_owner: {group: nic0}",
                "    expect: warn",
                "  - iommu_group_claim_dma_owner: {group: nic0, owner: vfio}",
                "    expect: warn");
        assertThat(r.get(0).outcome()).isInstanceOf(Outcome.Warned.class);
        assertThat(r.get(0).passed()).isFalse();
        assertThat(r.get(0).mismatch()).isEqualTo("expected ok, got warning");
        assertThat(r.get(1).passed()).isTrue();
        assertThat(r.get(2).passed()).isFalse();
        assertThat(r.get(2).mismatch()).isEqualTo("expected warn, got done");
    }

    @Test
    @DisplayName("{value: NAME} compares domains by identity")
    void valueByIdentity() throws Exception {
        List<ScenarioRunner.StepReport> r = run(
                "  - iommu_paging_domain_alloc: {dev: nic0}",
                "    as: a",
                "  - iommu_paging_domain_alloc: {dev: nic0}",
                "    as: b",
                "  - iommu_attach_device: {domain: a, dev: nic0}",
                "  - iommu_get_domain_for_dev: {dev: nic0}",
                "    expect: {value: a}",
                "  - iommu_get_domain_for_dev: {dev: nic0}",
                "    expect: {value: b}");
        assertThat(r).extracting(ScenarioRunner.StepReport::passed).containsExactly(true, true, true, true, false);
        assertThat(r.get(4).mismatch()).isEqualTo("expected {value: b}, got a");
    }

    @Test
    @DisplayName("a name whose binding step failed makes the later step fail, and the run goes on")
    void unboundAtRunTime() throws Exception {
        List<ScenarioRunner.StepReport> r = run(
                "  - iommu_paging_domain_alloc: {dev: lone0}",
                "    as: d",
                "  - iommu_domain_free: {domain: d}",
                "  - iommu_group_dma_owner_claimed: {group: nic0}",
                "    expect: {value: false}");
        assertThat(r.get(0).outcome()).isEqualTo(new Outcome.Failed(Errno.ENODEV,
                ((Outcome.Failed) r.get(0).outcome()).message()));
        assertThat(r.get(1).passed()).isFalse();
        assertThat(r.get(1).mismatch()).contains("'d' is unbound");
        assertThat(r.get(2).passed()).isTrue();
    }

    @Test
    @DisplayName("a device without an IOMMU: core calls -ENODEV, its domain shows as none")
    void noIommu() throws Exception {
        List<ScenarioRunner.StepReport> r = run(
                "  - iommu_paging_domain_alloc: {dev: lone0}",
                "    expect: -ENODEV",
                "  - iommu_group_id: {dev: lone0}",
                "    expect: -ENODEV",
                "  - iommu_get_domain_for_dev: {dev: lone0}",
                "    expect: {value: none}",
                "  - iommu_group_claim_dma_owner: {group: lone0, owner: x}",
                "    expect: -ENODEV");
        assertThat(r).allMatch(ScenarioRunner.StepReport::passed);
    }

    @Test
    @DisplayName("driver_bind and driver_unbind go through the core's DMA-API use count like the driver core")
    void drivers() throws Exception {
        List<ScenarioRunner.StepReport> r = run(
                "  - driver_unbind: {dev: nic0}",
                "    expect: -ENODEV",
                "  - driver_bind: {dev: nic0, driver: dma-api}",
                "  - iommu_group_dma_owner_claimed: {group: nic0}",
                "    expect: {value: true}",
                "  - driver_bind: {dev: nic0, driver: none}",
                "    expect: -EBUSY",
                "  - driver_unbind: {dev: nic0}",
                "  - iommu_group_dma_owner_claimed: {group: nic0}",
                "    expect: {value: false}",
                "  - driver_bind: {dev: nic0, driver: none}",
                "  - iommu_group_dma_owner_claimed: {group: nic0}",
                "    expect: {value: false}");
        assertThat(r).allMatch(ScenarioRunner.StepReport::passed);
    }

    @Test
    @DisplayName("device_add probes a hot-plugged device into its own group; device_del releases it")
    void hotplug() throws Exception {
        List<ScenarioRunner.StepReport> r = run(
                "  - device_add: {name: hot0, bus: pci, bdf: \"00:09.0\", iommu: m0, driver: dma-api}",
                "  - iommu_get_domain_for_dev: {dev: hot0}",
                "    expect: {value: default}",
                "  - iommu_group_id: {dev: nic0}",
                "    as: nic_group",
                "  - iommu_group_id: {dev: hot0}",
                "    expect: {value: nic_group}",
                "  - device_del: {dev: hot0}",
                "  - iommu_get_domain_for_dev: {dev: hot0}",
                "    expect: {value: none}",
                "  - device_del: {dev: hot0}",
                "    expect: -ENODEV");
        assertThat(r).extracting(ScenarioRunner.StepReport::passed)
                .containsExactly(true, true, true, false, true, true, true);
    }

    @Test
    @DisplayName("a call that fails must change nothing; the one kernel exception is the lazily allocated blocking domain")
    void changedNothing() throws Exception {
        Scenario s = ScenarioReader.read("t.yaml", "name: t\n" + PLATFORM + "steps: []\n");
        Machine m = Machine.build(s.platform());
        Machine.State before = m.snapshot();
        // iommu_group_claim_dma_owner on a require_direct device: the blocking domain stays
        // allocated although the claim fails (SEMANTICS 13 #58).
        IommuGroup g = m.group("rmr0");
        assertThat(g.blockingDomain()).isNull();
        try {
            m.core.groupClaimDmaOwner(g, m.owner("vfio"));
            throw new AssertionError("claim of a require_direct device succeeded");
        } catch (org.jiommu.base.IommuException e) {
            assertThat(e.errno()).isEqualTo(Errno.EINVAL);
        }
        Machine.State after = m.snapshot();
        assertThat(after).isNotEqualTo(before);
        assertThat(before.unchangedBy(after)).isTrue();

        // A real change is still seen: nic0 moves to a private domain.
        IommuDomain d = m.core.pagingDomainAlloc(m.device("nic0"));
        Machine.State withDomain = m.snapshot();
        m.core.attachDevice(d, m.device("nic0"));
        assertThat(withDomain.unchangedBy(m.snapshot())).isFalse();
    }

    @Test
    @DisplayName("dma: translated by the hardware walking the tables; data checked on reads; faults named")
    void dma() throws Exception {
        List<ScenarioRunner.StepReport> r = run(
                "  - driver_bind: {dev: nic0, driver: none}",
                "  - iommu_group_claim_dma_owner: {group: nic0, owner: vfio}",
                "  - iommu_paging_domain_alloc: {dev: nic0}",
                "    as: d",
                "  - iommu_map: {domain: d, iova: 0x10000, paddr: 0x300000, size: 4KiB, prot: [read]}",
                "  - iommu_attach_group: {domain: d, group: nic0}",
                "  - mem_write: {paddr: 0x300010, data: \"01020304\"}",
                "  - dma: {dev: nic0, iova: 0x10010, read: 4, data: \"01020304\"}",
                "    expect: {paddr: 0x300010}",
                "    as: pa",
                "  - dma: {dev: nic0, iova: 0x10010, read: 4, data: \"01020305\"}",
                "  - dma: {dev: nic0, iova: 0x10010, write: 4}",
                "    expect: {fault: permission}",
                "  - dma: {dev: nic0, iova: 0x11000, read: 1}",
                "    expect: fault",
                "  - dma: {dev: nic0, pasid: 5, iova: 0x10010, read: 1}",
                "    expect: {fault: bad-pasid}",
                "  - dma: {dev: lone0, iova: 0x300010, read: 4, data: \"01020304\"}",
                "    expect: {paddr: pa}",
                "  - dma: {dev: lone0, iova: 0x400000, write: 2}",
                "  - mem_read: {paddr: 0x400000, size: 2}",
                "    expect: {value: \"5a5a\"}");
        assertThat(r).extracting(ScenarioRunner.StepReport::passed)
                .containsExactly(true, true, true, true, true, true, true, false, true, true, true, true, true, true);
        assertThat(r.get(7).mismatch()).isEqualTo("read 01020304, expected data 01020305");
        assertThat(r.get(8).outcome()).isInstanceOf(Outcome.Faulted.class);
    }

    @Test
    @DisplayName("alias-of and acs: false group functions by the PCI rules; platform devices by stream ID on their own mock")
    void grouping() throws Exception {
        String text = String.join("\n",
                "name: grouping",
                "platform:",
                "  iommus:",
                "    - {name: m0, kind: mock}",
                "    - {name: m1, kind: mock}",
                "  devices:",
                "    - {name: a, bus: pci, bdf: \"00:06.0\", iommu: m0}",
                "    - {name: b, bus: pci, bdf: \"00:07.0\", iommu: m0, alias-of: \"00:06.0\"}",
                "    - {name: c, bus: pci, bdf: \"00:08.0\", iommu: m0}",
                "    - {name: f0, bus: pci, bdf: \"00:09.0\", iommu: m0, acs: false}",
                "    - {name: f1, bus: pci, bdf: \"00:09.1\", iommu: m0, acs: false}",
                "    - {name: uart0, bus: platform, iommu: m1, stream-ids: [0x40]}",
                "steps:",
                "  - iommu_group_id: {dev: a}",
                "    as: ga",
                "  - iommu_group_id: {dev: b}",
                "    expect: {value: ga}",
                "  - iommu_group_id: {dev: c}",
                "    expect: {value: ga}",
                "  - iommu_group_id: {dev: f0}",
                "    as: gf",
                "  - iommu_group_id: {dev: f1}",
                "    expect: {value: gf}",
                "  - iommu_get_domain_for_dev: {dev: uart0}",
                "    expect: {value: default}",
                "  - dma: {dev: uart0, iova: 0x1000, read: 4}",
                "    expect: {fault: not-present}",
                "");
        assertThat(runText(text)).extracting(ScenarioRunner.StepReport::passed)
                .containsExactly(true, true, false, true, true, true, true);
    }

    /** Runs the scenario step by step on a machine the caller may tamper with first. */
    private static List<ScenarioRunner.StepReport> runOn(String text, java.util.function.Consumer<Machine> setup)
            throws InvalidScenarioException {
        Scenario s = ScenarioReader.read("t.yaml", text);
        Machine m = Machine.build(s.platform(), List.of());
        setup.accept(m);
        ScenarioRunner runner = new ScenarioRunner(false);
        List<ScenarioRunner.StepReport> out = new ArrayList<>();
        for (Step st : s.steps()) {
            out.add(runner.runStep(m, st));
        }
        return out;
    }

    @Test
    @DisplayName("SCENARIOS.md expectations: an errno may come with state the kernel keeps (a failed iommu_sva_bind_device keeps the mm's global PASID)")
    void errnoWithKeptState() throws Exception {
        String text = String.join("\n",
                "name: t",
                "platform:",
                "  iommus:",
                "    - {name: m0, kind: mock}",
                "  devices:",
                "    - {name: card, bus: pci, bdf: \"00:02.0\", iommu: m0, caps: [pasid]}",
                "steps:",
                "  - iommu_paging_domain_alloc: {dev: card}",
                "    as: d",
                "  - iommu_attach_device_pasid: {domain: d, dev: card, pasid: 1}",
                "  - mm_create: {name: proc}",
                "  - iommu_sva_bind_device: {dev: card, mm: proc}",
                "    expect: -EBUSY",
                "  - iommu_alloc_global_pasid: {dev: card}",
                "    expect: {value: 2}",
                "");
        List<ScenarioRunner.StepReport> r = runOn(text, m -> { });
        assertThat(r).allSatisfy(x -> assertThat(x.passed()).as(x.step().written() + ": " + x.mismatch()).isTrue());
        // the bind failed after the mm took PASID 1 for good: the next global PASID is 2
        assertThat(r.get(3).outcome()).isInstanceOf(Outcome.Failed.class);
    }

    @Test
    @DisplayName("SCENARIOS.md expectations: a warn may come with state the kernel changed (__iommu_group_set_domain_nofail WARNs and records the domain anyway)")
    void warnWithChangedState() throws Exception {
        String text = String.join("\n",
                "name: t",
                PLATFORM + "steps:",
                "  - iommu_paging_domain_alloc: {dev: nic0}",
                "    as: d",
                "  - iommu_attach_device: {domain: d, dev: nic0}",
                "  - iommu_detach_device: {domain: d, dev: nic0}",
                "    expect: warn",
                "  - iommu_get_domain_for_dev: {dev: nic0}",
                "    expect: {value: default}",
                "");
        List<ScenarioRunner.StepReport> r = runOn(text, m -> {
            org.jiommu.bus.Device nic = m.device("nic0");
            ((org.jiommu.driver.mock.MockUnits) m.platform.units().get(0)).driver("m0")
                    .failAttach(m.core.groupGet(nic).defaultDomain(), nic, Errno.EIO);
        });
        assertThat(r).allSatisfy(x -> assertThat(x.passed()).as(x.step().written() + ": " + x.mismatch()).isTrue());
        assertThat(r.get(2).outcome()).isInstanceOf(Outcome.Warned.class);
        // a WARN that refuses still has to leave everything as it was
        List<ScenarioRunner.StepReport> refused = run(
                "  - iommu_group_release_dma_owner: {group: nic0}",
                "    expect: warn");
        assertThat(refused.get(0).passed()).isTrue();
    }
}
