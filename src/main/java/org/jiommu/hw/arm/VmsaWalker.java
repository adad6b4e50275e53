package org.jiommu.hw.arm;

import static org.jiommu.hw.arm.WalkResult.PERM_EXEC;
import static org.jiommu.hw.arm.WalkResult.PERM_READ;
import static org.jiommu.hw.arm.WalkResult.PERM_WRITE;

import org.jiommu.hw.FaultKind;
import org.jiommu.mem.MemoryFault;
import org.jiommu.mem.PhysicalMemory;

/**
 * The VMSAv8-64 translation-table walk of an Arm SMMU (SMMUv3 and SMMUv2 share it, as QEMU's
 * smmu-common does): stage 1, stage 2 and nested, 4K / 16K / 64K granules, written from the
 * architecture's rules (Arm ARM D8 "The AArch64 Virtual Memory System Architecture" and its
 * pseudocode AArch64.S1Walk / S2Walk / S1CheckPermissions / S2CheckPermissions; SMMUv3 spec 3.4
 * and 5.4 for how an SMMU uses them). It reads descriptors as 64-bit words of
 * {@link PhysicalMemory} and never calls a page-table writer, so a wrongly written table
 * faults here the way it would on hardware.
 *
 * <p>Checks, in the architecture's order: input range (Translation, level 0), walks disabled
 * by EPDx (Translation, level 0), table base beyond the output size (Address size, level 0);
 * then per level: descriptor fetch (external abort), invalid or reserved encodings and blocks
 * where the granule allows none (Translation), next-table or output address beyond the output
 * size (Address size); at the leaf: access flag (Access flag) and permissions (Permission).
 * A nested walk translates every stage-1 descriptor address and the stage-1 output through
 * stage 2; a stage-2 fault on a descriptor fetch is marked {@link WalkResult#faultOnStage1Walk}.
 *
 * <p>Not modelled: hardware access-flag and dirty-state updates (HA/HD: AF = 0 faults unless
 * the configuration disables the fault), FEAT_LPA2 (52-bit with 4K / 16K), FEAT_XNX (stage-2
 * XN is bit 54 only), the contiguous hint (a hint: ignoring it is allowed), memory-type
 * alignment checks, Secure / Realm state (NS and NSTable are reported, not acted on).
 *
 * <p>Thread-safe and allocation-free: all state is in the immutable configurations and the
 * caller's {@link WalkResult}.
 */
public final class VmsaWalker {
    /** Request bits for {@code access}: a data read, a data write, an instruction fetch, privileged. */
    public static final int ACCESS_READ = 1;
    public static final int ACCESS_WRITE = 2;
    public static final int ACCESS_EXEC = 4;
    public static final int ACCESS_PRIVILEGED = 8;

    private static final long DESC_VALID = 1L;
    private static final long DESC_TABLE = 2L;
    private static final long AF = 1L << 10;
    private static final long NG = 1L << 11;
    private static final long NS = 1L << 5;
    private static final long PXN = 1L << 53;
    private static final long UXN = 1L << 54;
    /** Bits 47:12 of a descriptor; the granule's page offset bits are masked off after. */
    private static final long ADDR_47_12 = 0x0000_FFFF_FFFF_F000L;
    // Table attributes (bits 63:59) gathered down the walk, shifted to bits 4:0.
    private static final int APTABLE_NO_EL0 = 1 << 2;
    private static final int APTABLE_RO = 1 << 3;
    private static final int UXNTABLE = 1 << 1;
    private static final int PXNTABLE = 1;

    private final PhysicalMemory memory;
    private final int paMax;
    private final boolean lpa;

    /**
     * @param memory where the tables are
     * @param paMax the implementation's physical address size (SMMU_IDR5.OAS, 32..52); output
     *     sizes are limited to it, and 52 enables FEAT_LPA (64K granule: OA[51:48] in bits
     *     15:12, level-1 blocks)
     */
    public VmsaWalker(PhysicalMemory memory, int paMax) {
        if (paMax < 32 || paMax > 52) {
            throw new IllegalArgumentException("paMax " + paMax + " outside 32..52");
        }
        this.memory = memory;
        this.paMax = paMax;
        this.lpa = paMax == 52;
    }

