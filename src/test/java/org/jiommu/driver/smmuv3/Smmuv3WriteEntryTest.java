package org.jiommu.driver.smmuv3;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.driver.common.EntryWrites;
import org.jiommu.driver.common.HitlessEntryWriter;
import org.jiommu.hw.smmuv3.ContextDescriptor;
import org.jiommu.hw.smmuv3.SmmuCommand;
import org.jiommu.hw.smmuv3.StreamTableEntry;
import org.jiommu.pgtable.arm.ArmLpaeConfig;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * The kernel's KUnit matrix for the hitless STE / CD update ({@code arm-smmu-v3-test.c}), one test
 * per case, run through the driver's own writer on a live SMMU: the entry sits in the stream table
 * (or a master's CD table) in simulated memory, the driver updates it with its CFGI_STE / CFGI_CD
 * + CMD_SYNC steps, and at every CMD_SYNC the entry is read back from memory and checked as the
 * KUnit test checks it: V = 0 counts as "invalid entry written" (not hitless), otherwise it must
 * equal the initial or the target entry on the bits its current configuration uses; and, decoded
 * by the hardware model ({@code hw.smmuv3}), it must be the initial or the target configuration.
 * Entries are built by the driver's makers with the KUnit SMMU's features (STALLS,
 * ATTR_TYPES_OVR); addresses are real ones so the hardware decode is meaningful.
 */
class Smmuv3WriteEntryTest {
    private static final Smmuv3Entries.SteFeatures KUNIT_SMMU = new Smmuv3Entries.SteFeatures(true, true);
    private static final long CDTAB = 0x4000_0000L;
    private static final long CDTAB_2 = 0x4B4B_4000L;
    private static final int SID = 0x300;

    private final Smmuv3Bed bed = new Smmuv3Bed(Smmuv3Bed.features());

    private static long[] cdtableSte(int s1dss, long cdtab, boolean ats, boolean stall) {
        return Smmuv3Entries.cdtableSte(KUNIT_SMMU, new Smmuv3Entries.CdTableRef(cdtab,
                StreamTableEntry.S1FMT_64K_L2, 20), ats, s1dss, stall);
    }

    /** A stage-2 STE over a 48-bit 4K table starting at level 0 (VMID 0, as the KUnit domain's). */
    private static long[] s2Ste(boolean ats) {
        return Smmuv3Entries.s2DomainSte(KUNIT_SMMU, 0, new ArmLpaeConfig.Vtcr(5, 0, 3, 1, 1, 2, 16), 0x5000_0000L, ats);
    }

    /** arm_smmu_test_make_cdtable_ste with ARM_SMMU_MASTER_TEST_NESTED: Config nested, MEV, the stage-2 words. */
    private static long[] nestedSte(int s1dss, boolean ats) {
        long[] s = cdtableSte(s1dss, CDTAB, ats, false);
        long[] s2 = s2Ste(false);
        s[0] |= (long) StreamTableEntry.CFG_NESTED << StreamTableEntry.CONFIG_SHIFT;
        s[1] |= Smmuv3Entries.STE_1_MEV;
        System.arraycopy(s2, 2, s, 2, 6);
        return s;
    }

    private static long[] s1Cd(int asid) {
        return Smmuv3Entries.s1Cd(asid, new ArmLpaeConfig.Tcr(5, 0, 3, 1, 1, 16), 0x6000_0000L, 0xf404ff44L, false);
    }

    private static long[] svaCd(int asid, boolean release) {
        return Smmuv3Entries.svaCd(asid, release ? 0 : 0x7000_0000L, 16, 5, 0xf404ff44L, false);
    }

    /** What one update did, as the test writer of arm-smmu-v3-test.c records it. */
    private record Outcome(int syncs, int cfgis, boolean invalidEntryWritten, List<String> torn, long[] finalEntry) {
    }

    private Outcome run(int cfgiOpcode, long[] init, long[] target, Function<long[], long[]> used,
                        java.util.function.BinaryOperator<long[]> safe, Function<long[], String> decode,
                        java.util.function.Supplier<long[]> read, Runnable write) {
        List<String> torn = new ArrayList<>();
        int[] counts = new int[2];
        boolean[] invalid = new boolean[1];
        String initCfg = decode.apply(init);
        String targetCfg = decode.apply(target);
        bed.drv.tapCommands(c -> {
            int op = SmmuCommand.opcode(c[0]);
            if (op == cfgiOpcode) {
                counts[1]++;
            }
            if (op != SmmuCommand.SYNC) {
                return;
            }
            counts[0]++;
            long[] e = read.get();
            if (e[0] == 0) {
                invalid[0] = true;
                return;
            }
            long[] u = used.apply(e);
            // As the KUnit writer checks since get_update_safe: safe bits may be either side's.
            long[] safeInit = safe.apply(e, init);
            long[] safeTarget = safe.apply(e, target);
            if (differs(e, without(u, safeInit), init) && differs(e, without(u, safeTarget), target)) {
                torn.add("sync " + counts[0] + ": entry matches neither side on its used bits");
            }
            String cfg = decode.apply(e);
            if (!cfg.equals(initCfg) && !cfg.equals(targetCfg) && !decode.apply(with(e, safeInit, init)).equals(initCfg)
                    && !decode.apply(with(e, safeTarget, target)).equals(targetCfg)) {
                torn.add("sync " + counts[0] + ": the hardware decodes " + cfg);
            }
        });
        write.run();
        bed.drv.tapCommands(null);
        return new Outcome(counts[0], counts[1], invalid[0], torn, read.get());
    }

    private static long[] without(long[] used, long[] safe) {
        long[] u = used.clone();
        for (int i = 0; i < u.length; i++) {
            u[i] &= ~safe[i];
        }
        return u;
    }

    /** {@code e} with its safe bits taken from {@code side}: what the hardware does the same either way. */
    private static long[] with(long[] e, long[] safe, long[] side) {
        long[] w = e.clone();
        for (int i = 0; i < w.length; i++) {
            w[i] = w[i] & ~safe[i] | side[i] & safe[i];
        }
        return w;
    }

    private static boolean differs(long[] e, long[] used, long[] other) {
        for (int i = 0; i < e.length; i++) {
            if ((e[i] & used[i]) != (other[i] & used[i])) {
                return true;
            }
        }
        return false;
    }

    /** The STE of SID 0x300 holds {@code init} (cached state made coherent), then the driver writes {@code target}. */
    private Outcome ste(long[] init, long[] target) {
        Smmuv3Tables t = bed.drv.tables();
        assertThat(t.initSid(SID)).isZero();
        EntryWrites.writePresentLast(bed.unit.memory(), t.steAddress(SID), init);
        return run(SmmuCommand.CFGI_STE, init, target, Smmuv3Entries::steUsed, Smmuv3Entries::steUpdateSafe,
                w -> StreamTableEntry.decode(w, bed.unit.features()).toString(),
                () -> EntryWrites.read(bed.unit.memory(), t.steAddress(SID), 8),
                () -> {
                    synchronized (bed.drv) {
                        t.writeSte(SID, target);
                    }
                });
    }

    private PciDevice nic;

    private Outcome cd(long[] init, long[] target) {
        if (nic == null) {
            nic = bed.endpoint("nic", false, 20, false);
            bed.add(nic);
        }
        Smmuv3Master m = bed.drv.master(nic);
        Smmuv3Tables t = bed.drv.tables();
        long p;
        synchronized (bed.drv) {
            p = t.allocCdPtr(m, 7);
        }
        EntryWrites.writePresentLast(bed.unit.memory(), p, init);
        return run(SmmuCommand.CFGI_CD, init, target, Smmuv3Entries::cdUsed, (a, b) -> new long[a.length],
                w -> (w[0] & ContextDescriptor.V) == 0 ? "invalid"
                        : ContextDescriptor.decode(w, bed.unit.features()).toString(),
                () -> EntryWrites.read(bed.unit.memory(), p, 8),
                () -> {
                    synchronized (bed.drv) {
                        t.writeCd(m, 7, p, target);
                    }
                });
    }

    private static void expect(Outcome o, long[] target, int syncs, boolean hitless) {
        assertThat(o.torn()).isEmpty();
        assertThat(o.syncs()).as("CMD_SYNCs").isEqualTo(syncs);
        assertThat(o.cfgis()).as("CFGI commands").isEqualTo(syncs);
        assertThat(o.invalidEntryWritten()).as("invalid entry written").isEqualTo(!hitless);
        assertThat(o.finalEntry()).containsExactly(target);
    }

    private void steHitless(long[] init, long[] target, int syncs) {
        expect(ste(init, target), target, syncs, true);
    }

    private final long[] abort = Smmuv3Entries.abortSte();
    private final long[] bypass = Smmuv3Entries.bypassSte(KUNIT_SMMU);

    @Test
    @DisplayName("arm_smmu_v3_write_ste_test_bypass_to_abort: hitless, 2 syncs")
    void bypassToAbort() {
        steHitless(bypass, abort, 2);
    }

    @Test
    @DisplayName("arm_smmu_v3_write_ste_test_abort_to_bypass: hitless, 2 syncs")
    void abortToBypass() {
        steHitless(abort, bypass, 2);
    }

    @Test
    @DisplayName("arm_smmu_v3_write_ste_test_cdtable_to_abort: hitless, 2 syncs")
    void cdtableToAbort() {
        steHitless(cdtableSte(StreamTableEntry.S1DSS_SSID0, CDTAB, true, false), abort, 2);
    }

    @Test
    @DisplayName("arm_smmu_v3_write_ste_test_abort_to_cdtable: hitless, 2 syncs")
    void abortToCdtable() {
        steHitless(abort, cdtableSte(StreamTableEntry.S1DSS_SSID0, CDTAB, true, false), 2);
    }

    @Test
    @DisplayName("arm_smmu_v3_write_ste_test_cdtable_to_bypass: hitless, 3 syncs")
    void cdtableToBypass() {
        steHitless(cdtableSte(StreamTableEntry.S1DSS_SSID0, CDTAB, true, false), bypass, 3);
    }

    @Test
    @DisplayName("arm_smmu_v3_write_ste_test_bypass_to_cdtable: hitless, 3 syncs")
    void bypassToCdtable() {
        steHitless(bypass, cdtableSte(StreamTableEntry.S1DSS_SSID0, CDTAB, true, false), 3);
    }

    @Test
    @DisplayName("arm_smmu_v3_write_ste_test_cdtable_s1dss_change: hitless, 1 sync each way")
    void cdtableS1dssChange() {
        long[] ssid0 = cdtableSte(StreamTableEntry.S1DSS_SSID0, CDTAB, true, false);
        long[] s1dssBypass = cdtableSte(StreamTableEntry.S1DSS_BYPASS, CDTAB, true, false);
        steHitless(ssid0, s1dssBypass, 1);
        steHitless(s1dssBypass, ssid0, 1);
    }

    @Test
    @DisplayName("arm_smmu_v3_write_ste_test_s1dssbypass_to_stebypass: hitless, 2 syncs")
    void s1dssBypassToSteBypass() {
        steHitless(cdtableSte(StreamTableEntry.S1DSS_BYPASS, CDTAB, true, false), bypass, 2);
    }

    @Test
    @DisplayName("arm_smmu_v3_write_ste_test_stebypass_to_s1dssbypass: hitless, 2 syncs")
    void steBypassToS1dssBypass() {
        steHitless(bypass, cdtableSte(StreamTableEntry.S1DSS_BYPASS, CDTAB, true, false), 2);
    }

    @Test
    @DisplayName("arm_smmu_v3_write_ste_test_s2_to_abort: hitless, 2 syncs")
    void s2ToAbort() {
        steHitless(s2Ste(true), abort, 2);
    }

    @Test
    @DisplayName("arm_smmu_v3_write_ste_test_abort_to_s2: hitless, 2 syncs")
    void abortToS2() {
        steHitless(abort, s2Ste(true), 2);
    }

    @Test
    @DisplayName("arm_smmu_v3_write_ste_test_s2_to_bypass: hitless, 2 syncs")
    void s2ToBypass() {
        steHitless(s2Ste(true), bypass, 2);
    }

    @Test
    @DisplayName("arm_smmu_v3_write_ste_test_bypass_to_s2: hitless, 2 syncs")
    void bypassToS2() {
        steHitless(bypass, s2Ste(true), 2);
    }

    @Test
    @DisplayName("arm_smmu_v3_write_ste_test_s1_to_s2: hitless, 3 syncs")
    void s1ToS2() {
        steHitless(cdtableSte(StreamTableEntry.S1DSS_SSID0, CDTAB, true, false), s2Ste(true), 3);
    }

    @Test
    @DisplayName("arm_smmu_v3_write_ste_test_s2_to_s1: hitless, 3 syncs")
    void s2ToS1() {
        steHitless(s2Ste(true), cdtableSte(StreamTableEntry.S1DSS_SSID0, CDTAB, true, false), 3);
    }

    @Test
    @DisplayName("arm_smmu_v3_write_ste_test_non_hitless: CD table pointer and S1DSS change together, V cleared"
            + " first, 3 syncs")
    void nonHitless() {
        long[] target = cdtableSte(StreamTableEntry.S1DSS_BYPASS, CDTAB_2, true, false);
        expect(ste(cdtableSte(StreamTableEntry.S1DSS_SSID0, CDTAB, true, false), target), target, 3, false);
    }

    @Test
    @DisplayName("arm_smmu_v3_write_cd_test_s1_clear: 2 syncs each way, through an entry with V = 0")
    void cdS1Clear() {
        long[] zero = new long[8];
        long[] s1 = s1Cd(1997);
        expect(cd(zero, s1), s1, 2, false);
        expect(cd(s1, zero), zero, 2, false);
    }

    @Test
    @DisplayName("arm_smmu_v3_write_cd_test_s1_change_asid: hitless, 1 sync each way")
    void cdS1ChangeAsid() {
        expect(cd(s1Cd(778), s1Cd(1997)), s1Cd(1997), 1, true);
        expect(cd(s1Cd(1997), s1Cd(778)), s1Cd(778), 1, true);
    }

    @Test
    @DisplayName("arm_smmu_v3_write_ste_test_s1_to_s2_stall: hitless, 3 syncs")
    void s1ToS2Stall() {
        steHitless(cdtableSte(StreamTableEntry.S1DSS_SSID0, CDTAB, false, true), s2Ste(false), 3);
    }

    @Test
    @DisplayName("arm_smmu_v3_write_ste_test_s2_to_s1_stall: hitless, 3 syncs")
    void s2ToS1Stall() {
        steHitless(s2Ste(false), cdtableSte(StreamTableEntry.S1DSS_SSID0, CDTAB, false, true), 3);
    }

    /*
     * The two nested cases, hitless since arm_smmu_get_ste_update_safe (v6.19): EATS_TRANS and MEV
     * may change in the first step although both configurations read them.
     */
    @Test
    @DisplayName("arm_smmu_v3_write_ste_test_nested_s1dssbypass_to_s1bypass: hitless, 3 syncs (the extra one"
            + " clears the safe bits EATS and MEV)")
    void nestedS1dssBypassToS1Bypass() {
        long[] target = s2Ste(false);
        expect(ste(nestedSte(StreamTableEntry.S1DSS_BYPASS, true), target), target, 3, true);
    }

    @Test
    @DisplayName("arm_smmu_v3_write_ste_test_nested_s1bypass_to_s1dssbypass: hitless, 2 syncs")
    void nestedS1BypassToS1dssBypass() {
        long[] target = nestedSte(StreamTableEntry.S1DSS_BYPASS, true);
        expect(ste(s2Ste(false), target), target, 2, true);
    }

    @Test
    @DisplayName("without update_safe (the writer before v6.19) both nested cases break the entry: V = 0, 3 syncs")
    void nestedWithoutUpdateSafe() {
        HitlessEntryWriter plain = new HitlessEntryWriter(new HitlessEntryWriter.EntryFormat() {
            @Override
            public int qwords() {
                return 8;
            }

            @Override
            public long[] usedBits(long[] entry) {
                return Smmuv3Entries.steUsed(entry);
            }
        });
        long[][][] cases = {{nestedSte(StreamTableEntry.S1DSS_BYPASS, true), s2Ste(false)},
            {s2Ste(false), nestedSte(StreamTableEntry.S1DSS_BYPASS, true)}};
        for (long[][] c : cases) {
            long[] mem = c[0].clone();
            int[] syncs = new int[1];
            HitlessEntryWriter.Result r = plain.write(new HitlessEntryWriter.EntryStore() {
                @Override
                public long read(int q) {
                    return mem[q];
                }

                @Override
                public void write(int q, long v) {
                    mem[q] = v;
                }
            }, c[1], () -> syncs[0]++);
            assertThat(r.breaking()).isTrue();
            assertThat(r.syncs()).isEqualTo(3).isEqualTo(syncs[0]);
            assertThat(mem).containsExactly(c[1]);
        }
    }

    @Test
    @DisplayName("arm_smmu_v3_write_cd_test_sva_clear: 2 syncs each way, through an entry with V = 0")
    void cdSvaClear() {
        long[] zero = new long[8];
        expect(cd(zero, svaCd(1997, false)), svaCd(1997, false), 2, false);
        expect(cd(svaCd(1997, false), zero), zero, 2, false);
    }

    @Test
    @DisplayName("arm_smmu_v3_write_cd_test_sva_release: hitless, 2 syncs each way (EPD0 quiet CD keeps the ASID)")
    void cdSvaRelease() {
        expect(cd(svaCd(1997, false), svaCd(1997, true)), svaCd(1997, true), 2, true);
        expect(cd(svaCd(1997, true), svaCd(1997, false)), svaCd(1997, false), 2, true);
    }
}
