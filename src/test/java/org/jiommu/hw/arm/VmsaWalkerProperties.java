package org.jiommu.hw.arm;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Label;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.jiommu.base.Prot;
import org.jiommu.base.WarningSink;
import org.jiommu.hw.FaultKind;
import org.jiommu.mem.FrameAllocator;
import org.jiommu.mem.PhysicalMemory;
import org.jiommu.pgtable.Mapped;
import org.jiommu.pgtable.PgtableFormat;
import org.jiommu.pgtable.TlbOps;
import org.jiommu.pgtable.arm.ArmLpaeConfig;
import org.jiommu.pgtable.arm.ArmLpaePageTable;

/**
 * The walker against the kernel's format as reference: random mappings written by
 * {@link ArmLpaePageTable} (io-pgtable-arm bit for bit), configured only from the registers the
 * format hands back (TCR / VTCR fields, TTBR, MAIR), must translate every probed address to
 * what {@code iova_to_phys} says, fault with Translation where nothing is mapped, and grant
 * exactly the permissions the mapping's prot asked for.
 */
class VmsaWalkerProperties {
    static final long BITMAP_4K = (1L << 12) | (1L << 21) | (1L << 30);
    static final long BITMAP_16K = (1L << 14) | (1L << 25);
    static final long BITMAP_64K = (1L << 16) | (1L << 29);
    static final int[] PROTS = {Prot.RW, Prot.READ, Prot.RW | Prot.NOEXEC, Prot.READ | Prot.NOEXEC | Prot.CACHE,
        Prot.WRITE, Prot.RW | Prot.PRIV};

    /** One mapping: a page size (index into the bitmap), an IOVA and a PA (both cut to size), a prot, a probe offset. */
    record Mapping(int sizeIndex, long iova, long pa, int prot, long offset, long hole) {
    }

    @Provide
    Arbitrary<List<Mapping>> mappings() {
        return Combinators.combine(
                Arbitraries.integers().between(0, 2),
                Arbitraries.longs().between(0, Long.MAX_VALUE),
                Arbitraries.longs().between(0, Long.MAX_VALUE),
                Arbitraries.integers().between(0, PROTS.length - 1),
                Arbitraries.longs().between(0, Long.MAX_VALUE),
                Arbitraries.longs().between(0, Long.MAX_VALUE)).as(Mapping::new).list().ofMinSize(1).ofMaxSize(24);
    }

    @Property(tries = 25)
    @Label("S1 4K 48/48 walks agree with iova_to_phys")
    void s1_4k_48(@ForAll("mappings") List<Mapping> m) {
        stage1(BITMAP_4K, 48, 48, 48, false, m);
    }

    @Property(tries = 25)
    @Label("S1 4K 39/40 (start level 1) walks agree with iova_to_phys")
    void s1_4k_39(@ForAll("mappings") List<Mapping> m) {
        stage1(BITMAP_4K, 39, 40, 48, false, m);
    }

    @Property(tries = 25)
    @Label("S1 16K 48/48 (2-entry level-0 table) walks agree with iova_to_phys")
    void s1_16k_48(@ForAll("mappings") List<Mapping> m) {
        stage1(BITMAP_16K, 48, 48, 48, false, m);
    }

    @Property(tries = 25)
    @Label("S1 16K 36/36 walks agree with iova_to_phys")
    void s1_16k_36(@ForAll("mappings") List<Mapping> m) {
        stage1(BITMAP_16K, 36, 36, 48, false, m);
    }

    @Property(tries = 25)
    @Label("S1 64K 48/48 walks agree with iova_to_phys")
    void s1_64k_48(@ForAll("mappings") List<Mapping> m) {
        stage1(BITMAP_64K, 48, 48, 48, false, m);
    }

    @Property(tries = 25)
    @Label("S1 64K 48/52 (OA[51:48] in bits 15:12, FEAT_LPA) walks agree with iova_to_phys")
    void s1_64k_52(@ForAll("mappings") List<Mapping> m) {
        stage1(BITMAP_64K, 48, 52, 52, false, m);
    }

    @Property(tries = 25)
    @Label("S1 4K 48/48 through TTBR1 (upper VA range) walks agree with iova_to_phys")
    void s1_4k_ttbr1(@ForAll("mappings") List<Mapping> m) {
        stage1(BITMAP_4K, 48, 48, 48, true, m);
    }

    @Property(tries = 25)
    @Label("S2 4K 40/40 (2 concatenated tables) walks agree with iova_to_phys")
    void s2_4k_40(@ForAll("mappings") List<Mapping> m) {
        stage2(BITMAP_4K, 40, 40, m);
    }

    @Property(tries = 25)
    @Label("S2 4K 42/42 (8 concatenated tables) walks agree with iova_to_phys")
    void s2_4k_42(@ForAll("mappings") List<Mapping> m) {
        stage2(BITMAP_4K, 42, 42, m);
    }

