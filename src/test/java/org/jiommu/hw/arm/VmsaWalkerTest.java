package org.jiommu.hw.arm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.jiommu.hw.arm.VmsaWalker.ACCESS_EXEC;
import static org.jiommu.hw.arm.VmsaWalker.ACCESS_PRIVILEGED;
import static org.jiommu.hw.arm.VmsaWalker.ACCESS_READ;
import static org.jiommu.hw.arm.VmsaWalker.ACCESS_WRITE;

import org.jiommu.hw.FaultKind;
import org.jiommu.mem.PhysicalMemory;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * Hand-written tables, well and badly formed, that the walker must translate or fault on with
 * the architecture's fault kind, level and stage (Arm ARM D8: Translation, Address size,
 * Access flag, Permission; external abort on the walk).
 */
class VmsaWalkerTest {
    static final long VALID = 1;
    static final long TABLE = 3;
    static final long PAGE = 3;
    static final long BLOCK = 1;
    static final long AF = 1L << 10;
    static final long AP_EL0 = 1L << 6;
    static final long AP_RO = 1L << 7;
    static final long NG = 1L << 11;
    static final long PXN = 1L << 53;
    static final long UXN = 1L << 54;
    static final long S2AP_R = 1L << 6;
    static final long S2AP_W = 1L << 7;
    static final long APTABLE_RO = 1L << 62;
    static final long APTABLE_NO_EL0 = 1L << 61;
    static final long PXNTABLE = 1L << 59;
    static final long MAIR = 0x00000000F404FF44L;

    final PhysicalMemory memory = new PhysicalMemory(1L << 30);
    final VmsaWalker walker = new VmsaWalker(memory, 48);
    final WalkResult out = new WalkResult();
    /** Table pages come from here, 64 KiB apart (enough for any granule and 16 concatenated 4K tables). */
    long nextTable = 0x100_0000;

    long newTable() {
        long t = nextTable;
        nextTable += 0x10_0000;
        return t;
    }

    /**
     * Writes table descriptors from {@code root} (at {@code startLevel}, resolving {@code startBits})
     * down to {@code leafLevel}, creating tables as needed, and returns the address of the slot
     * {@code input} uses at {@code leafLevel}.
     */
    long slot(Granule g, long root, int startLevel, int startBits, long input, int leafLevel) {
        long table = root;
        int bits = startBits;
        for (int level = startLevel; ; level++) {
            long at = table + (((input >>> g.levelShift(level)) & ((1L << bits) - 1)) << 3);
            if (level == leafLevel) {
                return at;
            }
            long d = memory.readLong(at);
            if ((d & 3) != 3) {
                d = newTable() | TABLE;
                memory.writeLong(at, d);
            }
            table = d & 0x0000_FFFF_FFFF_F000L & -(1L << g.shift());
            bits = g.stride();
        }
    }

    /** A 4K, 48-bit stage-1 page: {@code va} -> {@code pa} with {@code attrs} (| PAGE unless attrs set the type). */
    long map4k(long root, long va, long pa, long attrs) {
        long at = slot(Granule.G4K, root, 0, 9, va, 3);
        memory.writeLong(at, pa | attrs);
        return at;
    }

    Stage1Config.Builder s1(long ttb0) {
        return Stage1Config.builder().ttb0(Granule.G4K, 16, ttb0).mair(MAIR);
    }

    void assertFault(boolean ok, FaultKind kind, int stage, int level) {
        assertThat(ok).as("walk result %s", out).isFalse();
        assertThat(out.fault).isEqualTo(kind);
        assertThat(out.faultStage).isEqualTo(stage);
        assertThat(out.faultLevel).isEqualTo(level);
    }

