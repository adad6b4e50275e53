package org.jiommu.driver.vtd;

import static org.jiommu.hw.vtd.VtdRegisters.GSTS_REG;
import static org.jiommu.hw.vtd.VtdRegisters.GSTS_TES;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.jiommu.base.Hex;
import org.jiommu.bus.pci.DmaAlias;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.core.CoreSnapshot;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.hw.vtd.ContextEntry;
import org.jiommu.hw.vtd.PasidDirEntry;
import org.jiommu.hw.vtd.PasidEntry;
import org.jiommu.hw.vtd.ScalableContextEntry;
import org.jiommu.hw.vtd.VtdTables;
import org.jiommu.mem.PhysicalMemory;
import org.jiommu.pgtable.x86.VtdSecondLevelPageTable;
import org.jiommu.platform.EntryView;
import org.jiommu.platform.HwEntry;

/**
 * VT-d's half of I7: for every PCI device behind a unit and every requester id it can use (its
 * DMA aliases from the topology), the root, context and (scalable mode) PASID-directory and
 * RID_PASID entries, read from memory starting at the unit's RTADDR register with the hardware
 * decoders ({@link VtdTables}, not the driver's encoders); and the fields only VT-d has:
 * <ul>
 * <li>a paging domain's entry: AW = the table's AGAW, DID = the domain's id on that unit (from
 *     FIRST_DOMAIN_ID up, no other domain's entry carrying it there); legacy TT = 01b exactly when
 *     the driver enabled ATS;</li>
 * <li>identity: DID 1 (FLPT_DEFAULT_DID);</li>
 * <li>an SVA domain's PASID entry: first level, FLPTPTR = the mm's table, FLPM = its depth, SRE
 *     clear, DID = FLPT_DEFAULT_DID;</li>
 * <li>translation enabled on every unit; every programmed DID allocated.</li>
 * </ul>
 * Reads the driver's domain ids after the core snapshot's locks are released: quiescent points only.
 */
final class VtdAgreement implements EntryView {
    private final VtdIommuDriver driver;
    private final PhysicalMemory mem;
    private final Map<String, VtdIommu> byLabel = new HashMap<>();
    private final Map<VtdIommu, VtdTables> tables = new HashMap<>();
    private final Map<VtdIommu, Map<Integer, IommuDomain>> didOwners = new HashMap<>();

    /** What a decoded VT-d entry says beyond its kind and table. */
    record Fields(int did, int aw, boolean deviceTlb, int levels, boolean supervisor) {
    }

    VtdAgreement(VtdIommuDriver driver, PhysicalMemory mem) {
        this.driver = driver;
        this.mem = mem;
    }

    @Override
    public String kindName() {
        return "a VT-d";
    }

    @Override
    public void start(List<String> out) {
        for (VtdIommu u : driver.units()) {
            didOwners.put(u, new HashMap<>());
            byLabel.put(u.toString(), u);
            if ((u.unit().read32(GSTS_REG) & GSTS_TES) == 0) {
                out.add(u + ": translation is not enabled");
            }
        }
    }

    @Override
    public Decoded decode(CoreSnapshot.DeviceState ds) {
        if (!(ds.dev() instanceof PciDevice dev)) {
            return null;
        }
        VtdIommu u = driver.unitFor(dev);
        if (u == null) {
            return null;
        }
        VtdTables t = tables.computeIfAbsent(u, k -> VtdTables.of(k.unit(), mem));
        List<Requester> rs = new ArrayList<>();
        List<Integer> own = u.scalableMode() ? ownRequesterIds(dev) : null;
        for (int rid : requesterIds(dev)) {
            String label = ridLabel(rid);
            if (own != null && !own.contains(rid)) {
                label += " (" + VtdHardwareAgreement.BRIDGE_ALIAS_FINDING + ")";
            }
            rs.add(new Requester(rid, label, ridEntry(t, rid)));
        }
        Map<Integer, HwEntry> pasids = null;
        if (u.scalableMode()) {
            ScalableContextEntry ctx = t.scalableContext(dev.requesterId());
            if (ctx != null && ctx.present()) {
                pasids = presentPasidEntries(t, ctx);
                pasids.remove(ctx.ridPasid());
            }
        }
        return new Decoded(u.toString(), rs, pasids);
    }

