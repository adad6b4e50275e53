package org.jiommu.platform;

import static org.jiommu.hw.vtd.VtdRegisters.GSTS_REG;
import static org.jiommu.hw.vtd.VtdRegisters.GSTS_TES;
import static org.jiommu.hw.vtd.VtdRegisters.RTADDR_REG;
import static org.jiommu.hw.vtd.VtdRegisters.RTADDR_TTM_MASK;
import static org.jiommu.hw.vtd.VtdRegisters.RTADDR_SMT;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.HashSet;
import java.util.Set;
import org.jiommu.bus.pci.DmaAlias;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.core.CoreSnapshot;
import org.jiommu.core.PasidEntry;
import org.jiommu.core.spi.DomainType;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.driver.vtd.VtdDomain;
import org.jiommu.driver.vtd.VtdIommu;
import org.jiommu.driver.vtd.VtdIommuDriver;
import org.jiommu.hw.vtd.ContextEntry;
import org.jiommu.hw.vtd.PasidDirEntry;
import org.jiommu.hw.vtd.RootEntry;
import org.jiommu.hw.vtd.ScalableContextEntry;
import org.jiommu.mem.PhysicalMemory;

/**
 * Invariant I7 for a {@link VtdPlatform}: what the hardware would walk agrees with the core's
 * state. For every PCI device the core knows behind each unit, and for every requester id the
 * device can use (its DMA aliases from the topology), the root, context and (scalable mode)
 * PASID-directory and RID_PASID entries are read from memory, starting at the unit's RTADDR
 * register, decoded with the hardware model's decoders (not the driver's encoders), and compared
 * with the domain the core has attached:
 * <ul>
 * <li>a paging domain: entry present, second-level pointer = the domain's table root, AW = the
 *     table's AGAW, DID = the domain's id on that unit (legacy TT = 01b exactly when the driver
 *     enabled ATS; scalable PGTT = second-level);</li>
 * <li>identity: pass-through (legacy TT = 10b, scalable PGTT = 100b) with DID 1;</li>
 * <li>blocked (or no domain yet): no translation (context or PASID entry not present);</li>
 * <li>a device not probed (never, or released): never a paging entry (I5), only not-present or
 *     pass-through (its release state, I9).</li>
 * </ul>
 * Core PASID slots other than 0 must have a matching PASID entry (an SVA domain: first level,
 * FLPTPTR = the mm's table, FLPM = its depth, SRE clear, the domain's DID), and every present
 * PASID entry other than RID_PASID must be one the core knows. Each domain id of a unit names one domain.
 *
 * <p>The check takes a {@link org.jiommu.core.IommuCore#snapshot()}, so the core state it compares
 * with is never half-done, then reads memory (and the driver's domain ids) after the snapshot's
 * locks are released: run it at a quiescent point, with no core call running on another thread.
 * It moves no hardware counter or cache.
 */
public final class VtdHardwareAgreement {
    private final VtdPlatform platform;

    public VtdHardwareAgreement(VtdPlatform platform) {
        this.platform = platform;
    }

    /** Convenience: the violations of {@code p}. */
    public static List<String> check(VtdPlatform p) {
        return new VtdHardwareAgreement(p).violations();
    }

