package dev.keepup.bench;

import dev.keepup.Frame;
import dev.keepup.PacedSender;
import dev.keepup.SenderStats;
import dev.keepup.Signals;
import dev.keepup.it.JdkClient;
import dev.keepup.it.TyrusTestServer;
import dev.keepup.net.ShapingRelay;
import dev.keepup.net.UplinkDelayRelay;
import jakarta.websocket.MessageHandler;
import jakarta.websocket.PongMessage;
import jakarta.websocket.RemoteEndpoint;
import jakarta.websocket.SendHandler;
import jakarta.websocket.SendResult;
import jakarta.websocket.Session;
import java.io.IOException;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * The "signals" benchmark: can a sender see past kernel buffers? A Tyrus 2.2 server streams a
 * live source (30 fps x 50 KB, 12 Mbit/s) to two constrained JDK clients, each with four
 * senders, and the clients measure frame age (capture to arrival, same JVM and clock).
 *
 * <ul>
 *   <li>Client (1): reads fast, behind a {@link ShapingRelay} at 2 Mbit/s with 20 ms one-way
 *       delay on the downlink and an {@link UplinkDelayRelay} adding 20 ms on the uplink (a
 *       symmetric 40 ms round trip). Client (2): reads 200 KB/s itself, no relay.
 *   <li>Senders: (a) await-each-send, the Tornado loop ({@code await flush(); sleep(deadline)}),
 *       written by hand; (b) {@link PacedSender} with {@code pingEvery(0)}: send completion only;
 *       (c) {@code PacedSender} defaults: a ping after every frame, its pong an ack, and the
 *       in-flight cap; (d) {@code pingEvery(0).clientAcks(true)}, the JDK client acking each
 *       message in keepup's text protocol.
 * </ul>
 *
 * <p>Each frame carries its capture time ({@link System#nanoTime()}) and its source slot in its
 * first 16 bytes. The server side is recorded too (every send, completion, ping, pong and ack,
 * through a {@link Proxy} around the session), so {@code --timeline} can write per-frame
 * timelines. Prints a Markdown table and writes it to {@code target/bench/signals.md}. Run with
 * {@code bench/run-signals.sh}; see docs/benchmarks.md.
 *
 * <p>Options: {@code --seconds S} per configuration (default 22), {@code --concurrent} (run all
 * configurations at once instead of one after another), {@code --only 1c,2d} (a subset),
 * {@code --timeline} (CSV per configuration in {@code target/bench/signals-timeline/}),
 * {@code --in-flight-cap MIN,MAX} (bytes, for (c) and (d)), {@code --queue-kib N} (the relay's
 * bottleneck queue), {@code --quick} (6 s each: checks the program works).
 *
 * <p>Not a test: it asserts nothing, and its name keeps Surefire away from it. {@code
 * dev.keepup.SignalsIT} runs a short, loosely bounded version of (b) and (c) on client (1).
 */
public final class SignalsBenchmark {
  /** 50 KB: 400 kbit, so a 2 Mbit/s link carries 5 of them a second. */
  public static final int FRAME_BYTES = 50_000;
  public static final double SOURCE_FPS = 30;
  private static final Duration WAIT = Duration.ofSeconds(10);
  private static final long MS = 1_000_000L;
  private static final long SECOND = 1_000_000_000L;
  private static final int[] AGE_MARKS = {5, 10, 20};
  private static final int AGE_WINDOW_SECONDS = 2;
  private static final int[] RATE_MARKS = {3, 5, 10, 20};
  /** Targets of the issue, for (c) and (d). */
  private static final double TARGET_P95_MS = 300;
  private static final double TARGET_FPS_SHARE = 0.9;
  private static final double TARGET_RATE_ERROR = 0.15;
  private static final double SETTLE_SECONDS = 2;

  /** Who sends. */
  public enum Strategy {
    AWAIT_EACH_SEND("a", "await-each-send (Tornado flush)"),
    COMPLETION("b", "PacedSender, completion only (pingEvery 0)"),
    PING_ACKS("c", "PacedSender, ping acks + cap (defaults)"),
    CLIENT_ACKS("d", "PacedSender, client acks + cap"),
    /** Not in the list: what a host gets by turning client acks on over the defaults. */
    PINGS_AND_CLIENT_ACKS("e", "PacedSender, pings and client acks + cap");

    public final String letter;
    public final String label;

    Strategy(String letter, String label) {
      this.letter = letter;
      this.label = label;
    }
  }

  /** Who receives, over what. */
  public enum ClientKind {
    SHAPED("1", "fast JDK client behind 2 Mbit/s relay, 40 ms RTT"),
    SLOW_READER("2", "JDK client reading 200 KB/s, no relay");

    public final String number;
    public final String label;

    ClientKind(String number, String label) {
      this.number = number;
      this.label = label;
    }
  }

  /** How a configuration runs. */
  public record Options(double seconds, long shapedBitsPerSecond, Duration oneWayDelay,
      int queueLimitBytes, long readBytesPerSecond, long minInFlightBytes, long maxInFlightBytes,
      boolean customCap) {

    /** The setup: 22 s, 2 Mbit/s, 20 ms each way, 64 KiB queue, 200 KB/s reader. */
    public static Options defaults() {
      return new Options(22, 2_000_000, Duration.ofMillis(20), 64 * 1024, 200_000, 0, 0, false);
    }

    public Options withSeconds(double s) {
      return new Options(s, shapedBitsPerSecond, oneWayDelay, queueLimitBytes, readBytesPerSecond,
          minInFlightBytes, maxInFlightBytes, customCap);
    }

    Options withQueue(int bytes) {
      return new Options(seconds, shapedBitsPerSecond, oneWayDelay, bytes, readBytesPerSecond,
          minInFlightBytes, maxInFlightBytes, customCap);
    }

    Options withCap(long min, long max) {
      return new Options(seconds, shapedBitsPerSecond, oneWayDelay, queueLimitBytes,
          readBytesPerSecond, min, max, true);
    }

    /** Bits per second the client's path carries: the shaped rate, or what the reader reads. */
    long linkBitsPerSecond(ClientKind client) {
      return client == ClientKind.SHAPED ? shapedBitsPerSecond : readBytesPerSecond * 8;
    }
  }

  /** A frame that reached the client: when (ms since the sender started) and how old. */
  public record Arrival(int sendIndex, long slot, double atMs, double ageMs) {}

  /** One configuration's outcome. */
  public record Result(ClientKind client, Strategy strategy, Options options, List<Arrival> arrivals,
      Map<Integer, Long> rateAt, SenderStats stats, String loadAverage, StallMonitor.Summary stalls) {

    /** Ages of frames that arrived in {@code (fromS, toS]}, sorted. */
    public double[] ages(double fromS, double toS) {
      return arrivals.stream().filter(a -> a.atMs > fromS * 1000 && a.atMs <= toS * 1000)
          .mapToDouble(Arrival::ageMs).sorted().toArray();
    }

    /** The p-th percentile (nearest rank) of frame age after the first 2 s, NaN if none arrived. */
    public double ageAfterSettling(double p) {
      return percentile(ages(SETTLE_SECONDS, options.seconds), p);
    }

    /** Frames per second that arrived after the first 2 s. */
    public double deliveredFps() {
      return ages(SETTLE_SECONDS, options.seconds).length / (options.seconds - SETTLE_SECONDS);
    }

    /** Frames per second the path carries at 50 KB a frame. */
    public double linkFps() {
      return options.linkBitsPerSecond(client) / (FRAME_BYTES * 8.0);
    }
  }

  // ---------------------------------------------------------------------------------------
  // The harness: one server, a path per configuration so concurrent runs cannot mix sessions.

  /** A Tyrus server with one endpoint per configuration; runs configurations on it. */
  public static final class Harness implements AutoCloseable {
    private final TyrusTestServer server;
    private final Map<String, BlockingQueue<Session>> sessions = new ConcurrentHashMap<>();
    private final Path timelineDir;

    private Harness(Path timelineDir) throws Exception {
      this.timelineDir = timelineDir;
      TyrusTestServer.Builder builder = TyrusTestServer.builder();
      for (ClientKind c : ClientKind.values()) {
        for (Strategy s : Strategy.values()) {
          BlockingQueue<Session> queue = new LinkedBlockingQueue<>();
          sessions.put(path(c, s), queue);
          builder.endpoint(path(c, s), queue::add);
        }
      }
      this.server = builder.start();
    }

    /** Starts a server; with {@code timelineDir}, every run also writes CSV timelines there. */
    public static Harness start(Path timelineDir) throws Exception {
      return new Harness(timelineDir);
    }

    private static String path(ClientKind c, Strategy s) {
      return "/signals/" + c.number + s.letter;
    }

    @Override
    public void close() {
      server.close();
    }

    /** Runs one configuration for {@code options.seconds()} and returns what the client saw. */
    public Result run(ClientKind clientKind, Strategy strategy, Options options) throws Exception {
      String path = path(clientKind, strategy);
      ShapingRelay shaper = null;
      UplinkDelayRelay uplink = null;
      JdkClient client = null;
      Stopper stopper = () -> {};
      ScheduledExecutorService timers = Executors.newScheduledThreadPool(1, r -> {
        Thread t = new Thread(r, "signals-bench-" + clientKind.number + strategy.letter);
        t.setDaemon(true);
        return t;
      });
      try {
        URI uri;
        if (clientKind == ClientKind.SHAPED) {
          shaper = ShapingRelay.newBuilder(new InetSocketAddress("127.0.0.1", server.port()))
              .rateBitsPerSecond(options.shapedBitsPerSecond())
              .delay(options.oneWayDelay())
              .queueLimitBytes(options.queueLimitBytes())
              .start();
          uplink = UplinkDelayRelay.start(shaper.address(), options.oneWayDelay());
          uri = URI.create("ws://127.0.0.1:" + uplink.port() + path);
        } else {
          uri = server.uri(path);
        }
        JdkClient.Builder cb = JdkClient.builder(uri).keepPayloads();
        if (clientKind == ClientKind.SLOW_READER) {
          cb.paced(options.readBytesPerSecond());
        }
        if (strategy == Strategy.CLIENT_ACKS || strategy == Strategy.PINGS_AND_CLIENT_ACKS) {
          cb.clientAcks();
        }
        client = cb.connect();
        Session raw = sessions.get(path).poll(WAIT.toMillis(), TimeUnit.MILLISECONDS);
        if (raw == null) {
          throw new IllegalStateException(path + ": no session");
        }
        Recorder recorder = new Recorder();
        Session session = recorder.wrap(raw);

        StallMonitor monitor = StallMonitor.start();
        stopper = monitor::stop;
        Camera camera = new Camera();
        PacedSender sender = null;
        if (strategy == Strategy.AWAIT_EACH_SEND) {
          AwaitEachSend loop = new AwaitEachSend(session, camera, timers);
          loop.start();
          stopper = () -> {
            loop.stop();
            monitor.stop();
          };
        } else {
          PacedSender.Builder b = PacedSender.newBuilder(session).targetFps(SOURCE_FPS).source(camera);
          if (strategy == Strategy.COMPLETION) {
            b.pingEvery(0);
          } else if (strategy == Strategy.CLIENT_ACKS) {
            b.pingEvery(0).clientAcks(true);
          } else if (strategy == Strategy.PINGS_AND_CLIENT_ACKS) {
            b.clientAcks(true);
          }
          if (options.customCap() && strategy != Strategy.COMPLETION) {
            b.inFlightCap(options.minInFlightBytes(), options.maxInFlightBytes());
          }
          sender = b.build();
          sender.start();
          PacedSender started = sender;
          stopper = () -> {
            started.close();
            monitor.stop();
          };
        }
        // Time zero is the first poll: the camera's grid starts there, so the sender's ticks fall
        // on its frame boundaries and frame age is what sender and network add, not a phase offset.
        long t0 = camera.awaitStart(WAIT);

        Map<Integer, Long> rateAt = new ConcurrentHashMap<>();
        List<String> samples = Collections.synchronizedList(new ArrayList<>());
        PacedSender s = sender;
        if (s != null) {
          for (int mark : RATE_MARKS) {
            if (mark < options.seconds()) {
              timers.schedule(() -> {
                rateAt.put(mark, s.stats().signals().deliveryRateBitsPerSecond());
              }, t0 + mark * SECOND - System.nanoTime(), TimeUnit.NANOSECONDS);
            }
          }
          if (timelineDir != null) {
            timers.scheduleAtFixedRate(() -> samples.add(sample(s.stats(), t0)), 0, 50, TimeUnit.MILLISECONDS);
          }
        }
        long end = t0 + (long) (options.seconds() * SECOND);
        long left;
        while ((left = end - System.nanoTime()) > 0) {
          TimeUnit.NANOSECONDS.sleep(left);
        }
        stopper.run();
        stopper = () -> {};
        SenderStats stats = s == null ? null : s.stats();
        List<JdkClient.Message> messages = client.messages();
        timers.shutdownNow();
        timers.awaitTermination(1, TimeUnit.SECONDS);

        List<Arrival> arrivals = new ArrayList<>(messages.size());
        for (JdkClient.Message m : messages) {
          ByteBuffer header = ByteBuffer.wrap(m.payload(), 0, 16);
          long capture = header.getLong(0);
          long slot = header.getLong(8);
          arrivals.add(new Arrival(m.index() + 1, slot, (m.arrivalNanos() - t0) / 1e6,
              (m.arrivalNanos() - capture) / 1e6));
        }
        if (timelineDir != null) {
          writeTimeline(timelineDir.resolve(clientKind.number + strategy.letter + "-frames.csv"),
              recorder, arrivals, t0);
          if (!samples.isEmpty()) {
            Files.write(timelineDir.resolve(clientKind.number + strategy.letter + "-signals.csv"),
                prepend(SAMPLE_HEADER, List.copyOf(samples)));
          }
        }
        return new Result(clientKind, strategy, options, List.copyOf(arrivals), Map.copyOf(rateAt),
            stats, loadAverage(), monitor.summary());
      } finally {
        stopper.run();
        timers.shutdownNow();
        if (client != null) {
          // The server's close frame may sit behind megabytes of queued frames: do not wait.
          if (client.webSocket() != null) {
            client.webSocket().abort();
          }
          client.close();
        }
        if (uplink != null) {
          uplink.close();
        }
        if (shaper != null) {
          shaper.close();
        }
      }
    }
  }

  private interface Stopper {
    void run();
  }

  /**
   * Measures how late this JVM's threads get the CPU: a thread asks to wake every 5 ms and
   * records the overshoot. On a busy machine (other builds, a browser) stalls of 100 ms and more
   * show up here, and they delay pongs, acks, relay pacing and the client alike; the report
   * shows them next to each configuration so that a bad figure can be told from a bad moment.
   */
  public static final class StallMonitor {
    private static final long PERIOD_NANOS = 5 * MS;
    private final Thread thread;
    private volatile boolean stopped;
    private long maxLateNanos;
    private long lateOver20msNanos;
    private long wakes;

    /** The worst wake-up delay, and the time per second lost to wake-ups over 20 ms late. */
    public record Summary(double maxLateMs, double lostOver20MsPerSecond) {}

    private StallMonitor() {
      thread = new Thread(this::loop, "signals-bench-stall-monitor");
      thread.setDaemon(true);
    }

    static StallMonitor start() {
      StallMonitor m = new StallMonitor();
      m.thread.start();
      return m;
    }

    private void loop() {
      long began = System.nanoTime();
      while (!stopped) {
        long before = System.nanoTime();
        java.util.concurrent.locks.LockSupport.parkNanos(PERIOD_NANOS);
        long late = System.nanoTime() - before - PERIOD_NANOS;
        synchronized (this) {
          wakes++;
          maxLateNanos = Math.max(maxLateNanos, late);
          if (late > 20 * MS) {
            lateOver20msNanos += late;
          }
          elapsed = System.nanoTime() - began;
        }
      }
    }

    private long elapsed;

    void stop() {
      stopped = true;
    }

    synchronized Summary summary() {
      return new Summary(maxLateNanos / 1e6, elapsed == 0 ? 0 : lateOver20msNanos / 1e6 / (elapsed / 1e9));
    }
  }

  // ---------------------------------------------------------------------------------------
  // The source, and baseline (a).

  /**
   * A 30 fps camera that starts when first polled, at t0: polled at time t, it returns the frame
   * of slot {@code floor((t - t0) / interval)}, captured at the slot's start; the same object
   * again until the next slot.
   */
  static final class Camera implements dev.keepup.FrameSource {
    private final double intervalNanos = SECOND / SOURCE_FPS;
    private long t0;
    private boolean started;
    private long slot = -1;
    private Frame frame;

    @Override
    public synchronized Frame poll(int rendition) {
      long now = System.nanoTime();
      if (!started) {
        started = true;
        t0 = now;
        notifyAll();
      }
      long current = (long) Math.floor((now - t0) / intervalNanos);
      if (current != slot) {
        slot = current;
        long capture = t0 + (long) Math.ceil(current * intervalNanos);
        ByteBuffer payload = ByteBuffer.allocate(FRAME_BYTES);
        payload.putLong(0, capture).putLong(8, current);
        frame = Frame.of(payload, capture);
      }
      return frame;
    }

    /** Waits for the first poll and returns its time. */
    synchronized long awaitStart(Duration timeout) throws InterruptedException {
      long deadline = System.nanoTime() + timeout.toNanos();
      while (!started) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          throw new IllegalStateException("the sender never polled the source");
        }
        TimeUnit.NANOSECONDS.timedWait(this, left);
      }
      return t0;
    }

    synchronized long slotStart(long n) {
      return t0 + (long) Math.ceil(n * intervalNanos);
    }

    synchronized long slotAt(long nanos) {
      return (long) Math.ceil((nanos - t0) / intervalNanos);
    }
  }

  /**
   * Baseline (a), as Tornado users write it: {@code while True: await ws.write_message(newest);
   * await sleep_until(next deadline)}. One async send in flight; when it completes, wait for the
   * next 33 ms deadline (skipping deadlines already past) and send the newest frame.
   */
  static final class AwaitEachSend implements SendHandler {
    private final Session session;
    private final Camera camera;
    private final ScheduledExecutorService timer;
    private volatile boolean stopped;
    private long sentSlot;

    AwaitEachSend(Session session, Camera camera, ScheduledExecutorService timer) {
      this.session = session;
      this.camera = camera;
      this.timer = timer;
    }

    void start() {
      timer.execute(() -> fire(0));
    }

    void stop() {
      stopped = true;
    }

    private void fire(long slot) {
      if (stopped) {
        return;
      }
      sentSlot = slot;
      try {
        session.getAsyncRemote().sendBinary(camera.poll(0).payload().duplicate(), this);
      } catch (RuntimeException closed) {
        stopped = true;
      }
    }

    @Override
    public void onResult(SendResult result) {
      if (!result.isOK() || stopped) {
        stopped = true;
        return;
      }
      long now = System.nanoTime();
      long next = Math.max(sentSlot + 1, camera.slotAt(now));
      try {
        timer.schedule(() -> fire(next), camera.slotStart(next) - now, TimeUnit.NANOSECONDS);
      } catch (RuntimeException shutDown) {
        stopped = true;
      }
    }
  }

  // ---------------------------------------------------------------------------------------
  // Server-side recording, for timelines.

  /** Records sends, completions, pings, pongs and client acks of one session. */
  static final class Recorder {
    enum Kind { SEND, DONE, PING, PONG, ACK }

    record Event(Kind kind, long nanos, long value) {}

    final ConcurrentLinkedQueue<Event> events = new ConcurrentLinkedQueue<>();
    private long sends;

    Session wrap(Session session) {
      return proxy(Session.class, (p, method, args) -> {
        if (method.getName().equals("getAsyncRemote")) {
          RemoteEndpoint.Async async = session.getAsyncRemote();
          return proxy(RemoteEndpoint.Async.class, (p2, m, a) -> {
            if (m.getName().equals("sendBinary") && a.length == 2) {
              long index;
              synchronized (this) {
                index = ++sends;
              }
              ByteBuffer data = (ByteBuffer) a[0];
              events.add(new Event(Kind.SEND, System.nanoTime(), index));
              SendHandler handler = (SendHandler) a[1];
              a = new Object[] {data, (SendHandler) result -> {
                events.add(new Event(Kind.DONE, System.nanoTime(), index));
                handler.onResult(result);
              }};
            } else if (m.getName().equals("sendPing") && a.length == 1) {
              ByteBuffer ping = (ByteBuffer) a[0];
              events.add(new Event(Kind.PING, System.nanoTime(),
                  ping.remaining() == 16 ? ping.getLong(ping.position() + 8) : -1));
            }
            return invoke(async, m, a);
          });
        }
        if (method.getName().equals("addMessageHandler") && args.length == 2
            && args[1] instanceof MessageHandler.Whole) {
          if (args[0] == PongMessage.class) {
            @SuppressWarnings("unchecked")
            MessageHandler.Whole<PongMessage> h = (MessageHandler.Whole<PongMessage>) args[1];
            MessageHandler.Whole<PongMessage> wrapped = pong -> {
              ByteBuffer b = pong.getApplicationData();
              events.add(new Event(Kind.PONG, System.nanoTime(),
                  b.remaining() == 16 ? b.getLong(b.position() + 8) : -1));
              h.onMessage(pong);
            };
            session.addMessageHandler(PongMessage.class, wrapped);
            return null;
          }
          if (args[0] == String.class) {
            @SuppressWarnings("unchecked")
            MessageHandler.Whole<String> h = (MessageHandler.Whole<String>) args[1];
            MessageHandler.Whole<String> wrapped = text -> {
              String[] parts = text.split(" ");
              long received = -1;
              try {
                received = parts.length > 1 ? Long.parseLong(parts[1]) : -1;
              } catch (NumberFormatException ignored) {
                // Recorded as -1; the sender judges it.
              }
              events.add(new Event(Kind.ACK, System.nanoTime(), received));
              h.onMessage(text);
            };
            session.addMessageHandler(String.class, wrapped);
            return null;
          }
        }
        return invoke(session, method, args);
      });
    }
  }

  private static final String SAMPLE_HEADER = "t_ms,rate_mbps,min_rtt_ms,queue_delay_ms,unacked_bytes,"
      + "unacked_frames,frame_age_ms,verdict,since_last_ack_ms,frames_sent,frames_completed,acks";

  private static String sample(SenderStats st, long t0) {
    Signals g = st.signals();
    return String.format(Locale.ROOT, "%.1f,%.3f,%.1f,%.1f,%d,%d,%.1f,%s,%.1f,%d,%d,%d",
        (System.nanoTime() - t0) / 1e6, g.deliveryRateBitsPerSecond() / 1e6, g.minRtt().toNanos() / 1e6,
        g.queueDelay().toNanos() / 1e6, g.unackedBytes(), g.unackedFrames(), g.frameAge().toNanos() / 1e6,
        g.verdict(), g.sinceLastAck().toNanos() / 1e6, st.framesSent(), st.framesCompleted(), st.acksAccepted());
  }

  /** One line per frame sent: when sent, completed, pinged, ponged/acked, and when it arrived. */
  private static void writeTimeline(Path file, Recorder recorder, List<Arrival> arrivals, long t0)
      throws IOException {
    Map<Long, double[]> rows = new LinkedHashMap<>();
    List<double[]> acks = new ArrayList<>();
    List<double[]> probes = new ArrayList<>();
    for (Recorder.Event e : recorder.events) {
      double at = (e.nanos() - t0) / 1e6;
      boolean probe = e.value() == 0;
      switch (e.kind()) {
        case SEND -> rows.computeIfAbsent(e.value(), k -> blank())[0] = at;
        case DONE -> rows.computeIfAbsent(e.value(), k -> blank())[1] = at;
        case PING -> {
          if (probe) {
            probes.add(new double[] {at, Double.NaN});
          } else {
            rows.computeIfAbsent(e.value(), k -> blank())[2] = at;
          }
        }
        case PONG -> {
          if (probe) {
            if (!probes.isEmpty()) {
              probes.get(probes.size() - 1)[1] = at;
            }
          } else {
            rows.computeIfAbsent(e.value(), k -> blank())[3] = at;
          }
        }
        case ACK -> acks.add(new double[] {e.value(), at});
      }
    }
    // A cumulative ack for n acknowledges every frame up to n: record the first ack covering each.
    acks.sort((x, y) -> Double.compare(x[1], y[1]));
    int ai = 0;
    List<String> lines = new ArrayList<>();
    lines.add("send_index,slot,capture_ms,send_ms,completed_ms,ping_ms,pong_ms,client_ack_ms,arrival_ms,age_ms");
    Map<Integer, Arrival> byIndex = new LinkedHashMap<>();
    for (Arrival a : arrivals) {
      byIndex.put(a.sendIndex(), a);
    }
    for (Map.Entry<Long, double[]> r : rows.entrySet()) {
      long index = r.getKey();
      if (index <= 0) {
        continue; // RTT probes
      }
      while (ai < acks.size() && acks.get(ai)[0] < index) {
        ai++;
      }
      double ackAt = ai < acks.size() ? acks.get(ai)[1] : Double.NaN;
      Arrival a = byIndex.get((int) index);
      double[] v = r.getValue();
      lines.add(String.format(Locale.ROOT, "%d,%d,%.1f,%.1f,%.1f,%.1f,%.1f,%.1f,%.1f,%.1f", index,
          a == null ? -1 : a.slot(), a == null ? Double.NaN : a.atMs() - a.ageMs(), v[0], v[1], v[2],
          v[3], ackAt, a == null ? Double.NaN : a.atMs(), a == null ? Double.NaN : a.ageMs()));
    }
    // Probes (pings after no frame) go to the end, for RTT checks.
    for (double[] p : probes) {
      lines.add(String.format(Locale.ROOT, "probe,,,,,%.1f,%.1f,,,", p[0], p[1]));
    }
    Files.write(file, lines);
  }

  private static double[] blank() {
    double[] v = new double[4];
    Arrays.fill(v, Double.NaN);
    return v;
  }

  private static List<String> prepend(String head, List<String> rest) {
    List<String> all = new ArrayList<>(rest.size() + 1);
    all.add(head);
    all.addAll(rest);
    return all;
  }

  // ---------------------------------------------------------------------------------------
  // main and the report.

  public static void main(String[] args) throws Exception {
    Options options = Options.defaults();
    boolean concurrent = false;
    boolean timeline = false;
    List<String> only = null;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--seconds" -> options = options.withSeconds(Double.parseDouble(args[++i]));
        case "--quick" -> options = options.withSeconds(6);
        case "--concurrent" -> concurrent = true;
        case "--timeline" -> timeline = true;
        case "--only" -> only = List.of(args[++i].split(","));
        case "--queue-kib" -> options = options.withQueue(Integer.parseInt(args[++i]) * 1024);
        case "--in-flight-cap" -> {
          String[] mm = args[++i].split(",");
          options = options.withCap(Long.parseLong(mm[0]), Long.parseLong(mm[1]));
        }
        case "--help", "-h" -> {
          System.out.println(String.join("\n",
              "Usage: bench/run-signals.sh [options]   (docs/benchmarks.md, \"Signals\")",
              "  --seconds S           seconds per configuration; default 22",
              "  --quick               6 s per configuration (a smoke run)",
              "  --only 1c,2d,...      only these configurations (client 1 or 2, sender a-e)",
              "  --timeline            per-frame and per-50-ms CSVs in target/bench/signals-timeline/",
              "  --concurrent          run the configurations at once instead of one by one",
              "  --queue-kib K         the relay's bottleneck queue; default 64",
              "  --in-flight-cap MIN,MAX  the sender's in-flight cap bounds in bytes"));
          return;
        }
        default -> throw new IllegalArgumentException("unknown option: " + args[i] + " (--help lists them)");
      }
    }
    if (options.seconds() <= SETTLE_SECONDS + 1) {
      throw new IllegalArgumentException("--seconds must be > 3: " + options.seconds());
    }
    Path timelineDir = null;
    if (timeline) {
      timelineDir = Path.of("target", "bench", "signals-timeline");
      Files.createDirectories(timelineDir);
    }
    List<ClientKind> clients = List.of(ClientKind.values());
    List<Strategy> strategies = List.of(Strategy.values());
    String loadBefore = loadAverage();
    List<Result> results = new ArrayList<>();
    try (Harness harness = Harness.start(timelineDir)) {
      List<String[]> configs = new ArrayList<>();
      for (ClientKind c : clients) {
        for (Strategy s : strategies) {
          if (only == null || only.contains(c.number + s.letter)) {
            configs.add(new String[] {c.name(), s.name()});
          }
        }
      }
      Options opts = options;
      if (concurrent) {
        ExecutorService pool = Executors.newFixedThreadPool(configs.size());
        List<Future<Result>> futures = new ArrayList<>();
        for (String[] cfg : configs) {
          futures.add(pool.submit(() -> harness.run(ClientKind.valueOf(cfg[0]), Strategy.valueOf(cfg[1]), opts)));
        }
        for (Future<Result> f : futures) {
          results.add(f.get());
        }
        pool.shutdown();
      } else {
        for (String[] cfg : configs) {
          ClientKind c = ClientKind.valueOf(cfg[0]);
          Strategy s = Strategy.valueOf(cfg[1]);
          log("(%s%s) %s / %s: %.0f s", c.number, s.letter, c.label, s.label, opts.seconds());
          Result r = harness.run(c, s, opts);
          results.add(r);
          log("  p95 age after 2 s %.0f ms, %.2f fps delivered, rate estimate %s, stall max %.0f ms,"
              + " load %s", r.ageAfterSettling(95), r.deliveredFps(), r.rateAt(), r.stalls().maxLateMs(),
              r.loadAverage());
        }
      }
    }
    String report = report(results, options, concurrent, loadBefore, loadAverage(), String.join(" ", args));
    System.out.println(report);
    Path out = Path.of("target", "bench", "signals.md");
    Files.createDirectories(out.getParent());
    Files.writeString(out, report);
    System.out.println("Written to " + out.toAbsolutePath());
    System.exit(0);
  }

  static String report(List<Result> results, Options o, boolean concurrent, String loadBefore,
      String loadAfter, String args) {
    StringBuilder b = new StringBuilder();
    b.append(String.format(Locale.ROOT,
        "Source %.0f fps x %d B (%.1f Mbit/s); %.0f s per configuration, %s; client (1) behind %.1f"
            + " Mbit/s, %d ms each way, %d KiB bottleneck queue; client (2) reads %d KB/s."
            + " Ages are capture to arrival of the whole message at the client, in ms; \"at N s\" is"
            + " p50 / p95 over arrivals in the %d s before N s. Rate estimate:"
            + " `signals().deliveryRateBitsPerSecond()` in Mbit/s.%s%n%n",
        SOURCE_FPS, FRAME_BYTES, SOURCE_FPS * FRAME_BYTES * 8 / 1e6, o.seconds(),
        concurrent ? "all configurations at once" : "one configuration at a time",
        o.shapedBitsPerSecond() / 1e6, o.oneWayDelay().toMillis(), o.queueLimitBytes() / 1024,
        o.readBytesPerSecond() / 1000, AGE_WINDOW_SECONDS,
        o.customCap() ? String.format(Locale.ROOT, " In-flight cap bounds %d..%d B.",
            o.minInFlightBytes(), o.maxInFlightBytes()) : ""));
    b.append("| client | sender | age at 5 s | at 10 s | at 20 s | p50 / p95 / max after 2 s"
        + " | frames/s after 2 s (link carries) | rate estimate at 3 / 5 / 10 / 20 s |\n");
    b.append("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    for (Result r : results) {
      StringBuilder row = new StringBuilder();
      row.append(String.format(Locale.ROOT, "| (%s) %s | (%s) %s |", r.client.number,
          r.client == ClientKind.SHAPED ? "2 Mbit/s relay" : "reads 200 KB/s", r.strategy.letter,
          shortLabel(r.strategy)));
      for (int mark : AGE_MARKS) {
        double[] a = r.ages(mark - AGE_WINDOW_SECONDS, mark);
        row.append(mark > o.seconds() || a.length == 0 ? " - |"
            : String.format(Locale.ROOT, " %.0f / %.0f |", percentile(a, 50), percentile(a, 95)));
      }
      double[] all = r.ages(SETTLE_SECONDS, o.seconds());
      row.append(all.length == 0 ? " - |" : String.format(Locale.ROOT, " %.0f / %.0f / %.0f |",
          percentile(all, 50), percentile(all, 95), all[all.length - 1]));
      row.append(String.format(Locale.ROOT, " %.2f (%.1f) |", r.deliveredFps(), r.linkFps()));
      if (r.strategy == Strategy.AWAIT_EACH_SEND) {
        row.append(" n/a (no estimator) |");
      } else {
        List<String> rates = new ArrayList<>();
        for (int mark : RATE_MARKS) {
          Long v = r.rateAt.get(mark);
          rates.add(v == null ? "-" : String.format(Locale.ROOT, "%.2f", v / 1e6));
        }
        row.append(' ').append(String.join(" / ", rates)).append(" |");
      }
      b.append(row).append('\n');
    }

    b.append(String.format(Locale.ROOT, "%nTargets for (c) and (d): p95 age after 2 s <= %.0f ms;"
        + " frames/s >= %.0f%% of what the link carries; rate estimate within %.0f%% of the link"
        + " rate at every mark from 3 s.%n%n", TARGET_P95_MS, TARGET_FPS_SHARE * 100, TARGET_RATE_ERROR * 100));
    b.append("| client | sender | p95 age after 2 s | frames/s vs link | rate estimate error, worst of 3-20 s | verdict |\n");
    b.append("| --- | --- | ---: | ---: | ---: | --- |\n");
    for (Result r : results) {
      double p95 = r.ageAfterSettling(95);
      double share = r.deliveredFps() / r.linkFps();
      double worst = Double.NaN;
      if (r.strategy != Strategy.AWAIT_EACH_SEND) {
        worst = 0;
        for (int mark : RATE_MARKS) {
          Long v = r.rateAt.get(mark);
          if (v != null) {
            worst = Math.max(worst, Math.abs(v - o.linkBitsPerSecond(r.client)) / (double) o.linkBitsPerSecond(r.client));
          }
        }
      }
      boolean targeted = r.strategy == Strategy.PING_ACKS || r.strategy == Strategy.CLIENT_ACKS
          || r.strategy == Strategy.PINGS_AND_CLIENT_ACKS;
      boolean ageOk = p95 <= TARGET_P95_MS;
      boolean fpsOk = share >= TARGET_FPS_SHARE;
      boolean rateOk = worst <= TARGET_RATE_ERROR;
      String verdict = !targeted ? "baseline"
          : ageOk && fpsOk && rateOk ? "**pass**"
          : "**miss**: " + String.join(", ", misses(ageOk, fpsOk, rateOk));
      b.append(String.format(Locale.ROOT, "| (%s) | (%s) | %.0f ms | %.0f%% | %s | %s |%n",
          r.client.number, r.strategy.letter, p95, share * 100,
          Double.isNaN(worst) ? "n/a" : String.format(Locale.ROOT, "%.0f%%", worst * 100), verdict));
    }

    b.append("\nSender counters at the end (PacedSender only): sent, skipped, pings, acks accepted;"
        + " signals' min RTT and queue delay; mean send latency (hand-over to completion). Then how"
        + " late a thread of this JVM woke from a 5 ms sleep (the worst, and the time per second lost"
        + " to wake-ups more than 20 ms late): the machine's own noise during that configuration.\n\n");
    b.append("| client | sender | sent | skipped | pings | acks (rejected) | pongs ignored | min RTT | queue delay | send latency avg"
        + " | JVM stall max | ms/s lost to stalls > 20 ms | load average after |\n");
    b.append("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n");
    for (Result r : results) {
      SenderStats s = r.stats;
      String counters = s == null ? "| - | - | - | - | - | - | - | - |"
          : String.format(Locale.ROOT, "| %d | %d | %d | %d (%d) | %d | %.1f ms | %.0f ms | %.1f ms |",
              s.framesSent(), s.framesSkipped(), s.pingsSent(), s.acksAccepted(), s.acksRejected(),
              s.pongsIgnored(),
              s.signals().minRtt().toNanos() / 1e6, s.signals().queueDelay().toNanos() / 1e6,
              s.sendLatencyAvg().toNanos() / 1e6);
      b.append(String.format(Locale.ROOT, "| (%s) | (%s) %s %.0f ms | %.0f | %s |%n",
          r.client.number, r.strategy.letter, counters, r.stalls.maxLateMs(),
          r.stalls.lostOver20MsPerSecond(), r.loadAverage));
    }
    b.append(String.format(Locale.ROOT, "%nLoad average before: %s; after: %s. Arguments: `%s`.%n",
        loadBefore, loadAfter, args.isEmpty() ? "(none)" : args));
    return b.toString();
  }

  private static List<String> misses(boolean ageOk, boolean fpsOk, boolean rateOk) {
    List<String> m = new ArrayList<>();
    if (!ageOk) {
      m.add("age");
    }
    if (!fpsOk) {
      m.add("frames/s");
    }
    if (!rateOk) {
      m.add("rate estimate");
    }
    return m;
  }

  private static String shortLabel(Strategy s) {
    return switch (s) {
      case AWAIT_EACH_SEND -> "await-each-send";
      case COMPLETION -> "completion only";
      case PING_ACKS -> "ping acks + cap";
      case CLIENT_ACKS -> "client acks + cap";
      case PINGS_AND_CLIENT_ACKS -> "pings and client acks + cap";
    };
  }

  /** Nearest-rank percentile of sorted values; NaN if empty. */
  static double percentile(double[] sorted, double p) {
    if (sorted.length == 0) {
      return Double.NaN;
    }
    int index = (int) Math.ceil(p / 100 * sorted.length) - 1;
    return sorted[Math.max(0, Math.min(sorted.length - 1, index))];
  }

  static String loadAverage() {
    try {
      String[] parts = Files.readString(Path.of("/proc/loadavg")).trim().split("\\s+");
      return parts[0] + " " + parts[1] + " " + parts[2];
    } catch (IOException | RuntimeException e) {
      return "n/a";
    }
  }

  private static Object invoke(Object target, Method method, Object[] args) throws Throwable {
    try {
      return method.invoke(target, args);
    } catch (InvocationTargetException e) {
      throw e.getCause();
    }
  }

  private static <T> T proxy(Class<T> type, java.lang.reflect.InvocationHandler handler) {
    return type.cast(Proxy.newProxyInstance(type.getClassLoader(), new Class<?>[] {type}, handler));
  }

  private static void log(String format, Object... args) {
    System.err.printf(Locale.ROOT, "[bench] " + format + "%n", args);
  }

  private SignalsBenchmark() {}
}
