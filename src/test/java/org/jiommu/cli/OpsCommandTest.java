package org.jiommu.cli;

import static org.assertj.core.api.Assertions.assertThat;

import org.jiommu.scenario.OpCatalog;
import org.jiommu.scenario.OpSpec;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

class OpsCommandTest {
    @Test
    @DisplayName("jiommu ops lists every op with its arguments and meaning, marking those not implemented yet")
    void listsEveryOp() {
        Cli r = Cli.run("ops");
        assertThat(r.exit).isEqualTo(0);
        for (OpSpec o : OpCatalog.all()) {
            assertThat(r.out).contains(o.signature()).contains(o.meaning());
            if (!o.implemented()) {
                assertThat(r.out).contains(o.signature() + "    [not implemented yet]");
            }
        }
        assertThat(r.out).contains("iommu_map {domain, iova, paddr, size, prot}")
                .contains("dma {dev, pasid?, iova, read?, write?, data?} -> paddr or fault");
    }

    @Test
    @DisplayName("jiommu ops OP shows the argument types; an unknown op exits 2")
    void oneOp() {
        Cli r = Cli.run("ops", "iommu_map");
        assertThat(r.exit).isEqualTo(0);
        assertThat(r.out).contains("prot     list of read, write, noexec, mmio, cache");
        Cli bad = Cli.run("ops", "iommu_mapp");
        assertThat(bad.exit).isEqualTo(2);
        assertThat(bad.err).contains("unknown op 'iommu_mapp'");
    }
}
