package org.jiommu.mm;

import java.util.List;
import org.jiommu.pgtable.IotlbGather;
import org.jiommu.pgtable.Mapped;

/**
 * A process page table ({@code mm->pgd}) in one CPU format: what {@link MmStruct} needs to
 * populate, unmap and tear down a user address space, and what an SVA-capable IOMMU needs to
 * point its walker at ({@link #root}, {@link #levels}). The format's bits stay inside the
 * implementation; {@link MmStruct} speaks VMA rights ({@code IOMMU_READ/WRITE/NOEXEC}).
 *
 * <p>Not thread-safe on its own: the owning mm's lock ({@code mmap_lock}) guards every change.
 */
public interface CpuPageTable {
    /** The CPU format of this table. */
    CpuFormat format();

    /** Paging levels (x86-64: 4, or 5 with LA57). */
    int levels();

    /** Physical address of the top table: what CR3 / TTBR0 and an SVA PASID entry hold. */
    long root();

    /** The end of the user address range this table can map ({@code TASK_SIZE}). */
    long taskSize();

    /**
     * Maps one 4K user page for a VMA with rights {@code prot} (IOMMU_READ / WRITE / NOEXEC),
     * the leaf a CPU fault handler installs; 0 or a negative errno.
     */
    int mapUserPage(long va, long pa, int prot);

    /**
     * The format's raw leaf attribute bits (without the valid / type bits and the address) of a
     * user page of a VMA with rights {@code prot}, as the CPU's fault path leaves it after the
     * access that faulted: what {@link #mapUserPage} writes, and what to pass to
     * {@link #mapPagesWithAttributes} for an ordinary user mapping.
     */
    long userPageAttributes(int prot);

    /**
     * Maps pages with the format's raw leaf attribute bits (the valid bit and the address are
     * added): for what VMA rights cannot say, such as a supervisor-only page. 0 or a negative errno.
     */
    int mapPagesWithAttributes(long va, long pa, long pgsize, long pgcount, long attributes, Mapped mapped);

    /** The physical address {@code va} is mapped to, or 0. */
    long iovaToPhys(long va);

    /** Virtual addresses of the leaves in {@code [start, end)}, in address order. */
    List<Long> leavesIn(long start, long end);

    /** Clears the leaf at {@code va}; bytes unmapped (0 for a hole). Freed tables go on the gather. */
    long unmapPage(long va, IotlbGather gather);

    /** Frees the tables an unmap put on the gather (after the TLBs forgot them). */
    void releaseFreelist(IotlbGather gather);

    /** Physical addresses of every table below the top one. */
    List<Long> lowerTables();

    /** Frees every table, the top one included. */
    void free();
}