    @Test
    @DisplayName("a well-formed 4K page translates with its level, permissions and MAIR attribute")
    void page() {
        long root = newTable();
        map4k(root, 0x12_3456_7000L, 0x4000_0000L, PAGE | AF | AP_EL0 | NG | (1 << 2));
        Stage1Config c = s1(root).build();
        assertThat(walker.walkStage1(c, 0x12_3456_7abcL, ACCESS_WRITE, out)).as("%s", out).isTrue();
        assertThat(out.outputAddress).isEqualTo(0x4000_0abcL);
        assertThat(out.s1Level).isEqualTo(3);
        assertThat(out.pageShift).isEqualTo(12);
        assertThat(out.mairAttribute).isEqualTo(0xff);
        assertThat(out.notGlobal).isTrue();
        assertThat(out.permissions).isEqualTo(WalkResult.PERM_READ | WalkResult.PERM_WRITE | WalkResult.PERM_EXEC);
        assertThat(out.descriptorsRead).isEqualTo(4);
    }

    @Test
    @DisplayName("bits[1:0] = 01 at level 3 is reserved: Translation fault at level 3")
    void reservedAtLevel3() {
        long root = newTable();
        map4k(root, 0x5000, 0x8000, BLOCK | AF);
        assertFault(walker.walkStage1(s1(root).build(), 0x5000, ACCESS_READ, out), FaultKind.TRANSLATION, 1, 3);
    }

    @Test
    @DisplayName("an invalid descriptor faults Translation at its level")
    void invalidAtLevel2() {
        long root = newTable();
        long at = slot(Granule.G4K, root, 0, 9, 0x20_0000, 2);
        memory.writeLong(at, 0x40_0000 | 2); // valid bit clear, whatever else is set
        assertFault(walker.walkStage1(s1(root).build(), 0x20_0000, ACCESS_READ, out), FaultKind.TRANSLATION, 1, 2);
        assertThat(out.faultDescriptorAddress).isEqualTo(at);
    }

    @Test
    @DisplayName("block descriptors only where the granule has blocks: 4K level 0, 16K level 1, 64K level 1 without LPA fault")
    void blocksWhereNotAllowed() {
        long root = newTable();
        memory.writeLong(root, 0x80_0000_0000L | BLOCK | AF);
        assertFault(walker.walkStage1(s1(root).build(), 0x1000, ACCESS_READ, out), FaultKind.TRANSLATION, 1, 0);

        // 16K, 47-bit VA: start level 1 (11 bits per level), a 64 GiB "block" at level 1 is not allowed.
        long root16 = newTable();
        memory.writeLong(root16, 0x10_0000_0000L | BLOCK | AF);
        Stage1Config c16 = Stage1Config.builder().ttb0(Granule.G16K, 17, root16).build();
        assertThat(c16.startLevel(0)).isEqualTo(1);
        assertFault(walker.walkStage1(c16, 0x4000, ACCESS_READ, out), FaultKind.TRANSLATION, 1, 1);

        // 64K, 48-bit VA: start level 1; a 4 TiB block there needs FEAT_LPA (52-bit PAs).
        long root64 = newTable();
        memory.writeLong(root64, 0x400_0000_0000L | BLOCK | AF);
        Stage1Config c64 = Stage1Config.builder().ttb0(Granule.G64K, 16, root64).outputSize(52).build();
        assertFault(walker.walkStage1(c64, 0x1234, ACCESS_READ, out), FaultKind.TRANSLATION, 1, 1);
        VmsaWalker lpa = new VmsaWalker(memory, 52);
        assertThat(lpa.walkStage1(c64, 0x1234, ACCESS_READ | ACCESS_PRIVILEGED, out)).as("%s", out).isTrue();
        assertThat(out.outputAddress).isEqualTo(0x400_0000_1234L);
        assertThat(out.pageShift).isEqualTo(42);
    }

