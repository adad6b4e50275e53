package org.jiommu.mem;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

class PhysicalMemoryTest {

    @Test
    @DisplayName("untouched memory reads zero and creates no frame")
    void untouchedReadsZero() {
        PhysicalMemory m = new PhysicalMemory();
        assertThat(m.readLong(0x1234_5678L & ~7)).isZero();
        assertThat(m.read(0xffff_f000L, 16)).containsOnly(0);
        assertThat(m.framesTouched()).isZero();
    }

    @Test
    @DisplayName("words are little-endian and visible through byte reads")
    void littleEndian() {
        PhysicalMemory m = new PhysicalMemory();
        m.writeLong(0x1000, 0x0807060504030201L);
        assertThat(m.read(0x1000, 8)).containsExactly(1, 2, 3, 4, 5, 6, 7, 8);
        m.write(0x1ffe, new byte[] {(byte) 0xaa, (byte) 0xbb, (byte) 0xcc, (byte) 0xdd});
        assertThat(m.readLong(0x1ff8)).isEqualTo(0xbbaa_0000_0000_0000L);
        assertThat(m.readLong(0x2000)).isEqualTo(0xddccL);
        assertThat(m.framesTouched()).isEqualTo(2);
    }

    @Test
    @DisplayName("52-bit addresses work when the memory is that large")
    void fiftyTwoBit() {
        PhysicalMemory m = new PhysicalMemory(PhysicalMemory.MAX_SIZE);
        long top = PhysicalMemory.MAX_SIZE - 8;
        m.writeLong(top, -1L);
        assertThat(m.readLong(top)).isEqualTo(-1L);
    }

    @Test
    @DisplayName("access beyond the configured size is a MemoryFault carrying the address")
    void beyondSize() {
        PhysicalMemory m = new PhysicalMemory(1L << 20);
        assertThatThrownBy(() -> m.readLong(1L << 20)).isInstanceOf(MemoryFault.class)
                .satisfies(e -> assertThat(((MemoryFault) e).address()).isEqualTo(1L << 20));
        assertThatThrownBy(() -> m.write((1L << 20) - 4, new byte[8])).isInstanceOf(MemoryFault.class);
        assertThatThrownBy(() -> m.readLong(-8)).isInstanceOf(MemoryFault.class);
        assertThat(m.framesTouched()).isZero();
    }

    @Test
    @DisplayName("compare-and-set installs exactly one winner among racing threads")
    void casRace() throws Exception {
        PhysicalMemory m = new PhysicalMemory();
        AtomicInteger winners = new AtomicInteger();
        List<Thread> ts = new ArrayList<>();
        for (int t = 1; t <= 8; t++) {
            long v = t;
            ts.add(new Thread(() -> {
                if (m.compareAndSetLong(0x5000, 0, v)) {
                    winners.incrementAndGet();
                }
            }));
        }
        ts.forEach(Thread::start);
        for (Thread t : ts) {
            t.join();
        }
        assertThat(winners.get()).isEqualTo(1);
        assertThat(m.readLong(0x5000)).isBetween(1L, 8L);
    }

    @Test
    @DisplayName("zero drops whole frames and clears partial ones")
    void zeroRange() {
        PhysicalMemory m = new PhysicalMemory();
        byte[] ones = new byte[3 * 4096];
        java.util.Arrays.fill(ones, (byte) 1);
        m.write(0x10000, ones);
        m.zero(0x10800, 0x2000);
        assertThat(m.read(0x10000, 0x800)).containsOnly(1);
        assertThat(m.read(0x10800, 0x2000)).containsOnly(0);
        assertThat(m.read(0x12800, 0x800)).containsOnly(1);
        m.zero(0x10000, 0x3000);
        assertThat(m.framesTouched()).isZero();
    }
}
