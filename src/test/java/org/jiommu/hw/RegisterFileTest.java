package org.jiommu.hw;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

class RegisterFileTest {
    final RegisterFile regs = new RegisterFile(0x100)
            .define32(0x00, 0x10, 0, 0)                    // read-only with a reset value
            .define32(0x04, 0x8000_0000, 0x8000_0000, 0)   // IM-like: one RW bit, set at reset
            .define32(0x08, 0, 0, 0x3)                     // two RW1C bits
            .define64(0x10, 0, 0xFFFF_FFFF_FFFF_F000L, 0)  // a 64-bit address register
            .define64(0x18, 0, 0x0F, 0xF0);                // RW low nibble, RW1C next nibble

    @Test
    @DisplayName("RW bits take the written value, read-only bits keep theirs")
    void rwAndRo() {
        assertThat(regs.write(0x00, 0xFFFF)).isEqualTo(0x10);
        assertThat(regs.write(0x04, 0)).isZero();
        assertThat(regs.write(0x04, 0xFFFF_FFFF)).isEqualTo(0x8000_0000L);
        assertThat(regs.write(0x10, 0x1234_5678_9ABCL)).isEqualTo(0x1234_5678_9000L);
    }

    @Test
    @DisplayName("RW1C bits clear when written as 1 and only then; hardware sets them with setBits")
    void w1c() {
        regs.setBits(0x08, 0x3);
        assertThat(regs.write(0x08, 0)).isEqualTo(0x3);
        assertThat(regs.write(0x08, 0x1)).isEqualTo(0x2);
        regs.setBits(0x18, 0xF0);
        assertThat(regs.write(0x18, 0x35)).isEqualTo(0xC5);
    }

    @Test
    @DisplayName("widths: 32-bit, 64-bit, the upper half of a 64-bit register, undefined offsets")
    void widths() {
        assertThat(regs.is32(0x04)).isTrue();
        assertThat(regs.is64(0x10)).isTrue();
        assertThat(regs.width(0x14)).isZero();
        assertThat(regs.width(0x40)).isZero();
        regs.set(0x10, 0xAAAA_BBBB_CCCC_D000L);
        assertThat(regs.read32(0x14)).isEqualTo(0xAAAABBBB);
        assertThat(regs.read32(0x10)).isEqualTo(0xCCCCD000);
        assertThat(regs.read32(0x40)).isZero();
        assertThatThrownBy(() -> regs.get(0x40)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> regs.define32(0x14, 0, 0, 0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new RegisterFile(0x100).define32(0x0, 0, 1, 1))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    @DisplayName("reset restores every register's reset value")
    void reset() {
        regs.write(0x04, 0);
        regs.set(0x00, 0x99);
        regs.reset();
        assertThat(regs.get(0x04)).isEqualTo(0x8000_0000L);
        assertThat(regs.get(0x00)).isEqualTo(0x10);
    }
}
