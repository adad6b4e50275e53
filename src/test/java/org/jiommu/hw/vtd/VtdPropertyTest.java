package org.jiommu.hw.vtd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.jiommu.hw.vtd.VtdTestEncoder.*;

import java.util.ArrayList;
import java.util.List;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Label;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.LongRange;

/** Properties of the unit against simple reference models. */
class VtdPropertyTest {

    /** A mapped page of device {@code did} (SID 0x100 + did): 4 KiB pages below 2 MiB, 2 MiB pages above. */
    record Page(int did, int shift, int index) {
        long iova() {
            return (long) index << shift;
        }

        long pa() {
            return 0x1_0000_0000L + ((long) did << 28) + iova();
        }
    }

    @Provide
    Arbitrary<List<Page>> pages() {
        Arbitrary<Page> small = Combinators.combine(Arbitraries.integers().between(1, 2),
                Arbitraries.integers().between(0, 511)).as((d, i) -> new Page(d, 12, i));
        Arbitrary<Page> big = Combinators.combine(Arbitraries.integers().between(1, 2),
                Arbitraries.integers().between(1, 31)).as((d, i) -> new Page(d, 21, i));
        return Arbitraries.oneOf(small, big).list().ofMinSize(1).ofMaxSize(16).uniqueElements();
    }

    @Property(tries = 120)
    @Label("IOTLB page-selective invalidation (DID, address, AM) drops exactly the entries of that DID that overlap "
            + "the 2^AM-page aligned range, and nothing else")
    void pageSelectiveMatchesReference(@ForAll("pages") List<Page> pages, @ForAll @IntRange(min = 1, max = 2) int did,
                                       @ForAll @LongRange(min = 0, max = 0x3FF_FFFF) long address,
                                       @ForAll @IntRange(min = 0, max = 14) int am) {
        VtdTestBed bed = VtdTestBed.legacy(48);
        VtdTestBed.SlTable[] tables = {null, bed.new SlTable(4), bed.new SlTable(4)};
        for (int d = 1; d <= 2; d++) {
            bed.setLegacyContext(0x100 + d, legacyContext(tables[d].root, 0, 2, d, false));
        }
        List<Long> ptes = new ArrayList<>();
        for (Page p : pages) {
            ptes.add(tables[p.did()].map(p.iova(), p.pa(), p.shift(), true, true));
            assertThat(bed.pa(0x100 + p.did(), p.iova() + 8, false)).isEqualTo(p.pa() + 8);
        }
        for (long pte : ptes) {
            bed.mem.writeLong(pte, 0);
        }
        bed.submit(iotlbPage(did, address & ~0xFFFL, am, false, false, false));

        long size = 1L << (12 + am);
        long start = (address & ~0xFFFL) & -size;
        for (Page p : pages) {
            long pageSize = 1L << p.shift();
            boolean overlaps = p.iova() < start + size && start < p.iova() + pageSize;
            boolean dropped = p.did() == did && overlaps;
            long got = bed.pa(0x100 + p.did(), p.iova() + 8, false);
            assertThat(got).as("%s after PSI did %d start %#x size %#x", p, did, start, size)
                    .isEqualTo(dropped ? -FaultReason.READ : p.pa() + 8);
        }
    }

    @Property(tries = 300)
    @Label("ATS invalidation ranges: Linux's address/size encoding decodes to the aligned 2^(12+order) range")
    void atsRangeRoundTrip(@ForAll @IntRange(min = 0, max = 40) int order,
                           @ForAll @LongRange(min = 0, max = (1L << 56) - 1) long address,
                           @ForAll @IntRange(min = 0, max = 0xFFFFF) int pasid) throws InvDescriptor.Invalid {
        long size = 1L << (12 + order);
        long aligned = address & -size;
        long[] dt = devTlb(0x1234, 0x1234, 4, aligned, order);
        InvDescriptor.DeviceTlbInv d = (InvDescriptor.DeviceTlbInv) InvDescriptor.decode(dt[0], dt[1], 0, 0, false,
                VtdConfig.legacy(48));
        assertThat(d.rangeStart()).isEqualTo(aligned);
        assertThat(d.rangeSize()).isEqualTo(size);
        long[] pdt = devPiotlb(0x1234, 0x1234, pasid, 4, aligned, order, false);
        InvDescriptor.PasidDeviceTlbInv p = (InvDescriptor.PasidDeviceTlbInv) InvDescriptor.decode(pdt[0], pdt[1], 0,
                0, true, VtdConfig.scalable(48));
        assertThat(p.rangeStart()).isEqualTo(aligned);
        assertThat(p.rangeSize()).isEqualTo(size);
        assertThat(p.pasid()).isEqualTo(pasid);
    }

    @Property(tries = 200)
    @Label("any reserved bit set in a descriptor is refused with IQEI 4, the same descriptor without it is accepted")
    void reservedDescriptorBits(@ForAll @IntRange(min = 0, max = 127) int bit) {
        long[][] good = {ccDevice(0x100, 5, 1), iotlbPage(5, 0x10000, 2, true, true, true),
                devTlb(0x100, 0x100, 8, 0x10000, 2), invWait(true, false, true, 1, 0x1000),
                piotlbPages(5, 0x10, 0x40000, 3, true), pasidCache(1, 5, 0x10),
                devPiotlb(0x100, 0x100, 0x10, 8, 0x10000, 2, true), iecGlobal(),
                {0x0000_0010_0100_1019L, 0xD2CL}}; // page group response: RID 0x100, PASID 0x10, Invalid, PRGI 0x1A5, LPIG
        // Reserved bits per type (HARDWARE.md 2.7 field tables), qw0 then qw1; a PRS unit accepts PD
        // (bit 7) in a wait; the page group response (type 9) keeps 8:5 and 63:52, qw1 1:0 and 63:12.
        long[][] reserved = {{0xFFFC00000000F1C0L, -1L}, {0xFFFFFFFF0000F100L, 0xF80L},
                {0x000F0000FFE001F0L, 0xFFEL}, {0xFFFFF100L, 0x3L}, {0xFFF000000000F1C0L, 0xF80L},
                {0xFFF000000000F1C0L, -1L}, {0L, 0x7FEL}, {0xFFFF000007FFF1E0L, -1L},
                {0xFFF00000000001E0L, 0xFFFFFFFFFFFFF003L}};
        VtdConfig cfg = VtdConfig.scalable(48);
        for (int i = 0; i < good.length; i++) {
            long[] d = good[i].clone();
            d[bit / 64] |= 1L << (bit % 64);
            boolean isReserved = (reserved[i][bit / 64] & 1L << (bit % 64)) != 0;
            try {
                InvDescriptor.decode(good[i][0], good[i][1], 0, 0, true, cfg);
            } catch (InvDescriptor.Invalid e) {
                throw new AssertionError("valid descriptor " + i + " refused: " + e.getMessage());
            }
            if (isReserved) {
                try {
                    InvDescriptor.decode(d[0], d[1], 0, 0, true, cfg);
                    throw new AssertionError("descriptor " + i + " with reserved bit " + bit + " accepted");
                } catch (InvDescriptor.Invalid e) {
                    assertThat(e.iqei()).isEqualTo(VtdRegisters.IQEI_RESERVED_FIELD);
                }
            }
        }
    }
}
