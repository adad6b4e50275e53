package org.jiommu.bench;

import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.jiommu.base.Prot;
import org.jiommu.bus.pci.Acs;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.bus.pci.PciTopology;
import org.jiommu.core.CoreConfig;
import org.jiommu.core.IommuCore;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.platform.IommuUnits;
import org.jiommu.platform.Platform;
import org.jiommu.platform.UnitSpec;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The VT-d map path through the core, {@code iommu_map} then {@code iommu_unmap} of one range on
 * the default domain of a scalable-mode endpoint, first or second stage: what issue 13 item 17
 * changed (one {@code map_range} / {@code unmap_range} call per range instead of the core's
 * per-page-size {@code map_pages} loop). Each case maps a range and unmaps it again (the unmap's
 * page-selective IOTLB invalidation and wait included), so the tables stay and every invocation
 * starts from the same state; reported per map+unmap pair. The class uses only API that existed
 * before item 17, so the same file measures both sides (docs/PERFORMANCE.md, vtdfid branch).
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class VtdMapPathBench {
    static final long SZ_4K = 1L << 12;
    static final long SZ_2M = 1L << 21;
    static final int BATCH = 64;
    /** Ranges live 4 MiB apart from here. */
    static final long IOVA = 1L << 30;
    static final long PA = 0x1_0000_0000L;

    @State(Scope.Thread)
    public static class Domain {
        /** "first": a scalable unit with FLTS (x86-64 tables); "second": one without (second-level tables). */
        @Param({"first", "second"})
        public String stage;

        IommuCore core;
        IommuDomain domain;

        @Setup
        public void setup() {
            // the registered vtd kind with a scenario's options (no VT-d class named here: the
            // bench package reaches kinds through the platform only); "second" leaves FLTS out
            List<String> ecap = stage.equals("first") ? List.of("qi", "dt", "pt", "sc", "nest", "flts", "slts")
                    : List.of("qi", "dt", "pt", "sc", "nest", "slts");
            UnitSpec spec = new UnitSpec("dmar0", "vtd", Map.of("scalable", true, "address-width", 48L,
                    "ecap", List.copyOf(ecap)));
            Platform p = Platform.build(8L << 30, CoreConfig.defaults(), List.of(spec));
            PciTopology pci = p.unitsNamed("dmar0").topology();
            PciDevice dev = (pci != null ? pci : p.topology()).rootBus(0, 0).rootPort("rp0", 0x1c, 0, 1, Acs.ISOLATED)
                    .endpoint("nic", 0, 0, false, 0, false, Acs.NONE);
            p.describe(dev, "dmar0");
            p.unitsNamed("dmar0").enumerate(new IommuUnits.Firmware(dev, "dmar0", List.of(), List.of(), false), false);
            p.start();
            core = p.core();
            domain = core.groupGet(dev).domain();
            // the tables every range needs exist before the first measurement
            for (int i = 0; i < BATCH; i++) {
                core.map(domain, iova(i), PA, 2 * SZ_2M, Prot.RW);
                core.unmap(domain, iova(i), 2 * SZ_2M);
            }
            for (int i = 0; i < BATCH; i++) {
                core.map(domain, iova(i), PA + SZ_4K, SZ_4K, Prot.RW);
                core.map(domain, iova(i) + SZ_2M - SZ_4K, PA + SZ_4K, SZ_4K, Prot.RW);
                core.map(domain, iova(i) + 2 * SZ_2M, PA + SZ_4K, SZ_4K, Prot.RW);
                core.unmap(domain, iova(i), SZ_4K);
                core.unmap(domain, iova(i) + SZ_2M - SZ_4K, SZ_4K);
                core.unmap(domain, iova(i) + 2 * SZ_2M, SZ_4K);
            }
        }
    }

    static long iova(int i) {
        return IOVA + i * (4 * SZ_2M);
    }

    private static long pair(Domain s, long offset, long pa, long size) {
        long sum = 0;
        for (int i = 0; i < BATCH; i++) {
            s.core.map(s.domain, iova(i) + offset, pa, size, Prot.RW);
            sum += s.core.unmap(s.domain, iova(i) + offset, size);
        }
        return sum;
    }

    /** One 4K page. */
    @Benchmark
    @OperationsPerInvocation(BATCH)
    public long map4K(Domain s) {
        return pair(s, 0, PA, SZ_4K);
    }

    /** 256 x 4K in one call (output only 4K aligned: no 2M leaf). */
    @Benchmark
    @OperationsPerInvocation(BATCH)
    public long map256x4K(Domain s) {
        return pair(s, 0, PA + SZ_4K, 256 * SZ_4K);
    }

    /** One 2M leaf. */
    @Benchmark
    @OperationsPerInvocation(BATCH)
    public long map2M(Domain s) {
        return pair(s, 0, PA, SZ_2M);
    }

    /** 4K + 2M + 4K in one call: three map_pages calls on the split path, one map_range on generic_pt. */
    @Benchmark
    @OperationsPerInvocation(BATCH)
    public long map4K2M4K(Domain s) {
        return pair(s, SZ_2M - SZ_4K, PA + SZ_2M - SZ_4K, SZ_2M + 2 * SZ_4K);
    }
}
