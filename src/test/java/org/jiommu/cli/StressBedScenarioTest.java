package org.jiommu.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import org.jiommu.bus.Device;
import org.jiommu.core.IommuGroup;
import org.jiommu.platform.IommuKind;
import org.jiommu.platform.IommuKinds;
import org.jiommu.platform.StressBed;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A kind's stress bed written as a scenario platform ({@code IommuKind.stressBedScenario}, what a
 * reproducing scenario runs on) has the bed's devices under the same names, and devices the bed
 * groups together share a group there too.
 */
class StressBedScenarioTest {
    @TempDir
    Path dir;

    @Test
    @DisplayName("every kind's bed as a scenario platform: same device names, bed groups kept together (jiommu run)")
    void bedScenarioMatchesTheBed() throws IOException {
        int kinds = 0;
        for (String name : IommuKinds.names()) {
            IommuKind k = IommuKinds.require(name);
            StressBed.Shape shape = new StressBed.Shape(3, true);
            String platform = k.hasStressBed() ? k.stressBedScenario(shape) : null;
            if (platform == null) {
                continue;
            }
            kinds++;
            StressBed bed = k.stressBed(shape);
            List<Device> all = new ArrayList<>(bed.devices());
            bed.lanes().forEach(l -> all.add(l.dev()));
            Map<IommuGroup, String> first = new IdentityHashMap<>();
            StringBuilder y = new StringBuilder("name: the " + name + " stress bed\n").append(platform).append("steps:\n");
            for (Device d : all) {
                IommuGroup g = bed.platform().core().groupGet(d);
                String bound = first.get(g);
                y.append("  - iommu_group_id: {dev: ").append(d.name()).append("}\n");
                if (bound == null) {
                    first.put(g, "g_" + d.name());
                    y.append("    as: g_").append(d.name()).append('\n');
                } else {
                    y.append("    expect: {value: ").append(bound).append("}\n");
                }
            }
            Path f = dir.resolve(name + "-bed.yaml");
            Files.writeString(f, y.toString());
            Cli r = Cli.run("run", f.toString());
            assertThat(r.exit).as(name + ":\n" + y + r.out + r.err).isEqualTo(0);
            assertThat(first.size()).as("the bed has groups of two").isLessThan(all.size());
        }
        assertThat(kinds).as("at least VT-d gives its bed as a scenario").isPositive();
    }
}
