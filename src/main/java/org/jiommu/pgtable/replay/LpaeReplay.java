package org.jiommu.pgtable.replay;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.jiommu.base.Errno;
import org.jiommu.base.IommuException;
import org.jiommu.base.Prot;
import org.jiommu.pgtable.IoPageTable;
import org.jiommu.pgtable.IoPageTables;
import org.jiommu.pgtable.IoPgtableCfg;
import org.jiommu.pgtable.MapLoop;
import org.jiommu.pgtable.PgtableFormat;
import org.jiommu.pgtable.TlbOps;
import org.jiommu.pgtable.arm.ArmLpaeConfig;
import org.jiommu.pgtable.arm.ArmLpaePageTable;

/**
 * Replays a {@code .ops} page-table program (language: vectors/README.md) through
 * {@link ArmLpaePageTable} with the core's page-size splitting ({@link MapLoop}) and prints
 * what the kernel's anchor harness printed for it: the {@code .golden} format, every line
 * after the first comment line, which names the producer instead.
 *
 * <p>Extensions the kernel vectors do not use (docs/pgtable-arm.md): extra {@code cfg} tokens
 * name quirks ({@code ns}, {@code ttbr1}, {@code hd}, {@code s2fwb}, {@code outer_wbwa}) or
 * {@code noncoherent}; a {@code cfg} the format rejects prints {@code alloc failed} and its ops
 * print {@code => no table}.
 */
public final class LpaeReplay {
    private LpaeReplay() {
    }

    /** Bad {@code .ops} input, located as {@code file:line: message}. */
    public static final class OpsException extends Exception {
        private static final long serialVersionUID = 1L;

        private final String file;
        private final int line;

        public OpsException(String file, int line, String message) {
            super(file + ":" + line + ": " + message);
            this.file = file;
            this.line = line;
        }

        public String file() {
            return file;
        }

        public int line() {
            return line;
        }
    }

    /** What a replay produced: the printed text and the number of kernel WARNs raised. */
    public record Result(String output, int warnings) {
        /** Output lines without the first (producer) comment line. */
        public List<String> linesAfterHeader() {
            List<String> lines = output.lines().toList();
            return lines.subList(1, lines.size());
        }
    }

    /** One parsed command with its 1-based source line (the cfg kinds are per format). */
    interface Op {
        int line();
    }

    /** Parses a {@code cfg} line (tokens {@code t}, {@code t[0]} = "cfg") into the format's Op. */
    @FunctionalInterface
    interface CfgParser {
        Op parse(String file, int line, String[] t) throws OpsException;
    }

    record Cfg(int line, PgtableFormat format, long granule, int ias, int oas, int quirks, boolean coherentWalk)
            implements Op {
    }

    record Map(int line, long iova, long pa, long size, int prot) implements Op {
    }

    record Unmap(int line, long iova, long size) implements Op {
    }

    record Phys(int line, long iova) implements Op {
    }

    /** Reads and replays {@code file}. */
    public static Result replay(Path file) throws IOException, OpsException {
        return replay(file.toString(), Files.readAllLines(file, StandardCharsets.UTF_8));
    }

    /**
     * Parses all of {@code lines} first (nothing runs on bad input), then replays them. A program
     * whose first {@code cfg} names {@code vtdss} or {@code x86_64} goes to {@link GenericPtReplay}.
     */
    public static Result replay(String fileName, List<String> lines) throws OpsException {
        for (String l : lines) {
            String[] t = l.replaceFirst("#.*", "").strip().split("\\s+");
            if (t.length > 1 && t[0].equalsIgnoreCase("cfg")) {
                if (GenericPtReplay.handles(t[1])) {
                    return GenericPtReplay.replay(fileName, lines);
                }
                break;
            }
        }
        List<Op> ops = parse(fileName, lines);
        return new Runner(fileName).run(ops);
    }

    // -------------------------------------------------------------------------------------------
    // Parsing

    static List<Op> parse(String file, List<String> lines) throws OpsException {
        return parse(file, lines, LpaeReplay::parseCfg);
    }

