package dev.keepup.it;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Locale;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.BooleanSupplier;

/**
 * A {@code java.net.http.WebSocket} client that records what it receives and reads as fast or
 * as slowly as a test asks, for integration tests.
 *
 * <pre>{@code
 * try (JdkClient client = JdkClient.builder(server.uri("/frames")).paced(200_000).connect()) {
 *   assertThat(client.awaitMessages(10, Duration.ofSeconds(5))).isTrue();
 * }
 * }</pre>
 *
 * <p>The JDK client delivers one callback (a binary or text part, a ping, a pong) per unit of
 * demand and reads the socket only while demand is outstanding, so the pace of {@code request(1)}
 * calls is the pace at which this client reads: a paced or paused client pushes back on the
 * server through TCP like a slow device would. This client keeps at most one request
 * outstanding. Reading modes:
 *
 * <ul>
 *   <li>fast (the default): {@code request(1)} right after every callback;
 *   <li>{@link Builder#paced(long) paced}: a part of {@code b} bytes takes {@code b /
 *       bytesPerSecond} seconds to read, from when the JDK hands it over or the previous part
 *       was read, whichever is later; it counts as received (a message recorded, acked) and
 *       the next request goes at the end of that time, so the client consumes at most {@code
 *       bytesPerSecond} on average and its clock is that of a reader at that rate;
 *   <li>{@link #pauseReading() paused}: no request at all until {@link #resumeReading()}.
 * </ul>
 *
 * <p>The JDK client answers a ping itself, but only when the ping's own callback is due, that is
 * after the application has requested every message before it (see {@code HarnessIT}). A paused
 * client therefore answers no pings.
 *
 * <p>Binary messages arrive in parts (the {@code last} flag); parts are reassembled and each
 * message is recorded once complete, with {@link System#nanoTime()} timestamps. Every wait is
 * bounded. Callbacks from the JDK are sequential; the recorded state is guarded by this
 * object's monitor.
 */
public final class JdkClient implements AutoCloseable {
  /** One JDK HTTP client for all test clients; it holds a selector thread, not per-socket state. */
  private static final HttpClient HTTP = HttpClient.newHttpClient();

  private static final Duration CLOSE_TIMEOUT = Duration.ofSeconds(5);

  private final long bytesPerSecond;
  private final boolean keepPayloads;
  private final boolean clientAcks;
  private final ScheduledExecutorService pacer;

  // Guarded by this.
  private final List<Message> messages = new ArrayList<>();
  private final List<String> texts = new ArrayList<>();
  private final List<Ping> pings = new ArrayList<>();
  private final List<Long> pongNanos = new ArrayList<>();
  private final List<Long> requestNanos = new ArrayList<>();
  private ByteBuffer partial;
  private int partialSize;
  private boolean inBinary;
  private long firstPartNanos;
  private final StringBuilder partialText = new StringBuilder();
  private boolean paused;
  private boolean owed;
  private long nextReadNanos;
  private WebSocket webSocket;
  private Close close;
  private Throwable error;
  private boolean ackSending;
  private String ackQueued;
  private long acksSent;

