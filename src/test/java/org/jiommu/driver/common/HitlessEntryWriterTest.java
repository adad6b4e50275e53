package org.jiommu.driver.common;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * The hitless entry writer on two small formats shaped like SMMUv3's STE and CD, with the checks
 * the kernel's KUnit test (arm-smmu-v3-test.c) makes: the number of syncs, whether the update
 * went through an invalid entry, and that at every sync the entry the hardware would fetch equals
 * the old one on the old configuration's used bits or the new one on the new configuration's.
 */
class HitlessEntryWriterTest {
    // ---- a 4-word mini STE: V, CFG and the S1 context pointer in word 0; S1DSS/EATS/SHCFG in 1;
    // VMID/T0SZ in 2; the S2 table in 3 (the real STE's split of used bits per CFG) ----
    static final long V = 1;
    static final long CFG = 7L << 1;
    static final long CFG_ABORT = 0, CFG_BYPASS = 4L << 1, CFG_S1 = 5L << 1, CFG_S2 = 6L << 1;
    static final long S1CTXPTR = 0x000F_FFFF_FFFF_FFC0L;
    static final long S1DSS = 3, EATS = 3L << 28, SHCFG = 3L << 44;
    static final long VMID = 0xFFFF, T0SZ = 0x3FL << 32;
    static final long S2TTB = 0x000F_FFFF_FFFF_FFF0L;

    /** arm_smmu_get_ste_used, on the mini layout. */
    static final HitlessEntryWriter.EntryFormat STE = new HitlessEntryWriter.EntryFormat() {
        @Override
        public int qwords() {
            return 4;
        }

        @Override
        public long[] usedBits(long[] e) {
            long[] u = new long[4];
            u[0] = V;
            if ((e[0] & V) == 0) {
                return u;
            }
            u[0] |= CFG;
            long cfg = e[0] & CFG;
            if (cfg == CFG_BYPASS) {
                u[1] |= SHCFG;
            } else if (cfg == CFG_S1) {
                u[0] |= S1CTXPTR;
                u[1] |= S1DSS | EATS;
                u[2] |= VMID;
            } else if (cfg == CFG_S2) {
                u[1] |= EATS | SHCFG;
                u[2] |= VMID | T0SZ;
                u[3] |= S2TTB;
            }
            return u;
        }
    };

    static long[] abort() {
        return new long[] {V | CFG_ABORT, 0, 0, 0};
    }

    static long[] bypass() {
        return new long[] {V | CFG_BYPASS, 1L << 44, 0, 0};
    }

    static long[] s1(long cdTable, int vmid) {
        return new long[] {V | CFG_S1 | cdTable, 1 | (1L << 28), vmid, 0};
    }

    static long[] s2(long ttb, int vmid) {
        return new long[] {V | CFG_S2, (1L << 28) | (1L << 44), vmid | (25L << 32), ttb};
    }

    // ---- a 2-word mini CD: V, T0SZ and the ASID in word 0, TTB0 in word 1 ----
    static final long ASID = 0xFFFFL << 48, CD_T0SZ = 0x3FL << 1, TTB0 = 0x000F_FFFF_FFFF_FFF0L;

    /** arm_smmu_get_cd_used, on the mini layout: an invalid CD uses only V. */
    static final HitlessEntryWriter.EntryFormat CD = new HitlessEntryWriter.EntryFormat() {
        @Override
        public int qwords() {
            return 2;
        }

        @Override
        public long[] usedBits(long[] e) {
            return (e[0] & V) == 0 ? new long[] {V, 0} : new long[] {V | CD_T0SZ | ASID, TTB0};
        }
    };

    static long[] cd(int asid, long ttb0) {
        return new long[] {V | (16L << 1) | ((long) asid << 48), ttb0};
    }

    /** A store that checks, at every sync, what the hardware could fetch (arm_smmu_test_writer_record_syncs). */
    static final class RecordingStore implements HitlessEntryWriter.EntryStore {
        final HitlessEntryWriter.EntryFormat format;
        final long[] init;
        final long[] target;
        final long[] entry;
        int syncs;
        boolean invalidSeen;
        final List<String> violations = new ArrayList<>();

