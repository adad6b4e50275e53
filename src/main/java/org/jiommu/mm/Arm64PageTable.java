package org.jiommu.mm;

import java.util.ArrayList;
import java.util.List;
import org.jiommu.base.Prot;
import org.jiommu.base.WarningSink;
import org.jiommu.mem.FrameAllocator;
import org.jiommu.mem.PhysicalMemory;
import org.jiommu.pgtable.IotlbGather;
import org.jiommu.pgtable.Mapped;
import org.jiommu.pgtable.PgtableFormat;
import org.jiommu.pgtable.TlbOps;
import org.jiommu.pgtable.arm.ArmLpaeConfig;
import org.jiommu.pgtable.arm.ArmLpaePageTable;

/**
 * An arm64 process page table (what TTBR0_EL1 points at): VMSAv8-64 stage 1, 4K granule, 48-bit
 * VA (4 levels, level 0 at the top). The tables are the shared ARM LPAE stage-1 format
 * ({@link ArmLpaePageTable}, io-pgtable-arm's layout is the CPU's); the leaves are the ones the
 * arm64 fault path writes ({@code set_pte} of {@code mk_pte(page, vma->vm_page_prot)}, after
 * {@code pte_mkwrite(pte_mkdirty())} for a write fault): valid page, AF, inner shareable, nG,
 * AttrIndx {@code MT_NORMAL} (0), {@code PTE_USER} (AP[1]), PXN always (user pages never run
 * privileged), UXN unless the VMA is executable; a writable VMA's page is writable (AP[2] clear)
 * with {@code PTE_WRITE} (DBM, bit 51) and the software {@code PTE_DIRTY} (bit 55), a read-only
 * one has {@code PTE_RDONLY} (AP[2]). An SMMU (no HTTU here) ignores DBM and the software bits.
 *
 * <p>Each leaf is put in place by io-pgtable's map (which allocates the tables on the way) and
 * then rewritten with the CPU's bits under the mm's lock, before any device can be told about it.
 */
public final class Arm64PageTable implements CpuPageTable {
    /** {@code vabits_actual} of a 48-bit VA kernel: TCR_EL1.T0SZ is 64 - 48. */
    public static final int VA_BITS = 48;
    /**
     * MAIR_EL1 as arm64 {@code __cpu_setup} programs it without MTE: Normal WB (0xff) at
     * MT_NORMAL (0) and MT_NORMAL_TAGGED (1), Normal NC (0x44) at 2, Device-nGnRnE (0x00) at 3,
     * Device-nGnRE (0x04) at 4.
     */
    public static final long MAIR_EL1 = 0x04_00_44_ff_ffL;
    /** ID_AA64MMFR0_EL1.PARange of the modelled CPUs: 0b0101, 48-bit physical addresses. */
    public static final int PARANGE = 5;
    /** ID_AA64MMFR0_EL1.ASIDBits of the modelled CPUs: 16-bit ASIDs. */
    public static final int ASID_BITS = 16;

    static final long PTE_VALID = 1L;
    static final long PTE_TYPE_PAGE = 3L;
    static final long PTE_TYPE_BLOCK = 1L;
    static final long PTE_USER = 1L << 6;
    static final long PTE_RDONLY = 1L << 7;
    static final long PTE_SHARED = 3L << 8;
    static final long PTE_AF = 1L << 10;
    static final long PTE_NG = 1L << 11;
    static final long PTE_WRITE = 1L << 51;
    static final long PTE_PXN = 1L << 53;
    static final long PTE_UXN = 1L << 54;
    static final long PTE_DIRTY = 1L << 55;
    private static final long ADDR_MASK = 0x0000_FFFF_FFFF_F000L;
    private static final long PAGE = 1L << 12;

    private final ArmLpaePageTable table;
    private final PhysicalMemory memory;

