package org.jiommu.mm;

import java.util.ArrayList;
import java.util.List;
import org.jiommu.base.Prot;
import org.jiommu.mem.FrameAllocator;
import org.jiommu.pgtable.IotlbGather;
import org.jiommu.pgtable.Mapped;
import org.jiommu.pgtable.x86.X86FirstLevelPageTable;

/**
 * An x86-64 process page table: the generic_pt {@code x86_64} format
 * ({@link X86FirstLevelPageTable}) with the leaves a CPU fault handler writes. A user page is
 * {@code P | U/S | A}, plus {@code R/W | D} when the VMA is writable and {@code XD} when it is
 * not executable (the bits {@code do_anonymous_page} ends up with after the access that faulted).
 */
final class X86_64PageTable implements CpuPageTable {
    private static final long PAGE = 1L << 12;
    /** User addresses: the lower half of a 48-bit space. */
    static final long TASK_SIZE = 1L << 47;
    /** User addresses of a 5-level (LA57) process: the lower half of a 57-bit space. */
    static final long TASK_SIZE_LA57 = 1L << 56;

    private final X86FirstLevelPageTable pgd;

    X86_64PageTable(FrameAllocator frames, int levels) {
        if (levels != 4 && levels != 5) {
            throw new IllegalArgumentException("an x86-64 process has 4 or 5 page-table levels, not " + levels);
        }
        this.pgd = X86FirstLevelPageTable.create(frames, levels);
    }

    @Override
    public CpuFormat format() {
        return CpuFormat.X86_64;
    }

    @Override
    public int levels() {
        return pgd.levels();
    }

    @Override
    public long root() {
        return pgd.root();
    }

    @Override
    public long taskSize() {
        return levels() == 5 ? TASK_SIZE_LA57 : TASK_SIZE;
    }

    @Override
    public long userPageAttributes(int prot) {
        long attrs = X86FirstLevelPageTable.US | X86FirstLevelPageTable.A;
        if ((prot & Prot.WRITE) != 0) {
            attrs |= X86FirstLevelPageTable.RW | X86FirstLevelPageTable.D;
        }
        if ((prot & Prot.NOEXEC) != 0) {
            attrs |= X86FirstLevelPageTable.XD;
        }
        return attrs;
    }

    @Override
    public int mapUserPage(long va, long pa, int prot) {
        return pgd.mapPagesWithAttributes(va, pa, PAGE, 1, userPageAttributes(prot), new Mapped());
    }

    @Override
    public int mapPagesWithAttributes(long va, long pa, long pgsize, long pgcount, long attributes, Mapped mapped) {
        return pgd.mapPagesWithAttributes(va, pa, pgsize, pgcount, attributes, mapped);
    }

    @Override
    public long iovaToPhys(long va) {
        return pgd.iovaToPhys(va);
    }

    @Override
    public List<Long> leavesIn(long start, long end) {
        List<Long> leaves = new ArrayList<>();
        pgd.walk((level, iova, size, pte, leaf) -> {
            if (leaf && Long.compareUnsigned(iova, start) >= 0 && Long.compareUnsigned(iova, end) < 0) {
                leaves.add(iova);
            }
        });
        return leaves;
    }

    @Override
    public long unmapPage(long va, IotlbGather gather) {
        return pgd.unmapPages(va, PAGE, 1, gather);
    }

    @Override
    public void releaseFreelist(IotlbGather gather) {
        pgd.releaseFreelist(gather);
    }

    @Override
    public List<Long> lowerTables() {
        List<Long> tables = new ArrayList<>();
        pgd.walk((level, iova, size, pte, leaf) -> {
            if (!leaf) {
                tables.add(pte & X86FirstLevelPageTable.OA_MASK);
            }
        });
        return tables;
    }

    @Override
    public void free() {
        pgd.free();
    }
}
