package org.jiommu.hw.vtd;

import org.jiommu.hw.FaultKind;

/**
 * VT-d DMA-remapping fault reasons (the FR field of a fault record), numbered as QEMU's VT-d
 * model encodes them (HARDWARE.md 2.8), with the spec's "qualified" property: a qualified fault
 * is not reported when Fault Processing Disable is set in the context entry, the PASID-directory
 * entry or the PASID-table entry that processed the request.
 *
 * <p>As in QEMU, requests are reported with the legacy codes (0x1-0xE) for root, context and
 * second-stage conditions in scalable mode too; the spec's scalable-mode codes (0x38-0x48,
 * 0x78-0x7D) are not used. Codes 0x30, 0x52 and 0x5A are spec conditions QEMU does not detect
 * (root-table-address programming, reserved bits in a PASID-directory or PASID-table entry).
 */
public final class FaultReason {
    private FaultReason() {
    }

    public static final int ROOT_ENTRY_NOT_PRESENT = 0x1;
    public static final int CONTEXT_ENTRY_NOT_PRESENT = 0x2;
    public static final int CONTEXT_ENTRY_INVALID = 0x3;
    public static final int ADDRESS_BEYOND_MGAW = 0x4;
    public static final int WRITE = 0x5;
    public static final int READ = 0x6;
    public static final int PAGING_ENTRY_ACCESS = 0x7;
    public static final int ROOT_TABLE_ACCESS = 0x8;
    public static final int CONTEXT_TABLE_ACCESS = 0x9;
    public static final int ROOT_ENTRY_RESERVED = 0xA;
    public static final int CONTEXT_ENTRY_RESERVED = 0xB;
    public static final int PAGING_ENTRY_RESERVED = 0xC;
    public static final int TRANSLATION_TYPE_BLOCKED = 0xD;
    public static final int INTERRUPT_ADDRESS = 0xE;
    public static final int ROOT_TABLE_ADDRESS_TTM = 0x30;
    public static final int PASID_DIR_ACCESS = 0x50;
    public static final int PASID_DIR_ENTRY_NOT_PRESENT = 0x51;
    public static final int PASID_DIR_ENTRY_RESERVED = 0x52;
    public static final int PASID_TABLE_ACCESS = 0x58;
    public static final int PASID_ENTRY_NOT_PRESENT = 0x59;
    public static final int PASID_ENTRY_RESERVED = 0x5A;
    public static final int PASID_ENTRY_INVALID = 0x5B;
    public static final int FS_PAGING_ENTRY_ACCESS = 0x70;
    public static final int FS_PAGING_ENTRY_NOT_PRESENT = 0x71;
    public static final int FS_PAGING_ENTRY_RESERVED = 0x72;
    public static final int FS_PTPTR_INVALID = 0x73;
    public static final int FS_NON_CANONICAL = 0x80;
    public static final int FS_USER_SUPERVISOR = 0x81;
    public static final int SM_WRITE = 0x85;
    public static final int SM_INTERRUPT_ADDRESS = 0x87;
    public static final int FS_BIT_UPDATE_FAILED = 0x91;

    /** Short description, as a fault log prints it. */
    public static String name(int code) {
        switch (code) {
            case ROOT_ENTRY_NOT_PRESENT: return "root entry not present";
            case CONTEXT_ENTRY_NOT_PRESENT: return "context entry not present";
            case CONTEXT_ENTRY_INVALID: return "invalid context-entry programming";
            case ADDRESS_BEYOND_MGAW: return "input address beyond the address width";
            case WRITE: return "write without W permission";
            case READ: return "read without R permission";
            case PAGING_ENTRY_ACCESS: return "paging-entry access error";
            case ROOT_TABLE_ACCESS: return "root-table access error";
            case CONTEXT_TABLE_ACCESS: return "context-table access error";
            case ROOT_ENTRY_RESERVED: return "root entry reserved bits set";
            case CONTEXT_ENTRY_RESERVED: return "context entry reserved bits set";
            case PAGING_ENTRY_RESERVED: return "paging entry reserved bits set";
            case TRANSLATION_TYPE_BLOCKED: return "translation type blocks the request";
            case INTERRUPT_ADDRESS: return "output address in the interrupt range";
            case ROOT_TABLE_ADDRESS_TTM: return "root-table address register TTM reserved";
            case PASID_DIR_ACCESS: return "PASID-directory access error";
            case PASID_DIR_ENTRY_NOT_PRESENT: return "PASID-directory entry not present";
            case PASID_DIR_ENTRY_RESERVED: return "PASID-directory entry reserved bits set";
            case PASID_TABLE_ACCESS: return "PASID-table access error";
            case PASID_ENTRY_NOT_PRESENT: return "PASID entry not present";
            case PASID_ENTRY_RESERVED: return "PASID entry reserved bits set";
            case PASID_ENTRY_INVALID: return "invalid PASID-entry programming";
            case FS_PAGING_ENTRY_ACCESS: return "first-stage paging-entry access error";
            case FS_PAGING_ENTRY_NOT_PRESENT: return "first-stage paging entry not present";
            case FS_PAGING_ENTRY_RESERVED: return "first-stage paging entry reserved bits set";
            case FS_PTPTR_INVALID: return "invalid first-stage table pointer";
            case FS_NON_CANONICAL: return "first-stage input address not canonical";
            case FS_USER_SUPERVISOR: return "user request to a supervisor page";
            case SM_WRITE: return "write to a read-only page";
            case SM_INTERRUPT_ADDRESS: return "output address in the interrupt range";
            case FS_BIT_UPDATE_FAILED: return "first-stage A/D update failed";
            default: return String.format("fault reason %#x", code);
        }
    }

