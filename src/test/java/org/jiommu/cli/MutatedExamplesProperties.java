package org.jiommu.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Label;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.lifecycle.AfterProperty;

/**
 * Issue 14: any bytes at all, in particular an example with random bytes changed, end in exit
 * 0, 1 or 2 with messages, never exit 3 or a stack trace. Byte-level, so mutations also make
 * invalid UTF-8, control characters and truncated sequences.
 */
class MutatedExamplesProperties {
    private static final List<Path> EXAMPLES = examples();
    private final Path file;

    MutatedExamplesProperties() throws IOException {
        file = Files.createTempFile("jiommu-mutated", ".yaml");
    }

    private static List<Path> examples() {
        try (Stream<Path> s = Files.list(Path.of("examples"))) {
            return s.filter(p -> p.toString().endsWith(".yaml")).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Every example, with 1 to 6 bytes replaced, deleted or inserted (any byte value). */
    @Provide
    Arbitrary<byte[]> mutated() {
        Arbitrary<byte[]> source = Arbitraries.of(EXAMPLES).map(p -> {
            try {
                return Files.readAllBytes(p);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
        Arbitrary<List<int[]>> edits = Combinators.combine(Arbitraries.integers().between(0, 2),
                Arbitraries.integers().between(0, Integer.MAX_VALUE), Arbitraries.integers().between(0, 255))
                .as((kind, pos, b) -> new int[] {kind, pos, b}).list().ofMinSize(1).ofMaxSize(6);
        return Combinators.combine(source, edits).as((bytes, es) -> {
            java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
            byte[] cur = bytes;
            for (int[] e : es) {
                int at = e[1] % Math.max(1, cur.length);
                out.reset();
                out.write(cur, 0, at);
                if (e[0] != 1) { // 0 replace, 2 insert
                    out.write(e[2]);
                }
                out.write(cur, e[0] == 2 ? at : Math.min(cur.length, at + 1), cur.length - (e[0] == 2 ? at
                        : Math.min(cur.length, at + 1)));
                cur = out.toByteArray();
            }
            return cur;
        });
    }

    @Property(tries = 150)
    @Label("a byte-mutated example exits 0, 1 or 2 with no stack trace")
    void neverCrashes(@ForAll("mutated") byte[] bytes) throws IOException {
        Files.write(file, bytes);
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int exit = Main.execute(new String[] {"run", file.toString()}, new PrintWriter(out, true),
                new PrintWriter(err, true));
        String all = out + "" + err;
        assertThat(exit).as(all).isBetween(0, 2);
        assertThat(all).doesNotContain("\tat ").doesNotContain("internal error");
        if (exit == 2) {
            assertThat(err.toString().lines()).as(all)
                    .allMatch(l -> l.startsWith(file.toString()) || l.matches("\\d+ problems?.*; nothing was run"));
        }
    }

    @AfterProperty
    void cleanUp() throws IOException {
        Files.deleteIfExists(file);
    }
}
