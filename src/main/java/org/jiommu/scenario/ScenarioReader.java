package org.jiommu.scenario;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.jiommu.base.Errno;
import org.jiommu.base.Prot;
import org.jiommu.bus.pci.Bdf;
import org.jiommu.scenario.YNode.Entry;
import org.jiommu.scenario.YNode.YList;
import org.jiommu.scenario.YNode.YMap;
import org.jiommu.scenario.YNode.YScalar;

/**
 * Reads and validates a scenario file (SCENARIOS.md). Every problem in the file is collected,
 * with its line and column, before the file is refused: unknown keys and ops, missing or
 * mistyped arguments, bad numbers, names used before a step binds them, devices on unknown
 * IOMMUs, expectations an op cannot meet, and ops the model does not implement yet.
 */
public final class ScenarioReader {
    private static final Set<String> TOP_KEYS = Set.of("name", "description", "platform", "steps");
    private static final Set<String> PLATFORM_KEYS = Set.of("memory", "iommus", "devices", "pci");
    private static final Set<String> STEP_KEYS = Set.of("expect", "as", "note");
    private static final List<String> DEVICE_KEYS = List.of("name", "bus", "bdf", "iommu", "caps", "pasid-bits",
            "acs", "alias-of", "stream-ids", "context-switch", "reserved", "driver", "untrusted");
    private static final List<String> CAPS = List.of("ats", "pasid", "pri");
    private static final List<String> PROT_WORDS = List.of("read", "write", "noexec", "mmio", "cache");
    private static final int MAX_DMA_BYTES = 1 << 20;
    private static final long MIN_MEMORY = 4L << 20;

    /** What a name declared in the file stands for. */
    enum NameKind {
        DEVICE("a device"), IOMMU("an IOMMU"), MM("an address space"), DOMAIN("a domain"),
        NUMBER("a number"), BOOL("a boolean"), HANDLE("an SVA handle"), HEX("a hex value");

        final String what;

        NameKind(String what) {
            this.what = what;
        }
    }

    private record Declared(NameKind kind, Loc loc) {
    }

    private final String file;
    private final List<Problem> problems = new ArrayList<>();
    private final ScenarioReaderInput.Limits limits;
    /** One namespace for every name the file declares, in declaration order. */
    private final Map<String, Declared> names = new LinkedHashMap<>();
    private final Map<String, IommuSpec> iommus = new LinkedHashMap<>();
    /** The bus of the first device behind each IOMMU, and where it was declared. */
    /** Devices declared with context-switch: true (the only ones gpu_switch_ttbr0 may name). */
    private final Set<String> contextSwitchMasters = new java.util.HashSet<>();
    private final Map<String, Map.Entry<DeviceSpec.Bus, Loc>> iommuBus = new LinkedHashMap<>();
    private final Map<Bdf, String> bdfs = new TreeMap<>((x, y) ->
            Long.compare(((long) x.segment() << 16) | x.bus() << 8 | x.devfn(),
                    ((long) y.segment() << 16) | y.bus() << 8 | y.devfn()));

    private ScenarioReader(String file, ScenarioReaderInput.Limits limits) {
        this.file = file;
        this.limits = limits;
    }

    /**
     * Reads and validates a file within the documented limits (docs/scenarios.md "Limits"):
     * anything that cannot be read (missing, not a regular file, too large, not UTF-8) is an
     * {@link InvalidScenarioException} too, so every refusal is reported the same way.
     */
    public static Scenario read(Path path) throws IOException, InvalidScenarioException {
        ScenarioReaderInput.Limits limits = ScenarioReaderInput.Limits.current();
        return read(path.toString(), ScenarioReaderInput.load(path, limits), limits);
    }

    /**
     * Parses and validates; {@code file} is the name used in messages.
     *
     * @throws InvalidScenarioException with every problem found, in file order
     */
    public static Scenario read(String file, String text) throws InvalidScenarioException {
        return read(file, text, ScenarioReaderInput.Limits.current());
    }

    private static Scenario read(String file, String text, ScenarioReaderInput.Limits limits)
            throws InvalidScenarioException {
        ScenarioReader r = new ScenarioReader(file, limits);
        r.problems.addAll(ScenarioReaderInput.controlCharacters(file, text));
        Scenario s = r.problems.isEmpty() ? r.readScenario(text) : null;
        if (!r.problems.isEmpty()) {
            List<Problem> sorted = new ArrayList<>(r.problems);
            Collections.sort(sorted);
            throw new InvalidScenarioException(sorted.subList(0, Math.min(sorted.size(), limits.maxProblems())),
                    sorted.size());
        }
        return s;
    }

    void problem(Loc loc, String message) {
        problems.add(new Problem(loc, message));
    }

    // ---------------------------------------------------------------- top level

    private Scenario readScenario(String text) {
        YNode root = YamlReader.read(file, text, problems, limits);
        if (root == null) {
            return null;
        }
        if (!(root instanceof YMap top)) {
            problem(root.loc(), "a scenario is a mapping with keys name, platform, steps; found " + root.kindName());
            return null;
        }
        unknownKeys(top, TOP_KEYS, "scenario");
        String name = null;
        YNode n = top.get("name");
        if (n == null) {
            problem(top.loc(), "missing key 'name' (one line saying what the scenario shows)");
        } else {
            name = string(n, "name");
            if (name != null && (name.isBlank() || name.contains("\n"))) {
                problem(n.loc(), "'name' must be one non-empty line");
            }
        }
        String description = null;
        if (top.get("description") != null) {
            description = string(top.get("description"), "description");
        }
        PlatformSpec platform = readPlatform(top.get("platform"));
        List<Step> steps = new ArrayList<>();
        YNode st = top.get("steps");
        if (st == null) {
            problem(top.loc(), "missing key 'steps' (the list of calls to make)");
        } else if (st instanceof YList list) {
            int number = 0;
            for (YNode item : list.items()) {
                number++;
                if (number > limits.maxSteps()) {
                    problem(item.loc(), "limit: more than " + limits.maxSteps() + " steps in one file "
                            + "(docs/scenarios.md \"Limits\"; -Djiommu.scenario.maxSteps changes it)");
                    break;
                }
                Step step = readStep(number, item);
                if (step != null) {
                    steps.add(step);
                }
            }
        } else if (!isNull(st)) {
            problem(st.loc(), "'steps' must be a list of steps; found " + st.kindName());
        }
        return new Scenario(file, name, description, platform, steps);
    }

