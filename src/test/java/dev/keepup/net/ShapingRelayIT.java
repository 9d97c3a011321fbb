package dev.keepup.net;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.Deque;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import java.util.function.LongSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.Timeout.ThreadMode;

/**
 * Real-time checks of {@link ShapingRelay} over loopback sockets.
 *
 * <p>Timing-based, hence an IT: rates are measured over windows of 0.5-2 s with tolerances
 * wide enough for a loaded two-core machine, and every blocking call has a socket timeout
 * on top of the per-test timeout.
 */
@Timeout(value = 15, unit = TimeUnit.SECONDS, threadMode = ThreadMode.SEPARATE_THREAD)
final class ShapingRelayIT {

  private static final int SO_TIMEOUT_MILLIS = 5_000;

  private final Deque<AutoCloseable> toClose = new ArrayDeque<>();
  private ServerSocket server;

  @BeforeEach
  void startServer() throws IOException {
    server = new ServerSocket(0, 50, InetAddress.getByAddress(new byte[] {127, 0, 0, 1}));
    server.setSoTimeout(SO_TIMEOUT_MILLIS);
    toClose.push(server);
  }

  @AfterEach
  void closeAll() throws Exception {
    while (!toClose.isEmpty()) {
      toClose.pop().close();
    }
  }

  @Test
  void shapesDownlink_toConfiguredRate() throws Exception {
    ShapingRelay relay = relayAt(2_000_000);
    Socket client = connect(relay);
    Socket accepted = accept();
    Source source = source(accepted);
    Sink sink = sink(client);
    // Past the initial burst of a full bucket (16 KiB), the rate is the steady one.
    awaitAtLeast(sink::bytes, 32 * 1024);

    ShapingRelay.Connection connection = relay.connections().get(0);

    // Measured at the client and from the relay's counters, over the same window.
    double[] mbps =
        measureMbps(
            Duration.ofSeconds(2), sink::bytes, connection::downlinkBytes, relay::downlinkBytes);

    report("2 Mbit/s over 2 s: client, relay per connection, relay total",
        mbps[0], mbps[1], mbps[2]);
    assertThat(mbps[0]).isBetween(1.8, 2.2);
    assertThat(mbps[1]).isBetween(1.8, 2.2);
    assertThat(mbps[2]).isBetween(1.8, 2.2);
    assertThat(connection.queuedBytes()).isLessThanOrEqualTo(relay.queueLimitBytes());
    assertThat(source.written()).isGreaterThan(relay.downlinkBytes()); // backlogged throughout
  }

  @Test
  void setRate_takesEffectAtRunTime() throws Exception {
    ShapingRelay relay = relayAt(1_000_000);
    Socket client = connect(relay);
    source(accept());
    Sink sink = sink(client);
    awaitAtLeast(sink::bytes, 32 * 1024);

    double before = measureMbps(sink::bytes, Duration.ofMillis(500));
    relay.setRateBitsPerSecond(4_000_000);
    Thread.sleep(50); // lets the write in progress at the old rate drain
    double after = measureMbps(sink::bytes, Duration.ofMillis(500));
    relay.setRateBitsPerSecond(1_000_000);
    Thread.sleep(50);
    double back = measureMbps(sink::bytes, Duration.ofMillis(500));

    report("1 -> 4 -> 1 Mbit/s", before, after, back);
    assertThat(relay.rateBitsPerSecond()).isEqualTo(1_000_000);
    assertThat(before).isBetween(0.85, 1.15);
    assertThat(after).isBetween(3.4, 4.6);
    assertThat(back).isBetween(0.85, 1.15);
  }

  @Test
  void setRate_afterOutage_resumesWithinMilliseconds() throws Exception {
    ShapingRelay relay = relayAt(2_000_000);
    Socket client = connect(relay);
    source(accept());
    Sink sink = sink(client);
    awaitAtLeast(sink::bytes, 32 * 1024);

    relay.setRateBitsPerSecond(0);
    // A backlogged bucket is nearly empty, so at most a write or two gets through.
    Thread.sleep(150);
    long stalled = sink.bytes();
    Thread.sleep(150);
    assertThat(sink.bytes()).isEqualTo(stalled);

    long start = System.nanoTime();
    relay.setRateBitsPerSecond(8_000_000);
    awaitAtLeast(sink::bytes, stalled + 1);
    long resumeMillis = (System.nanoTime() - start) / 1_000_000;

    report("resume after outage, ms", resumeMillis);
    assertThat(resumeMillis).isLessThan(50);
  }

