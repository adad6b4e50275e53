package org.jiommu.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import org.jiommu.scenario.InvalidScenarioException;
import org.jiommu.scenario.ScenarioReader;
import org.jiommu.serve.ServeApi;
import org.jiommu.serve.ServeServer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code jiommu serve [SCENARIO.yaml]}: the web explorer (docs/serve.md). */
@Command(name = "serve",
        mixinStandardHelpOptions = true,
        usageHelpWidth = 80,
        description = {
            "Serve a web page exploring a scenario: topology, steps, the hardware's",
            "walks and page tables decoded from memory, a DMA console, cache charts.",
            "The JSON API under /api/ is documented in docs/serve.md.",
            "Listens on 127.0.0.1 unless --host is given; prints its URL; runs until",
            "interrupted. A file that is not a valid scenario is reported as `run`",
            "reports it (and the page shows the problems).",
        })
public final class ServeCommand implements Callable<Integer> {
    @Parameters(arity = "0..1", paramLabel = "SCENARIO.yaml", description = "the scenario to explore")
    Path file;

    @Option(names = "--port", defaultValue = "8080", description = "TCP port (0: any free one; default ${DEFAULT-VALUE})")
    int port;

    @Option(names = "--host", defaultValue = "127.0.0.1",
            description = "address to listen on (default ${DEFAULT-VALUE}: this machine only)")
    String host;

    @Option(names = "--open", description = "open the page in the desktop's browser")
    boolean open;

    @Option(names = "--self-test", description = "start, fetch the page and /api/scenario once, print their status, stop")
    boolean selfTest;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws InterruptedException {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        if (port < 0 || port > 65535) {
            err.println("jiommu: --port " + port + ": a TCP port is 0..65535");
            return Main.EXIT_USAGE;
        }
        ServeApi api;
        if (file == null) {
            api = ServeApi.empty();
        } else {
            try {
                api = ServeApi.of(ScenarioReader.read(file));
            } catch (NoSuchFileException e) {
                err.println("jiommu: " + file + ": no such file");
                return Main.EXIT_USAGE;
            } catch (IOException e) {
                err.println("jiommu: " + file + ": cannot read: " + e.getMessage());
                return Main.EXIT_USAGE;
            } catch (InvalidScenarioException e) {
                RunCommand.printProblems(err, e);
                api = ServeApi.invalid(file.toString(), e);
            }
        }
        ServeServer server;
        try {
            server = ServeServer.start(api, host, port);
        } catch (IOException | RuntimeException e) {
            err.println("jiommu: cannot listen on " + host + ":" + port + ": " + e.getMessage());
            return Main.EXIT_USAGE;
        }
        try (server) {
            out.println("jiommu serve: " + server.url() + (selfTest ? "" : " (Ctrl-C stops)"));
            out.flush();
            if (selfTest) {
                return selfTest(server, out, err);
            }
            if (open) {
                openBrowser(server.url(), err);
            }
            CountDownLatch forever = new CountDownLatch(1);
            Runtime.getRuntime().addShutdownHook(new Thread(server::close));
            forever.await();
            return Main.EXIT_OK;
        }
    }

    private static int selfTest(ServeServer server, PrintWriter out, PrintWriter err) {
        HttpClient c = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
        int code = Main.EXIT_OK;
        for (String path : new String[] {"", "api/scenario"}) {
            try {
                HttpResponse<String> r = c.send(HttpRequest.newBuilder(URI.create(server.url() + path)).build(),
                        HttpResponse.BodyHandlers.ofString());
                out.println("GET /" + path + ": " + r.statusCode() + " (" + r.body().length() + " bytes)");
                if (r.statusCode() != 200) {
                    code = Main.EXIT_CHECK_FAILED;
                }
            } catch (IOException | InterruptedException e) {
                err.println("jiommu: GET /" + path + " failed: " + e.getMessage());
                code = Main.EXIT_CHECK_FAILED;
            }
        }
        out.flush();
        return code;
    }

    /** The desktop's browser if Java can reach it, else xdg-open; a failure is only reported. */
    private static void openBrowser(String url, PrintWriter err) {
        try {
            if (java.awt.Desktop.isDesktopSupported()
                    && java.awt.Desktop.getDesktop().isSupported(java.awt.Desktop.Action.BROWSE)) {
                java.awt.Desktop.getDesktop().browse(URI.create(url));
                return;
            }
            new ProcessBuilder("xdg-open", url).inheritIO().start();
        } catch (IOException | RuntimeException e) { // HeadlessException included
            err.println("jiommu: could not open a browser (" + e.getMessage() + "); open " + url + " yourself");
            err.flush();
        }
    }
}