    private void unknownKeys(YMap map, Set<String> allowed, String where) {
        for (Entry e : map.entries().values()) {
            if (!allowed.contains(e.key())) {
                problem(e.keyLoc(), "unknown key '" + e.key() + "' in " + where + Names.hint(e.key(), allowed)
                        + " (allowed: " + String.join(", ", new java.util.TreeSet<>(allowed)) + ")");
            }
        }
    }

    // ---------------------------------------------------------------- platform

    private PlatformSpec readPlatform(YNode node) {
        List<IommuSpec> iommuList = new ArrayList<>();
        List<DeviceSpec> devices = new ArrayList<>();
        long memory = PlatformSpec.DEFAULT_MEMORY;
        if (node == null || isNull(node)) {
            return new PlatformSpec(memory, iommuList, devices);
        }
        if (!(node instanceof YMap p)) {
            problem(node.loc(), "'platform' must be a mapping (memory, iommus, devices); found " + node.kindName());
            return new PlatformSpec(memory, iommuList, devices);
        }
        unknownKeys(p, PLATFORM_KEYS, "platform");
        if (p.get("memory") != null) {
            Long m = number(p.get("memory"), "memory");
            if (m != null) {
                // The page-table frame pool takes the top quarter in 4MiB blocks (FrameAllocator).
                if (m < MIN_MEMORY || m > org.jiommu.mem.PhysicalMemory.MAX_SIZE || m % MIN_MEMORY != 0) {
                    problem(p.get("memory").loc(), "memory must be a multiple of 4MiB, from 4MiB to 4PiB (52 bits); got "
                            + Numbers.formatSize(m));
                } else {
                    memory = m;
                }
            }
        }
        YList il = listOf(p.get("iommus"), "iommus");
        if (il != null) {
            for (YNode item : il.items()) {
                IommuSpec spec = readIommu(item);
                if (spec != null) {
                    iommuList.add(spec);
                    iommus.put(spec.name(), spec);
                }
            }
        }
        // platform.pci first: its bridges own buses the flat entries must not use, and the
        // machine places them (and what is below them) before the flat devices
        PciTreeReader tree = new PciTreeReader(this);
        tree.read(p.get("pci"));
        devices.addAll(tree.devices);
        YList dl = listOf(p.get("devices"), "devices");
        if (dl != null) {
            for (YNode item : dl.items()) {
                DeviceSpec d = readDevice(item, "device entry");
                if (d != null) {
                    tree.checkFlat(d);
                    devices.add(d);
                }
            }
        }
        return new PlatformSpec(memory, iommuList, devices, Map.copyOf(tree.bridges));
    }

    // ---- for PciTreeReader (platform.pci) ----

    int problemCount() {
        return problems.size();
    }

    IommuSpec iommu(String name) {
        return iommus.get(name);
    }

    static NameKind deviceKind() {
        return NameKind.DEVICE;
    }

    /** Takes {@code bdf} for {@code name}; false (and a problem at {@code loc}) if a device has it. */
    boolean claimBdf(Bdf bdf, String name, Loc loc) {
        if (bdfs.containsKey(bdf)) {
            problem(loc, "bdf " + bdf + " is already taken by device '" + bdfs.get(bdf) + "'");
            return false;
        }
        bdfs.put(bdf, name == null ? "?" : name);
        return true;
    }

    YList listOf(YNode n, String what) {
        if (n == null || isNull(n)) {
            return null;
        }
        if (n instanceof YList l) {
            return l;
        }
        problem(n.loc(), "'" + what + "' must be a list; found " + n.kindName());
        return null;
    }

    /** An option of an IOMMU kind: its type and allowed values. */
    private record Option(String type, long min, long max, List<String> words) {
        static Option bool() {
            return new Option("bool", 0, 0, List.of());
        }

        static Option range(long min, long max) {
            return new Option("int", min, max, List.of());
        }

        static Option oneOf(String... w) {
            return new Option("word", 0, 0, List.of(w));
        }

        static Option words(String... w) {
            return new Option("words", 0, 0, List.of(w));
        }

        static Option sizes() {
            return new Option("sizes", 0, 0, List.of());
        }
    }

    private static final Map<String, Option> COMMON_OPTIONS = Map.of(
            "iotlb-entries", Option.range(0, 1 << 20),
            "default-domain", Option.oneOf("dma", "dma-fq", "identity"),
            "strict", Option.bool());

    private static Map<String, Option> kindOptions(IommuSpec.Kind kind) {
        Map<String, Option> m = new LinkedHashMap<>();
        switch (kind) {
            case VTD -> {
                m.put("scalable", Option.bool());
                m.put("address-width", new Option("int", 39, 57, List.of("39", "48", "57")));
                // A scalable unit reports ECAP.PSS + 1 = 1..20 PASID bits (VT-d 11.4.3); no 0.
                m.put("pasid-bits", Option.range(1, 20));
                // The extended capabilities the unit model has (HARDWARE.md 2.1): listed = on.
                m.put("ecap", Option.words("qi", "dt", "pt", "sc", "nest", "flts", "slts"));
            }
            case SMMUV3 -> {
                m.put("ssid-bits", Option.range(0, 20));
                m.put("sid-bits", Option.range(1, 32));
                m.put("two-level-stream-table", Option.bool());
                m.put("ats", Option.bool());
                m.put("stages", Option.words("s1", "s2"));
                m.put("granule", Option.oneOf("4k", "16k", "64k"));
                m.put("ias", Option.range(32, 52));
                m.put("oas", Option.range(32, 52));
            }
            case SMMUV2 -> {
                m.put("context-banks", Option.range(1, 128));
                m.put("granule", Option.oneOf("4k", "16k", "64k"));
                m.put("split-tables", Option.bool());
            }
            case MOCK -> {
                m.put("pasid-bits", Option.range(0, 20));
                m.put("blocked-domain", Option.bool());
                m.put("identity-domain", Option.bool());
                m.put("release-domain", Option.oneOf("blocked", "identity", "none"));
                m.put("page-sizes", Option.sizes());
                // What the mock's hardware can do for aux domains (S02): PASIDs (VT-d, SMMUv3),
                // a context-switching master (SMMUv2's GPU), or nothing.
                m.put("aux-model", Option.oneOf("pasid", "context-switch", "none"));
                m.put("sva", Option.bool());
            }
            default -> throw new IllegalStateException();
        }
        m.putAll(COMMON_OPTIONS);
        return m;
    }

