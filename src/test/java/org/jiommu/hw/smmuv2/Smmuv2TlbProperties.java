package org.jiommu.hw.smmuv2;

import static org.assertj.core.api.Assertions.assertThat;
import static org.jiommu.hw.smmuv2.Smmuv2Regs.*;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Label;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.jiommu.base.Prot;
import org.jiommu.pgtable.IotlbGather;
import org.jiommu.pgtable.Mapped;
import org.jiommu.pgtable.arm.ArmLpaePageTable;

/**
 * Random map / unmap / invalidate / DMA programs on one stage-1 bank with TTBR0 and TTBR1
 * tables, against a reference that knows only the rules: a DMA uses the TLB's entry if the page
 * was translated before and not invalidated since (the TLB is large enough never to evict),
 * else the table in memory; TLBIVA drops one page of the ASID, TLBIASID all of them.
 */
class Smmuv2TlbProperties {
    private static final int SID = 7;
    private static final int ASID = 4;
    private static final int PAGES = 4;
    private static final long TOP = 0xFFFF_0000_0000_0000L;

    /** kind: 0 map, 1 unmap without TLBI, 2 unmap + TLBIVA, 3 TLBIASID, 4..5 nothing; then a DMA to the page. */
    record Op(int kind, int page, boolean high, int pa) {
    }

    @Provide
    Arbitrary<List<Op>> programs() {
        return Combinators.combine(Arbitraries.integers().between(0, 5), Arbitraries.integers().between(0, PAGES - 1),
                Arbitraries.of(false, true), Arbitraries.integers().between(0, 255)).as(Op::new)
                .list().ofMinSize(1).ofMaxSize(60);
    }

    private static long iova(int page, boolean high) {
        return (high ? TOP : 0) | 0x4000_0000L | (long) page << 12;
    }

    @Property(tries = 100)
    @Label("S11 DMA through TTBR0 and TTBR1 follows the table, or the TLB's entry until TLBIVA / TLBIASID drops it")
    void tlbFollowsInvalidations(@ForAll("programs") List<Op> program) {
        Smmuv2Bed bed = new Smmuv2Bed();
        ArmLpaePageTable low = bed.s1Table(false);
        ArmLpaePageTable high = bed.s1Table(true);
        bed.s1Bank(0, low, high, ASID);
        bed.stream(0, SID, 0, s2cr(S2CR_TYPE_TRANS, 0));
        bed.enable(SCR0_USFCFG);
        long cb = bed.unit.cbOffset(0);
        Map<Long, Long> table = new HashMap<>();
        Map<Long, Long> tlb = new HashMap<>();
        for (Op op : program) {
            long va = iova(op.page(), op.high());
            ArmLpaePageTable pt = op.high() ? high : low;
            switch (op.kind()) {
                case 0 -> {
                    long pa = 0x1000_0000L + ((long) op.pa() << 12);
                    int rc = pt.mapPages(va, pa, 4096, 1, Prot.RW, new Mapped());
                    assertThat(rc == 0).isEqualTo(!table.containsKey(va));
                    table.putIfAbsent(va, pa);
                }
                case 1, 2 -> {
                    long n = pt.unmapPages(va, 4096, 1, new IotlbGather());
                    assertThat(n).isEqualTo(table.remove(va) != null ? 4096 : 0);
                    if (op.kind() == 2) {
                        bed.unit.writeq(cb + CB_TLBIVA, (va >>> 12 & ((1L << 44) - 1)) | (long) ASID << 48);
                        bed.unit.writel(cb + CB_TLBSYNC, 0);
                        tlb.remove(va);
                    }
                }
                case 3 -> {
                    bed.unit.writel(cb + CB_TLBIASID, ASID);
                    bed.unit.writel(cb + CB_TLBSYNC, 0);
                    tlb.clear();
                }
                default -> {
                    // a DMA only, below
                }
            }
            // Every step ends with a DMA to the address it touched.
            Long expect = tlb.containsKey(va) ? tlb.get(va) : table.get(va);
            boolean ok = bed.read(SID, va + 0x18);
            assertThat(ok).as("DMA %#x after %s", va, op).isEqualTo(expect != null);
            if (expect != null) {
                assertThat(bed.out.pa).isEqualTo(expect + 0x18);
                tlb.put(va, expect);
            } else {
                assertThat(bed.out.faultCode).isEqualTo(FSR_TF);
            }
            bed.unit.writel(cb + CB_FSR, -1);
        }
    }
}
