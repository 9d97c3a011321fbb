package dev.keepup.demo;

import jakarta.websocket.CloseReason;
import jakarta.websocket.DeploymentException;
import jakarta.websocket.Endpoint;
import jakarta.websocket.EndpointConfig;
import jakarta.websocket.Session;
import jakarta.websocket.server.ServerEndpointConfig;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.BindException;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.LocalTime;
import java.time.format.DateTimeFormatter;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.stream.Stream;
import org.glassfish.tyrus.server.Server;

/**
 * The keepup live demo: a Tyrus server on Grizzly serving the page and a WebSocket endpoint
 * ({@value #STREAM_PATH}) on one port. Every tab that connects gets a {@link Viewer}: a {@code
 * PacedSender} reading the shared {@link Camera} through the tab's own {@link ThrottledLink}.
 *
 * <pre>
 * ./examples/run-demo.sh [--host 127.0.0.1] [--port 8080] [--fps 30] [--log-decisions]
 * </pre>
 *
 * <p>The page and {@code /keepup/keepup-client.js} (from the keepup jar) are copied from the
 * class path into a temporary folder that Tyrus's Grizzly container serves as static content
 * ({@link Server#STATIC_CONTENT_ROOT}); that container serves files only from a folder. It
 * listens on 127.0.0.1 unless told otherwise ({@code --host 0.0.0.0} for every interface): the
 * container is a {@link BoundGrizzlyContainer}, as Tyrus's own Grizzly container always binds
 * 0.0.0.0.
 */
public final class DemoServer implements AutoCloseable {
  static final String STREAM_PATH = "/stream";
  static final String DEFAULT_HOST = "127.0.0.1";
  static final int DEFAULT_PORT = 8080;
  static final double DEFAULT_FPS = 30;
  private static final List<String> PAGE_FILES = List.of("index.html", "demo.js", "demo.css");
  private static final String CLIENT_JS = "META-INF/resources/keepup/keepup-client.js";
  private static final DateTimeFormatter CLOCK = DateTimeFormatter.ofPattern("HH:mm:ss");
  private static final String USAGE = "usage: run-demo.sh [--host H] [--port N] [--fps N] [--log-decisions]\n"
      + "  --host H          address to listen on (default 127.0.0.1, this machine only;\n"
      + "                    0.0.0.0 for every interface, to watch from another machine)\n"
      + "  --port N          HTTP and WebSocket port (default 8080; 0 for any free port)\n"
      + "  --fps N           camera frame rate, 1-60 (default 30)\n"
      + "  --log-decisions   print each tab's adaptation decisions and verdict changes";
  /** Held so the level set on it stays set (the logging framework keeps loggers weakly). */
  private static final Logger TYRUS_LOG = Logger.getLogger("org.glassfish");

  private final Camera camera;
  private final Path webRoot;
  private final BoundGrizzlyContainer container;
  private final int port;
  private final ScheduledExecutorService drainer;
  private final ScheduledExecutorService reporter;
  private final List<Viewer> viewers = new CopyOnWriteArrayList<>();
  private final AtomicInteger tabs = new AtomicInteger();
  private final AtomicBoolean closed = new AtomicBoolean();
  private final CountDownLatch stopped = new CountDownLatch(1);
  private final Options options;

  /**
   * How to run the demo.
   *
   * @param host the address to listen on: 127.0.0.1 by default, 0.0.0.0 for every interface
   * @param port the port to listen on; 0 for any free one
   * @param fps the camera's frame rate, which is also each sender's target
   * @param table whether to print the per-tab table every 2 s
   * @param logDecisions whether to print every sender's decisions and verdict changes
   */
  public record Options(String host, int port, double fps, boolean table, boolean logDecisions) {
    public Options {
      Objects.requireNonNull(host, "host");
    }

    /** The defaults: 127.0.0.1, port 8080, 30 fps, the table on, decisions not logged. */
    public static Options defaults() {
      return new Options(DEFAULT_HOST, DEFAULT_PORT, DEFAULT_FPS, true, false);
    }