    /**
     * True for a qualified fault: one that FPD suppresses (QEMU vtd_qualified_faults). Not
     * qualified: root-level conditions, table access errors and reserved bits in the entry
     * that carries FPD itself, which cannot be trusted to disable fault processing.
     */
    public static boolean isQualified(int code) {
        switch (code) {
            case ROOT_ENTRY_NOT_PRESENT:
            case ROOT_TABLE_ACCESS:
            case CONTEXT_TABLE_ACCESS:
            case ROOT_ENTRY_RESERVED:
            case CONTEXT_ENTRY_RESERVED:
            case ROOT_TABLE_ADDRESS_TTM:
            case PASID_DIR_ACCESS:
            case PASID_DIR_ENTRY_RESERVED:
            case PASID_TABLE_ACCESS:
            case PASID_ENTRY_RESERVED:
                return false;
            default:
                return true;
        }
    }

    /** The coarse class the scenario language names ({@code fault: not-present} ...). */
    public static String category(int code) {
        switch (code) {
            case ROOT_ENTRY_NOT_PRESENT:
            case CONTEXT_ENTRY_NOT_PRESENT:
            case FS_PAGING_ENTRY_NOT_PRESENT:
                return "not-present";
            case WRITE:
            case READ:
            case SM_WRITE:
            case FS_USER_SUPERVISOR:
                return "permission";
            case TRANSLATION_TYPE_BLOCKED:
                return "blocked";
            case PASID_DIR_ENTRY_NOT_PRESENT:
            case PASID_ENTRY_NOT_PRESENT:
            case PASID_ENTRY_INVALID:
                return "bad-pasid";
            case ADDRESS_BEYOND_MGAW:
            case FS_NON_CANONICAL:
                return "out-of-range";
            default:
                return "error";
        }
    }

    /**
     * The neutral {@link FaultKind} of a fault reason, so code above the models can tell faults
     * apart without VT-d's codes. VT-d reports a non-present paging entry and a missing
     * permission with the same codes (0x5 / 0x6: "no read / write permission", a non-present
     * entry grants neither), so both are PERMISSION here; an input above the address width
     * (0x4, 0x80) is TRANSLATION, as an out-of-range input is on Arm.
     */
    public static FaultKind kind(int code) {
        switch (code) {
            case ROOT_ENTRY_NOT_PRESENT:
            case CONTEXT_ENTRY_NOT_PRESENT:
            case PASID_DIR_ENTRY_NOT_PRESENT:
            case PASID_ENTRY_NOT_PRESENT:
                return FaultKind.CONFIG_NOT_PRESENT;
            case CONTEXT_ENTRY_INVALID:
            case ROOT_ENTRY_RESERVED:
            case CONTEXT_ENTRY_RESERVED:
            case ROOT_TABLE_ADDRESS_TTM:
            case PASID_DIR_ENTRY_RESERVED:
            case PASID_ENTRY_RESERVED:
            case PASID_ENTRY_INVALID:
                return FaultKind.BAD_CONFIG;
            case ROOT_TABLE_ACCESS:
            case CONTEXT_TABLE_ACCESS:
            case PASID_DIR_ACCESS:
            case PASID_TABLE_ACCESS:
                return FaultKind.CONFIG_FETCH_ABORT;
            case ADDRESS_BEYOND_MGAW:
            case FS_NON_CANONICAL:
            case FS_PAGING_ENTRY_NOT_PRESENT:
                return FaultKind.TRANSLATION;
            case WRITE:
            case READ:
            case SM_WRITE:
            case FS_USER_SUPERVISOR:
                return FaultKind.PERMISSION;
            case PAGING_ENTRY_ACCESS:
            case FS_PAGING_ENTRY_ACCESS:
            case FS_PTPTR_INVALID:
            case FS_BIT_UPDATE_FAILED:
                return FaultKind.TABLE_FETCH_ABORT;
            case PAGING_ENTRY_RESERVED:
            case FS_PAGING_ENTRY_RESERVED:
                return FaultKind.RESERVED_ENTRY;
            case TRANSLATION_TYPE_BLOCKED:
                return FaultKind.REQUEST_BLOCKED;
            case INTERRUPT_ADDRESS:
            case SM_INTERRUPT_ADDRESS:
                return FaultKind.RESERVED_OUTPUT;
            default:
                throw new IllegalArgumentException(String.format("unknown fault reason %#x", code));
        }
    }
}
