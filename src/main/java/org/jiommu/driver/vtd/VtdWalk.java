package org.jiommu.driver.vtd;

import org.jiommu.bus.dma.DmaTranslator;
import org.jiommu.hw.vtd.ContextEntry;
import org.jiommu.hw.vtd.PasidDirEntry;
import org.jiommu.hw.vtd.PasidEntry;
import org.jiommu.hw.vtd.RootEntry;
import org.jiommu.hw.vtd.ScalableContextEntry;
import org.jiommu.hw.vtd.VtdTables;
import org.jiommu.mem.PhysicalMemory;
import org.jiommu.platform.HwWalk;
import org.jiommu.platform.Text;

/**
 * The walk a VT-d unit does for one request, decoded from memory with {@link VtdTables} (VT-d
 * spec 3.4-3.6): root entry, context entry (legacy or scalable), in scalable mode the PASID
 * directory and PASID entry, then one entry per page-table level down to the leaf. The unit's
 * caches are not consulted: this is what a miss would read.
 */
final class VtdWalk {
    private static final long ADDR = 0x000F_FFFF_FFFF_F000L;

    private final PhysicalMemory mem;
    private final VtdTables t;
    private final HwWalk.Builder b;
    private final int rid;

    private VtdWalk(PhysicalMemory mem, VtdIommu unit, int rid) {
        this.mem = mem;
        this.rid = rid;
        this.t = VtdTables.of(unit.unit(), mem);
        this.b = new HwWalk.Builder(unit.name(), rid);
    }

    static HwWalk walk(PhysicalMemory mem, VtdIommu unit, int rid, int pasid, long iova) {
        return new VtdWalk(mem, unit, rid).run(pasid, iova);
    }

    private HwWalk run(int pasid, long iova) {
        boolean scalable = t.scalable();
        int bus = rid >>> 8;
        int devfn = rid & 0xff;
        RootEntry re = t.rootEntry(bus);
        b.entry(String.format("root entry (bus %02x)", bus), t.rootTable() + (long) bus * RootEntry.SIZE, re.lo(), re.hi());
        if (scalable) {
            b.field("LP", re.present()).field("LCTP", re.contextTablePointer())
                    .field("UP", re.upperPresent()).field("UCTP", re.upperContextTablePointer());
        } else {
            b.field("P", re.present()).field("CTP", re.contextTablePointer());
        }
        if (!re.presentFor(scalable, devfn)) {
            return b.end("root entry not present: fault", -1);
        }
        long at = t.contextEntryAddress(rid);
        String name = String.format("context entry (devfn %02x.%d)", devfn >> 3, devfn & 7);
        return scalable ? scalable(at, name, pasid, iova) : legacy(at, name, pasid, iova);
    }

    private HwWalk legacy(long at, String name, int pasid, long iova) {
        ContextEntry ce = t.legacyContextAt(at);
        b.entry(name, at, ce.lo(), ce.hi()).field("P", ce.present()).field("FPD", ce.fpd())
                .field("TT", ce.translationType()).field("SLPTPTR", ce.secondLevelPointer())
                .field("AW", ce.addressWidth() + " (" + ce.levels() + "-level)").field("DID", ce.domainId());
        if (!ce.present()) {
            return b.end("context entry not present: fault", -1);
        }
        if (pasid != DmaTranslator.NO_PASID) {
            return b.end("legacy mode has no PASIDs: a request with PASID is refused", -1);
        }
        if (ce.translationType() == ContextEntry.TT_PASS_THROUGH) {
            return b.end("pass-through: " + Text.format(iova), iova);
        }
        return levels(ce.secondLevelPointer(), ce.levels(), iova, false);
    }

