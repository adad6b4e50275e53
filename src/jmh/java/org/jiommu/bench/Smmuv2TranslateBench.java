package org.jiommu.bench;

import java.util.List;
import java.util.concurrent.TimeUnit;
import org.jiommu.base.Prot;
import org.jiommu.bus.PlatformDevice;
import org.jiommu.bus.dma.TranslationResult;
import org.jiommu.core.CoreConfig;
import org.jiommu.core.IommuCore;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.driver.smmuv2.Smmuv2Driver;
import org.jiommu.hw.smmuv2.Smmuv2Config;
import org.jiommu.hw.smmuv2.Smmuv2Unit;
import org.jiommu.mem.FrameAllocator;
import org.jiommu.mem.PhysicalMemory;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

/**
 * SMMUv2 translate ({@code hw.smmuv2.Smmuv2Unit}) from a master's point of view, programmed by
 * the real driver ({@code Smmuv2Driver} through {@code IommuCore}): stream match (SMR, S2CR),
 * the bank, then a TLB hit (issue 12 target 40 M/s) or, with the TLB off, a 4-level stage-1 walk.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class Smmuv2TranslateBench {
    static final int PAGES = 4096;
    static final int SID = 0x10;
    static final long VA_BASE = 0x40_0000_0000L;
    static final long PA_BASE = 0x1000_0000L;

    @State(Scope.Thread)
    public static class Unit {
        @Param({"4096", "0"})
        public int tlbEntries;
        Smmuv2Unit unit;
        final TranslationResult out = new TranslationResult();

        @Setup(Level.Trial)
        public void build() {
            PhysicalMemory memory = new PhysicalMemory(4L << 30);
            IommuCore core = new IommuCore(CoreConfig.defaults());
            unit = new Smmuv2Unit("bench", memory, Smmuv2Config.defaults().withTlbEntries(tlbEntries));
            Smmuv2Driver drv = new Smmuv2Driver("bench", unit, core.services(), new FrameAllocator(memory));
            core.iommuDeviceRegister(drv.iommu());
            PlatformDevice dev = new PlatformDevice("master", List.of(SID), 0);
            core.fwspecInit(dev, drv.iommu(), List.of(SID));
            core.deviceAdd(dev);
            IommuDomain d = core.pagingDomainAlloc(dev);
            core.attachDevice(d, dev);
            core.map(d, VA_BASE, PA_BASE, (long) PAGES << 12, Prot.RW);
        }
    }

    /** With tlbEntries = 4096 every page stays in the TLB after the first pass: hits. With 0: walks. */
    @Benchmark
    @OperationsPerInvocation(PAGES)
    public void translate(Unit u, Blackhole bh) {
        for (int i = 0; i < PAGES; i++) {
            long va = VA_BASE + ((long) ((i * 769) % PAGES) << 12);
            bh.consume(u.unit.translate(SID, -1, va, false, false, u.out));
            bh.consume(u.out.pa);
        }
    }
}
