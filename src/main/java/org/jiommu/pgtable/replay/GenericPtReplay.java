package org.jiommu.pgtable.replay;

import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import org.jiommu.base.Errno;
import org.jiommu.base.IommuException;
import org.jiommu.pgtable.IoPageTable;
import org.jiommu.pgtable.IotlbGather;
import org.jiommu.pgtable.Mapped;
import org.jiommu.pgtable.TlbOps;
import org.jiommu.pgtable.replay.LpaeReplay.Map;
import org.jiommu.pgtable.replay.LpaeReplay.Op;
import org.jiommu.pgtable.replay.LpaeReplay.OpsException;
import org.jiommu.pgtable.replay.LpaeReplay.Result;
import org.jiommu.pgtable.replay.LpaeReplay.Unmap;
import org.jiommu.pgtable.x86.VtdSecondLevelPageTable;
import org.jiommu.pgtable.x86.X86FirstLevelPageTable;
import org.jiommu.pgtable.x86.X86RadixPageTable;

/**
 * Replays a {@code .ops} program with {@code cfg vtdss|x86_64 ...} (vectors/vtd-x86/README.md)
 * through jiommu's generic_pt formats ({@link VtdSecondLevelPageTable}, {@link X86FirstLevelPageTable})
 * the way the kernel's core drives a generic_pt domain since the 7.1 merge window:
 * {@code iommu_map} calls {@code map_range} once for the whole range and, if it failed,
 * {@code iommu_unmap(iova, mapped)}; {@code iommu_unmap} calls {@code unmap_range} once, then
 * {@code iommu_iotlb_sync} when the gather holds a range. It prints the {@code .golden} format:
 * every line after the first comment line, which names the producer instead.
 *
 * <p>The domain is set up as {@code intel_iommu_domain_alloc_second_stage} /
 * {@code _first_stage} do with a coherent IOMMU: vtdss with {@code PT_FEAT_FLUSH_RANGE}, x86_64
 * with {@code PT_FEAT_SIGN_EXTEND | PT_FEAT_FLUSH_RANGE}, 52-bit output, top level from the width
 * unless {@code top=N}; {@code snp} / {@code nest} add the vtdss FORCE_COHERENCE /
 * FORCE_WRITEABLE features; {@code no2m}, {@code no1g}, {@code nosp} narrow the domain's page sizes.
 */
public final class GenericPtReplay {
    private GenericPtReplay() {
    }

    /** True when {@code token} (the word after {@code cfg}) names a format of this replay. */
    static boolean handles(String token) {
        String f = token.toLowerCase(Locale.ROOT);
        return f.equals("vtdss") || f.equals("x86_64");
    }

    /** Parses all of {@code lines} first (nothing runs on bad input), then replays them. */
    public static Result replay(String fileName, List<String> lines) throws OpsException {
        List<Op> ops = LpaeReplay.parse(fileName, lines, GenericPtReplay::parseCfg);
        return new Runner(fileName).run(ops);
    }

    /** {@code cfg vtdss|x86_64 WIDTH [snp] [nest] [no2m] [no1g] [nosp] [top=N]}. */
    record Cfg(int line, boolean vtdss, int width, int topLevel, boolean snp, boolean nest, long pgsizeMask,
               String domainOptions) implements Op {
    }

    private static Op parseCfg(String file, int line, String[] t) throws OpsException {
        if (t.length < 3 || !handles(t[1])) {
            throw new OpsException(file, line, "usage: cfg vtdss|x86_64 WIDTH [snp] [nest] [no2m] [no1g] [nosp] [top=N]");
        }
        boolean vtdss = t[1].equalsIgnoreCase("vtdss");
        int width = LpaeReplay.decimal(file, line, t[2], "WIDTH");
        int top = vtdss ? (width > 48 ? 4 : width > 39 ? 3 : 2) : (width > 48 ? 4 : 3);
        boolean snp = false;
        boolean nest = false;
        long mask = X86RadixPageTable.ALL_PAGE_SIZES;
        StringBuilder domainOptions = new StringBuilder();
        for (int i = 3; i < t.length; i++) {
            String o = t[i].toLowerCase(Locale.ROOT);
            if (o.startsWith("top=")) {
                top = LpaeReplay.decimal(file, line, o.substring(4), "top level");
                continue;
            }
            switch (o) {
                case "snp" -> snp = true;
                case "nest" -> nest = true;
                case "no2m" -> mask &= ~X86RadixPageTable.SZ_2M;
                case "no1g" -> mask &= ~X86RadixPageTable.SZ_1G;
                case "nosp" -> mask &= X86RadixPageTable.SZ_4K;
                default -> throw new OpsException(file, line, "unknown cfg option '" + t[i]
                        + "' (snp, nest, no2m, no1g, nosp, top=N)");
            }
            if (!vtdss && (snp || nest)) {
                throw new OpsException(file, line, "'" + t[i] + "' is a vtdss feature, not x86_64's");
            }
            if (o.startsWith("no")) {
                domainOptions.append(' ').append(o);
            }
        }
        return new Cfg(line, vtdss, width, top, snp, nest, mask, domainOptions.toString());
    }

    // -------------------------------------------------------------------------------------------

    /** pt_common feature bits as the dump prints them (PT_FEAT_*). */
    private static final int FEAT_SIGN_EXTEND = 0x08;
    private static final int FEAT_FLUSH_RANGE = 0x10;
    private static final int FEAT_FORCE_COHERENCE = 0x40;
    private static final int FEAT_FORCE_WRITEABLE = 0x80;

