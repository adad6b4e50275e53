package org.jiommu.scenario;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.jiommu.bus.pci.Bdf;
import org.jiommu.platform.IommuKind;
import org.jiommu.platform.IommuKinds;
import org.jiommu.platform.KindOption;
import org.jiommu.scenario.ScenarioNames.NameKind;
import org.jiommu.scenario.YNode.Entry;
import org.jiommu.scenario.YNode.YList;
import org.jiommu.scenario.YNode.YMap;

/**
 * Reads and validates a scenario file (SCENARIOS.md). Every problem in the file is collected,
 * with its line and column, before the file is refused: unknown keys and ops, missing or
 * mistyped arguments, bad numbers, names used before a step binds them, devices on unknown
 * IOMMUs, expectations an op cannot meet, and ops the model does not implement yet.
 */
public final class ScenarioReader {
    private static final Set<String> TOP_KEYS = Set.of("name", "description", "platform", "steps");
    private static final Set<String> PLATFORM_KEYS = Set.of("memory", "iommus", "devices", "pci");
    private static final long MIN_MEMORY = 4L << 20;

    private final String file;
    private final List<Problem> problems = new ArrayList<>();
    private final ScenarioReaderInput.Limits limits;
    private final Map<String, IommuSpec> iommus = new LinkedHashMap<>();
    /** The reader's parts, one per section of the file (docs/scenarios.md, "The reader's parts"). */
    private final ScenarioValues values = new ScenarioValues(problems);
    private final ScenarioNames names;
    private final DeviceEntryReader deviceReader;
    private final StepReader stepReader;

