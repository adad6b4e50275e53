package org.jiommu.scenario;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.List;

/**
 * What the reader accepts before YAML sees a byte (docs/scenarios.md "Limits"): a regular file
 * no larger than {@link Limits#maxBytes}, checked before it is read and again while reading (a
 * file may grow), UTF-8 text with no control characters. Each refusal names the position of
 * the offending byte; file-level refusals (no such file, a device, too large) have none.
 */
public final class ScenarioReaderInput {
    /** At most this many control characters are reported per file; the rest are counted. */
    private static final int MAX_CONTROL_REPORTS = 10;

    private ScenarioReaderInput() {
    }

    /**
     * The documented input limits. Each can be raised (or lowered) with a Java system property
     * {@code jiommu.scenario.NAME}, e.g. {@code JIOMMU_JAVA_OPTS=-Djiommu.scenario.maxSteps=500000}.
     *
     * @param maxBytes largest file, in bytes
     * @param maxSteps most steps in one file
     * @param maxDepth deepest nesting of mappings and lists (a step's arguments are at depth 4)
     * @param maxNodes most YAML nodes (mappings, lists, scalars) in one file
     * @param maxProblems most problems printed for one file (all are counted)
     */
    public record Limits(long maxBytes, int maxSteps, int maxDepth, int maxNodes, int maxProblems) {
        static final Limits DEFAULT = new Limits(8L << 20, 200_000, 64, 1_000_000, 100);

        /** The defaults with any {@code jiommu.scenario.*} system property applied. */
        public static Limits current() {
            return new Limits(prop("maxBytes", DEFAULT.maxBytes), (int) prop("maxSteps", DEFAULT.maxSteps),
                    (int) prop("maxDepth", DEFAULT.maxDepth), (int) prop("maxNodes", DEFAULT.maxNodes),
                    (int) prop("maxProblems", DEFAULT.maxProblems));
        }

        private static long prop(String name, long fallback) {
            String v = System.getProperty("jiommu.scenario." + name);
            if (v == null) {
                return fallback;
            }
            try {
                long n = Numbers.parse(v);
                // A limit above Integer.MAX_VALUE would not fit the counters; a zero one refuses everything.
                return n > 0 && n <= Integer.MAX_VALUE ? n : fallback;
            } catch (Numbers.BadNumber e) {
                return fallback;
            }
        }
    }

    /** A refusal of the file as a whole (it has no line). */
    private static InvalidScenarioException fileProblem(String file, String message) {
        return new InvalidScenarioException(List.of(new Problem(Loc.whole(file), message)));
    }

    /**
     * A text input of the command line (a scenario, a page-table program): a regular file of at
     * most {@code maxBytes} bytes, strict UTF-8, refused otherwise with the position of the first
     * bad byte or as a whole.
     */
    public static String readText(Path path, long maxBytes) throws InvalidScenarioException {
        return load(path, new Limits(maxBytes, 1, 1, 1, 1));
    }

    /** The file's text, or every reason it cannot be a scenario's text. */
    static String load(Path path, Limits limits) throws InvalidScenarioException {
        String file = path.toString();
        BasicFileAttributes attrs;
        try {
            attrs = Files.readAttributes(path, BasicFileAttributes.class);
        } catch (NoSuchFileException e) {
            throw fileProblem(file, "no such file");
        } catch (IOException e) {
            throw fileProblem(file, "cannot read: " + reason(e));
        }
        if (attrs.isDirectory()) {
            throw fileProblem(file, "is a directory, not a file");
        }
        if (!attrs.isRegularFile()) {
            // A device (/dev/zero), a pipe or a socket has no size to check and may never end.
            throw fileProblem(file, "not a regular file (a device, pipe or socket): jiommu reads its input from files");
        }
        if (attrs.size() > limits.maxBytes()) {
            throw fileProblem(file, tooLarge(attrs.size(), limits));
        }
        byte[] bytes;
        try (InputStream in = Files.newInputStream(path)) {
            bytes = in.readNBytes((int) limits.maxBytes() + 1);
        } catch (IOException e) {
            throw fileProblem(file, "cannot read: " + reason(e));
        }
        if (bytes.length > limits.maxBytes()) {
            throw fileProblem(file, tooLarge(bytes.length, limits));
        }
        return decode(file, bytes);
    }