  @Test
  void delay_addsToTimeToFirstByte() throws Exception {
    Duration delay = Duration.ofMillis(100);
    ShapingRelay relay =
        relay(ShapingRelay.newBuilder(serverAddress()).rateBitsPerSecond(2_000_000).delay(delay));
    Socket client = connect(relay);
    Socket accepted = accept();

    long sent = System.nanoTime();
    accepted.getOutputStream().write(42);
    int first = client.getInputStream().read();
    long ttfbMillis = (System.nanoTime() - sent) / 1_000_000;

    report("time to first byte with 100 ms delay, ms", ttfbMillis);
    assertThat(first).isEqualTo(42);
    assertThat(ttfbMillis).isBetween(delay.toMillis(), delay.toMillis() + 200);
    assertThat(relay.delay()).isEqualTo(delay);
  }

  @Test
  void delay_doesNotCapThroughputBelowTheRate() throws Exception {
    // 100 ms at 8 Mbit/s keeps 100 KB on the wire, more than the 64 KiB queue: a relay
    // that counted the wire in its queue would top out near 64 KiB / 100 ms = 5.2 Mbit/s.
    ShapingRelay relay =
        relay(ShapingRelay.newBuilder(serverAddress())
            .rateBitsPerSecond(8_000_000)
            .delay(Duration.ofMillis(100)));
    Socket client = connect(relay);
    source(accept());
    Sink sink = sink(client);
    awaitAtLeast(sink::bytes, 128 * 1024);

    long inFlight = relay.connections().get(0).inPropagationBytes();
    double mbps = measureMbps(sink::bytes, Duration.ofMillis(800));

    report("8 Mbit/s with 100 ms delay, bytes in propagation", mbps, inFlight);
    // Above the 5.2 Mbit/s a relay counting the wire in its queue would reach, with room for a
    // loaded 2-core machine descheduling the pacing thread; the bytes in propagation, beyond
    // the queue limit, show the design point directly.
    assertThat(mbps).isBetween(5.5, 9.0);
    assertThat(inFlight).isGreaterThan(relay.queueLimitBytes());
  }

  @Test
  void fullQueue_stopsReadingFromServer() throws Exception {
    ShapingRelay relay = relayAt(1_000_000);
    Socket client = connect(relay);
    Socket accepted = accept();
    // A small, fixed send buffer on the server, so what it manages to write is mostly what
    // the relay accepted; Linux would otherwise autotune it to megabytes.
    accepted.setSendBufferSize(16 * 1024);
    Source source = source(accepted);
    Sink sink = sink(client);
    ShapingRelay.Connection connection;
    awaitAtLeast(() -> relay.connections().size(), 1);
    connection = relay.connections().get(0);

    long maxQueued = 0;
    long end = System.nanoTime() + 1_000_000_000L;
    while (System.nanoTime() < end) {
      maxQueued = Math.max(maxQueued, connection.queuedBytes());
      Thread.sleep(5);
    }
    long backlog = source.written() - sink.bytes();

    report("1 Mbit/s backlogged: max queued, server written - client read", maxQueued, backlog);
    assertThat(maxQueued).isLessThanOrEqualTo(relay.queueLimitBytes());
    assertThat(maxQueued).isGreaterThan(relay.queueLimitBytes() / 2); // it does queue
    // Queue + relay and server kernel buffers; an unbounded relay would be at loopback speed.
    assertThat(backlog).isLessThan(400 * 1024);
  }

  @Test
  void followTrace_appliesRatesOnScheduleAndLoops() throws Exception {
    ShapingRelay relay = relay(ShapingRelay.newBuilder(serverAddress()));
    long start = System.nanoTime();

    // 1 Mbit/s for 0.3 s, 3 Mbit/s for 0.3 s, then wrap (the closing sample only ends it).
    relay.followTrace(BandwidthTrace.of(0, 1.0, 0.3, 3.0, 0.6, 2.0), true);

    assertThat(rateAt(relay, start, 150)).isEqualTo(1_000_000);
    assertThat(rateAt(relay, start, 450)).isEqualTo(3_000_000);
    assertThat(rateAt(relay, start, 750)).isEqualTo(1_000_000);
    relay.setRateBitsPerSecond(5_000_000); // a manual rate ends the replay
    assertThat(rateAt(relay, start, 1_050)).isEqualTo(5_000_000);
  }

  @Test
  void followTrace_withoutLoop_keepsTheLastRate() throws Exception {
    ShapingRelay relay = relay(ShapingRelay.newBuilder(serverAddress()));
    long start = System.nanoTime();

    relay.followTrace(BandwidthTrace.of(0, 1.0, 0.1, 3.0), false);

    assertThat(rateAt(relay, start, 50)).isEqualTo(1_000_000);
    assertThat(rateAt(relay, start, 300)).isEqualTo(3_000_000);
  }

