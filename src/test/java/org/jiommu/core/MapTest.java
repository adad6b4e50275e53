package org.jiommu.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.jiommu.core.Fixture.fails;

import java.util.List;
import org.jiommu.base.Errno;
import org.jiommu.base.Prot;
import org.jiommu.bus.PlatformDevice;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.driver.mock.MockConfig;
import org.jiommu.pgtable.IotlbGather;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** SEMANTICS.md 13, scenarios 83-94: the map/unmap front end over the mock's ARM LPAE tables. */
class MapTest {
    private static final long K4 = 0x1000;
    private static final long M2 = 0x200000;
    private Fixture f;
    private PlatformDevice a;
    private IommuDomain d;

    @BeforeEach
    void setUp() {
        f = new Fixture();
        a = f.add("a");
        d = f.core.pagingDomainAlloc(a);
        f.m.clearEvents();
    }

    @Test
    @DisplayName("#83 unaligned map: -EINVAL, no driver calls")
    void unaligned() {
        fails(Errno.EINVAL, () -> f.core.map(d, 0x1800, 0x2000, 0x1000, Prot.RW));
        fails(Errno.EINVAL, () -> f.core.map(d, 0x1000, 0x2800, 0x1000, Prot.RW));
        fails(Errno.EINVAL, () -> f.core.map(d, 0x1000, 0x2000, 0x800, Prot.RW));
        assertThat(f.m.calls()).isEmpty();
        assertThat(f.logged("unaligned")).isTrue();
    }

    @Test
    @DisplayName("#84 map on identity or blocked domains: -EINVAL")
    void mapNonPaging() {
        fails(Errno.EINVAL, () -> f.core.map(f.m.identityDomain(), 0, 0, K4, Prot.RW));
        fails(Errno.EINVAL, () -> f.core.map(f.m.blockedDomain(), 0, 0, K4, Prot.RW));
        assertThat(f.core.unmap(f.m.identityDomain(), 0, K4)).isZero();
        assertThat(f.m.calls()).isEmpty();
    }

    @Test
    @DisplayName("#85 page splitting: 4K x 511, 2M x 1, 4K x 1")
    void splitting() {
        f.core.map(d, 0x1000, 0x1000, 0x400000, Prot.RW);
        assertThat(f.m.calls("map_pages")).containsExactly(
                "map_pages(" + d + ", 0x1000, 0x1000, 0x1000 x 511) = 0 mapped 0x1ff000",
                "map_pages(" + d + ", 0x200000, 0x200000, 0x200000 x 1) = 0 mapped 0x200000",
                "map_pages(" + d + ", 0x400000, 0x400000, 0x1000 x 1) = 0 mapped 0x1000");
        assertThat(f.m.calls("iotlb_sync_map")).containsExactly(
                "iotlb_sync_map(" + d + ", 0x1000, 0x400000) = 0");
        for (long iova = 0x1000; iova < 0x401000; iova += 0x7000) {
            assertThat(f.core.iovaToPhys(d, iova)).isEqualTo(iova);
        }
        assertThat(f.core.iovaToPhys(d, 0)).isZero();
        assertThat(f.core.iovaToPhys(d, 0x401000)).isZero();
    }

    @Test
    @DisplayName("#86 big pages: one call, 2M x 2")
    void bigPages() {
        f.core.map(d, 0x200000, 0x40200000L, 0x400000, Prot.RW);
        assertThat(f.m.calls("map_pages")).containsExactly(
                "map_pages(" + d + ", 0x200000, 0x40200000, 0x200000 x 2) = 0 mapped 0x400000");
        assertThat(f.core.iovaToPhys(d, 0x3fffff)).isEqualTo(0x403fffffL);
    }

    @Test
    @DisplayName("#87 iova and paddr not 2M-congruent: 4K pages only (one 4K x 1024 request; LPAE maps to the end of a table per call)")
    void mismatchedOffsets() {
        f.core.map(d, 0x1000, 0x3000, 0x400000, Prot.RW);
        List<String> calls = f.m.calls("map_pages");
        assertThat(calls.get(0)).isEqualTo("map_pages(" + d + ", 0x1000, 0x3000, 0x1000 x 1024) = 0 mapped 0x1ff000");
        assertThat(calls).allMatch(s -> s.contains(", 0x1000 x "));
        assertThat(f.core.iovaToPhys(d, 0x400fff)).isEqualTo(0x402fffL);
    }

    @Test
    @DisplayName("#88 map rollback: map_pages maps 2M then fails -ENOMEM; iommu_unmap(D, 0, 2M) undoes it")
    void mapRollback() {
        long before = f.frames.stats().liveBlocks();
        f.m.failMapAfter(M2);
        fails(Errno.ENOMEM, () -> f.core.map(d, 0, 0, 0x400000, Prot.RW));
        assertThat(f.m.calls("map_pages", "unmap_pages", "iotlb_sync", "iotlb_sync_map")).containsExactly(
                "map_pages(" + d + ", 0x0, 0x0, 0x200000 x 2) = -12(ENOMEM) mapped 0x200000",
                "unmap_pages(" + d + ", 0x0, 0x200000 x 1) = 0x200000",
                "iotlb_sync(" + d + ", 0x0..0x1fffff)");
        assertThat(f.core.iovaToPhys(d, 0)).isZero();
        assertThat(f.core.iovaToPhys(d, M2)).isZero();
        assertThat(f.frames.stats().liveBlocks()).isGreaterThanOrEqualTo(before);
    }