    /** The device's requester ids from the topology (pci_for_each_dma_alias), each once. */
    private static List<Integer> requesterIds(PciDevice dev) {
        List<Integer> rids = new ArrayList<>();
        if (dev.topology() == null) {
            rids.add(dev.requesterId());
            return rids;
        }
        for (DmaAlias a : dev.topology().dmaAliases(dev)) {
            if (!rids.contains(a.requesterId())) {
                rids.add(a.requesterId());
            }
        }
        return rids;
    }

    /** The requester ids pci_for_each_dma_alias reports with the device itself as pdev (own id, quirk aliases). */
    private static List<Integer> ownRequesterIds(PciDevice dev) {
        List<Integer> rids = new ArrayList<>();
        rids.add(dev.requesterId());
        if (dev.topology() != null) {
            for (DmaAlias a : dev.topology().dmaAliases(dev)) {
                if (a.device() == dev && !rids.contains(a.requesterId())) {
                    rids.add(a.requesterId());
                }
            }
        }
        return rids;
    }

    /** The entry translation requests without PASID from {@code rid} use. */
    private static HwEntry ridEntry(VtdTables t, int rid) {
        if (t.scalable()) {
            ScalableContextEntry ctx = t.scalableContext(rid);
            if (ctx == null || !ctx.present()) {
                return HwEntry.NONE;
            }
            PasidEntry pe = t.pasidEntry(ctx, ctx.ridPasid());
            return pe == null ? HwEntry.NONE : entry(pe);
        }
        ContextEntry ce = t.legacyContext(rid);
        if (ce == null || !ce.present()) {
            return HwEntry.NONE;
        }
        int did = ce.domainId();
        int aw = ce.addressWidth();
        switch (ce.translationType()) {
            case ContextEntry.TT_PASS_THROUGH:
                return passThrough(did, aw);
            case ContextEntry.TT_MULTI_LEVEL:
            case ContextEntry.TT_DEV_IOTLB:
                boolean dt = ce.translationType() == ContextEntry.TT_DEV_IOTLB;
                return new HwEntry(HwEntry.Kind.PAGING, ce.secondLevelPointer(),
                        secondLevelText(ce.secondLevelPointer(), aw, did), new Fields(did, aw, dt, 0, false));
            default:
                return new HwEntry(HwEntry.Kind.INVALID, 0, "invalid: TT " + ce.translationType(),
                        new Fields(did, aw, false, 0, false));
        }
    }

    /**
     * "rid bb:dd.f", as {@code %02x:%02x.%d} gave it; the check runs at every quiescent point of
     * a stress run, so no Formatter here (nor in the entry texts below).
     */
    static String ridLabel(int rid) {
        int bus = (rid >> 8) & 0xFF;
        int dev = (rid >> 3) & 0x1F;
        return "rid " + HEX[bus >> 4] + HEX[bus & 0xF] + ":" + HEX[dev >> 4] + HEX[dev & 0xF] + "." + (rid & 7);
    }

    private static final char[] HEX = "0123456789abcdef".toCharArray();

    /** "second-level table %#x AW %d DID %d". */
    private static String secondLevelText(long table, int aw, int did) {
        return "second-level table " + Hex.of(table) + " AW " + aw + " DID " + did;
    }

    /** Java's {@code %#x} of a long: "0x" and the unsigned hex digits (0 gives "0x0"). */

    private static HwEntry passThrough(int did, int aw) {
        return new HwEntry(HwEntry.Kind.PASS_THROUGH, 0, "pass-through (DID " + did + ")",
                new Fields(did, aw, false, 0, false));
    }