    private IommuSpec readIommu(YNode node) {
        if (!(node instanceof YMap m)) {
            problem(node.loc(), "an IOMMU entry is a mapping with name and kind; found " + node.kindName());
            return null;
        }
        String name = null;
        YNode nn = m.get("name");
        if (nn == null) {
            problem(m.loc(), "IOMMU entry without 'name'");
        } else {
            name = declare(nn, NameKind.IOMMU);
        }
        YNode kn = m.get("kind");
        IommuSpec.Kind kind = null;
        if (kn == null) {
            problem(m.loc(), "IOMMU entry without 'kind' (vtd | smmuv3 | smmuv2 | mock)");
        } else {
            String k = string(kn, "kind");
            if (k != null) {
                kind = IommuSpec.Kind.of(k);
                if (kind == null) {
                    problem(kn.loc(), "unknown IOMMU kind '" + k + "' (vtd | smmuv3 | smmuv2 | mock)");
                } else if (!Machine.supports(kind)) {
                    problem(kn.loc(), "not implemented yet: IOMMU kind '" + k + "'");
                }
            }
        }
        Map<String, Object> options = new LinkedHashMap<>();
        Map<String, Option> allowed = kind == null ? Map.of() : kindOptions(kind);
        for (Entry e : m.entries().values()) {
            if (e.key().equals("name") || e.key().equals("kind")) {
                continue;
            }
            if (kind == null) {
                continue;
            }
            Option o = allowed.get(e.key());
            if (o == null) {
                problem(e.keyLoc(), "unknown option '" + e.key() + "' for a " + kind.word + " IOMMU"
                        + Names.hint(e.key(), allowed.keySet()) + " (allowed: "
                        + String.join(", ", allowed.keySet()) + ")");
                continue;
            }
            Object v = option(e, o);
            if (v != null) {
                options.put(e.key(), v);
            }
        }
        if (kind == IommuSpec.Kind.MOCK) {
            String rd = (String) options.getOrDefault("release-domain", "blocked");
            String needs = rd.equals("blocked") ? "blocked-domain" : rd.equals("identity") ? "identity-domain" : null;
            if (needs != null && Boolean.FALSE.equals(options.get(needs))) {
                problem(m.entry("release-domain") != null ? m.get("release-domain").loc() : m.get(needs).loc(),
                        "release-domain " + rd + " is the driver's static " + rd + " domain: it needs " + needs + ": true");
            }
        }
        if (kind != null) {
            for (String global : List.of("default-domain", "strict")) {
                Object mine = options.get(global);
                for (IommuSpec other : iommus.values()) {
                    Object theirs = other.options().get(global);
                    if (!java.util.Objects.equals(mine, theirs)) {
                        Loc at = m.entry(global) != null ? m.entry(global).keyLoc() : m.loc();
                        problem(at, "'" + global + "' is kernel-wide (iommu.passthrough / iommu.strict): every IOMMU "
                                + "must say the same as '" + other.name() + "'");
                        break;
                    }
                }
            }
        }
        return name == null || kind == null ? null : new IommuSpec(name, kind, m.loc(), options);
    }

    private Object option(Entry e, Option o) {
        YNode v = e.value();
        String what = "option '" + e.key() + "'";
        switch (o.type()) {
            case "bool":
                return bool(v, what);
            case "int": {
                Long n = number(v, what);
                if (n == null) {
                    return null;
                }
                if (!o.words().isEmpty() && !o.words().contains(Long.toString(n))) {
                    problem(v.loc(), what + " must be one of " + String.join(", ", o.words()) + "; got " + n);
                    return null;
                }
                if (n < o.min() || n > o.max()) {
                    problem(v.loc(), what + " must be in " + o.min() + ".." + o.max() + "; got " + n);
                    return null;
                }
                return n;
            }
            case "word":
                return word(v, what, o.words());
            case "words": {
                if (!(v instanceof YList l)) {
                    problem(v.loc(), what + " must be a list of " + String.join(", ", o.words()) + "; found " + v.kindName());
                    return null;
                }
                List<Object> out = new ArrayList<>();
                for (YNode i : l.items()) {
                    String w = word(i, what, o.words());
                    if (w != null) {
                        out.add(w);
                    }
                }
                return out;
            }
            case "sizes": {
                if (!(v instanceof YList l) || l.items().isEmpty()) {
                    problem(v.loc(), what + " must be a non-empty list of page sizes, e.g. [4k, 2m, 1g]");
                    return null;
                }
                List<Object> out = new ArrayList<>();
                for (YNode i : l.items()) {
                    Long n = number(i, what);
                    if (n != null) {
                        if (Long.bitCount(n) != 1 || n < 4096) {
                            problem(i.loc(), "page size " + Numbers.format(n) + " is not a power of two of at least 4KiB");
                        } else {
                            out.add(n);
                        }
                    }
                }
                return out;
            }
            default:
                throw new IllegalStateException(o.type());
        }
    }

    // ---------------------------------------------------------------- devices

