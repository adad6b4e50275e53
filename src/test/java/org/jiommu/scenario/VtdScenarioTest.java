package org.jiommu.scenario;

import static org.assertj.core.api.Assertions.assertThat;
import static org.jiommu.scenario.PasidOpsTest.assertAllPassed;
import static org.jiommu.scenario.PasidOpsTest.run;

import java.util.List;
import org.jiommu.driver.vtd.VtdIommu;
import org.jiommu.driver.vtd.VtdUnits;
import org.jiommu.hw.vtd.RootEntry;
import org.jiommu.hw.vtd.VtdRegisters;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** The {@code vtd} IOMMU kind: options, DMA through the unit, hw_dump, stats, mixed platforms, check. */
class VtdScenarioTest {
    private static String platform(String unitOptions) {
        return String.join("\n",
                "platform:",
                "  memory: 64MiB",
                "  iommus:",
                "    - {name: dmar0, kind: vtd" + unitOptions + "}",
                "  devices:",
                "    - {name: nic, bus: pci, bdf: \"00:02.0\", iommu: dmar0, caps: [ats, pasid, pri], driver: dma-api}",
                "    - {name: vf, bus: pci, bdf: \"00:03.0\", iommu: dmar0}",
                "");
    }

    private static final String[] PASSTHROUGH = {
        "  - iommu_group_claim_dma_owner: {group: vf, owner: vfio}",
        "  - iommu_paging_domain_alloc: {dev: vf}",
        "    as: guest",
        "  - iommu_attach_group: {domain: guest, group: vf}",
        "  - iommu_map: {domain: guest, iova: 0x10000, paddr: 0x800000, size: 8KiB, prot: [read, write]}",
        "  - dma: {dev: vf, iova: 0x11000, write: 4, data: \"a1b2c3d4\"}",
        "    expect: {paddr: 0x801000}",
        "  - mem_read: {paddr: 0x801000, size: 4}",
        "    expect: {value: \"a1b2c3d4\"}",
        "  - dma: {dev: vf, iova: 0x10000, read: 4}",
        "    expect: {paddr: 0x800000}",
        "  - iommu_unmap: {domain: guest, iova: 0x10000, size: 8KiB}",
        "    expect: {value: 8KiB}",
        "  - dma: {dev: vf, iova: 0x10000, read: 4}",
        "    expect: {fault: permission}",
        "  - iommu_detach_group: {domain: guest, group: vf}",
        "  - dma: {dev: vf, iova: 0x10000, read: 4}",
        "    expect: {fault: blocked}",
        "  - iommu_group_release_dma_owner: {group: vf}",
        "  - check: invariants",
    };

    @Test
    @DisplayName("VT-d scalable mode: passthrough DMA lands where mapped, an unmapped page after the strict unmap "
            + "faults (no stale IOTLB entry), a blocked RID faults 0x59, invariants and I7 hold")
    void scalablePassthrough() throws Exception {
        // a first-stage domain (the kernel's default with ECAP.FLTS): the unmapped page faults 0x71
        // (not present) where a second-stage entry without R/W reads as a permission fault
        String[] steps = PASSTHROUGH.clone();
        steps[14] = "    expect: {fault: not-present}";
        assertAllPassed(run(platform(""), steps));
    }

    @Test
    @DisplayName("VT-d legacy mode (scalable: false) and 39-bit: the same life cycle; an IOVA beyond 39 bits "
            + "is out-of-range; a blocked RID faults 0x2 (context entry not present)")
    void legacy39() throws Exception {
        List<ScenarioRunner.StepReport> r = run(platform(", scalable: false, address-width: 39"), PASSTHROUGH);
        assertAllPassed(r);
        Outcome.Faulted blocked = (Outcome.Faulted) r.get(10).outcome();
        assertThat(blocked.detail()).contains("0x2 (context entry not present)");
        assertAllPassed(run(platform(", scalable: false, address-width: 39"),
                "  - iommu_group_claim_dma_owner: {group: vf, owner: vfio}",
                "  - iommu_paging_domain_alloc: {dev: vf}",
                "    as: guest",
                "  - iommu_attach_group: {domain: guest, group: vf}",
                "  - dma: {dev: vf, iova: 0x8000000000, read: 4}",
                "    expect: {fault: out-of-range}",
                "  - iommu_map: {domain: guest, iova: 0x8000000000, paddr: 0x800000, size: 4KiB, prot: [read]}",
                "    expect: -ERANGE"));
    }

    @Test
    @DisplayName("hw_dump prints the scalable context entry, the RID_PASID entry and the mapped run as read "
            + "from memory; legacy shows TT multi-level; stats counts the IOTLB hit and the invalidations")
    void dumpAndStats() throws Exception {
        String[] steps = {
            "  - iommu_group_claim_dma_owner: {group: vf, owner: vfio}",
            "  - iommu_paging_domain_alloc: {dev: vf}",
            "    as: guest",
            "  - iommu_attach_group: {domain: guest, group: vf}",
            "  - iommu_map: {domain: guest, iova: 0x10000, paddr: 0x800000, size: 8KiB, prot: [read, write]}",
            "  - dma: {dev: vf, iova: 0x10000, read: 4}",
            "  - dma: {dev: vf, iova: 0x10004, read: 4}",
            "  - hw_dump: {iommu: dmar0}",
            "  - stats: {iommu: dmar0}",
        };
        List<ScenarioRunner.StepReport> r = run(platform(""), steps);
        assertAllPassed(r);
        String dump = ((Outcome.Report) r.get(6).outcome()).text();
        assertThat(dump).contains("scalable mode").contains("00:03.0 vf").contains("pasid 0 (RID_PASID)")
                .contains("first-level, DID").contains("0x10000+8KiB -> 0x800000 (2 x 4KiB, RW)");
        String stats = ((Outcome.Report) r.get(7).outcome()).text();
        assertThat(stats).contains("IOTLB 1 hits / 1 misses").contains("wait ");

        List<ScenarioRunner.StepReport> legacy = run(platform(", scalable: false"), steps);
        assertAllPassed(legacy);
        assertThat(((Outcome.Report) legacy.get(6).outcome()).text()).contains("legacy mode")
                .contains("TT multi-level").contains("0x10000+8KiB -> 0x800000");
    }

