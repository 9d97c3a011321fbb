package dev.keepup.demo;

import jakarta.websocket.DeploymentException;
import jakarta.websocket.server.ServerEndpointConfig;
import java.io.IOException;
import java.lang.reflect.Constructor;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;
import org.glassfish.grizzly.http.server.AddOn;
import org.glassfish.grizzly.http.server.HttpServer;
import org.glassfish.grizzly.http.server.NetworkListener;
import org.glassfish.grizzly.http.server.StaticHttpHandler;
import org.glassfish.grizzly.nio.transport.TCPNIOTransportBuilder;
import org.glassfish.grizzly.strategies.WorkerThreadIOStrategy;
import org.glassfish.grizzly.threadpool.ThreadPoolConfig;
import org.glassfish.tyrus.container.grizzly.server.GrizzlyServerContainer;
import org.glassfish.tyrus.container.grizzly.server.WebSocketAddOn;
import org.glassfish.tyrus.core.TyrusWebSocketEngine;
import org.glassfish.tyrus.core.Utils;
import org.glassfish.tyrus.server.Server;
import org.glassfish.tyrus.server.TyrusServerContainer;
import org.glassfish.tyrus.spi.ServerContainer;
import org.glassfish.tyrus.spi.WebSocketEngine;

/**
 * A Tyrus 2.2 server container on Grizzly that listens on one given address: the demo listens on
 * {@code 127.0.0.1} unless started with {@code --host}. It also serves static files from a folder
 * ({@code org.glassfish.tyrus.server.Server.STATIC_CONTENT_ROOT}), as Tyrus's container does.
 *
 * <p>Why not Tyrus's own container: {@code
 * GrizzlyServerContainer.TyrusGrizzlyServerContainer.start} creates {@code new
 * NetworkListener("grizzly", "0.0.0.0", port)}, a literal, in Tyrus 2.2.0 to 2.2.2 and on Tyrus's
 * master branch alike; {@code org.glassfish.tyrus.server.Server(hostName, ...)} keeps its host name
 * only for the URL it logs. So this class does what that one does, with the host as a parameter: a
 * Grizzly {@link HttpServer} with one {@link NetworkListener}, worker-thread IO strategy, no idle
 * timeout, and Tyrus's {@link WebSocketAddOn} in the filter chain. It honours the engine properties
 * Tyrus's container reads ({@link TyrusWebSocketEngine#INCOMING_BUFFER_SIZE}, {@link
 * TyrusWebSocketEngine#MAX_SESSIONS_PER_APP}, {@link
 * TyrusWebSocketEngine#MAX_SESSIONS_PER_REMOTE_ADDR}) {@link
 * GrizzlyServerContainer#WORKER_THREAD_POOL_CONFIG} / {@link
 * GrizzlyServerContainer#SELECTOR_THREAD_POOL_CONFIG} and {@code STATIC_CONTENT_ROOT}; not WSADL.
 * The library's tests use a twin of this class ({@code dev.keepup.it.BoundGrizzlyContainer},
 * without static content) for their servers on 127.0.0.1.
 *
 * <p>{@link WebSocketAddOn} is public ("to allow other developers use this with their own
 * GrizzlyServerContainer alternative", its source says) but its constructor is package-private,
 * so it is called reflectively; the demo runs on the class path, where that is allowed. If a Tyrus
 * upgrade changes that constructor, {@link #start} fails loudly rather than binding elsewhere.
 */
final class BoundGrizzlyContainer extends TyrusServerContainer {
  private static final String LISTENER = "grizzly";

  private final String host;
  private final Map<String, Object> properties;
  private final WebSocketEngine engine;
  private volatile String contextPath = "/";
  private volatile HttpServer server;
  private volatile NetworkListener listener;