    /** The .ops language with {@code cfg} lines read by {@code cfgParser}. */
    static List<Op> parse(String file, List<String> lines, CfgParser cfgParser) throws OpsException {
        List<Op> ops = new ArrayList<>();
        boolean haveCfg = false;
        for (int n = 0; n < lines.size(); n++) {
            int lineNo = n + 1;
            String text = lines.get(n);
            int hash = text.indexOf('#');
            if (hash >= 0) {
                text = text.substring(0, hash);
            }
            text = text.strip();
            if (text.isEmpty()) {
                continue;
            }
            String[] t = text.split("\\s+");
            String cmd = t[0].toLowerCase(Locale.ROOT);
            switch (cmd) {
                case "cfg":
                    ops.add(cfgParser.parse(file, lineNo, t));
                    haveCfg = true;
                    break;
                case "map":
                    needCfg(file, lineNo, haveCfg, cmd);
                    arity(file, lineNo, t, 5, "map IOVA PA SIZE PROT");
                    ops.add(new Map(lineNo, hex(file, lineNo, t[1]), hex(file, lineNo, t[2]), hex(file, lineNo, t[3]),
                            prot(file, lineNo, t[4])));
                    break;
                case "unmap":
                    needCfg(file, lineNo, haveCfg, cmd);
                    arity(file, lineNo, t, 3, "unmap IOVA SIZE");
                    ops.add(new Unmap(lineNo, hex(file, lineNo, t[1]), hex(file, lineNo, t[2])));
                    break;
                case "phys":
                    needCfg(file, lineNo, haveCfg, cmd);
                    arity(file, lineNo, t, 2, "phys IOVA");
                    ops.add(new Phys(lineNo, hex(file, lineNo, t[1])));
                    break;
                default:
                    throw new OpsException(file, lineNo, "unknown command '" + t[0]
                            + "' (expected cfg, map, unmap or phys)");
            }
        }
        return ops;
    }

    private static Op parseCfg(String file, int line, String[] t) throws OpsException {
        if (t.length < 5) {
            throw new OpsException(file, line, "usage: cfg s1|s2 4k|16k|64k IAS OAS [quirk...]");
        }
        PgtableFormat format;
        switch (t[1].toLowerCase(Locale.ROOT)) {
            case "s1": format = PgtableFormat.ARM_64_LPAE_S1; break;
            case "s2": format = PgtableFormat.ARM_64_LPAE_S2; break;
            default: throw new OpsException(file, line, "unknown stage '" + t[1] + "' (expected s1 or s2)");
        }
        long granule;
        switch (t[2].toLowerCase(Locale.ROOT)) {
            case "4k": granule = 1L << 12; break;
            case "16k": granule = 1L << 14; break;
            case "64k": granule = 1L << 16; break;
            default: throw new OpsException(file, line, "unknown granule '" + t[2] + "' (expected 4k, 16k or 64k)");
        }
        int ias = decimal(file, line, t[3], "IAS");
        int oas = decimal(file, line, t[4], "OAS");
        int quirks = ArmLpaeConfig.QUIRK_NO_WARN;
        boolean coherent = true;
        for (int i = 5; i < t.length; i++) {
            String q = t[i].toLowerCase(Locale.ROOT);
            if (q.equals("noncoherent") || q.equals("coherent_walk=0")) {
                coherent = false;
                continue;
            }
            int bit = ArmLpaeConfig.quirkByName(q);
            if (bit == 0) {
                throw new OpsException(file, line, "unknown cfg option '" + t[i]
                        + "' (quirks: ns, ttbr1, outer_wbwa, hd, s2fwb; or noncoherent)");
            }
            quirks |= bit;
        }
        return new Cfg(line, format, granule, ias, oas, quirks, coherent);
    }

    private static void needCfg(String file, int line, boolean haveCfg, String cmd) throws OpsException {
        if (!haveCfg) {
            throw new OpsException(file, line, cmd + " before any cfg");
        }
    }

    private static void arity(String file, int line, String[] t, int n, String usage) throws OpsException {
        if (t.length != n) {
            throw new OpsException(file, line, "usage: " + usage);
        }
    }

    /** A hex number, with or without 0x, up to 64 bits. */
    static long hex(String file, int line, String s) throws OpsException {
        String digits = s.startsWith("0x") || s.startsWith("0X") ? s.substring(2) : s;
        if (digits.isEmpty() || digits.length() > 16 || !digits.chars().allMatch(c -> Character.digit(c, 16) >= 0)) {
            throw new OpsException(file, line, "bad number '" + s + "' (hex, at most 64 bits)");
        }
        return Long.parseUnsignedLong(digits, 16);
    }

    static int decimal(String file, int line, String s, String what) throws OpsException {
        try {
            int v = Integer.parseInt(s);
            if (v < 0 || v > 64) {
                throw new NumberFormatException();
            }
            return v;
        } catch (NumberFormatException e) {
            throw new OpsException(file, line, "bad " + what + " '" + s + "' (decimal bits, 0..64)");
        }
    }

