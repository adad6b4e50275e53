package org.jiommu.serve;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import java.util.Map;
import org.jiommu.bus.Device;
import org.jiommu.bus.dma.DmaTranslator;
import org.jiommu.core.IommuGroup;
import org.jiommu.core.PasidEntry;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.pgtable.IoPageTable;
import org.jiommu.platform.HwWalk;
import org.jiommu.platform.IommuUnits;
import org.jiommu.platform.Text;
import org.jiommu.scenario.InvalidScenarioException;
import org.jiommu.scenario.JsonPrinter;
import org.jiommu.scenario.Outcome;
import org.jiommu.scenario.Problem;
import org.jiommu.scenario.Scenario;
import org.jiommu.scenario.ScenarioRunner;
import org.jiommu.scenario.ScenarioSession;
import org.jiommu.scenario.Step;

/**
 * The JSON API of {@code jiommu serve} over one scenario (docs/serve.md): every answer is a
 * JSON object; a bad parameter is a {@link BadRequest} (400). Synchronised: one request at a
 * time sees and moves the one platform.
 */
public final class ServeApi {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** The largest DMA the console issues (a dma step's limit is the file's). */
    static final int MAX_DMA = 1 << 16;

    private final String file;
    private final ScenarioSession session;
    private final InvalidScenarioException invalid;

    private ServeApi(String file, ScenarioSession session, InvalidScenarioException invalid) {
        this.file = file;
        this.session = session;
        this.invalid = invalid;
    }

    /** The API over a valid scenario, at step 0 (the platform booted). */
    public static ServeApi of(Scenario s) {
        return new ServeApi(s.file(), new ScenarioSession(s), null);
    }

    /** The API of a file that is not a valid scenario: it shows the problems and refuses the rest. */
    public static ServeApi invalid(String file, InvalidScenarioException e) {
        return new ServeApi(file, null, e);
    }

    /** With no scenario loaded. */
    public static ServeApi empty() {
        return new ServeApi(null, null, null);
    }

    /** Answers {@code GET|POST /api/<name>} with these parameters. @throws BadRequest */
    public synchronized ObjectNode handle(String name, Map<String, String> q) {
        if (name.equals("scenario")) {
            return scenario();
        }
        ScenarioSession s = need();
        return switch (name) {
            case "platform" -> PlatformJson.of(s);
            case "steps" -> steps(s);
            case "step" -> step(s, q);
            case "walk" -> walk(s, q);
            case "table" -> table(s, q);
            case "dma" -> dma(s, q);
            case "stats" -> stats(s);
            default -> throw new NotFound("no API /api/" + name + " (see docs/serve.md)");
        };
    }

    /** An unknown API path: 404. */
    static final class NotFound extends RuntimeException {
        NotFound(String message) {
            super(message);
        }
    }

    private ScenarioSession need() {
        if (invalid != null) {
            throw new BadRequest(file + " is not a valid scenario (" + invalid.total() + " problems: see /api/scenario)");
        }
        if (session == null) {
            throw new BadRequest("no scenario loaded: jiommu serve SCENARIO.yaml");
        }
        if (session.platformError() != null) {
            throw new BadRequest(session.platformError());
        }
        return session;
    }

    private ObjectNode scenario() {
        ObjectNode o = JSON.createObjectNode();
        o.put("file", file);
        if (invalid != null) {
            o.put("invalid", true);
            ArrayNode ps = o.putArray("problems");
            for (Problem p : invalid.problems()) {
                ObjectNode po = ps.addObject();
                po.put("file", p.loc().file());
                if (p.loc().hasPosition()) {
                    po.put("line", p.loc().line());
                    po.put("column", p.loc().column());
                }
                po.put("problem", p.message());
                po.put("text", p.toString()); // what `jiommu run` prints for it
            }
            o.put("total", invalid.total());
            return o;
        }
        if (session == null) {
            o.put("loaded", false);
            return o;
        }
        Scenario sc = session.scenario();
        o.put("loaded", true);
        o.put("name", sc.name());
        o.put("description", sc.description());
        o.put("steps", sc.steps().size());
        o.put("position", session.position());
        o.put("platformError", session.platformError());
        o.put("summary", session.summary());
        return o;
    }