    @Property(tries = 25)
    @Label("S2 4K 48/48 (level 0 start) walks agree with iova_to_phys")
    void s2_4k_48(@ForAll("mappings") List<Mapping> m) {
        stage2(BITMAP_4K, 48, 48, m);
    }

    @Property(tries = 25)
    @Label("S2 16K 40/40 (16 concatenated tables) walks agree with iova_to_phys")
    void s2_16k_40(@ForAll("mappings") List<Mapping> m) {
        stage2(BITMAP_16K, 40, 40, m);
    }

    @Property(tries = 25)
    @Label("S2 16K 48/48 (2 concatenated level-1 tables) walks agree with iova_to_phys")
    void s2_16k_48(@ForAll("mappings") List<Mapping> m) {
        stage2(BITMAP_16K, 48, 48, m);
    }

    @Property(tries = 25)
    @Label("S2 64K 44/44 walks agree with iova_to_phys")
    void s2_64k_44(@ForAll("mappings") List<Mapping> m) {
        stage2(BITMAP_64K, 44, 44, m);
    }

    @Property(tries = 25)
    @Label("nested S1 4K 48-bit over S2 4K 40-bit walks agree with iova_to_phys of both tables")
    void nested(@ForAll("mappings") List<Mapping> mappings) {
        FrameAllocator frames = new FrameAllocator(new PhysicalMemory(1L << 30));
        ArmLpaePageTable s2pt = ArmLpaePageTable.alloc(ArmLpaeConfig.builder(PgtableFormat.ARM_64_LPAE_S2)
                .pgsizeBitmap(BITMAP_4K).ias(40).oas(48).build(), frames, TlbOps.NONE, WarningSink.IGNORE);
        ArmLpaePageTable s1pt = ArmLpaePageTable.alloc(ArmLpaeConfig.builder(PgtableFormat.ARM_64_LPAE_S1)
                .pgsizeBitmap(BITMAP_4K).ias(48).oas(48).build(), frames, TlbOps.NONE, WarningSink.IGNORE);
        Mapped done = new Mapped();
        long g1 = 1L << 30;
        // Stage 2: IPA = PA for the first GiB (where both tables live), and a 4 GiB window at 4 GiB
        // whose third GiB is left unmapped and whose second is read-only.
        assertThat(s2pt.mapPages(0, 0, g1, 1, Prot.RW, done.reset())).isZero();
        assertThat(s2pt.mapPages(4 * g1, 16 * g1, g1, 1, Prot.RW, done.reset())).isZero();
        assertThat(s2pt.mapPages(5 * g1, 17 * g1, g1, 1, Prot.READ, done.reset())).isZero();
        assertThat(s2pt.mapPages(7 * g1, 19 * g1, g1, 1, Prot.RW, done.reset())).isZero();
        long[] sizes = sizes(s1pt.config().pgsizeBitmap());
        List<long[]> mapped = new ArrayList<>();
        for (Mapping m : mappings) {
            long size = sizes[Math.min(m.sizeIndex(), sizes.length - 1)];
            long va = m.iova() & ((1L << 48) - 1) & -size;
            long ipa = 4 * g1 + (m.pa() & (4 * g1 - 1) & -size);
            int prot = PROTS[m.prot()];
            if (s1pt.mapPages(va, ipa, size, 1, prot, done.reset()) == 0) {
                mapped.removeIf(e -> e[0] - va >= 0 && e[0] - va < size);
                mapped.add(new long[] {va, size, prot});
            }
        }
        ArmLpaeConfig c1 = s1pt.config();
        ArmLpaeConfig c2 = s2pt.config();
        Stage1Config s1 = Stage1Config.builder().ttb0(Granule.fromTg0(c1.tcr().tg()), c1.tcr().tsz(), c1.ttbr())
                .outputSize(Stage1Config.psBits(c1.tcr().ips())).mair(c1.mair()).build();
        Stage2Config s2 = Stage2Config.of(Granule.fromTg0(c2.vtcr().tg()), c2.vtcr().tsz(), c2.vtcr().sl(), c2.ttbr(),
                Stage1Config.psBits(c2.vtcr().ps()));
        VmsaWalker walker = new VmsaWalker(frames.memory(), 48);
        WalkResult out = new WalkResult();
        for (int i = 0; i < mappings.size(); i++) {
            Mapping m = mappings.get(i);
            long va = m.hole() & ((1L << 48) - 1);
            int prot = -1;
            if (!mapped.isEmpty() && (m.offset() & 1) == 0) {
                long[] e = mapped.get(i % mapped.size());
                va = e[0] + (m.offset() & (e[1] - 1));
            }
            for (long[] e : mapped) {
                if (va - e[0] >= 0 && va - e[0] < e[1]) {
                    prot = (int) e[2];
                }
            }
            int priv = prot >= 0 && (prot & Prot.PRIV) != 0 ? VmsaWalker.ACCESS_PRIVILEGED : 0;
            long ipa = s1pt.iovaToPhys(va);
            boolean ok = walker.walkNested(s1, s2, va, priv | VmsaWalker.ACCESS_READ, out);
            if (ipa == 0) {
                assertThat(ok).as("%#x unmapped at stage 1", va).isFalse();
                assertThat(out.fault).isEqualTo(FaultKind.TRANSLATION);
                assertThat(out.faultStage).isEqualTo(1);
                continue;
            }
            long pa = s2pt.iovaToPhys(ipa);
            if (pa == 0) {
                assertThat(ok).as("%#x -> IPA %#x unmapped at stage 2", va, ipa).isFalse();
                assertThat(out.fault).isEqualTo(FaultKind.TRANSLATION);
                assertThat(out.faultStage).isEqualTo(2);
                assertThat(out.faultOnStage1Walk).isFalse();
                assertThat(out.faultInput).isEqualTo(ipa);
                continue;
            }
            assertThat(ok).as("nested walk of %#x: %s", va, out).isTrue();
            assertThat(out.outputAddress).isEqualTo(pa);
            assertThat(out.intermediateAddress).isEqualTo(ipa);
            boolean s2Writable = ipa >= 4 * g1 && (ipa < 5 * g1 || ipa >= 6 * g1);
            boolean w = walker.walkNested(s1, s2, va, priv | VmsaWalker.ACCESS_WRITE, out);
            assertThat(w).as("write to %#x", va).isEqualTo((prot & Prot.WRITE) != 0 && s2Writable);
            if (!w) {
                assertThat(out.fault).isEqualTo(FaultKind.PERMISSION);
                assertThat(out.faultStage).isEqualTo((prot & Prot.WRITE) == 0 ? 1 : 2);
            }
        }
    }