  /**
   * @param host the address to listen on, for example {@code "127.0.0.1"}
   * @param properties Tyrus container properties (see the class comment for those honoured)
   */
  BoundGrizzlyContainer(String host, Map<String, Object> properties) {
    super((java.util.Set<Class<?>>) null);
    this.host = Objects.requireNonNull(host, "host");
    this.properties = new HashMap<>(properties);
    this.engine = TyrusWebSocketEngine.builder(this)
        .incomingBufferSize(Utils.getProperty(this.properties, TyrusWebSocketEngine.INCOMING_BUFFER_SIZE, Integer.class))
        .maxSessionsPerApp(Utils.getProperty(this.properties, TyrusWebSocketEngine.MAX_SESSIONS_PER_APP, Integer.class))
        .maxSessionsPerRemoteAddr(
            Utils.getProperty(this.properties, TyrusWebSocketEngine.MAX_SESSIONS_PER_REMOTE_ADDR, Integer.class))
        .build();
  }

  @Override
  public void register(Class<?> endpointClass) throws DeploymentException {
    engine.register(endpointClass, contextPath);
  }

  @Override
  public void register(ServerEndpointConfig serverEndpointConfig) throws DeploymentException {
    engine.register(serverEndpointConfig, contextPath);
  }

  /**
   * The container's properties, as given. Abstract in {@code BaseContainer} since Tyrus 2.2.1,
   * which hands the map to {@code VirtualThreadUtil} when it builds its executors.
   */
  @Override
  public Map<String, Object> getProperties() {
    return properties;
  }

  @Override
  public WebSocketEngine getWebSocketEngine() {
    return engine;
  }

  @Override
  public void start(String rootPath, int port) throws IOException, DeploymentException {
    contextPath = rootPath;
    HttpServer http = new HttpServer();
    NetworkListener net = new NetworkListener(LISTENER, host, port);
    http.addListener(net);
    ThreadPoolConfig workers = Utils.getProperty(properties, GrizzlyServerContainer.WORKER_THREAD_POOL_CONFIG,
        ThreadPoolConfig.class);
    ThreadPoolConfig selectors = Utils.getProperty(properties, GrizzlyServerContainer.SELECTOR_THREAD_POOL_CONFIG,
        ThreadPoolConfig.class);
    if (workers != null || selectors != null) {
      TCPNIOTransportBuilder transport = TCPNIOTransportBuilder.newInstance();
      if (workers != null) {
        transport.setWorkerThreadPoolConfig(workers);
      }
      if (selectors != null) {
        transport.setSelectorThreadPoolConfig(selectors);
      }
      transport.setIOStrategy(WorkerThreadIOStrategy.getInstance());
      net.setTransport(transport.build());
    } else {
      net.getTransport().setIOStrategy(WorkerThreadIOStrategy.getInstance());
    }
    net.getKeepAlive().setIdleTimeoutInSeconds(-1);
    net.registerAddOn(webSocketAddOn(this, rootPath));
    Object staticRoot = properties.get(Server.STATIC_CONTENT_ROOT);
    if (staticRoot != null && !staticRoot.toString().isEmpty()) {
      http.getServerConfiguration().addHttpHandler(new StaticHttpHandler(staticRoot.toString()));
    }
    server = http;
    listener = net;
    http.start();
    super.start(rootPath, port);
  }

  /** The port the listener is bound to; -1 before {@link #start}. */
  @Override
  public int getPort() {
    NetworkListener net = listener;
    return net != null && net.getPort() > 0 ? net.getPort() : -1;
  }

  /** The address the listening socket is actually bound to, as the kernel reports it. */
  InetSocketAddress boundAddress() {
    NetworkListener net = listener;
    if (net == null || net.getServerConnection() == null) {
      throw new IllegalStateException("not started");
    }
    SocketAddress local = (SocketAddress) net.getServerConnection().getLocalAddress();
    return (InetSocketAddress) local;
  }

  @Override
  public void stop() {
    super.stop();
    HttpServer http = server;
    if (http != null) {
      http.shutdownNow();
    }
  }

  private static AddOn webSocketAddOn(ServerContainer container, String contextPath) throws DeploymentException {
    try {
      Constructor<WebSocketAddOn> constructor =
          WebSocketAddOn.class.getDeclaredConstructor(ServerContainer.class, String.class);
      constructor.setAccessible(true);
      return constructor.newInstance(container, contextPath);
    } catch (ReflectiveOperationException | RuntimeException e) {
      throw new DeploymentException("cannot create Tyrus's WebSocketAddOn (has Tyrus changed?): " + e, e);
    }
  }
}
