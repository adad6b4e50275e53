package org.jiommu.driver.mock;

import org.jiommu.bus.dma.DmaTranslator;
import org.jiommu.driver.common.ArmLevels;
import org.jiommu.mem.PhysicalMemory;
import org.jiommu.platform.HwWalk;
import org.jiommu.platform.Text;

/**
 * The walk the mock hardware does for one request ({@link MockHardware#translate}): its stream
 * table entry (or PASID entry), which the mock keeps in the unit, not in memory (no raw words),
 * then the page-table descriptors read from memory.
 */
final class MockWalk {
    private MockWalk() {
    }

    static HwWalk walk(String iommu, MockHardware hw, PhysicalMemory mem, int sid, int pasid, long iova) {
        HwWalk.Builder b = new HwWalk.Builder(iommu, sid);
        MockHardware.Entry e;
        if (pasid == DmaTranslator.NO_PASID) {
            e = hw.stream(sid);
            b.entry(String.format("stream table entry %#06x", sid), -1);
            MockHardware.Split sp = hw.split(sid);
            if (sp != null && e.kind() == MockHardware.Entry.Kind.TRANSLATE && (iova >>> sp.splitBit() & 1) != 0) {
                describe(b, sp.ttbr1());
                b.field("TTBR1", "selected by bit " + sp.splitBit());
                e = sp.ttbr1();
                iova &= (1L << e.ias()) - 1;
                return ArmLevels.walk(b, mem, e.root(), e.ias(), e.granuleShift(), iova);
            }
        } else {
            e = hw.pasidEntry(sid, pasid);
            b.entry(String.format("PASID entry %#06x/%d", sid, pasid), -1);
            if (e == null) {
                return b.field("present", false).end("no PASID entry: fault bad-pasid", -1);
            }
        }
        describe(b, e);
        return switch (e.kind()) {
            case ABORT -> b.end("abort: fault blocked", -1);
            case BYPASS -> b.end("bypass: " + Text.format(iova), iova);
            case TRANSLATE -> e.format() == MockHardware.Entry.TableFormat.X86_FIRST_LEVEL
                    ? x86(b, mem, e, iova) : ArmLevels.walk(b, mem, e.root(), e.ias(), e.granuleShift(), iova);
        };
    }

    private static void describe(HwWalk.Builder b, MockHardware.Entry e) {
        b.field("kind", e.kind());
        if (e.kind() == MockHardware.Entry.Kind.TRANSLATE) {
            b.field("root", e.root()).field("ias", e.ias()).field("granule", Text.formatSize(1L << e.granuleShift()))
                    .field("format", e.format());
        }
    }

    /** x86-64 4-level (Intel SDM vol. 3 4.5): P bit 0, R/W bit 1, PS bit 7 above the last level. */
    private static HwWalk x86(HwWalk.Builder b, PhysicalMemory mem, MockHardware.Entry e, long iova) {
        long table = e.root();
        for (int level = 4; level >= 1; level--) {
            int shift = 12 + 9 * (level - 1);
            int idx = (int) (iova >>> shift) & 511;
            long pte = mem.readLong(table + idx * 8L);
            b.entry("level " + level + " [" + idx + "]", table + idx * 8L, pte).field("P", (pte & 1) != 0)
                    .field("R/W", (pte & 2) != 0).field("PS", level > 1 && (pte & 1L << 7) != 0)
                    .field("address", pte & 0x000f_ffff_ffff_f000L);
            if ((pte & 1) == 0) {
                return b.end("not present at level " + level + ": fault", -1);
            }
            if (level == 1 || (pte & 1L << 7) != 0) {
                long size = 1L << shift;
                long pa = (pte & 0x000f_ffff_ffff_f000L & -size) | (iova & (size - 1));
                return b.end("translates to " + Text.format(pa) + " (" + Text.formatSize(size) + " page)", pa);
            }
            table = pte & 0x000f_ffff_ffff_f000L;
        }
        throw new IllegalStateException("unreachable");
    }
}
