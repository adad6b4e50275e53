package org.jiommu.driver.vtd;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Label;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.jiommu.base.Prot;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.hw.vtd.FaultReason;

/**
 * Random map/unmap sequences on one domain shared by an ATS device and a device without ATS,
 * against a reference map of what the core was told: after every call the hardware agrees with
 * the core (I7), and every page of the window, read and written by both devices, either lands at
 * exactly the mapped physical address with the mapped permission or faults with the second-level
 * permission reason. A translation surviving its unmap in the IOTLB or the ATC would show here.
 */
class VtdDmaPropertyTest {
    static final int WINDOW = 16;
    static final long PA_BASE = 0x4000_0000L;

    /** kind 0 map (page, count, frame, prot), 1 unmap (the extent at index page % extents). */
    record Op(int kind, int page, int count, int frame, int prot) {
    }

    @Provide
    Arbitrary<Integer> widths() {
        return Arbitraries.of(39, 48, 57);
    }

    @Provide
    Arbitrary<List<Op>> ops() {
        Arbitrary<Op> op = Combinators.combine(Arbitraries.integers().between(0, 2), Arbitraries.integers().between(0, WINDOW - 1),
                Arbitraries.integers().between(1, 4), Arbitraries.integers().between(0, 1023),
                Arbitraries.of(Prot.READ, Prot.WRITE, Prot.RW)).as((k, p, c, fr, pr) -> new Op(k == 2 ? 1 : 0, p, c, fr, pr));
        return op.list().ofMinSize(1).ofMaxSize(14);
    }

    @Property(tries = 20)
    @Label("DMA lands where the core mapped it and faults elsewhere, for random map/unmap sequences")
    void dmaMatchesReference(@ForAll boolean scalable, @ForAll("widths") int width, @ForAll boolean high,
                             @ForAll("ops") List<Op> ops) {
        VtdFixture f = VtdFixture.secondStage(scalable, width);
        f.hotplug(f.nic, f.disk);
        IommuDomain d = f.core().pagingDomainAlloc(f.nic);
        f.core().attachDevice(d, f.nic);
        f.agree();
        f.core().attachDevice(d, f.disk);
        f.agree();
        long base = high ? (1L << width) - 2L * WINDOW * 4096 : 0x10_0000L;
        // reference: page -> {pa, prot}; extents: first page -> pages
        TreeMap<Integer, long[]> pages = new TreeMap<>();
        List<int[]> extents = new ArrayList<>();
        int seed = 0;
        for (Op op : ops) {
            if (op.kind() == 0) {
                int first = op.page();
                int n = Math.min(op.count(), WINDOW - first);
                boolean free = true;
                for (int i = first; i < first + n; i++) {
                    free &= !pages.containsKey(i);
                }
                if (!free) {
                    continue;
                }
                long pa = PA_BASE + (long) op.frame() * 4096;
                f.core().map(d, base + first * 4096L, pa, n * 4096L, op.prot());
                for (int i = 0; i < n; i++) {
                    pages.put(first + i, new long[] {pa + i * 4096L, op.prot()});
                }
                extents.add(new int[] {first, n});
            } else {
                if (extents.isEmpty()) {
                    continue;
                }
                int[] e = extents.remove(op.page() % extents.size());
                assertThat(f.core().unmap(d, base + e[0] * 4096L, e[1] * 4096L)).isEqualTo(e[1] * 4096L);
                for (int i = e[0]; i < e[0] + e[1]; i++) {
                    pages.remove(i);
                }
            }
            f.agree();
            for (PciDevice dev : new PciDevice[] {f.nic, f.disk}) {
                for (int i = 0; i < WINDOW; i++) {
                    long iova = base + i * 4096L + 64;
                    long[] m = pages.get(i);
                    byte[] data = VtdFixture.pattern(8, ++seed);
                    long w = f.write(dev, iova, data);
                    byte[] r = f.read(dev, iova, 8);
                    if (m != null && (m[1] & Prot.WRITE) != 0) {
                        assertThat(w).as("%s write page %d", dev, i).isEqualTo(m[0] + 64);
                        assertThat(f.p.memory().read(m[0] + 64, 8)).containsExactly(data);
                    } else {
                        assertThat(w).as("%s write page %d", dev, i).isEqualTo(-FaultReason.WRITE);
                    }
                    if (m != null && (m[1] & Prot.READ) != 0) {
                        assertThat(r).as("%s read page %d", dev, i).containsExactly(f.p.memory().read(m[0] + 64, 8));
                    } else {
                        assertThat(r).as("%s read page %d", dev, i).isNull();
                        assertThat(f.lastReadFault).isEqualTo(FaultReason.READ);
                    }
                }
            }
        }
    }
}
