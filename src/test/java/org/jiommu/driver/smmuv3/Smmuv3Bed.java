package org.jiommu.driver.smmuv3;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.jiommu.bus.Device;
import org.jiommu.bus.dma.DmaEngine;
import org.jiommu.bus.dma.DmaResult;
import org.jiommu.bus.pci.Acs;
import org.jiommu.bus.pci.PciBus;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.core.CoreConfig;
import org.jiommu.core.IommuCore;
import org.jiommu.core.spi.ResvRegion;
import org.jiommu.hw.smmuv3.SmmuCommand;
import org.jiommu.hw.smmuv3.SmmuFeatures;
import org.jiommu.hw.smmuv3.SmmuV3Unit;
import org.jiommu.platform.IommuUnits;
import org.jiommu.platform.Platform;
import org.jiommu.platform.UnitSpec;

/**
 * An SMMUv3 platform for the driver tests: one unit "smmu0" of the smmuv3 kind with the given
 * features, PCI functions created behind their own root ports, every command the driver queues
 * recorded ({@link #cmds}).
 */
final class Smmuv3Bed {
    final Platform p;
    final Smmuv3Units units;
    final Smmuv3Driver drv;
    final SmmuV3Unit unit;
    final IommuCore core;
    /** Every command the driver issued since the last {@link #clear}, CMD_SYNCs included. */
    final List<long[]> cmds = new ArrayList<>();
    private final Map<Device, DmaEngine> engines = new HashMap<>();
    private int nextBus = 0x10;

    Smmuv3Bed(SmmuFeatures f) {
        this(f, CoreConfig.defaults());
    }

    Smmuv3Bed(SmmuFeatures f, CoreConfig cfg) {
        p = Platform.build(1L << 32, cfg, List.of(new UnitSpec("smmu0", "smmuv3", Map.of("features", f))));
        units = (Smmuv3Units) p.unitsNamed("smmu0");
        drv = units.driver("smmu0");
        unit = drv.unit();
        core = p.core();
        drv.tapCommands(c -> {
            synchronized (cmds) {
                cmds.add(c.clone());
            }
        });
        p.start();
    }

    /** Full features with 256-entry queues (what the kind advertises). */
    static SmmuFeatures features() {
        SmmuFeatures f = SmmuFeatures.full();
        return new SmmuFeatures(f.stage1(), f.stage2(), f.ats(), f.pri(), f.cd2l(), f.twoLevelStreamTable(),
                f.asid16(), f.vmid16(), f.rangeInvalidation(), f.sidBits(), f.ssidBits(), f.oas(), f.granules(), 8);
    }

    /** A PCIe endpoint alone behind its own ACS root port (created, not added). */
    PciDevice endpoint(String name, boolean ats, int pasidBits, boolean pri) {
        int bus = nextBus++;
        return p.topology().rootBus(0, 0).rootPort("rp-" + name, bus - 0x10 + 1, 0, bus, Acs.ISOLATED)
                .endpoint(name, 0, 0, ats, pasidBits, pri, Acs.NONE);
    }

    /** Two ATS + PASID functions of one card without ACS (one group). */
    PciDevice[] twoFunctions() {
        int bus = nextBus++;
        PciBus b = p.topology().rootBus(0, 0).rootPort("rp-mf", bus - 0x10 + 1, 0, bus, Acs.ISOLATED);
        return new PciDevice[] {b.endpoint("fn0", 0, 0, true, 20, false, Acs.NONE),
            b.endpoint("fn1", 0, 1, true, 20, false, Acs.NONE)};
    }

    /** Hot-plugs {@code dev} behind smmu0 with firmware {@code regions}. */
    void add(Device dev, ResvRegion... regions) {
        p.describe(dev, "smmu0");
        units.enumerate(new IommuUnits.Firmware(dev, "smmu0", List.of(), List.of(regions), false), true);
    }

    int sid(PciDevice dev) {
        return p.topology().dmaRequesterId(dev);
    }

    DmaEngine engine(Device dev) {
        return engines.computeIfAbsent(dev, p::engine);
    }

    /** A DMA read of 4 bytes; the physical address, or -(fault code) - 1. */
    long read(Device dev, int pasid, long iova) {
        DmaResult r = engine(dev).read(pasid, iova, new byte[4], 0, 4, new DmaResult());
        return r.ok() ? r.firstPa() : -r.faultCode() - 1;
    }

    long write(Device dev, int pasid, long iova) {
        DmaResult r = engine(dev).write(pasid, iova, new byte[] {1, 2, 3, 4}, 0, 4, new DmaResult());
        return r.ok() ? r.firstPa() : -r.faultCode() - 1;
    }

    void clear() {
        synchronized (cmds) {
            cmds.clear();
        }
    }

    /** The opcodes issued since the last clear, in order. */
    List<Integer> opcodes() {
        synchronized (cmds) {
            return cmds.stream().map(c -> SmmuCommand.opcode(c[0])).toList();
        }
    }

    List<long[]> commands(int opcode) {
        synchronized (cmds) {
            return cmds.stream().filter(c -> SmmuCommand.opcode(c[0]) == opcode).toList();
        }
    }
}