    public Options withHost(String host) {
      return new Options(host, port, fps, table, logDecisions);
    }

    public Options withPort(int port) {
      return new Options(host, port, fps, table, logDecisions);
    }

    public Options withLogDecisions(boolean logDecisions) {
      return new Options(host, port, fps, table, logDecisions);
    }
  }

  private DemoServer(Options options) throws IOException, DeploymentException {
    this.options = options;
    int port = options.port();
    this.camera = new Camera(options.fps());
    this.webRoot = copyWebRoot();
    this.drainer = daemonScheduler("demo-link");
    this.reporter = daemonScheduler("demo-stats");
    Map<String, Object> properties = new HashMap<>();
    properties.put(Server.STATIC_CONTENT_ROOT, webRoot.toString());
    BoundGrizzlyContainer started = null;
    try {
      started = new BoundGrizzlyContainer(options.host(), properties);
      started.addEndpoint(ServerEndpointConfig.Builder.create(StreamEndpoint.class, STREAM_PATH)
          .configurator(new ServerEndpointConfig.Configurator() {
            @Override
            public <T> T getEndpointInstance(Class<T> endpointClass) {
              return endpointClass.cast(new StreamEndpoint(DemoServer.this));
            }
          })
          .build());
      started.start("/", port);
      this.container = started;
      this.port = started.getPort();
    } catch (IOException | DeploymentException | RuntimeException e) {
      stopQuietly(started);
      drainer.shutdownNow();
      reporter.shutdownNow();
      camera.close();
      deleteTree(webRoot);
      throw e;
    }
    camera.start();
    reporter.scheduleAtFixedRate(this::pushStats, 500, 500, TimeUnit.MILLISECONDS);
    if (options.table()) {
      reporter.scheduleAtFixedRate(this::printTable, 2, 2, TimeUnit.SECONDS);
    }
  }

  /**
   * Starts the demo.
   *
   * @throws IOException if the port is taken or the page cannot be prepared
   */
  public static DemoServer start(Options options) throws IOException, DeploymentException {
    return new DemoServer(options);
  }

  public int port() {
    return port;
  }

  /** The address the listening socket is bound to, as the kernel reports it. */
  public InetSocketAddress boundAddress() {
    return container.boundAddress();
  }

  /**
   * The page's address: {@code http://localhost:<port>/} when listening on 127.0.0.1 (or ::1) or on
   * every interface, else the address given with {@code --host}.
   */
  public URI uri() {
    InetAddress address = boundAddress().getAddress();
    boolean local = address.isAnyLocalAddress() || address.getHostAddress().equals("127.0.0.1")
        || address.equals(InetAddress.getLoopbackAddress());
    String host = local ? "localhost"
        : address instanceof Inet6Address ? "[" + address.getHostAddress() + "]" : address.getHostAddress();
    return URI.create("http://" + host + ":" + port + "/");
  }

  /** The camera's ladder, as the senders see it. */
  Camera camera() {
    return camera;
  }

  /** Blocks until {@link #close()} has finished. */
  public void awaitClose() throws InterruptedException {
    stopped.await();
  }

