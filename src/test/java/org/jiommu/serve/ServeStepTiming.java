package org.jiommu.serve;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.jiommu.scenario.ScenarioReader;

/**
 * Measures what the page waits for at each step on the generated 256-function platform
 * ({@link LargePlatform}): POST /api/step (one step forward) then GET /api/steps, /api/platform
 * and /api/stats, over HTTP on loopback, as app.js does; then "back" (a replay from the start)
 * from the end. Not a test: run by hand, figures in docs/PERFORMANCE.md.
 *
 * <pre>mvn -B -q -o test-compile dependency:build-classpath -Dmdep.outputFile=target/cp.txt
 * java -cp target/classes:target/test-classes:$(cat target/cp.txt) org.jiommu.serve.ServeStepTiming</pre>
 */
public final class ServeStepTiming {
    private ServeStepTiming() {
    }

    public static void main(String[] args) throws Exception {
        int devices = args.length > 0 ? Integer.parseInt(args[0]) : 256;
        ServeApi api = ServeApi.of(ScenarioReader.read("large.yaml", LargePlatform.scenario(devices)));
        HttpClient c = HttpClient.newHttpClient();
        try (ServeServer s = ServeServer.start(api, "127.0.0.1", 0)) {
            String base = s.url() + "api/";
            int steps = devices * 7;
            // warm-up: one pass forward and back, thrown away (JIT)
            for (int i = 1; i <= Math.min(steps, 400); i++) {
                pageStep(c, base, i);
            }
            pageStep(c, base, 0);
            List<Long> forward = new ArrayList<>();
            for (int i = 1; i <= steps; i++) {
                forward.add(pageStep(c, base, i));
            }
            List<Long> back = new ArrayList<>();
            for (int i = 0; i < 5; i++) {
                back.add(pageStep(c, base, steps - 1));
                pageStep(c, base, steps);
            }
            System.out.printf("%d functions, %d steps%n", devices, steps);
            System.out.printf("forward one step + steps/platform/stats: median %.1f ms, p99 %.1f ms, max %.1f ms%n",
                    ms(pct(forward, 50)), ms(pct(forward, 99)), ms(pct(forward, 100)));
            System.out.printf("back from the end (replay of %d steps) + the three GETs: median %.1f ms, max %.1f ms%n",
                    steps - 1, ms(pct(back, 50)), ms(pct(back, 100)));
        }
    }

    /** One click: the step, then the three reads the page makes; nanoseconds. */
    private static long pageStep(HttpClient c, String base, int n) throws Exception {
        long t0 = System.nanoTime();
        send(c, HttpRequest.newBuilder(URI.create(base + "step")).header("Content-Type", "application/x-www-form-urlencoded")
                .POST(HttpRequest.BodyPublishers.ofString("n=" + n)).build());
        for (String get : new String[] {"steps", "platform", "stats"}) {
            send(c, HttpRequest.newBuilder(URI.create(base + get)).build());
        }
        return System.nanoTime() - t0;
    }

    private static void send(HttpClient c, HttpRequest r) throws Exception {
        HttpResponse<byte[]> res = c.send(r, HttpResponse.BodyHandlers.ofByteArray());
        if (res.statusCode() != 200) {
            throw new IllegalStateException(r.uri() + ": " + res.statusCode() + " " + new String(res.body()));
        }
    }

    private static long pct(List<Long> v, int p) {
        List<Long> s = new ArrayList<>(v);
        Collections.sort(s);
        return s.get(Math.min(s.size() - 1, (int) Math.ceil(p / 100.0 * s.size()) - 1));
    }

    private static double ms(long ns) {
        return ns / 1e6;
    }
}
