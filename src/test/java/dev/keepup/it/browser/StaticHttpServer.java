package dev.keepup.it.browser;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/**
 * Serves a few fixed files over HTTP/1.1 on 127.0.0.1 and a kernel-chosen port, for browser
 * tests: {@code GET} only, one request per connection, nothing cached.
 *
 * <p>Written on plain sockets because the tests are compiled into the {@code dev.keepup} module,
 * which does not read {@code jdk.httpserver}.
 *
 * <pre>{@code
 * try (StaticHttpServer http = StaticHttpServer.start()) {
 *   http.add("/index.html", "text/html", bytes);
 *   page.navigate(http.uri("/index.html").toString(), timeout);
 * }
 * }</pre>
 */
public final class StaticHttpServer implements AutoCloseable {
  private static final int MAX_HEADER_BYTES = 16 << 10;
  private static final int READ_TIMEOUT_MILLIS = 5_000;

  private record Resource(String contentType, byte[] body) {}

  private final ServerSocket server;
  private final ExecutorService workers;
  private final Map<String, Resource> resources = new ConcurrentHashMap<>();
  private volatile boolean closed;

  private StaticHttpServer() throws IOException {
    server = new ServerSocket();
    server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
    workers = Executors.newCachedThreadPool(task -> {
      Thread thread = new Thread(task, "static-http-" + server.getLocalPort());
      thread.setDaemon(true);
      return thread;
    });
    workers.execute(this::acceptLoop);
  }

  /** Starts a server with no files. */
  public static StaticHttpServer start() throws IOException {
    return new StaticHttpServer();
  }

  /** Serves {@code body} at {@code path} (which must start with '/'); replaces what was there. */
  public StaticHttpServer add(String path, String contentType, byte[] body) {
    if (!path.startsWith("/")) {
      throw new IllegalArgumentException("path must start with '/': " + path);
    }
    resources.put(path, new Resource(Objects.requireNonNull(contentType, "contentType"), body.clone()));
    return this;
  }

  /**
   * Serves the class path resource {@code name} at {@code path}.
   *
   * @throws IllegalArgumentException if there is no such resource
   */
  public StaticHttpServer addResource(String path, String contentType, String name) {
    try (InputStream in = StaticHttpServer.class.getClassLoader().getResourceAsStream(name)) {
      if (in == null) {
        throw new IllegalArgumentException("no class path resource " + name);
      }
      return add(path, contentType, in.readAllBytes());
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + name, e);
    }
  }

  /** {@code http://127.0.0.1:<port><path>}. */
  public URI uri(String path) {
    return URI.create("http://127.0.0.1:" + server.getLocalPort() + path);
  }

  private void acceptLoop() {
    while (!closed) {
      try {
        Socket socket = server.accept();
        workers.execute(() -> serve(socket));
      } catch (IOException e) {
        if (!closed) {
          System.err.println("StaticHttpServer: accept failed: " + e);
        }
        return;
      }
    }
  }

  private void serve(Socket socket) {
    try (socket) {
      socket.setSoTimeout(READ_TIMEOUT_MILLIS);
      String head = readHead(socket.getInputStream());
      if (head == null) {
        return; // a speculative connection, closed unused
      }
      String[] requestLine = head.split("\r\n", 2)[0].split(" ");
      OutputStream out = socket.getOutputStream();
      if (requestLine.length != 3) {
        respond(out, "400 Bad Request", "text/plain", "bad request line\n".getBytes(StandardCharsets.UTF_8));
      } else if (!requestLine[0].equals("GET")) {
        respond(out, "405 Method Not Allowed", "text/plain", "GET only\n".getBytes(StandardCharsets.UTF_8));
      } else {
        String path = requestLine[1].split("[?#]", 2)[0];
        Resource resource = resources.get(path);
        if (resource == null) {
          respond(out, "404 Not Found", "text/plain", ("no " + path + "\n").getBytes(StandardCharsets.UTF_8));
        } else {
          respond(out, "200 OK", resource.contentType(), resource.body());
        }
      }
    } catch (SocketException gone) {
      // The browser gave up on the connection; nothing to answer.
    } catch (IOException | RuntimeException e) {
      if (!closed) {
        System.err.println("StaticHttpServer: " + e);
      }
    }
  }

  /** Returns the request line and headers, or null if the connection closed before any byte. */
  private static String readHead(InputStream in) throws IOException {
    ByteArrayOutputStream head = new ByteArrayOutputStream();
    int matched = 0;
    while (matched < 4) {
      int b = in.read();
      if (b < 0) {
        if (head.size() == 0) {
          return null;
        }
        throw new IOException("connection closed inside the request head");
      }
      head.write(b);
      if (head.size() > MAX_HEADER_BYTES) {
        throw new IOException("request head over " + MAX_HEADER_BYTES + " bytes");
      }
      matched = (b == (matched % 2 == 0 ? '\r' : '\n')) ? matched + 1 : (b == '\r' ? 1 : 0);
    }
    return head.toString(StandardCharsets.ISO_8859_1);
  }

  private static void respond(OutputStream out, String status, String contentType, byte[] body)
      throws IOException {
    String head = "HTTP/1.1 " + status + "\r\n"
        + "Content-Type: " + contentType + "\r\n"
        + "Content-Length: " + body.length + "\r\n"
        + "Cache-Control: no-store\r\n"
        + "Connection: close\r\n\r\n";
    out.write(head.getBytes(StandardCharsets.ISO_8859_1));
    out.write(body);
    out.flush();
  }

  /** Stops accepting and waits at most 5 s for requests in progress. */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    try {
      server.close();
    } catch (IOException ignored) {
      // Closing anyway.
    }
    workers.shutdownNow();
    try {
      workers.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
