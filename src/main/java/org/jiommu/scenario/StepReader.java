package org.jiommu.scenario;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.jiommu.base.Errno;
import org.jiommu.base.Prot;
import org.jiommu.scenario.ScenarioNames.NameKind;
import org.jiommu.scenario.YNode.Entry;
import org.jiommu.scenario.YNode.YList;
import org.jiommu.scenario.YNode.YMap;
import org.jiommu.scenario.YNode.YScalar;

/**
 * Reads one step: its op (OpCatalog), the op's arguments by type (references to declared
 * names, numbers, prot flags, hex data, a device entry for {@code device_add}), its
 * {@code expect} and {@code as}, and the step as written for the printers.
 */
final class StepReader {
    private static final Set<String> STEP_KEYS = Set.of("expect", "as", "note");
    private static final List<String> PROT_WORDS = List.of("read", "write", "noexec", "mmio", "cache");
    private static final int MAX_DMA_BYTES = 1 << 20;

    private final ScenarioValues values;
    private final ScenarioNames names;
    private final DeviceEntryReader devices;

    StepReader(ScenarioValues values, ScenarioNames names, DeviceEntryReader devices) {
        this.values = values;
        this.names = names;
        this.devices = devices;
    }

    Step readStep(int number, YNode node) {
        if (!(node instanceof YMap m)) {
            values.problem(node.loc(), "step " + number + ": a step is a mapping '- <op>: {args}'; found " + node.kindName());
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
                values.problem(e.keyLoc(), "step " + number + " has two ops, '" + opEntry.key() + "' and '" + e.key()
                        + "': one op per step");
            } else {
                values.problem(e.keyLoc(), "unknown key '" + e.key() + "' in step " + number
                        + Names.hint(e.key(), STEP_KEYS) + " (a step has one op and optionally expect, as, note)");
            }
        }
        if (opEntry == null) {
            values.problem(m.loc(), "step " + number + " has no op");
            return null;
        }
        OpSpec op = OpCatalog.get(opEntry.key());
        if (op == null) {
            values.problem(opEntry.keyLoc(), "unknown op '" + opEntry.key() + "'" + Names.hint(opEntry.key(), OpCatalog.names())
                    + " (jiommu ops lists them)");
            return null;
        }
        if (!op.implemented()) {
            values.problem(opEntry.keyLoc(), "not implemented yet: " + op.name());
        }
        int before = values.problemCount();
        Map<String, Object> args = new LinkedHashMap<>();
        Map<String, Loc> argLocs = new LinkedHashMap<>();
        String pendingName = readArgs(op, opEntry, args, argLocs);