    // ---------------------------------------------------------------------------------------

    private void stage1(long bitmap, int ias, int oas, int paMax, boolean ttbr1, List<Mapping> mappings) {
        ArmLpaeConfig.Builder b = ArmLpaeConfig.builder(PgtableFormat.ARM_64_LPAE_S1).pgsizeBitmap(bitmap).ias(ias)
                .oas(oas);
        if (ttbr1) {
            b.quirk(ArmLpaeConfig.QUIRK_ARM_TTBR1);
        }
        ArmLpaePageTable pt = alloc(b.build());
        ArmLpaeConfig cfg = pt.config();
        ArmLpaeConfig.Tcr tcr = cfg.tcr();
        int t = ttbr1 ? 1 : 0;
        Granule g = ttbr1 ? Granule.fromTg1(tcr.tg()) : Granule.fromTg0(tcr.tg());
        Stage1Config s1 = Stage1Config.builder()
                .granule(t, g).tsz(t, tcr.tsz()).ttb(t, cfg.ttbr()).epd(t, false)
                .epd(1 - t, true)
                .outputSize(Stage1Config.psBits(tcr.ips())).mair(cfg.mair()).build();
        assertThat(s1.problem()).isNull();
        VmsaWalker walker = new VmsaWalker(pt.allocator().memory(), paMax);
        long top = ttbr1 ? -1L << cfg.ias() : 0;
        check(pt, mappings, top, (va, access, out) -> walker.walkStage1(s1, va, access, out), true);
    }

    private void stage2(long bitmap, int ias, int oas, List<Mapping> mappings) {
        ArmLpaePageTable pt = alloc(ArmLpaeConfig.builder(PgtableFormat.ARM_64_LPAE_S2).pgsizeBitmap(bitmap).ias(ias)
                .oas(oas).build());
        ArmLpaeConfig cfg = pt.config();
        ArmLpaeConfig.Vtcr vtcr = cfg.vtcr();
        Stage2Config s2 = Stage2Config.of(Granule.fromTg0(vtcr.tg()), vtcr.tsz(), vtcr.sl(), cfg.ttbr(),
                Stage1Config.psBits(vtcr.ps()));
        assertThat(s2.problem()).isNull();
        assertThat(s2.startLevel()).isEqualTo(cfg.geometry().startLevel());
        assertThat(s2.concatenatedTables()).isEqualTo(cfg.geometry().concatTables());
        VmsaWalker walker = new VmsaWalker(pt.allocator().memory(), 48);
        check(pt, mappings, 0, (va, access, out) -> walker.walkStage2(s2, va, access, out), false);
    }

    interface Walk {
        boolean walk(long input, int access, WalkResult out);
    }

    private static ArmLpaePageTable alloc(ArmLpaeConfig cfg) {
        return ArmLpaePageTable.alloc(cfg, new FrameAllocator(new PhysicalMemory(1L << 30)), TlbOps.NONE,
                WarningSink.IGNORE);
    }

