package org.jiommu.mm;

import org.jiommu.mem.FrameAllocator;

/**
 * The CPU page-table formats a process address space can have: the format an SVA-capable IOMMU
 * must be able to walk to share {@code mm->pgd}. x86-64 today (VT-d first-stage tables walk it
 * as is); ARM64 (VMSAv8-64 stage 1, walked by SMMUv3 through a context descriptor's TTB0) is the
 * next constant here, with its {@link CpuPageTable} implementation beside {@link X86_64PageTable}.
 */
public enum CpuFormat {
    /** x86-64 4-level (48-bit) or 5-level (LA57, 57-bit) paging (Intel SDM vol. 3 4.5). */
    X86_64 {
        @Override
        public CpuPageTable create(FrameAllocator frames, int levels) {
            return new X86_64PageTable(frames, levels);
        }

        @Override
        public int defaultLevels() {
            return 4;
        }
    };

    /** An empty table of {@code levels} levels from {@code frames}; IllegalArgumentException for a level count the format lacks. */
    public abstract CpuPageTable create(FrameAllocator frames, int levels);

    /** The level count of an ordinary process. */
    public abstract int defaultLevels();
}