    DeviceSpec readDevice(YNode node, String what) {
        if (!(node instanceof YMap m)) {
            problem(node.loc(), "a " + what + " is a mapping (name, bus, bdf, iommu, ...); found " + node.kindName());
            return null;
        }
        for (Entry e : m.entries().values()) {
            if (!DEVICE_KEYS.contains(e.key())) {
                problem(e.keyLoc(), "unknown key '" + e.key() + "' in " + what + Names.hint(e.key(), DEVICE_KEYS)
                        + " (allowed: " + String.join(", ", DEVICE_KEYS) + ")");
            }
        }
        int before = problems.size();
        String name = null;
        if (m.get("name") == null) {
            problem(m.loc(), what + " without 'name'");
        } else {
            name = string(m.get("name"), "device name");
        }
        String label = "device '" + (name == null ? "?" : name) + "'";
        DeviceSpec.Bus bus = null;
        if (m.get("bus") == null) {
            problem(m.loc(), label + ": missing key 'bus' (pci | platform)");
        } else {
            String b = word(m.get("bus"), "bus", List.of("pci", "platform"));
            if (b != null) {
                bus = b.equals("pci") ? DeviceSpec.Bus.PCI : DeviceSpec.Bus.PLATFORM;
            }
        }
        boolean pci = bus == DeviceSpec.Bus.PCI;
        Bdf bdf = null;
        YNode bn = m.get("bdf");
        if (pci) {
            if (bn == null) {
                problem(m.loc(), label + ": a pci device needs 'bdf' (e.g. \"00:02.0\")");
            } else {
                bdf = bdf(bn, "bdf");
                if (bdf != null && bdfs.containsKey(bdf)) {
                    problem(bn.loc(), "bdf " + bdf + " is already taken by device '" + bdfs.get(bdf) + "'");
                } else if (bdf != null) {
                    bdfs.put(bdf, name == null ? "?" : name);
                }
            }
        } else if (bus != null) {
            for (String k : List.of("bdf", "acs", "alias-of")) {
                if (m.entry(k) != null) {
                    problem(m.entry(k).keyLoc(), label + ": '" + k + "' applies to pci devices only");
                }
            }
        }
        String iommu = null;
        IommuSpec is = null;
        YNode in = m.get("iommu");
        if (in != null) {
            iommu = string(in, "iommu");
            if (iommu != null) {
                is = iommus.get(iommu);
                if (is == null) {
                    problem(in.loc(), label + " is on an unknown IOMMU '" + iommu + "'"
                            + Names.hint(iommu, iommus.keySet())
                            + (iommus.isEmpty() ? " (platform.iommus declares none)"
                                    : " (platform.iommus declares: " + String.join(", ", iommus.keySet()) + ")"));
                }
            }
        }
        Set<String> caps = new LinkedHashSet<>();
        YNode cn = m.get("caps");
        if (cn != null && !isNull(cn)) {
            if (cn instanceof YList cl) {
                for (YNode c : cl.items()) {
                    String w = word(c, "cap", CAPS);
                    if (w != null) {
                        caps.add(w);
                    }
                }
                if (!pci && bus != null && !cl.items().isEmpty()) {
                    problem(cn.loc(), label + ": caps are PCI capabilities; a platform device has caps: []");
                }
            } else {
                problem(cn.loc(), "'caps' must be a list of ats, pasid, pri; found " + cn.kindName());
            }
        }
        int pasidBits = pci && caps.contains("pasid") ? 20 : 0;
        YNode pn = m.get("pasid-bits");
        if (pn != null) {
            Long v = number(pn, "pasid-bits");
            if (v != null) {
                if (v < 0 || v > 20) {
                    problem(pn.loc(), "pasid-bits must be in 0..20; got " + v);
                } else if (pci && v > 0 && !caps.contains("pasid")) {
                    problem(pn.loc(), label + ": pasid-bits " + v + " needs the pasid capability in caps");
                } else {
                    pasidBits = v.intValue();
                }
            }
        }
        boolean acs = true;
        if (m.get("acs") != null && pci) {
            Boolean b = bool(m.get("acs"), "acs");
            acs = b == null || b;
        }
        Bdf alias = null;
        if (m.get("alias-of") != null && pci) {
            alias = bdf(m.get("alias-of"), "alias-of");
            // pci_add_dma_alias only aliases devfns on the function's own bus.
            if (alias != null && bdf != null && (alias.segment() != bdf.segment() || alias.bus() != bdf.bus())) {
                problem(m.get("alias-of").loc(), label + ": alias-of " + alias + " must be on the device's own bus "
                        + String.format("%04x:%02x", bdf.segment(), bdf.bus()) + " (a DMA alias is a devfn on the same bus)");
                alias = null;
            }
        }
        List<Integer> sids = List.of();
        YNode sn = m.get("stream-ids");
        if (sn != null) {
            if (is != null && is.kind() == IommuSpec.Kind.VTD) {
                problem(m.entry("stream-ids").keyLoc(), label + ": stream-ids apply to SMMU and mock masters only ("
                        + iommu + " is " + is.kind().word + ": VT-d uses the requester ID)");
            } else if (sn instanceof YList sl && !sl.items().isEmpty()) {
                List<Integer> out = new ArrayList<>();
                for (YNode i : sl.items()) {
                    Long v = number(i, "stream id");
                    if (v != null) {
                        if (v < 0 || v > 0xffffffffL) {
                            problem(i.loc(), "stream id " + Numbers.format(v) + " does not fit 32 bits");
                        } else {
                            out.add(v.intValue());
                        }
                    }
                }
                sids = out;
            } else {
                problem(sn.loc(), "'stream-ids' must be a non-empty list of numbers");
            }
        } else if (!pci && bus != null && is != null && is.kind() != IommuSpec.Kind.VTD) {
            problem(m.loc(), label + ": a platform device behind " + iommu + " needs 'stream-ids' (firmware's IDs for it)");
        }
        boolean cs = false;
        if (m.get("context-switch") != null) {
            Boolean b = bool(m.get("context-switch"), "context-switch");
            if (b != null) {
                boolean csMock = is != null && is.kind() == IommuSpec.Kind.MOCK
                        && "context-switch".equals(is.options().get("aux-model"));
                if (is != null && is.kind() != IommuSpec.Kind.SMMUV2 && !csMock && b) {
                    problem(m.entry("context-switch").keyLoc(), label
                            + ": context-switch applies to SMMUv2 masters and masters of a mock with "
                            + "aux-model: context-switch only");
                }
                cs = b;
            }
        }
        List<DeviceSpec.Reserved> reserved = new ArrayList<>();
        YList rl = listOf(m.get("reserved"), "reserved");
        if (rl != null) {
            for (YNode r : rl.items()) {
                DeviceSpec.Reserved rr = reserved(r);
                if (rr != null && is != null && is.kind() == IommuSpec.Kind.VTD
                        && rr.kind() != DeviceSpec.Reserved.Kind.DIRECT
                        && rr.kind() != DeviceSpec.Reserved.Kind.DIRECT_RELAXABLE) {
                    // A DMAR table reports RMRRs per device; the MSI window is the driver's own.
                    problem(r.loc(), label + ": VT-d firmware reports RMRRs only (direct or direct-relaxable), not "
                            + rr.kind().word);
                } else if (rr != null) {
                    reserved.add(rr);
                }
            }
        }
        if (is != null && is.kind() == IommuSpec.Kind.VTD) {
            if (bus == DeviceSpec.Bus.PLATFORM) {
                // The VT-d driver probes PCI devices only (intel_iommu_probe_device: ACPI
                // namespace devices in a DRHD scope are not modelled).
                problem(m.get("bus").loc(), label + ": VT-d translates PCI requester IDs; a platform device cannot "
                        + "be behind " + iommu);
            }
        }
        if (cs && name != null) {
            contextSwitchMasters.add(name);
        }
        if (is != null && bus != null && is.kind() == IommuSpec.Kind.MOCK) {
            // The mock's device_group is one of pci_device_group / generic_device_group for the
            // whole instance (MockConfig.grouping), so one mock serves one bus.
            Map.Entry<DeviceSpec.Bus, Loc> first = iommuBus.putIfAbsent(iommu, Map.entry(bus, m.loc()));
            if (first != null && first.getKey() != bus) {
                problem(m.get("bus").loc(), label + ": mock IOMMU '" + iommu + "' already serves "
                        + first.getKey().name().toLowerCase(java.util.Locale.ROOT) + " devices (line "
                        + first.getValue().line() + "); a mock serves one bus: declare a second mock");
            }
        }
        // untrusted: true: a PCI function behind an external-facing port (pdev->untrusted), carried
        // in caps as the word "untrusted"
        if (m.get("untrusted") != null && Boolean.TRUE.equals(bool(m.get("untrusted"), "untrusted"))) {
            if (pci) {
                caps.add("untrusted");
            } else {
                problem(m.entry("untrusted").keyLoc(), label + ": untrusted applies to PCI functions");
            }
        }
        String driver = "none";
        if (m.get("driver") != null) {
            driver = word(m.get("driver"), "driver", List.of("dma-api", "none"));
        }
        // Declare last, so a device whose entry is wrong does not also cause "undefined" noise.
        if (name != null) {
            declare(m.get("name"), NameKind.DEVICE);
        }
        if (problems.size() > before || name == null || bus == null) {
            return null;
        }
        return new DeviceSpec(name, m.loc(), bus, bdf, iommu, Set.copyOf(caps), pasidBits, acs, alias, sids, cs,
                List.copyOf(reserved), driver);
    }

