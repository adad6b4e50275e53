package org.jiommu.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import java.util.ArrayList;
import java.util.List;
import org.jiommu.base.Errno;
import org.jiommu.base.IommuException;
import org.jiommu.bus.Device;
import org.jiommu.bus.PlatformDevice;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.driver.mock.MockConfig;
import org.jiommu.driver.mock.MockHardware;
import org.jiommu.driver.mock.MockIommuDriver;
import org.jiommu.driver.mock.MockPageTableFactory;
import org.jiommu.mem.FrameAllocator;
import org.jiommu.mem.PhysicalMemory;

/**
 * The SEMANTICS.md 13 fixture: a core with mock driver M registered (static blocked and identity
 * domains, 4K|2M|1G paging domains over ARM LPAE tables, DMA_FQ default, one group per device),
 * plus helpers to make and probe devices and to assert errnos.
 */
final class Fixture {
    final PhysicalMemory mem;
    final FrameAllocator frames;
    final IommuCore core;
    final MockIommuDriver m;
    private int nextDevfn = 8;

    Fixture() {
        this(CoreConfig.defaults(), MockConfig.builder("M").build());
    }

    Fixture(CoreConfig cfg) {
        this(cfg, MockConfig.builder("M").build());
    }

    Fixture(MockConfig mcfg) {
        this(CoreConfig.defaults(), mcfg);
    }

    Fixture(CoreConfig cfg, MockConfig mcfg) {
        this(cfg, mcfg, 1L << 32);
    }

    /**
     * The fixture with {@code memBytes} of physical memory instead of 4 GiB: a small memory keeps
     * the fixture's object graph small (its direct map holds a slot per frame of the frame pool),
     * for tools that walk the whole graph of every instance (Lincheck, GroupOpsLincheckTest).
     */
    Fixture(CoreConfig cfg, MockConfig mcfg, long memBytes) {
        mem = new PhysicalMemory(memBytes);
        frames = new FrameAllocator(mem);
        core = new IommuCore(cfg);
        m = newDriver(mcfg);
        core.iommuDeviceRegister(m.iommu());
    }

    MockIommuDriver newDriver(MockConfig mcfg) {
        return new MockIommuDriver(mcfg, core.services(), MockPageTableFactory.armLpae(frames, core.services().warnings()),
                new MockHardware(mem));
    }

    /** A platform device behind M (no PASIDs), fwspec set, not yet on its bus. */
    PlatformDevice plat(String name) {
        return plat(name, m);
    }

    PlatformDevice plat(String name, MockIommuDriver driver) {
        PlatformDevice d = new PlatformDevice(name, List.of(nextDevfn++), 0);
        core.fwspecInit(d, driver.iommu());
        return d;
    }

    /** A PCI function on bus 0 behind M with a 20-bit PASID capability (2^20 PASIDs). */
    PciDevice pci(String name) {
        return pci(name, false);
    }

    PciDevice pci(String name, boolean untrusted) {
        PciDevice d = new PciDevice(name, 0, 0, nextDevfn++, true, 20, true, untrusted);
        core.fwspecInit(d, m.iommu());
        return d;
    }

    /** Hot-plugs a new platform device (device_add + probe). */
    PlatformDevice add(String name) {
        PlatformDevice d = plat(name);
        core.deviceAdd(d);
        return d;
    }

    /** Puts devices on their bus without probing, then runs the bus scans (boot order). */
    void boot(Device... devs) {
        for (Device d : devs) {
            core.busAddDevice(d);
        }
        core.busIommuProbe(Device.BusType.PLATFORM);
        core.busIommuProbe(Device.BusType.PCI);
    }

    IommuGroup group(Device d) {
        return core.groupGet(d);
    }

    /** Runs {@code r}, expects an IommuException with {@code errno}, and returns it. */
    static IommuException fails(Errno errno, Runnable r) {
        IommuException e = catchThrowableOfType(r::run, IommuException.class);
        assertThat(e).as("expected %s", errno).isNotNull();
        assertThat(e.errno()).as(e.getMessage()).isEqualTo(errno);
        return e;
    }

    /** The warnings recorded since {@code from}, as "where: message" strings. */
    List<String> warningsSince(int from) {
        List<String> out = new ArrayList<>();
        List<Warning> all = core.warnings();
        for (int i = from; i < all.size(); i++) {
            out.add(all.get(i).where() + ": " + all.get(i).message());
        }
        return out;
    }

    /** Log lines (dev_warn etc.) containing {@code text}. */
    boolean logged(String text) {
        return core.logLines().stream().anyMatch(e -> e.text().contains(text));
    }
}