  private JdkClient(Builder b) {
    this.bytesPerSecond = b.bytesPerSecond;
    this.keepPayloads = b.keepPayloads;
    this.clientAcks = b.clientAcks;
    this.paused = b.startPaused;
    // nanoTime may be negative, so the pacing clock starts from now, not from zero.
    this.nextReadNanos = System.nanoTime();
    this.pacer = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "jdk-client-pacer");
      t.setDaemon(true);
      return t;
    });
  }

  /** Connects a fast-reading client, waiting at most 5 s for the handshake. */
  public static JdkClient connect(URI uri) throws ExecutionException, InterruptedException,
      TimeoutException {
    return builder(uri).connect();
  }

  /** Returns a builder for a client that connects to {@code uri}. */
  public static Builder builder(URI uri) {
    return new Builder(uri);
  }

  /** A complete binary message: its 0-based index, size, and when its first and last parts arrived. */
  public record Message(int index, int size, long firstPartNanos, long arrivalNanos, byte[] payload) {
    /** The payload, or an empty array unless the client was built with {@code keepPayloads()}. */
    @Override
    public byte[] payload() {
      return payload.clone();
    }
  }

  /** A ping the client received, when, and how many complete messages it had received before it. */
  public record Ping(byte[] payload, long nanos, int messagesBefore) {
    /** The ping's application data as UTF-8 text. */
    public String text() {
      return new String(payload, StandardCharsets.UTF_8);
    }
  }

  /** The close the server sent, or {@code statusCode == -1} for an error or an abrupt end. */
  public record Close(int statusCode, String reason, long nanos) {}

  /** Binary messages completed so far, in order. */
  public synchronized List<Message> messages() {
    return List.copyOf(messages);
  }

  /** Number of binary messages completed so far. */
  public synchronized int messageCount() {
    return messages.size();
  }

  /** Text messages completed so far, in order. */
  public synchronized List<String> texts() {
    return List.copyOf(texts);
  }

  /** Pings received so far, in order; the JDK sent a pong for each as it was delivered. */
  public synchronized List<Ping> pings() {
    return List.copyOf(pings);
  }

  /** Arrival times of pongs received (answers to {@link #sendPing}). */
  public synchronized List<Long> pongNanos() {
    return List.copyOf(pongNanos);
  }

  /** Times of every {@code request(1)} this client issued, the initial one included. */
  public synchronized List<Long> requestNanos() {
    return List.copyOf(requestNanos);
  }

  /** Client acks sent so far (see {@link Builder#clientAcks()}); coalesced acks count once. */
  public synchronized long acksSent() {
    return acksSent;
  }

  /** The close received, if any. */
  public synchronized Optional<Close> closeEvent() {
    return Optional.ofNullable(close);
  }

  /** The error the JDK reported through {@code onError}, if any. */
  public synchronized Optional<Throwable> error() {
    return Optional.ofNullable(error);
  }

  /** The underlying JDK WebSocket, for sends a test needs beyond the helpers here. */
  public synchronized WebSocket webSocket() {
    return webSocket;
  }

  /** Waits until at least {@code n} binary messages have completed; false on timeout. */
  public boolean awaitMessages(int n, Duration timeout) throws InterruptedException {
    return await(() -> messages.size() >= n, timeout);
  }

  /** Waits until at least {@code n} pings have been received; false on timeout. */
  public boolean awaitPings(int n, Duration timeout) throws InterruptedException {
    return await(() -> pings.size() >= n, timeout);
  }

  /** Waits until the connection has closed (close frame, error or abort); false on timeout. */
  public boolean awaitClose(Duration timeout) throws InterruptedException {
    return await(() -> close != null, timeout);
  }

  /**
   * Stops issuing requests, so the client stops reading the socket and answering pings. A request
   * already issued still delivers one more callback (a part, a ping or a pong).
   */
  public synchronized void pauseReading() {
    paused = true;
  }

  /** Resumes reading; issues the request a pause held back, if any. */
  public void resumeReading() {
    WebSocket ws;
    synchronized (this) {
      paused = false;
      if (!owed) {
        return;
      }
      owed = false;
      ws = webSocket;
      requestNanos.add(System.nanoTime());
    }
    ws.request(1);
  }

  /** Sends a text message and waits at most {@code timeout} for the send to complete. */
  public void sendText(String text, Duration timeout) throws ExecutionException,
      InterruptedException, TimeoutException {
    webSocket().sendText(text, true).get(timeout.toNanos(), TimeUnit.NANOSECONDS);
  }

  /** Sends a ping and waits at most {@code timeout} for the send to complete. */
  public void sendPing(ByteBuffer payload, Duration timeout) throws ExecutionException,
      InterruptedException, TimeoutException {
    webSocket().sendPing(payload).get(timeout.toNanos(), TimeUnit.NANOSECONDS);
  }

  /**
   * Sends a normal close, waits up to 5 s for the server's close, then aborts the connection and
   * stops the pacer. Safe to call more than once.
   */
  @Override
  public void close() {
    WebSocket ws = webSocket();
    try {
      if (ws != null && !ws.isOutputClosed()) {
        ws.sendClose(WebSocket.NORMAL_CLOSURE, "")
            .get(CLOSE_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        // A paused client would never see the server's close frame; let it read.
        resumeReading();
        awaitClose(CLOSE_TIMEOUT);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (ExecutionException | TimeoutException e) {
      // The connection is already broken; abort below is all that is left to do.
    } finally {
      if (ws != null) {
        ws.abort();
      }
      pacer.shutdownNow();
    }
  }

  private boolean await(BooleanSupplier condition, Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    synchronized (this) {
      while (!condition.getAsBoolean()) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          return false;
        }
        TimeUnit.NANOSECONDS.timedWait(this, left);
      }
      return true;
    }
  }

  /** Called after every callback: schedules the next request(1) for the bytes just consumed. */
  private void readNext(WebSocket ws, int bytes) {
    long delay;
    synchronized (this) {
      long now = System.nanoTime();
      if (bytesPerSecond > 0) {
        nextReadNanos = Math.max(nextReadNanos, now) + bytes * 1_000_000_000L / bytesPerSecond;
        delay = nextReadNanos - now;
      } else {
        delay = 0;
      }
    }
    if (delay <= 0) {
      request(ws);
      return;
    }
    try {
      pacer.schedule(() -> request(ws), delay, TimeUnit.NANOSECONDS);
    } catch (RejectedExecutionException e) {
      // Closed: nothing more will be read.
    }
  }

  /**
   * Sends a client ack, or, while one is being sent, keeps it to send next: the JDK allows one
   * outstanding text send, and acks are cumulative, so only the newest waiting one matters.
   */
  private void sendAck(WebSocket ws, String ack) {
    synchronized (this) {
      if (ackSending) {
        ackQueued = ack;
        return;
      }
      ackSending = true;
    }
    sendAckNow(ws, ack);
  }

  private void sendAckNow(WebSocket ws, String ack) {
    CompletableFuture<WebSocket> sent;
    try {
      sent = ws.sendText(ack, true);
    } catch (RuntimeException closed) {
      synchronized (this) {
        ackSending = false;
        ackQueued = null;
      }
      return;
    }
    // Runs inline if the send already completed; the chain then recurses only for an ack queued
    // meanwhile by another thread, which callbacks (sequential) make at most one deep.
    sent.whenComplete((ws2, failure) -> {
      String next;
      synchronized (JdkClient.this) {
        if (failure == null) {
          acksSent++;
        }
        next = failure == null ? ackQueued : null;
        ackQueued = null;
        ackSending = next != null;
      }
      if (next != null) {
        sendAckNow(ws, next);
      }
    });
  }

  private void request(WebSocket ws) {
    synchronized (this) {
      if (paused) {
        owed = true;
        return;
      }
      requestNanos.add(System.nanoTime());
    }
    ws.request(1);
  }

  private final class Listener implements WebSocket.Listener {
    @Override
    public void onOpen(WebSocket ws) {
      synchronized (JdkClient.this) {
        webSocket = ws;
      }
      request(ws);
    }

    @Override
    public CompletionStage<?> onBinary(WebSocket ws, ByteBuffer data, boolean last) {
      int bytes = data.remaining();
      long readAt;
      synchronized (JdkClient.this) {
        // A paced client reads a part over bytes / bytesPerSecond: it has the part, and a
        // message is received (recorded, acked), at the end of that time, not when the JDK
        // hands the part over. Counting from the hand-over put every paced arrival and ack one
        // part's reading time early, which made a sender released by acks look later and one
        // released by pongs (answered when the next callback is due, after that time) earlier.
        long now = System.nanoTime();
        readAt = bytesPerSecond > 0 ? Math.max(nextReadNanos, now) + bytes * 1_000_000_000L / bytesPerSecond : now;
        nextReadNanos = bytesPerSecond > 0 ? readAt : nextReadNanos;
        partialSize += bytes;
        if (keepPayloads) {
          partial = append(partial, data);
        }
      }
      long delay = readAt - System.nanoTime();
      Runnable read = () -> partRead(ws, last, readAt);
      if (delay <= 0) {
        read.run();
      } else {
        try {
          pacer.schedule(read, delay, TimeUnit.NANOSECONDS);
        } catch (RejectedExecutionException e) {
          // Closed: nothing more will be read.
        }
      }
      return null;
    }

    /** A part has been read at {@code readAt}: the message is complete if it was the last. */
    private void partRead(WebSocket ws, boolean last, long readAt) {
      String ack = null;
      synchronized (JdkClient.this) {
        if (!inBinary) {
          inBinary = true;
          firstPartNanos = readAt;
        }
        if (last) {
          byte[] payload = new byte[0];
          if (partial != null) {
            payload = new byte[partial.position()];
            partial.flip().get(payload);
          }
          messages.add(new Message(messages.size(), partialSize, firstPartNanos, readAt, payload));
          partial = null;
          partialSize = 0;
          inBinary = false;
          if (clientAcks) {
            ack = String.format(Locale.ROOT, "k1 %d %.3f -1", messages.size(), readAt / 1e6);
          }
          JdkClient.this.notifyAll();
        }
      }
      if (ack != null) {
        sendAck(ws, ack);
      }
      request(ws);
    }

    @Override
    public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean last) {
      synchronized (JdkClient.this) {
        partialText.append(data);
        if (last) {
          texts.add(partialText.toString());
          partialText.setLength(0);
          JdkClient.this.notifyAll();
        }
      }
      readNext(ws, data.length());
      return null;
    }

    @Override
    public CompletionStage<?> onPing(WebSocket ws, ByteBuffer message) {
      byte[] payload = new byte[message.remaining()];
      message.get(payload);
      synchronized (JdkClient.this) {
        pings.add(new Ping(payload, System.nanoTime(), messages.size()));
        JdkClient.this.notifyAll();
      }
      readNext(ws, 0);
      return null;
    }

    @Override
    public CompletionStage<?> onPong(WebSocket ws, ByteBuffer message) {
      synchronized (JdkClient.this) {
        pongNanos.add(System.nanoTime());
        JdkClient.this.notifyAll();
      }
      readNext(ws, 0);
      return null;
    }

    @Override
    public CompletionStage<?> onClose(WebSocket ws, int statusCode, String reason) {
      synchronized (JdkClient.this) {
        close = new Close(statusCode, reason, System.nanoTime());
        JdkClient.this.notifyAll();
      }
      return null;
    }

    @Override
    public void onError(WebSocket ws, Throwable t) {
      synchronized (JdkClient.this) {
        error = t;
        if (close == null) {
          close = new Close(-1, String.valueOf(t), System.nanoTime());
        }
        JdkClient.this.notifyAll();
      }
    }

    private ByteBuffer append(ByteBuffer acc, ByteBuffer data) {
      if (acc == null) {
        acc = ByteBuffer.allocate(Math.max(1024, data.remaining()));
      }
      if (acc.remaining() < data.remaining()) {
        ByteBuffer bigger = ByteBuffer.allocate(Math.max(acc.capacity() * 2,
            acc.position() + data.remaining()));
        acc.flip();
        bigger.put(acc);
        acc = bigger;
      }
      return acc.put(data);
    }
  }

  /** Builder for a {@link JdkClient}. */
  public static final class Builder {
    private final URI uri;
    private long bytesPerSecond;
    private boolean startPaused;
    private boolean keepPayloads;
    private boolean clientAcks;
    private Duration connectTimeout = Duration.ofSeconds(5);

    private Builder(URI uri) {
      this.uri = Objects.requireNonNull(uri, "uri");
    }

    /** Reads at most {@code bytesPerSecond} on average; default: as fast as data arrives. */
    public Builder paced(long bytesPerSecond) {
      if (bytesPerSecond <= 0) {
        throw new IllegalArgumentException("bytesPerSecond must be > 0: " + bytesPerSecond);
      }
      this.bytesPerSecond = bytesPerSecond;
      return this;
    }

    /** Connects without requesting anything until {@link JdkClient#resumeReading()}. */
    public Builder startPaused() {
      this.startPaused = true;
      return this;
    }

    /** Keeps every message's bytes; default: sizes and times only. */
    public Builder keepPayloads() {
      this.keepPayloads = true;
      return this;
    }

    /**
     * After each complete binary message, sends a client ack in keepup's protocol
     * ({@code docs/protocol.md}): {@code k1 <received> <receivedAtMillis> -1}, where
     * {@code receivedAtMillis} is {@link System#nanoTime()} at arrival in milliseconds (so a
     * server in the same JVM shares the clock) and no rendered count is reported. An ack that
     * would overlap the previous one's send waits for it; only the newest waiting ack is sent.
     * Default: no acks.
     */
    public Builder clientAcks() {
      this.clientAcks = true;
      return this;
    }

    /** How long {@link #connect()} waits for the handshake; default 5 s. */
    public Builder connectTimeout(Duration timeout) {
      if (timeout.isNegative() || timeout.isZero()) {
        throw new IllegalArgumentException("connectTimeout must be > 0: " + timeout);
      }
      this.connectTimeout = timeout;
      return this;
    }

    /** Connects and returns once the handshake completed. */
    public JdkClient connect() throws ExecutionException, InterruptedException, TimeoutException {
      JdkClient client = new JdkClient(this);
      try {
        WebSocket ws = HTTP.newWebSocketBuilder()
            .connectTimeout(connectTimeout)
            .buildAsync(uri, client.new Listener())
            .get(connectTimeout.toNanos(), TimeUnit.NANOSECONDS);
        // The future may complete before the JDK has called onOpen.
        synchronized (client) {
          if (client.webSocket == null) {
            client.webSocket = ws;
          }
        }
      } catch (ExecutionException | InterruptedException | TimeoutException | RuntimeException e) {
        client.close();
        throw e;
      }
      return client;
    }
  }
}