    Arm64PageTable(FrameAllocator frames, int levels) {
        if (levels != 4) {
            throw new IllegalArgumentException("an arm64 process (4K pages, 48-bit VA) has 4 page-table levels, not "
                    + levels);
        }
        ArmLpaeConfig cfg = ArmLpaeConfig.builder(PgtableFormat.ARM_64_LPAE_S1)
                .pgsizeBitmap(PAGE | 1L << 21 | 1L << 30).ias(VA_BITS).oas(VA_BITS).build();
        this.table = ArmLpaePageTable.alloc(cfg, frames, TlbOps.NONE, WarningSink.IGNORE);
        this.memory = frames.memory();
    }

    /** The leaf bits (no address) of a user page of a VMA with rights {@code prot}, after the access that faulted it in. */
    public static long userPageBits(int prot) {
        long pte = PTE_TYPE_PAGE | PTE_AF | PTE_SHARED | PTE_NG | PTE_USER | PTE_PXN;
        if ((prot & Prot.NOEXEC) != 0) {
            pte |= PTE_UXN;
        }
        if ((prot & Prot.WRITE) != 0) {
            pte |= PTE_WRITE | PTE_DIRTY;
        } else {
            pte |= PTE_RDONLY;
        }
        return pte;
    }

    @Override
    public CpuFormat format() {
        return CpuFormat.ARM64;
    }

    @Override
    public int levels() {
        return 4;
    }

    @Override
    public long root() {
        return table.root();
    }

    @Override
    public long taskSize() {
        return 1L << VA_BITS; // TASK_SIZE_64
    }

    @Override
    public long userPageAttributes(int prot) {
        return userPageBits(prot) & ~PTE_TYPE_PAGE;
    }

    @Override
    public int mapUserPage(long va, long pa, int prot) {
        return mapPagesWithAttributes(va, pa, PAGE, 1, userPageAttributes(prot), new Mapped());
    }

    /** {@code attributes} are the leaf's bits without the type (page or block is added, with the address). */
    @Override
    public int mapPagesWithAttributes(long va, long pa, long pgsize, long pgcount, long attributes, Mapped mapped) {
        int r = table.mapPages(va, pa, pgsize, pgcount, Prot.READ, mapped);
        if (r != 0) {
            return r;
        }
        int level = 3 - Long.numberOfTrailingZeros(pgsize / PAGE) / 9;
        long type = level == 3 ? PTE_TYPE_PAGE : PTE_TYPE_BLOCK;
        for (long i = 0; i < pgcount; i++) {
            long slot = slot(va + i * pgsize, level);
            memory.writeLong(slot, (pa + i * pgsize) & ADDR_MASK | attributes & ~ADDR_MASK | type);
        }
        return 0;
    }

    /** Where the descriptor of {@code va} at {@code level} lives: a descent through the table descriptors io-pgtable wrote. */
    private long slot(long va, int level) {
        long t = table.root();
        for (int lvl = 0; lvl < level; lvl++) {
            long d = memory.readLong(t + ((va >>> (39 - 9 * lvl) & 511) << 3));
            t = d & ADDR_MASK;
        }
        return t + ((va >>> (39 - 9 * level) & 511) << 3);
    }

    @Override
    public long iovaToPhys(long va) {
        return table.iovaToPhys(va);
    }

    @Override
    public List<Long> leavesIn(long start, long end) {
        List<Long> leaves = new ArrayList<>();
        table.walk((level, iova, size, pte, leaf) -> {
            if (leaf && Long.compareUnsigned(iova, start) >= 0 && Long.compareUnsigned(iova, end) < 0) {
                leaves.add(iova);
            }
        });
        return leaves;
    }

    @Override
    public long unmapPage(long va, IotlbGather gather) {
        return table.unmapPages(va, PAGE, 1, gather);
    }

    @Override
    public void releaseFreelist(IotlbGather gather) {
        table.releaseFreelist(gather);
    }

    @Override
    public List<Long> lowerTables() {
        List<Long> tables = new ArrayList<>();
        table.walk((level, iova, size, pte, leaf) -> {
            if (!leaf) {
                tables.add(pte & ADDR_MASK);
            }
        });
        return tables;
    }

    @Override
    public void free() {
        table.free();
    }
}