    public int paMax() {
        return paMax;
    }

    /** A stage-1-only walk of {@code va}. */
    public boolean walkStage1(Stage1Config s1, long va, int access, WalkResult out) {
        out.reset(va);
        return stage1(s1, null, va, access, out);
    }

    /** A stage-2-only walk of {@code ipa} (stage 1 bypassed). */
    public boolean walkStage2(Stage2Config s2, long ipa, int access, WalkResult out) {
        out.reset(ipa);
        long pa = stage2(s2, ipa, access, false, out);
        if (out.fault != null) {
            return false;
        }
        out.intermediateAddress = ipa;
        out.outputAddress = pa;
        out.permissions = out.s2Permissions;
        return true;
    }

    /** A nested walk: stage 1 with its tables and output translated through stage 2. */
    public boolean walkNested(Stage1Config s1, Stage2Config s2, long va, int access, WalkResult out) {
        out.reset(va);
        return stage1(s1, s2, va, access, out);
    }

    // ---- stage 1 ------------------------------------------------------------------------

    private boolean stage1(Stage1Config c, Stage2Config nest, long va, int access, WalkResult out) {
        // Range selection by VA[55] (Arm ARM D8.2.x "VA range for EL1&0"); the bits above the
        // range, up to bit 55 with TBI or 63 without, must all equal VA[55].
        int t = (int) (va >>> 55) & 1;
        int in = c.inputSize[t];
        long top = c.tbi[t] ? (va << 8) >> (in + 8) : va >> in;
        if (top != (t == 0 ? 0L : -1L)) {
            return fault(out, FaultKind.TRANSLATION, 0, 1, va);
        }
        out.ttbr = t;
        if (c.epd[t]) {
            return fault(out, FaultKind.TRANSLATION, 0, 1, va);
        }
        int oas = Math.min(c.outputSize, paMax);
        Granule g = c.granule[t];
        int level = c.startLevel[t];
        int bits = c.startBits[t];
        long base = c.ttb[t];
        if (base >>> oas != 0) {
            return fault(out, FaultKind.ADDRESS_SIZE, 0, 1, va);
        }
        // The start table is aligned to its size; lower base bits are RES0 and ignored.
        base &= -(8L << bits);
        long desc = descend(g, level, bits, base, va, oas, 1, nest, out);
        if (out.fault != null) {
            return false;
        }
        level = out.leafLevel;
        int tableAttrs = out.tableAttrs;
        int shift = g.levelShift(level);
        long blockMask = (1L << shift) - 1;
        long ipa = (descriptorAddress(desc, g, oas) & ~blockMask) | (va & blockMask);
        out.s1Level = level;
        if ((desc & AF) == 0 && !c.accessFlagFaultDisable) {
            return fault(out, FaultKind.ACCESS, level, 1, va);
        }
        int perms = stage1Permissions(desc, c.hpd[t] ? 0 : tableAttrs, (access & ACCESS_PRIVILEGED) != 0);
        out.s1Permissions = perms;
        if (!allowed(perms, access)) {
            return fault(out, FaultKind.PERMISSION, level, 1, va);
        }
        out.mairAttribute = (int) (c.mair >>> (((desc >>> 2) & 7) * 8)) & 0xff;
        out.s1Shareability = (int) (desc >>> 8) & 3;
        out.notGlobal = (desc & NG) != 0;
        out.nonSecure = (desc & NS) != 0;
        out.intermediateAddress = ipa;
        out.pageShift = shift;
        if (nest == null) {
            out.outputAddress = ipa;
            out.permissions = perms;
            return true;
        }
        long pa = stage2(nest, ipa, access, false, out);
        if (out.fault != null) {
            return false;
        }
        out.outputAddress = pa;
        out.permissions = perms & out.s2Permissions;
        return true;
    }