    private static ObjectNode steps(ScenarioSession s) {
        ObjectNode o = JSON.createObjectNode();
        o.put("position", s.position());
        ArrayNode out = o.putArray("steps");
        List<ScenarioRunner.StepReport> reports = s.reports();
        for (Step st : s.scenario().steps()) {
            ObjectNode so;
            if (st.number() <= reports.size()) {
                so = JsonPrinter.stepJson(s.scenario(), reports.get(st.number() - 1));
                so.put("ran", true);
            } else {
                so = JsonPrinter.pendingStepJson(s.scenario(), st);
                so.put("ran", false);
            }
            if (st.note() != null) {
                so.put("note", st.note());
            }
            out.add(so);
        }
        return o;
    }

    private static ObjectNode step(ScenarioSession s, Map<String, String> q) {
        int total = s.scenario().steps().size();
        String n = q.get("n");
        int to;
        if (n == null || n.equals("end")) {
            to = total;
        } else {
            long v = Params.number(q, "n");
            if (v < 0 || v > total) {
                throw new BadRequest("n=" + n + ": the scenario has steps 1.." + total + " (0: before the first)");
            }
            to = (int) v;
        }
        s.runTo(to);
        ObjectNode o = JSON.createObjectNode();
        o.put("position", s.position());
        if (to > 0) {
            ObjectNode so = JsonPrinter.stepJson(s.scenario(), s.reports().get(to - 1));
            o.set("step", so);
        }
        return o;
    }

    private static Device device(ScenarioSession s, Map<String, String> q) {
        String name = Params.required(q, "dev");
        Device d = s.devices().get(name);
        if (d == null) {
            throw new BadRequest("dev=" + name + ": no such device on the platform (devices: "
                    + String.join(", ", s.devices().keySet()) + ")");
        }
        return d;
    }

    /** The PASID parameter: a number, or a name a step bound ({@code as: p1}); none: requests without PASID. */
    private static int pasid(ScenarioSession s, Map<String, String> q) {
        if (!q.containsKey("pasid") || q.get("pasid").isEmpty()) {
            return DmaTranslator.NO_PASID;
        }
        Long bound = s.boundNumber(q.get("pasid").trim());
        long p = bound != null ? bound : Params.number(q, "pasid");
        if (p < 0 || p > 0xfffff) {
            throw new BadRequest("pasid=" + q.get("pasid") + ": a PASID is 0..0xfffff (20 bits)");
        }
        return (int) p;
    }

    private static HwWalk hwWalk(ScenarioSession s, Device d, int pasid, long iova) {
        IommuUnits u = s.platform().unitsOf(d);
        if (u == null) {
            throw new BadRequest(d.name() + " is behind no IOMMU: its DMA is not translated");
        }
        HwWalk w = u.walk(d, pasid, iova);
        if (w == null) {
            throw new BadRequest(d.name() + "'s " + u.kind().name() + " unit shows no walk"
                    + (pasid == DmaTranslator.NO_PASID ? "" : " for PASID " + pasid));
        }
        return w;
    }

    private static ObjectNode walk(ScenarioSession s, Map<String, String> q) {
        Device d = device(s, q);
        int pasid = pasid(s, q);
        long iova = Params.number(q, "iova");
        return walkJson(hwWalk(s, d, pasid, iova), d, pasid, iova);
    }

    /** A walk as JSON: the entries with their raw words as 16 hex digits, fields decoded. */
    static ObjectNode walkJson(HwWalk w, Device d, int pasid, long iova) {
        ObjectNode o = JSON.createObjectNode();
        o.put("dev", d.name());
        o.put("pasid", pasid == DmaTranslator.NO_PASID ? null : Integer.valueOf(pasid));
        o.put("iova", Text.format(iova));
        o.put("unit", w.unit());
        o.put("sourceId", String.format("%#06x", w.sourceId()));
        ArrayNode es = o.putArray("entries");
        for (HwWalk.Entry e : w.entries()) {
            ObjectNode eo = es.addObject();
            eo.put("name", e.name());
            eo.put("address", e.address() < 0 ? null : Text.format(e.address()));
            ArrayNode words = eo.putArray("words");
            for (long v : e.words()) {
                words.add(String.format("%016x", v));
            }
            ObjectNode f = eo.putObject("fields");
            e.fields().forEach(f::put);
        }
        o.put("result", w.result());
        o.put("outputAddress", w.outputAddress() < 0 ? null : Text.format(w.outputAddress()));
        return o;
    }