    /** Every disagreement found, one message each; empty when hardware and core agree. */
    public List<String> violations() {
        CoreSnapshot snap = platform.core().snapshot();
        VtdIommuDriver driver = platform.driver();
        List<String> out = new ArrayList<>();
        Map<VtdIommu, Map<Integer, IommuDomain>> didOwners = new HashMap<>();
        for (VtdIommu u : driver.units()) {
            didOwners.put(u, new HashMap<>());
            if ((u.unit().read32(GSTS_REG) & GSTS_TES) == 0) {
                out.add(u + ": translation is not enabled");
            }
        }
        // Requester ids some probed device uses: a released device sharing one (a bridge alias) is not judged on it.
        Map<VtdIommu, Set<Integer>> liveRids = new HashMap<>();
        for (CoreSnapshot.DeviceState ds : snap.devices()) {
            if (ds.dev() instanceof PciDevice && ds.iommu() != null && driver.unitFor(ds.dev()) != null) {
                liveRids.computeIfAbsent(driver.unitFor(ds.dev()), k -> new HashSet<>())
                        .addAll(requesterIds((PciDevice) ds.dev()));
            }
        }
        for (CoreSnapshot.DeviceState ds : snap.devices()) {
            if (!(ds.dev() instanceof PciDevice)) {
                continue;
            }
            PciDevice dev = (PciDevice) ds.dev();
            VtdIommu u = driver.unitFor(dev);
            if (u == null) {
                continue;
            }
            Walker w = new Walker(u);
            boolean probed = ds.iommu() != null;
            CoreSnapshot.GroupState g = ds.groupId() == null ? null : snap.group(ds.groupId());
            for (int rid : requesterIds(dev)) {
                String where = String.format("%s: %s rid %02x:%02x.%d", u, dev, rid >> 8, (rid >> 3) & 0x1F, rid & 7);
                Entry e = w.ridEntry(rid);
                if (!probed || g == null) {
                    if (liveRids.getOrDefault(u, Set.of()).contains(rid)) {
                        continue;
                    }
                    if (e.kind == Kind.PAGING) {
                        out.add(where + ": not probed but its entry translates through table "
                                + Long.toHexString(e.table) + " (DID " + e.did + ")");
                    } else if (e.kind == Kind.INVALID) {
                        out.add(where + ": " + e.problem);
                    }
                    continue;
                }
                IommuDomain d = g.domain();
                boolean blocked = d == null || d.type() == DomainType.BLOCKED || d == g.blockingDomain();
                if (blocked) {
                    if (e.kind != Kind.NONE) {
                        out.add(where + ": group is on " + d + " (blocked) but the entry is " + e);
                    }
                } else if (d.type() == DomainType.IDENTITY) {
                    if (e.kind != Kind.PASS_THROUGH || e.did != VtdIommu.FLPT_DEFAULT_DID) {
                        out.add(where + ": group is on identity " + d + " but the entry is " + e);
                    }
                } else if (d instanceof VtdDomain) {
                    checkPaging(out, where, (VtdDomain) d, u, e, didOwners);
                    if (!u.scalableMode() && e.kind == Kind.PAGING && rid == dev.requesterId()
                            && e.deviceTlb != driver.atsEnabled(dev)) {
                        out.add(where + ": TT says device-TLB " + e.deviceTlb + " but ATS enabled is "
                                + driver.atsEnabled(dev));
                    }
                } else {
                    out.add(where + ": group domain " + d + " is not a VT-d domain");
                }
            }
            if (probed && g != null && u.scalableMode()) {
                checkPasids(out, u, dev, w, g, didOwners);
            }
        }
        for (VtdIommu u : driver.units()) {
            for (Map.Entry<Integer, IommuDomain> e : didOwners.get(u).entrySet()) {
                if (!u.domainIdsInUse().get(e.getKey())) {
                    out.add(u + ": DID " + e.getKey() + " of " + e.getValue() + " is programmed but not allocated");
                }
            }
        }
        return out;
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

    private static void checkPaging(List<String> out, String where, VtdDomain d, VtdIommu u, Entry e,
                                    Map<VtdIommu, Map<Integer, IommuDomain>> didOwners) {
        if (e.kind != Kind.PAGING) {
            out.add(where + ": group is on " + d + " but the entry is " + e);
            return;
        }
        if (e.table != d.pageTable().root()) {
            out.add(where + ": table " + Long.toHexString(e.table) + " is not " + d + "'s root "
                    + Long.toHexString(d.pageTable().root()));
        }
        if (e.aw != d.pageTable().aw()) {
            out.add(where + ": AW " + e.aw + " but " + d + "'s table has AGAW " + d.pageTable().aw());
        }
        checkDomainId(out, where, d, u, e, didOwners);
    }

    /**
     * A paging domain's entry carries the id the driver allocated it on {@code u} (from
     * FIRST_DOMAIN_ID up), and no other domain's entry carries the same id there.
     */
    private static void checkDomainId(List<String> out, String where, VtdDomain d, VtdIommu u, Entry e,
                                      Map<VtdIommu, Map<Integer, IommuDomain>> didOwners) {
        int did = d.domainId(u);
        if (did < VtdIommu.FIRST_DOMAIN_ID || e.did != did) {
            out.add(where + ": DID " + e.did + " but " + d + " has DID " + did + " on " + u);
        }
        IommuDomain prev = didOwners.get(u).putIfAbsent(e.did, d);
        if (prev != null && prev != d) {
            out.add(where + ": DID " + e.did + " names both " + prev + " and " + d);
        }
    }

    /**
     * An SVA domain's entry: first level on the mm's table at the mm's depth, user requests only,
     * and DID = FLPT_DEFAULT_DID, which every SVA entry shares (cache.c domain_get_id_for_dev), so
     * it is not an owned id.
     */
    private static void checkFirstLevel(List<String> out, String where, VtdDomain d, VtdIommu u, Entry e) {
        if (e.kind != Kind.FIRST_LEVEL) {
            out.add(where + ": core has SVA domain " + d + " but the entry is " + e);
            return;
        }
        long pgd = d.mm().pgd().root();
        if (e.table != pgd) {
            out.add(where + ": FLPTPTR " + Long.toHexString(e.table) + " is not " + d.mm() + "'s table "
                    + Long.toHexString(pgd));
        }
        if (e.levels != d.mm().levels()) {
            out.add(where + ": FLPM gives " + e.levels + " levels but " + d.mm() + " has " + d.mm().levels());
        }
        if (e.supervisor) {
            out.add(where + ": SRE set on a user address space");
        }
        if (e.did != VtdIommu.FLPT_DEFAULT_DID || d.domainId(u) != VtdIommu.FLPT_DEFAULT_DID) {
            out.add(where + ": DID " + e.did + " but SVA domain " + d + " uses DID " + d.domainId(u) + " on " + u
                    + " (must be FLPT_DEFAULT_DID " + VtdIommu.FLPT_DEFAULT_DID + ")");
        }
    }

    /** Core PASID slots (other than 0) against the device's PASID table, both ways. */
    private void checkPasids(List<String> out, VtdIommu u, PciDevice dev, Walker w, CoreSnapshot.GroupState g,
                             Map<VtdIommu, Map<Integer, IommuDomain>> didOwners) {
        ScalableContextEntry ctx = w.scalableContext(dev.requesterId());
        if (ctx == null || !ctx.present()) {
            return;
        }
        Map<Integer, IommuDomain> want = new HashMap<>();
        for (Map.Entry<Integer, PasidEntry> s : g.pasids().entrySet()) {
            if (s.getKey() != 0 && s.getValue().domain() != null && dev.maxPasids() > 0) {
                want.put(s.getKey(), s.getValue().domain());
            }
        }
        Map<Integer, Entry> have = w.presentPasidEntries(ctx);
        have.remove(ctx.ridPasid());
        String where = u + ": " + dev;
        for (Map.Entry<Integer, IommuDomain> s : want.entrySet()) {
            Entry e = have.getOrDefault(s.getKey(), Entry.none());
            String at = where + " PASID " + s.getKey();
            IommuDomain d = s.getValue();
            if (d.type() == DomainType.IDENTITY) {
                if (e.kind != Kind.PASS_THROUGH) {
                    out.add(at + ": core has identity but the entry is " + e);
                }
            } else if (d instanceof VtdDomain && ((VtdDomain) d).mm() != null) {
                checkFirstLevel(out, at, (VtdDomain) d, u, e);
            } else if (d instanceof VtdDomain) {
                checkPaging(out, at, (VtdDomain) d, u, e, didOwners);
            } else if (e.kind != Kind.NONE) {
                out.add(at + ": core has " + d + " but the entry is " + e);
            }
        }
        for (Map.Entry<Integer, Entry> e : have.entrySet()) {
            if (!want.containsKey(e.getKey())) {
                out.add(where + " PASID " + e.getKey() + ": entry " + e.getValue() + " that the core does not know");
            }
        }
    }

    private enum Kind { NONE, PAGING, FIRST_LEVEL, PASS_THROUGH, INVALID }

    /** What one entry says, as far as the check cares. */
    private static final class Entry {
        Kind kind = Kind.NONE;
        long table;
        int aw;
        int did;
        boolean deviceTlb;
        int levels;
        boolean supervisor;
        String problem;

        static Entry none() {
            return new Entry();
        }

        @Override
        public String toString() {
            switch (kind) {
                case NONE: return "not present";
                case PASS_THROUGH: return "pass-through (DID " + did + ")";
                case PAGING: return String.format("second-level table %#x AW %d DID %d", table, aw, did);
                case FIRST_LEVEL: return String.format("first-level table %#x, %d levels, DID %d", table, levels, did);
                default: return "invalid: " + problem;
            }
        }
    }

    /** Reads one unit's structures from memory with the hardware model's decoders. */
    private final class Walker {
        private final PhysicalMemory mem = platform.memory();
        private final long root;
        private final boolean scalable;

        Walker(VtdIommu u) {
            long rtaddr = u.unit().read64(RTADDR_REG);
            this.root = rtaddr & ~0xFFFL;
            this.scalable = (rtaddr & RTADDR_TTM_MASK) == RTADDR_SMT;
        }

        private RootEntry rootEntry(int rid) {
            long a = root + (long) (rid >>> 8) * RootEntry.SIZE;
            return new RootEntry(mem.readLong(a), mem.readLong(a + 8));
        }

        ScalableContextEntry scalableContext(int rid) {
            int devfn = rid & 0xFF;
            RootEntry re = rootEntry(rid);
            if (!re.presentFor(true, devfn)) {
                return null;
            }
            long a = re.contextTableFor(true, devfn) + (long) (devfn & 0x7F) * ScalableContextEntry.SIZE;
            return new ScalableContextEntry(mem.readLong(a), mem.readLong(a + 8), mem.readLong(a + 16),
                    mem.readLong(a + 24));
        }

        /** The translation requests without PASID from {@code rid} get. */
        Entry ridEntry(int rid) {
            if (!scalable) {
                int devfn = rid & 0xFF;
                RootEntry re = rootEntry(rid);
                if (!re.presentFor(false, devfn)) {
                    return Entry.none();
                }
                long a = re.contextTableFor(false, devfn) + (long) devfn * ContextEntry.SIZE;
                ContextEntry ce = new ContextEntry(mem.readLong(a), mem.readLong(a + 8));
                Entry e = new Entry();
                if (!ce.present()) {
                    return e;
                }
                e.did = ce.domainId();
                e.aw = ce.addressWidth();
                switch (ce.translationType()) {
                    case ContextEntry.TT_PASS_THROUGH:
                        e.kind = Kind.PASS_THROUGH;
                        break;
                    case ContextEntry.TT_MULTI_LEVEL:
                    case ContextEntry.TT_DEV_IOTLB:
                        e.kind = Kind.PAGING;
                        e.table = ce.secondLevelPointer();
                        e.deviceTlb = ce.translationType() == ContextEntry.TT_DEV_IOTLB;
                        break;
                    default:
                        e.kind = Kind.INVALID;
                        e.problem = "TT " + ce.translationType();
                }
                return e;
            }
            ScalableContextEntry ctx = scalableContext(rid);
            if (ctx == null || !ctx.present()) {
                return Entry.none();
            }
            return pasidEntry(ctx, ctx.ridPasid());
        }

        Entry pasidEntry(ScalableContextEntry ctx, int pasid) {
            int di = PasidDirEntry.index(pasid);
            if (di >= ctx.pasidDirectoryEntries()) {
                return Entry.none();
            }
            PasidDirEntry de = new PasidDirEntry(mem.readLong(ctx.pasidDirectoryPointer() + (long) di * PasidDirEntry.SIZE));
            if (!de.present()) {
                return Entry.none();
            }
            return decode(de.pasidTablePointer() + (long) org.jiommu.hw.vtd.PasidEntry.index(pasid)
                    * org.jiommu.hw.vtd.PasidEntry.SIZE);
        }

        private Entry decode(long a) {
            long[] w = new long[8];
            for (int i = 0; i < 8; i++) {
                w[i] = mem.readLong(a + 8L * i);
            }
            org.jiommu.hw.vtd.PasidEntry pe = org.jiommu.hw.vtd.PasidEntry.of(w);
            Entry e = new Entry();
            if (!pe.present()) {
                return e;
            }
            e.did = pe.domainId();
            e.aw = pe.addressWidth();
            switch (pe.pgtt()) {
                case org.jiommu.hw.vtd.PasidEntry.PGTT_PASS_THROUGH:
                    e.kind = Kind.PASS_THROUGH;
                    break;
                case org.jiommu.hw.vtd.PasidEntry.PGTT_SECOND_LEVEL:
                    e.kind = Kind.PAGING;
                    e.table = pe.secondLevelPointer();
                    break;
                case org.jiommu.hw.vtd.PasidEntry.PGTT_FIRST_LEVEL:
                    e.kind = Kind.FIRST_LEVEL;
                    e.table = pe.firstLevelPointer();
                    e.levels = pe.firstLevelLevels();
                    e.supervisor = pe.supervisorRequestEnable();
                    break;
                default:
                    e.kind = Kind.INVALID;
                    e.problem = "PGTT " + pe.pgtt();
            }
            return e;
        }

        /** Every present PASID entry reachable from the context's directory, by PASID. */
        Map<Integer, Entry> presentPasidEntries(ScalableContextEntry ctx) {
            Map<Integer, Entry> out = new HashMap<>();
            for (int di = 0; di < ctx.pasidDirectoryEntries(); di++) {
                PasidDirEntry de = new PasidDirEntry(mem.readLong(ctx.pasidDirectoryPointer() + (long) di * 8));
                if (!de.present()) {
                    continue;
                }
                for (int i = 0; i < 64; i++) {
                    Entry e = decode(de.pasidTablePointer() + 64L * i);
                    if (e.kind != Kind.NONE) {
                        out.put(di << 6 | i, e);
                    }
                }
            }
            return out;
        }
    }
}
