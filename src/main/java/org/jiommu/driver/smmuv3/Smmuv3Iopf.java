package org.jiommu.driver.smmuv3;

import static org.jiommu.hw.smmuv3.SmmuRegs.*;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.jiommu.base.Errno;
import org.jiommu.base.WarningSink;
import org.jiommu.core.spi.CoreServices;
import org.jiommu.core.spi.IopfFault;
import org.jiommu.core.spi.IopfQueueRef;
import org.jiommu.core.spi.PageResponse;
import org.jiommu.driver.common.DriverFaults;
import org.jiommu.hw.smmuv3.SmmuCommand;
import org.jiommu.hw.smmuv3.SmmuEvent;
import org.jiommu.hw.smmuv3.SmmuV3Unit;

/**
 * Recoverable faults on the SMMUv3, as the kernel has them: only stalling masters take I/O page
 * faults ({@code dma-can-stall} firmware property on an SMMU with the stall model). The event
 * queue thread ({@code arm_smmu_evtq_thread} / {@code arm_smmu_handle_event}) reports a stalled
 * stage-1 fault to the core ({@code iommu_report_device_fault}, group index = the STAG); the
 * core's answer comes back as {@code arm_smmu_page_response}: CMD_RESUME, retry on success,
 * abort otherwise, without CMD_SYNC. Enablement rides on the attach path ({@code
 * arm_smmu_enable_iopf} / {@code _disable_iopf}): a domain with a fault handler attached to a
 * stalling master counts one reference, the first puts the master on the SMMU's IOPF queue, the
 * last takes it off; a master that cannot stall needs none (no error), one with several stream
 * ids is -EOPNOTSUPP. PCIe page requests are not IOPF on this driver: {@code arm_smmu_handle_ppr}
 * logs "unexpected PRI request" and, for the last request of a group, answers PRI_RESP DENY.
 */
final class Smmuv3Iopf {
    private final Smmuv3Driver drv;
    private final SmmuV3Unit unit;
    private final CoreServices core;
    private final WarningSink warnings;
    private final DriverFaults faults;
    private final long evtqBase;
    private final int evtqShift;
    private final long priqBase;
    private final int priqShift;
    /** smmu->evtq.iopf: allocated when the SMMU can stall; null otherwise. */
    final IopfQueueRef queue;
    /** Stalling masters by stream id (arm_smmu_find_master for event records; no driver lock on the fault path). */
    private final Map<Integer, Smmuv3Master> stallMasters = new ConcurrentHashMap<>();
    /** The event thread runs one at a time; records it did not handle are kept for {@link #drainEvents}. */
    private final Object evtqLock = new Object();
    private final List<long[]> logged = new ArrayList<>();
    /** The dev_info lines of arm_smmu_handle_ppr. */
    final List<String> unexpectedPri = new java.util.concurrent.CopyOnWriteArrayList<>();

    Smmuv3Iopf(Smmuv3Driver drv, CoreServices core, DriverFaults faults, long evtqBase, int evtqShift, long priqBase,
               int priqShift) {
        this.drv = drv;
        this.unit = drv.unit();
        this.core = core;
        this.warnings = core.warnings();
        this.faults = faults;
        this.evtqBase = evtqBase;
        this.evtqShift = evtqShift;
        this.priqBase = priqBase;
        this.priqShift = priqShift;
        this.queue = drv.stalls ? core.iopfQueueAlloc(drv.name() + "-evtq-iopf") : null;
        unit.setEventHandler(this::evtqThread);
        if (drv.pri) {
            unit.setPriHandler(this::priqThread);
        }
    }

    void addMaster(Smmuv3Master m) {
        if (m.stallEnabled) {
            for (int sid : m.streams) {
                stallMasters.put(sid, m);
            }
        }
    }

    void removeMaster(Smmuv3Master m) {
        for (int sid : m.streams) {
            stallMasters.remove(sid, m);
        }
    }

    /**
     * arm_smmu_enable_iopf for an attachment of a domain with a fault handler: 0 when the master
     * does not stall (nothing to enable), -EOPNOTSUPP with more than one stream id, else one
     * reference (the first adds the master to the IOPF queue) and 1: the attachment uses IOPF.
     */
    int enable(Smmuv3Master m) {
        if (!m.stallEnabled) {
            return 0;
        }
        if (m.streams.length != 1) {
            return Errno.EOPNOTSUPP.neg();
        }
        if (m.iopfRefcount() == 0) {
            int r = core.iopfQueueAddDevice(queue, m.dev);
            if (r != 0) {
                return r;
            }
            m.setIopfEnabled(true);
        }
        m.iopfRef(1);
        return 1;
    }

    /** arm_smmu_disable_iopf: one reference less, off the IOPF queue with the last (the leak plant keeps it, S19). */
    void disable(Smmuv3Master m) {
        if (faults.leakIopfRefcount()) {
            return;
        }
        m.iopfRef(-1);
        if (m.iopfRefcount() == 0) {
            core.iopfQueueRemoveDevice(queue, m.dev);
            m.setIopfEnabled(false);
        }
    }