    @Test
    @DisplayName("a mock and a VT-d unit on one platform: each device DMAs through its own IOMMU's tables")
    void mixed() throws Exception {
        String p = String.join("\n",
                "platform:",
                "  memory: 64MiB",
                "  iommus:",
                "    - {name: dmar0, kind: vtd}",
                "    - {name: m0, kind: mock}",
                "  devices:",
                "    - {name: nic, bus: pci, bdf: \"00:02.0\", iommu: dmar0}",
                "    - {name: acc, bus: pci, bdf: \"01:00.0\", iommu: m0}",
                "");
        assertAllPassed(run(p,
                "  - iommu_paging_domain_alloc: {dev: nic}",
                "    as: a",
                "  - iommu_paging_domain_alloc: {dev: acc}",
                "    as: b",
                "  - iommu_attach_device: {domain: b, dev: nic}",
                "    expect: -EINVAL",
                "  - iommu_attach_device: {domain: a, dev: nic}",
                "  - iommu_attach_device: {domain: b, dev: acc}",
                "  - iommu_map: {domain: a, iova: 0x1000, paddr: 0x100000, size: 4KiB, prot: [read, write]}",
                "  - iommu_map: {domain: b, iova: 0x1000, paddr: 0x200000, size: 4KiB, prot: [read, write]}",
                "  - dma: {dev: nic, iova: 0x1000, read: 4}",
                "    expect: {paddr: 0x100000}",
                "  - dma: {dev: acc, iova: 0x1000, read: 4}",
                "    expect: {paddr: 0x200000}",
                "  - check: invariants"));
    }

    @Test
    @DisplayName("VT-d hot-plug: device_add probes through the unit, device_del parks the function blocked")
    void hotplug() throws Exception {
        assertAllPassed(run(platform(""),
                "  - device_add: {name: hot, bus: pci, bdf: \"00:04.0\", iommu: dmar0, driver: dma-api}",
                "  - iommu_get_domain_for_dev: {dev: hot}",
                "    expect: {value: default}",
                "  - device_del: {dev: hot}",
                "  - dma: {dev: hot, iova: 0x1000, read: 4}",
                "    expect: {fault: blocked}",
                "  - check: invariants"));
    }

    @Test
    @DisplayName("VT-d PASID attach: a second-level PASID entry, DMA with the PASID lands, a PASID never "
            + "attached faults bad-pasid")
    void pasidOnVtd() throws Exception {
        assertAllPassed(run(platform(""),
                "  - iommu_paging_domain_alloc: {dev: nic}",
                "    as: d",
                "  - iommu_map: {domain: d, iova: 0x2000, paddr: 0x900000, size: 4KiB, prot: [read, write]}",
                "  - iommu_attach_device_pasid: {domain: d, dev: nic, pasid: 7}",
                "  - dma: {dev: nic, pasid: 7, iova: 0x2000, write: 4}",
                "    expect: {paddr: 0x900000}",
                "  - dma: {dev: nic, pasid: 8, iova: 0x2000, read: 4}",
                "    expect: {fault: bad-pasid}",
                "  - check: invariants",
                "  - iommu_detach_device_pasid: {domain: d, dev: nic, pasid: 7}",
                "  - dma: {dev: nic, pasid: 7, iova: 0x2000, read: 4}",
                "    expect: {fault: bad-pasid}"));
    }

    @Test
    @DisplayName("check: invariants reports I7 when a context entry in memory is cleared behind the driver's back")
    void checkFindsCorruptedHardware() throws Exception {
        Scenario s = ScenarioReader.read("t.yaml", "name: t\n" + platform("") + "steps: []\n");
        Machine m = Machine.build(s.platform());
        assertThat(CheckOps.violations(m)).isEmpty();
        VtdIommu u = ((VtdUnits) m.platform.unitsNamed("dmar0")).unit("dmar0");
        long rta = u.unit().read64(VtdRegisters.RTADDR_REG) & ~0xfffL;
        RootEntry bus0 = new RootEntry(m.memory.readLong(rta), m.memory.readLong(rta + 8));
        long vfEntry = bus0.contextTablePointer() + (0x03 << 3) * 32L; // scalable: 32-byte entries, devfn 03.0
        m.memory.writeLong(vfEntry, m.memory.readLong(vfEntry) & ~1L);
        assertThat(CheckOps.violations(m)).isNotEmpty().allMatch(v -> v.startsWith("I7: "))
                .anyMatch(v -> v.contains("vf"));
    }

    @Test
    @DisplayName("check: invariants on a mock platform reports I10 when page-table frames leak with no domain live")
    void checkFindsLeakedFrames() throws Exception {
        String p = String.join("\n",
                "platform:",
                "  iommus:",
                "    - {name: m0, kind: mock, default-domain: identity}",
                "  devices:",
                "    - {name: nic, bus: pci, bdf: \"00:02.0\", iommu: m0}",
                "");
        Scenario s = ScenarioReader.read("t.yaml", "name: t\n" + p + "steps: []\n");
        Machine m = Machine.build(s.platform());
        assertThat(CheckOps.violations(m)).isEmpty();
        m.frames.alloc(0);
        assertThat(CheckOps.violations(m)).anyMatch(v -> v.startsWith("I10"));
    }
}
