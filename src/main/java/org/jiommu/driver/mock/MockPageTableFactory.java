package org.jiommu.driver.mock;

import org.jiommu.base.WarningSink;
import org.jiommu.mem.FrameAllocator;
import org.jiommu.pgtable.IoPageTable;
import org.jiommu.pgtable.IoPageTables;
import org.jiommu.pgtable.IoPgtableCfg;
import org.jiommu.pgtable.IotlbGather;
import org.jiommu.pgtable.PgtableFormat;
import org.jiommu.pgtable.TlbOps;

/**
 * Where the mock's paging domains get their page table: a real format writing real descriptors
 * into simulated memory (SEMANTICS.md 13 fixture), behind one small factory so the format is a
 * choice of the platform, not of the mock.
 */
@FunctionalInterface
public interface MockPageTableFactory {
    /** What the table tells its domain when it clears a leaf ({@code tlb_add_page}). */
    @FunctionalInterface
    interface AddPage {
        void addPage(IotlbGather gather, long iova, long granule);
    }

    /**
     * A new empty table.
     *
     * @param pgsizeBitmap the page sizes asked for (the table may restrict them)
     * @param ias input address bits
     * @param addPage the domain's {@code tlb_add_page}
     * @throws org.jiommu.base.IommuException ENOMEM when no table page can be had
     */
    IoPageTable create(long pgsizeBitmap, int ias, AddPage addPage);

    /** ARM LPAE stage 1 ({@code io-pgtable-arm.c}) from {@code frames}, coherent walk, OAS 48. */
    static MockPageTableFactory armLpae(FrameAllocator frames, WarningSink warnings) {
        return (bitmap, ias, addPage) -> {
            IoPgtableCfg cfg = IoPgtableCfg.builder(frames).warnings(warnings)
                    .pgsizeBitmap(bitmap).ias(ias).oas(48).build();
            TlbOps tlb = new TlbOps() {
                @Override
                public void tlbAddPage(IotlbGather gather, long iova, long granule) {
                    addPage.addPage(gather, iova, granule);
                }
            };
            return IoPageTables.alloc(PgtableFormat.ARM_64_LPAE_S1, cfg, tlb);
        };
    }
}
