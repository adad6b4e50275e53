package org.jiommu.hw;

/**
 * What went wrong with a request, in words every IOMMU model shares. Each model maps a kind
 * (with its level and stage) to its own records: VT-d to a fault reason code, SMMUv3 to an
 * event (F_TRANSLATION, F_PERMISSION, F_ADDR_SIZE, F_ACCESS, C_BAD_STE / C_BAD_CD,
 * F_WALK_EABT ...), SMMUv2 to a context bank's FSR bits (TF, PF, AFF, EF ...).
 */
public enum FaultKind {
    /** No valid entry translates the input (not present, reserved encoding, input out of range). */
    TRANSLATION,
    /** An entry was found but does not allow the access (read, write, execute, privilege). */
    PERMISSION,
    /** An address taken from a register or an entry is wider than the configured output size. */
    ADDRESS_SIZE,
    /** The leaf's access flag is clear and the hardware does not set it (Arm AF). */
    ACCESS,
    /** A configuration entry (context, PASID, stream table entry, context descriptor) is malformed. */
    BAD_CONFIG,
    /** A configuration entry says "not present" or "abort" for this requester. */
    CONFIG_NOT_PRESENT,
    /** Reading a configuration structure (root, context, PASID, STE, CD) from memory failed. */
    CONFIG_FETCH_ABORT,
    /** Reading a translation-table descriptor from memory failed (external abort on the walk). */
    TABLE_FETCH_ABORT,
    /** A descriptor holds a reserved bit or encoding that the architecture reports as its own error. */
    RESERVED_ENTRY,
    /** The kind of request is not allowed by the configuration (ATS on a non-ATS context, ...). */
    REQUEST_BLOCKED,
    /** The output falls in an address range the unit reserves (the x86 interrupt window). */
    RESERVED_OUTPUT
}
