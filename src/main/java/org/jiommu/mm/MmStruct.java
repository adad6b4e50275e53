package org.jiommu.mm;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.jiommu.base.Errno;
import org.jiommu.base.IommuException;
import org.jiommu.base.Prot;
import org.jiommu.mem.FrameAllocator;
import org.jiommu.pgtable.IotlbGather;

/**
 * {@code struct mm_struct}, as far as SVA needs one (SEMANTICS.md 8.5): a process address space
 * with its page table ({@code mm->pgd}, a real table in simulated memory in the CPU's format,
 * {@link CpuFormat}, which an SVA domain shares with the IOMMU) and its VMAs. Pages are populated
 * on demand by {@link #handleMmFault}, the CPU's and the IOMMU's fault path alike. Compared by
 * identity. The address-space rules here are format-neutral; the format's bits live in its
 * {@link CpuPageTable}.
 *
 * <p>Thread-safe: this object's monitor is {@code mmap_lock}. The core keeps the SVA side
 * ({@code mm->iommu_mm}: the PASID and the SVA domains) on its own side, under its SVA lock.
 */
public final class MmStruct {
    /** What {@code handle_mm_fault} made of a fault. */
    public enum FaultResult {
        /** The page is present with the rights asked for (now or already). */
        SUCCESS,
        /** No VMA, rights the VMA does not give, or the mm has exited: do not retry. */
        INVALID,
        /** Out of memory for the page or its tables. */
        FAILURE
    }

    /** A mapping of {@code [start, end)} with IOMMU_READ / IOMMU_WRITE / IOMMU_NOEXEC rights. */
    public record Vma(long start, long end, int prot) {
        boolean contains(long addr) {
            return Long.compareUnsigned(addr, start) >= 0 && Long.compareUnsigned(addr, end) < 0;
        }
    }

    /**
     * {@code struct mmu_notifier_ops}, the part an IOMMU driver sharing {@code mm->pgd} needs:
     * after PTEs were cleared and before the pages they mapped are freed, the secondary TLBs
     * (IOTLB, PASID-tagged device TLBs) must forget {@code [start, end)}
     * ({@code arch_invalidate_secondary_tlbs}, called from the CPU's TLB flush). Called with the
     * mm's lock held: an implementation must not call back into this mm.
     */
    @FunctionalInterface
    public interface MmuNotifier {
        void invalidateSecondaryTlbs(MmStruct mm, long start, long end);

        /**
         * {@code release}: the mm is exiting ({@code exit_mmap} calls it first, while the tables
         * are still intact): stop using them. Called with the mm's lock held. Nothing by default.
         */
        default void release(MmStruct mm) {
        }
    }

    private static final long PAGE = 1L << 12;

    private final String name;
    private final FrameAllocator frames;
    private final CpuPageTable pgd;
    private final List<Vma> vmas = new ArrayList<>();
    /** Pages {@link #handleMmFault} allocated, freed at {@link #exit}. Guarded by this. */
    private final List<Long> pages = new ArrayList<>();
    private volatile boolean dmaCompatible = true;
    private volatile boolean exited;
    private boolean dropped;
    private final List<MmuNotifier> notifiers = new CopyOnWriteArrayList<>();

    /** A new x86-64 address space with an empty 4-level page table from {@code frames}. */
    public MmStruct(String name, FrameAllocator frames) {
        this(name, frames, CpuFormat.X86_64, CpuFormat.X86_64.defaultLevels());
    }

    /** A new x86-64 address space with an empty 4- or 5-level (LA57) page table from {@code frames}. */
    public MmStruct(String name, FrameAllocator frames, int levels) {
        this(name, frames, CpuFormat.X86_64, levels);
    }

    /** A new address space of CPU format {@code format} with an empty {@code levels}-level table. */
    public MmStruct(String name, FrameAllocator frames, CpuFormat format, int levels) {
        if (name == null || name.isEmpty()) {
            throw new IllegalArgumentException("mm name must not be empty");
        }
        if (format == null) {
            throw new IllegalArgumentException("mm format must be given");
        }
        this.name = name;
        this.frames = frames;
        this.pgd = format.create(frames, levels);
    }

