package org.jiommu.mem;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** The acquire/release word accessors page tables use (runs: PhysicalMemoryWordRunTest). */
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
}