        RecordingStore(HitlessEntryWriter.EntryFormat format, long[] init, long[] target) {
            this.format = format;
            this.init = init.clone();
            this.target = target.clone();
            this.entry = init.clone();
        }

        @Override
        public long read(int qword) {
            return entry[qword];
        }

        @Override
        public void write(int qword, long value) {
            entry[qword] = value;
        }

        void sync() {
            syncs++;
            if ((entry[0] & V) == 0) {
                invalidSeen = true;
                return;
            }
            if (differsInUsed(init) && differsInUsed(target)) {
                violations.add("sync " + syncs + ": " + Arrays.toString(entry) + " is neither old nor new");
            }
        }

        private boolean differsInUsed(long[] reference) {
            long[] used = format.usedBits(reference);
            for (int i = 0; i < entry.length; i++) {
                if ((entry[i] & used[i]) != (reference[i] & used[i])) {
                    return true;
                }
            }
            return false;
        }
    }

    static RecordingStore update(HitlessEntryWriter.EntryFormat format, long[] from, long[] to,
                                 HitlessEntryWriter.Result[] result) {
        RecordingStore s = new RecordingStore(format, from, to);
        result[0] = new HitlessEntryWriter(format).write(s, to, s::sync);
        return s;
    }

    /** arm_smmu_v3_test_ste_expect_transition / _hitless_transition, both directions. */
    static void expectTransition(HitlessEntryWriter.EntryFormat format, long[] from, long[] to, int syncs,
                                 boolean hitless) {
        for (long[][] pair : new long[][][] {{from, to}, {to, from}}) {
            HitlessEntryWriter.Result[] r = new HitlessEntryWriter.Result[1];
            RecordingStore s = update(format, pair[0], pair[1], r);
            assertThat(s.entry).as("final entry").containsExactly(pair[1]);
            assertThat(s.violations).isEmpty();
            assertThat(s.syncs).as("syncs").isEqualTo(syncs);
            assertThat(r[0].syncs()).isEqualTo(syncs);
            assertThat(s.invalidSeen).as("went through an invalid entry").isEqualTo(!hitless);
            assertThat(r[0].breaking()).isEqualTo(!hitless);
        }
    }

    @Test
    @DisplayName("STE bypass <-> abort: hitless, 2 syncs (SHCFG set before / cleared after the CFG word)")
    void bypassAbort() {
        expectTransition(STE, bypass(), abort(), 2, true);
    }

    @Test
    @DisplayName("STE S1 (CD table) <-> abort and S2 <-> abort: hitless, 2 syncs")
    void translatingAbort() {
        expectTransition(STE, s1(0x4000_0000L, 0), abort(), 2, true);
        expectTransition(STE, s2(0x5000_0000L, 3), abort(), 2, true);
    }

    @Test
    @DisplayName("STE S1 <-> bypass: hitless, 3 syncs (unused bits first, the CFG word, then the leftovers)")
    void s1Bypass() {
        expectTransition(STE, s1(0x4000_0000L, 0), bypass(), 3, true);
    }

    @Test
    @DisplayName("STE S1 <-> S2 with another VMID: not hitless, 3 syncs through V = 0")
    void s1S2() {
        expectTransition(STE, s1(0x4000_0000L, 0), s2(0x5000_0000L, 3), 3, false);
    }

    @Test
    @DisplayName("STE S2 table or S1 CD-table change: one word, 1 sync")
    void oneWord() {
        expectTransition(STE, s2(0x5000_0000L, 3), s2(0x6000_0000L, 3), 1, true);
        expectTransition(STE, s1(0x4000_0000L, 0), s1(0x4100_0000L, 0), 1, true);
    }

    @Test
    @DisplayName("STE from and to an all-zero (invalid) entry: 2 syncs, valid bit written last / cleared first")
    void fromAndToInvalid() {
        HitlessEntryWriter.Result[] r = new HitlessEntryWriter.Result[1];
        RecordingStore s = update(STE, new long[4], s2(0x5000_0000L, 3), r);
        assertThat(s.entry).containsExactly(s2(0x5000_0000L, 3));
        assertThat(s.syncs).isEqualTo(2);
        assertThat(s.violations).isEmpty();
        s = update(STE, s2(0x5000_0000L, 3), new long[4], r);
        assertThat(s.entry).containsExactly(new long[4]);
        assertThat(s.syncs).isEqualTo(2);
    }

