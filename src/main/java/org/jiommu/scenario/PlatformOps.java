package org.jiommu.scenario;

import org.jiommu.base.Errno;
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
