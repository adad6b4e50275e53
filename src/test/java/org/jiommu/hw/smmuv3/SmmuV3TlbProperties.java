package org.jiommu.hw.smmuv3;

import static org.assertj.core.api.Assertions.assertThat;
import static org.jiommu.hw.smmuv3.SmmuBed.*;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Label;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.jiommu.base.Prot;
import org.jiommu.bus.dma.TranslationResult;
import org.jiommu.pgtable.arm.ArmLpaePageTable;

/**
 * The TLB rule against a reference model: a DMA sees the translation the TLB cached until a
 * TLBI that covers it runs, and the tables (io-pgtable-arm's iova_to_phys) otherwise. Random
 * programs of map, unmap with or without TLBI_NH_VA / TLBI_NH_ASID, and DMA over 16 pages.
 */
class SmmuV3TlbProperties {
    static final long VA = 0x7_0000_0000L;

    /** op: 0 map, 1 unmap + TLBI_NH_VA, 2 unmap without TLBI, 3 TLBI_NH_ASID, 4..7 DMA; page; pa frame. */
    record Op(int op, int page, int frame) {
    }

    @Provide
    Arbitrary<List<Op>> programs() {
        return net.jqwik.api.Combinators.combine(Arbitraries.integers().between(0, 7),
                        Arbitraries.integers().between(0, 15), Arbitraries.integers().between(0x100, 0x1ff))
                .as(Op::new).list().ofMaxSize(60);
    }

    @Property(tries = 60)
    @Label("DMA = the cached translation until a covering TLBI, else iova_to_phys")
    void tlbFollowsInvalidations(@ForAll("programs") List<Op> program) {
        SmmuBed bed = new SmmuBed().enable(4);
        ArmLpaePageTable t = bed.s1Table();
        bed.writeWords(CDTAB, cdWords(t, 5));
        bed.writeSte(2, s1Ste(CDTAB, 0, 0));
        Map<Integer, Long> tlb = new HashMap<>();
        TranslationResult out = new TranslationResult();
        for (Op op : program) {
            long va = VA + ((long) op.page() << 12);
            switch (op.op()) {
                case 0 -> {
                    if (t.iovaToPhys(va) == 0) {
                        map(t, va, (long) op.frame() << 12, 0x1000, Prot.RW);
                    }
                }
                case 1 -> {
                    t.unmapPages(va, 0x1000, 1, null);
                    bed.submit(SmmuCommand.tlbiNhVa(0, 5, va, true), SmmuCommand.sync(0, 0, 0));
                    tlb.remove(op.page());
                }
                case 2 -> t.unmapPages(va, 0x1000, 1, null);
                case 3 -> {
                    bed.submit(SmmuCommand.tlbiNhAsid(0, 5));
                    tlb.clear();
                }
                default -> {
                    boolean ok = bed.unit.translate(2, -1, va + 8, false, false, out);
                    Long cached = tlb.get(op.page());
                    long expected = cached != null ? cached : t.iovaToPhys(va);
                    if (expected == 0) {
                        assertThat(ok).as("page %d unmapped and not cached", op.page()).isFalse();
                        assertThat(bed.event()[0] & 0xff).isEqualTo(SmmuEvent.F_TRANSLATION);
                    } else {
                        assertThat(ok).as("page %d", op.page()).isTrue();
                        assertThat(out.pa).isEqualTo(expected + 8);
                        tlb.put(op.page(), expected);
                    }
                }
            }
        }
    }
}