  /**
   * Stops the senders, closes every tab's socket (1001, going away), stops the camera and the
   * server, and deletes the page's temporary folder; idempotent, bounded (about 10 s at most).
   */
  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    try {
      reporter.shutdownNow();
      for (Viewer viewer : viewers) {
        viewer.close(true);
      }
      viewers.clear();
      camera.close();
      stopContainer();
      drainer.shutdownNow();
      deleteTree(webRoot);
    } finally {
      stopped.countDown();
    }
  }

  private void stopContainer() {
    // Tyrus's stop() can hang on a connection that will not close: bounded.
    CompletableFuture<Void> stop = CompletableFuture.runAsync(() -> stopQuietly(container), runnable -> {
      Thread thread = new Thread(runnable, "demo-stop");
      thread.setDaemon(true);
      thread.start();
    });
    try {
      stop.get(10, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (Exception e) {
      System.err.println("demo: the server did not stop cleanly: " + e);
    }
  }

  private static void stopQuietly(BoundGrizzlyContainer container) {
    if (container == null) {
      return;
    }
    try {
      container.stop();
    } catch (RuntimeException ignored) {
      // Best effort.
    }
  }

  void opened(Session session, StreamEndpoint endpoint) {
    if (closed.get()) {
      closeQuietly(session);
      return;
    }
    int number = tabs.incrementAndGet();
    Viewer viewer = new Viewer(number, session, camera, new ThrottledLink(session, drainer), options.logDecisions());
    endpoint.viewer = viewer;
    viewers.add(viewer);
    viewer.start();
    System.out.printf("%s tab #%d connected (%d watching)%n", now(), number, viewers.size());
  }

  void closed(StreamEndpoint endpoint) {
    Viewer viewer = endpoint.viewer;
    if (viewer != null && viewers.remove(viewer)) {
      viewer.close(false);
      System.out.printf("%s tab #%d left (%d watching)%n", now(), viewer.number(), viewers.size());
    }
  }

  private void pushStats() {
    for (Viewer viewer : viewers) {
      try {
        viewer.pushStats();
      } catch (RuntimeException e) {
        System.err.println("demo: stats for tab #" + viewer.number() + " failed: " + e);
      }
    }
  }

  private void printTable() {
    if (viewers.isEmpty()) {
      return;
    }
    StringBuilder table = new StringBuilder();
    table.append(String.format(Locale.ROOT, "%s  %d watching; camera: %d of %d renditions, %.1f ms a frame%n",
        now(), viewers.size(), camera.renditionsEncoded(), camera.ladder().size(), camera.encodeMillis()));
    table.append(Viewer.tableHeader()).append('\n');
    for (Viewer viewer : viewers) {
      table.append(viewer.tableRow()).append('\n');
    }
    System.out.print(table);
    System.out.flush();
  }

  private static String now() {
    return LocalTime.now().format(CLOCK);
  }

  /** Copies the page and keepup-client.js from the class path into a new temporary folder. */
  private static Path copyWebRoot() throws IOException {
    Path root = Files.createTempDirectory("keepup-demo-web-");
    try {
      for (String file : PAGE_FILES) {
        copyResource("demo/" + file, root.resolve(file));
      }
      copyResource(CLIENT_JS, root.resolve("keepup/keepup-client.js"));
      return root;
    } catch (IOException | RuntimeException e) {
      deleteTree(root);
      throw e;
    }
  }

  private static void copyResource(String name, Path target) throws IOException {
    try (InputStream in = DemoServer.class.getClassLoader().getResourceAsStream(name)) {
      if (in == null) {
        throw new IOException("no class path resource " + name + " (is the keepup jar on the class path?)");
      }
      Files.createDirectories(target.getParent());
      Files.copy(in, target, StandardCopyOption.REPLACE_EXISTING);
    }
  }

  private static void deleteTree(Path root) {
    if (root == null || !Files.exists(root)) {
      return;
    }
    try (Stream<Path> paths = Files.walk(root)) {
      paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException | UncheckedIOException ignored) {
      // A temporary folder; the OS cleans up what is left.
    }
  }

  private static ScheduledExecutorService daemonScheduler(String name) {
    return Executors.newSingleThreadScheduledExecutor(task -> {
      Thread thread = new Thread(task, name);
      thread.setDaemon(true);
      return thread;
    });
  }

  private static void closeQuietly(Session session) {
    try {
      session.close(new CloseReason(CloseReason.CloseCodes.GOING_AWAY, "demo server stopping"));
    } catch (IOException | RuntimeException ignored) {
      // Going anyway.
    }
  }

  /**
   * The WebSocket endpoint: one instance per connection. Public because Tyrus calls its methods
   * reflectively.
   */
  public static final class StreamEndpoint extends Endpoint {
    private final DemoServer server;
    volatile Viewer viewer;

    StreamEndpoint(DemoServer server) {
      this.server = server;
    }

    @Override
    public void onOpen(Session session, EndpointConfig config) {
      server.opened(session, this);
    }

    @Override
    public void onClose(Session session, CloseReason closeReason) {
      server.closed(this);
    }

    @Override
    public void onError(Session session, Throwable error) {
      // Tyrus reports a tab that went away mid-send here, before onClose; nothing to do.
      if (!(error instanceof IOException)) {
        System.err.println("demo: socket error: " + error);
      }
    }
  }

  /**
   * Runs the demo until Ctrl-C. Options: {@code --host H} (default 127.0.0.1), {@code --port N}
   * (default 8080), {@code --fps N} (default 30), {@code --log-decisions}.
   */
  public static void main(String[] args) throws Exception {
    TYRUS_LOG.setLevel(Level.WARNING); // Grizzly's "Started listener" lines
    String host = DEFAULT_HOST;
    int port = DEFAULT_PORT;
    double fps = DEFAULT_FPS;
    boolean logDecisions = false;
    for (int i = 0; i < args.length; i++) {
      String arg = args[i];
      boolean inline = arg.contains("=");
      String name = inline ? arg.substring(0, arg.indexOf('=')) : arg;
      String value = inline ? arg.substring(arg.indexOf('=') + 1) : i + 1 < args.length ? args[i + 1] : null;
      switch (name) {
        case "--host" -> {
          if (value == null || value.isBlank()) {
            usage("--host needs an address, such as 127.0.0.1 or 0.0.0.0");
          }
          host = value.trim();
          i += inline ? 0 : 1;
        }
        case "--port", "-p" -> {
          port = parse(name, value, 0, 65_535);
          i += inline ? 0 : 1;
        }
        case "--fps" -> {
          fps = parse(name, value, 1, 60);
          i += inline ? 0 : 1;
        }
        case "--log-decisions" -> logDecisions = true;
        case "--help", "-h" -> {
          System.out.println(USAGE);
          return;
        }
        default -> usage("unknown option " + arg);
      }
    }

    System.out.println("keepup demo: measuring the camera's renditions...");
    DemoServer server;
    try {
      server = start(new Options(host, port, fps, true, logDecisions));
    } catch (IOException e) {
      if (e instanceof BindException || e.getCause() instanceof BindException) {
        usage("cannot listen on " + host + ":" + port + " (" + e.getMessage() + "); try --port " + (port + 1)
            + " or another --host");
      }
      throw e;
    }
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      System.out.println();
      System.out.println("keepup demo: stopping...");
      server.close();
      System.out.println("keepup demo: stopped.");
    }, "demo-shutdown"));

    Camera camera = server.camera();
    long[] sizes = camera.measuredFrameBytes();
    System.out.printf(Locale.ROOT, "Ladder (camera at %.0f fps, one encoder shared by every tab):%n", camera.fps());
    for (int i = 0; i < sizes.length; i++) {
      System.out.printf(Locale.ROOT, "  %d  %-15s %6.1f KB a frame  %s%n", i, camera.ladder().rendition(i).label(),
          sizes[i] / 1024.0, Format.rate(camera.ladder().bitsPerSecond(i)));
    }
    System.out.println();
    InetAddress bound = server.boundAddress().getAddress();
    System.out.println("keepup demo running: open " + server.uri() + "   (Ctrl-C to stop)");
    System.out.println(bound.isAnyLocalAddress() ? "  listening on every interface: other machines can watch too"
        : bound.isLoopbackAddress() ? "  listening on " + bound.getHostAddress()
            + " only (this machine); --host 0.0.0.0 to let other machines watch"
        : "  listening on " + bound.getHostAddress() + " only");
    System.out.println();
    server.awaitClose();
  }

  private static int parse(String name, String value, int min, int max) {
    try {
      int parsed = Integer.parseInt(value == null ? "" : value.trim());
      if (parsed < min || parsed > max) {
        usage(name + " must be in [" + min + ", " + max + "]: " + value);
      }
      return parsed;
    } catch (NumberFormatException e) {
      usage(name + " needs a number: " + value);
      return -1;
    }
  }

  private static void usage(String problem) {
    System.err.println("keepup demo: " + problem);
    System.err.println(USAGE);
    System.exit(2);
  }
}