        String note = null;
        if (m.get("note") != null) {
            note = values.string(m.get("note"), "note");
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
                values.problem(ae.keyLoc(), op.name() + " returns nothing to bind with 'as'");
            } else if (expect instanceof Expectation.Err || expect instanceof Expectation.Fault) {
                values.problem(ae.keyLoc(), "'as' binds the result of a step that succeeds; step " + number
                        + " expects " + expect.show());
            } else {
                as = names.declare(ae.value(), kindOf(op.result()));
            }
        }
        if (pendingName != null && args.containsKey(pendingName)) {
            // mm_create's name is usable from the next step on.
            names.declare(((YMap) opEntry.value()).get(pendingName), NameKind.MM);
        }
        if (values.problemCount() > before) {
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
            String w = values.word(v, "check", ArgType.CHECK.words());
            if (w != null) {
                args.put("what", w);
                argLocs.put("what", v.loc());
            }
            return null;
        }
        if (op.name().equals(OpCatalog.DEVICE_ADD_OP)) {
            DeviceSpec d = devices.readDevice(v, "device_add entry");
            if (d != null) {
                args.put("device", d);
                argLocs.put("device", v.loc());
            }
            return null; // readDevice declared the name
        }
        Map<String, Entry> given = new LinkedHashMap<>();
        if (v instanceof YMap am) {
            given.putAll(am.view());
        } else if (!ScenarioValues.isNull(v)) {
            values.problem(v.loc(), op.name() + " takes its arguments as a mapping {"
                    + String.join(", ", op.args().stream().map(ArgSpec::name).toList()) + "}; found " + v.kindName());
            return null;
        }
        List<String> argNames = op.args().stream().map(ArgSpec::name).toList();
        for (Entry e : given.values()) {
            if (op.arg(e.key()) == null) {
                values.problem(e.keyLoc(), "unknown argument '" + e.key() + "' of " + op.name() + Names.hint(e.key(), argNames)
                        + " (takes: " + String.join(", ", argNames) + ")");
            }
        }
        String declares = null;
        for (ArgSpec a : op.args()) {
            Entry e = given.get(a.name());
            if (e == null) {
                if (a.required()) {
                    values.problem(v.loc(), "missing argument '" + a.name() + "' of " + op.name() + " (" + a.type().written + ")");
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
                && !devices.isContextSwitchMaster(dev)) {
            // Only a master firmware declares able to switch its own tables has a TTBR0 it can
            // write (S02/S10): anything else has no such register.
            values.problem(argLocs.get("dev"), "gpu_switch_ttbr0: device '" + dev + "' is not a context-switch master "
                    + "(context-switch: true behind " + DeviceEntryReader.contextSwitchUnits() + ")");
        }
        return declares;
    }

    private void checkDma(YNode v, Map<String, Entry> given, Map<String, Object> args) {
        boolean r = given.containsKey("read");
        boolean w = given.containsKey("write");
        if (r == w) {
            values.problem(v.loc(), "dma needs exactly one of read: N or write: N");
            return;
        }
        String dir = r ? "read" : "write";
        Object n = args.get(dir);
        if (n instanceof Step.NumArg na && na.ref() == null) {
            if (na.literal() <= 0 || na.literal() > MAX_DMA_BYTES) {
                values.problem(given.get(dir).value().loc(), "dma " + dir + " length must be 1.." + MAX_DMA_BYTES + " bytes");
            } else if (args.get("data") instanceof byte[] data && data.length != na.literal()) {
                values.problem(given.get("data").value().loc(), "data has " + data.length + " bytes but the dma "
                        + dir + "s " + na.literal());
            }
        } else if (n instanceof Step.NumArg) {
            values.problem(given.get(dir).value().loc(), "dma " + dir + " length must be a literal number");
        }
    }

    private Object argValue(ArgSpec a, YNode n, OpSpec op) {
        String what = op.name() + " argument '" + a.name() + "'";
        switch (a.type()) {
            case DEVICE:
            case GROUP:
                return names.reference(n, what, NameKind.DEVICE);
            case IOMMU:
                return names.reference(n, what, NameKind.IOMMU);
            case MM:
                return names.reference(n, what, NameKind.MM);
            case DOMAIN:
                return names.reference(n, what, NameKind.DOMAIN);
            case HANDLE:
                return names.reference(n, what, NameKind.HANDLE);
            case PASID: {
                Step.NumArg p = names.numArg(n, what);
                if (p != null && p.ref() == null && Long.compareUnsigned(p.literal(), 0xffff_ffffL) > 0) {
                    // The kernel's ioasid_t is 32 bits: such a PASID cannot even be passed.
                    values.problem(n.loc(), what + ": PASID " + Numbers.format(p.literal())
                            + " does not fit the 32 bits of an ioasid_t");
                    return null;
                }
                return p;
            }
            case NUMBER:
                return names.numArg(n, what);
            case PROT:
                return prot(n, what);
            case TOKEN:
                return values.scalarText(n, what);
            case NEW_NAME: {
                String s = values.string(n, what);
                if (s != null && !Names.isIdentifier(s)) {
                    values.problem(n.loc(), "'" + s + "' is not a name (letters, digits, _ . -; not starting with a digit)");
                    return null;
                }
                return s;
            }
            case FEATURE:
            case ATTR:
            case DIR:
            case DRIVER:
            case CHECK:
                return values.word(n, what, a.type().words());
            case HEX:
                return values.hex(n, what);
            case DEVICE_ENTRY:
            default:
                throw new IllegalStateException(a.type().name());
        }
    }

    private Integer prot(YNode n, String what) {
        if (!(n instanceof YList l)) {
            values.problem(n.loc(), what + " must be a list of " + String.join(", ", PROT_WORDS) + "; found " + n.kindName());
            return null;
        }
        int prot = 0;
        boolean ok = true;
        for (YNode i : l.items()) {
            String w = values.word(i, "prot flag", PROT_WORDS);
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

    // ---------------------------------------------------------------- expectations

    private Expectation expectation(OpSpec op, YNode n) {
        if (n instanceof YScalar sc && sc.type() != YScalar.Type.NULL) {
            String s = sc.text().trim();
            if (s.equals("ok")) {
                return new Expectation.Ok();
            }
            if (s.equals("warn")) {
                if (op.result() != ResultKind.NONE) {
                    values.problem(n.loc(), "expect: warn applies to void calls; " + op.name() + " returns " + op.result().written);
                    return null;
                }
                return new Expectation.Warn();
            }
            if (s.equals("fault")) {
                return dmaOnly(op, n, "fault") ? new Expectation.Fault(null) : null;
            }
            if (s.equals("dma-mapping-error")) {
                if (!DmaOps.MAPPING_OPS.contains(op.name())) {
                    values.problem(n.loc(), "expect dma-mapping-error applies to " + String.join(", ", DmaOps.MAPPING_OPS));
                    return null;
                }
                return new Expectation.MappingError();
            }
            if (s.startsWith("-E")) {
                try {
                    return new Expectation.Err(Errno.valueOf(s.substring(1)));
                } catch (IllegalArgumentException e) {
                    List<String> known = java.util.Arrays.stream(Errno.values()).map(x -> "-" + x.name()).toList();
                    values.problem(n.loc(), "unknown errno '" + s + "'" + Names.hint(s, known));
                    return null;
                }
            }
            values.problem(n.loc(), "bad expectation '" + s + "': write ok, warn, fault, -EXXX, {value: V}, {paddr: PA}, "
                    + "{fault: REASON} or {violations: N}");
            return null;
        }
        if (!(n instanceof YMap m) || m.entries().size() != 1) {
            values.problem(n.loc(), "bad expectation: write ok, warn, fault, -EXXX, or a mapping with one key "
                    + "(value, paddr, fault, violations)");
            return null;
        }
        Entry e = m.entries().values().iterator().next();
        YNode v = e.value();
        switch (e.key()) {
            case "value": {
                if (!op.result().bindable()) {
                    values.problem(e.keyLoc(), "expect {value: ...}: " + op.name() + " returns "
                            + (op.result() == ResultKind.NONE ? "nothing" : op.result().written)
                            + (op.result() == ResultKind.DMA ? " (use {paddr: PA} or fault)" : ""));
                    return null;
                }
                if (op.result() == ResultKind.DMA) {
                    values.problem(e.keyLoc(), "expect {value: ...} on a dma step: use {paddr: PA} or fault");
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
                String w = values.word(v, "fault reason", reasons);
                return w == null ? null : new Expectation.Fault(Expectation.FaultReason.of(w));
            }
            case "violations": {
                if (!op.name().equals(OpCatalog.CHECK_OP)) {
                    values.problem(e.keyLoc(), "expect {violations: N} applies to check steps only");
                    return null;
                }
                Long c = values.number(v, "violations");
                return c == null ? null : new Expectation.Violations(c);
            }
            default:
                values.problem(e.keyLoc(), "unknown expectation key '" + e.key() + "'"
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
            values.problem(loc, "expect " + what + " applies to dma steps only");
            return false;
        }
        return true;
    }

    private Expectation.Expected expectedValue(ResultKind kind, YNode v) {
        switch (kind) {
            case NUMBER:
            case PASID: {
                Step.NumArg a = names.numArg(v, "expected value");
                if (a == null) {
                    return null;
                }
                return a.ref() != null ? new Expectation.Ref(a.ref()) : new Expectation.Literal(new Value.Num(a.literal()));
            }
            case BOOL: {
                Boolean b = values.bool(v, "expected value");
                return b == null ? null : new Expectation.Literal(new Value.Bool(b));
            }
            case DOMAIN_NAME:
            case DOMAIN: {
                String s = values.string(v, "expected value");
                if (s == null) {
                    return null;
                }
                if (kind == ResultKind.DOMAIN_NAME && (s.equals("default") || s.equals("blocked") || s.equals("identity")
                        || s.equals("none"))) {
                    return new Expectation.CoreDomain(s);
                }
                String ref = names.reference(v, "expected value", NameKind.DOMAIN);
                return ref == null ? null : new Expectation.Ref(ref);
            }
            case HANDLE: {
                String ref = names.reference(v, "expected value", NameKind.HANDLE);
                return ref == null ? null : new Expectation.Ref(ref);
            }
            case HEX: {
                byte[] b = values.hex(v, "expected value");
                return b == null ? null : new Expectation.Literal(new Value.Hex(b));
            }
            default:
                throw new IllegalStateException(kind.name());
        }
    }

    // ---------------------------------------------------------------- rendering

    /** The step as written, compact: {@code iommu_map {domain: d1, iova: 0x1000, ...}}. */
    private static String written(String op, YNode args) {
        StringBuilder sb = new StringBuilder(op);
        if (!ScenarioValues.isNull(args)) {
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
