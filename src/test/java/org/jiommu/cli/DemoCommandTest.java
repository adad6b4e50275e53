package org.jiommu.cli;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

class DemoCommandTest {
    @Test
    @DisplayName("jiommu demo runs the embedded scenario green, with narrative notes and a summary")
    void demoRunsGreen() {
        Cli r = Cli.run("demo");
        assertThat(r.exit).as(r.out + r.err).isEqualTo(0);
        assertThat(r.out).contains("   # 1. The DMA API.").contains("   # 2. VFIO passthrough.")
                .contains("   # 3. Firmware direct mappings.").contains("   # 4. Removal.")
                .contains("   # 5. PASIDs for mediated devices.").contains("   # 6. Intel VT-d.")
                .contains("   # 7. The DMA API.").contains("-> paddr 0x4a001000  ok")
                .contains("-> paddr 0x50000000  ok").contains("-> paddr 0x60000000  ok")
                .contains("pasid 0 (RID_PASID)  first-level").contains("-> fault not-present  ok")
                .contains("-> paddr 0x40001234  ok").contains("-> fault blocked  ok")
                .contains("BYPASS").contains("PASSED").doesNotContain("FAILED");
    }

    @Test
    @DisplayName("jiommu demo --json prints one JSON object per step, all ok")
    void json() {
        Cli r = Cli.run("demo", "--json");
        assertThat(r.exit).isEqualTo(0);
        assertThat(r.out.lines()).allMatch(l -> l.startsWith("{") && l.endsWith("}"));
        assertThat(r.out.lines().filter(l -> l.contains("\"step\":"))).allMatch(l -> l.contains("\"status\":\"ok\""));
        assertThat(r.out).contains("\"status\":\"PASSED\"");
    }

    @Test
    @DisplayName("jiommu demo --print shows the scenario it runs")
    void printsScenario() {
        Cli r = Cli.run("demo", "--print");
        assertThat(r.exit).isEqualTo(0);
        assertThat(r.out).startsWith("name: ").contains("steps:");
    }
}