    private DeviceSpec.Reserved reserved(YNode node) {
        if (!(node instanceof YMap m)) {
            problem(node.loc(), "a reserved region is {kind, base, size}; found " + node.kindName());
            return null;
        }
        unknownKeys(m, Set.of("kind", "base", "size"), "reserved region");
        List<String> kinds = new ArrayList<>();
        for (DeviceSpec.Reserved.Kind k : DeviceSpec.Reserved.Kind.values()) {
            kinds.add(k.word);
        }
        DeviceSpec.Reserved.Kind kind = null;
        Long base = null;
        Long size = null;
        for (String k : List.of("kind", "base", "size")) {
            if (m.get(k) == null) {
                problem(m.loc(), "reserved region without '" + k + "'");
            }
        }
        if (m.get("kind") != null) {
            String w = word(m.get("kind"), "reserved kind", kinds);
            kind = w == null ? null : DeviceSpec.Reserved.Kind.of(w);
        }
        if (m.get("base") != null) {
            base = number(m.get("base"), "base");
        }
        if (m.get("size") != null) {
            size = number(m.get("size"), "size");
            if (size != null && size <= 0) {
                problem(m.get("size").loc(), "reserved region size must be positive");
                size = null;
            }
        }
        return kind == null || base == null || size == null ? null : new DeviceSpec.Reserved(kind, base, size);
    }

    Bdf bdf(YNode n, String what) {
        String s = scalarText(n, what);
        if (s == null) {
            return null;
        }
        try {
            return Bdf.parse(s);
        } catch (IllegalArgumentException e) {
            problem(n.loc(), "bad " + what + " '" + s + "': write bus:device.function in hex, e.g. \"00:02.0\" "
                    + "or \"0001:00:02.0\"");
            return null;
        }
    }

    // ---------------------------------------------------------------- steps

    private Step readStep(int number, YNode node) {
        if (!(node instanceof YMap m)) {
            problem(node.loc(), "step " + number + ": a step is a mapping '- <op>: {args}'; found " + node.kindName());
            return null;
        }
        Entry opEntry = null;
        for (Entry e : m.entries().values()) {
            if (STEP_KEYS.contains(e.key())) {
                continue;
            }
            if (opEntry == null) {
                opEntry = e;
            } else if (OpCatalog.get(e.key()) != null) {
                problem(e.keyLoc(), "step " + number + " has two ops, '" + opEntry.key() + "' and '" + e.key()
                        + "': one op per step");
            } else {
                problem(e.keyLoc(), "unknown key '" + e.key() + "' in step " + number
                        + Names.hint(e.key(), STEP_KEYS) + " (a step has one op and optionally expect, as, note)");
            }
        }
        if (opEntry == null) {
            problem(m.loc(), "step " + number + " has no op");
            return null;
        }
        OpSpec op = OpCatalog.get(opEntry.key());
        if (op == null) {
            problem(opEntry.keyLoc(), "unknown op '" + opEntry.key() + "'" + Names.hint(opEntry.key(), OpCatalog.names())
                    + " (jiommu ops lists them)");
            return null;
        }
        if (!op.implemented()) {
            problem(opEntry.keyLoc(), "not implemented yet: " + op.name());
        }
        int before = problems.size();
        Map<String, Object> args = new LinkedHashMap<>();
        Map<String, Loc> argLocs = new LinkedHashMap<>();
        String pendingName = readArgs(op, opEntry, args, argLocs);

        String note = null;
        if (m.get("note") != null) {
            note = string(m.get("note"), "note");
        }
        Expectation expect = new Expectation.Ok();
        Loc expectLoc = opEntry.keyLoc();
        if (m.entry("expect") != null) {
            expectLoc = m.get("expect").loc();
            Expectation e = expectation(op, m.get("expect"));
            if (e != null) {
                expect = e;
            }
        }
        if (op.name().equals(OpCatalog.CHECK_OP) && expect instanceof Expectation.Ok) {
            expect = new Expectation.Violations(0);
        }
        String as = null;
        if (m.entry("as") != null) {
            Entry ae = m.entry("as");
            if (!op.result().bindable()) {
                problem(ae.keyLoc(), op.name() + " returns nothing to bind with 'as'");
            } else if (expect instanceof Expectation.Err || expect instanceof Expectation.Fault) {
                problem(ae.keyLoc(), "'as' binds the result of a step that succeeds; step " + number
                        + " expects " + expect.show());
            } else {
                as = declare(ae.value(), kindOf(op.result()));
            }
        }
        if (pendingName != null && args.containsKey(pendingName)) {
            // mm_create's name is usable from the next step on.
            declare(((YMap) opEntry.value()).get(pendingName), NameKind.MM);
        }
        if (problems.size() > before) {
            return null;
        }
        return new Step(number, m.loc(), op, Collections.unmodifiableMap(args), argLocs,
                written(op.name(), opEntry.value()), expect, expectLoc, as, note);
    }

