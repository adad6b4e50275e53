package org.jiommu.driver.smmuv2;

import static org.jiommu.hw.smmuv2.Smmuv2Regs.*;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.jiommu.bus.Device;
import org.jiommu.bus.PlatformDevice;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.core.CoreSnapshot;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.hw.smmuv2.Smmuv2Unit;
import org.jiommu.platform.EntryView;
import org.jiommu.platform.HwEntry;
import org.jiommu.platform.Platform;

/**
 * The SMMUv2 half of the hardware agreement (I7): for each stream id of a master, the entry its
 * requests meet, decoded from the unit's registers the way the unit matches them (SMMUv2 spec
 * 2.4 "Stream mapping"): no valid SMR matching is an unidentified stream (fault or bypass per
 * sCR0.USFCFG), two is a stream match conflict, else the S2CR: bypass, fault, or translate
 * through a context bank, which with SCTLR.M off bypasses and with CBAR type "stage 1, stage 2
 * bypass" walks TTBR0's table, or with TCR.EPD1 clear (split tables, S11) TTBR1's, the
 * domain's own. The kind's field rules: the bank's TTBR0 ASID is the domain's, and one bank
 * serves one domain. A context-switching master may have pointed TTBR0 at an aux table of its
 * own bank (S10): that is the domain's bank at work, not a disagreement; any other table in an
 * enabled TTBR0 of a split bank is. One instance per check.
 */
final class Smmuv2Entries implements EntryView {
    /**
     * The decoded bank of a translating entry.
     *
     * @param ttbr0 TTBR0's table base when TTBR0 walks are enabled (TCR.EPD0 clear), else -1
     * @param split TTBR1 walks are enabled (TCR.EPD1 clear): the entry's table is TTBR1's
     */
    record Bank(Smmuv2Unit unit, int cbndx, int asid, long ttbr0, boolean split) {
    }

    private final Platform platform;
    private final Map<String, Smmuv2Driver> drivers;
    private final Map<String, IommuDomain> bankOwner = new HashMap<>();
    private final List<String> clashes = new ArrayList<>();

    Smmuv2Entries(Platform platform, Map<String, Smmuv2Driver> drivers) {
        this.platform = platform;
        this.drivers = drivers;
    }

    @Override
    public String kindName() {
        return "an SMMUv2";
    }

    @Override
    public void start(List<String> out) {
        for (Smmuv2Driver d : drivers.values()) {
            if ((d.unit().readl(SCR0) & SCR0_CLIENTPD) != 0) {
                out.add(d.iommu().name() + ": sCR0.CLIENTPD set: every stream bypasses the SMMU");
            }
        }
    }

    @Override
    public Decoded decode(CoreSnapshot.DeviceState ds) {
        Device dev = ds.dev();
        Smmuv2Driver drv = drivers.get(platform.iommuOf(dev));
        if (drv == null) {
            return null;
        }
        List<Integer> sids = dev instanceof PciDevice p ? List.of(platform.topology().dmaRequesterId(p))
                : ((PlatformDevice) dev).streamIds();
        List<Requester> qs = new ArrayList<>();
        for (int sid : sids) {
            // "stream %#x" without a Formatter: I7 runs at every quiescent point of a stress run
            qs.add(new Requester(sid, "stream 0x" + Integer.toHexString(sid),
                    withAuxTables(drv, entry(drv.unit(), sid))));
        }
        return new Decoded(drv.iommu().name(), qs, null);
    }

