package org.jiommu.mm;

import org.jiommu.mem.FrameAllocator;

/**
 * The CPU page-table formats a process address space can have: the format an SVA-capable IOMMU
 * must be able to walk to share {@code mm->pgd}: x86-64 (VT-d first-stage tables walk it as is,
 * {@link X86_64PageTable}) and arm64 (VMSAv8-64 stage 1, walked by an SMMUv3 through a context
 * descriptor's TTB0, {@link Arm64PageTable}).
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
    },
    /** arm64 with 4K pages and a 48-bit VA: 4 levels (Arm ARM D8, VMSAv8-64 stage 1). */
    ARM64 {
        @Override
        public CpuPageTable create(FrameAllocator frames, int levels) {
            return new Arm64PageTable(frames, levels);
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