    private static NameKind kindOf(ResultKind r) {
        return switch (r) {
            case DOMAIN, DOMAIN_NAME -> NameKind.DOMAIN;
            case PASID, NUMBER, DMA -> NameKind.NUMBER;
            case BOOL -> NameKind.BOOL;
            case HANDLE -> NameKind.HANDLE;
            case HEX -> NameKind.HEX;
            default -> throw new IllegalArgumentException(r.name());
        };
    }

    /**
     * Checks the op's arguments into {@code args}. Returns the key of a name the step declares
     * once it has been read (device_add's device, mm_create's name), or null.
     */
    private String readArgs(OpSpec op, Entry opEntry, Map<String, Object> args, Map<String, Loc> argLocs) {
        YNode v = opEntry.value();
        if (op.name().equals(OpCatalog.CHECK_OP)) {
            String w = word(v, "check", ArgType.CHECK.words());
            if (w != null) {
                args.put("what", w);
                argLocs.put("what", v.loc());
            }
            return null;
        }
        if (op.name().equals(OpCatalog.DEVICE_ADD_OP)) {
            DeviceSpec d = readDevice(v, "device_add entry");
            if (d != null) {
                args.put("device", d);
                argLocs.put("device", v.loc());
            }
            return null; // readDevice declared the name
        }
        Map<String, Entry> given = new LinkedHashMap<>();
        if (v instanceof YMap am) {
            given.putAll(am.view());
        } else if (!isNull(v)) {
            problem(v.loc(), op.name() + " takes its arguments as a mapping {"
                    + String.join(", ", op.args().stream().map(ArgSpec::name).toList()) + "}; found " + v.kindName());
            return null;
        }
        List<String> argNames = op.args().stream().map(ArgSpec::name).toList();
        for (Entry e : given.values()) {
            if (op.arg(e.key()) == null) {
                problem(e.keyLoc(), "unknown argument '" + e.key() + "' of " + op.name() + Names.hint(e.key(), argNames)
                        + " (takes: " + String.join(", ", argNames) + ")");
            }
        }
        String declares = null;
        for (ArgSpec a : op.args()) {
            Entry e = given.get(a.name());
            if (e == null) {
                if (a.required()) {
                    problem(v.loc(), "missing argument '" + a.name() + "' of " + op.name() + " (" + a.type().written + ")");
                }
                continue;
            }
            Object value = argValue(a, e.value(), op);
            if (value != null) {
                args.put(a.name(), value);
                argLocs.put(a.name(), e.value().loc());
            }
            if (a.type() == ArgType.NEW_NAME) {
                declares = a.name();
            }
        }
        if (op.name().equals("dma")) {
            checkDma(v, given, args);
        }
        if (op.name().equals("gpu_switch_ttbr0") && args.get("dev") instanceof String dev
                && !contextSwitchMasters.contains(dev)) {
            // Only a master firmware declares able to switch its own tables has a TTBR0 it can
            // write (S02/S10): anything else has no such register.
            problem(argLocs.get("dev"), "gpu_switch_ttbr0: device '" + dev + "' is not a context-switch master "
                    + "(context-switch: true behind an smmuv2, or a mock with aux-model: context-switch)");
        }
        return declares;
    }

    private void checkDma(YNode v, Map<String, Entry> given, Map<String, Object> args) {
        boolean r = given.containsKey("read");
        boolean w = given.containsKey("write");
        if (r == w) {
            problem(v.loc(), "dma needs exactly one of read: N or write: N");
            return;
        }
        String dir = r ? "read" : "write";
        Object n = args.get(dir);
        if (n instanceof Step.NumArg na && na.ref() == null) {
            if (na.literal() <= 0 || na.literal() > MAX_DMA_BYTES) {
                problem(given.get(dir).value().loc(), "dma " + dir + " length must be 1.." + MAX_DMA_BYTES + " bytes");
            } else if (args.get("data") instanceof byte[] data && data.length != na.literal()) {
                problem(given.get("data").value().loc(), "data has " + data.length + " bytes but the dma "
                        + dir + "s " + na.literal());
            }
        } else if (n instanceof Step.NumArg) {
            problem(given.get(dir).value().loc(), "dma " + dir + " length must be a literal number");
        }
    }

    private Object argValue(ArgSpec a, YNode n, OpSpec op) {
        String what = op.name() + " argument '" + a.name() + "'";
        switch (a.type()) {
            case DEVICE:
            case GROUP:
                return reference(n, what, NameKind.DEVICE);
            case IOMMU:
                return reference(n, what, NameKind.IOMMU);
            case MM:
                return reference(n, what, NameKind.MM);
            case DOMAIN:
                return reference(n, what, NameKind.DOMAIN);
            case HANDLE:
                return reference(n, what, NameKind.HANDLE);
            case PASID: {
                Step.NumArg p = numArg(n, what);
                if (p != null && p.ref() == null && Long.compareUnsigned(p.literal(), 0xffff_ffffL) > 0) {
                    // The kernel's ioasid_t is 32 bits: such a PASID cannot even be passed.
                    problem(n.loc(), what + ": PASID " + Numbers.format(p.literal())
                            + " does not fit the 32 bits of an ioasid_t");
                    return null;
                }
                return p;
            }
            case NUMBER:
                return numArg(n, what);
            case PROT:
                return prot(n, what);
            case TOKEN:
                return scalarText(n, what);
            case NEW_NAME: {
                String s = string(n, what);
                if (s != null && !Names.isIdentifier(s)) {
                    problem(n.loc(), "'" + s + "' is not a name (letters, digits, _ . -; not starting with a digit)");
                    return null;
                }
                return s;
            }
            case FEATURE:
            case ATTR:
            case DIR:
            case DRIVER:
            case CHECK:
                return word(n, what, a.type().words());
            case HEX:
                return hex(n, what);
            case DEVICE_ENTRY:
            default:
                throw new IllegalStateException(a.type().name());
        }
    }

