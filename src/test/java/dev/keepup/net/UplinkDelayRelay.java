package dev.keepup.net;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.Arrays;
import java.util.Objects;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A TCP relay on 127.0.0.1 that delays the client-to-server direction ("uplink") by a fixed
 * time and passes the other direction straight through, for tests and benchmarks.
 *
 * <p>{@link ShapingRelay} puts all of its propagation delay on the downlink, so pongs and acks
 * return at loopback speed. Chained in front of it (client -> this relay -> shaping relay ->
 * server) this relay adds the missing half: 20 ms here plus 20 ms there is a symmetric 40 ms
 * round trip, as a real path has and as {@code SimulatedLink} models.
 *
 * <p>The delay line is unbounded in bytes (uplinks carry acks, pongs and the handshake, a few
 * KB/s), so it never pushes back. The downlink copy uses default socket buffers: the relay sits
 * after the bottleneck, in front of a client that reads, so nothing queues in it. Threads: one
 * acceptor, three per connection, all daemons; {@link #close()} closes every socket and stops
 * them. A FIN from either side is passed on after the bytes before it.
 */
public final class UplinkDelayRelay implements AutoCloseable {
  private static final int BUFFER_BYTES = 16 * 1024;
  private static final int CONNECT_TIMEOUT_MILLIS = 5_000;

  private final InetSocketAddress target;
  private final long delayNanos;
  private final ServerSocket listener;
  private final CopyOnWriteArrayList<Socket> sockets = new CopyOnWriteArrayList<>();
  private volatile boolean closed;

  private UplinkDelayRelay(InetSocketAddress target, Duration delay) throws IOException {
    this.target = Objects.requireNonNull(target, "target");
    Objects.requireNonNull(delay, "delay");
    if (delay.isNegative()) {
      throw new IllegalArgumentException("delay must be >= 0: " + delay);
    }
    this.delayNanos = delay.toNanos();
    this.listener = new ServerSocket();
    try {
      listener.bind(new InetSocketAddress(InetAddress.getByAddress(new byte[] {127, 0, 0, 1}), 0));
    } catch (IOException e) {
      listener.close();
      throw e;
    }
    daemon("uplink-delay-" + port() + "-accept", this::acceptLoop);
  }

  /**
   * Starts a relay to {@code target} that delays client-to-server bytes by {@code delay}.
   *
   * @throws IOException if no port can be bound
   */
  public static UplinkDelayRelay start(InetSocketAddress target, Duration delay) throws IOException {
    return new UplinkDelayRelay(target, delay);
  }

  /** The port on 127.0.0.1 that clients connect to. */
  public int port() {
    return listener.getLocalPort();
  }

  /** Stops accepting and closes every connection abruptly. Idempotent. */
  @Override
  public void close() {
    closed = true;
    try {
      listener.close();
    } catch (IOException ignored) {
      // Being discarded anyway.
    }
    for (Socket s : sockets) {
      closeQuietly(s);
    }
  }

  private void acceptLoop() {
    while (!closed) {
      Socket client;
      try {
        client = listener.accept();
      } catch (IOException e) {
        return;
      }
      sockets.add(client);
      daemon("uplink-delay-" + port() + "-conn", () -> relay(client));
    }
  }

  private record Chunk(byte[] data, long dueNanos) {}

  private static final Chunk EOF = new Chunk(new byte[0], 0);

  private void relay(Socket client) {
    Socket server = new Socket();
    sockets.add(server);
    try {
      client.setTcpNoDelay(true);
      server.setTcpNoDelay(true);
      server.connect(target, CONNECT_TIMEOUT_MILLIS);
    } catch (IOException e) {
      closeQuietly(client);
      closeQuietly(server);
      return;
    }
    LinkedBlockingQueue<Chunk> line = new LinkedBlockingQueue<>();
    daemon("uplink-delay-" + port() + "-down", () -> copy(server, client));
    daemon("uplink-delay-" + port() + "-up-write", () -> drain(line, client, server));
    try {
      InputStream in = client.getInputStream();
      byte[] buf = new byte[BUFFER_BYTES];
      int n;
      while ((n = in.read(buf)) >= 0) {
        line.add(new Chunk(Arrays.copyOf(buf, n), System.nanoTime() + delayNanos));
      }
      line.add(EOF);
    } catch (IOException e) {
      closeQuietly(client);
      closeQuietly(server);
      line.add(EOF);
    }
  }

  /** Writes each uplink chunk to the server once it is due. */
  private void drain(LinkedBlockingQueue<Chunk> line, Socket client, Socket server) {
    try {
      OutputStream out = server.getOutputStream();
      while (true) {
        Chunk chunk = line.poll(1, TimeUnit.SECONDS);
        if (chunk == null) {
          if (server.isClosed()) {
            return;
          }
          continue;
        }
        if (chunk == EOF) {
          server.shutdownOutput();
          return;
        }
        long wait;
        while ((wait = chunk.dueNanos - System.nanoTime()) > 0) {
          TimeUnit.NANOSECONDS.sleep(wait);
        }
        out.write(chunk.data);
      }
    } catch (IOException | InterruptedException e) {
      closeQuietly(client);
      closeQuietly(server);
    }
  }

  private static void copy(Socket from, Socket to) {
    try {
      InputStream in = from.getInputStream();
      OutputStream out = to.getOutputStream();
      byte[] buf = new byte[BUFFER_BYTES];
      int n;
      while ((n = in.read(buf)) >= 0) {
        out.write(buf, 0, n);
      }
      to.shutdownOutput();
    } catch (IOException e) {
      closeQuietly(from);
      closeQuietly(to);
    }
  }

  private static void daemon(String name, Runnable body) {
    Thread t = new Thread(body, name);
    t.setDaemon(true);
    t.start();
  }

  private static void closeQuietly(Socket s) {
    try {
      s.close();
    } catch (IOException ignored) {
      // Best effort.
    }
  }
}