    private HwWalk scalable(long at, String name, int pasid, long iova) {
        ScalableContextEntry ce = t.scalableContextAt(at);
        b.entry(name, at, ce.val0(), ce.val1(), ce.val2(), ce.val3()).field("P", ce.present()).field("FPD", ce.fpd())
                .field("DTE", ce.deviceTlbEnable()).field("PASIDE", ce.pasidEnable()).field("PRE", ce.pageRequestEnable())
                .field("PDTS", ce.pasidDirectoryEntries() + " entries").field("PASIDDIRPTR", ce.pasidDirectoryPointer())
                .field("RID_PASID", ce.ridPasid());
        if (!ce.present()) {
            return b.end("context entry not present: fault", -1);
        }
        int p = pasid == DmaTranslator.NO_PASID ? ce.ridPasid() : pasid;
        int di = PasidDirEntry.index(p);
        if (di >= ce.pasidDirectoryEntries()) {
            return b.end("PASID " + p + " beyond the PASID directory: fault", -1);
        }
        PasidDirEntry de = t.pasidDirEntry(ce, di);
        b.entry("PASID directory entry [" + di + "]", ce.pasidDirectoryPointer() + (long) di * PasidDirEntry.SIZE,
                de.value()).field("P", de.present()).field("FPD", de.fpd()).field("SMPTBLPTR", de.pasidTablePointer());
        if (!de.present()) {
            return b.end("PASID directory entry not present: fault", -1);
        }
        long pa = t.pasidEntryAddress(ce, p);
        PasidEntry pe = t.pasidEntryAt(pa);
        b.entry("PASID entry (PASID " + p + (p == ce.ridPasid() ? ", RID_PASID" : "") + ")", pa, pe.val0(), pe.val1(),
                pe.val2(), pe.val3(), pe.val4(), pe.val5(), pe.val6(), pe.val7())
                .field("P", pe.present()).field("FPD", pe.fpd()).field("PGTT", pgtt(pe.pgtt())).field("DID", pe.domainId());
        if (pe.pgtt() == PasidEntry.PGTT_SECOND_LEVEL || pe.pgtt() == PasidEntry.PGTT_NESTED) {
            b.field("SLPTPTR", pe.secondLevelPointer()).field("AW", pe.secondLevelLevels() + "-level");
        }
        if (pe.pgtt() == PasidEntry.PGTT_FIRST_LEVEL || pe.pgtt() == PasidEntry.PGTT_NESTED) {
            b.field("FLPTPTR", pe.firstLevelPointer()).field("FLPM", pe.firstLevelLevels() + "-level")
                    .field("SRE", pe.supervisorRequestEnable());
        }
        if (!pe.present()) {
            return b.end("PASID entry not present: fault", -1);
        }
        return switch (pe.pgtt()) {
            case PasidEntry.PGTT_PASS_THROUGH -> b.end("pass-through: " + Text.format(iova), iova);
            case PasidEntry.PGTT_SECOND_LEVEL -> levels(pe.secondLevelPointer(), pe.secondLevelLevels(), iova, false);
            case PasidEntry.PGTT_FIRST_LEVEL -> levels(pe.firstLevelPointer(), pe.firstLevelLevels(), iova, true);
            default -> b.end("PGTT " + pe.pgtt() + ": not shown", -1);
        };
    }

    private static String pgtt(int v) {
        return switch (v) {
            case PasidEntry.PGTT_FIRST_LEVEL -> "1 (first-level)";
            case PasidEntry.PGTT_SECOND_LEVEL -> "2 (second-level)";
            case PasidEntry.PGTT_NESTED -> "3 (nested)";
            case PasidEntry.PGTT_PASS_THROUGH -> "4 (pass-through)";
            default -> v + " (reserved)";
        };
    }

    /**
     * One entry per level. Second level (spec 9.8): present when R or W is set; first level
     * (9.7): when P is set. PS (bit 7) above the last level makes a superpage leaf.
     */
    private HwWalk levels(long table, int levels, long iova, boolean firstLevel) {
        for (int level = levels; level >= 1; level--) {
            int shift = 12 + 9 * (level - 1);
            int idx = (int) (iova >>> shift) & 511;
            long a = table + idx * 8L;
            long pte = mem.readLong(a);
            boolean leaf = level == 1 || (pte & 1L << 7) != 0;
            b.entry((firstLevel ? "FL" : "SL") + " level " + level + " [" + idx + "]", a, pte);
            if (firstLevel) {
                b.field("P", (pte & 1) != 0).field("R/W", (pte & 2) != 0).field("U/S", (pte & 4) != 0)
                        .field("XD", pte < 0);
            } else {
                b.field("R", (pte & 1) != 0).field("W", (pte & 2) != 0);
            }
            b.field("PS", level > 1 && (pte & 1L << 7) != 0).field("ADDR", pte & ADDR);
            boolean present = firstLevel ? (pte & 1) != 0 : (pte & 3) != 0;
            if (!present) {
                return b.end("not present at level " + level + ": fault", -1);
            }
            if (leaf) {
                long pa = (pte & ADDR & -(1L << shift)) | (iova & ((1L << shift) - 1));
                return b.end("translates to " + Text.format(pa) + " (" + Text.formatSize(1L << shift) + " page, "
                        + rights(pte, firstLevel) + ")", pa);
            }
            table = pte & ADDR;
        }
        throw new IllegalStateException("unreachable");
    }

    private static String rights(long pte, boolean firstLevel) {
        if (firstLevel) {
            return (pte & 2) != 0 ? "RW" : "R";
        }
        return ((pte & 1) != 0 ? "R" : "") + ((pte & 2) != 0 ? "W" : "");
    }
}
