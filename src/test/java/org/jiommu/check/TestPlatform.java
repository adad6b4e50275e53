package org.jiommu.check;

import java.util.List;
import org.jiommu.bus.Device;
import org.jiommu.bus.PlatformDevice;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.core.CoreConfig;
import org.jiommu.core.IommuCore;
import org.jiommu.core.IommuGroup;
import org.jiommu.driver.mock.MockConfig;
import org.jiommu.driver.mock.MockIommuDriver;
import org.jiommu.driver.mock.MockPageTableFactory;
import org.jiommu.mem.FrameAllocator;
import org.jiommu.mem.PhysicalMemory;
import org.jiommu.platform.Platform;

/**
 * A core with mock driver M over ARM LPAE tables in simulated memory (the SEMANTICS.md 13
 * fixture), described as a {@link Platform} before any device exists, so the checker sees the
 * mock's exact hardware state and the frame allocator's baseline.
 */
final class TestPlatform {
    final PhysicalMemory mem = new PhysicalMemory(1L << 32);
    final FrameAllocator frames = new FrameAllocator(mem);
    final IommuCore core;
    final MockIommuDriver m;
    final Platform platform;
    private int nextDevfn = 8;

    TestPlatform() {
        this(CoreConfig.defaults(), MockConfig.builder("M").build());
    }

    TestPlatform(CoreConfig cfg, MockConfig mcfg) {
        core = new IommuCore(cfg);
        m = new MockIommuDriver(mcfg, core.services(), MockPageTableFactory.armLpae(frames, core.services().warnings()));
        core.iommuDeviceRegister(m.iommu());
        platform = FailNthTest.mockPlatform(core, frames, m);
        CoreWatch w = InvariantWatch.of(core);
        if (w != null) {
            w.usePlatform(platform);
        }
    }

    /** A platform device behind M, on its bus and probed. */
    PlatformDevice plat(String name) {
        PlatformDevice d = new PlatformDevice(name, List.of(nextDevfn++), 0);
        core.fwspecInit(d, m.iommu());
        core.deviceAdd(d);
        return d;
    }

    /** A PCI function behind M with 2^20 PASIDs, on its bus and probed. */
    PciDevice pci(String name) {
        PciDevice d = new PciDevice(name, 0, 0, nextDevfn++, true, 20, true, false);
        core.fwspecInit(d, m.iommu());
        core.deviceAdd(d);
        return d;
    }

    IommuGroup group(Device d) {
        return core.groupGet(d);
    }

    PlatformState capture() {
        return PlatformState.of(platform);
    }

    List<Violation> check() {
        return InvariantChecker.checkState(capture(), null);
    }

    /** The watch on this core (the test extension installed it). */
    CoreWatch watch() {
        return InvariantWatch.of(core);
    }
}
