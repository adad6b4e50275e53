package org.jiommu.core;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.jiommu.base.Errno;
import org.jiommu.base.IommuException;
import org.jiommu.base.Prot;
import org.jiommu.bus.PlatformDevice;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.driver.mock.MockSnapshot;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Label;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/**
 * I-MAP (SEMANTICS.md 11.22) against a reference model: random maps of whole 4K-aligned areas
 * (some hitting an injected map or sync failure) and unmaps of whole areas. After every step the
 * domain translates exactly the model's pages; a failed map leaves the page table exactly as it
 * was; unmap returns the area's size; at the end, freeing the domain returns every table page.
 */
class MapModelProperties {
    private static final long PAGE = 0x1000;
    private static final long WINDOW = 64L << 20; // areas live in the first 64 MiB of IOVA

    /** Map [slot * 2M + off, +len) to paddr, optionally failing after {@code failAfter} bytes (-1 none) or in sync. */
    record Op(boolean map, int slot, long off, long len, long paddr, long failAfter, boolean failSync) {
    }

    @Provide
    Arbitrary<List<Op>> ops() {
        Arbitrary<Long> len = Arbitraries.oneOf(Arbitraries.longs().between(1, 16).map(n -> n * PAGE),
                Arbitraries.longs().between(1, 3).map(n -> n << 21), Arbitraries.longs().between(1, 600).map(n -> n * PAGE));
        Arbitrary<Long> off = Arbitraries.oneOf(Arbitraries.just(0L), Arbitraries.longs().between(0, 511).map(n -> n * PAGE));
        Arbitrary<Long> pa = Arbitraries.oneOf(Arbitraries.longs().between(0, 1023).map(n -> n << 21),
                Arbitraries.longs().between(0, 1 << 18).map(n -> n * PAGE));
        Arbitrary<Long> failAfter = Arbitraries.oneOf(Arbitraries.just(-1L), Arbitraries.just(-1L),
                Arbitraries.longs().between(0, 40).map(n -> n * PAGE));
        return Combinators.combine(Arbitraries.of(true, true, false), Arbitraries.integers().between(0, 31), off, len,
                pa, failAfter, Arbitraries.of(false, false, false, true)).as(Op::new).list().ofMinSize(1).ofMaxSize(25);
    }

    @Property(tries = 40)
    @Label("I-MAP: map/unmap through the core agree with a page-level reference model; failures undo themselves")
    void mapMatchesModel(@ForAll("ops") List<Op> ops) {
        Fixture f = new Fixture();
        PlatformDevice a = f.add("a");
        long baseline = f.frames.stats().liveBlocks();
        IommuDomain d = f.core.pagingDomainAlloc(a);
        TreeMap<Long, Long> pages = new TreeMap<>(); // iova page -> pa page
        TreeMap<Long, Long> areas = new TreeMap<>(); // area start -> length
        for (Op op : ops) {
            long iova = ((long) op.slot() << 21) + op.off();
            if (iova + op.len() > WINDOW) {
                continue;
            }
            if (op.map()) {
                boolean overlaps = false;
                Map.Entry<Long, Long> below = areas.floorEntry(iova + op.len() - 1);
                if (below != null && below.getKey() + below.getValue() > iova) {
                    overlaps = true;
                }
                if (overlaps) {
                    continue; // overlapping maps are the caller's bug, not a rule to test here
                }
                f.m.failMapAfter(op.failAfter() >= op.len() ? -1 : op.failAfter());
                f.m.failSyncMap(op.failSync() ? Errno.EIO : null);
                boolean mapFails = op.failAfter() >= 0 && op.failAfter() < op.len();
                boolean shouldFail = op.failSync() || mapFails;
                MockSnapshot before = shouldFail ? f.m.snapshot() : null;
                try {
                    f.core.map(d, iova, op.paddr(), op.len(), Prot.RW);
                    assertThat(shouldFail).as("map succeeded: " + op).isFalse();
                    for (long p = 0; p < op.len(); p += PAGE) {
                        pages.put(iova + p, op.paddr() + p);
                    }
                    areas.put(iova, op.len());
                } catch (IommuException e) {
                    assertThat(shouldFail).as("map failed: " + op + ": " + e.getMessage()).isTrue();
                    assertThat(e.errno()).isEqualTo(mapFails ? Errno.ENOMEM : Errno.EIO);
                    assertThat(f.m.snapshot().tables()).as("table after failed " + op)
                            .isEqualTo(before.tables());
                } finally {
                    f.m.clearFaults();
                }
            } else {
                // whole areas only (an unmap must not split a map); with none left, a hole
                Map.Entry<Long, Long> area = areas.floorEntry(iova);
                if (area == null || area.getKey() + area.getValue() <= iova) {
                    area = areas.ceilingEntry(iova);
                }
                if (area == null) {
                    assertThat(pages).doesNotContainKey(iova);
                    assertThat(f.core.unmap(d, iova, PAGE)).isZero();
                    continue;
                }
                assertThat(f.core.unmap(d, area.getKey(), area.getValue())).isEqualTo(area.getValue());
                for (long p = 0; p < area.getValue(); p += PAGE) {
                    pages.remove(area.getKey() + p);
                }
                areas.remove(area.getKey());
            }
            java.util.TreeSet<Long> probes = new java.util.TreeSet<>();
            for (long probe = 0; probe < WINDOW; probe += 0x3f100) {
                probes.add(probe);
            }
            // the edges of this op's range and of every live area
            probes.add(iova);
            probes.add(iova + op.len() - 1);
            probes.add(iova + op.len());
            areas.forEach((start, len) -> {
                probes.add(start);
                probes.add(start + len - 1);
                probes.add(start + len);
                if (start > 0) {
                    probes.add(start - 1);
                }
            });
            for (long probe : probes) {
                long pg = probe & ~(PAGE - 1);
                Long pa = pages.get(pg);
                long want = pa == null ? 0 : pa + (probe - pg);
                assertThat(f.core.iovaToPhys(d, probe)).as("iova %#x after %s", probe, op).isEqualTo(want);
            }
        }
        f.core.domainFree(d);
        assertThat(f.frames.stats().liveBlocks()).isEqualTo(baseline);
    }
}
