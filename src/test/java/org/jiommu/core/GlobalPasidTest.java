package org.jiommu.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.jiommu.core.Fixture.fails;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CyclicBarrier;
import org.jiommu.base.Errno;
import org.jiommu.bus.PlatformDevice;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.driver.mock.MockConfig;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Label;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** SEMANTICS.md 8.4 and scenario #78: the platform-wide PASID namespace. */
class GlobalPasidTest {
    @Test
    @DisplayName("#78 global PASID: none without PASIDs; 1,2,3 then INVALID with 4; a freed id comes back first")
    void scenario78() {
        Fixture f = new Fixture(MockConfig.builder("M").maxPasids(4).build());
        PlatformDevice none = f.add("none");
        assertThat(f.core.allocGlobalPasid(none)).isEqualTo(IommuCore.IOMMU_PASID_INVALID);
        PciDevice a = f.pci("a");
        f.core.deviceAdd(a);
        assertThat(f.core.devIommu(a).maxPasids()).isEqualTo(4);
        assertThat(f.core.allocGlobalPasid(a)).isEqualTo(1);
        assertThat(f.core.allocGlobalPasid(a)).isEqualTo(2);
        assertThat(f.core.allocGlobalPasid(a)).isEqualTo(3);
        assertThat(f.core.allocGlobalPasid(a)).isEqualTo(IommuCore.IOMMU_PASID_INVALID);
        f.core.freeGlobalPasid(2);
        assertThat(f.core.allocGlobalPasid(a)).isEqualTo(2);
        assertThat(f.core.globalPasids()).containsOnlyKeys(1, 2, 3).containsValue(4);
    }

    @Test
    @DisplayName("#78 the namespace is shared: a wide device cannot get an id a narrow one holds")
    void shared() {
        Fixture f = new Fixture();
        PciDevice narrow = new PciDevice("narrow", 0, 0, 0x20, true, 2, true, false); // 4 PASIDs
        f.core.fwspecInit(narrow, f.m.iommu());
        f.core.deviceAdd(narrow);
        PciDevice wide = f.pci("wide");
        f.core.deviceAdd(wide);
        assertThat(f.core.allocGlobalPasid(narrow)).isEqualTo(1);
        assertThat(f.core.allocGlobalPasid(wide)).isEqualTo(2);
        assertThat(f.core.allocGlobalPasid(narrow)).isEqualTo(3);
        assertThat(f.core.allocGlobalPasid(narrow)).isEqualTo(IommuCore.IOMMU_PASID_INVALID);
        assertThat(f.core.allocGlobalPasid(wide)).isEqualTo(4);
        assertThat(f.core.globalPasids()).containsEntry(1, 4).containsEntry(2, 1 << 20).containsEntry(3, 4);
    }

    @Test
    @DisplayName("#78 freeing INVALID or an id not allocated: WARN, nothing changes; fail_nth gives INVALID")
    void misuse() {
        Fixture f = new Fixture();
        PciDevice a = f.pci("a");
        f.core.deviceAdd(a);
        int w = f.core.warningCount();
        f.core.freeGlobalPasid(IommuCore.IOMMU_PASID_INVALID);
        f.core.freeGlobalPasid(5);
        assertThat(f.warningsSince(w)).hasSize(2);
        assertThat(f.core.globalPasids()).isEmpty();
        f.core.failNthAllocation(1);
        assertThat(f.core.allocGlobalPasid(a)).isEqualTo(IommuCore.IOMMU_PASID_INVALID);
        assertThat(f.core.globalPasids()).isEmpty();
        assertThat(f.core.allocGlobalPasid(a)).isEqualTo(1);
        PciDevice lone = f.pci("lone");
        fails(Errno.ENODEV, () -> f.core.allocGlobalPasid(lone));
        fails(Errno.EINVAL, () -> f.core.allocGlobalPasid(null));
    }

    @Provide
    Arbitrary<List<Integer>> ops() {
        // >= 0: allocate for a device with that many PASIDs (0..6); < 0: free PASID -op
        return Arbitraries.integers().between(-7, 6).list().ofMaxSize(60);
    }

    @Property(tries = 200)
    @Label("#78 I-NO-PASID-0 I-PASID-RANGE: the allocator follows the lowest-free reference model")
    void lowestFree(@ForAll("ops") List<Integer> ops) {
        GlobalPasidAllocator ida = new GlobalPasidAllocator();
        TreeSet<Integer> model = new TreeSet<>();
        for (int op : ops) {
            if (op >= 0) {
                int want = IommuCore.IOMMU_PASID_INVALID;
                for (int id = 1; id < op; id++) {
                    if (!model.contains(id)) {
                        want = id;
                        break;
                    }
                }
                int got = ida.alloc(op);
                assertThat(got).isEqualTo(want).isNotZero();
                if (got != IommuCore.IOMMU_PASID_INVALID) {
                    model.add(got);
                    assertThat(got).isLessThan(op);
                }
            } else {
                assertThat(ida.free(-op)).isEqualTo(model.remove(-op));
            }
            assertThat(ida.allocated().keySet()).containsExactlyElementsOf(model);
        }
    }

    @Test
    @DisplayName("#78 concurrent allocations and frees from many threads: unique, in range, never 0, nothing lost")
    void concurrent() throws Exception {
        Fixture f = new Fixture(MockConfig.builder("M").maxPasids(1 << 12).build());
        PciDevice a = f.pci("a");
        f.core.deviceAdd(a);
        int threads = 8;
        int perThread = 400;
        CyclicBarrier start = new CyclicBarrier(threads);
        ConcurrentLinkedQueue<Integer> kept = new ConcurrentLinkedQueue<>();
        ConcurrentLinkedQueue<Throwable> errors = new ConcurrentLinkedQueue<>();
        List<Thread> ts = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            Thread th = new Thread(() -> {
                try {
                    start.await();
                    List<Integer> mine = new ArrayList<>();
                    for (int i = 0; i < perThread; i++) {
                        int p = f.core.allocGlobalPasid(a);
                        if (p == IommuCore.IOMMU_PASID_INVALID || p == 0 || p >= (1 << 12)) {
                            throw new AssertionError("bad PASID " + p);
                        }
                        mine.add(p);
                        if (i % 3 == 0) { // give some back while others allocate
                            f.core.freeGlobalPasid(mine.remove(mine.size() / 2));
                        }
                    }
                    kept.addAll(mine);
                } catch (Throwable e) {
                    errors.add(e);
                }
            });
            ts.add(th);
            th.start();
        }
        for (Thread th : ts) {
            th.join();
        }
        assertThat(errors).isEmpty();
        Set<Integer> unique = new HashSet<>(kept);
        assertThat(unique).hasSameSizeAs(kept);
        assertThat(f.core.globalPasids().keySet()).isEqualTo(unique);
        assertThat(f.core.warningCount()).isZero();
        for (int p : unique) {
            f.core.freeGlobalPasid(p);
        }
        assertThat(f.core.globalPasids()).isEmpty();
        assertThat(f.core.allocGlobalPasid(a)).isEqualTo(1);
    }
}