    static int prot(String file, int line, String s) throws OpsException {
        try {
            return Prot.parse(s);
        } catch (IllegalArgumentException e) {
            throw new OpsException(file, line, "bad prot '" + s + "' (letters r w x c m p, or -)");
        }
    }

    // -------------------------------------------------------------------------------------------
    // Running

    private static final class Runner extends ReplayRunner implements MapLoop.Listener {
        private final String fileName;
        private ArmLpaePageTable table;

        Runner(String fileName) {
            this.fileName = fileName;
        }

        Result run(List<Op> ops) {
            return run("# jiommu pgtable replay of " + Path.of(fileName).getFileName()
                    + ": org.jiommu.pgtable.arm.ArmLpaePageTable (io-pgtable-arm, current semantics)", ops);
        }

        /** iommu_map: the core's page-size split (MapLoop) into map_pages calls, unrolled on failure. */
        @Override
        void map(Map m) {
            MapLoop.MapResult r = MapLoop.map(table, table.pgsizeBitmap(), m.iova(), m.pa(), m.size(), m.prot(), this);
            line(String.format("  => ret=%s mapped=%#x unrolled=%#x", Errno.describe(r.ret()), r.mapped(),
                    r.unrolled()));
        }

        @Override
        long unmap(Unmap u) {
            return MapLoop.unmap(table, table.pgsizeBitmap(), u.iova(), u.size(), null, this);
        }

        @Override
        void beginSection(Op op) {
            Cfg c = (Cfg) op;
            line(String.format("cfg fmt=%s granule=%#x ias=%d oas=%d quirks=%s coherent_walk=%d", c.format(),
                    c.granule(), c.ias(), c.oas(), ArmLpaeConfig.quirkNames(c.quirks()), c.coherentWalk() ? 1 : 0));
            IoPgtableCfg cfg = IoPgtableCfg.builder(frames)
                    .pgsizeBitmap(granuleSizes(c.granule()))
                    .ias(c.ias())
                    .oas(c.oas())
                    .quirks(c.quirks())
                    .coherentWalk(c.coherentWalk())
                    .warnings((where, message) -> warnings++)
                    .build();
            try {
                // the format's outputs (TCR, MAIR, widths) are on the ARM table's config
                table = (ArmLpaePageTable) IoPageTables.alloc(c.format(), cfg, TlbOps.NONE);
            } catch (IommuException e) {
                table = null;
                line("  alloc failed: " + e.getMessage());
                return;
            }
            ArmLpaeConfig a = table.config();
            line(String.format("  pgsize_bitmap=%#x ias=%d oas=%d %s", a.pgsizeBitmap(), a.ias(), a.oas(),
                    a.geometry()));
            if (a.isStage1()) {
                line("  tcr " + a.tcr());
                line(String.format("  mair=%#x", a.mair()));
                line("  ttbr=PGD");
            } else {
                line("  vtcr " + a.vtcr());
                line("  vttbr=PGD");
            }
        }

        /** "All page sizes of the granule": the format keeps those its geometry allows. */
        private static long granuleSizes(long granule) {
            if (granule == 1L << 12) {
                return (1L << 12) | (1L << 21) | (1L << 30);
            } else if (granule == 1L << 14) {
                return (1L << 14) | (1L << 25);
            }
            return (1L << 16) | (1L << 29) | (1L << 42);
        }

        @Override
        IoPageTable table() {
            return table;
        }

        @Override
        void dropTable() {
            table = null;
        }

        @Override
        int dumpLevel(int level) {
            return level;
        }

        @Override
        boolean pageLevel(int level) {
            return level == 3;
        }

        @Override
        long tableAddressBits() {
            return 0x0000_FFFF_FFFF_F000L; // 47:12
        }

        @Override
        boolean liveInDumpEnd() {
            return false;
        }

        @Override
        public void unaligned(long minPagesz) {
            line(String.format("  . unaligned (min_pagesz %#x)", minPagesz));
        }

        @Override
        public void mapPages(long iova, long paddr, long pgsize, long count, int ret, long mapped) {
            line(String.format("  . map_pages(iova=%#x, pa=%#x, pgsize=%#x, count=%d) -> %s mapped=%#x", iova, paddr,
                    pgsize, count, Errno.describe(ret), mapped));
        }

        @Override
        public void unmapPages(long iova, long pgsize, long count, long unmapped, boolean unroll) {
            line(String.format("  . %sunmap_pages(iova=%#x, pgsize=%#x, count=%d) -> %#x", unroll ? "unroll " : "",
                    iova, pgsize, count, unmapped));
        }
    }
}
