package org.jiommu.hw.vtd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.jiommu.hw.FaultKind;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** Every fault reason the unit produces has a neutral kind, and the kinds say what the reason means. */
class VtdFaultKindTest {
    static final int[] PRODUCED = {0x1, 0x2, 0x3, 0x4, 0x5, 0x6, 0x7, 0x8, 0x9, 0xA, 0xB, 0xC, 0xD, 0xE, 0x30,
        0x50, 0x51, 0x52, 0x58, 0x59, 0x5A, 0x5B, 0x70, 0x71, 0x72, 0x73, 0x80, 0x81, 0x85, 0x87, 0x91};

    @Test
    @DisplayName("each produced VT-d fault reason maps to a neutral fault kind")
    void everyReasonHasAKind() {
        for (int code : PRODUCED) {
            assertThat(FaultReason.kind(code)).as("reason %#x", code).isNotNull();
        }
        assertThatThrownBy(() -> FaultReason.kind(0x60)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    @DisplayName("kinds: not-present config, permission, table fetch, reserved entry, blocked, interrupt window")
    void meanings() {
        assertThat(FaultReason.kind(FaultReason.CONTEXT_ENTRY_NOT_PRESENT)).isEqualTo(FaultKind.CONFIG_NOT_PRESENT);
        assertThat(FaultReason.kind(FaultReason.PASID_ENTRY_NOT_PRESENT)).isEqualTo(FaultKind.CONFIG_NOT_PRESENT);
        assertThat(FaultReason.kind(FaultReason.WRITE)).isEqualTo(FaultKind.PERMISSION);
        assertThat(FaultReason.kind(FaultReason.FS_PAGING_ENTRY_NOT_PRESENT)).isEqualTo(FaultKind.TRANSLATION);
        assertThat(FaultReason.kind(FaultReason.ADDRESS_BEYOND_MGAW)).isEqualTo(FaultKind.TRANSLATION);
        assertThat(FaultReason.kind(FaultReason.PAGING_ENTRY_ACCESS)).isEqualTo(FaultKind.TABLE_FETCH_ABORT);
        assertThat(FaultReason.kind(FaultReason.ROOT_TABLE_ACCESS)).isEqualTo(FaultKind.CONFIG_FETCH_ABORT);
        assertThat(FaultReason.kind(FaultReason.PAGING_ENTRY_RESERVED)).isEqualTo(FaultKind.RESERVED_ENTRY);
        assertThat(FaultReason.kind(FaultReason.PASID_ENTRY_INVALID)).isEqualTo(FaultKind.BAD_CONFIG);
        assertThat(FaultReason.kind(FaultReason.TRANSLATION_TYPE_BLOCKED)).isEqualTo(FaultKind.REQUEST_BLOCKED);
        assertThat(FaultReason.kind(FaultReason.SM_INTERRUPT_ADDRESS)).isEqualTo(FaultKind.RESERVED_OUTPUT);
        FaultRecord r = new FaultRecord(0x10, -1, 0x1000, FaultReason.READ, false, false,
                FaultRecord.Disposition.RECORDED);
        assertThat(r.kind()).isEqualTo(FaultKind.PERMISSION);
    }
}
