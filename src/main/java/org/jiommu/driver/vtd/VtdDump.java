package org.jiommu.driver.vtd;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jiommu.bus.Device;
import org.jiommu.hw.vtd.ContextEntry;
import org.jiommu.hw.vtd.PasidDirEntry;
import org.jiommu.hw.vtd.PasidEntry;
import org.jiommu.hw.vtd.RootEntry;
import org.jiommu.hw.vtd.ScalableContextEntry;
import org.jiommu.hw.vtd.VtdRegisters;
import org.jiommu.hw.vtd.VtdTables;
import org.jiommu.mem.PhysicalMemory;
import org.jiommu.platform.Text;

/**
 * {@code hw_dump} of a VT-d unit: the tables as the hardware walks them, read from simulated
 * memory starting at the root-table address register with the hardware decoders
 * ({@link VtdTables}), never from the driver's bookkeeping nor the unit's caches (VT-d spec 3.4-3.6, 9.1-9.6, 9.9-9.10): present root entries, the context
 * entries under them (legacy or scalable), in scalable mode the PASID directory and the present
 * PASID entries, then every page table some entry points at, as runs of leaf entries.
 */
final class VtdDump {
    private static final long ADDR = 0x000F_FFFF_FFFF_F000L;
    private static final int MAX_RUNS = 6;

    private final VtdIommu unit;
    private final PhysicalMemory mem;
    private final VtdTables t;
    private final StringBuilder sb = new StringBuilder();
    /** Table roots to walk after the entries: root -> {kind, levels, who points at it}. */
    private final Map<Long, Table> tables = new LinkedHashMap<>();
    /** Requester id -> device name, for labels. */
    private final Map<Integer, String> names = new HashMap<>();

    private record Table(boolean firstLevel, int levels, List<String> users) {
    }

    private VtdDump(PhysicalMemory mem, VtdIommu unit, VtdIommuDriver driver, List<Device> devices) {
        this.unit = unit;
        this.mem = mem;
        this.t = VtdTables.of(unit.unit(), mem);
        for (Device d : devices) {
            for (int rid : driver.requesterIds(d)) {
                names.merge(rid, d.name(), (a, b) -> a + "," + b);
            }
        }
    }

    /** The dump of {@code unit}; {@code devices} are the ones firmware puts behind it (for labels). */
    static String dump(PhysicalMemory mem, VtdIommu unit, VtdIommuDriver driver, List<Device> devices) {
        VtdDump d = new VtdDump(mem, unit, driver, devices);
        d.walk();
        return d.sb.toString().stripTrailing();
    }

    private void walk() {
        long rtaddr = unit.unit().read64(VtdRegisters.RTADDR_REG);
        boolean scalable = t.scalable();
        sb.append(String.format("vtd %s: %s mode, RTADDR %s, AGAW %d (%d-level tables)%n",
                unit.name(), scalable ? "scalable" : "legacy", Text.format(rtaddr), unit.agaw(), unit.agaw() + 2));
        sb.append("root and context entries (requester id: entry)\n");
        int shown = 0;
        for (int bus = 0; bus < 256; bus++) {
            RootEntry re = t.rootEntry(bus);
            if (!re.present() && !(scalable && re.upperPresent())) {
                continue;
            }
            sb.append(String.format("  bus %02x: root entry %s%n", bus, scalable
                    ? "LCTP " + pointer(re.present(), re.contextTablePointer()) + " UCTP "
                            + pointer(re.upperPresent(), re.upperContextTablePointer())
                    : "CTP " + Text.format(re.contextTablePointer())));
            for (int devfn = 0; devfn < 256; devfn++) {
                if (!re.presentFor(scalable, devfn)) {
                    continue;
                }
                int rid = bus << 8 | devfn;
                long at = t.contextEntryAddress(rid);
                if (scalable) {
                    shown += scalableContext(at, rid);
                } else {
                    shown += legacyContext(at, rid);
                }
            }
        }
        if (shown == 0) {
            sb.append("  (no present context entries)\n");
        }
        sb.append("page tables (leaf entries: iova+size -> pa, rights)\n");
        if (tables.isEmpty()) {
            sb.append("  (none referenced)\n");
        }
        for (Map.Entry<Long, Table> e : tables.entrySet()) {
            Table t = e.getValue();
            List<long[]> leaves = new ArrayList<>();
            leaves(e.getKey(), t.levels(), 0, t.firstLevel(), leaves);
            sb.append(String.format("  %s %s (%d-level, %s): ", t.firstLevel() ? "FL" : "SL",
                    Text.format(e.getKey()), t.levels(), String.join(", ", t.users())));
            sb.append(leaves.isEmpty() ? "empty" : runs(leaves)).append('\n');
        }
    }

    private static String pointer(boolean present, long p) {
        return present ? Text.format(p) : "-";
    }

    private String who(int rid) {
        return String.format("%02x:%02x.%d", rid >> 8, (rid >> 3) & 0x1f, rid & 7)
                + (names.containsKey(rid) ? " " + names.get(rid) : "");
    }

    private int legacyContext(long at, int rid) {
        ContextEntry ce = t.legacyContextAt(at);
        if (!ce.present()) {
            return 0;
        }
        String tt = switch (ce.translationType()) {
            case ContextEntry.TT_MULTI_LEVEL -> "multi-level";
            case ContextEntry.TT_DEV_IOTLB -> "multi-level+device-TLB";
            case ContextEntry.TT_PASS_THROUGH -> "pass-through";
            default -> "TT " + ce.translationType() + " (reserved)";
        };
        sb.append(String.format("    %-16s TT %s, DID %d, AW %d-level", who(rid), tt, ce.domainId(), ce.levels()));
        if (ce.translationType() != ContextEntry.TT_PASS_THROUGH) {
            sb.append(", SLPTPTR ").append(Text.format(ce.secondLevelPointer()));
            table(ce.secondLevelPointer(), false, ce.levels(), "DID " + ce.domainId());
        }
        sb.append(ce.fpd() ? ", FPD" : "").append('\n');
        return 1;
    }