    private static HwEntry entry(PasidEntry pe) {
        if (!pe.present()) {
            return HwEntry.NONE;
        }
        int did = pe.domainId();
        int aw = pe.addressWidth();
        switch (pe.pgtt()) {
            case PasidEntry.PGTT_PASS_THROUGH:
                return passThrough(did, aw);
            case PasidEntry.PGTT_SECOND_LEVEL:
                return new HwEntry(HwEntry.Kind.PAGING, pe.secondLevelPointer(),
                        secondLevelText(pe.secondLevelPointer(), aw, did), new Fields(did, aw, false, 0, false));
            case PasidEntry.PGTT_FIRST_LEVEL:
                if (did != VtdIommu.FLPT_DEFAULT_DID) {
                    // a first-stage paging domain's entry (its own DID); SVA entries all carry
                    // FLPT_DEFAULT_DID (cache.c domain_get_id_for_dev)
                    return new HwEntry(HwEntry.Kind.PAGING, pe.firstLevelPointer(),
                            "first-level table " + Hex.of(pe.firstLevelPointer()) + ", "
                                    + pe.firstLevelLevels() + " levels, AW " + aw + " DID " + did
                                    + " (not FLPT_DEFAULT_DID: a paging domain's)",
                            new Fields(did, aw, false, pe.firstLevelLevels(), pe.supervisorRequestEnable()));
                }
                return new HwEntry(HwEntry.Kind.FIRST_LEVEL, pe.firstLevelPointer(),
                        "first-level table " + Hex.of(pe.firstLevelPointer()) + ", "
                                + pe.firstLevelLevels() + " levels, DID " + did,
                        new Fields(did, aw, false, pe.firstLevelLevels(), pe.supervisorRequestEnable()));
            default:
                return new HwEntry(HwEntry.Kind.INVALID, 0, "invalid: PGTT " + pe.pgtt(),
                        new Fields(did, aw, false, 0, false));
        }
    }

    /** Every present PASID entry reachable from the context's directory, by PASID. */
    private static Map<Integer, HwEntry> presentPasidEntries(VtdTables t, ScalableContextEntry ctx) {
        Map<Integer, HwEntry> out = new HashMap<>();
        int dirs = ctx.pasidDirectoryEntries();
        for (int di = t.nextPresentPasidDir(ctx, 0); di < dirs; di = t.nextPresentPasidDir(ctx, di + 1)) {
            PasidDirEntry de = t.pasidDirEntry(ctx, di);
            for (int i = 0; i < VtdTables.PASIDS_PER_TABLE; i++) {
                long a = de.pasidTablePointer() + (long) PasidEntry.SIZE * i;
                if (!t.pasidEntryPresentAt(a)) {
                    continue; // P clear: entry() would give NONE; the other seven words are not read
                }
                HwEntry e = entry(t.pasidEntryAt(a));
                if (e.kind() != HwEntry.Kind.NONE) {
                    out.put(di * VtdTables.PASIDS_PER_TABLE + i, e);
                }
            }
        }
        return out;
    }

    private static Fields fields(HwEntry e) {
        return (Fields) e.fields();
    }

    /** Probed, and the driver's record has no domain on the RID: device_block_translation's leftover. */
    @Override
    public boolean leftBlocked(CoreSnapshot.DeviceState ds) {
        return ds.iommu() != null && driver.probed(ds.dev()) && driver.programmedDomain(ds.dev()) == null;
    }

    @Override
    public boolean owns(IommuDomain d) {
        return d instanceof VtdDomain;
    }

    @Override
    public boolean isSva(IommuDomain d) {
        return ((VtdDomain) d).mm() != null;
    }

    @Override
    public long tableOf(IommuDomain d) {
        return ((VtdDomain) d).pageTable().root();
    }

    @Override
    public boolean identityAgrees(HwEntry e) {
        return fields(e).did() == VtdIommu.FLPT_DEFAULT_DID;
    }

