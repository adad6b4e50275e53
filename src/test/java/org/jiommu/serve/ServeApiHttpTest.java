package org.jiommu.serve;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jiommu.scenario.InvalidScenarioException;
import org.jiommu.scenario.ScenarioReader;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** jiommu serve's JSON API through a real HTTP client, on examples/vtd-vfio-passthrough.yaml (docs/serve.md). */
class ServeApiHttpTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final HttpClient client = HttpClient.newHttpClient();
    private ServeServer server;

    @BeforeEach
    void start() throws Exception {
        server = ServeServer.start(ServeApi.of(ScenarioReader.read(Path.of("examples/vtd-vfio-passthrough.yaml"))),
                "127.0.0.1", 0);
    }

    @AfterEach
    void stop() {
        server.close();
    }

    private HttpResponse<String> get(String pathAndQuery) throws IOException, InterruptedException {
        return client.send(HttpRequest.newBuilder(URI.create(server.url() + pathAndQuery.substring(1))).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private HttpResponse<String> post(String path, String form) throws IOException, InterruptedException {
        return client.send(HttpRequest.newBuilder(URI.create(server.url() + path.substring(1)))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .POST(HttpRequest.BodyPublishers.ofString(form)).build(), HttpResponse.BodyHandlers.ofString());
    }

    private JsonNode ok(HttpResponse<String> r) throws IOException {
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        assertThat(r.headers().firstValue("Content-Type")).hasValueSatisfying(t -> assertThat(t).startsWith("application/json"));
        return JSON.readTree(r.body());
    }

    private JsonNode api(String pathAndQuery) throws IOException, InterruptedException {
        return ok(get(pathAndQuery));
    }

    @Test
    @DisplayName("the server listens on loopback, port 0 picks a free port, and serves the page, its script and the chart library")
    void servesPage() throws Exception {
        assertThat(server.url()).startsWith("http://127.0.0.1:").doesNotEndWith(":0/");
        assertThat(server.port()).isPositive();
        HttpResponse<String> page = get("/");
        assertThat(page.statusCode()).isEqualTo(200);
        assertThat(page.body()).contains("<script src=\"/app.js\"></script>").contains("/webjars/uplot/");
        assertThat(get("/app.js").statusCode()).isEqualTo(200);
        assertThat(get("/app.css").statusCode()).isEqualTo(200);
        HttpResponse<String> uplot = get("/webjars/uplot/1.6.30/dist/uPlot.iife.min.js");
        assertThat(uplot.statusCode()).isEqualTo(200);
        assertThat(uplot.body()).contains("uPlot");
        assertThat(get("/nothing-here").statusCode()).isEqualTo(404);
        assertThat(get("/webjars/../serve/index.html").statusCode()).isEqualTo(404);
    }

    @Test
    @DisplayName("/api/scenario and /api/steps: the file's steps, none run at first, with the run's step objects once run")
    void scenarioAndSteps() throws Exception {
        JsonNode sc = api("/api/scenario");
        assertThat(sc.get("loaded").asBoolean()).isTrue();
        assertThat(sc.get("steps").asInt()).isEqualTo(23);
        assertThat(sc.get("position").asInt()).isZero();
        JsonNode steps = api("/api/steps");
        assertThat(steps.get("steps")).hasSize(23);
        assertThat(steps.get("steps").get(0).get("ran").asBoolean()).isFalse();
        assertThat(steps.get("steps").get(4).get("note").asText()).startsWith("Blocked");

        JsonNode st = ok(post("/api/step", "n=5"));
        assertThat(st.get("position").asInt()).isEqualTo(5);
        assertThat(st.get("step").get("result").asText()).isEqualTo("fault blocked");
        assertThat(st.get("step").get("status").asText()).isEqualTo("ok");
        steps = api("/api/steps");
        assertThat(steps.get("steps").get(4).get("ran").asBoolean()).isTrue();
        assertThat(steps.get("steps").get(4).get("fault").asText()).isEqualTo("blocked");
        assertThat(steps.get("steps").get(5).get("ran").asBoolean()).isFalse();

        JsonNode end = api("/api/step?n=end");
        assertThat(end.get("position").asInt()).isEqualTo(23);
        assertThat(api("/api/steps").get("steps").findValuesAsText("status")).hasSize(23).containsOnly("ok");
    }

    @Test
    @DisplayName("/api/platform: the group's domain, owner and default domain follow the steps, forward and back")
    void platformFollowsSteps() throws Exception {
        api("/api/step?n=8");
        JsonNode p = api("/api/platform");
        assertThat(p.get("iommus").get(0).get("name").asText()).isEqualTo("dmar0");
        assertThat(p.get("iommus").get(0).get("kind").asText()).isEqualTo("vtd");
        JsonNode nic = p.get("devices").get(0);
        assertThat(nic.get("name").asText()).isEqualTo("nic0");
        assertThat(nic.get("bdf").asText()).isEqualTo("0000:00:02.0");
        assertThat(nic.get("driver").asText()).isEqualTo("none");
        assertThat(nic.get("reason").asText()).isNotEmpty();
        JsonNode g = p.get("groups").get(0);
        assertThat(g.get("devices").get(0).asText()).isEqualTo("nic0");
        assertThat(g.get("domain").get("name").asText()).isEqualTo("guest");
        assertThat(g.get("domain").get("class").asText()).isEqualTo("paging");
        assertThat(g.get("owner").asText()).isEqualTo("vfio");
        assertThat(g.get("defaultDomain").get("type").asText()).isEqualTo("DMA");
        assertThat(p.get("pciBuses").get(0).get("devices").get(0).asText()).isEqualTo("nic0");

        // back to step 4: claimed, blocked, no guest domain yet (re-run from a fresh platform)
        api("/api/step?n=4");
        p = api("/api/platform");
        g = p.get("groups").get(0);
        assertThat(p.get("position").asInt()).isEqualTo(4);
        assertThat(g.get("domain").get("class").asText()).isEqualTo("blocked");
        assertThat(g.get("owner").asText()).isEqualTo("vfio");
        assertThat(p.get("domains").findValuesAsText("name")).doesNotContain("guest");

        api("/api/step?n=0");
        g = api("/api/platform").get("groups").get(0);
        assertThat(g.get("domain").get("name").asText()).isEqualTo("default");
        assertThat(g.get("owner").isNull()).isTrue();
    }

    private static final Pattern DUMP_PASID = Pattern.compile(
            "pasid 0 \\(RID_PASID\\)\\s+(first|second)-level, DID (\\d+), (FL|SL)PTPTR (0x[0-9a-f]+), (\\d)-level");

    @Test
    @DisplayName("/api/walk decodes root, context, PASID entries and the levels from memory, agreeing with hw_dump and the DMA")
    void walkAgreesWithDumpAndDma() throws Exception {
        JsonNode dump = api("/api/step?n=14").get("step");
        assertThat(dump.get("op").asText()).isEqualTo("hw_dump");
        Matcher m = DUMP_PASID.matcher(dump.get("output").asText());
        assertThat(m.find()).as(dump.get("output").asText()).isTrue();

        JsonNode w = api("/api/walk?dev=nic0&iova=0x2345");
        assertThat(w.get("entries").findValuesAsText("name")).startsWith("root entry (bus 00)", "context entry (devfn 02.0)",
                "PASID directory entry [0]", "PASID entry (PASID 0, RID_PASID)");
        JsonNode pe = w.get("entries").get(3);
        // the dump names the stage the driver chose (first level by default on a unit with FLTS,
        // intel_iommu_domain_alloc_paging_flags); the walk decodes the same entry's fields
        boolean first = m.group(1).equals("first");
        assertThat(pe.get("fields").get("DID").asText()).isEqualTo(m.group(2));
        assertThat(pe.get("fields").get(m.group(3) + "PTPTR").asText()).isEqualTo(m.group(4));
        assertThat(pe.get("fields").get(first ? "FLPM" : "AW").asText()).isEqualTo(m.group(5) + "-level");
        assertThat(pe.get("words")).hasSize(8);
        // the raw words hold the decoded fields: SLPTPTR in word 0 bits 63:12 or FLPTPTR in word 2
        // bits 63:12 (VT-d 9.6), DID in word 1 bits 15:0
        long wp = Long.parseUnsignedLong(pe.get("words").get(first ? 2 : 0).asText(), 16);
        long w1 = Long.parseUnsignedLong(pe.get("words").get(1).asText(), 16);
        assertThat("0x" + Long.toHexString(wp & 0x000f_ffff_ffff_f000L)).isEqualTo(m.group(4));
        assertThat(w1 & 0xffff).isEqualTo(Long.parseLong(m.group(2)));
        assertThat(w.get("entries")).hasSize(4 + 4);
        assertThat(w.get("result").asText()).startsWith("translates to 0x4002345");
        assertThat(w.get("outputAddress").asText()).isEqualTo("0x4002345");
        // 0x1000 was unmapped at step 12: its last-level entry is empty
        JsonNode gone = api("/api/walk?dev=nic0&iova=0x1234");
        assertThat(gone.get("outputAddress").isNull()).isTrue();
        assertThat(gone.get("result").asText()).contains("not present at level 1");

        JsonNode dma = ok(post("/api/dma", "dev=nic0&iova=0x2345&dir=read&size=4"));
        assertThat(dma.get("paddr").asText()).isEqualTo(w.get("outputAddress").asText());
    }

    @Test
    @DisplayName("/api/dma: the translation, the ATC miss then hit, and a fault with its reason")
    void dmaConsole() throws Exception {
        api("/api/step?n=8");
        JsonNode first = ok(post("/api/dma", "dev=nic0&iova=0x1234&dir=read&size=4"));
        assertThat(first.get("faulted").asBoolean()).isFalse();
        assertThat(first.get("paddr").asText()).isEqualTo("0x4001234");
        assertThat(first.get("caches").get("atcMisses").asInt()).isEqualTo(1);
        assertThat(first.get("caches").get("atcHits").asInt()).isZero();
        assertThat(first.get("walk").get("outputAddress").asText()).isEqualTo("0x4001234");
        JsonNode again = api("/api/dma?dev=nic0&iova=0x1238&dir=read&size=4");
        assertThat(again.get("caches").get("atcHits").asInt()).isEqualTo(1);
        assertThat(again.get("caches").get("atcMisses").asInt()).isZero();
        JsonNode write = ok(post("/api/dma", "dev=nic0&iova=0x3000&dir=write&size=8"));
        assertThat(write.get("paddr").asText()).isEqualTo("0x4003000");

        JsonNode fault = ok(post("/api/dma", "dev=nic0&iova=0x20000&dir=read&size=4"));
        assertThat(fault.get("faulted").asBoolean()).isTrue();
        assertThat(fault.get("fault").asText()).isNotEmpty();
        assertThat(fault.get("message").asText()).contains("0x20000");
        assertThat(fault.get("walk").get("outputAddress").isNull()).isTrue();
    }

    @Test
    @DisplayName("/api/table: the domain's page table from memory, leaves collapsed into ranges, split by an unmap")
    void pageTable() throws Exception {
        api("/api/step?n=8");
        JsonNode t = api("/api/table?dev=nic0");
        assertThat(t.get("domain").asText()).isEqualTo("guest");
        JsonNode leaves = t.findParent("count");
        assertThat(t.findValues("count")).hasSize(1);
        assertThat(leaves.get("count").asInt()).isEqualTo(16);
        assertThat(leaves.get("span").asText()).isEqualTo("64KiB");
        // a first-level (x86-64 format) leaf of a read-write map: P, R/W, U/S, A, D (the domain
        // is first level by default; the kernel sets A and D itself so the unit never writes them)
        assertThat(leaves.get("pte").asText()).isEqualTo("0000000004000067");

        api("/api/step?n=12"); // iommu_unmap 0x1000+4KiB
        t = api("/api/table?dev=nic0");
        assertThat(t.findValuesAsText("iova")).contains("0", "0x2000");
        assertThat(t.findValues("count")).extracting(JsonNode::asInt).containsExactly(1, 14);
    }

    @Test
    @DisplayName("/api/stats: cumulative ATC and IOTLB counters and faults, one row per step run")
    void stats() throws Exception {
        api("/api/step?n=13");
        JsonNode s = api("/api/stats");
        assertThat(s.get("steps")).hasSize(14);
        assertThat(s.get("steps").get(4).get("faults").asInt()).isZero();
        assertThat(s.get("steps").get(5).get("faults").asInt()).isEqualTo(1);
        assertThat(s.get("steps").get(13).get("faults").asInt()).isEqualTo(2);
        assertThat(s.get("steps").get(10).get("atcHits").asInt()).isEqualTo(1);
        assertThat(s.get("steps").get(10).get("atcHitRate").asDouble()).isGreaterThan(0);
        assertThat(s.get("steps").get(0).get("atcHitRate").isNull()).isTrue();
    }

    private void badRequest(HttpResponse<String> r, String message) throws IOException {
        assertThat(r.statusCode()).as(r.body()).isEqualTo(400);
        assertThat(JSON.readTree(r.body()).get("error").asText()).contains(message);
    }

    @Test
    @DisplayName("bad parameters are 400 with a message; an unknown API is 404, another method 405")
    void badParameters() throws Exception {
        badRequest(get("/api/walk?iova=0x1000"), "missing parameter dev");
        badRequest(get("/api/walk?dev=nope&iova=0x1000"), "dev=nope: no such device");
        badRequest(get("/api/walk?dev=nic0"), "missing parameter iova");
        badRequest(get("/api/walk?dev=nic0&iova=12zz"), "iova=12zz: not a number");
        badRequest(get("/api/walk?dev=nic0&iova=-5"), "must not be negative");
        badRequest(get("/api/walk?dev=nic0&iova=1&pasid=0x100000"), "a PASID is 0..0xfffff");
        badRequest(get("/api/step?n=24"), "n=24: the scenario has steps 1..23");
        badRequest(get("/api/step?n=x"), "n=x: not a number");
        badRequest(post("/api/dma", "dev=nic0&iova=0&size=0"), "size=0");
        badRequest(post("/api/dma", "dev=nic0&iova=0&dir=sideways"), "dir=sideways");
        badRequest(get("/api/table?dev=nic0&pasid=5"), "no domain attached at PASID 5");
        badRequest(post("/api/walk", "dev=%zz&iova=1"), "malformed parameter encoding");
        assertThat(get("/api/nothing").statusCode()).isEqualTo(404);
        HttpResponse<String> put = client.send(HttpRequest.newBuilder(URI.create(server.url() + "api/steps"))
                .PUT(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(put.statusCode()).isEqualTo(405);
        // refused requests changed nothing
        assertThat(api("/api/scenario").get("position").asInt()).isZero();
    }

    @Test
    @DisplayName("an invalid scenario: /api/scenario lists the problems with run's file:line:column lines, the rest is 400")
    void invalidScenario() throws Exception {
        server.close();
        String text = "name: bad\nplatform:\n  memory: 1MiB\nsteps:\n  - no_such_op: {dev: x}\n";
        InvalidScenarioException e = null;
        try {
            ScenarioReader.read("bad.yaml", text);
        } catch (InvalidScenarioException x) {
            e = x;
        }
        assertThat(e).isNotNull();
        server = ServeServer.start(ServeApi.invalid("bad.yaml", e), "127.0.0.1", 0);
        JsonNode sc = api("/api/scenario");
        assertThat(sc.get("invalid").asBoolean()).isTrue();
        JsonNode p0 = sc.get("problems").get(0);
        assertThat(p0.get("text").asText()).isEqualTo(e.problems().get(0).toString())
                .startsWith("bad.yaml:" + p0.get("line").asInt() + ":" + p0.get("column").asInt() + ": ");
        // every problem, each as the line `jiommu run` prints for it (RunCommand.printProblems)
        assertThat(sc.get("problems").findValuesAsText("text"))
                .containsExactlyElementsOf(e.problems().stream().map(Object::toString).toList());
        assertThat(sc.get("problems").findValuesAsText("text")).anyMatch(t -> t.contains("no_such_op"));
        badRequest(get("/api/platform"), "bad.yaml is not a valid scenario");
    }
}