    private static String featureNames(int features) {
        StringBuilder b = new StringBuilder();
        String[] names = {"SIGN_EXTEND", "FLUSH_RANGE", "FORCE_COHERENCE", "FORCE_WRITEABLE"};
        int[] bits = {FEAT_SIGN_EXTEND, FEAT_FLUSH_RANGE, FEAT_FORCE_COHERENCE, FEAT_FORCE_WRITEABLE};
        for (int i = 0; i < bits.length; i++) {
            if ((features & bits[i]) != 0) {
                b.append(b.length() == 0 ? "" : "|").append(names[i]);
            }
        }
        return b.toString();
    }

    private static final class Runner extends ReplayRunner {
        private final String fileName;
        private final Mapped mapped = new Mapped();
        private X86RadixPageTable table;

        Runner(String fileName) {
            this.fileName = fileName;
        }

        Result run(List<Op> ops) {
            return run("# jiommu pgtable replay of " + Path.of(fileName).getFileName()
                    + ": org.jiommu.pgtable.x86 (generic_pt vtdss / x86_64, 7.1 map_range/unmap_range)", ops);
        }

        @Override
        long unmap(Unmap u) {
            return unmap(u.iova(), u.size(), false);
        }

        /** iommu_map for a generic_pt domain: map_range once; on failure iommu_unmap(iova, mapped). */
        @Override
        void map(Map m) {
            mapped.reset();
            int ret = table.mapRange(m.iova(), m.pa(), m.size(), m.prot(), mapped);
            line(String.format("  . map_range(iova=%#x, pa=%#x, len=%#x, prot=%#x) -> %s mapped=%#x", m.iova(),
                    m.pa(), m.size(), m.prot(), Errno.describe(ret), mapped.bytes));
            long unrolled = 0;
            if (ret != 0) {
                unrolled = unmap(m.iova(), mapped.bytes, true);
            }
            line(String.format("  => ret=%s mapped=%#x unrolled=%#x", Errno.describe(ret), mapped.bytes, unrolled));
        }

        /** iommu_unmap: unmap_range once, then iommu_iotlb_sync when the gather holds a range. */
        private long unmap(long iova, long len, boolean unroll) {
            IotlbGather g = new IotlbGather();
            long n = table.unmapRange(iova, len, g);
            line(String.format("  . %sunmap_range(iova=%#x, len=%#x) -> %#x", unroll ? "unroll " : "", iova, len, n));
            if (Long.compareUnsigned(g.start, g.end) < 0) {
                sync(g, "  . ");
            }
            return n;
        }

        /** The driver's iotlb_sync: flush (nothing to flush here), then free the gathered tables. */
        private void sync(IotlbGather g, String prefix) {
            line(String.format("%siotlb_sync(start=%#x, end=%#x, freed_tables=%d)", prefix, g.start, g.end,
                    g.freelist.size()));
            table.releaseFreelist(g);
        }

        @Override
        void beginSection(Op op) {
            Cfg c = (Cfg) op;
            int features = FEAT_FLUSH_RANGE | (c.vtdss() ? 0 : FEAT_SIGN_EXTEND)
                    | (c.snp() ? FEAT_FORCE_COHERENCE : 0) | (c.nest() ? FEAT_FORCE_WRITEABLE : 0);
            String fmt = c.vtdss() ? "vtdss" : "x86_64";
            line(String.format("cfg fmt=%s width=%d top_level=%d levels=%d hw_max_oasz_lg2=52 features=%s%s", fmt,
                    c.width(), c.topLevel(), c.topLevel() + 1, featureNames(features), c.domainOptions()));
            try {
                table = build(c);
            } catch (IommuException e) {
                table = null;
                line(String.format("  . pt_iommu_%s_init() -> %s", fmt, Errno.describe(e.errno().neg())));
                return;
            }
            line(String.format("  . pt_iommu_%s_init() -> %s", fmt, Errno.describe(0)));
            table.setTlb(TlbOps.syncing(g -> sync(g, "  . . ")));
            if (table instanceof VtdSecondLevelPageTable v) {
                line(String.format("  hw_info aw=%d ssptptr=TOP", v.aw()));
            } else {
                line(String.format("  hw_info levels=%d gcr3_pt=TOP", table.levels()));
            }
            line(String.format("  common max_vasz_lg2=%d max_oasz_lg2=%d features=%#x", table.ias(), table.oas(),
                    features));
            // pt_iommu_init_domain: the aperture is the lower half when sign-extending
            long end = table.signExtend() ? (1L << (table.ias() - 1)) - 1 : (1L << table.ias()) - 1;
            line(String.format("  domain type=0x1 is_iommupt=1 pgsize_bitmap=%#x aperture_start=0x0 aperture_end=%#x"
                    + " force_aperture=1", table.pgsizeBitmap(), end));
        }

        private X86RadixPageTable build(Cfg c) {
            if (c.vtdss()) {
                return VtdSecondLevelPageTable.builder(frames).addressWidth(c.width()).levels(c.topLevel() + 1)
                        .forceCoherence(c.snp()).forceWriteable(c.nest()).pageSizes(c.pgsizeMask())
                        .warnings((w, m) -> warnings++).build();
            }
            return X86FirstLevelPageTable.builder(frames).levels(c.topLevel() + 1).inputWidth(c.width())
                    .signExtend(true).pageSizes(c.pgsizeMask()).warnings((w, m) -> warnings++).build();
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
            return level - 1; // generic_pt's: L0 is the 4K level
        }

        @Override
        boolean pageLevel(int level) {
            return level == 1;
        }

        @Override
        long tableAddressBits() {
            return X86RadixPageTable.OA_MASK; // 51:12
        }

        @Override
        boolean liveInDumpEnd() {
            return true;
        }
    }
}
