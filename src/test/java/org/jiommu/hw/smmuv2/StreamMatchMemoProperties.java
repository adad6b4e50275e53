package org.jiommu.hw.smmuv2;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Label;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/**
 * {@link StreamMatch} remembers the outcome of the stream ids it matched; the reference is the
 * loop over the SMRs ({@link StreamMatch#scan}) that it skips. Few ids, masks and SMRs, so
 * matches, multi-matches, misses and ids sharing a memo slot all come up.
 */
class StreamMatchMemoProperties {

    record Smr(boolean valid, int id, int mask) {
    }

    @Provide
    Arbitrary<List<Smr>> smrs() {
        // Ids in a narrow band so SMRs overlap; masks of 0-3 low bits.
        Arbitrary<Smr> smr = Combinators.combine(Arbitraries.of(true, true, true, false),
                Arbitraries.integers().between(0, 7).map(i -> i * 0x100 + 0x10),
                Arbitraries.of(0, 1, 3, 0x100, 0x7fff)).as(Smr::new);
        return smr.list().ofMinSize(1).ofMaxSize(16);
    }

    @Provide
    Arbitrary<List<Integer>> sids() {
        // Ids 0x10 + k*0x100 (+0..3) collide in the 256-slot memo; some beyond 15 bits; negatives.
        Arbitrary<Integer> sid = Arbitraries.oneOf(
                Arbitraries.integers().between(0, 7).map(i -> i * 0x100 + 0x10),
                Arbitraries.integers().between(0, 7).map(i -> i * 0x100 + 0x13),
                Arbitraries.integers().between(0, 0x7fff),
                Arbitraries.of(0x8000, 0x10010, -1, -0x7ff0));
        return sid.list().ofMaxSize(60);
    }

    @Property(tries = 300)
    @Label("a stream id's remembered S2CR index is the one the loop over the SMRs gives, asked in any order")
    void memoAgreesWithScan(@ForAll("smrs") List<Smr> smrs, @ForAll("sids") List<Integer> sids) {
        int[] smr = new int[smrs.size()];
        int[] s2cr = new int[smrs.size()];
        for (int n = 0; n < smr.length; n++) {
            Smr s = smrs.get(n);
            smr[n] = Smmuv2Regs.smr(s.id(), s.mask(), s.valid());
        }
        StreamMatch m = new StreamMatch(smr, s2cr, 15);
        StreamMatch reference = new StreamMatch(smr, s2cr, 15);
        for (int sid : sids) {
            int expected = reference.scan(sid);
            assertThat(m.match(sid)).as("sid %#x", sid).isEqualTo(expected);
            assertThat(m.match(sid)).as("sid %#x again", sid).isEqualTo(expected);
        }
    }
}
