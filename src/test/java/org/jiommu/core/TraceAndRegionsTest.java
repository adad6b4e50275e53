package org.jiommu.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.jiommu.core.Fixture.fails;

import java.util.ArrayList;
import java.util.List;
import org.jiommu.base.Errno;
import org.jiommu.base.Prot;
import org.jiommu.bus.PlatformDevice;
import org.jiommu.core.spi.ResvRegion;
import org.jiommu.core.spi.ResvType;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** The trace hook, reserved-region union (SEMANTICS.md 2.8), group ids and argument checks. */
class TraceAndRegionsTest {
    @Test
    @DisplayName("trace listener sees API calls, driver calls, errors and warnings in order")
    void trace() {
        Fixture f = new Fixture();
        List<TraceEvent> events = new ArrayList<>();
        TraceListener l = events::add;
        f.core.addTraceListener(l);
        PlatformDevice a = f.add("a");
        fails(Errno.EINVAL, () -> f.core.attachDevice(null, a));
        f.core.deviceUnuseDefaultDomain(a); // WARN
        f.core.removeTraceListener(l);
        int n = events.size();
        f.core.deviceUseDefaultDomain(a);
        assertThat(events).hasSize(n);
        List<String> kinds = events.stream().map(e -> e.kind() + " " + e.function()).toList();
        assertThat(kinds).containsSubsequence("CALL device_add", "DRIVER probe_device", "DRIVER device_group",
                "DRIVER attach_dev", "RETURN device_add", "CALL iommu_attach_device", "ERROR iommu_attach_device",
                "CALL iommu_device_unuse_default_domain", "WARN iommu_device_unuse_default_domain");
        for (int i = 1; i < events.size(); i++) {
            assertThat(events.get(i).seq()).isGreaterThan(events.get(i - 1).seq());
        }
        assertThat(f.core.warnings()).hasSize(1);
        assertThat(f.core.warnings().get(0).toString()).startsWith("WARN iommu_device_unuse_default_domain");
    }

    @Test
    @DisplayName("group reserved regions: sorted by (start, type), same-type overlaps and neighbours merged, other types kept apart")
    void groupResvRegions() {
        Fixture f = new Fixture();
        PlatformDevice a = f.plat("a");
        PlatformDevice b = f.plat("b");
        f.m.groupWith(b, a);
        f.m.setResvRegions(a, List.of(new ResvRegion(0x8000_0000L, 0x1000, Prot.RW, ResvType.RESERVED),
                new ResvRegion(0x1000, 0x1000, Prot.RW, ResvType.MSI)));
        f.m.setResvRegions(b, List.of(new ResvRegion(0x8000_1000L, 0x1000, Prot.RW, ResvType.RESERVED),
                new ResvRegion(0x8000_0800L, 0x100, Prot.RW, ResvType.DIRECT_RELAXABLE),
                new ResvRegion(0x1000, 0x800, Prot.RW, ResvType.SW_MSI)));
        f.boot(a, b);
        assertThat(f.core.groupShowResvRegions(f.group(a))).isEqualTo(
                "0x0000000000001000 0x0000000000001fff msi\n"
                + "0x0000000000001000 0x00000000000017ff msi\n"
                + "0x0000000080000000 0x0000000080001fff reserved\n"
                + "0x0000000080000800 0x00000000800008ff direct-relaxable\n");
        assertThat(f.core.getResvRegions(b)).hasSize(3);
    }

    @Test
    @DisplayName("group ids are the lowest free number and are reused after release")
    void groupIds() {
        Fixture f = new Fixture();
        PlatformDevice a = f.add("a");
        PlatformDevice b = f.add("b");
        PlatformDevice c = f.add("c");
        assertThat(List.of(f.core.groupId(a), f.core.groupId(b), f.core.groupId(c))).containsExactly(0, 1, 2);
        f.core.deviceDel(b);
        PlatformDevice d = f.add("d");
        assertThat(f.core.groupId(d)).isEqualTo(1);
        fails(Errno.ENODEV, () -> f.core.groupId(b));
        IommuGroup gone = f.group(c);
        f.core.deviceDel(c);
        fails(Errno.ENODEV, () -> f.core.groupClaimDmaOwner(gone, "x"));
        fails(Errno.EEXIST, () -> f.core.deviceAdd(a));
        fails(Errno.ENODEV, () -> f.core.deviceDel(c));
    }

    @Test
    @DisplayName("a group of another core instance is refused")
    void foreignGroup() {
        Fixture f = new Fixture();
        Fixture g = new Fixture();
        PlatformDevice a = f.add("a");
        g.add("x");
        fails(Errno.EINVAL, () -> g.core.groupClaimDmaOwner(f.group(a), "x"));
    }
}
