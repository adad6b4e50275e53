package org.jiommu.dma;

import org.jiommu.bus.dma.DmaResult;
import org.jiommu.bus.dma.DmaTranslator;
import org.jiommu.bus.pci.Acs;
import org.jiommu.bus.pci.PciBus;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.core.CoreConfig;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.hw.vtd.VtdConfig;
import org.jiommu.driver.vtd.VtdPlatform;

/**
 * A VT-d machine (scalable mode, 48-bit) booted with three PCIe functions and the DMA layer on
 * top: {@code nic} (ATS) and {@code disk} behind their own root ports, {@code tbt} behind an
 * external-facing root port (untrusted, as the PCI core marks a Thunderbolt device).
 */
final class DmaFixture {
    static final long MEM = 16L << 30;
    final VtdPlatform p;
    final PciDevice nic;
    final PciDevice disk;
    final PciDevice tbt;
    final SimClock clock = new SimClock();
    final DmaIommu dma;

    DmaFixture(CoreConfig core) {
        this(core, DmaIommu.Config.defaults(MEM, 2));
    }

    DmaFixture(CoreConfig core, DmaIommu.Config cfg) {
        p = VtdPlatform.builder().memorySize(MEM).unit(VtdConfig.scalable(48)).coreConfig(core).build();
        PciBus root = p.topology().rootBus(0, 0);
        nic = root.rootPort("rp0", 0x1c, 0, 1, Acs.ISOLATED).endpoint("nic", 0, 0, true, 20, false, Acs.NONE);
        disk = root.rootPort("rp1", 0x1d, 0, 2, Acs.ISOLATED).endpoint("disk", 0, 0, false, 0, false, Acs.NONE);
        tbt = root.rootPort("rp2", 0x1b, 0, 3, Acs.ISOLATED).externalFacing().endpoint("tbt", 0, 0, false, 0, false, Acs.NONE);
        p.boot();
        for (PciDevice d : new PciDevice[] {nic, disk, tbt}) {
            p.core().deviceUseDefaultDomain(d);
        }
        dma = new DmaIommu(p.core(), p.memory(), clock, cfg);
        dma.bindCpu(0);
    }

    static DmaFixture lazy() {
        return new DmaFixture(CoreConfig.defaults());
    }

    static DmaFixture strict() {
        return new DmaFixture(CoreConfig.builder().strict(true).build());
    }

    IommuDomain domain(PciDevice d) {
        return p.core().groupGet(d).defaultDomain();
    }

    /** The device writes {@code data} at {@code iova}: the physical address it landed at, or -1 on a fault. */
    long write(PciDevice d, long iova, byte[] data) {
        DmaResult r = p.dma(d).write(DmaTranslator.NO_PASID, iova, data, 0, data.length, new DmaResult());
        return r.ok() ? r.firstPa() : -1;
    }

    /** The device reads {@code len} bytes at {@code iova}; null on a fault. */
    byte[] read(PciDevice d, long iova, int len) {
        byte[] buf = new byte[len];
        DmaResult r = p.dma(d).read(DmaTranslator.NO_PASID, iova, buf, 0, len, new DmaResult());
        return r.ok() ? buf : null;
    }

    static byte[] bytes(int n, int v) {
        byte[] b = new byte[n];
        java.util.Arrays.fill(b, (byte) v);
        return b;
    }
}