  @Test
  void closingClient_closesServerSide() throws Exception {
    ShapingRelay relay = relayAt(2_000_000);
    Socket client = connect(relay);
    Socket accepted = accept();
    client.getOutputStream().write("hello".getBytes(StandardCharsets.US_ASCII));

    client.close();

    InputStream in = accepted.getInputStream();
    assertThat(new String(in.readNBytes(5), StandardCharsets.US_ASCII))
        .isEqualTo("hello");
    assertThat(in.read()).isEqualTo(-1);
    accepted.close();
    awaitTrue(() -> !relay.connections().get(0).isOpen());
    assertThat(relay.uplinkBytes()).isEqualTo(5);
  }

  @Test
  void closingServer_deliversQueuedBytesThenEndOfStream() throws Exception {
    ShapingRelay relay =
        relay(ShapingRelay.newBuilder(serverAddress())
            .rateBitsPerSecond(1_000_000)
            .delay(Duration.ofMillis(50)));
    Socket client = connect(relay);
    Socket accepted = accept();
    byte[] payload = new byte[20_000];
    Arrays.fill(payload, (byte) 7);

    long sent = System.nanoTime();
    accepted.getOutputStream().write(payload);
    accepted.close();

    InputStream in = client.getInputStream();
    ByteArrayOutputStream received = new ByteArrayOutputStream();
    in.transferTo(received); // returns at end of stream; the socket timeout bounds it
    long eofMillis = (System.nanoTime() - sent) / 1_000_000;

    report("20 kB at 1 Mbit/s + 50 ms, ms to end of stream", eofMillis);
    assertThat(received.toByteArray()).isEqualTo(payload);
    // The first 16 KiB pass on the full bucket; the remaining ~3.6 kB take ~29 ms.
    assertThat(eofMillis).isGreaterThanOrEqualTo(50 + 25);
    // Half-closed: the client may still talk to the server until it closes too.
    assertThat(relay.connections().get(0).isOpen()).isTrue();
    client.close();
    awaitTrue(() -> !relay.connections().get(0).isOpen());
  }

  @Test
  void close_closesConnectionsAndEndsThreads() throws Exception {
    ShapingRelay relay = relayAt(1_000_000);
    Socket client = connect(relay);
    Socket accepted = accept();
    source(accepted);
    awaitAtLeast(() -> relay.connections().size(), 1);
    String prefix = "shaping-relay-" + relay.port() + "-";
    // The connection is listed before all of its threads have started.
    awaitAtLeast(() -> relayThreads(prefix), 4);

    relay.close();

    assertThat(relayThreads(prefix)).isZero();
    assertThat(relay.connections().get(0).isOpen()).isFalse();
    // The client sees the end of the stream (or a reset) once the buffered bytes are read.
    assertThatThrownBy(() -> {
          InputStream in = client.getInputStream();
          byte[] buf = new byte[64 * 1024];
          while (in.read(buf) >= 0) {
            // drain what was written before the close
          }
          throw new EndOfStream();
        })
        .isInstanceOfAny(EndOfStream.class, SocketException.class);
  }