    @Test
    @DisplayName("CD: ASID change 1 sync; clear 2 syncs; ASID and table together not hitless, 3 syncs")
    void contextDescriptor() {
        expectTransition(CD, cd(1, 0x7000_0000L), cd(2, 0x7000_0000L), 1, true);
        expectTransition(CD, cd(1, 0x7000_0000L), cd(1, 0x7100_0000L), 1, true);
        expectTransition(CD, cd(1, 0x7000_0000L), cd(2, 0x7100_0000L), 3, false);
        HitlessEntryWriter.Result[] r = new HitlessEntryWriter.Result[1];
        RecordingStore s = update(CD, cd(1, 0x7000_0000L), new long[2], r);
        assertThat(s.syncs).isEqualTo(2);
        assertThat(s.entry).containsExactly(0, 0);
    }

    @Test
    @DisplayName("An identical entry needs no write and no sync")
    void unchanged() {
        HitlessEntryWriter.Result[] r = new HitlessEntryWriter.Result[1];
        RecordingStore s = update(STE, s1(0x4000_0000L, 0), s1(0x4000_0000L, 0), r);
        assertThat(s.syncs).isZero();
        assertThat(r[0]).isEqualTo(new HitlessEntryWriter.Result(0, false));
    }

    @Test
    @DisplayName("A target with bits outside its used bits is refused before anything is written")
    void badTarget() {
        long[] bad = abort();
        bad[3] = 0x1000; // abort does not use word 3
        RecordingStore s = new RecordingStore(STE, bypass(), bad);
        assertThatThrownBy(() -> new HitlessEntryWriter(STE).write(s, bad, s::sync))
                .isInstanceOf(IllegalArgumentException.class);
        assertThat(s.entry).containsExactly(bypass());
        assertThat(s.syncs).isZero();
    }

    @Provide
    Arbitrary<long[]> stes() {
        return Arbitraries.oneOf(
                Arbitraries.just(new long[4]),
                Arbitraries.just(abort()),
                Arbitraries.just(bypass()),
                Arbitraries.longs().between(1, 0x3FF).flatMap(ctx -> Arbitraries.integers().between(0, 3)
                        .map(vmid -> s1(ctx << 12, vmid))),
                Arbitraries.longs().between(1, 0x3FF).flatMap(ttb -> Arbitraries.integers().between(0, 3)
                        .map(vmid -> s2(ttb << 12, vmid))));
    }

    /**
     * Against the rule itself: any update ends at the target, every sync shows old or new, the
     * entry goes invalid only when more than one word's used bits change, and the syncs never
     * exceed 3.
     */
    @Property(tries = 400)
    void anyUpdateIsSafe(@ForAll("stes") long[] from, @ForAll("stes") long[] to) {
        HitlessEntryWriter.Result[] r = new HitlessEntryWriter.Result[1];
        RecordingStore s = update(STE, from, to, r);
        assertThat(s.entry).containsExactly(to);
        assertThat(s.violations).isEmpty();
        assertThat(s.syncs).isBetween(0, 3);
        int wordsDiffering = 0;
        long[] uf = STE.usedBits(from);
        long[] ut = STE.usedBits(to);
        for (int i = 0; i < 4; i++) {
            long fromValueSeenByTo = (from[i] & uf[i]) | (to[i] & ~uf[i]);
            if ((fromValueSeenByTo & ut[i]) != to[i]) {
                wordsDiffering++;
            }
        }
        boolean fromValid = (from[0] & V) != 0;
        assertThat(r[0].breaking()).isEqualTo(wordsDiffering > 1);
        if (!r[0].breaking() && fromValid) {
            assertThat(s.invalidSeen).as("a hitless update of a valid entry never shows it invalid")
                    .isEqualTo((to[0] & V) == 0);
        }
    }
}
