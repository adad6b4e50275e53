package org.jiommu.driver.smmuv3;

import static org.jiommu.hw.smmuv3.SmmuRegs.*;

import java.util.ArrayList;
import java.util.List;
import org.jiommu.base.Errno;
import org.jiommu.hw.smmuv3.SmmuCommand;
import org.jiommu.hw.smmuv3.SmmuV3Unit;
import org.jiommu.mem.FrameAllocator;
import org.jiommu.mem.PhysicalMemory;

/**
 * Queue memory and the SMMU's enable sequence: {@code arm_smmu_init_one_queue} (a queue shrinks
 * by half until its memory can be had, down to a page), {@code arm_smmu_device_reset} (CR0
 * cleared, CR1 / CR2, stream table, command queue on, CFGI_ALL and TLBI_NSNH_ALL with syncs,
 * event and PRI queues on, ATS checks, interrupts, SMMUEN last; each CR0 write waits for CR0ACK)
 * and the consumer side of the event queue.
 */
final class Smmuv3Queues {
    private Smmuv3Queues() {
    }

    /** Q_MAX_SZ_SHIFT = PAGE_SHIFT + MAX_PAGE_ORDER (the model's allocator: order 10). */
    static final int Q_MAX_SZ_SHIFT = 12 + FrameAllocator.MAX_ORDER;
    static final int CMDQ_MAX_SZ_SHIFT = Q_MAX_SZ_SHIFT - 4;
    static final int EVTQ_MAX_SZ_SHIFT = Q_MAX_SZ_SHIFT - 5;
    static final int PRIQ_MAX_SZ_SHIFT = Q_MAX_SZ_SHIFT - 4;
    /** CR1: table and queue walks inner-shareable, write-back inner and outer. */
    static final int CR1_VALUE = 3 << 10 | 1 << 8 | 1 << 6 | 3 << 4 | 1 << 2 | 1;
    /** CR2: PTM (no broadcast TLB maintenance) and RECINVSID (record invalid StreamIDs). */
    static final int CR2_VALUE = 1 << 2 | 1 << 1;
    static final int IRQ_CTRL_GERROR_IRQEN = 1;
    static final int IRQ_CTRL_PRIQ_IRQEN = 1 << 1;
    static final int IRQ_CTRL_EVTQ_IRQEN = 1 << 2;

    record Queue(long base, int log2Size) {
    }

    /** arm_smmu_init_one_queue: 2^shift entries of {@code entryBytes}, halved until allocated. */
    static Queue alloc(FrameAllocator frames, int shift, int entryBytes, String what) {
        while (true) {
            long qsz = (long) entryBytes << shift;
            long pa = FrameAllocator.orderFor(qsz) > FrameAllocator.MAX_ORDER ? -1 : frames.allocBytes(qsz);
            if (pa >= 0) {
                return new Queue(pa, shift);
            }
            if (qsz < 4096 || shift == 0) {
                throw Smmuv3Driver.err(Errno.ENOMEM, "failed to allocate queue (" + qsz + " bytes) for " + what);
            }
            shift--;
        }
    }

    private static long qBase(long base, int log2) {
        return 1L << 62 | base & Q_BASE_ADDR_MASK | log2;
    }

    /** arm_smmu_write_reg_sync: write, then wait for the acknowledge register to match. */
    private static void writeSync(SmmuV3Unit unit, int reg, int ack, int value) {
        unit.writeRegister32(reg, value);
        while (unit.readRegister32(ack) != value) {
            Thread.onSpinWait();
        }
    }

    static void reset(Smmuv3Driver drv, Smmuv3Cmdq cmdq, Smmuv3Tables tables, long evtqBase, int evtqShift,
                      long priqBase, int priqShift) {
        SmmuV3Unit unit = drv.unit;
        if ((unit.readRegister32(CR0) & CR0_SMMUEN) != 0) {
            drv.warnings().warn("arm_smmu_device_reset", drv.name() + ": SMMU currently enabled! Resetting...");
            unit.writeRegister32(GBPA, unit.readRegister32(GBPA) | GBPA_ABORT | GBPA_UPDATE);
        }
        writeSync(unit, CR0, CR0ACK, 0);
        unit.writeRegister32(CR1, CR1_VALUE);
        unit.writeRegister32(CR2, CR2_VALUE);
        unit.writeRegister64(STRTAB_BASE, tables.strtabBase());
        unit.writeRegister32(STRTAB_BASE_CFG, (int) tables.strtabBaseCfg);
        unit.writeRegister64(CMDQ_BASE, cmdq.qBase());
        unit.writeRegister32(CMDQ_PROD, 0);
        unit.writeRegister32(CMDQ_CONS, 0);
        int enables = CR0_CMDQEN;
        writeSync(unit, CR0, CR0ACK, enables);
        // Whatever the SMMU cached before: configuration, then TLBs.
        cmdq.submitSync(List.of(SmmuCommand.cfgiAll()));
        cmdq.submitSync(List.of(SmmuCommand.tlbiNsnhAll()));
        enables = enableQueue(unit, EVTQ_BASE, EVTQ_PROD, EVTQ_CONS, qBase(evtqBase, evtqShift), enables | CR0_EVTQEN);
        if (drv.pri) {
            enables = enableQueue(unit, PRIQ_BASE, PRIQ_PROD, PRIQ_CONS, qBase(priqBase, priqShift),
                    enables | CR0_PRIQEN);
        }
        if (drv.ats) {
            enables |= CR0_ATSCHK;
            writeSync(unit, CR0, CR0ACK, enables);
        }
        writeSync(unit, IRQ_CTRL, IRQ_CTRLACK, 0);
        writeSync(unit, IRQ_CTRL, IRQ_CTRLACK, IRQ_CTRL_EVTQ_IRQEN | IRQ_CTRL_GERROR_IRQEN
                | (drv.pri ? IRQ_CTRL_PRIQ_IRQEN : 0));
        enables |= CR0_SMMUEN;
        writeSync(unit, CR0, CR0ACK, enables);
    }

    /** An output queue's base, PROD and CONS, then CR0 with its enable bit (acknowledged). */
    private static int enableQueue(SmmuV3Unit unit, int baseReg, int prodReg, int consReg, long qBase, int enables) {
        unit.writeRegister64(baseReg, qBase);
        unit.writeRegister32(prodReg, 0);
        unit.writeRegister32(consReg, 0);
        writeSync(unit, CR0, CR0ACK, enables);
        return enables;
    }

    /**
     * The consumer side of an output queue (queue_remove_raw until empty, then the overflow
     * acknowledged, queue_sync_cons_ovf): the records between CONS and PROD, CONS moved past them.
     */
    static List<long[]> drain(SmmuV3Unit unit, long base, int log2, int entryBytes, int prodReg, int consReg) {
        PhysicalMemory mem = unit.memory();
        List<long[]> out = new ArrayList<>();
        int mask = (2 << log2) - 1;
        int prodV = unit.readRegister32(prodReg);
        int consV = unit.readRegister32(consReg);
        int prod = prodV & mask;
        int cons = consV & mask;
        while (cons != prod) {
            long at = base + (long) entryBytes * (cons & ((1 << log2) - 1));
            long[] rec = new long[entryBytes / 8];
            for (int i = 0; i < rec.length; i++) {
                rec[i] = mem.readLong(at + 8L * i);
            }
            out.add(rec);
            cons = (cons + 1) & mask;
        }
        unit.writeRegister32(consReg, (prodV & Q_OVFLG) | cons);
        return out;
    }
}