    @Override
    public void paging(String where, Decoded dd, IommuDomain domain, HwEntry e, List<String> out) {
        VtdDomain d = (VtdDomain) domain;
        Fields f = fields(e);
        VtdIommu unit = byLabel.get(dd.unit());
        if (d.firstStage()) {
            // first level: FLPM = the table's depth, AW = the unit's AGAW (intel_pasid_setup_first_level)
            if (f.levels() != d.pageTable().levels()) {
                out.add(where + ": " + (f.levels() == 0 ? "a second-level entry" : "FLPM gives " + f.levels()
                        + " levels") + " but " + d + "'s first-stage table has " + d.pageTable().levels());
            }
            if (f.aw() != unit.agaw()) {
                out.add(where + ": AW " + f.aw() + " but " + unit + " has AGAW " + unit.agaw());
            }
            if (f.supervisor()) {
                out.add(where + ": SRE set on a paging domain's entry");
            }
        } else {
            int tableAw = ((VtdSecondLevelPageTable) d.pageTable()).aw();
            if (f.levels() != 0) {
                out.add(where + ": a first-level entry but " + d + " is a second-stage domain");
            } else if (f.aw() != tableAw) {
                out.add(where + ": AW " + f.aw() + " but " + d + "'s table has AGAW " + tableAw);
            }
        }
        // the id the driver allocated the domain on this unit, and no other domain's entry with it there
        VtdIommu u = byLabel.get(dd.unit());
        int did = d.domainId(u);
        if (did < VtdIommu.FIRST_DOMAIN_ID || f.did() != did) {
            out.add(where + ": DID " + f.did() + " but " + d + " has DID " + did + " on " + u);
        }
        IommuDomain prev = didOwners.get(u).putIfAbsent(f.did(), d);
        if (prev != null && prev != d) {
            out.add(where + ": DID " + f.did() + " names both " + prev + " and " + d);
        }
    }

    @Override
    public void requester(String where, CoreSnapshot.DeviceState ds, Requester q, List<String> out) {
        PciDevice dev = (PciDevice) ds.dev();
        VtdIommu u = driver.unitFor(dev);
        boolean dt = fields(q.entry()).deviceTlb();
        if (!u.scalableMode() && q.id() == dev.requesterId() && dt != driver.atsEnabled(dev)) {
            out.add(where + ": TT says device-TLB " + dt + " but ATS enabled is " + driver.atsEnabled(dev));
        }
    }

    /**
     * An SVA domain's entry: first level on the mm's table at the mm's depth, user requests only,
     * and DID = FLPT_DEFAULT_DID, which every SVA entry shares (cache.c domain_get_id_for_dev), so
     * it is not an owned id.
     */
    @Override
    public void firstLevel(String where, Decoded dd, IommuDomain domain, HwEntry e, List<String> out) {
        VtdDomain d = (VtdDomain) domain;
        VtdIommu u = byLabel.get(dd.unit());
        Fields f = fields(e);
        long pgd = d.mm().pgd().root();
        if (e.table() != pgd) {
            out.add(where + ": FLPTPTR " + Long.toHexString(e.table()) + " is not " + d.mm() + "'s table "
                    + Long.toHexString(pgd));
        }
        if (f.levels() != d.mm().levels()) {
            out.add(where + ": FLPM gives " + f.levels() + " levels but " + d.mm() + " has " + d.mm().levels());
        }
        if (f.supervisor()) {
            out.add(where + ": SRE set on a user address space");
        }
        if (f.did() != VtdIommu.FLPT_DEFAULT_DID || d.domainId(u) != VtdIommu.FLPT_DEFAULT_DID) {
            out.add(where + ": DID " + f.did() + " but SVA domain " + d + " uses DID " + d.domainId(u) + " on " + u
                    + " (must be FLPT_DEFAULT_DID " + VtdIommu.FLPT_DEFAULT_DID + ")");
        }
    }

    @Override
    public void finish(List<String> out) {
        for (VtdIommu u : driver.units()) {
            for (Map.Entry<Integer, IommuDomain> e : didOwners.get(u).entrySet()) {
                if (!u.domainIdsInUse().get(e.getKey())) {
                    out.add(u + ": DID " + e.getKey() + " of " + e.getValue() + " is programmed but not allocated");
                }
            }
        }
    }
}
