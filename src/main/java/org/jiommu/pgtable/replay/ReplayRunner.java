package org.jiommu.pgtable.replay;

import java.util.List;
import org.jiommu.base.Prot;
import org.jiommu.mem.FrameAllocator;
import org.jiommu.mem.PhysicalMemory;
import org.jiommu.pgtable.IoPageTable;
import org.jiommu.pgtable.replay.LpaeReplay.Map;
import org.jiommu.pgtable.replay.LpaeReplay.Op;
import org.jiommu.pgtable.replay.LpaeReplay.Phys;
import org.jiommu.pgtable.replay.LpaeReplay.Result;
import org.jiommu.pgtable.replay.LpaeReplay.Unmap;

/**
 * What the replays of both golden-vector sets print the same way: op headers, the end of a
 * {@code cfg} section (dump, free, live table pages) and the dump itself. The formats say how
 * they number levels, which leaves are pages and which address bits a table entry's IOVA
 * replaces.
 */
abstract class ReplayRunner {
    final StringBuilder out = new StringBuilder();
    final FrameAllocator frames = new FrameAllocator(new PhysicalMemory());
    int warnings;
    private boolean inSection;
    private int opNo;

    /** Starts a section for a {@code cfg} op: prints it and makes the table (or says why not). */
    abstract void beginSection(Op cfg);

    /** The core's map of {@code m} on the table, with its {@code . } lines and the {@code =>} line. */
    abstract void map(Map m);

    /** The core's unmap on the table with its {@code . } lines; returns the bytes unmapped. */
    abstract long unmap(Unmap u);

    /** Runs {@code ops} (parsed, so only cfg, map, unmap and phys) after the producer's line. */
    final Result run(String header, List<Op> ops) {
        line(header);
        for (Op op : ops) {
            if (op instanceof Map m) {
                opHeader(String.format("map iova=%#x pa=%#x size=%#x prot=%s", m.iova(), m.pa(), m.size(),
                        Prot.format(m.prot())));
                if (table() != null) {
                    map(m);
                }
            } else if (op instanceof Unmap u) {
                opHeader(String.format("unmap iova=%#x size=%#x", u.iova(), u.size()));
                if (table() != null) {
                    line(String.format("  => unmapped=%#x", unmap(u)));
                }
            } else if (op instanceof Phys p) {
                opHeader(String.format("phys iova=%#x", p.iova()));
                if (table() != null) {
                    line(String.format("  => pa=%#x", table().iovaToPhys(p.iova())));
                }
            } else {
                endSection();
                startSection();
                beginSection(op);
            }
        }
        endSection();
        return new Result(out.toString(), warnings);
    }

    /** The table of the current section, or null when its cfg was refused. */
    abstract IoPageTable table();

    /** Forgets the current table (it was freed). */
    abstract void dropTable();

    /** The level number the dump prints for the walk's {@code level}. */
    abstract int dumpLevel(int level);

    /** True when a leaf at the walk's {@code level} is a page (P), not a block (B). */
    abstract boolean pageLevel(int level);

    /** The output-address bits of a table entry the dump replaces by the IOVA it covers. */
    abstract long tableAddressBits();

    /** True when {@code dump end} also prints the live table pages. */
    abstract boolean liveInDumpEnd();

    private void startSection() {
        inSection = true;
        opNo = 0;
    }

    final void opHeader(String text) {
        opNo++;
        line("op " + opNo + ": " + text);
        if (table() == null) {
            line("  => no table");
        }
    }

    final void endSection() {
        if (!inSection) {
            return;
        }
        inSection = false;
        IoPageTable t = table();
        if (t != null) {
            dump(t);
            t.free();
            dropTable();
            line("freed: table_pages_live=" + frames.stats().liveBlocks());
        }
        line("");
    }

    /** Depth first, index order; table descriptors show the IOVA they cover in place of the table PA. */
    private void dump(IoPageTable t) {
        line("dump begin");
        long[] counts = new long[2];
        long mask = tableAddressBits();
        t.walk((level, iova, size, pte, leaf) -> {
            long shown;
            char kind;
            if (leaf) {
                shown = pte;
                kind = pageLevel(level) ? 'P' : 'B';
                counts[1]++;
            } else {
                shown = (pte & ~mask) | (iova & mask);
                kind = 'T';
                counts[0]++;
            }
            line(String.format("L%d %016x %016x %c", dumpLevel(level), iova, shown, kind));
        });
        line(String.format("dump end: table_descs=%d leaves=%d", counts[0], counts[1])
                + (liveInDumpEnd() ? " table_pages_live=" + frames.stats().liveBlocks() : ""));
    }

    final void line(String s) {
        out.append(s).append('\n');
    }
}
