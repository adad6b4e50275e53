package org.jiommu.mem;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** The acquire/release and one-frame-run word accessors page tables use. */
class PhysicalMemoryPageTableAccessTest {

    @Test
    @DisplayName("acquire reads and release writes see the same words as the volatile ones")
    void acquireRelease() {
        PhysicalMemory m = new PhysicalMemory(1L << 20);
        m.writeLongRelease(0x1008, 0x1122_3344_5566_7788L);
        assertThat(m.readLong(0x1008)).isEqualTo(0x1122_3344_5566_7788L);
        m.writeLong(0x2000, 42);
        assertThat(m.readLongAcquire(0x2000)).isEqualTo(42);
        assertThat(m.readLongAcquire(0x3000)).isZero();
        long touched = m.framesTouched();
        m.writeLongRelease(0x4000, 0);
        assertThat(m.framesTouched()).as("writing zero to an untouched frame creates none").isEqualTo(touched);
        assertThatThrownBy(() -> m.readLongAcquire(0x1004)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> m.writeLongRelease(1L << 20, 1)).isInstanceOf(MemoryFault.class);
    }

    @Test
    @DisplayName("a run of words: first non-zero index, arithmetic-sequence write, never across a frame")
    void runs() {
        PhysicalMemory m = new PhysicalMemory(1L << 20);
        assertThat(m.firstNonZeroLong(0x5000, 512)).as("untouched frame").isEqualTo(-1);
        m.writeLongRunRelease(0x5010, 0x8000_0003L, 0x1000, 4);
        assertThat(m.readLong(0x5010)).isEqualTo(0x8000_0003L);
        assertThat(m.readLong(0x5028)).isEqualTo(0x8000_3003L);
        assertThat(m.readLong(0x5030)).isZero();
        assertThat(m.firstNonZeroLong(0x5000, 8)).isEqualTo(2);
        assertThat(m.firstNonZeroLong(0x5030, 10)).isEqualTo(-1);
        m.writeLongRunRelease(0x6000, 5, 1, 0);
        assertThat(m.framesTouched()).as("an empty run writes nothing").isEqualTo(1);
        assertThatThrownBy(() -> m.firstNonZeroLong(0x5ff8, 2)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> m.writeLongRunRelease(0x5008, 1, 1, 512)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> m.firstNonZeroLong(0x5004, 1)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> m.firstNonZeroLong(1L << 20, 1)).isInstanceOf(MemoryFault.class);
    }
}
