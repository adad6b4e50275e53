package org.jiommu.core;

import static org.assertj.core.api.Assertions.assertThat;

import org.jiommu.bus.PlatformDevice;
import org.jiommu.core.spi.DomainType;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

class ProbeTest {
    @Test
    @DisplayName("#1 probe basic: DMA_FQ default domain, one attach with old=null")
    void probeBasic() {
        Fixture f = new Fixture();
        PlatformDevice a = f.add("a");
        IommuGroup g = f.group(a);
        assertThat(g).isNotNull();
        assertThat(g.defaultDomain().type()).isEqualTo(DomainType.DMA_FQ);
        assertThat(g.domain()).isSameAs(g.defaultDomain());
        assertThat(f.m.calls("attach_dev")).containsExactly("attach_dev(" + g.defaultDomain() + ", a, old=null) = 0");
        assertThat(f.m.programmed(a)).isSameAs(g.defaultDomain());
    }
}
