package org.jiommu.hw.arm;

import org.jiommu.hw.FaultKind;

/**
 * What one {@link VmsaWalker} walk found, filled in place so a walk allocates nothing: either
 * the output address with the page it belongs to, its permissions and attributes, or the
 * fault with its level and stage (Arm ARM: the fault status code, level and "stage 2 fault on
 * a stage-1 table walk" that ESR / an SMMU event reports). One result per thread.
 */
public final class WalkResult {
    /** Permission bits in {@link #s1Permissions}, {@link #s2Permissions}, {@link #permissions}. */
    public static final int PERM_READ = 1;
    public static final int PERM_WRITE = 2;
    public static final int PERM_EXEC = 4;

    // ---- fault (fault == null on success) ----
    public FaultKind fault;
    /** Lookup level (0..3) the fault was found at; 0 for input-range and base-address faults. */
    public int faultLevel;
    /** 1 or 2. */
    public int faultStage;
    /** A stage-2 fault met while fetching a stage-1 descriptor (Arm S1PTW; SMMUv3 CLASS = TT). */
    public boolean faultOnStage1Walk;
    /** The input address of the stage that faulted: the VA for stage 1, the IPA for stage 2. */
    public long faultInput;
    /** The descriptor being read when the fault was found (the fetch address for an abort). */
    public long faultDescriptorAddress;

    // ---- translation ----
    public long inputAddress;
    public long outputAddress;
    /** Intermediate physical address of a nested walk (stage-1 output), else equal to the output. */
    public long intermediateAddress;
    /** log2 of the size of the translation: the smaller of the two stages' leaves when nested. */
    public int pageShift;
    /** Leaf level of stage 1 (-1 if no stage 1) and of stage 2 (-1 if no stage 2). */
    public int s1Level;
    public int s2Level;
    /** Which stage-1 range translated: 0 (TTBR0) or 1 (TTBR1). */
    public int ttbr;
    /** Permissions of the leaf for the request's privilege, per stage and combined. */
    public int s1Permissions;
    public int s2Permissions;
    public int permissions;
    /** Stage 1: the MAIR byte AttrIndx selects, SH, nG, NS. */
    public int mairAttribute;
    public int s1Shareability;
    public boolean notGlobal;
    public boolean nonSecure;
    /** Stage 2: MemAttr[3:0] and SH. */
    public int s2MemAttr;
    public int s2Shareability;
    /** Descriptors read by this walk (table and leaf, both stages). */
    public int descriptorsRead;

    // Scratch of the walker's descent (valid only right after it).
    int leafLevel;
    int tableAttrs;

    public boolean ok() {
        return fault == null;
    }

    void reset(long input) {
        fault = null;
        faultLevel = 0;
        faultStage = 0;
        faultOnStage1Walk = false;
        faultInput = 0;
        faultDescriptorAddress = 0;
        inputAddress = input;
        outputAddress = 0;
        intermediateAddress = 0;
        pageShift = 0;
        s1Level = -1;
        s2Level = -1;
        ttbr = 0;
        s1Permissions = 0;
        s2Permissions = 0;
        permissions = 0;
        mairAttribute = 0;
        s1Shareability = 0;
        notGlobal = false;
        nonSecure = false;
        s2MemAttr = 0;
        s2Shareability = 0;
        descriptorsRead = 0;
    }

    @Override
    public String toString() {
        if (fault != null) {
            return String.format("%s fault, stage %d level %d%s, input %#x", fault, faultStage, faultLevel,
                    faultOnStage1Walk ? " (stage-1 walk)" : "", faultInput);
        }
        return String.format("%#x -> %#x (2^%d, perms %s%s%s)", inputAddress, outputAddress, pageShift,
                (permissions & PERM_READ) != 0 ? "r" : "-", (permissions & PERM_WRITE) != 0 ? "w" : "-",
                (permissions & PERM_EXEC) != 0 ? "x" : "-");
    }
}
