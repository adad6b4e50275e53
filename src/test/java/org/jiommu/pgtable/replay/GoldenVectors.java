package org.jiommu.pgtable.replay;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Named;

/**
 * The golden-vector check both replay tests make: a {@code .ops} program replays to its
 * {@code .golden} line for line (the producer's first line aside) and raises as many WARNs as
 * the kernel did ({@code .warn}).
 */
public final class GoldenVectors {
    private static final Pattern WARN_COUNT = Pattern.compile("kshim: warnings=(\\d+)");

    private GoldenVectors() {
    }

    /** Every {@code .ops} file of {@code dir}, sorted; fails when there are none. */
    public static Stream<Named<Path>> opsFiles(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            fail("golden vectors missing: " + dir.toAbsolutePath() + " (expected ../shared from the project root)");
        }
        List<Path> files;
        try (Stream<Path> s = Files.list(dir)) {
            files = s.filter(p -> p.getFileName().toString().endsWith(".ops")).sorted().toList();
        }
        if (files.isEmpty()) {
            fail("no .ops files in " + dir.toAbsolutePath());
        }
        return files.stream().map(p -> Named.of(p.getFileName().toString(), p));
    }

    /** Replays {@code ops} and compares with its {@code .golden} and {@code .warn}; returns the replay. */
    public static LpaeReplay.Result assertReplaysToGolden(Path ops) throws Exception {
        Path golden = sibling(ops, ".golden");
        assertThat(golden).as("golden for %s", ops).exists();
        List<String> expected = Files.readAllLines(golden, StandardCharsets.UTF_8);
        expected = expected.subList(1, expected.size()); // the producer's comment line

        LpaeReplay.Result result = LpaeReplay.replay(ops);
        List<String> actual = result.linesAfterHeader();

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
        return result;
    }

    private static Path sibling(Path ops, String ext) {
        String name = ops.getFileName().toString();
        return ops.resolveSibling(name.substring(0, name.length() - ".ops".length()) + ext);
    }
}
