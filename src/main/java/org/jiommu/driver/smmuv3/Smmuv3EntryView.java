package org.jiommu.driver.smmuv3;

import static org.jiommu.hw.smmuv3.SmmuRegs.*;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.jiommu.base.Hex;
import org.jiommu.bus.Device;
import org.jiommu.core.CoreSnapshot;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.hw.smmuv3.ContextDescriptor;
import org.jiommu.hw.smmuv3.SmmuFeatures;
import org.jiommu.hw.smmuv3.StreamTableEntry;
import org.jiommu.mem.PhysicalMemory;
import org.jiommu.platform.EntryView;
import org.jiommu.platform.HwEntry;
import org.jiommu.platform.Platform;

/**
 * The SMMUv3 half of the hardware agreement (I7): for each stream id of a master, the STE read
 * from the stream table in memory and decoded by the hardware model ({@code hw.smmuv3}), and
 * behind a stage-1 STE the CDs its CD table holds: what requests without SubstreamID meet (CD 0,
 * or S1DSS bypass / terminate) and the valid CDs at other SubstreamIDs. The kind's field rules:
 * a stage-1 entry's CD carries the domain's ASID, a stage-2 STE the domain's VMID, and no ASID
 * or VMID serves two domains. One instance per check.
 */
final class Smmuv3EntryView implements EntryView {
    /** The decoded tag of a translating entry: ASID (stage 1) or VMID (stage 2). */
    record Tag(String unit, boolean stage2, int value) {
    }

    private final Platform platform;
    private final Map<String, Smmuv3Driver> drivers;
    private final Map<Tag, IommuDomain> tagOwner = new HashMap<>();
    private final List<String> clashes = new ArrayList<>();

    Smmuv3EntryView(Platform platform, Map<String, Smmuv3Driver> drivers) {
        this.platform = platform;
        this.drivers = drivers;
    }

    @Override
    public String kindName() {
        return "an SMMUv3";
    }

    @Override
    public void start(List<String> out) {
        for (Smmuv3Driver d : drivers.values()) {
            if ((d.unit().readRegister32(CR0ACK) & CR0_SMMUEN) == 0) {
                out.add(d.iommu().name() + ": CR0ACK.SMMUEN clear: every stream goes by GBPA");
            }
        }
    }

    @Override
    public Decoded decode(CoreSnapshot.DeviceState ds) {
        Device dev = ds.dev();
        Smmuv3Driver drv = drivers.get(platform.iommuOf(dev));
        if (drv == null) {
            return null;
        }
        int[] sids = drv.streamIds(dev);
        if (sids.length == 0) {
            sids = new int[] {platform.sourceId(dev)};
        }
        List<Requester> qs = new ArrayList<>();
        Map<Integer, HwEntry> pasids = null;
        for (int sid : sids) {
            long[] w = drv.ste(sid);
            qs.add(new Requester(sid, "stream " + hex(sid), rid(drv, sid, w)));
            if (pasids == null && w != null) {
                pasids = substreams(drv, sid, w);
            }
        }
        return new Decoded(drv.iommu().name(), qs, pasids);
    }

    /** What requests of {@code sid} without SubstreamID meet. */
    private static HwEntry rid(Smmuv3Driver drv, int sid, long[] w) {
        String at = "STE " + hex(sid);
        if (w == null) {
            return new HwEntry(HwEntry.Kind.NONE, 0, at + ": no level-2 stream table (C_BAD_STREAMID)", null);
        }
        SmmuFeatures f = drv.unit().features();
        StreamTableEntry ste = StreamTableEntry.decode(w, f);
        if (ste.illegal != null) {
            return (w[0] & StreamTableEntry.V) == 0 ? new HwEntry(HwEntry.Kind.NONE, 0, at + " invalid", null)
                    : new HwEntry(HwEntry.Kind.INVALID, 0, at + " ILLEGAL: " + ste.illegal, null);
        }
        switch (ste.config) {
            case ABORT:
                return new HwEntry(HwEntry.Kind.NONE, 0, at + " abort", null);
            case BYPASS:
                return new HwEntry(HwEntry.Kind.PASS_THROUGH, 0, at + " bypass", null);
            case S2_TRANSLATE: {
                long ttb = w[3] & StreamTableEntry.S2TTB_MASK;
                return new HwEntry(HwEntry.Kind.PAGING, ttb, at + " stage 2 VMID " + ste.vmid + " S2TTB " + Hex.of(ttb),
                        new Tag(drv.iommu().name(), true, ste.vmid));
            }
            case NESTED:
                return new HwEntry(HwEntry.Kind.INVALID, 0, at + " nested (the driver builds none)", null);
            default:
                break;
        }
        if (ste.s1CdMax > 0 && ste.s1Dss != StreamTableEntry.S1DSS_SSID0) {
            return ste.s1Dss == StreamTableEntry.S1DSS_BYPASS
                    ? new HwEntry(HwEntry.Kind.PASS_THROUGH, 0, at + " CD table, S1DSS bypass", null)
                    : new HwEntry(HwEntry.Kind.NONE, 0, at + " CD table, S1DSS terminate", null);
        }
        return cdEntry(drv, at + " CD 0", cdWords(drv, ste, 0));
    }

