package org.jiommu.pgtable.x86;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.stream.Stream;
import org.jiommu.pgtable.replay.GoldenVectors;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Bit-exactness of the VT-d second-stage and x86-64 formats: every {@code .ops} program in
 * ../shared/vectors/vtd-x86 replays (map_range / unmap_range, as the 7.1 core drives a generic_pt
 * domain) to its {@code .golden}, what the kernel's drivers/iommu/generic_pt printed, line for
 * line, and raises as many WARNs as the kernel did ({@code .warn}).
 */
@DisplayName("VT-d / x86-64 golden vectors (kernel generic_pt vtdss and x86_64 dumps)")
class GenericPtGoldenReplayTest {
    static final Path VECTORS = Paths.get("..", "shared", "vectors", "vtd-x86");

    static Stream<Named<Path>> opsFiles() throws IOException {
        return GoldenVectors.opsFiles(VECTORS);
    }

    @ParameterizedTest(name = "{0} replays to its .golden")
    @MethodSource("opsFiles")
    void replayMatchesGolden(Path ops) throws Exception {
        assertThat(GoldenVectors.assertReplaysToGolden(ops).output()).as("replayed by the generic_pt formats")
                .contains("org.jiommu.pgtable.x86");
    }
}
