package org.jiommu.scenario;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import net.jqwik.api.ForAll;
import net.jqwik.api.Label;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.LongRange;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

class NumbersTest {
    @Property
    @Label("decimal and 0x-hex spellings of any unsigned 64-bit value parse to it")
    void decimalAndHex(@ForAll long v) throws Exception {
        assertThat(Numbers.parse(Long.toUnsignedString(v))).isEqualTo(v);
        assertThat(Numbers.parse("0x" + Long.toHexString(v))).isEqualTo(v);
        assertThat(Numbers.parse("0X" + Long.toHexString(v).toUpperCase())).isEqualTo(v);
    }

    @Property
    @Label("N KiB/MiB/GiB/TiB and the short k/m/g/t are N shifted by 10/20/30/40")
    void units(@ForAll @LongRange(min = 0, max = 1 << 20) long n, @ForAll @IntRange(min = 0, max = 3) int u)
            throws Exception {
        String[] longUnits = {"KiB", "MiB", "GiB", "TiB"};
        String[] shortUnits = {"k", "m", "g", "t"};
        long want = n << (10 * (u + 1));
        assertThat(Numbers.parse(n + longUnits[u])).isEqualTo(want);
        assertThat(Numbers.parse(n + shortUnits[u])).isEqualTo(want);
        assertThat(Numbers.parse("0x" + Long.toHexString(n) + longUnits[u])).isEqualTo(want);
    }

    @Property
    @Label("formatSize and format print what parse reads back")
    void roundTrip(@ForAll long v) throws Exception {
        assertThat(Numbers.parse(Numbers.format(v))).isEqualTo(v);
        assertThat(Numbers.parse(Numbers.formatSize(v))).isEqualTo(v);
    }

    @Test
    @DisplayName("underscores group digits; one past 64 bits is refused")
    void groupingAndOverflow() throws Exception {
        assertThat(Numbers.parse("0xffff_f000")).isEqualTo(0xffff_f000L);
        assertThat(Numbers.parse("1_000_000")).isEqualTo(1_000_000L);
        assertThat(Numbers.parse("18446744073709551615")).isEqualTo(-1L);
        assertThatThrownBy(() -> Numbers.parse("18446744073709551616")).hasMessageContaining("larger than 64 bits");
        assertThatThrownBy(() -> Numbers.parse("0x1_0000_0000_0000_0000")).hasMessageContaining("larger than 64 bits");
        assertThatThrownBy(() -> Numbers.parse("16777216TiB")).hasMessageContaining("larger than 64 bits");
    }

    @Test
    @DisplayName("malformed numbers are refused with a reason")
    void malformed() {
        assertThatThrownBy(() -> Numbers.parse("4KB")).hasMessageContaining("KiB");
        assertThatThrownBy(() -> Numbers.parse("0x")).hasMessageContaining("no hex digits");
        assertThatThrownBy(() -> Numbers.parse("12a")).hasMessageContaining("'a' is not a decimal digit");
        assertThatThrownBy(() -> Numbers.parse("-1")).hasMessageContaining("'-'");
        assertThatThrownBy(() -> Numbers.parse("1__0")).isInstanceOf(Numbers.BadNumber.class);
        assertThatThrownBy(() -> Numbers.parse("KiB")).isInstanceOf(Numbers.BadNumber.class);
    }

    @Test
    @DisplayName("PiB and EiB (and the short p) count 2^50 and 2^60: 4PiB, the largest memory, is a number")
    void petaAndExa() throws Exception {
        assertThat(Numbers.parse("4PiB")).isEqualTo(1L << 52);
        assertThat(Numbers.parse("4p")).isEqualTo(1L << 52);
        assertThat(Numbers.parse("0x4P")).isEqualTo(1L << 52);
        assertThat(Numbers.parse("15EiB")).isEqualTo(15L << 60);
        assertThat(Numbers.formatSize(1L << 52)).isEqualTo("4PiB");
        assertThatThrownBy(() -> Numbers.parse("16EiB")).hasMessageContaining("larger than 64 bits");
        assertThatThrownBy(() -> Numbers.parse("4PB")).hasMessageContaining("PiB");
        assertThat(Numbers.parse("0x4e")).as("e stays a hex digit").isEqualTo(0x4e);
    }
}
