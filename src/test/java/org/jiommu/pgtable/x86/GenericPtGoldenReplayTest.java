package org.jiommu.pgtable.x86;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.jiommu.pgtable.replay.LpaeReplay;
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
    private static final Pattern WARN_COUNT = Pattern.compile("kshim: warnings=(\\d+)");

    static Stream<Named<Path>> opsFiles() throws IOException {
        if (!Files.isDirectory(VECTORS)) {
            fail("golden vectors missing: " + VECTORS.toAbsolutePath() + " (expected ../shared from the project root)");
        }
        List<Path> files;
        try (Stream<Path> s = Files.list(VECTORS)) {
            files = s.filter(p -> p.getFileName().toString().endsWith(".ops")).sorted().toList();
        }
        if (files.isEmpty()) {
            fail("no .ops files in " + VECTORS.toAbsolutePath());
        }
        return files.stream().map(p -> Named.of(p.getFileName().toString(), p));
    }

    @ParameterizedTest(name = "{0} replays to its .golden")
    @MethodSource("opsFiles")
    void replayMatchesGolden(Path ops) throws Exception {
        Path golden = sibling(ops, ".golden");
        assertThat(golden).as("golden for %s", ops).exists();
        List<String> expected = Files.readAllLines(golden, StandardCharsets.UTF_8);
        expected = expected.subList(1, expected.size()); // the producer's comment line

        LpaeReplay.Result result = LpaeReplay.replay(ops);
        List<String> actual = result.linesAfterHeader();
        assertThat(result.output()).as("replayed by the generic_pt formats").contains("org.jiommu.pgtable.x86");

        for (int i = 0; i < Math.min(expected.size(), actual.size()); i++) {
            if (!expected.get(i).equals(actual.get(i))) {
                fail(String.format("%s line %d:%n  expected: %s%n  actual:   %s", golden.getFileName(), i + 2,
                        expected.get(i), actual.get(i)));
            }
        }
        assertThat(actual).as("line count of %s", ops.getFileName()).hasSameSizeAs(expected);

        Path warn = sibling(ops, ".warn");
        if (Files.exists(warn)) {
            Matcher m = WARN_COUNT.matcher(Files.readString(warn));
            assertThat(m.find()).as("warning count in %s", warn).isTrue();
            assertThat(result.warnings()).as("kernel WARNs raised replaying %s", ops.getFileName())
                    .isEqualTo(Integer.parseInt(m.group(1)));
        }
    }

    private static Path sibling(Path ops, String ext) {
        String name = ops.getFileName().toString();
        return ops.resolveSibling(name.substring(0, name.length() - ".ops".length()) + ext);
    }
}