    private static void check(ArmLpaePageTable pt, List<Mapping> mappings, long top, Walk walk, boolean stage1) {
        ArmLpaeConfig cfg = pt.config();
        long[] sizes = sizes(cfg.pgsizeBitmap());
        long inMask = (1L << cfg.ias()) - 1;
        long outMask = (1L << cfg.oas()) - 1;
        List<long[]> mapped = new ArrayList<>(); // iova, size, prot
        Mapped done = new Mapped();
        for (Mapping m : mappings) {
            long size = sizes[Math.min(m.sizeIndex(), sizes.length - 1)];
            long iova = top | (m.iova() & inMask & -size);
            // A non-zero PA, so iova_to_phys == 0 means "unmapped".
            long pa = (m.pa() & outMask & -size) | size;
            pa &= outMask;
            if (pa == 0) {
                pa = size;
            }
            int prot = PROTS[m.prot()];
            if (pt.mapPages(iova, pa, size, 1, prot, done.reset()) == 0) {
                // A block mapped over a table replaces the smaller mappings under it (io-pgtable-arm).
                long start = iova;
                mapped.removeIf(e -> e[0] - start >= 0 && e[0] - start < size);
                mapped.add(new long[] {iova, size, prot});
            }
        }
        WalkResult out = new WalkResult();
        for (int i = 0; i < mappings.size(); i++) {
            Mapping m = mappings.get(i);
            // A probe inside a mapping, when there is one, and one anywhere in the input range.
            if (!mapped.isEmpty()) {
                long[] e = mapped.get(i % mapped.size());
                probe(pt, walk, out, e[0] + (m.offset() & (e[1] - 1)), (int) e[2], stage1);
            }
            long anywhere = top | (m.hole() & inMask);
            int prot = -1;
            for (long[] e : mapped) {
                if (anywhere - e[0] >= 0 && anywhere - e[0] < e[1]) {
                    prot = (int) e[2];
                }
            }
            probe(pt, walk, out, anywhere, prot, stage1);
        }
    }

    private static void probe(ArmLpaePageTable pt, Walk walk, WalkResult out, long input, int prot, boolean stage1) {
        long expected = pt.iovaToPhys(input);
        // Read access; stage 1 asks as an unprivileged requester unless the mapping is PRIV.
        boolean priv = prot >= 0 && (prot & Prot.PRIV) != 0;
        int base = stage1 && priv ? VmsaWalker.ACCESS_PRIVILEGED : 0;
        boolean ok = walk.walk(input, base | VmsaWalker.ACCESS_READ, out);
        if (expected == 0) {
            assertThat(ok).as("%#x is unmapped", input).isFalse();
            assertThat(out.fault).isEqualTo(FaultKind.TRANSLATION);
            return;
        }
        if ((prot & Prot.READ) == 0) {
            // A write-only stage-2 mapping (S2AP = 10) refuses reads; stage 1 has no write-only encoding.
            if (!stage1) {
                assertThat(ok).as("read of write-only %#x", input).isFalse();
                assertThat(out.fault).isEqualTo(FaultKind.PERMISSION);
                ok = walk.walk(input, VmsaWalker.ACCESS_WRITE, out);
            } else {
                ok = walk.walk(input, base | VmsaWalker.ACCESS_READ, out);
            }
        }
        assertThat(ok).as("walk of %#x: %s", input, out).isTrue();
        assertThat(out.outputAddress).as("output of %#x", input).isEqualTo(expected);
        assertThat((out.permissions & WalkResult.PERM_WRITE) != 0).as("W of %#x", input)
                .isEqualTo((prot & Prot.WRITE) != 0);
        assertThat(walk.walk(input, base | VmsaWalker.ACCESS_WRITE, out)).isEqualTo((prot & Prot.WRITE) != 0);
        if (!out.ok()) {
            assertThat(out.fault).isEqualTo(FaultKind.PERMISSION);
        }
        // Execution by the requester the mapping was made for (privileged exec of an EL0-writable page
        // is never allowed, so probe exec unprivileged unless the mapping is PRIV).
        boolean exec = walk.walk(input, base | VmsaWalker.ACCESS_EXEC, out);
        boolean el0Writable = stage1 && !priv && (prot & Prot.WRITE) != 0;
        assertThat(exec).as("X of %#x", input).isEqualTo((prot & Prot.NOEXEC) == 0 && !(priv && el0Writable));
    }

    private static long[] sizes(long bitmap) {
        long[] s = new long[Long.bitCount(bitmap)];
        int i = 0;
        for (long b = bitmap; b != 0; b &= b - 1) {
            s[i++] = Long.lowestOneBit(b);
        }
        return s;
    }
}