    /**
     * AArch64.S1CheckPermissions for an EL1&0-style regime. AP[2] (bit 7) makes the page
     * read-only, AP[1] (bit 6) gives unprivileged access; APTable[1] / APTable[0] of the tables
     * above remove write / unprivileged access, UXNTable / PXNTable add execute-never (unless
     * hierarchical permissions are disabled). Unprivileged execution needs only UXN clear;
     * privileged execution needs PXN clear and the page not writable unprivileged.
     */
    private static int stage1Permissions(long desc, int tableAttrs, boolean privileged) {
        int ap = (int) (desc >>> 6) & 3;
        if ((tableAttrs & APTABLE_NO_EL0) != 0) {
            ap &= ~1;
        }
        if ((tableAttrs & APTABLE_RO) != 0) {
            ap |= 2;
        }
        boolean uxn = (desc & UXN) != 0 || (tableAttrs & UXNTABLE) != 0;
        boolean pxn = (desc & PXN) != 0 || (tableAttrs & PXNTABLE) != 0;
        int perms;
        if (privileged) {
            perms = PERM_READ | ((ap & 2) == 0 ? PERM_WRITE : 0);
            if (!pxn && ap != 1) {
                perms |= PERM_EXEC;
            }
        } else {
            perms = ((ap & 1) != 0 ? PERM_READ : 0) | (ap == 1 ? PERM_WRITE : 0);
            if (!uxn) {
                perms |= PERM_EXEC;
            }
        }
        return perms;
    }

    // ---- stage 2 ------------------------------------------------------------------------

    /**
     * Translates {@code ipa}; on a fault fills {@code out} (stage 2, marked as a stage-1 walk
     * fetch if {@code forStage1Walk}) and returns -1. Records the leaf level, permissions and
     * attributes, and narrows {@link WalkResult#pageShift} to the stage-2 page.
     */
    private long stage2(Stage2Config c, long ipa, int access, boolean forStage1Walk, WalkResult out) {
        if (c.startLevel < 0 || ipa >>> c.inputSize != 0) {
            // AArch64.S2InvalidSL / S2InconsistentSL / IPAIsOutOfRange: Translation, level 0.
            return fault2(out, FaultKind.TRANSLATION, 0, ipa, forStage1Walk);
        }
        int oas = Math.min(c.outputSize, paMax);
        long base = c.ttb;
        if (base >>> oas != 0) {
            return fault2(out, FaultKind.ADDRESS_SIZE, 0, ipa, forStage1Walk);
        }
        Granule g = c.granule;
        int level = c.startLevel;
        int bits = c.startBits;
        // The concatenated start tables are aligned to their total size.
        base &= -(8L << bits);
        long desc = descend(g, level, bits, base, ipa, oas, 2, null, out);
        if (out.fault != null) {
            out.faultOnStage1Walk = forStage1Walk;
            return -1;
        }
        level = out.leafLevel;
        int shift = g.levelShift(level);
        long blockMask = (1L << shift) - 1;
        if ((desc & AF) == 0 && !c.accessFlagFaultDisable) {
            return fault2(out, FaultKind.ACCESS, level, ipa, forStage1Walk);
        }
        // AArch64.S2CheckPermissions: S2AP[0] (bit 6) read, S2AP[1] (bit 7) write, XN (bit 54).
        int perms = ((desc & (1L << 6)) != 0 ? PERM_READ : 0) | ((desc & (1L << 7)) != 0 ? PERM_WRITE : 0)
                | ((desc & UXN) == 0 ? PERM_EXEC : 0);
        // A stage-1 descriptor fetch is a read whatever the request.
        if (!allowed(perms, access)) {
            return fault2(out, FaultKind.PERMISSION, level, ipa, forStage1Walk);
        }
        long pa = (descriptorAddress(desc, g, oas) & ~blockMask) | (ipa & blockMask);
        if (!forStage1Walk) {
            out.s2Level = level;
            out.s2Permissions = perms;
            out.s2MemAttr = (int) (desc >>> 2) & 0xf;
            out.s2Shareability = (int) (desc >>> 8) & 3;
            out.pageShift = out.pageShift == 0 ? shift : Math.min(out.pageShift, shift);
        }
        return pa;
    }

    // ---- shared -------------------------------------------------------------------------