    /** The CPU page-table format of {@code mm->pgd}: what an IOMMU must walk to share it. */
    public CpuFormat format() {
        return pgd.format();
    }

    /** Page-table levels of {@code mm->pgd} (x86-64: 4, or 5 for an LA57 process). */
    public int levels() {
        return pgd.levels();
    }

    /** The end of the user address range. */
    public long taskSize() {
        return pgd.taskSize();
    }

    /** {@code mmu_notifier_register}: an IOMMU driver follows this mm's PTE changes. */
    public void mmuNotifierRegister(MmuNotifier n) {
        if (n == null) {
            throw new IllegalArgumentException("notifier must not be null");
        }
        notifiers.add(n);
    }

    /** {@code mmu_notifier_unregister}. */
    public void mmuNotifierUnregister(MmuNotifier n) {
        notifiers.remove(n);
    }

    private void invalidateSecondaryTlbs(long start, long end) {
        for (MmuNotifier n : notifiers) {
            n.invalidateSecondaryTlbs(this, start, end);
        }
    }

    public String name() {
        return name;
    }

    /** {@code mm->pgd}: the table the CPU and an SVA domain walk. */
    public CpuPageTable pgd() {
        return pgd;
    }

    /**
     * {@code arch_pgtable_dma_compat(mm)}: false when the process uses something the IOMMU cannot
     * follow (x86 LAM): SVA bind is then -EBUSY.
     */
    public boolean dmaCompatible() {
        return dmaCompatible;
    }

    public void setDmaCompatible(boolean v) {
        this.dmaCompatible = v;
    }

    /** The process has exited ({@code exit_mmap}): faults are INVALID from now on. */
    public boolean exited() {
        return exited;
    }

    /** {@code mmap}: a new VMA of whole pages, not overlapping any other; no page is populated yet. */
    public synchronized void mmap(long start, long length, int prot) {
        if (exited) {
            throw new IommuException(Errno.EFAULT, name + " has exited");
        }
        if (length <= 0 || ((start | length) & (PAGE - 1)) != 0 || Long.compareUnsigned(start + length, taskSize()) > 0
                || Long.compareUnsigned(start + length, start) <= 0) {
            throw new IommuException(Errno.EINVAL, String.format("%s: bad mmap range %#x+%#x", name, start, length));
        }
        if ((prot & ~(Prot.READ | Prot.WRITE | Prot.NOEXEC)) != 0) {
            throw new IommuException(Errno.EINVAL, name + ": bad mmap protection " + prot);
        }
        for (Vma v : vmas) {
            if (Long.compareUnsigned(start, v.end()) < 0 && Long.compareUnsigned(v.start(), start + length) < 0) {
                throw new IommuException(Errno.EEXIST, String.format("%s: %#x+%#x overlaps %s", name, start, length, v));
            }
        }
        vmas.add(new Vma(start, start + length, prot));
    }

    /**
     * {@code munmap}: {@code [start, start + length)} leaves the address space (VMAs are cut to
     * what remains). The PTEs are cleared first, then the secondary TLBs are told
     * ({@link MmuNotifier}), and only then are the pages freed (the order of {@code unmap_region}
     * and {@code tlb_finish_mmu}), so a device can never reach a page after it was reused.
     */
    public synchronized void munmap(long start, long length) {
        if (exited) {
            throw new IommuException(Errno.EFAULT, name + " has exited");
        }
        if (length <= 0 || ((start | length) & (PAGE - 1)) != 0
                || Long.compareUnsigned(start + length, taskSize()) > 0) {
            throw new IommuException(Errno.EINVAL, String.format("%s: bad munmap range %#x+%#x", name, start, length));
        }
        long end = start + length;
        List<Vma> kept = new ArrayList<>();
        for (Vma v : vmas) {
            if (Long.compareUnsigned(v.end(), start) <= 0 || Long.compareUnsigned(end, v.start()) <= 0) {
                kept.add(v);
                continue;
            }
            if (Long.compareUnsigned(v.start(), start) < 0) {
                kept.add(new Vma(v.start(), start, v.prot()));
            }
            if (Long.compareUnsigned(end, v.end()) < 0) {
                kept.add(new Vma(end, v.end(), v.prot()));
            }
        }
        vmas.clear();
        vmas.addAll(kept);
        List<Long> leaves = pgd.leavesIn(start, end);
        if (leaves.isEmpty()) {
            return;
        }
        List<Long> freed = new ArrayList<>();
        IotlbGather gather = new IotlbGather();
        for (long va : leaves) {
            long pa = pgd.iovaToPhys(va);
            if (pgd.unmapPage(va, gather) == PAGE) {
                freed.add(pa);
            }
        }
        invalidateSecondaryTlbs(start, end);
        pgd.releaseFreelist(gather);
        for (long pa : freed) {
            if (pages.remove(pa)) {
                frames.free(pa);
            }
        }
    }