    /** The valid CDs at SubstreamIDs other than 0 of a stage-1 STE with substreams, else null. */
    private static Map<Integer, HwEntry> substreams(Smmuv3Driver drv, int sid, long[] w) {
        StreamTableEntry ste = StreamTableEntry.decode(w, drv.unit().features());
        if (ste.illegal != null || ste.config != StreamTableEntry.Config.S1_TRANSLATE || ste.s1CdMax == 0) {
            return null;
        }
        Map<Integer, HwEntry> out = new TreeMap<>();
        PhysicalMemory mem = drv.unit().memory();
        int n = 1 << ste.s1CdMax;
        if (ste.s1Fmt == StreamTableEntry.S1FMT_LINEAR) {
            for (int ssid = 1; ssid < n; ssid++) {
                addCd(drv, sid, ssid, mem, ste.s1ContextPtr + 64L * ssid, out);
            }
            return out;
        }
        int perLeaf = ste.s1Fmt == StreamTableEntry.S1FMT_64K_L2 ? 1024 : 64;
        for (int l1 = 0; l1 < (n + perLeaf - 1) / perLeaf; l1++) {
            long desc = mem.readLongAcquire(ste.s1ContextPtr + 8L * l1);
            if ((desc & ContextDescriptor.L1CD_V) == 0) {
                continue;
            }
            long leaf = desc & ContextDescriptor.L1CD_L2PTR_MASK;
            for (int i = 0; i < perLeaf; i++) {
                int ssid = l1 * perLeaf + i;
                if (ssid != 0 && ssid < n) {
                    addCd(drv, sid, ssid, mem, leaf + 64L * i, out);
                }
            }
        }
        return out;
    }

    /** The CD at {@code at} if valid: its first word decides, the other words are read only then. */
    private static void addCd(Smmuv3Driver drv, int sid, int ssid, PhysicalMemory mem, long at,
                              Map<Integer, HwEntry> out) {
        if ((mem.readLongAcquire(at) & ContextDescriptor.V) != 0) {
            out.put(ssid, cdEntry(drv, "STE " + hex(sid) + " CD " + ssid, read(mem, at)));
        }
    }

    /** Java's {@code %#x}: "0x" and the unsigned hex digits (the check runs at every quiescent point: no Formatter). */
    private static String hex(int v) {
        return "0x" + Integer.toHexString(v);
    }

    private static long[] read(PhysicalMemory mem, long at) {
        long[] w = new long[ContextDescriptor.WORDS];
        for (int i = 0; i < w.length; i++) {
            w[i] = mem.readLongAcquire(at + 8L * i);
        }
        return w;
    }

    /** CD {@code ssid} of a stage-1 STE's table as the SMMU fetches it (null: no leaf for it). */
    private static long[] cdWords(Smmuv3Driver drv, StreamTableEntry ste, int ssid) {
        PhysicalMemory mem = drv.unit().memory();
        if (ste.s1Fmt == StreamTableEntry.S1FMT_LINEAR) {
            return read(mem, ste.s1ContextPtr + 64L * ssid);
        }
        int perLeaf = ste.s1Fmt == StreamTableEntry.S1FMT_64K_L2 ? 1024 : 64;
        long desc = mem.readLongAcquire(ste.s1ContextPtr + 8L * (ssid / perLeaf));
        if ((desc & ContextDescriptor.L1CD_V) == 0) {
            return null;
        }
        return read(mem, (desc & ContextDescriptor.L1CD_L2PTR_MASK) + 64L * (ssid % perLeaf));
    }

