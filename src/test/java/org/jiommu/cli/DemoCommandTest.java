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
        assertThat(r.out).contains("   # ").contains("PASSED").doesNotContain("FAILED");
    }

    @Test
    @DisplayName("jiommu demo --print shows the scenario it runs")
    void printsScenario() {
        Cli r = Cli.run("demo", "--print");
        assertThat(r.exit).isEqualTo(0);
        assertThat(r.out).startsWith("name: ").contains("steps:");
    }
}