    @Test
    @DisplayName("addresses beyond the output size: leaf and table at their level, TTBR at level 0")
    void addressSize() {
        long root = newTable();
        map4k(root, 0x7000, 1L << 40, PAGE | AF);
        Stage1Config oa40 = s1(root).outputSize(40).build();
        assertFault(walker.walkStage1(oa40, 0x7000, ACCESS_READ, out), FaultKind.ADDRESS_SIZE, 1, 3);
        // The same table is fine with a 48-bit output.
        assertThat(walker.walkStage1(s1(root).build(), 0x7000, ACCESS_READ | ACCESS_PRIVILEGED, out)).isTrue();
        assertThat(out.outputAddress).isEqualTo(1L << 40);

        long at1 = slot(Granule.G4K, root, 0, 9, 0x7000, 1);
        memory.writeLong(at1, (1L << 41) | TABLE);
        assertFault(walker.walkStage1(oa40, 0x7000, ACCESS_READ, out), FaultKind.ADDRESS_SIZE, 1, 1);

        assertFault(walker.walkStage1(s1(1L << 42).outputSize(40).build(), 0x7000, ACCESS_READ, out),
                FaultKind.ADDRESS_SIZE, 1, 0);
        // The output size is also capped by the implementation's PA size.
        VmsaWalker pa36 = new VmsaWalker(memory, 36);
        long root2 = newTable();
        map4k(root2, 0x7000, 1L << 37, PAGE | AF);
        assertFault(pa36.walkStage1(s1(root2).build(), 0x7000, ACCESS_READ, out), FaultKind.ADDRESS_SIZE, 1, 3);
    }

    @Test
    @DisplayName("AF = 0 faults Access flag at the leaf's level, unless the fault is disabled (AFFD)")
    void accessFlag() {
        long root = newTable();
        long at = slot(Granule.G4K, root, 0, 9, 0x4000_0000L, 2);
        memory.writeLong(at, 0x8000_0000L | BLOCK); // 2 MiB block, AF clear
        assertFault(walker.walkStage1(s1(root).build(), 0x4000_1000L, ACCESS_READ, out), FaultKind.ACCESS, 1, 2);
        assertThat(walker.walkStage1(s1(root).accessFlagFaultDisable(true).build(), 0x4000_1000L,
                ACCESS_READ | ACCESS_PRIVILEGED, out))
                .isTrue();
        assertThat(out.outputAddress).isEqualTo(0x8000_1000L);
        assertThat(out.pageShift).isEqualTo(21);
    }

    @Test
    @DisplayName("stage-1 permissions: AP[2] read-only, AP[1] unprivileged access, UXN / PXN, EL0-writable is PXN")
    void stage1Permissions() {
        long root = newTable();
        map4k(root, 0x1000, 0x10_0000, PAGE | AF | AP_RO | AP_EL0);        // RO for everyone
        map4k(root, 0x2000, 0x20_0000, PAGE | AF);                         // privileged RW only
        map4k(root, 0x3000, 0x30_0000, PAGE | AF | AP_EL0 | UXN);          // RW everyone, EL0 no exec
        map4k(root, 0x4000, 0x40_0000, PAGE | AF | AP_EL0 | AP_RO | PXN);  // RO, privileged no exec
        Stage1Config c = s1(root).build();
        assertFault(walker.walkStage1(c, 0x1000, ACCESS_WRITE | ACCESS_PRIVILEGED, out), FaultKind.PERMISSION, 1, 3);
        assertThat(walker.walkStage1(c, 0x1000, ACCESS_READ, out)).isTrue();
        assertFault(walker.walkStage1(c, 0x2000, ACCESS_READ, out), FaultKind.PERMISSION, 1, 3);
        assertThat(walker.walkStage1(c, 0x2000, ACCESS_WRITE | ACCESS_PRIVILEGED, out)).isTrue();
        assertThat(out.permissions).isEqualTo(WalkResult.PERM_READ | WalkResult.PERM_WRITE | WalkResult.PERM_EXEC);
        assertFault(walker.walkStage1(c, 0x3000, ACCESS_EXEC, out), FaultKind.PERMISSION, 1, 3);
        // Writable at EL0 means never executable privileged (no PXN needed).
        assertFault(walker.walkStage1(c, 0x3000, ACCESS_EXEC | ACCESS_PRIVILEGED, out), FaultKind.PERMISSION, 1, 3);
        assertThat(walker.walkStage1(c, 0x3000, ACCESS_WRITE, out)).isTrue();
        assertFault(walker.walkStage1(c, 0x4000, ACCESS_EXEC | ACCESS_PRIVILEGED, out), FaultKind.PERMISSION, 1, 3);
        assertThat(walker.walkStage1(c, 0x4000, ACCESS_EXEC, out)).isTrue();
    }

