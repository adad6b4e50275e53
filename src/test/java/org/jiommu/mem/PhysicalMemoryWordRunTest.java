package org.jiommu.mem;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** The word-run helpers page-table writers use: writeLongRelease, countMatchingLongs, fillLongsRelease. */
class PhysicalMemoryWordRunTest {
    private final PhysicalMemory mem = new PhysicalMemory(1L << 24);

    @Test
    @DisplayName("fillLongsRelease writes an arithmetic run across a frame boundary")
    void fillAcrossFrames() {
        long pa = 0x1FF0; // two words in the first frame, the rest in the next
        mem.fillLongsRelease(pa, 5, 0x1003, 0x1000);
        for (int i = 0; i < 5; i++) {
            assertThat(mem.readLong(pa + 8L * i)).isEqualTo(0x1003 + 0x1000L * i);
        }
        assertThat(mem.readLong(pa - 8)).isZero();
        assertThat(mem.readLong(pa + 40)).isZero();
    }

    @Test
    @DisplayName("fillLongsRelease with zeros clears words and creates no frame")
    void fillZeros() {
        mem.writeLong(0x3000, 7);
        long touched = mem.framesTouched();
        mem.fillLongsRelease(0x3000, 2, 0, 0);
        mem.fillLongsRelease(0x8000, 512, 0, 0);
        assertThat(mem.readLong(0x3000)).isZero();
        assertThat(mem.framesTouched()).isEqualTo(touched);
    }

    @Test
    @DisplayName("countMatchingLongs stops at the first word that does not match, across frames and untouched frames")
    void countMatching() {
        mem.fillLongsRelease(0x1FF8, 3, 0x11, 0x10); // 0x11, 0x21, 0x31
        mem.writeLong(0x2010, 0x42);
        assertThat(mem.countMatchingLongs(0x1FF8, 10, 0xF, 0x1)).isEqualTo(3);
        assertThat(mem.countMatchingLongs(0x1FF8, 2, 0xF, 0x1)).isEqualTo(2);
        assertThat(mem.countMatchingLongs(0x1FF8, 10, -1L, 0)).isZero();
        assertThat(mem.countMatchingLongs(0x5000, 1000, -1L, 0)).as("untouched frames read as zero").isEqualTo(1000);
        assertThat(mem.countMatchingLongs(0x5000, 10, 3, 3)).isZero();
        assertThat(mem.countMatchingLongs(0x5000, 0, 3, 3)).isZero();
    }

    @Test
    @DisplayName("writeLongRelease stores atomically visible words; bad addresses fault as readLong does")
    void writeRelease() {
        mem.writeLongRelease(0x4008, 0xDEADBEEFL);
        assertThat(mem.readLong(0x4008)).isEqualTo(0xDEADBEEFL);
        mem.writeLongRelease(0x4008, 0);
        assertThat(mem.readLong(0x4008)).isZero();
        assertThatThrownBy(() -> mem.writeLongRelease(0x4004, 1)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> mem.fillLongsRelease(mem.size() - 8, 2, 1, 0)).isInstanceOf(MemoryFault.class);
        assertThatThrownBy(() -> mem.countMatchingLongs(mem.size() - 8, 2, 0, 0)).isInstanceOf(MemoryFault.class);
    }
}
