package org.jiommu.core;

import static org.assertj.core.api.Assertions.assertThat;

import org.jiommu.bus.PlatformDevice;
import org.jiommu.driver.mock.MockDomain;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** Seed point S19: the driver's IOPF refcount is zero on a blocked or identity domain without PASIDs. */
class IopfRefcountTest {
    @Test
    @DisplayName("S19 attaching an IOPF-capable domain takes a reference, leaving it drops it: zero on blocked")
    void balanced() {
        Fixture f = new Fixture();
        PlatformDevice a = f.add("a");
        MockDomain d = (MockDomain) f.core.pagingDomainAlloc(a);
        d.setIopfCapable(true);
        f.core.attachDevice(d, a);
        assertThat(f.m.iopfRefcount(a)).isEqualTo(1);
        f.core.detachDevice(d, a);
        assertThat(f.m.iopfRefcount(a)).isZero();
        int w = f.core.warningCount();
        f.core.groupClaimDmaOwner(f.group(a), "vfio");
        f.core.deviceDel(a);
        assertThat(f.warningsSince(w)).noneMatch(s -> s.contains("iopf_refcount"));
    }

    @Test
    @DisplayName("S19 a driver that leaks its IOPF reference is reported as a violation, and the model carries on")
    void leakReported() {
        Fixture f = new Fixture();
        PlatformDevice a = f.add("a");
        f.m.leakIopfRefcount(true);
        MockDomain d = (MockDomain) f.core.pagingDomainAlloc(a);
        d.setIopfCapable(true);
        f.core.attachDevice(d, a);
        f.core.detachDevice(d, a);
        assertThat(f.m.iopfRefcount(a)).isEqualTo(1);
        int w = f.core.warningCount();
        f.core.groupClaimDmaOwner(f.group(a), "vfio");
        assertThat(f.warningsSince(w)).hasSize(1).allMatch(s -> s.contains("iopf_refcount 1"));
        assertThat(f.group(a).domain()).isSameAs(f.m.blockedDomain());
        assertThat(f.m.snapshot().iopfRefcount()).containsEntry(a, 1);
    }
}
