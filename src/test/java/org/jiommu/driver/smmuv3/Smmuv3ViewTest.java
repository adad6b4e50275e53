package org.jiommu.driver.smmuv3;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.check.PlatformState;
import org.jiommu.core.CoreSnapshot;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.platform.HardwareView;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** The smmuv3 kind's hardware view (Smmuv3Units.view): what the driver programmed, for the snapshot's devices only. */
class Smmuv3ViewTest {
    @Test
    @DisplayName("whole snapshot: every master's RID and PASID domains and probed state, as the driver holds them;"
            + " the PASID map is a copy")
    void wholeView() {
        Smmuv3Bed b = new Smmuv3Bed(Smmuv3Bed.features());
        PciDevice acc = b.endpoint("acc", true, 20, false);
        PciDevice nic = b.endpoint("nic", false, 0, false);
        b.add(acc);
        b.add(nic);
        IommuDomain d = b.core.pagingDomainAlloc(acc);
        b.core.attachDevicePasid(d, acc, 5);
        HardwareView v = b.units.view(b.core.snapshot());
        for (PciDevice dev : List.of(acc, nic)) {
            assertThat(v.knows(dev)).isTrue();
            assertThat(v.driverHolds(dev)).isTrue();
            assertThat(v.rid(dev)).isSameAs(b.drv.ridDomain(dev)).isNotNull();
            assertThat(v.pasids(dev)).isEqualTo(b.drv.pasidDomains(dev));
        }
        assertThat(v.pasids(acc)).isEqualTo(Map.of(5, d));
        assertThat(v.pasids(nic)).isEmpty();
        assertThat(v.liveDriverDomains()).isEqualTo(-1);
        b.core.detachDevicePasid(d, acc, 5);
        assertThat(v.pasids(acc)).containsEntry(5, d); // read when the view was built
        assertThat(b.units.view(b.core.snapshot()).pasids(acc)).isEmpty();
    }

    @Test
    @DisplayName("scoped snapshot of one group: the view knows that group's device, with the whole view's answers,"
            + " and nothing of the other masters")
    void scopedView() {
        Smmuv3Bed b = new Smmuv3Bed(Smmuv3Bed.features());
        PciDevice acc = b.endpoint("acc", true, 20, false);
        PciDevice nic = b.endpoint("nic", false, 0, false);
        b.add(acc);
        b.add(nic);
        IommuDomain d = b.core.pagingDomainAlloc(acc);
        b.core.attachDevicePasid(d, acc, 7);
        CoreSnapshot whole = b.core.snapshot();
        PlatformState s = PlatformState.scoped(b.p, whole, List.of(b.core.groupGet(acc)), List.of(acc));
        HardwareView v = s.hw();
        HardwareView all = b.units.view(whole);
        assertThat(v.knows(acc)).isTrue();
        assertThat(v.knows(nic)).isFalse();
        assertThat(v.driverHolds(nic)).isNull();
        assertThat(v.rid(acc)).isSameAs(all.rid(acc));
        assertThat(v.pasids(acc)).isEqualTo(all.pasids(acc)).isEqualTo(Map.of(7, d));
        assertThat(v.driverHolds(acc)).isTrue();
    }
}
