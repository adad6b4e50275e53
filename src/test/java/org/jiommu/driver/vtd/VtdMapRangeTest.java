package org.jiommu.driver.vtd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import org.jiommu.base.Errno;
import org.jiommu.base.IommuException;
import org.jiommu.base.Prot;
import org.jiommu.core.TraceEvent;
import org.jiommu.core.spi.IommuDomain;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * VT-d paging domains are generic_pt domains: {@code iommu_map_nosync} calls the table's
 * {@code map_range} once for the whole range (no {@code iommu_pgsize} split, no
 * {@code min_pagesz} check) and unrolls a failure with {@code iommu_unmap(iova, mapped)};
 * {@code __iommu_unmap} calls {@code unmap_range} once, then one {@code iotlb_sync}.
 */
class VtdMapRangeTest {
    private static List<String> driverCalls(VtdFixture f) {
        List<String> calls = new ArrayList<>();
        f.core().addTraceListener(e -> {
            if (e.kind() == TraceEvent.Kind.DRIVER) {
                calls.add(e.function());
            }
        });
        return calls;
    }

    private static VtdFixture fixture(boolean firstStage) {
        VtdFixture f = firstStage ? VtdFixture.of(true, 48) : VtdFixture.secondStage(true, 48);
        f.hotplug(f.nic);
        return f;
    }

    @ParameterizedTest(name = "first stage {0}")
    @ValueSource(booleans = {true, false})
    @DisplayName("iommu_map_nosync: one map_range for a 4K + 2M + 4K range, leaves chosen by the table")
    void iommuMapNosyncCallsMapRangeOnce(boolean firstStage) {
        VtdFixture f = fixture(firstStage);
        IommuDomain d = f.domain(f.nic);
        List<String> calls = driverCalls(f);
        // the core's split path made three map_pages calls here (4K, 2M, 4K)
        f.core().map(d, 0x1ff000, 0x1_001f_f000L, 0x202000, Prot.RW);
        assertThat(calls.stream().filter(c -> c.startsWith("map_"))).containsExactly("map_range");
        assertThat(f.core().iovaToPhys(d, 0x1ff000)).isEqualTo(0x1_001f_f000L);
        assertThat(f.core().iovaToPhys(d, 0x300123)).isEqualTo(0x1_0030_0123L);
        assertThat(f.core().iovaToPhys(d, 0x400fff)).isEqualTo(0x1_0040_0fffL);
        f.agree();
        // the 2M in the middle is one leaf: unmapping its first 4K removes the whole leaf
        calls.clear();
        assertThat(f.core().unmap(d, 0x200000, 0x1000)).isEqualTo(0x200000);
        assertThat(calls).containsExactly("unmap_range", "iotlb_sync");
        f.agree();
    }

    @ParameterizedTest(name = "first stage {0}")
    @ValueSource(booleans = {true, false})
    @DisplayName("iommu_map_nosync: no min_pagesz check; a 4K-and-a-half range is map_range's -ENXIO, unrolled")
    void iommuMapNosyncLeavesAlignmentToMapRange(boolean firstStage) {
        VtdFixture f = fixture(firstStage);
        IommuDomain d = f.domain(f.nic);
        List<String> calls = driverCalls(f);
        // the core's split path refused this with -EINVAL before calling the driver
        assertThatThrownBy(() -> f.core().map(d, 0x1000, 0x5000_0000L, 0x1800, Prot.RW))
                .isInstanceOfSatisfying(IommuException.class, e -> assertThat(e.errno()).isEqualTo(Errno.ENXIO));
        // map_range mapped the first 4K; iommu_unmap(iova, mapped) took it out again
        assertThat(calls).containsExactly("map_range", "unmap_range", "iotlb_sync");
        assertThat(f.core().iovaToPhys(d, 0x1000)).isZero();
        assertThatThrownBy(() -> f.core().map(d, 0x800, 0x5000_0800L, 0x1000, Prot.RW))
                .isInstanceOfSatisfying(IommuException.class, e -> assertThat(e.errno()).isEqualTo(Errno.ENXIO));
        f.agree();
    }

    @ParameterizedTest(name = "first stage {0}")
    @ValueSource(booleans = {true, false})
    @DisplayName("__iommu_unmap: unmap_range once over mixed sizes, stopping at the first hole, then one iotlb_sync")
    void iommuUnmapCallsUnmapRangeOnce(boolean firstStage) {
        VtdFixture f = fixture(firstStage);
        IommuDomain d = f.domain(f.nic);
        f.core().map(d, 0x1ff000, 0x1_001f_f000L, 0x202000, Prot.RW);
        f.core().map(d, 0x600000, 0x2_0000_0000L, 0x1000, Prot.RW);
        List<String> calls = driverCalls(f);
        assertThat(f.core().unmap(d, 0x1ff000, 0x402000)).isEqualTo(0x202000);
        assertThat(calls).containsExactly("unmap_range", "iotlb_sync");
        assertThat(f.core().iovaToPhys(d, 0x600000)).isEqualTo(0x2_0000_0000L);
        f.agree();
    }
}