    @Test
    @DisplayName("#89 iotlb_sync_map fails -EIO: iommu_map returns -EIO and the full range is unmapped")
    void syncFailure() {
        f.m.failSyncMap(Errno.EIO);
        fails(Errno.EIO, () -> f.core.map(d, 0x10000, 0x10000, 0x3000, Prot.RW));
        assertThat(f.m.calls("unmap_pages")).containsExactly("unmap_pages(" + d + ", 0x10000, 0x1000 x 3) = 0x3000");
        assertThat(f.core.iovaToPhys(d, 0x10000)).isZero();
        assertThat(f.m.snapshot().tables().get(d)).isEmpty();
    }

    @Test
    @DisplayName("#90 unmap after #85 returns 0x400000 with one iotlb_sync; an unaligned unmap returns 0")
    void unmap() {
        f.core.map(d, 0x1000, 0x1000, 0x400000, Prot.RW);
        f.m.clearEvents();
        assertThat(f.core.unmap(d, 0x1000, 0x400000)).isEqualTo(0x400000);
        assertThat(f.m.calls("iotlb_sync")).hasSize(1);
        assertThat(f.core.iovaToPhys(d, 0x200000)).isZero();
        f.m.clearEvents();
        assertThat(f.core.unmap(d, 0x1800, 0x1000)).isZero();
        assertThat(f.m.calls("unmap_pages")).isEmpty();
    }

    @Test
    @DisplayName("#91 unmap of a hole returns 0")
    void unmapHole() {
        assertThat(f.core.unmap(d, 0x800000, 0x4000)).isZero();
        f.core.map(d, 0x1000, 0x1000, 0x1000, Prot.RW);
        assertThat(f.core.unmap(d, 0x2000, 0x1000)).isZero();
        assertThat(f.core.iovaToPhys(d, 0x1000)).isEqualTo(0x1000);
    }

    @Test
    @DisplayName("#92 map_sg coalesces contiguous entries: two maps of 8K, 16K returned; failure unmaps the first")
    void mapSg() {
        long p0 = 0x1000_0000L;
        long p5 = 0x1000_5000L;
        List<SgEntry> sg = List.of(new SgEntry(p0, K4), new SgEntry(p0 + K4, K4), new SgEntry(p5, 2 * K4));
        assertThat(f.core.mapSg(d, 0x100000, sg, Prot.RW)).isEqualTo(0x4000);
        assertThat(f.m.calls("map_pages")).containsExactly(
                "map_pages(" + d + ", 0x100000, 0x10000000, 0x1000 x 2) = 0 mapped 0x2000",
                "map_pages(" + d + ", 0x102000, 0x10005000, 0x1000 x 2) = 0 mapped 0x2000");
        assertThat(f.m.calls("iotlb_sync_map")).containsExactly("iotlb_sync_map(" + d + ", 0x100000, 0x4000) = 0");
        assertThat(f.core.iovaToPhys(d, 0x103000)).isEqualTo(p5 + K4);
        f.m.clearEvents();
        f.m.failMapAfter(2 * K4);
        fails(Errno.ENOMEM, () -> f.core.mapSg(d, 0x200000, sg, Prot.RW));
        assertThat(f.core.iovaToPhys(d, 0x200000)).isZero();
        assertThat(f.m.calls("unmap_pages")).contains("unmap_pages(" + d + ", 0x200000, 0x1000 x 2) = 0x2000");
    }

    @Test
    @DisplayName("#92 map_sg: a P2P bus-address entry is skipped but ends a run")
    void mapSgBusAddress() {
        List<SgEntry> sg = List.of(new SgEntry(0x1000_0000L, K4), new SgEntry(0x9000_0000L, K4, true),
                new SgEntry(0x1000_1000L, K4));
        assertThat(f.core.mapSg(d, 0x100000, sg, Prot.RW)).isEqualTo(0x2000);
        assertThat(f.m.calls("map_pages")).containsExactly(
                "map_pages(" + d + ", 0x100000, 0x10000000, 0x1000 x 1) = 0 mapped 0x1000",
                "map_pages(" + d + ", 0x101000, 0x10001000, 0x1000 x 1) = 0 mapped 0x1000");
    }

    @Test
    @DisplayName("#93 iova_to_phys: identity returns the iova, blocked returns 0")
    void iovaToPhys() {
        assertThat(f.core.iovaToPhys(f.m.identityDomain(), 0xdead_b000L)).isEqualTo(0xdead_b000L);
        assertThat(f.core.iovaToPhys(f.m.blockedDomain(), 0xdead_b000L)).isZero();
        assertThat(f.core.iovaToPhys(d, 0xdead_b000L)).isZero();
    }