    @Test
    @DisplayName("hierarchical attributes: APTable and PXNTable restrict the leaves below, HPD turns them off")
    void tableAttributes() {
        long root = newTable();
        map4k(root, 0x1000, 0x10_0000, PAGE | AF | AP_EL0);
        long at1 = slot(Granule.G4K, root, 0, 9, 0x1000, 1);
        memory.writeLong(at1, memory.readLong(at1) | APTABLE_RO | APTABLE_NO_EL0 | PXNTABLE);
        Stage1Config c = s1(root).build();
        assertFault(walker.walkStage1(c, 0x1000, ACCESS_WRITE | ACCESS_PRIVILEGED, out), FaultKind.PERMISSION, 1, 3);
        assertFault(walker.walkStage1(c, 0x1000, ACCESS_READ, out), FaultKind.PERMISSION, 1, 3);
        assertFault(walker.walkStage1(c, 0x1000, ACCESS_EXEC | ACCESS_PRIVILEGED, out), FaultKind.PERMISSION, 1, 3);
        assertThat(walker.walkStage1(c, 0x1000, ACCESS_READ | ACCESS_PRIVILEGED, out)).isTrue();
        Stage1Config hpd = s1(root).hpd(0, true).build();
        assertThat(walker.walkStage1(hpd, 0x1000, ACCESS_WRITE, out)).as("%s", out).isTrue();
    }

    @Test
    @DisplayName("TTBR1 serves the upper range; the hole between the ranges and bits above TBI fault at level 0")
    void ttbr1Region() {
        long low = newTable();
        long high = newTable();
        map4k(low, 0x1000, 0x10_0000, PAGE | AF);
        map4k(high, 0xFFFF_FFFF_FFFF_F000L, 0x20_0000, PAGE | AF);
        Stage1Config c = s1(low).ttb1(Granule.G4K, 16, high).build();
        assertThat(walker.walkStage1(c, 0xFFFF_FFFF_FFFF_F010L, ACCESS_READ | ACCESS_PRIVILEGED, out)).isTrue();
        assertThat(out.outputAddress).isEqualTo(0x20_0010L);
        assertThat(out.ttbr).isEqualTo(1);
        assertThat(walker.walkStage1(c, 0x1010, ACCESS_READ | ACCESS_PRIVILEGED, out)).isTrue();
        assertThat(out.ttbr).isZero();
        // Bit 48 set below bit 55: in neither range.
        assertFault(walker.walkStage1(c, 0x0001_0000_0000_1000L, ACCESS_READ | ACCESS_PRIVILEGED, out),
                FaultKind.TRANSLATION, 1, 0);
        assertFault(walker.walkStage1(c, 0xFFFE_FFFF_FFFF_F000L, ACCESS_READ | ACCESS_PRIVILEGED, out),
                FaultKind.TRANSLATION, 1, 0);
        // A tag in the top byte: a fault unless TBI0 ignores it.
        long tagged = 0xAB00_0000_0000_1000L;
        assertFault(walker.walkStage1(c, tagged, ACCESS_READ | ACCESS_PRIVILEGED, out), FaultKind.TRANSLATION, 1, 0);
        Stage1Config tbi = s1(low).ttb1(Granule.G4K, 16, high).tbi(0, true).build();
        assertThat(walker.walkStage1(tbi, tagged, ACCESS_READ | ACCESS_PRIVILEGED, out)).isTrue();
        assertThat(out.outputAddress).isEqualTo(0x10_0000L);
    }

