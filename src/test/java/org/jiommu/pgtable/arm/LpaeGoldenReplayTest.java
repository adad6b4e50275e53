package org.jiommu.pgtable.arm;

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
 * The proof of bit-exactness: every {@code .ops} program in ../shared/vectors/arm-lpae replays
 * to its {@code .golden} (what the kernel's io-pgtable-arm.c printed) line for line, and raises
 * as many WARNs as the kernel did ({@code .warn}).
 */
@DisplayName("ARM LPAE golden vectors (kernel io-pgtable-arm.c dumps)")
class LpaeGoldenReplayTest {
    static final Path VECTORS = Paths.get("..", "shared", "vectors", "arm-lpae");

    static Stream<Named<Path>> opsFiles() throws IOException {
        return GoldenVectors.opsFiles(VECTORS);
    }

    @ParameterizedTest(name = "{0} replays to its .golden")
    @MethodSource("opsFiles")
    void replayMatchesGolden(Path ops) throws Exception {
        GoldenVectors.assertReplaysToGolden(ops);
    }
}