    /** What a request with stream id {@code sid} meets on {@code u}, from its registers. */
    static HwEntry entry(Smmuv2Unit u, int sid) {
        int numSmr = u.readl(IDR0) & IDR0_NUMSMRG_MASK;
        int idx = -1;
        int matches = 0;
        for (int i = 0; i < numSmr; i++) {
            int smr = u.readl(SMR_BASE + 4 * i);
            int mask = smr >>> SMR_MASK_SHIFT & SMR_ID_MASK;
            if ((smr & SMR_VALID) != 0 && ((smr ^ sid) & SMR_ID_MASK & ~mask) == 0) {
                idx = i;
                matches++;
            }
        }
        if (matches == 0) {
            return (u.readl(SCR0) & SCR0_USFCFG) != 0 ? new HwEntry(HwEntry.Kind.NONE, 0, "unmatched (USF fault)", null)
                    : new HwEntry(HwEntry.Kind.PASS_THROUGH, 0, "unmatched (sCR0.USFCFG bypass)", null);
        }
        if (matches > 1) {
            return new HwEntry(HwEntry.Kind.INVALID, 0, "stream match conflict (" + matches + " SMRs)", null);
        }
        int s2cr = u.readl(S2CR_BASE + 4 * idx);
        String at = "SMR" + idx + " S2CR " + Integer.toHexString(s2cr);
        switch (s2cr >>> S2CR_TYPE_SHIFT & 3) {
            case S2CR_TYPE_BYPASS:
                return new HwEntry(HwEntry.Kind.PASS_THROUGH, 0, at + " bypass", null);
            case S2CR_TYPE_FAULT:
                return new HwEntry(HwEntry.Kind.NONE, 0, at + " fault", null);
            case S2CR_TYPE_TRANS:
                break;
            default:
                return new HwEntry(HwEntry.Kind.INVALID, 0, at + " reserved type", null);
        }
        int cb = s2cr & S2CR_CBNDX_MASK;
        int numCb = u.readl(IDR1) & IDR1_NUMCB_MASK;
        if (cb >= numCb) {
            return new HwEntry(HwEntry.Kind.INVALID, 0, at + " unimplemented bank CB" + cb, null);
        }
        long page = u.cbOffset(cb);
        if ((u.readl(page + CB_SCTLR) & SCTLR_M) == 0) {
            return new HwEntry(HwEntry.Kind.PASS_THROUGH, 0, at + " CB" + cb + " with SCTLR.M clear (bypass)", null);
        }
        int cbar = u.readl(u.gr1Offset() + CBAR_BASE + 4 * cb);
        if ((cbar >>> CBAR_TYPE_SHIFT & 3) != CBAR_TYPE_S1_TRANS_S2_BYPASS) {
            return new HwEntry(HwEntry.Kind.INVALID, 0, at + " CB" + cb + " CBAR " + Integer.toHexString(cbar)
                    + " is not stage 1 with stage 2 bypass", null);
        }
        long ttbr0 = u.readq(page + CB_TTBR0);
        long base = (1L << TTBR_ASID_SHIFT) - 1;
        int tcr = u.readl(page + CB_TCR);
        int asid = (int) (ttbr0 >>> TTBR_ASID_SHIFT);
        long t0 = (tcr & TCR_EPD0) == 0 ? ttbr0 & base : -1;
        if ((tcr & TCR_EPD1) == 0) {
            long table = u.readq(page + CB_TTBR1) & base;
            return new HwEntry(HwEntry.Kind.PAGING, table, at + " CB" + cb + " TTBR1 " + Long.toHexString(table)
                    + (t0 < 0 ? " TTBR0 off" : " TTBR0 " + Long.toHexString(t0)) + " ASID " + asid,
                    new Bank(u, cb, asid, t0, true));
        }
        return new HwEntry(HwEntry.Kind.PAGING, t0, at + " CB" + cb + " TTBR0 " + Long.toHexString(t0)
                + " ASID " + asid, new Bank(u, cb, asid, t0, false));
    }

    /**
     * A master's entry with its driver's aux tables in view: a plain bank whose TTBR0 the master
     * switched to an aux table of that bank still serves the bank's domain (its table is then
     * reported as the domain's); a split bank's enabled TTBR0 must hold one of them.
     */
    static HwEntry withAuxTables(Smmuv2Driver drv, HwEntry e) {
        if (!(e.fields() instanceof Bank b)) {
            return e;
        }
        java.util.Set<Long> aux = drv.auxTables(b.cbndx());
        if (b.split()) {
            if (b.ttbr0() >= 0 && !aux.contains(b.ttbr0())) {
                return new HwEntry(HwEntry.Kind.INVALID, 0, e.text() + ": TTBR0 holds no aux table of CB"
                        + b.cbndx(), null);
            }
            return e;
        }
        if (aux.contains(e.table())) {
            long own = drv.bankTable(b.cbndx());
            return new HwEntry(HwEntry.Kind.PAGING, own, e.text() + " (the master's switch to an aux table of CB"
                    + b.cbndx() + ", whose own table is " + Long.toHexString(own) + ")", b);
        }
        return e;
    }

    @Override
    public boolean owns(IommuDomain d) {
        return d instanceof Smmuv2Domain;
    }

    @Override
    public boolean isSva(IommuDomain d) {
        return false; // SMMUv2 has no PASIDs, so no SVA
    }

    @Override
    public long tableOf(IommuDomain d) {
        // read at a quiescent point (HardwareAgreement's contract), so without the driver's lock
        Smmuv2Domain s = (Smmuv2Domain) d;
        return s.table == null ? -1 : s.table.root();
    }

    @Override
    public boolean identityAgrees(HwEntry e) {
        return true;
    }

    /** The bank's ASID is the domain's, and no bank serves two domains. */
    @Override
    public void paging(String where, Decoded dd, IommuDomain d, HwEntry e, List<String> out) {
        Bank b = (Bank) e.fields();
        Smmuv2Domain s = (Smmuv2Domain) d;
        if (b.asid() != s.asid || b.cbndx() != s.cbndx) {
            out.add(where + ": CB" + b.cbndx() + " ASID " + b.asid() + " but " + d + " has CB" + s.cbndx
                    + " ASID " + s.asid);
        }
        String key = b.unit().name() + "/" + b.cbndx();
        IommuDomain was = bankOwner.putIfAbsent(key, d);
        if (was != null && was != d) {
            clashes.add(dd.unit() + ": CB" + b.cbndx() + " serves both " + was + " and " + d);
        }
    }

    @Override
    public void requester(String where, CoreSnapshot.DeviceState ds, Requester q, List<String> out) {
    }

    @Override
    public void firstLevel(String where, Decoded dd, IommuDomain d, HwEntry e, List<String> out) {
        out.add(where + ": an SMMUv2 has no first-level (PASID) entries");
    }

    @Override
    public void finish(List<String> out) {
        out.addAll(clashes);
    }
}