    @Test
    @DisplayName("#94 gather: adjacent 4K pages merge into one range; a 2M page forces a sync first")
    void gather() {
        IotlbGather g = new IotlbGather();
        f.core.iotlbGatherAddPage(d, g, 0, K4);
        f.core.iotlbGatherAddPage(d, g, K4, K4);
        assertThat(g.start).isZero();
        assertThat(g.end).isEqualTo(2 * K4 - 1);
        assertThat(f.m.calls("iotlb_sync")).isEmpty();
        f.core.iotlbGatherAddPage(d, g, 0x400000, M2);
        assertThat(f.m.calls("iotlb_sync")).containsExactly("iotlb_sync(" + d + ", 0x0..0x1fff)");
        assertThat(g.start).isEqualTo(0x400000);
        assertThat(g.end).isEqualTo(0x5fffff);
        assertThat(g.pgsize).isEqualTo(M2);
        // a disjoint page of the same size syncs too
        f.core.iotlbGatherAddPage(d, g, 0x40000000L, M2);
        assertThat(f.m.calls("iotlb_sync")).hasSize(2);
        f.core.iotlbSync(d, g);
        assertThat(g.isEmpty()).isTrue();
    }

    @Test
    @DisplayName("unmap_fast collects into the caller's gather without a sync; flush_iotlb_all reaches the driver")
    void unmapFast() {
        f.core.map(d, 0x1000, 0x1000, 0x2000, Prot.RW);
        f.m.clearEvents();
        IotlbGather g = new IotlbGather();
        assertThat(f.core.unmapFast(d, 0x1000, 0x2000, g)).isEqualTo(0x2000);
        assertThat(f.m.calls("iotlb_sync")).isEmpty();
        assertThat(g.start).isEqualTo(0x1000);
        assertThat(g.end).isEqualTo(0x2fff);
        f.core.iotlbSync(d, g);
        f.core.flushIotlbAll(d);
        assertThat(f.m.calls("iotlb_sync", "flush_iotlb_all")).containsExactly(
                "iotlb_sync(" + d + ", 0x1000..0x2fff)", "flush_iotlb_all(" + d + ")");
    }

    @Test
    @DisplayName("iommu_map passes prot bits it does not know to the format (no core prot check); the known ones decide")
    void unknownProtBitsReachTheFormat() {
        int prot = Prot.RW | (1 << 20);
        f.core.map(d, 0x4000, 0x8000, 0x1000, prot);
        assertThat(f.m.calls("map_pages")).singleElement().asString().startsWith("map_pages(" + d + ", 0x4000");
        assertThat(f.core.iovaToPhys(d, 0x4123)).isEqualTo(0x8123);
    }

    @Test
    @DisplayName("iommu_map has no wrap or prot check of its own: a wrapping range is the format's -ERANGE, null and freed domains are refused")
    void validation() {
        // the core passes the range on; ARM LPAE refuses an IOVA beyond its input size
        fails(Errno.ERANGE, () -> f.core.map(d, -0x1000L, 0, 0x2000, Prot.RW));
        assertThat(f.m.calls("map_pages")).hasSize(1);
        assertThat(f.core.iovaToPhys(d, -0x1000L)).isZero();
        f.m.clearEvents();
        fails(Errno.EINVAL, () -> f.core.map(null, 0, 0, 0x1000, Prot.RW));
        f.core.domainFree(d);
        fails(Errno.EINVAL, () -> f.core.map(d, 0, 0, 0x1000, Prot.RW));
        fails(Errno.EINVAL, () -> f.core.domainFree(d));
        assertThat(f.m.calls("map_pages")).isEmpty();
    }

    @Test
    @DisplayName("a paging domain without page sizes or map_pages: WARN and -ENODEV")
    void noMapOp() {
        Fixture g = new Fixture(MockConfig.builder("M").build());
        PlatformDevice b = g.add("b");
        IommuDomain dom = g.core.pagingDomainAlloc(b);
        dom.setPgsizeBitmap(0);
        int w = g.core.warningCount();
        fails(Errno.ENODEV, () -> g.core.map(dom, 0, 0, 0x1000, Prot.RW));
        assertThat(g.core.unmap(dom, 0, 0x1000)).isZero();
        assertThat(g.warningsSince(w)).hasSize(2);
    }

    @Test
    @DisplayName("S09 iommu_domain_free of a domain still in use: a WARN naming the use-after-free, not freed, nothing changes")
    void freeInUse() {
        f.core.attachDevice(d, a);
        CoreSnapshot before = f.core.snapshot();
        int w = f.core.warningCount();
        f.core.domainFree(d);
        f.core.domainFree(f.group(a).defaultDomain());
        assertThat(f.warningsSince(w)).hasSize(2).allMatch(s -> s.contains("use-after-free"));
        assertThat(f.core.snapshot()).isEqualTo(before);
        assertThat(f.m.calls("free")).isEmpty();
        assertThat(d.isFreed()).isFalse();
        f.core.detachDevice(d, a);
        f.core.domainFree(d);
        assertThat(f.m.calls("free")).containsExactly("free(" + d + ")");
    }
}
