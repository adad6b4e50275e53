package org.jiommu.check;

import static org.assertj.core.api.Assertions.assertThat;

import org.jiommu.bus.pci.PciDevice;
import org.jiommu.core.SvaHandle;
import org.jiommu.mm.MmStruct;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

class CallScopeTest {
    @Test
    @DisplayName("an SVA handle or a page request group argument names its device (the scope of iommu_sva_unbind_device and iopf_group_response)")
    void handleArgumentsNameTheirDevice() {
        TestPlatform p = new TestPlatform();
        PciDevice a = p.pci("a");
        SvaHandle h = p.core.svaBindDevice(a, new MmStruct("proc", p.frames));
        assertThat(CallScope.handleDevice(h.toString())).isEqualTo("a");
        assertThat(CallScope.handleDevice("iopf_group#7(nic0, 2 faults, grp 3)")).isEqualTo("nic0");
        assertThat(CallScope.handleDevice("group3")).isNull();
        assertThat(CallScope.handleDevice("domain(a, b)")).isNull();
        assertThat(CallScope.handleDevice("sva(a)")).isNull();
    }
}