    /**
     * arm_smmu_evtq_thread: every record in the queue; a stalled translation fault is reported to
     * the core, anything else is logged (arm_smmu_dump_event) and kept for {@link #drainEvents}.
     * The reported groups' handlers then run on the IOPF workqueue, without the driver's locks.
     */
    void evtqThread() {
        synchronized (evtqLock) {
            for (long[] evt : Smmuv3Queues.drain(unit, evtqBase, evtqShift, 32, EVTQ_PROD, EVTQ_CONS)) {
                if (handleEvent(evt) != 0) {
                    logged.add(evt);
                }
            }
        }
        if (queue != null) {
            core.iopfQueueRunWork(queue);
        }
    }

    /**
     * arm_smmu_handle_event: only F_TRANSLATION / F_ADDR_SIZE / F_ACCESS / F_PERMISSION with
     * Stall set are faults software can fix; read or write from RnW, exec from InD, privileged
     * from PnU; the group index is the STAG, the request is the last of its group; -EINVAL for a
     * stream no master owns.
     */
    private int handleEvent(long[] evt) {
        int id = (int) evt[0] & 0xff;
        if (id != SmmuEvent.F_TRANSLATION && id != SmmuEvent.F_ADDR_SIZE && id != SmmuEvent.F_ACCESS
                && id != SmmuEvent.F_PERMISSION) {
            return Errno.EOPNOTSUPP.neg();
        }
        if ((evt[1] & SmmuEvent.STALL) == 0) {
            return Errno.EOPNOTSUPP.neg();
        }
        boolean ssv = (evt[0] >>> SmmuEvent.SSV_SHIFT & 1) != 0;
        int ssid = (int) (evt[0] >>> SmmuEvent.SSID_SHIFT) & 0xFFFFF;
        int sid = (int) (evt[0] >>> 32);
        int perm = ((evt[1] & SmmuEvent.RNW) != 0 ? IopfFault.PERM_READ : IopfFault.PERM_WRITE)
                | ((evt[1] & SmmuEvent.IND) != 0 ? IopfFault.PERM_EXEC : 0)
                | ((evt[1] & SmmuEvent.PNU) != 0 ? IopfFault.PERM_PRIV : 0);
        Smmuv3Master m = stallMasters.get(sid);
        if (m == null) {
            return Errno.EINVAL.neg();
        }
        // iommu_report_device_fault answers INVALID itself when nothing takes the fault (v6.15+).
        core.reportDeviceFault(m.dev, new IopfFault(ssv, ssv ? ssid : 0, (int) evt[1] & 0xFFFF, true, perm, evt[2]));
        return 0;
    }

    /**
     * arm_smmu_page_response: CMD_RESUME to the master's first stream with the STAG; retry on
     * success, abort on invalid or failure; no CMD_SYNC (consumption is what resumes). A master
     * that does not stall is a WARN.
     */
    void pageResponse(org.jiommu.bus.Device dev, IopfFault last, PageResponse msg) {
        Smmuv3Master m = null;
        for (Smmuv3Master s : stallMasters.values()) {
            if (s.dev == dev) {
                m = s;
            }
        }
        if (m == null) {
            warnings.warn("arm_smmu_page_response", dev + " does not stall");
            return;
        }
        int action = msg.code() == PageResponse.Code.SUCCESS ? SmmuCommand.RESUME_RETRY : SmmuCommand.RESUME_ABORT;
        drv.cmdq().issue(List.of(SmmuCommand.resume(m.streams[0], last.grpid(), action)));
    }

    /**
     * arm_smmu_priq_thread / arm_smmu_handle_ppr: the driver does not take PCIe page requests as
     * I/O page faults; each is logged as unexpected and the last of a group answered DENY.
     */
    void priqThread() {
        for (long[] e : Smmuv3Queues.drain(unit, priqBase, priqShift, 16, PRIQ_PROD, PRIQ_CONS)) {
            int sid = (int) e[0];
            boolean ssv = e[0] < 0; // SSV is bit 63
            int ssid = (int) (e[0] >>> 32) & 0xFFFFF;
            boolean last = (e[0] >>> 62 & 1) != 0;
            int grpid = (int) e[1] & 0x1ff;
            unexpectedPri.add(String.format("unexpected PRI request received: sid 0x%08x.0x%05x: [%d%s] %s%s access"
                    + " at iova %#x", sid, ssid, grpid, last ? "L" : "", (e[0] >>> 60 & 1) != 0 ? "R" : "",
                    (e[0] >>> 61 & 1) != 0 ? "W" : "", e[1] & ~0xFFFL)); // dev_info, not a WARN
            if (last) {
                drv.cmdq().issue(List.of(SmmuCommand.priResp(sid, ssv ? ssid : -1, grpid, SmmuCommand.PRI_RESP_DENY)));
            }
        }
    }

    /** The event records the event thread logged, then those still in the queue (consumed now). */
    List<long[]> drainEvents() {
        synchronized (evtqLock) {
            List<long[]> out = new ArrayList<>(logged);
            logged.clear();
            out.addAll(Smmuv3Queues.drain(unit, evtqBase, evtqShift, 32, EVTQ_PROD, EVTQ_CONS));
            return out;
        }
    }
}