    @Test
    @DisplayName("EPD0 / EPD1 disable the walks of their range: Translation fault at level 0")
    void epd() {
        long low = newTable();
        long high = newTable();
        map4k(low, 0x1000, 0x10_0000, PAGE | AF);
        map4k(high, 0xFFFF_FFFF_FFFF_F000L, 0x20_0000, PAGE | AF);
        Stage1Config noLow = s1(low).ttb1(Granule.G4K, 16, high).epd(0, true).build();
        assertFault(walker.walkStage1(noLow, 0x1000, ACCESS_READ | ACCESS_PRIVILEGED, out), FaultKind.TRANSLATION, 1, 0);
        assertThat(out.descriptorsRead).isZero();
        assertThat(walker.walkStage1(noLow, 0xFFFF_FFFF_FFFF_F000L, ACCESS_READ | ACCESS_PRIVILEGED, out)).isTrue();
        // The default: TTBR1 disabled, as Linux's SMMU context descriptors set EPD1.
        assertFault(walker.walkStage1(s1(low).build(), 0xFFFF_FFFF_FFFF_F000L, ACCESS_READ, out),
                FaultKind.TRANSLATION, 1, 0);
    }

    @Test
    @DisplayName("a table fetch outside memory is an external abort on the walk, at that level")
    void fetchAbort() {
        long beyond = 1L << 36; // inside a 48-bit OA, outside 1 GiB of memory
        assertFault(walker.walkStage1(s1(beyond).build(), 0x1000, ACCESS_READ, out), FaultKind.TABLE_FETCH_ABORT, 1, 0);
        assertThat(out.faultDescriptorAddress).isEqualTo(beyond);
        long root = newTable();
        long at = slot(Granule.G4K, root, 0, 9, 0x1000, 1);
        memory.writeLong(at, beyond | TABLE);
        assertFault(walker.walkStage1(s1(root).build(), 0x1000, ACCESS_READ, out), FaultKind.TABLE_FETCH_ABORT, 1, 2);
    }

    @Test
    @DisplayName("64K granule with 52-bit output: OA[51:48] come from bits 15:12, only when the output size is 52")
    void oa52() {
        VmsaWalker lpa = new VmsaWalker(memory, 52);
        long root = newTable();
        long at = slot(Granule.G64K, root, 1, 6, 0x3_0000, 3);
        memory.writeLong(at, 0x1234_5678_0000L | (0x5L << 12) | PAGE | AF);
        Stage1Config oa52 = Stage1Config.builder().ttb0(Granule.G64K, 16, root).outputSize(52).build();
        assertThat(lpa.walkStage1(oa52, 0x3_0042, ACCESS_READ | ACCESS_PRIVILEGED, out)).as("%s", out).isTrue();
        assertThat(out.outputAddress).isEqualTo(0x5_1234_5678_0042L);
        Stage1Config oa48 = Stage1Config.builder().ttb0(Granule.G64K, 16, root).outputSize(48).build();
        assertThat(lpa.walkStage1(oa48, 0x3_0042, ACCESS_READ | ACCESS_PRIVILEGED, out)).isTrue();
        assertThat(out.outputAddress).isEqualTo(0x1234_5678_0042L);
    }

    // ---- stage 2 ----------------------------------------------------------------------------

    @Test
    @DisplayName("concatenated stage-2 start tables: a 40-bit IPA from level 1 uses the second of two tables")
    void concatenatedStage2() {
        long root = newTable(); // two 4K tables, 8 KiB aligned
        Stage2Config c = Stage2Config.of(Granule.G4K, 24, 1, root, 48);
        assertThat(c.startLevel()).isEqualTo(1);
        assertThat(c.concatenatedTables()).isEqualTo(2);
        long ipa = (1L << 39) | 0x4000_5000L;
        long at = slot(Granule.G4K, root, 1, 10, ipa, 3);
        assertThat(at - root).as("start-level slot in the second table").isGreaterThanOrEqualTo(0x1000);
        memory.writeLong(at, 0x7700_0000L | PAGE | AF | S2AP_R | S2AP_W);
        assertThat(walker.walkStage2(c, ipa | 0x123, ACCESS_WRITE, out)).as("%s", out).isTrue();
        assertThat(out.outputAddress).isEqualTo(0x7700_0123L);
        assertThat(out.s2Level).isEqualTo(3);
        assertThat(out.descriptorsRead).isEqualTo(3);
    }

