package org.jiommu.serve;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * The HTTP side of {@code jiommu serve}: the JDK's own server (com.sun.net.httpserver; one user
 * on loopback needs no more, and it adds no dependency) on one thread, serving the page from
 * the classpath ({@code /serve/...}), the charting library from its WebJar
 * ({@code /webjars/...}) and the JSON API ({@code /api/...}, {@link ServeApi}). Bad parameters
 * are 400 with {@code {"error": message}}, an unknown path 404.
 */
public final class ServeServer implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Request bodies (form-encoded API parameters) are small; anything larger is refused. */
    private static final int MAX_BODY = 64 * 1024;

    private final HttpServer http;
    private final ExecutorService executor;
    private final ServeApi api;

    private ServeServer(HttpServer http, ServeApi api) {
        this.http = http;
        this.api = api;
        this.executor = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "jiommu-serve");
            t.setDaemon(true);
            return t;
        });
        http.setExecutor(executor);
        http.createContext("/", this::handle);
    }

    /**
     * Binds {@code host:port} (port 0: a free one) and starts serving.
     *
     * @throws IOException if the address cannot be bound
     */
    public static ServeServer start(ServeApi api, String host, int port) throws IOException {
        HttpServer http = HttpServer.create(new InetSocketAddress(host, port), 0);
        ServeServer s = new ServeServer(http, api);
        http.start();
        return s;
    }

    /** The port actually bound. */
    public int port() {
        return http.getAddress().getPort();
    }

    /** The page's address. */
    public String url() {
        String h = http.getAddress().getAddress().getHostAddress();
        return "http://" + (h.contains(":") ? "[" + h + "]" : h) + ":" + port() + "/";
    }

    @Override
    public void close() {
        http.stop(0);
        executor.shutdownNow();
    }

    private void handle(HttpExchange ex) throws IOException {
        try (ex) {
            String path = ex.getRequestURI().getPath();
            if (path.startsWith("/api/")) {
                api(ex, path.substring("/api/".length()));
            } else if (path.equals("/") || path.equals("/index.html")) {
                resource(ex, "/serve/index.html");
            } else if (path.startsWith("/webjars/") && !path.contains("..")) {
                resource(ex, "/META-INF/resources" + path);
            } else if (path.matches("/[a-z]+\\.(js|css)")) {
                resource(ex, "/serve" + path);
            } else {
                send(ex, 404, "text/plain", ("not found: " + path).getBytes(StandardCharsets.UTF_8));
            }
        } catch (RuntimeException e) {
            // a bug in jiommu: the server stays up, the page sees a 500 with the message
            sendJson(ex, 500, error("internal error: " + e));
        }
    }

    private void api(HttpExchange ex, String name) throws IOException {
        String method = ex.getRequestMethod();
        if (!method.equals("GET") && !method.equals("POST")) {
            sendJson(ex, 405, error(method + " is not served: GET or POST"));
            return;
        }
        Map<String, String> q;
        try {
            q = params(ex);
        } catch (BadRequest e) {
            sendJson(ex, 400, error(e.getMessage()));
            return;
        }
        try {
            sendJson(ex, 200, api.handle(name, q));
        } catch (BadRequest e) {
            sendJson(ex, 400, error(e.getMessage()));
        } catch (ServeApi.NotFound e) {
            sendJson(ex, 404, error(e.getMessage()));
        }
    }

    /** The query's parameters, then a form-encoded body's (a POST). */
    private static Map<String, String> params(HttpExchange ex) throws IOException {
        Map<String, String> q = new LinkedHashMap<>();
        parse(ex.getRequestURI().getRawQuery(), q);
        if (ex.getRequestMethod().equals("POST")) {
            try (InputStream in = ex.getRequestBody()) {
                byte[] body = in.readNBytes(MAX_BODY + 1);
                if (body.length > MAX_BODY) {
                    throw new BadRequest("request body over " + MAX_BODY + " bytes");
                }
                parse(new String(body, StandardCharsets.UTF_8), q);
            }
        }
        return q;
    }

    private static void parse(String raw, Map<String, String> into) {
        if (raw == null || raw.isEmpty()) {
            return;
        }
        for (String pair : raw.split("&")) {
            if (pair.isEmpty()) {
                continue;
            }
            int eq = pair.indexOf('=');
            try {
                String k = URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq), StandardCharsets.UTF_8);
                String v = eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
                into.put(k, v);
            } catch (IllegalArgumentException e) {
                throw new BadRequest("malformed parameter encoding: " + pair);
            }
        }
    }

    private static ObjectNode error(String message) {
        return JSON.createObjectNode().put("error", message);
    }

    private void resource(HttpExchange ex, String name) throws IOException {
        try (InputStream in = ServeServer.class.getResourceAsStream(name)) {
            if (in == null) {
                send(ex, 404, "text/plain", ("not found: " + name).getBytes(StandardCharsets.UTF_8));
                return;
            }
            send(ex, 200, contentType(name), in.readAllBytes());
        }
    }

    private static String contentType(String name) {
        if (name.endsWith(".html")) {
            return "text/html; charset=utf-8";
        }
        if (name.endsWith(".js")) {
            return "text/javascript; charset=utf-8";
        }
        if (name.endsWith(".css")) {
            return "text/css; charset=utf-8";
        }
        return "application/octet-stream";
    }

    private static void sendJson(HttpExchange ex, int status, ObjectNode o) throws IOException {
        send(ex, status, "application/json; charset=utf-8", JSON.writeValueAsBytes(o));
    }

    private static void send(HttpExchange ex, int status, String type, byte[] body) throws IOException {
        ex.getResponseHeaders().set("Content-Type", type);
        ex.getResponseHeaders().set("Cache-Control", "no-store");
        ex.sendResponseHeaders(status, body.length == 0 ? -1 : body.length);
        if (body.length > 0) {
            try (OutputStream out = ex.getResponseBody()) {
                out.write(body);
            }
        }
    }
}