    /** A name that must already be declared, as the given kind. */
    private String reference(YNode n, String what, NameKind kind) {
        String s = string(n, what);
        if (s == null) {
            return null;
        }
        Declared d = names.get(s);
        if (d == null) {
            // Past the problems that will be shown, skip the hint: it scans every declared name.
            List<String> same = problems.size() >= limits.maxProblems() ? List.of()
                    : names.entrySet().stream().filter(e -> e.getValue().kind() == kind).map(Map.Entry::getKey).toList();
            problem(n.loc(), "undefined name '" + s + "': no " + kind.what.replaceFirst("^an? ", "")
                    + " of that name is declared before this step" + Names.hint(s, same)
                    + (same.isEmpty() ? "" : " (known: " + Names.some(same) + ")"));
            return null;
        }
        if (d.kind() != kind) {
            problem(n.loc(), what + ": '" + s + "' is " + d.kind().what + " (line " + d.loc().line() + "), not "
                    + kind.what);
            return null;
        }
        return s;
    }

    private Step.NumArg numArg(YNode n, String what) {
        if (n instanceof YScalar sc && sc.type() == YScalar.Type.STRING && Names.isIdentifier(sc.text())
                && !looksNumeric(sc.text())) {
            String ref = reference(n, what, NameKind.NUMBER);
            return ref == null ? null : Step.NumArg.ref(ref);
        }
        Long v = number(n, what);
        return v == null ? null : Step.NumArg.of(v);
    }

    private static boolean looksNumeric(String s) {
        return !s.isEmpty() && Character.isDigit(s.charAt(0));
    }

    private Integer prot(YNode n, String what) {
        if (!(n instanceof YList l)) {
            problem(n.loc(), what + " must be a list of " + String.join(", ", PROT_WORDS) + "; found " + n.kindName());
            return null;
        }
        int prot = 0;
        boolean ok = true;
        for (YNode i : l.items()) {
            String w = word(i, "prot flag", PROT_WORDS);
            if (w == null) {
                ok = false;
                continue;
            }
            prot |= switch (w) {
                case "read" -> Prot.READ;
                case "write" -> Prot.WRITE;
                case "noexec" -> Prot.NOEXEC;
                case "mmio" -> Prot.MMIO;
                default -> Prot.CACHE;
            };
        }
        return ok ? prot : null;
    }

    private byte[] hex(YNode n, String what) {
        String s = scalarText(n, what);
        if (s == null) {
            return null;
        }
        String h = s.startsWith("0x") ? s.substring(2) : s;
        h = h.replace("_", "").replace(" ", "");
        if (h.isEmpty() || h.length() % 2 != 0) {
            problem(n.loc(), what + ": '" + s + "' is not a whole number of hex bytes");
            return null;
        }
        try {
            return HexFormat.of().parseHex(h);
        } catch (IllegalArgumentException e) {
            problem(n.loc(), what + ": '" + s + "' is not a hex string");
            return null;
        }
    }

    // ---------------------------------------------------------------- expectations

    private Expectation expectation(OpSpec op, YNode n) {
        if (n instanceof YScalar sc && sc.type() != YScalar.Type.NULL) {
            String s = sc.text().trim();
            if (s.equals("ok")) {
                return new Expectation.Ok();
            }
            if (s.equals("warn")) {
                if (op.result() != ResultKind.NONE) {
                    problem(n.loc(), "expect: warn applies to void calls; " + op.name() + " returns " + op.result().written);
                    return null;
                }
                return new Expectation.Warn();
            }
            if (s.equals("fault")) {
                return dmaOnly(op, n, "fault") ? new Expectation.Fault(null) : null;
            }
            if (s.equals("dma-mapping-error")) {
                if (!DmaOps.MAPPING_OPS.contains(op.name())) {
                    problem(n.loc(), "expect dma-mapping-error applies to " + String.join(", ", DmaOps.MAPPING_OPS));
                    return null;
                }
                return new Expectation.MappingError();
            }
            if (s.startsWith("-E")) {
                try {
                    return new Expectation.Err(Errno.valueOf(s.substring(1)));
                } catch (IllegalArgumentException e) {
                    List<String> known = java.util.Arrays.stream(Errno.values()).map(x -> "-" + x.name()).toList();
                    problem(n.loc(), "unknown errno '" + s + "'" + Names.hint(s, known));
                    return null;
                }
            }
            problem(n.loc(), "bad expectation '" + s + "': write ok, warn, fault, -EXXX, {value: V}, {paddr: PA}, "
                    + "{fault: REASON} or {violations: N}");
            return null;
        }
        if (!(n instanceof YMap m) || m.entries().size() != 1) {
            problem(n.loc(), "bad expectation: write ok, warn, fault, -EXXX, or a mapping with one key "
                    + "(value, paddr, fault, violations)");
            return null;
        }
        Entry e = m.entries().values().iterator().next();
        YNode v = e.value();
        switch (e.key()) {
            case "value": {
                if (!op.result().bindable()) {
                    problem(e.keyLoc(), "expect {value: ...}: " + op.name() + " returns "
                            + (op.result() == ResultKind.NONE ? "nothing" : op.result().written)
                            + (op.result() == ResultKind.DMA ? " (use {paddr: PA} or fault)" : ""));
                    return null;
                }
                if (op.result() == ResultKind.DMA) {
                    problem(e.keyLoc(), "expect {value: ...} on a dma step: use {paddr: PA} or fault");
                    return null;
                }
                Expectation.Expected x = expectedValue(op.result(), v);
                return x == null ? null : new Expectation.Returns(x);
            }
            case "paddr": {
                if (!dmaOnly(op, e.keyLoc(), "{paddr: PA}")) {
                    return null;
                }
                Expectation.Expected x = expectedValue(ResultKind.NUMBER, v);
                return x == null ? null : new Expectation.Paddr(x);
            }
            case "fault": {
                if (!dmaOnly(op, e.keyLoc(), "{fault: REASON}")) {
                    return null;
                }
                List<String> reasons = java.util.Arrays.stream(Expectation.FaultReason.values()).map(r -> r.word).toList();
                String w = word(v, "fault reason", reasons);
                return w == null ? null : new Expectation.Fault(Expectation.FaultReason.of(w));
            }
            case "violations": {
                if (!op.name().equals(OpCatalog.CHECK_OP)) {
                    problem(e.keyLoc(), "expect {violations: N} applies to check steps only");
                    return null;
                }
                Long c = number(v, "violations");
                return c == null ? null : new Expectation.Violations(c);
            }
            default:
                problem(e.keyLoc(), "unknown expectation key '" + e.key() + "'"
                        + Names.hint(e.key(), List.of("value", "paddr", "fault", "violations"))
                        + " (value, paddr, fault, violations)");
                return null;
        }
    }