    private ScenarioReader(String file, ScenarioReaderInput.Limits limits) {
        this.file = file;
        this.limits = limits;
        this.names = new ScenarioNames(values, limits);
        this.deviceReader = new DeviceEntryReader(values, names, iommus);
        this.stepReader = new StepReader(values, names, deviceReader);
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
        values.unknownKeys(top, TOP_KEYS, "scenario");
        String name = null;
        YNode n = top.get("name");
        if (n == null) {
            problem(top.loc(), "missing key 'name' (one line saying what the scenario shows)");
        } else {
            name = values.string(n, "name");
            if (name != null && (name.isBlank() || name.contains("\n"))) {
                problem(n.loc(), "'name' must be one non-empty line");
            }
        }
        String description = null;
        if (top.get("description") != null) {
            description = values.string(top.get("description"), "description");
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
                Step step = stepReader.readStep(number, item);
                if (step != null) {
                    steps.add(step);
                }
            }
        } else if (!ScenarioValues.isNull(st)) {
            problem(st.loc(), "'steps' must be a list of steps; found " + st.kindName());
        }
        return new Scenario(file, name, description, platform, steps);
    }

    // ---------------------------------------------------------------- platform

    private PlatformSpec readPlatform(YNode node) {
        List<IommuSpec> iommuList = new ArrayList<>();
        List<DeviceSpec> devices = new ArrayList<>();
        long memory = PlatformSpec.DEFAULT_MEMORY;
        if (node == null || ScenarioValues.isNull(node)) {
            return new PlatformSpec(memory, iommuList, devices);
        }
        if (!(node instanceof YMap p)) {
            problem(node.loc(), "'platform' must be a mapping (memory, iommus, devices); found " + node.kindName());
            return new PlatformSpec(memory, iommuList, devices);
        }
        values.unknownKeys(p, PLATFORM_KEYS, "platform");
        if (p.get("memory") != null) {
            Long m = values.number(p.get("memory"), "memory");
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
        YList il = values.listOf(p.get("iommus"), "iommus");
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
        YList dl = values.listOf(p.get("devices"), "devices");
        if (dl != null) {
            for (YNode item : dl.items()) {
                DeviceSpec d = deviceReader.readDevice(item, "device entry");
                if (d != null) {
                    tree.checkFlat(d);
                    devices.add(d);
                }
            }
        }
        return new PlatformSpec(memory, iommuList, devices,
                java.util.Collections.unmodifiableMap(new LinkedHashMap<>(tree.bridges)));
    }

    // ---- the value, name and device helpers the IOMMU section and PciTreeReader use ----

    void problem(Loc loc, String message) {
        values.problem(loc, message);
    }

    int problemCount() {
        return values.problemCount();
    }

    IommuSpec iommu(String name) {
        return iommus.get(name);
    }

    static NameKind deviceKind() {
        return NameKind.DEVICE;
    }

    boolean claimBdf(Bdf bdf, String name, Loc loc) {
        return deviceReader.claimBdf(bdf, name, loc);
    }

    DeviceSpec readDevice(YNode node, String what) {
        return deviceReader.readDevice(node, what);
    }

    Bdf bdf(YNode n, String what) {
        return deviceReader.bdf(n, what);
    }

    YList listOf(YNode n, String what) {
        return values.listOf(n, what);
    }

    String declare(YNode n, NameKind kind) {
        return names.declare(n, kind);
    }

    String string(YNode n, String what) {
        return values.string(n, what);
    }

    private String word(YNode n, String what, List<String> allowed) {
        return values.word(n, what, allowed);
    }

    Boolean bool(YNode n, String what) {
        return values.bool(n, what);
    }

    Long number(YNode n, String what) {
        return values.number(n, what);
    }

    /** The options every IOMMU entry takes, whatever its kind (the kind's own: {@link IommuKind#options}). */
    private static final Map<String, KindOption> COMMON_OPTIONS = Map.of(
            "iotlb-entries", KindOption.range(0, 1 << 20),
            "default-domain", KindOption.oneOf("dma", "dma-fq", "identity"),
            "strict", KindOption.bool());

    private static Map<String, KindOption> kindOptions(IommuKind kind) {
        Map<String, KindOption> m = new LinkedHashMap<>(kind.options());
        m.putAll(COMMON_OPTIONS);
        return m;
    }

    /** The registered kinds' words, sorted, as messages list them. */
    private static String kindWords() {
        return String.join(", ", new java.util.TreeSet<>(IommuKinds.names()));
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
        IommuKind kind = null;
        if (kn == null) {
            problem(m.loc(), "IOMMU entry without 'kind' (one of: " + kindWords() + ")");
        } else {
            String k = string(kn, "kind");
            if (k != null) {
                kind = IommuKinds.get(k);
                if (kind == null) {
                    problem(kn.loc(), "unknown IOMMU kind '" + k + "' (one of: " + kindWords() + ")");
                }
            }
        }
        Map<String, Object> options = new LinkedHashMap<>();
        Map<String, KindOption> allowed = kind == null ? Map.of() : kindOptions(kind);
        for (Entry e : m.entries().values()) {
            if (e.key().equals("name") || e.key().equals("kind")) {
                continue;
            }
            if (kind == null) {
                continue;
            }
            KindOption o = allowed.get(e.key());
            if (o == null) {
                problem(e.keyLoc(), "unknown option '" + e.key() + "' for a " + kind.name() + " IOMMU"
                        + Names.hint(e.key(), new java.util.TreeSet<>(allowed.keySet())) + " (allowed: "
                        + String.join(", ", new java.util.TreeSet<>(allowed.keySet())) + ")");
                continue;
            }
            Object v = option(e, o);
            if (v != null) {
                options.put(e.key(), v);
            }
        }
        if (kind != null) {
            for (KindOption.Problem pr : kind.optionProblems(options)) {
                problem(m.entry(pr.key()) != null ? m.get(pr.key()).loc() : m.loc(), pr.message());
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
        return name == null || kind == null ? null : new IommuSpec(name, kind.name(), m.loc(), options);
    }

    private Object option(Entry e, KindOption o) {
        YNode v = e.value();
        String what = "option '" + e.key() + "'";
        switch (o.type()) {
            case BOOL:
                return bool(v, what);
            case INT: {
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
            case WORD:
                return word(v, what, o.words());
            case WORDS: {
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
            case SIZES: {
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
                throw new IllegalStateException(o.type().name());
        }
    }
}