    private static String tooLarge(long size, Limits limits) {
        return "file too large: over the limit of " + limits.maxBytes() + " bytes ("
                + Numbers.formatSize(limits.maxBytes()) + "; -Djiommu.scenario.maxBytes raises it)";
    }

    private static String reason(IOException e) {
        if (e instanceof AccessDeniedException) {
            return "permission denied";
        }
        return e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    }

    /** Strict UTF-8: the first malformed byte is refused at its line and column. */
    static String decode(String file, byte[] bytes) throws InvalidScenarioException {
        CharsetDecoder d = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT);
        ByteBuffer in = ByteBuffer.wrap(bytes);
        CharBuffer out = CharBuffer.allocate(bytes.length);
        CoderResult r = d.decode(in, out, true);
        if (r.isError()) {
            int at = in.position();
            // Everything before the bad byte decoded, so its position counts in characters.
            CharBuffer before = out.flip();
            int[] lc = lineColumn(before, before.length());
            throw new InvalidScenarioException(List.of(new Problem(new Loc(file, lc[0], lc[1]),
                    String.format("not UTF-8: byte 0x%02x cannot start or continue a character here "
                            + "(jiommu reads UTF-8 text)", bytes[at] & 0xff))));
        }
        r = d.flush(out);
        if (r.isError()) {
            throw fileProblem(file, "not UTF-8 at the end of the file");
        }
        return out.flip().toString();
    }

    /** 1-based line and column (in code points) of char index {@code end} of {@code text}. */
    private static int[] lineColumn(CharSequence text, int end) {
        int line = 1;
        int col = 1;
        for (int i = 0; i < end; i++) {
            char c = text.charAt(i);
            if (c == '\n' || (c == '\r' && (i + 1 >= text.length() || text.charAt(i + 1) != '\n'))) {
                line++;
                col = 1;
            } else if (c != '\r' && !Character.isLowSurrogate(c)) {
                col++;
            }
        }
        return new int[] {line, col};
    }

    /**
     * Every control character in {@code text} (but tab and line breaks), at its position:
     * scenario text never needs one, and echoing one would let a file drive the terminal.
     */
    static List<Problem> controlCharacters(String file, String text) {
        List<Problem> found = new ArrayList<>();
        int count = 0;
        int line = 1;
        int col = 1;
        Loc last = null;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c == '\n' || (c == '\r' && (i + 1 >= text.length() || text.charAt(i + 1) != '\n'))) {
                line++;
                col = 1;
                continue;
            }
            if (c == '\r' || Character.isLowSurrogate(c)) {
                continue;
            }
            if (isRefused(c)) {
                count++;
                last = new Loc(file, line, col);
                if (found.size() < MAX_CONTROL_REPORTS) {
                    found.add(new Problem(last, "control character " + describe(c)
                            + " in the file (scenario files are text; write data as hex strings)"));
                }
            }
            col++;
        }
        if (count > found.size()) {
            found.add(new Problem(last, (count - found.size()) + " more control characters, the last one here"));
        }
        return found;
    }

    /** A character refused in scenario text and escaped when echoed: C0, DEL, C1, bidi overrides. */
    static boolean isRefused(int c) {
        return (c < 0x20 && c != '\t' && c != '\n' && c != '\r') || (c >= 0x7f && c <= 0x9f)
                || (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069);
    }

    static String describe(int c) {
        String name = switch (c) {
            case 0 -> " (NUL)";
            case 7 -> " (BEL)";
            case 8 -> " (backspace)";
            case 0x0b -> " (vertical tab)";
            case 0x0c -> " (form feed)";
            case 0x1b -> " (ESC)";
            case 0x7f -> " (DEL)";
            default -> c >= 0x202a ? " (bidirectional override)" : "";
        };
        return String.format("U+%04X%s", c, name);
    }
}