    /**
     * From the start table down to the leaf: returns the leaf descriptor, its level in
     * {@link WalkResult#leafLevel} and the table attributes gathered on the way (stage 1 only:
     * stage-2 table descriptors carry none) in {@link WalkResult#tableAttrs}. With {@code nest},
     * every descriptor address is an IPA translated by stage 2 first. On a fault fills
     * {@code out} and returns 0.
     */
    private long descend(Granule g, int level, int bits, long base, long input, int oas, int stage,
                         Stage2Config nest, WalkResult out) {
        int tableAttrs = 0;
        for (;;) {
            long descAddr = base + (((input >>> g.levelShift(level)) & ((1L << bits) - 1)) << 3);
            if (nest != null) {
                descAddr = stage2(nest, descAddr, ACCESS_READ, true, out);
                if (out.fault != null) {
                    return 0;
                }
            }
            long desc = read(descAddr, level, stage, input, out);
            if (out.fault != null) {
                return 0;
            }
            long addr = descriptorAddress(desc, g, oas);
            if (!checkDescriptor(desc, addr, g, level, oas, stage, input, descAddr, out)) {
                return 0;
            }
            if ((desc & DESC_TABLE) == 0 || level == 3) {
                out.leafLevel = level;
                out.tableAttrs = tableAttrs;
                return desc;
            }
            if (stage == 1) {
                tableAttrs |= (int) (desc >>> 59);
            }
            base = addr;
            level++;
            bits = g.stride();
        }
    }

    /**
     * The address field of a table, block or page descriptor: bits 47:granule, plus OA[51:48]
     * from bits 15:12 with a 64K granule when the output size is 52 bits (FEAT_LPA). Bits 51:48
     * are otherwise outside the field (RES0, ignored as the Arm pseudocode does).
     */
    private static long descriptorAddress(long desc, Granule g, int oas) {
        long a = desc & ADDR_47_12 & -(1L << g.shift());
        if (oas > 48 && g == Granule.G64K) {
            a |= ((desc >>> 12) & 0xf) << 48;
        }
        return a;
    }

    /** Valid bit, table/block/page encoding for the level, and the address size. */
    private boolean checkDescriptor(long desc, long addr, Granule g, int level, int oas, int stage, long input,
                                    long descAddr, WalkResult out) {
        if ((desc & DESC_VALID) == 0
                || ((desc & DESC_TABLE) == 0 && !g.blockAllowed(level, lpa))) {
            // Invalid, a block where the granule has none, or bits[1:0] = 01 at level 3 (reserved).
            fault(out, FaultKind.TRANSLATION, level, stage, input);
            out.faultDescriptorAddress = descAddr;
            return false;
        }
        if (addr >>> oas != 0) {
            fault(out, FaultKind.ADDRESS_SIZE, level, stage, input);
            out.faultDescriptorAddress = descAddr;
            return false;
        }
        return true;
    }

    private long read(long pa, int level, int stage, long input, WalkResult out) {
        out.descriptorsRead++;
        try {
            return memory.readLong(pa);
        } catch (MemoryFault e) {
            // Synchronous external abort on a translation table walk (SMMUv3 F_WALK_EABT).
            fault(out, FaultKind.TABLE_FETCH_ABORT, level, stage, input);
            out.faultDescriptorAddress = pa;
            return 0;
        }
    }

    private static boolean allowed(int perms, int access) {
        return ((access & ACCESS_READ) == 0 || (perms & PERM_READ) != 0)
                && ((access & ACCESS_WRITE) == 0 || (perms & PERM_WRITE) != 0)
                && ((access & ACCESS_EXEC) == 0 || (perms & PERM_EXEC) != 0);
    }

    private static boolean fault(WalkResult out, FaultKind kind, int level, int stage, long input) {
        out.fault = kind;
        out.faultLevel = level;
        out.faultStage = stage;
        out.faultInput = input;
        return false;
    }

    private static long fault2(WalkResult out, FaultKind kind, int level, long ipa, boolean forStage1Walk) {
        fault(out, kind, level, 2, ipa);
        out.faultOnStage1Walk = forStage1Walk;
        return -1;
    }
}
