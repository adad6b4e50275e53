package org.jiommu.hw.vtd;

import static org.jiommu.hw.vtd.VtdRegisters.*;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

/**
 * Primary fault logging of one unit: the fault recording registers, FSTS, FECTL and the
 * fault event, recorded the way QEMU's vtd_report_frcd_fault does (HARDWARE.md 2.8):
 * overflow (PFO) drops, a pending record of the same source id drops the new one ("fault
 * compression"), a busy next register sets PFO, and only the fault that makes PPF go from 0 to
 * 1 raises a fault event. Besides the registers it keeps a bounded log of every fault with its
 * {@link FaultRecord.Disposition}, for people and tests.
 *
 * <p>Thread-safe through its own monitor, which is taken after the unit's register lock and
 * never calls out while held: the fault-event handler runs after it is released.
 */
final class FaultRecorder {
    static final int LOG_CAPACITY = 4096;

    private final int registers;
    private final long[] frcdLo;
    private final long[] frcdHi;
    private int next; // guarded by this
    private int fsts; // guarded by this; PPF derived from the F bits
    private int fectl = ECTL_IM; // guarded by this; masked at reset, as the spec defines
    private int fedata;
    private int feaddr;
    private int feuaddr;
    private final ArrayDeque<FaultRecord> log = new ArrayDeque<>();
    private volatile Runnable eventHandler;

    FaultRecorder(int registers) {
        this.registers = registers;
        this.frcdLo = new long[registers];
        this.frcdHi = new long[registers];
    }

    void setEventHandler(Runnable handler) {
        this.eventHandler = handler;
    }

    /**
     * Reports one fault.
     *
     * @param suppress true when the fault is qualified and FPD is set along the way
     */
    FaultRecord.Disposition report(int sid, int pasid, long address, int reason, boolean write, boolean tr,
                                   boolean suppress) {
        FaultRecord.Disposition d;
        boolean event = false;
        synchronized (this) {
            if (suppress) {
                d = FaultRecord.Disposition.SUPPRESSED_FPD;
            } else if ((fsts & FSTS_PFO) != 0) {
                d = FaultRecord.Disposition.OVERFLOW;
            } else if (pendingFrom(sid)) {
                d = FaultRecord.Disposition.COMPRESSED;
            } else if ((frcdHi[next] & FRCD_F) != 0) {
                fsts |= FSTS_PFO;
                d = FaultRecord.Disposition.OVERFLOW;
            } else {
                FaultRecord r = new FaultRecord(sid, pasid, address, reason, write, tr, FaultRecord.Disposition.RECORDED);
                int preFsts = fsts | (anyPending() ? FSTS_PPF : 0);
                frcdLo[next] = r.frcdLo();
                frcdHi[next] = r.frcdHi() | FRCD_F;
                if ((preFsts & FSTS_PPF) == 0) {
                    fsts = (fsts & ~FSTS_FRI_MASK) | next << FSTS_FRI_SHIFT;
                    event = faultEventLocked(preFsts);
                }
                next = (next + 1) % registers;
                d = FaultRecord.Disposition.RECORDED;
            }
            if (log.size() == LOG_CAPACITY) {
                log.removeFirst();
            }
            log.addLast(new FaultRecord(sid, pasid, address, reason, write, tr, d));
        }
        if (event) {
            fire();
        }
        return d;
    }

    /**
     * Sets FSTS.IQE (invalidation queue error) with QEMU's fault-event rule.
     *
     * @return true if the caller must {@link #fireEvent()} once it holds no lock
     */
    synchronized boolean invalidationQueueError() {
        int preFsts = fsts | (anyPending() ? FSTS_PPF : 0);
        fsts |= FSTS_IQE;
        return faultEventLocked(preFsts);
    }

    /** Sends the fault-event interrupt (calls the handler). */
    void fireEvent() {
        fire();
    }

    /**
     * A fault event is generated only if nothing was pending before (PPF, PFO, IQE clear);
     * it sets FECTL.IP, and the interrupt goes out (clearing IP) unless FECTL.IM masks it.
     *
     * @return true if the interrupt message is to be sent
     */
    private boolean faultEventLocked(int preFsts) {
        if ((preFsts & (FSTS_PPF | FSTS_PFO | FSTS_IQE)) != 0) {
            return false;
        }
        if ((fectl & ECTL_IM) != 0) {
            fectl |= ECTL_IP;
            return false;
        }
        return true;
    }

    private void fire() {
        Runnable h = eventHandler;
        if (h != null) {
            h.run();
        }
    }

    private boolean pendingFrom(int sid) {
        for (int i = 0; i < registers; i++) {
            if ((frcdHi[i] & FRCD_F) != 0 && (frcdHi[i] & 0xFFFF) == sid) {
                return true;
            }
        }
        return false;
    }

    private boolean anyPending() {
        for (int i = 0; i < registers; i++) {
            if ((frcdHi[i] & FRCD_F) != 0) {
                return true;
            }
        }
        return false;
    }

    synchronized int readFsts() {
        return fsts | (anyPending() ? FSTS_PPF : 0);
    }

    /**
     * FSTS write: PFO, IQE, ICE and ITE are write-1-to-clear; PPF and FRI are read-only.
     *
     * @return true if this write cleared IQE (the queue may resume)
     */
    synchronized boolean writeFsts(int value) {
        int w1c = value & (FSTS_PFO | FSTS_IQE | FSTS_ICE | FSTS_ITE);
        boolean iqeCleared = (w1c & FSTS_IQE) != 0 && (fsts & FSTS_IQE) != 0;
        fsts &= ~w1c;
        return iqeCleared;
    }

    synchronized boolean iqeSet() {
        return (fsts & FSTS_IQE) != 0;
    }

    synchronized int readFectl() {
        return fectl;
    }

    /** FECTL write: only IM is writable; unmasking with IP set sends the pending interrupt. */
    void writeFectl(int value) {
        boolean send = false;
        synchronized (this) {
            fectl = (fectl & ~ECTL_IM) | (value & ECTL_IM);
            if ((fectl & ECTL_IM) == 0 && (fectl & ECTL_IP) != 0) {
                fectl &= ~ECTL_IP;
                send = true;
            }
        }
        if (send) {
            fire();
        }
    }

    synchronized int readEventRegister(int offset) {
        switch (offset) {
            case FEDATA_REG: return fedata;
            case FEADDR_REG: return feaddr;
            default: return feuaddr;
        }
    }

    synchronized void writeEventRegister(int offset, int value) {
        switch (offset) {
            case FEDATA_REG: fedata = value & 0xFFFF; break;
            case FEADDR_REG: feaddr = value & ~3; break;
            default: feuaddr = value; break;
        }
    }

    synchronized long readFrcd(int index, boolean high) {
        return high ? frcdHi[index] : frcdLo[index];
    }

    /** Writing F = 1 to a record's high half clears it (W1C); nothing else is writable. */
    synchronized void clearFrcd(int index, long highValue) {
        if ((highValue & FRCD_F) != 0) {
            frcdHi[index] &= ~FRCD_F;
        }
    }

    int registers() {
        return registers;
    }

    synchronized List<FaultRecord> log() {
        return new ArrayList<>(log);
    }

    synchronized void clearLog() {
        log.clear();
    }
}
