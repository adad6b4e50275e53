package org.jiommu.pgtable.arm;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;
import java.util.TreeSet;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Label;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Tuple;
import org.jiommu.base.Prot;
import org.jiommu.mem.FrameAllocator;
import org.jiommu.pgtable.IotlbGather;
import org.jiommu.pgtable.Mapped;
import org.jiommu.pgtable.PgtableFormat;

/**
 * Random map / unmap / iova_to_phys sequences against {@link LpaeReferenceModel}, for both
 * stages and every granule (concatenated stage-2 PGDs included): every return value, every
 * translation and finally every descriptor agree, and free() gives every table page back.
 */
class ArmLpaePropertiesTest {
    enum Kind { MAP, UNMAP, PHYS }

    /**
     * One step. {@code sizeIndex} picks a page size (0 = granule); the IOVA is
     * {@code cluster base + slot * size}; clusters sit at 0, mid-window, and at the top of the IAS.
     */
    record Action(Kind kind, int sizeIndex, int cluster, int slot, int count, int prot, long probe) {
    }

    @Provide
    Arbitrary<List<Action>> actions() {
        Arbitrary<Action> one = Combinators.combine(
                Arbitraries.of(Kind.MAP, Kind.MAP, Kind.UNMAP, Kind.PHYS),
                Arbitraries.integers().between(0, 2),
                Arbitraries.integers().between(0, 3),
                // Mostly near the cluster base so maps and unmaps meet; sometimes across table pages.
                Arbitraries.frequencyOf(Tuple.of(3, Arbitraries.integers().between(0, 40)),
                        Tuple.of(1, Arbitraries.integers().between(0, 1100))),
                Arbitraries.integers().between(1, 700),
                Arbitraries.of(Prot.RW, Prot.READ, Prot.WRITE | Prot.CACHE, Prot.RW | Prot.NOEXEC),
                Arbitraries.longs().between(0, Long.MAX_VALUE)).as(Action::new);
        return one.list().ofMinSize(1).ofMaxSize(40);
    }

    @Property(tries = 60)
    @Label("S1 4K 48/48 agrees with the reference model")
    void s1_4k(@ForAll("actions") List<Action> actions) {
        run(PgtableFormat.ARM_64_LPAE_S1, LpaeTestSupport.BITMAP_4K, 48, 48, actions);
    }

    @Property(tries = 60)
    @Label("S1 16K 48/48 (2-entry pgd) agrees with the reference model")
    void s1_16k(@ForAll("actions") List<Action> actions) {
        run(PgtableFormat.ARM_64_LPAE_S1, LpaeTestSupport.BITMAP_16K, 48, 48, actions);
    }

    @Property(tries = 60)
    @Label("S1 64K 48/48 agrees with the reference model")
    void s1_64k(@ForAll("actions") List<Action> actions) {
        run(PgtableFormat.ARM_64_LPAE_S1, LpaeTestSupport.BITMAP_64K, 48, 48, actions);
    }

    @Property(tries = 60)
    @Label("S2 4K 40/40 (2 concatenated tables) agrees with the reference model")
    void s2_4k(@ForAll("actions") List<Action> actions) {
        run(PgtableFormat.ARM_64_LPAE_S2, LpaeTestSupport.BITMAP_4K, 40, 40, actions);
    }

    @Property(tries = 60)
    @Label("S2 16K 40/40 (16 concatenated tables) agrees with the reference model")
    void s2_16k(@ForAll("actions") List<Action> actions) {
        run(PgtableFormat.ARM_64_LPAE_S2, LpaeTestSupport.BITMAP_16K, 40, 40, actions);
    }

    @Property(tries = 60)
    @Label("S2 64K 48/48 agrees with the reference model")
    void s2_64k(@ForAll("actions") List<Action> actions) {
        run(PgtableFormat.ARM_64_LPAE_S2, LpaeTestSupport.BITMAP_64K, 48, 48, actions);
    }