    private static ObjectNode table(ScenarioSession s, Map<String, String> q) {
        Device d = device(s, q);
        int pasid = pasid(s, q);
        IommuGroup g = s.group(d);
        if (g == null) {
            throw new BadRequest(d.name() + " has no IOMMU group");
        }
        IommuDomain dom;
        if (pasid == DmaTranslator.NO_PASID) {
            dom = g.domain();
        } else {
            PasidEntry e = g.pasidEntries().get(pasid);
            dom = e == null ? null : e.domain();
        }
        if (dom == null) {
            throw new BadRequest(d.name() + " has no domain attached" + (pasid == DmaTranslator.NO_PASID ? "" : " at PASID " + pasid));
        }
        IommuUnits u = s.platform().unitsOf(d);
        IoPageTable t = u == null ? null : u.pageTable(dom);
        ObjectNode o;
        if (t == null) {
            o = JSON.createObjectNode();
            o.putNull("root");
            o.putArray("children");
        } else {
            o = PageTree.of(t);
        }
        o.put("dev", d.name());
        o.put("domain", s.domainName(dom, g));
        o.put("class", PlatformJson.domainClass(dom));
        o.put("paging", t != null);
        return o;
    }

    private static ObjectNode dma(ScenarioSession s, Map<String, String> q) {
        Device d = device(s, q);
        int pasid = pasid(s, q);
        long iova = Params.number(q, "iova");
        long size = q.containsKey("size") ? Params.number(q, "size") : 4;
        if (size < 1 || size > MAX_DMA) {
            throw new BadRequest("size=" + q.get("size") + ": 1.." + MAX_DMA + " bytes");
        }
        String dir = q.getOrDefault("dir", "read");
        if (!dir.equals("read") && !dir.equals("write")) {
            throw new BadRequest("dir=" + dir + ": read or write");
        }
        if (s.platform().engine(d) == null) {
            throw new BadRequest(d.name() + " has no DMA engine");
        }
        IommuUnits u = s.platform().unitsOf(d);
        // the walk first: what a miss reads, before the DMA fills the caches
        HwWalk w = u == null ? null : u.walk(d, pasid, iova);
        ScenarioSession.Counters before = s.countersNow();
        Outcome out = s.dma(d, pasid, iova, dir.equals("write"), (int) size);
        ScenarioSession.Counters after = s.countersNow();
        ObjectNode o = JSON.createObjectNode();
        o.put("dev", d.name());
        o.put("dir", dir);
        o.put("iova", Text.format(iova));
        o.put("size", size);
        o.put("result", out.show());
        JsonPrinter.putOutcome(o, out);
        o.put("faulted", out instanceof Outcome.Faulted);
        ObjectNode c = o.putObject("caches");
        c.put("iotlbHits", after.iotlbHits() - before.iotlbHits());
        c.put("iotlbMisses", (after.iotlbLookups() - before.iotlbLookups()) - (after.iotlbHits() - before.iotlbHits()));
        c.put("atcHits", after.atcHits() - before.atcHits());
        c.put("atcMisses", (after.atcLookups() - before.atcLookups()) - (after.atcHits() - before.atcHits()));
        if (w != null) {
            o.set("walk", walkJson(w, d, pasid, iova));
        }
        return o;
    }

    private static ObjectNode stats(ScenarioSession s) {
        ObjectNode o = JSON.createObjectNode();
        o.put("position", s.position());
        ArrayNode rows = o.putArray("steps");
        List<ScenarioSession.Counters> cs = s.counters();
        for (int i = 0; i < cs.size(); i++) {
            ScenarioSession.Counters c = cs.get(i);
            ObjectNode r = rows.addObject();
            r.put("step", i);
            r.put("iotlbHits", c.iotlbHits());
            r.put("iotlbLookups", c.iotlbLookups());
            r.put("atcHits", c.atcHits());
            r.put("atcLookups", c.atcLookups());
            r.put("faults", c.faults());
            r.put("iotlbHitRate", rate(c.iotlbHits(), c.iotlbLookups()));
            r.put("atcHitRate", rate(c.atcHits(), c.atcLookups()));
        }
        return o;
    }

    private static Double rate(long hits, long lookups) {
        return lookups == 0 ? null : (double) hits / lookups;
    }
}