    private boolean dmaOnly(OpSpec op, YNode n, String what) {
        return dmaOnly(op, n.loc(), what);
    }

    private boolean dmaOnly(OpSpec op, Loc loc, String what) {
        if (op.result() != ResultKind.DMA) {
            problem(loc, "expect " + what + " applies to dma steps only");
            return false;
        }
        return true;
    }

    private Expectation.Expected expectedValue(ResultKind kind, YNode v) {
        switch (kind) {
            case NUMBER:
            case PASID: {
                Step.NumArg a = numArg(v, "expected value");
                if (a == null) {
                    return null;
                }
                return a.ref() != null ? new Expectation.Ref(a.ref()) : new Expectation.Literal(new Value.Num(a.literal()));
            }
            case BOOL: {
                Boolean b = bool(v, "expected value");
                return b == null ? null : new Expectation.Literal(new Value.Bool(b));
            }
            case DOMAIN_NAME:
            case DOMAIN: {
                String s = string(v, "expected value");
                if (s == null) {
                    return null;
                }
                if (kind == ResultKind.DOMAIN_NAME && (s.equals("default") || s.equals("blocked") || s.equals("identity")
                        || s.equals("none"))) {
                    return new Expectation.CoreDomain(s);
                }
                String ref = reference(v, "expected value", NameKind.DOMAIN);
                return ref == null ? null : new Expectation.Ref(ref);
            }
            case HANDLE: {
                String ref = reference(v, "expected value", NameKind.HANDLE);
                return ref == null ? null : new Expectation.Ref(ref);
            }
            case HEX: {
                byte[] b = hex(v, "expected value");
                return b == null ? null : new Expectation.Literal(new Value.Hex(b));
            }
            default:
                throw new IllegalStateException(kind.name());
        }
    }

    // ---------------------------------------------------------------- names

    /** Declares the name written at {@code n}; returns it, or null after a problem. */
    String declare(YNode n, NameKind kind) {
        String s = string(n, "name");
        if (s == null) {
            return null;
        }
        if (!Names.isIdentifier(s)) {
            problem(n.loc(), "'" + s + "' is not a name (letters, digits, _ . -; not starting with a digit)");
            return null;
        }
        if (Names.RESERVED.contains(s)) {
            problem(n.loc(), "'" + s + "' is a reserved word in scenarios; choose another name");
            return null;
        }
        Declared d = names.get(s);
        if (d != null) {
            problem(n.loc(), "name '" + s + "' is already " + d.kind().what + " (line " + d.loc().line() + ")");
            return null;
        }
        names.put(s, new Declared(kind, n.loc()));
        return s;
    }

    // ---------------------------------------------------------------- scalars

    private static boolean isNull(YNode n) {
        return n instanceof YScalar s && s.type() == YScalar.Type.NULL;
    }

    /** Any scalar's text (a token, a bdf, hex data). */
    private String scalarText(YNode n, String what) {
        if (n instanceof YScalar s && s.type() != YScalar.Type.NULL) {
            return s.text();
        }
        problem(n.loc(), what + ": expected a string, found " + n.kindName());
        return null;
    }

    /** A string scalar (not a number, boolean or null). */
    String string(YNode n, String what) {
        if (n instanceof YScalar s && s.type() == YScalar.Type.STRING) {
            return s.text();
        }
        problem(n.loc(), what + ": expected a string, found " + n.kindName()
                + (n instanceof YScalar s && s.type() != YScalar.Type.NULL ? " '" + s.text() + "'" : ""));
        return null;
    }

    private String word(YNode n, String what, List<String> allowed) {
        String s = scalarText(n, what);
        if (s == null) {
            return null;
        }
        if (!allowed.contains(s)) {
            problem(n.loc(), what + ": '" + s + "' is not one of " + String.join(", ", allowed) + Names.hint(s, allowed));
            return null;
        }
        return s;
    }

    Boolean bool(YNode n, String what) {
        if (n instanceof YScalar s && s.type() == YScalar.Type.BOOLEAN) {
            return Boolean.parseBoolean(s.text().toLowerCase(java.util.Locale.ROOT));
        }
        problem(n.loc(), what + ": expected true or false, found " + n.kindName()
                + (n instanceof YScalar s && s.type() != YScalar.Type.NULL ? " '" + s.text() + "'" : ""));
        return null;
    }

    Long number(YNode n, String what) {
        if (!(n instanceof YScalar s) || s.type() == YScalar.Type.NULL || s.type() == YScalar.Type.BOOLEAN) {
            problem(n.loc(), what + ": expected a number, found " + n.kindName());
            return null;
        }
        try {
            return Numbers.parse(s.text());
        } catch (Numbers.BadNumber e) {
            problem(n.loc(), what + ": " + e.getMessage());
            return null;
        }
    }

    // ---------------------------------------------------------------- rendering

    /** The step as written, compact: {@code iommu_map {domain: d1, iova: 0x1000, ...}}. */
    static String written(String op, YNode args) {
        StringBuilder sb = new StringBuilder(op);
        if (!isNull(args)) {
            sb.append(' ');
            render(args, sb);
        }
        return sb.toString();
    }

    private static void render(YNode n, StringBuilder sb) {
        if (n instanceof YMap m) {
            sb.append('{');
            boolean first = true;
            for (Entry e : m.entries().values()) {
                sb.append(first ? "" : ", ").append(e.key()).append(": ");
                render(e.value(), sb);
                first = false;
            }
            sb.append('}');
        } else if (n instanceof YList l) {
            sb.append('[');
            for (int i = 0; i < l.items().size(); i++) {
                sb.append(i == 0 ? "" : ", ");
                render(l.items().get(i), sb);
            }
            sb.append(']');
        } else {
            YScalar s = (YScalar) n;
            boolean quote = s.type() == YScalar.Type.STRING && (s.text().isEmpty() || s.text().contains(" ")
                    || s.text().contains(":") || s.text().contains(","));
            sb.append(quote ? "\"" + s.text() + "\"" : s.text());
        }
    }
}