    private int scalableContext(long at, int rid) {
        ScalableContextEntry ce = t.scalableContextAt(at);
        if (!ce.present()) {
            return 0;
        }
        sb.append(String.format("    %-16s PASID dir %s (%d entries)%s%s%s, RID_PASID %d%n", who(rid),
                Text.format(ce.pasidDirectoryPointer()), ce.pasidDirectoryEntries(),
                ce.deviceTlbEnable() ? ", DTE" : "", ce.pasidEnable() ? ", PASIDE" : "",
                ce.pageRequestEnable() ? ", PRE" : "", ce.ridPasid()));
        for (int di = 0; di < ce.pasidDirectoryEntries(); di++) {
            PasidDirEntry de = t.pasidDirEntry(ce, di);
            if (!de.present()) {
                continue;
            }
            long pt = de.pasidTablePointer();
            for (int pi = 0; pi < VtdTables.PASIDS_PER_TABLE; pi++) {
                PasidEntry pe = t.pasidEntryAt(pt + (long) pi * PasidEntry.SIZE);
                if (pe.present()) {
                    pasidEntry(di << 6 | pi, ce.ridPasid(), pe);
                }
            }
        }
        return 1;
    }

    private void pasidEntry(int pasid, int ridPasid, PasidEntry pe) {
        String label = "pasid " + pasid + (pasid == ridPasid ? " (RID_PASID)" : "");
        sb.append(String.format("      %-20s ", label));
        switch (pe.pgtt()) {
            case PasidEntry.PGTT_SECOND_LEVEL -> {
                sb.append(String.format("second-level, DID %d, SLPTPTR %s, %d-level", pe.domainId(),
                        Text.format(pe.secondLevelPointer()), pe.secondLevelLevels()));
                table(pe.secondLevelPointer(), false, pe.secondLevelLevels(), "DID " + pe.domainId());
            }
            case PasidEntry.PGTT_FIRST_LEVEL -> {
                sb.append(String.format("first-level, DID %d, FLPTPTR %s, %d-level", pe.domainId(),
                        Text.format(pe.firstLevelPointer()), pe.firstLevelLevels()));
                table(pe.firstLevelPointer(), true, pe.firstLevelLevels(), "DID " + pe.domainId() + " pasid " + pasid);
            }
            case PasidEntry.PGTT_NESTED -> sb.append(String.format("nested, DID %d, FLPTPTR %s, SLPTPTR %s",
                    pe.domainId(), Text.format(pe.firstLevelPointer()), Text.format(pe.secondLevelPointer())));
            case PasidEntry.PGTT_PASS_THROUGH -> sb.append(String.format("pass-through, DID %d", pe.domainId()));
            default -> sb.append("PGTT ").append(pe.pgtt()).append(" (reserved)");
        }
        sb.append(pe.fpd() ? ", FPD" : "").append('\n');
    }

    private void table(long root, boolean firstLevel, int levels, String user) {
        Table t = tables.computeIfAbsent(root, r -> new Table(firstLevel, levels, new ArrayList<>()));
        if (!t.users().contains(user)) {
            t.users().add(user);
        }
    }

    /**
     * Leaf entries under a table, depth first. Second level: an entry is present when R or W is
     * set (spec 9.8, no present bit); first level: when P is set (9.7). PS (bit 7) ends the walk
     * above the last level.
     */
    private void leaves(long table, int level, long base, boolean firstLevel, List<long[]> out) {
        int shift = 12 + 9 * (level - 1);
        for (int i = 0; i < 512; i++) {
            long pte = mem.readLong(table + i * 8L);
            boolean present = firstLevel ? (pte & 1) != 0 : (pte & 3) != 0;
            if (!present) {
                continue;
            }
            long iova = base | (long) i << shift;
            if (level == 1 || (pte & (1L << 7)) != 0) {
                out.add(new long[] {iova, 1L << shift, pte});
            } else {
                leaves(pte & ADDR, level - 1, iova, firstLevel, out);
            }
        }
    }

    /** Contiguous leaves of one size with continuing output addresses and equal rights, merged. */
    private static String runs(List<long[]> leaves) {
        List<String> out = new ArrayList<>();
        int i = 0;
        while (i < leaves.size()) {
            long[] first = leaves.get(i);
            int j = i + 1;
            while (j < leaves.size()) {
                long[] prev = leaves.get(j - 1);
                long[] next = leaves.get(j);
                if (next[1] != first[1] || next[0] != prev[0] + prev[1]
                        || (next[2] & ADDR) != (prev[2] & ADDR) + prev[1] || (next[2] & 3) != (prev[2] & 3)) {
                    break;
                }
                j++;
            }
            int n = j - i;
            long pa = first[2] & ADDR & ~(first[1] - 1);
            String rights = ((first[2] & 1) != 0 ? "R" : "") + ((first[2] & 2) != 0 ? "W" : "");
            out.add(Text.format(first[0]) + "+" + Text.formatSize(n * first[1]) + " -> " + Text.format(pa)
                    + " (" + (n == 1 ? "" : n + " x ") + Text.formatSize(first[1]) + ", " + rights + ")");
            i = j;
        }
        if (out.size() > MAX_RUNS) {
            int all = out.size();
            out = new ArrayList<>(out.subList(0, MAX_RUNS));
            out.add("... (" + all + " runs)");
        }
        return String.join(", ", out);
    }
}
