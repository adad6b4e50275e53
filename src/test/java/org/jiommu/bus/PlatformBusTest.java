package org.jiommu.bus;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;

import org.jiommu.base.Errno;
import org.jiommu.base.IommuException;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

class PlatformBusTest {
    @Test
    @DisplayName("devices sharing a stream ID behind the same SMMU are reported; other SMMUs and disjoint IDs are not")
    void sharingStreamIds() {
        PlatformBus bus = new PlatformBus();
        PlatformDevice a = bus.add(new PlatformDevice("a", List.of(0x10, 0x11), 0), "smmu0");
        PlatformDevice b = bus.add(new PlatformDevice("b", List.of(0x11), 0), "smmu0");
        PlatformDevice c = bus.add(new PlatformDevice("c", List.of(0x11), 0), "smmu1");
        PlatformDevice d = bus.add(new PlatformDevice("d", List.of(0x20), 4), "smmu0");
        PlatformDevice e = bus.add(new PlatformDevice("e", List.of(0x10), 0), "smmu0");
        assertThat(bus.sharingStreamIds(a)).containsExactly(b, e);
        assertThat(bus.sharingStreamIds(b)).containsExactly(a); // not transitive: e shares only with a
        assertThat(bus.sharingStreamIds(c)).isEmpty();
        assertThat(bus.sharingStreamIds(d)).isEmpty();
        assertThat(bus.iommuOf(c)).isEqualTo("smmu1");
        assertThat(bus.devices()).containsExactly(a, b, c, d, e);
        assertThat(d.maxPasids()).isEqualTo(16);
        assertThat(d.untrusted()).isFalse();
    }

    @Test
    @DisplayName("duplicate names EEXIST, a device without IOMMU EINVAL, a foreign device EINVAL")
    void errors() {
        PlatformBus bus = new PlatformBus();
        bus.add(new PlatformDevice("a", List.of(1), 0), "smmu0");
        assertThatThrownBy(() -> bus.add(new PlatformDevice("a", List.of(2), 0), "smmu0"))
                .isInstanceOfSatisfying(IommuException.class, x -> assertThat(x.errno()).isEqualTo(Errno.EEXIST));
        assertThatThrownBy(() -> bus.add(new PlatformDevice("b", List.of(2), 0), ""))
                .isInstanceOfSatisfying(IommuException.class, x -> assertThat(x.errno()).isEqualTo(Errno.EINVAL));
        assertThatThrownBy(() -> bus.sharingStreamIds(new PlatformDevice("z", List.of(1), 0)))
                .isInstanceOfSatisfying(IommuException.class, x -> assertThat(x.errno()).isEqualTo(Errno.EINVAL));
        assertThat(bus.devices()).hasSize(1);
    }
}