    @Test
    @DisplayName("stage-2 input checks: IPA beyond T0SZ, inconsistent and reserved SL0 are Translation faults at level 0")
    void stage2InputChecks() {
        long root = newTable();
        Stage2Config c = Stage2Config.of(Granule.G4K, 24, 1, root, 48);
        assertFault(walker.walkStage2(c, 1L << 40, ACCESS_READ, out), FaultKind.TRANSLATION, 2, 0);
        Stage2Config inconsistent = Stage2Config.of(Granule.G4K, 16, 1, root, 48); // 48 bits from level 1: 512 tables
        assertThat(inconsistent.startLevel()).isEqualTo(-1);
        assertThat(inconsistent.problem()).contains("cannot resolve");
        assertFault(walker.walkStage2(inconsistent, 0x1000, ACCESS_READ, out), FaultKind.TRANSLATION, 2, 0);
        Stage2Config tooDeep = Stage2Config.of(Granule.G4K, 32, 2, root, 48); // 32 bits from level 0
        assertFault(walker.walkStage2(tooDeep, 0x1000, ACCESS_READ, out), FaultKind.TRANSLATION, 2, 0);
        Stage2Config reserved = Stage2Config.of(Granule.G64K, 16, 3, root, 48);
        assertThat(reserved.problem()).contains("reserved");
        assertFault(walker.walkStage2(reserved, 0x1000, ACCESS_READ, out), FaultKind.TRANSLATION, 2, 0);
        // 16K from level 1 with 16 concatenated tables is the largest allowed for a 40-bit IPA start at level 2...
        assertThat(Stage2Config.of(Granule.G16K, 24, 1, root, 48).concatenatedTables()).isEqualTo(16);
    }

    @Test
    @DisplayName("stage-2 permissions: S2AP read / write and XN, Access flag at level 2 for a block")
    void stage2Permissions() {
        long root = newTable();
        Stage2Config c = Stage2Config.of(Granule.G4K, 24, 1, root, 48);
        memory.writeLong(slot(Granule.G4K, root, 1, 10, 0x1000, 3), 0x10_0000 | PAGE | AF | S2AP_R | UXN);
        memory.writeLong(slot(Granule.G4K, root, 1, 10, 0x40_0000, 2), 0x80_0000 | BLOCK | S2AP_R);
        assertFault(walker.walkStage2(c, 0x1000, ACCESS_WRITE, out), FaultKind.PERMISSION, 2, 3);
        assertFault(walker.walkStage2(c, 0x1000, ACCESS_EXEC, out), FaultKind.PERMISSION, 2, 3);
        assertThat(walker.walkStage2(c, 0x1000, ACCESS_READ, out)).isTrue();
        assertFault(walker.walkStage2(c, 0x40_0000, ACCESS_READ, out), FaultKind.ACCESS, 2, 2);
        Stage2Config affd = Stage2Config.of(Granule.G4K, 24, 1, root, 48, true, false);
        assertThat(walker.walkStage2(affd, 0x40_1000, ACCESS_READ, out)).isTrue();
        assertThat(out.outputAddress).isEqualTo(0x80_1000L);
    }

    // ---- nested -------------------------------------------------------------------------------

