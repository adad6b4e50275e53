package org.jiommu.platform;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * Issue 10's source proofs, scanned rather than trusted: the floors above the kinds name no kind
 * outside comments, and no class outside {@code driver.vtd} / {@code hw.vtd} uses a VT-d class.
 */
class KindSeamScanTest {
    private static final Path MAIN = Path.of("src/main/java/org/jiommu");
    private static final Pattern KIND_WORD = Pattern.compile("Vtd|vtd|smmu|Smmu");
    private static final Pattern VTD_CLASS = Pattern.compile("org\\.jiommu\\.(driver|hw)\\.vtd\\b");
    /**
     * Code lines of the CLI that carry "vtd" and are no IOMMU kind: a page-table format's name
     * ({@code pgtable --cfg vtdss}) and a benchmark case's ({@code bench vtd-sl}).
     */
    private static final List<String> NOT_KINDS = List.of("cfg vtdss|x86_64", "(vtd-sl, arm-lpae-s1/map)");

    /** The file's lines with comments blanked ({@code //} to the end of the line, {@code /* ... *}{@code /}). */
    static List<String> code(Path f) throws IOException {
        List<String> out = new ArrayList<>();
        boolean inBlock = false;
        for (String line : Files.readAllLines(f)) {
            StringBuilder sb = new StringBuilder();
            boolean inString = false;
            for (int i = 0; i < line.length(); i++) {
                char c = line.charAt(i);
                if (inBlock) {
                    if (line.startsWith("*/", i)) {
                        inBlock = false;
                        i++;
                    }
                } else if (inString) {
                    sb.append(c);
                    if (c == '\\' && i + 1 < line.length()) {
                        sb.append(line.charAt(++i));
                    } else if (c == '"') {
                        inString = false;
                    }
                } else if (line.startsWith("//", i)) {
                    break;
                } else if (line.startsWith("/*", i)) {
                    inBlock = true;
                    i++;
                } else {
                    inString = c == '"';
                    sb.append(c);
                }
            }
            out.add(sb.toString());
        }
        return out;
    }

    private static List<String> hits(Path root, Pattern p, java.util.function.Predicate<Path> skip) throws IOException {
        List<String> hits = new ArrayList<>();
        try (Stream<Path> files = Files.walk(root)) {
            for (Path f : files.filter(x -> x.toString().endsWith(".java") && !skip.test(x)).sorted().toList()) {
                List<String> lines = code(f);
                for (int i = 0; i < lines.size(); i++) {
                    String l = lines.get(i);
                    if (p.matcher(l).find() && NOT_KINDS.stream().noneMatch(l::contains)) {
                        hits.add(f + ":" + (i + 1) + ": " + l.strip());
                    }
                }
            }
        }
        return hits;
    }

    @Test
    @DisplayName("the comment filter blanks comments and keeps strings")
    void filter() throws IOException {
        Path f = Files.createTempFile("scan", ".java");
        Files.writeString(f, "int a; // vtd\n/* vtd\n vtd */ String s = \"// vtd\";\n");
        assertThat(code(f)).containsExactly("int a; ", "", " String s = \"// vtd\";");
    }

    @Test
    @DisplayName("scenario, check and cli name no IOMMU kind outside comments")
    void floorsNameNoKind() throws IOException {
        List<String> hits = new ArrayList<>();
        for (String floor : List.of("scenario", "check", "cli")) {
            hits.addAll(hits(MAIN.resolve(floor), KIND_WORD, x -> false));
        }
        assertThat(hits).isEmpty();
    }

    @Test
    @DisplayName("no main class outside driver.vtd and hw.vtd uses a VT-d class")
    void vtdClassesStayInTheirPackages() throws IOException {
        List<String> hits = new ArrayList<>(hits(MAIN, VTD_CLASS,
                x -> x.startsWith(MAIN.resolve("driver/vtd")) || x.startsWith(MAIN.resolve("hw/vtd"))));
        hits.addAll(hits(Path.of("src/jmh/java"), VTD_CLASS, x -> false));
        assertThat(hits).isEmpty();
    }
}
