package org.jiommu.driver.common;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.jiommu.base.Errno;
import org.jiommu.bus.Device;
import org.jiommu.bus.pci.Acs;
import org.jiommu.bus.pci.PciBus;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.bus.pci.PciTopology;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.core.spi.DomainOps;
import org.jiommu.core.spi.DomainType;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** The small shared pieces: plants, master info, device-TLB tags, IOPF references, command batches. */
class DriverCommonTest {
    static final class Master extends MasterInfo<String> {
        Master(Device dev, String unit, boolean ats, boolean pri) {
            super(dev, unit, ats, true, pri);
        }
    }

    final PciBus bus = new PciTopology().rootBus(0, 0);
    final PciDevice nic = bus.rootPort("rp0", 0x1c, 0, 1, Acs.ISOLATED).endpoint("nic", 0, 0, true, 20, true, Acs.NONE);
    final PciDevice ssd = bus.rootPort("rp1", 0x1d, 0, 2, Acs.ISOLATED).endpoint("ssd", 0, 0, true, 20, true, Acs.NONE);
    final PciDevice disk = bus.rootPort("rp2", 0x1e, 0, 3, Acs.ISOLATED).endpoint("disk", 0, 0, false, 0, false, Acs.NONE);
    final List<String> warnings = new ArrayList<>();

    @Test
    @DisplayName("DriverFaults: each plant counts down once per omission, independently; nothing planted means behave")
    void faults() {
        DriverFaults f = new DriverFaults();
        assertThat(f.take(DriverFaults.Skip.IOTLB)).isFalse();
        f.skip(DriverFaults.Skip.IOTLB, 2).skip(DriverFaults.Skip.DEVICE_TLB, 1);
        assertThat(f.take(DriverFaults.Skip.TEARDOWN_DEVICE_TLB)).isFalse();
        assertThat(f.take(DriverFaults.Skip.IOTLB)).isTrue();
        assertThat(f.pending(DriverFaults.Skip.IOTLB)).isEqualTo(1);
        assertThat(f.take(DriverFaults.Skip.IOTLB)).isTrue();
        assertThat(f.take(DriverFaults.Skip.IOTLB)).isFalse();
        assertThat(f.take(DriverFaults.Skip.DEVICE_TLB)).isTrue();
        assertThat(f.leakIopfRefcount()).isFalse();
        assertThat(f.leakIopfRefcount(true).leakIopfRefcount()).isTrue();
    }

    @Test
    @DisplayName("MasterInfo: ATS enabled only where supported, on the PCI function, and off again")
    void ats() {
        Master m = new Master(nic, "u0", true, true);
        m.enableAts((where, msg) -> warnings.add(msg));
        assertThat(m.atsEnabled()).isTrue();
        assertThat(nic.atsEnabled()).isTrue();
        m.disableAts();
        assertThat(m.atsEnabled()).isFalse();
        assertThat(nic.atsEnabled()).isFalse();
        Master noAts = new Master(disk, "u0", false, false);
        noAts.enableAts((where, msg) -> warnings.add(msg));
        assertThat(noAts.atsEnabled()).isFalse();
        assertThat(warnings).isEmpty();
    }

    @Test
    @DisplayName("DevTlbTags: only ATS-enabled masters, fan-out per unit and PASID in attach order, DEVICE_TLB plant skips one")
    void devTlbTags() {
        Master a = new Master(nic, "u0", true, true);
        Master b = new Master(ssd, "u1", true, true);
        Master c = new Master(disk, "u0", false, false);
        a.enableAts((where, msg) -> warnings.add(msg));
        b.enableAts((where, msg) -> warnings.add(msg));
        DevTlbTags<Master> tags = new DevTlbTags<>();
        tags.assign(a, 0);
        tags.assign(b, 0);
        tags.assign(c, 0);
        tags.assign(a, 5);
        List<String> out = new ArrayList<>();
        tags.forEachOn("u0", null, t -> out.add(t.master() + "/" + t.pasid()));
        assertThat(out).containsExactly("nic/0", "nic/5");
        DriverFaults f = new DriverFaults().skip(DriverFaults.Skip.DEVICE_TLB, 1);
        out.clear();
        tags.forEachOn("u0", f, t -> out.add(t.master() + "/" + t.pasid()));
        assertThat(out).containsExactly("nic/5");
        tags.unassign(a, 0);
        out.clear();
        tags.forEachOn("u0", null, t -> out.add(t.master() + "/" + t.pasid()));
        assertThat(out).containsExactly("nic/5");
    }

    @Test
    @DisplayName("IopfRefs: PRI needed, first attach enables, last put disables, the leak plant keeps the count, S19 warns")
    void iopf() {
        List<String> calls = new ArrayList<>();
        Master noPri = new Master(disk, "u0", false, false);
        assertThat(IopfRefs.prepare(noPri, true, m -> 0)).isEqualTo(Errno.ENODEV.neg());
        assertThat(IopfRefs.prepare(noPri, false, m -> 0)).isZero();

        Master m = new Master(nic, "u0", true, true);
        assertThat(IopfRefs.prepare(m, true, x -> Errno.ENOMEM.neg())).isEqualTo(Errno.ENOMEM.neg());
        int st = IopfRefs.prepare(m, true, x -> {
            calls.add("enable");
            return 0;
        });
        assertThat(st).isEqualTo(1);
        IopfRefs.get(m, true);
        assertThat(IopfRefs.prepare(m, true, x -> {
            calls.add("enable again");
            return 0;
        })).isZero();
        IopfRefs.get(m, true);
        DriverFaults f = new DriverFaults();
        IopfRefs.put(m, true, f, x -> calls.add("disable"));
        assertThat(m.iopfRefcount()).isEqualTo(1);
        IopfRefs.put(m, true, f, x -> calls.add("disable"));
        assertThat(m.iopfRefcount()).isZero();
        assertThat(calls).containsExactly("enable", "disable");

        IopfRefs.get(m, true);
        IopfRefs.put(m, true, f.leakIopfRefcount(true), x -> calls.add("disable"));
        assertThat(m.iopfRefcount()).isEqualTo(1);
        IommuDomain blocked = IommuDomain.staticDomain("blocked", DomainType.BLOCKED, DomainOps.builder().build());
        m.setRidDomain(blocked);
        List<String> warned = new ArrayList<>();
        IopfRefs.checkIdle(m, (where, msg) -> warned.add(where + ": " + msg), "attach_dev");
        assertThat(warned).containsExactly("attach_dev: nic on blocked with no PASIDs still has iopf_refcount 1");
        IopfRefs.undoEnable(m, 0, x -> calls.add("undo"));
        IopfRefs.undoEnable(m, 1, x -> calls.add("undo"));
        assertThat(calls).endsWith("undo").filteredOn("undo"::equals).hasSize(1);
    }

    @Test
    @DisplayName("CommandBatch: submit posts with the sync even when empty, submitIfAny only with commands")
    void batch() {
        List<List<String>> posted = new ArrayList<>();
        CommandBatch<String> b = new CommandBatch<>(cmds -> posted.add(cmds) || true);
        assertThat(b.submitIfAny()).isTrue();
        assertThat(posted).isEmpty();
        b.add("iotlb").add("devtlb");
        assertThat(b.size()).isEqualTo(2);
        b.submit();
        b.submit();
        assertThat(posted).containsExactly(List.of("iotlb", "devtlb"), List.of());
    }
}