    private static HwEntry cdEntry(Smmuv3Driver drv, String at, long[] w) {
        if (w == null || (w[0] & ContextDescriptor.V) == 0) {
            return new HwEntry(HwEntry.Kind.NONE, 0, at + " invalid", null);
        }
        ContextDescriptor cd = ContextDescriptor.decode(w, drv.unit().features());
        if (cd.illegal != null) {
            return new HwEntry(HwEntry.Kind.INVALID, 0, at + " ILLEGAL: " + cd.illegal, null);
        }
        if ((w[0] & ContextDescriptor.EPD0) != 0) {
            Smmuv3Domain released = drv.sva().releasedDomainOfAsid(cd.asid);
            if (released != null) {
                // arm_smmu_mm_release's quiet CD: the SVA domain is still attached, its mm gone.
                return new HwEntry(HwEntry.Kind.FIRST_LEVEL, released.mm.pgd().root(),
                        at + " ASID " + cd.asid + " TTB0 disabled (quiet CD: " + released.mm + " exited)",
                        new Tag(drv.iommu().name(), false, cd.asid));
            }
            return new HwEntry(HwEntry.Kind.NONE, 0, at + " TTB0 disabled (EPD0)", null);
        }
        long ttb = w[1] & ContextDescriptor.TTB_MASK;
        if (drv.sva().domainOfRoot(ttb) != null) {
            // TTB0 is a process's pgd: an SVA CD (the CPU's tables, walked by the SMMU)
            return new HwEntry(HwEntry.Kind.FIRST_LEVEL, ttb, at + " ASID " + cd.asid + " TTB0 " + Hex.of(ttb)
                    + " (process table)", new Tag(drv.iommu().name(), false, cd.asid));
        }
        return new HwEntry(HwEntry.Kind.PAGING, ttb, at + " ASID " + cd.asid + " TTB0 " + Hex.of(ttb),
                new Tag(drv.iommu().name(), false, cd.asid));
    }

    @Override
    public boolean owns(IommuDomain d) {
        return d instanceof Smmuv3Domain;
    }

    @Override
    public boolean isSva(IommuDomain d) {
        return d instanceof Smmuv3Domain s && s.mm != null;
    }

    @Override
    public long tableOf(IommuDomain d) {
        // read at a quiescent point (HardwareAgreement's contract), without the driver's lock
        Smmuv3Domain s = (Smmuv3Domain) d;
        return s.mm != null ? s.mm.pgd().root() : s.table == null ? -1 : s.table.root();
    }

    @Override
    public boolean identityAgrees(HwEntry e) {
        return true;
    }

    /** The CD's ASID (stage 1) or the STE's VMID (stage 2) is the domain's, and serves no other domain. */
    @Override
    public void paging(String where, Decoded dd, IommuDomain d, HwEntry e, List<String> out) {
        Tag t = (Tag) e.fields();
        Smmuv3Domain s = (Smmuv3Domain) d;
        boolean s2 = s.stage == Smmuv3Domain.Stage.S2;
        int want = s2 ? s.vmid : s.asid;
        if (t.stage2() != s2 || t.value() != want) {
            out.add(where + ": " + (t.stage2() ? "VMID " : "ASID ") + t.value() + " but " + d + " has "
                    + (s2 ? "VMID " : "ASID ") + want);
        }
        IommuDomain was = tagOwner.putIfAbsent(t, d);
        if (was != null && was != d) {
            clashes.add(t.unit() + ": " + (t.stage2() ? "VMID " : "ASID ") + t.value() + " serves both " + was
                    + " and " + d);
        }
    }

    @Override
    public void requester(String where, CoreSnapshot.DeviceState ds, Requester q, List<String> out) {
    }

    @Override
    public void firstLevel(String where, Decoded dd, IommuDomain d, HwEntry e, List<String> out) {
        // An SVA CD: TTB0 is the domain's mm->pgd, the ASID the domain's and no other domain's.
        Smmuv3Domain s = (Smmuv3Domain) d;
        if (e.table() != s.mm.pgd().root()) {
            out.add(where + ": TTB0 " + Long.toHexString(e.table()) + " is not " + s.mm + "'s pgd "
                    + Long.toHexString(s.mm.pgd().root()));
        }
        paging(where, dd, d, e, out);
    }

    @Override
    public void finish(List<String> out) {
        out.addAll(clashes);
    }
}