    private void run(PgtableFormat format, long bitmap, int ias, int oas, List<Action> actions) {
        FrameAllocator frames = LpaeTestSupport.frames();
        LpaeTestSupport.CheckingTlb tlb = new LpaeTestSupport.CheckingTlb();
        ArmLpaePageTable t = ArmLpaePageTable.alloc(LpaeTestSupport.cfg(format, bitmap, ias, oas)
                .quirks(ArmLpaeConfig.QUIRK_NO_WARN).build(), frames, tlb, (w, m) -> { });
        tlb.bitmap = t.pgsizeBitmap();
        LpaeReferenceModel model = new LpaeReferenceModel(t.geometry());
        long[] sizes = new long[3];
        int nSizes = 0;
        for (long b = t.pgsizeBitmap(); b != 0; b &= b - 1) {
            sizes[nSizes++] = Long.lowestOneBit(b);
        }
        long largest = sizes[nSizes - 1];
        long top = 1L << t.ias();
        long[] clusters = {0, largest / 2, 3 * largest, top - 2 * largest};
        long paFlip = 1L << (t.oas() - 1);
        Mapped mapped = new Mapped();
        IotlbGather gather = new IotlbGather();

        for (Action a : actions) {
            long size = sizes[Math.min(a.sizeIndex(), nSizes - 1)];
            long base = clusters[a.cluster()];
            long span = Math.max(1, Math.min(1100, (2 * largest) / size));
            long iova = (base + (a.slot() % span) * size) & (top - 1) & -size;
            long count = size == largest ? 1 + a.count() % 3 : a.count();
            switch (a.kind()) {
                case MAP: {
                    long pa = iova ^ paFlip;
                    long[] expected = model.map(iova, pa, size, count);
                    mapped.reset();
                    int ret = t.mapPages(iova, pa, size, count, a.prot(), mapped);
                    assertThat(new long[] {ret, mapped.bytes}).as("map %#x -> %#x size %#x x%d", iova, pa, size, count)
                            .containsExactly(expected);
                    break;
                }
                case UNMAP: {
                    long expected = model.unmap(iova, size, count);
                    gather.reset();
                    long got = t.unmapPages(iova, size, count, gather);
                    assertThat(got).as("unmap %#x size %#x x%d", iova, size, count).isEqualTo(expected);
                    if (got != 0) {
                        assertThat(gather.start).isEqualTo(iova);
                        assertThat(gather.end).isEqualTo(iova + got - 1);
                    }
                    break;
                }
                case PHYS: {
                    long probe = (iova + Long.remainderUnsigned(a.probe(), 2 * largest)) & (top - 1);
                    assertThat(t.iovaToPhys(probe)).as("iova_to_phys %#x", probe).isEqualTo(model.iovaToPhys(probe));
                    break;
                }
                default:
                    throw new AssertionError(a.kind());
            }
        }

        // Every descriptor in memory is one the model expects.
        TreeMap<Long, long[]> leaves = new TreeMap<>();
        List<TreeSet<Long>> tables = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            tables.add(new TreeSet<>());
        }
        t.walk((level, va, sz, pte, leaf) -> {
            if (leaf) {
                leaves.put(va, new long[] {sz, pte & 0x0000_FFFF_FFFF_F000L});
            } else {
                tables.get(level).add(va);
            }
        });
        assertThat(leaves.keySet()).isEqualTo(model.leaves.keySet());
        leaves.forEach((va, v) -> assertThat(v).as("leaf at %#x", va).containsExactly(model.leaves.get(va)));
        for (int l = 0; l < 4; l++) {
            assertThat(tables.get(l)).as("tables at level %d", l).isEqualTo(model.tables[l]);
        }
        assertThat(tlb.violations).isEmpty();

        t.free();
        assertThat(frames.stats().allocatedBytes()).isZero();
        assertThat(frames.stats().liveBlocks()).isZero();
    }
}
