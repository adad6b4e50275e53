package org.jiommu.hw;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class EndpointRegistryTest {
    @Test
    void registerReplaceUnregisterAndCheckIds() {
        EndpointRegistry<String> r = new EndpointRegistry<>(id -> {
            if ((id & ~0xFFFF) != 0) {
                throw new IllegalArgumentException("not 16-bit");
            }
        });
        r.register(0x10, "a");
        r.register(0x10, "b");
        assertThat(r.get(0x10)).isEqualTo("b");
        assertThat(r.get(0x11)).isNull();
        assertThat(r.size()).isEqualTo(1);
        r.unregister(0x10);
        assertThat(r.get(0x10)).isNull();
        assertThatThrownBy(() -> r.register(0x10000, "c")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> r.register(1, null)).isInstanceOf(NullPointerException.class);
        assertThat(r.size()).isZero();
    }
}
