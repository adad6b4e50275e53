package org.jiommu.scenario;

import java.util.Arrays;
import org.jiommu.base.Errno;
import org.jiommu.bus.Device;
import org.jiommu.bus.dma.DmaEngine;
import org.jiommu.bus.dma.DmaResult;
import org.jiommu.bus.dma.DmaTranslator;
import org.jiommu.platform.IommuUnits;
import org.jiommu.mem.MemoryFault;

/** Ops on the platform side: CPU memory access, devices, DMA. */
final class PlatformOps {
    private PlatformOps() {
    }

    static Outcome deviceAdd(Machine m, StepArgs a) {
        m.enumerate(a.device("device"), true);
        return new Outcome.Returned(null);
    }

    static Outcome deviceDel(Machine m, StepArgs a) {
        m.deviceDel(m.device(a.word("dev")));
        return new Outcome.Returned(null);
    }

    static Outcome driverBind(Machine m, StepArgs a) {
        m.driverBind(m.device(a.word("dev")), a.word("driver"));
        return new Outcome.Returned(null);
    }

    static Outcome driverUnbind(Machine m, StepArgs a) {
        m.driverUnbind(m.device(a.word("dev")));
        return new Outcome.Returned(null);
    }

    /** What a dma write without {@code data} sends: a recognisable byte. */
    static final byte FILL = 0x5a;

    /**
     * The device issues one DMA through its engine: cut at page boundaries, each page through
     * the device's ATC (if ATS is on) and the IOMMU hardware, which walks the tables in memory.
     */
    static Outcome dma(Machine m, StepArgs a) {
        int pasid = a.has("pasid") ? (int) a.number("pasid") : DmaTranslator.NO_PASID;
        boolean write = a.has("write");
        int len = (int) a.number(write ? "write" : "read");
        return dma(m, m.device(a.word("dev")), pasid, a.number("iova"), write, len, a.has("data") ? a.hex("data") : null);
    }

    /**
     * One DMA of {@code len} bytes by {@code dev} ({@code data}: what a write sends, null for the
     * fill byte); the dma step and {@code jiommu serve}'s DMA console.
     */
    static Outcome dma(Machine m, Device dev, int pasid, long iova, boolean write, int len, byte[] data) {
        DmaEngine engine = m.engine(dev);
        if (pasid != DmaTranslator.NO_PASID && (pasid < 0 || pasid > 0xfffff)) {
            throw new StepError("PASID " + pasid + " does not fit the 20 bits of a TLP prefix");
        }
        byte[] buf;
        DmaResult r;
        if (write) {
            buf = data != null ? data : filled(len);
            r = engine.write(pasid, iova, buf);
        } else {
            buf = new byte[len];
            r = engine.read(pasid, iova, buf);
        }
        if (r.ok()) {
            return new Outcome.Translated(r.firstPa(), buf);
        }
        String where = "at iova " + Numbers.format(r.faultIova()) + " after " + r.bytes() + " bytes";
        if (r.status() == DmaResult.Status.MEMORY_FAULT) {
            return new Outcome.Faulted(null, r.faultName() + " " + where);
        }
        IommuUnits units = m.platform.unitsOf(engine.device());
        IommuUnits.FaultText kind = units == null ? null : units.fault(r, pasid, where);
        if (kind != null) {
            // the kind's own reading: its hardware's fault classes in the scenario's words
            return new Outcome.Faulted(Expectation.FaultReason.of(kind.word()), kind.detail());
        }
        Expectation.FaultReason reason = Expectation.FaultReason.of(r.faultName());
        return new Outcome.Faulted(reason, reason == null ? r.faultName() + " " + where : where);
    }

    private static byte[] filled(int len) {
        byte[] b = new byte[len];
        Arrays.fill(b, FILL);
        return b;
    }

    static Outcome memWrite(Machine m, StepArgs a) {
        long pa = a.number("paddr");
        byte[] data = a.hex("data");
        try {
            m.memory.write(pa, data);
        } catch (MemoryFault e) {
            // The CPU touching memory that is not there: the scenario's bad address, -EFAULT.
            return new Outcome.Failed(Errno.EFAULT, e.getMessage());
        }
        return new Outcome.Returned(null);
    }

    static Outcome memRead(Machine m, StepArgs a) {
        long pa = a.number("paddr");
        long size = a.number("size");
        if (size < 0 || size > 1 << 20) {
            return new Outcome.Failed(Errno.EINVAL, "mem_read of " + size + " bytes: at most 1MiB per step");
        }
        try {
            return new Outcome.Returned(new Value.Hex(m.memory.read(pa, (int) size)));
        } catch (MemoryFault e) {
            return new Outcome.Failed(Errno.EFAULT, e.getMessage());
        }
    }
}