    public synchronized List<Vma> vmas() {
        return List.copyOf(vmas);
    }

    /**
     * {@code handle_mm_fault}: a CPU or device access to {@code addr}. No VMA, or rights the VMA
     * lacks (a read needs IOMMU_READ, a write IOMMU_WRITE, an instruction fetch no IOMMU_NOEXEC):
     * INVALID; an already present page: SUCCESS; otherwise a zeroed page is allocated and mapped
     * (demand paging): SUCCESS, or FAILURE when memory runs out.
     */
    public synchronized FaultResult handleMmFault(long addr, boolean write, boolean exec) {
        if (exited) {
            return FaultResult.INVALID;
        }
        Vma vma = null;
        for (Vma v : vmas) {
            if (v.contains(addr)) {
                vma = v;
            }
        }
        if (vma == null) {
            return FaultResult.INVALID;
        }
        int prot = vma.prot();
        boolean allowed = write ? (prot & Prot.WRITE) != 0 : (prot & Prot.READ) != 0;
        if (!allowed || exec && (prot & Prot.NOEXEC) != 0) {
            return FaultResult.INVALID;
        }
        long page = addr & ~(PAGE - 1);
        if (pgd.iovaToPhys(page) != 0) {
            return FaultResult.SUCCESS; // raced with another fault on the same page
        }
        long pa = frames.alloc(0);
        if (pa < 0) {
            return FaultResult.FAILURE;
        }
        int r = pgd.mapUserPage(page, pa, vma.prot());
        if (r != 0) {
            frames.free(pa);
            return FaultResult.FAILURE;
        }
        pages.add(pa);
        return FaultResult.SUCCESS;
    }

    /** The physical address {@code addr} is mapped to, or 0 (not populated). */
    public long translate(long addr) {
        return pgd.iovaToPhys(addr);
    }

    /**
     * {@code exit_mmap}: the process is gone. Its pages and lower page tables are freed and the
     * top table is cleared, so a walk through {@code mm->pgd} (an SVA PASID entry still pointing
     * at it) finds nothing; faults on the mm are INVALID from now on. The top table itself lives
     * until {@link #mmdrop}, as the struct does while SVA domains hold it (mmgrab).
     */
    public synchronized void exit() {
        if (exited) {
            return;
        }
        exited = true;
        for (MmuNotifier n : notifiers) {
            n.release(this); // mmu_notifier_release, before the tables go
        }
        vmas.clear();
        List<Long> tables = pgd.lowerTables();
        frames.memory().zero(pgd.root(), PAGE);
        // The pages are unreachable now; secondary TLBs forget them before they are freed.
        invalidateSecondaryTlbs(0, taskSize());
        for (long t : tables) {
            frames.free(t);
        }
        for (long pa : pages) {
            frames.free(pa);
        }
        pages.clear();
    }

    /** The last reference went ({@code __mmdrop}): the top table is freed. Only after {@link #exit}. */
    public synchronized void mmdrop() {
        if (!exited) {
            throw new IllegalStateException(name + " is dropped before it exited");
        }
        if (!dropped) {
            dropped = true;
            pgd.free();
        }
    }

    @Override
    public String toString() {
        return "mm:" + name;
    }
}