  @Test
  void builder_rejectsBadValues() {
    ShapingRelay.Builder builder = ShapingRelay.newBuilder(new InetSocketAddress(1));

    assertThatThrownBy(() -> builder.rateBitsPerSecond(-1))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("rateBitsPerSecond must be >= 0: -1");
    assertThatThrownBy(() -> builder.delay(Duration.ofMillis(-1)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("delay must be >= 0: PT-0.001S");
    assertThatThrownBy(() -> builder.bucketBytes(1000))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("bucketBytes must be >= 1500: 1000");
    assertThatThrownBy(() -> builder.queueLimitBytes(0))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("queueLimitBytes must be >= 1: 0");
  }

  // ---- helpers -------------------------------------------------------------------------

  /** Marks a read loop that ended normally. */
  private static final class EndOfStream extends Exception {
    private static final long serialVersionUID = 1L;
  }

  private InetSocketAddress serverAddress() {
    return new InetSocketAddress(server.getInetAddress(), server.getLocalPort());
  }

  private ShapingRelay relayAt(long bitsPerSecond) throws IOException {
    return relay(ShapingRelay.newBuilder(serverAddress()).rateBitsPerSecond(bitsPerSecond));
  }

  private ShapingRelay relay(ShapingRelay.Builder builder) throws IOException {
    ShapingRelay relay = builder.start();
    toClose.push(relay);
    return relay;
  }

  private Socket connect(ShapingRelay relay) throws IOException {
    Socket s = new Socket();
    toClose.push(s);
    s.connect(relay.address(), SO_TIMEOUT_MILLIS);
    s.setSoTimeout(SO_TIMEOUT_MILLIS);
    return s;
  }

  private Socket accept() throws IOException {
    Socket s = server.accept();
    toClose.push(s);
    s.setSoTimeout(SO_TIMEOUT_MILLIS);
    return s;
  }

  private Source source(Socket socket) {
    Source source = new Source(socket);
    toClose.push(source);
    return source;
  }

  private Sink sink(Socket socket) {
    Sink sink = new Sink(socket);
    toClose.push(sink);
    return sink;
  }

  private static double measureMbps(LongSupplier bytes, Duration window)
      throws InterruptedException {
    return measureMbps(window, bytes)[0];
  }

  /** Mbit/s of growth of each byte counter over one window of real time. */
  private static double[] measureMbps(Duration window, LongSupplier... counters)
      throws InterruptedException {
    long[] start = new long[counters.length];
    for (int i = 0; i < counters.length; i++) {
      start[i] = counters[i].getAsLong();
    }
    long t0 = System.nanoTime();
    Thread.sleep(window.toMillis());
    long t1 = System.nanoTime();
    double[] mbps = new double[counters.length];
    for (int i = 0; i < counters.length; i++) {
      mbps[i] = (counters[i].getAsLong() - start[i]) * 8.0 / ((t1 - t0) / 1e9) / 1e6;
    }
    return mbps;
  }

  private static long rateAt(ShapingRelay relay, long startNanos, long atMillis)
      throws InterruptedException {
    long left = startNanos + atMillis * 1_000_000 - System.nanoTime();
    if (left > 0) {
      Thread.sleep(left / 1_000_000, (int) (left % 1_000_000));
    }
    return relay.rateBitsPerSecond();
  }

  private static void awaitAtLeast(LongSupplier value, long atLeast) throws InterruptedException {
    awaitTrue(() -> value.getAsLong() >= atLeast);
  }

  /** Polls every millisecond for up to five seconds; real time is the point of these tests. */
  private static void awaitTrue(BooleanSupplier condition) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(SO_TIMEOUT_MILLIS);
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("condition not met within " + SO_TIMEOUT_MILLIS + " ms");
      }
      Thread.sleep(1);
    }
  }

  private static long relayThreads(String prefix) {
    return Thread.getAllStackTraces().keySet().stream()
        .filter(t -> t.getName().startsWith(prefix) && t.isAlive())
        .count();
  }

  private static void report(String what, Object... values) {
    StringBuilder sb = new StringBuilder("[ShapingRelayIT] ").append(what).append(':');
    for (Object v : values) {
      sb.append(' ').append(v instanceof Double d ? String.format(Locale.ROOT, "%.3f", d) : v);
    }
    System.out.println(sb);
  }

  private static void joinQuietly(Thread thread) {
    try {
      thread.join(2_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** Writes as fast as the socket accepts, until closed or the peer goes away. */
  private static final class Source implements AutoCloseable {
    private final AtomicLong written = new AtomicLong();
    private final Socket socket;
    private final Thread thread;

    Source(Socket socket) {
      this.socket = socket;
      this.thread = new Thread(this::run, "test-source");
      thread.setDaemon(true);
      thread.start();
    }

    private void run() {
      byte[] buf = new byte[8 * 1024];
      try {
        OutputStream out = socket.getOutputStream();
        while (true) {
          out.write(buf);
          written.addAndGet(buf.length);
        }
      } catch (IOException e) {
        // closed: done
      }
    }

    long written() {
      return written.get();
    }

    @Override
    public void close() throws IOException {
      socket.close();
      joinQuietly(thread);
    }
  }

  /** Reads and counts until the end of the stream, an error, or close. */
  private static final class Sink implements AutoCloseable {
    private final AtomicLong bytes = new AtomicLong();
    private final Socket socket;
    private final Thread thread;

    Sink(Socket socket) {
      this.socket = socket;
      this.thread = new Thread(this::run, "test-sink");
      thread.setDaemon(true);
      thread.start();
    }

    private void run() {
      byte[] buf = new byte[16 * 1024];
      try {
        InputStream in = socket.getInputStream();
        int n;
        while ((n = in.read(buf)) >= 0) {
          bytes.addAndGet(n);
        }
      } catch (IOException e) {
        // closed or timed out: the test's assertions report what matters
      }
    }

    long bytes() {
      return bytes.get();
    }

    @Override
    public void close() throws IOException {
      socket.close();
      joinQuietly(thread);
    }
  }
}