    @Test
    @DisplayName("nested: stage-1 tables and output go through stage 2; stage-2 faults say whether they hit a table fetch")
    void nested() {
        // Stage 2 maps IPA [0x1000_0000, +16 MiB) -> PA [0x0100_0000 ...) with 2 MiB blocks, and the
        // stage-1 output IPA 0x2000_0000 -> PA 0x0300_0000 with a 4K page.
        long s2root = newTable();
        Stage2Config s2 = Stage2Config.of(Granule.G4K, 24, 1, s2root, 48);
        long ipaBase = 0x1000_0000L;
        long paBase = nextTable & -(1L << 21);
        paBase += 1L << 21;
        nextTable = paBase;
        for (int i = 0; i < 8; i++) {
            memory.writeLong(slot(Granule.G4K, s2root, 1, 10, ipaBase + ((long) i << 21), 2),
                    (paBase + ((long) i << 21)) | BLOCK | AF | S2AP_R | S2AP_W);
        }
        nextTable = paBase + (8L << 21) + (1L << 21);
        long outSlot = slot(Granule.G4K, s2root, 1, 10, 0x2000_0000L, 3);
        memory.writeLong(outSlot, 0x0300_0000L | PAGE | AF | S2AP_R | S2AP_W);

        // Stage-1 tables live at PAs inside the window; their descriptors hold IPAs.
        long s1rootPa = paBase;
        long delta = ipaBase - paBase;
        // One stage-2 block per stage-1 table, so unmapping one block hides exactly one table.
        long[] tablesPa = {s1rootPa, s1rootPa + (1L << 21), s1rootPa + (2L << 21), s1rootPa + (3L << 21)};
        long va = 0x55_0000_1000L;
        for (int level = 0; level < 3; level++) {
            long at = tablesPa[level] + (((va >>> Granule.G4K.levelShift(level)) & 511) << 3);
            memory.writeLong(at, (tablesPa[level + 1] + delta) | TABLE);
        }
        long leaf = tablesPa[3] + (((va >>> 12) & 511) << 3);
        memory.writeLong(leaf, 0x2000_0000L | PAGE | AF | AP_EL0);
        Stage1Config s1 = Stage1Config.builder().ttb0(Granule.G4K, 16, s1rootPa + delta).build();

        assertThat(walker.walkNested(s1, s2, va | 0x42, ACCESS_WRITE, out)).as("%s", out).isTrue();
        assertThat(out.outputAddress).isEqualTo(0x0300_0042L);
        assertThat(out.intermediateAddress).isEqualTo(0x2000_0042L);
        assertThat(out.s1Level).isEqualTo(3);
        assertThat(out.s2Level).isEqualTo(3);
        assertThat(out.pageShift).isEqualTo(12);
        assertThat(out.descriptorsRead).as("4 stage-1 descriptors, each through 2 stage-2 levels (2M blocks), "
                + "the output through 3").isEqualTo(4 + 4 * 2 + 3);

        // The stage-2 page of the output made read-only: a stage-2 permission fault on the IPA, not on a walk.
        memory.writeLong(outSlot, 0x0300_0000L | PAGE | AF | S2AP_R);
        assertFault(walker.walkNested(s1, s2, va, ACCESS_WRITE, out), FaultKind.PERMISSION, 2, 3);
        assertThat(out.faultOnStage1Walk).isFalse();
        assertThat(out.faultInput).isEqualTo(0x2000_0000L);
        // Stage 1 still refuses first when it refuses: its own permission fault.
        memory.writeLong(leaf, 0x2000_0000L | PAGE | AF | AP_EL0 | AP_RO);
        assertFault(walker.walkNested(s1, s2, va, ACCESS_WRITE, out), FaultKind.PERMISSION, 1, 3);

        // The stage-2 block holding the stage-1 level-2 table unmapped: a stage-2 Translation fault on the walk.
        long tableIpa = tablesPa[2] + delta;
        memory.writeLong(slot(Granule.G4K, s2root, 1, 10, tableIpa, 2), 0);
        assertFault(walker.walkNested(s1, s2, va, ACCESS_READ, out), FaultKind.TRANSLATION, 2, 2);
        assertThat(out.faultOnStage1Walk).isTrue();
        assertThat(out.faultInput).isEqualTo(tableIpa + (((va >>> 21) & 511) << 3));
    }

    @Test
    @DisplayName("configuration problems are reported for a model that must reject them")
    void problems() {
        assertThat(Stage1Config.builder().ttb0(Granule.G4K, 12, 0).build().problem()).contains("T0SZ 12");
        assertThat(Stage1Config.builder().ttb0(Granule.G64K, 12, 0).lva(true).build().problem()).isNull();
        assertThat(Stage1Config.builder().ttb0(Granule.G4K, 25, 0).build().startLevel(0)).isEqualTo(1);
        assertThat(Stage1Config.builder().ttb0(Granule.G4K, 12, 0).build().inputSize(0)).isEqualTo(48);
    }
}
