package dev.keepup.it;

import jakarta.websocket.CloseReason;
import jakarta.websocket.DeploymentException;
import jakarta.websocket.Endpoint;
import jakarta.websocket.EndpointConfig;
import jakarta.websocket.Session;
import jakarta.websocket.server.ServerEndpointConfig;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * A Tyrus 2.2 server on the Grizzly container, on 127.0.0.1 and an ephemeral port, for integration
 * tests.
 *
 * <pre>{@code
 * try (TyrusTestServer server = TyrusTestServer.start("/frames", session -> ...);
 *     JdkClient client = JdkClient.connect(server.uri("/frames"))) {
 *   Session serverSide = server.awaitSession(Duration.ofSeconds(5));
 * }
 * }</pre>
 *
 * <p>Programmatic endpoints get a fresh {@link Endpoint} per connection from a
 * {@link ServerEndpointConfig.Configurator#getEndpointInstance} override, which Tyrus honours
 * (it checks whether the configurator overrides that method). The container is a {@link
 * BoundGrizzlyContainer} rather than {@code org.glassfish.tyrus.server.Server} or Tyrus's own
 * Grizzly container: both of those listen on 0.0.0.0 whatever host name they are given, and
 * tests send traffic to loopback only. {@code Server} also only accepts classes, so per-test state
 * (the {@code onOpen} consumer) would have to travel through a static registry; the container
 * takes {@link ServerEndpointConfig} instances directly. Any number of servers can run in one
 * JVM; none shares state with another.
 *
 * <p>The port is chosen by the kernel when Grizzly binds port 0, so there is no window in
 * which another process could take a port picked beforehand. {@link #boundAddress()} reports
 * where the listening socket is bound; {@code TyrusTestServerIT} checks it is 127.0.0.1.
 */
public final class TyrusTestServer implements AutoCloseable {
  private static final Duration STOP_TIMEOUT = Duration.ofSeconds(10);
  /** The only address test servers listen on. */
  public static final String HOST = "127.0.0.1";

  private final BoundGrizzlyContainer container;
  private final int port;
  private final BlockingQueue<Session> opened = new LinkedBlockingQueue<>();
  private final List<Session> sessions = new CopyOnWriteArrayList<>();
  private final List<CloseReason> closeReasons = new CopyOnWriteArrayList<>();
  private final List<Throwable> errors = new CopyOnWriteArrayList<>();
  private volatile boolean closed;

  private TyrusTestServer(Builder builder) throws DeploymentException {
    container = new BoundGrizzlyContainer(HOST, new HashMap<>(builder.properties));
    try {
      for (Map.Entry<String, Supplier<? extends Endpoint>> e : builder.programmatic.entrySet()) {
        container.addEndpoint(config(e.getKey(), e.getValue()));
      }
      for (Class<?> annotated : builder.annotated) {
        container.addEndpoint(annotated);
      }
      container.start("/", 0);
      port = container.getPort();
    } catch (IOException | DeploymentException | RuntimeException e) {
      stopQuietly(container);
      if (e instanceof DeploymentException de) {
        throw de;
      }
      throw new DeploymentException("cannot start Tyrus: " + e, e);
    }
    if (port <= 0) {
      stopQuietly(container);
      throw new DeploymentException("Tyrus did not report its bound port: " + port);
    }
  }

  private static void stopQuietly(BoundGrizzlyContainer container) {
    try {
      container.stop();
    } catch (RuntimeException ignored) {
      // Best effort: the start failed already.
    }
  }

  /**
   * Starts a server with one programmatic endpoint at {@code path} that calls {@code onOpen}
   * for every new connection.
   */
  public static TyrusTestServer start(String path, Consumer<Session> onOpen)
      throws DeploymentException {
    return builder().endpoint(path, onOpen).start();
  }

  /** Starts a server with one annotated ({@code @ServerEndpoint}) endpoint class. */
  public static TyrusTestServer startAnnotated(Class<?> endpointClass) throws DeploymentException {
    return builder().annotated(endpointClass).start();
  }

  /** Returns a builder for a server with several endpoints or container properties. */
  public static Builder builder() {
    return new Builder();
  }

  /** The bound port. */
  public int port() {
    return port;
  }

  /** The address the listening socket is bound to, as the kernel reports it: 127.0.0.1. */
  public InetSocketAddress boundAddress() {
    return container.boundAddress();
  }

  /** {@code ws://127.0.0.1:<port><path>}; {@code path} must start with '/'. */
  public URI uri(String path) {
    checkPath(path);
    return URI.create("ws://" + HOST + ":" + port + path);
  }

  /**
   * Waits for the next server-side session to open on a programmatic endpoint and returns it,
   * in the order the sessions opened.
   *
   * @throws TimeoutException if none opens within {@code timeout}
   */
  public Session awaitSession(Duration timeout) throws InterruptedException, TimeoutException {
    Session s = opened.poll(timeout.toNanos(), TimeUnit.NANOSECONDS);
    if (s == null) {
      throw new TimeoutException("no session opened within " + timeout);
    }
    return s;
  }

  /** Every session opened so far on a programmatic endpoint. */
  public List<Session> sessions() {
    return List.copyOf(sessions);
  }

  /** Close reasons seen by programmatic endpoints' {@code onClose}, in order. */
  public List<CloseReason> closeReasons() {
    return List.copyOf(closeReasons);
  }

  /**
   * Waits until programmatic endpoints have seen at least {@code n} closes in total; false on
   * timeout.
   */
  public boolean awaitCloses(int n, Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    synchronized (closeReasons) {
      while (closeReasons.size() < n) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          return false;
        }
        TimeUnit.NANOSECONDS.timedWait(closeReasons, left);
      }
      return true;
    }
  }

  /** Errors seen by programmatic endpoints' {@code onError}, in order. */
  public List<Throwable> errors() {
    return List.copyOf(errors);
  }

  /**
   * Stops the server, closing its connections abruptly; waits at most 10 s so that a stuck
   * container cannot hang the test run.
   */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    CompletableFuture<Void> stop = new CompletableFuture<>();
    Thread stopper = new Thread(() -> {
      try {
        container.stop();
        stop.complete(null);
      } catch (Throwable t) {
        stop.completeExceptionally(t);
      }
    }, "tyrus-test-server-stop-" + port);
    stopper.setDaemon(true);
    stopper.start();
    try {
      stop.get(STOP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (ExecutionException e) {
      throw new IllegalStateException("stopping Tyrus failed", e.getCause());
    } catch (TimeoutException e) {
      throw new IllegalStateException("Tyrus did not stop within " + STOP_TIMEOUT);
    }
  }

  private ServerEndpointConfig config(String path, Supplier<? extends Endpoint> factory) {
    return ServerEndpointConfig.Builder.create(RecordingEndpoint.class, path)
        .configurator(new ServerEndpointConfig.Configurator() {
          @Override
          public <T> T getEndpointInstance(Class<T> endpointClass) {
            return endpointClass.cast(new RecordingEndpoint(factory.get(), TyrusTestServer.this));
          }
        })
        .build();
  }

  private static void checkPath(String path) {
    Objects.requireNonNull(path, "path");
    if (!path.startsWith("/")) {
      throw new IllegalArgumentException("path must start with '/': " + path);
    }
  }

  /**
   * Wraps the test's endpoint so the server can hand out sessions and record closes. Public
   * because Tyrus calls {@code onOpen}, {@code onClose} and {@code onError} reflectively.
   */
  public static final class RecordingEndpoint extends Endpoint {
    private final Endpoint delegate;
    private final TyrusTestServer server;

    RecordingEndpoint(Endpoint delegate, TyrusTestServer server) {
      this.delegate = Objects.requireNonNull(delegate, "endpoint factory returned null");
      this.server = server;
    }

    @Override
    public void onOpen(Session session, EndpointConfig config) {
      server.sessions.add(session);
      try {
        delegate.onOpen(session, config);
      } finally {
        // Published after the test's onOpen ran, so handlers it added are in place.
        server.opened.add(session);
      }
    }

    @Override
    public void onClose(Session session, CloseReason closeReason) {
      try {
        delegate.onClose(session, closeReason);
      } finally {
        synchronized (server.closeReasons) {
          server.closeReasons.add(closeReason);
          server.closeReasons.notifyAll();
        }
      }
    }

    @Override
    public void onError(Session session, Throwable thr) {
      server.errors.add(thr);
      delegate.onError(session, thr);
    }
  }

  /** Builder for a server with several endpoints; each endpoint path must be unique. */
  public static final class Builder {
    private final Map<String, Supplier<? extends Endpoint>> programmatic = new LinkedHashMap<>();
    private final List<Class<?>> annotated = new ArrayList<>();
    private final Map<String, Object> properties = new HashMap<>();

    private Builder() {}

    /** Adds a programmatic endpoint that calls {@code onOpen} for every new connection. */
    public Builder endpoint(String path, Consumer<Session> onOpen) {
      Objects.requireNonNull(onOpen, "onOpen");
      return endpoint(path, () -> new Endpoint() {
        @Override
        public void onOpen(Session session, EndpointConfig config) {
          onOpen.accept(session);
        }
      });
    }

    /** Adds a programmatic endpoint; {@code factory} supplies a new instance per connection. */
    public Builder endpoint(String path, Supplier<? extends Endpoint> factory) {
      checkPath(path);
      Objects.requireNonNull(factory, "factory");
      if (programmatic.putIfAbsent(path, factory) != null) {
        throw new IllegalArgumentException("path already has an endpoint: " + path);
      }
      return this;
    }

    /** Adds an annotated ({@code @ServerEndpoint}) endpoint class. */
    public Builder annotated(Class<?> endpointClass) {
      annotated.add(Objects.requireNonNull(endpointClass, "endpointClass"));
      return this;
    }

    /**
     * Sets a Tyrus container property, for example
     * {@code GrizzlyServerContainer.WORKER_THREAD_POOL_CONFIG}.
     */
    public Builder property(String key, Object value) {
      properties.put(Objects.requireNonNull(key, "key"), Objects.requireNonNull(value, "value"));
      return this;
    }

    /** Starts the server. */
    public TyrusTestServer start() throws DeploymentException {
      if (programmatic.isEmpty() && annotated.isEmpty()) {
        throw new IllegalStateException("no endpoint added");
      }
      return new TyrusTestServer(this);
    }
  }
}
