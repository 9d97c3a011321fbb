package dev.keepup.bench;

import dev.keepup.Frame;
import dev.keepup.PacedSender;
import dev.keepup.SenderStats;
import dev.keepup.it.JdkClient;
import dev.keepup.it.TyrusTestServer;
import jakarta.websocket.RemoteEndpoint;
import jakarta.websocket.SendHandler;
import jakarta.websocket.SendResult;
import jakarta.websocket.Session;
import java.io.IOException;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;

/**
 * The "core" benchmark: pacing accuracy, and the sender's overhead against a raw Tyrus send
 * loop, over real loopback sockets (Tyrus 2.2 server, a client draining as fast as it can:
 * the JDK's {@code java.net.http.WebSocket}, or with {@code --client socket} the bare {@link
 * SocketDrainClient}, both in this JVM; or with {@code --client process} that bare client in a
 * JVM of its own, {@link DrainProcess}). Prints a Markdown table and writes it to {@code
 * target/bench/core.md}. Run with {@code bench/run-core.sh}; see docs/benchmarks.md.
 *
 * <p>Options ({@code --help} lists them): {@code --rounds N} connections per message size
 * (default 8), {@code --slices K} turns of every variant on each (default 4), {@code --seconds
 * S} measured per turn (default 0.5), {@code --pacing-seconds S} per frame rate (default 10; 0
 * skips pacing), {@code --client jdk|socket|process}, {@code --client-cpus LIST} (pins the
 * process client with taskset), {@code --idle-timeout-ms N} (every server session's idle
 * timeout; -1 keeps Tyrus from scheduling a task at each send), {@code --quick} (checks the
 * program works in about a minute, figures meaningless). {@code -Dbench.threads=true} logs, per turn, how many sends ran on
 * which thread (a reflective wrapper on every send, so its rates are not comparable).
 * {@code -Dbench.cpu=true} adds to the report the CPU a message by thread group, each variant
 * against each baseline (see {@link #cpuByThreadGroup}).
 *
 * <p>Not a test: it asserts nothing, and its name keeps Surefire away from it.
 */
public final class CoreBenchmark {
  private static final String PATH = "/bench";
  private static final Duration WAIT = Duration.ofSeconds(10);
  private static final int PACING_FRAME_BYTES = 10_000;
  private static final double WARMUP_SECONDS = 0.3;

  private final int rounds;
  private final int slices;
  private final double roundSeconds;
  private final double pacingSeconds;
  private final int[] sizes;
  private final List<Variant> variants;
  private final ClientKind clientKind;
  private final String clientLabel;
  /** With {@code --client process}: the client's own JVM, started once for the whole run. */
  private final DrainProcess drainProcess;
  private final TyrusTestServer server;
  /** {@code --idle-timeout-ms}: given to every server session, or null for Tyrus's default. */
  private final Long idleTimeoutMs;
  /** One CSV row per measured turn, written beside the report for pooling runs (--pool). */
  private final List<String> turnRows = new ArrayList<>();
  private final java.util.concurrent.BlockingQueue<Session> sessions =
      new java.util.concurrent.LinkedBlockingQueue<>();

  private CoreBenchmark(int rounds, int slices, double roundSeconds, double pacingSeconds,
      int[] sizes, List<Variant> variants, ClientKind client, String clientCpus, Long idleTimeoutMs)
      throws Exception {
    this.rounds = rounds;
    this.clientKind = client;
    this.clientLabel = clientLabel(client, clientCpus, THREADS, idleTimeoutMs);
    this.idleTimeoutMs = idleTimeoutMs;
    this.slices = slices;
    this.variants = variants;
    this.sizes = sizes;
    this.roundSeconds = roundSeconds;
    this.pacingSeconds = pacingSeconds;
    this.server = TyrusTestServer.start(PATH, session -> {
      if (idleTimeoutMs != null) {
        session.setMaxIdleTimeout(idleTimeoutMs);
      }
      sessions.add(session);
    });
    try {
      this.drainProcess = client == ClientKind.PROCESS ? DrainProcess.start(clientCpus) : null;
    } catch (IOException | RuntimeException e) {
      server.close();
      throw e;
    }
  }

  public static void main(String[] args) throws Exception {
    if (CPU_BY_GROUP) {
      java.lang.management.ThreadMXBean threads = java.lang.management.ManagementFactory.getThreadMXBean();
      if (!threads.isThreadCpuTimeSupported()) {
        throw new IllegalStateException("-Dbench.cpu=true needs per-thread CPU time, which this JVM does not measure");
      }
      threads.setThreadCpuTimeEnabled(true);
    }
    // Many short turns, side by side on each connection (see throughputRound): on a shared
    // 2-core machine a connection's throughput swings by up to 2x for the same sender.
    int rounds = 8;
    int slices = 4;
    double seconds = 0.5;
    double pacing = 10;
    int[] sizes = {1 << 10, 64 << 10};
    List<Variant> variants = List.of(Variant.RAW, Variant.RAW_LOOP, Variant.PACED, Variant.PACED_PINGS);
    ClientKind client = ClientKind.JDK;
    String clientCpus = null;
    Long idleTimeoutMs = null;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--rounds" -> rounds = Integer.parseInt(args[++i]);
        case "--slices" -> slices = Integer.parseInt(args[++i]);
        case "--seconds" -> seconds = Double.parseDouble(args[++i]);
        case "--pacing-seconds" -> {
          pacing = Double.parseDouble(args[++i]);
          if (!(pacing >= 0)) {
            throw new IllegalArgumentException("--pacing-seconds must be 0 (no pacing) or more, not " + args[i]);
          }
        }
        case "--variants" -> variants = java.util.Arrays.stream(args[++i].split(","))
            .map(Variant::valueOf).toList();
        case "--client" -> client = ClientKind.parse(args[++i]);
        case "--client-cpus" -> clientCpus = args[++i];
        case "--idle-timeout-ms" -> {
          try {
            idleTimeoutMs = Long.parseLong(args[++i]);
          } catch (NumberFormatException e) {
            throw new IllegalArgumentException(
                "--idle-timeout-ms needs whole milliseconds (-1 for none), not " + args[i], e);
          }
        }
        case "--sizes" -> sizes = java.util.Arrays.stream(args[++i].split(",")).mapToInt(Integer::parseInt).toArray();
        case "--pool" -> {
          pool(java.util.Arrays.stream(args[++i].split(",")).map(Path::of).toList());
          return;
        }
        case "--quick" -> {
          rounds = 1;
          slices = 2;
          seconds = 0.5;
          pacing = 2;
        }
        case "--help", "-h" -> {
          System.out.println(String.join("\n",
              "Usage: bench/run-core.sh [options]   (docs/benchmarks.md, \"Core\")",
              "  --rounds N            throughput: connections per message size; default 8",
              "  --slices K            turns of every variant on each connection; default 4",
              "  --seconds S           measured seconds per turn; default 0.5",
              "  --pacing-seconds S    seconds per pacing rate (30 and 60 fps); default 10; 0 skips pacing",
              "  --sizes B,B           message sizes; default 1024,65536",
              "  --variants V,V        RAW,RAW_LOOP,PACED,PACED_PINGS (the first two are the baselines);",
              "                        also RAW_LOOP_200NS, the trampolined loop spinning 200 ns a send,",
              "                        and RAW_NEST8, nested up to 8 deep and then trampolined",
              "  --client jdk|socket|process",
              "                        throughput's draining client: the JDK's java.net.http",
              "                        WebSocket (default), or a bare socket that only walks frame",
              "                        headers, so that the server is what limits throughput;",
              "                        process: that bare-socket client in a JVM of its own",
              "  --client-cpus LIST    with --client process: pins the client's JVM to these CPUs",
              "                        (taskset -c LIST), e.g. 0 while this JVM runs on CPU 1",
              "  --idle-timeout-ms N   sets every server session's max idle timeout; -1 (none) keeps",
              "                        Tyrus 2.2.1 and later from scheduling a task on its pool at",
              "                        each send, which its default (0, also none) does; a positive",
              "                        N closes a session left idle that long; default: Tyrus's",
              "  --quick               a one-minute smoke run whose figures mean nothing",
              "  --pool A.csv,B.csv    no run: pools the per-turn CSVs of earlier runs (each run",
              "                        writes core-turns.csv beside core.md) and prints the ratios"));
          return;
        }
        default -> throw new IllegalArgumentException("unknown option: " + args[i] + " (--help lists them)");
      }
    }
    String report;
    if (clientCpus != null && client != ClientKind.PROCESS) {
      throw new IllegalArgumentException("--client-cpus needs --client process");
    }
    CoreBenchmark bench = new CoreBenchmark(rounds, slices, seconds, pacing, sizes, variants, client,
        clientCpus, idleTimeoutMs);
    try {
      report = bench.run();
    } finally {
      try {
        bench.server.close();
      } finally {
        if (bench.drainProcess != null) {
          bench.drainProcess.close();
        }
      }
    }
    System.out.println(report);
    Path out = Path.of(System.getProperty("keepup.bench.out", "target/bench/core.md"));
    Files.createDirectories(out.toAbsolutePath().getParent());
    Files.writeString(out, report);
    Path turns = out.resolveSibling("core-turns.csv");
    Files.writeString(turns, TURNS_HEADER + "\n" + String.join("\n", bench.turnRows) + "\n");
    System.out.println("Written to " + out.toAbsolutePath() + " and " + turns.toAbsolutePath());
    System.exit(0);
  }

  private String run() throws Exception {
    java.time.Instant started = java.time.Instant.now();
    String loadBefore = loadAverage();
    Map<String, List<Run>> runs = new LinkedHashMap<>();
    log("throughput warm-up");
    for (int size : sizes) {
      throughputRound(size, 1, roundSeconds, null, 0);
    }
    for (int round = 0; round < rounds; round++) {
      for (int size : sizes) {
        throughputRound(size, slices, roundSeconds, runs, round);
      }
    }
    // Pacing after the throughput rounds, so that it measures a JIT-compiled sender, as in a
    // server that has been up for a while.
    List<PacingResult> pacing = new ArrayList<>();
    for (double fps : pacingSeconds > 0 ? new double[] {30, 60} : new double[0]) {
      log("pacing at %.0f fps for %.0f s", fps, pacingSeconds);
      pacing.add(pacing(fps));
    }
    log("per-frame cost over a no-op session");
    double[] nanosPerFrame = new double[rounds];
    for (int round = 0; round < rounds; round++) {
      nanosPerFrame[round] = nanosPerFrameOverNoOpSession(Math.min(1, roundSeconds));
    }
    String loadAfter = loadAverage();
    String period = "Ran from " + started.truncatedTo(java.time.temporal.ChronoUnit.SECONDS) + " to "
        + java.time.Instant.now().truncatedTo(java.time.temporal.ChronoUnit.SECONDS) + ".";
    return table(pacing, sizes, runs, median(nanosPerFrame), loadBefore, loadAfter) + cpuByThreadGroup()
        + "\n" + period + "\n";
  }

  // ---------------------------------------------------------------------------------------
  // The sender's own cost per frame.

  /**
   * Unpaced, pings off, over a session whose every send completes inline at once and does
   * nothing else: what is left is the sender's own work per frame (source poll, lock, step,
   * accounting, the listener and stats bookkeeping) plus two reflective proxy calls.
   */
  private static double nanosPerFrameOverNoOpSession(double seconds) throws Exception {
    SendResult ok = new SendResult();
    RemoteEndpoint.Async async = proxy(RemoteEndpoint.Async.class, (p, m, a) -> {
      if (m.getName().equals("sendBinary") && a.length == 2) {
        ((SendHandler) a[1]).onResult(ok);
      }
      return null;
    });
    Session session = proxy(Session.class, (p, m, a) -> switch (m.getName()) {
      case "getAsyncRemote" -> async;
      case "isOpen" -> true;
      case "getId" -> "no-op";
      case "hashCode" -> System.identityHashCode(p);
      case "equals" -> p == a[0];
      default -> null;
    });
    ByteBuffer payload = ByteBuffer.allocate(1 << 10);
    PacedSender sender = PacedSender.newBuilder(session)
        .unpaced()
        .pingEvery(0)
        .source(rendition -> Frame.of(payload, System.nanoTime()))
        .build();
    // Sends complete inline, forever: the loop keeps this thread for 2 ms, then the scheduler.
    Thread loop = new Thread(sender::start, "bench-noop");
    loop.setDaemon(true);
    loop.start();
    Thread.sleep(300);
    long f0 = sender.stats().framesCompleted();
    long t0 = System.nanoTime();
    Thread.sleep((long) (seconds * 1000));
    long f1 = sender.stats().framesCompleted();
    long t1 = System.nanoTime();
    sender.close();
    loop.join(WAIT.toMillis());
    return (t1 - t0) / (double) Math.max(1, f1 - f0);
  }

  // ---------------------------------------------------------------------------------------
  // Pacing accuracy.

  private record PacingResult(double fps, double seconds, long sent, long skipped,
      double serverMeanAbsErrorMs, double clientMeanAbsErrorMs, double clientP99AbsErrorMs,
      double lateP50Ms, double lateP99Ms, double lateMaxMs, int restarts,
      double timerP50Ms, double timerP99Ms, double timerMaxMs, int timerRestarts) {}

  /**
   * One session at {@code fps} for the pacing time. Each frame carries the index of the tick
   * that took it; the session records when each send started. A send's lateness is measured
   * against its tick's deadline on the sender's grid, reconstructed from the tick times: tick k
   * is due one interval after tick k-1's deadline, except that a tick a whole interval late
   * restarts the grid at that tick (the sender does so rather than burst to catch up; those
   * restarts are counted).
   */
  private PacingResult pacing(double fps) throws Exception {
    double interval = 1e9 / fps;
    int capacity = (int) (pacingSeconds * fps * 2) + 100;
    try (JdkClient client = JdkClient.connect(server.uri(PATH))) {
      Session session = sessions.poll(WAIT.toMillis(), TimeUnit.MILLISECONDS);
      if (session == null) {
        throw new IllegalStateException("no session");
      }
      long[] tickTimes = new long[capacity];
      long[] sendTimes = new long[capacity];
      int[] ticks = {0};
      PacedSender sender = PacedSender.newBuilder(timestamping(session, sendTimes))
          .targetFps(fps)
          .source(rendition -> {
            long now = System.nanoTime();
            int index = ticks[0]++;
            if (index < capacity) {
              tickTimes[index] = now;
            }
            ByteBuffer payload = ByteBuffer.allocate(PACING_FRAME_BYTES);
            payload.putLong(0, index);
            return Frame.of(payload, now);
          })
          .build();
      sender.start();
      Thread.sleep((long) (pacingSeconds * 1000));
      sender.close();
      awaitSettled(sender);
      SenderStats stats = sender.stats();
      client.awaitMessages((int) stats.framesCompleted(), WAIT);

      int n = Math.min(ticks[0], capacity);
      long[] deadlines = new long[n];
      int restarts = deadlines(tickTimes, n, interval, deadlines);
      List<Double> late = new ArrayList<>();
      long previousSend = 0;
      double errorSum = 0;
      int intervals = 0;
      for (int k = 0; k < n; k++) {
        if (sendTimes[k] == 0) {
          continue;
        }
        late.add((sendTimes[k] - deadlines[k]) / 1e6);
        if (previousSend != 0) {
          errorSum += Math.abs(sendTimes[k] - previousSend - interval);
          intervals++;
        }
        previousSend = sendTimes[k];
      }
      List<JdkClient.Message> messages = client.messages();
      double[] clientErrors = new double[Math.max(0, messages.size() - 1)];
      for (int i = 1; i < messages.size(); i++) {
        long gap = messages.get(i).arrivalNanos() - messages.get(i - 1).arrivalNanos();
        clientErrors[i - 1] = Math.abs(gap - interval) / 1e6;
      }
      double[] sortedLate = late.stream().mapToDouble(Double::doubleValue).sorted().toArray();
      double[] tickLate = new double[n];
      List<Double> tickToSend = new ArrayList<>();
      for (int k = 0; k < n; k++) {
        tickLate[k] = (tickTimes[k] - deadlines[k]) / 1e6;
        if (sendTimes[k] != 0) {
          tickToSend.add((sendTimes[k] - tickTimes[k]) / 1e6);
        }
      }
      Arrays.sort(tickLate);
      double[] sortedTickToSend = tickToSend.stream().mapToDouble(Double::doubleValue).sorted().toArray();
      log("  %.0f fps: tick lateness p50 %.3f p99 %.2f ms; tick to send start p50 %.3f p99 %.2f ms",
          fps, percentile(tickLate, 50), percentile(tickLate, 99), percentile(sortedTickToSend, 50),
          percentile(sortedTickToSend, 99));
      double[] sortedClient = clientErrors.clone();
      Arrays.sort(sortedClient);
      double[] timer = new double[4];
      bareTimer(fps, Math.min(5, pacingSeconds), timer);
      return new PacingResult(fps, pacingSeconds, stats.framesSent(), stats.framesSkipped(),
          errorSum / 1e6 / Math.max(1, intervals), mean(clientErrors), percentile(sortedClient, 99),
          percentile(sortedLate, 50), percentile(sortedLate, 99),
          sortedLate.length == 0 ? 0 : sortedLate[sortedLate.length - 1], restarts,
          timer[0], timer[1], timer[2], (int) timer[3]);
    }
  }

  /**
   * Fills {@code deadlines} for {@code n} tick times on the sender's grid and returns how many
   * times the grid restarted. The sender's ticks are due at {@code origin + k * interval}, and
   * never run early, so {@code t[k] - k * interval} stays in {@code [origin, origin + interval)}
   * until a tick comes a whole interval late; the sender then restarts its grid at that tick
   * (rather than burst to catch up), and those values jump by at least an interval. The first
   * origin is not observable (the sender reads its clock inside {@code start()}, after
   * registering its handlers), so it is estimated as the least {@code t[k] - k * interval}:
   * lateness is then understated by at most the smallest lateness of any tick, a few tens of
   * microseconds. A restart's origin is the restarting tick's own time.
   */
  private static int deadlines(long[] t, int n, double interval, long[] deadlines) {
    int restarts = 0;
    int base = 0;
    double origin = Double.MAX_VALUE;
    int end = n;
    for (int k = 0; k < n; k++) {
      double v = t[k] - k * interval;
      if (v - origin >= interval) {
        end = k;
        break;
      }
      origin = Math.min(origin, v);
    }
    for (int k = 0; k < end; k++) {
      deadlines[k] = (long) Math.ceil(origin + k * interval);
    }
    while (end < n) {
      int restart = end;
      deadlines[restart] = (long) Math.ceil(origin + (restart - base) * interval);
      restarts++;
      base = restart;
      origin = t[restart];
      end = n;
      for (int k = restart + 1; k < n; k++) {
        long due = (long) Math.ceil(origin + (k - base) * interval);
        if (t[k] - due >= interval) {
          end = k;
          break;
        }
        deadlines[k] = due;
      }
    }
    return restarts;
  }

  /**
   * The machine's own timer noise, for comparison: a bare {@link
   * java.util.concurrent.ScheduledThreadPoolExecutor} thread scheduling one task per deadline on
   * the same kind of grid, with no sockets. Fills p50, p99 and max lateness (ms) and restarts.
   */
  private static void bareTimer(double fps, double seconds, double[] out) throws InterruptedException {
    double interval = 1e9 / fps;
    int n = (int) (seconds * fps);
    long[] ran = new long[n];
    java.util.concurrent.ScheduledThreadPoolExecutor timer = new java.util.concurrent.ScheduledThreadPoolExecutor(1);
    CountDownLatch done = new CountDownLatch(1);
    long start = System.nanoTime();
    Runnable[] task = new Runnable[1];
    int[] k = {0};
    double[] due = {start};
    task[0] = () -> {
      long now = System.nanoTime();
      ran[k[0]] = now;
      if (++k[0] == n) {
        done.countDown();
        return;
      }
      double next = due[0] + interval;
      due[0] = now - next >= 0 ? now + interval : next;
      timer.schedule(task[0], (long) Math.ceil(due[0]) - System.nanoTime(), TimeUnit.NANOSECONDS);
    };
    timer.schedule(task[0], 0, TimeUnit.NANOSECONDS);
    done.await((long) (seconds * 2000) + 5000, TimeUnit.MILLISECONDS);
    timer.shutdownNow();
    int count = k[0];
    long[] deadlines = new long[count];
    int restarts = deadlines(ran, count, interval, deadlines);
    double[] late = new double[count];
    for (int i = 0; i < count; i++) {
      late[i] = (ran[i] - deadlines[i]) / 1e6;
    }
    Arrays.sort(late);
    out[0] = percentile(late, 50);
    out[1] = percentile(late, 99);
    out[2] = late.length == 0 ? 0 : late[late.length - 1];
    out[3] = restarts;
  }

  /** Wraps {@code session} so that every async binary send records when it started, by tick. */
  private static Session timestamping(Session session, long[] sendTimes) {
    return beforeEachSend(session, (method, args) -> {
      if (method.getName().equals("sendBinary") && args.length == 2) {
        ByteBuffer data = (ByteBuffer) args[0];
        long index = data.getLong(data.position());
        if (index >= 0 && index < sendTimes.length) {
          sendTimes[(int) index] = System.nanoTime();
        }
      }
    });
  }

  /**
   * Wraps {@code session} so that every async send counts against the thread it runs on (by
   * name): a diagnostic ({@code -Dbench.threads=true}) for where a variant's loop runs, which
   * costs every variant a reflective call per send.
   */
  private static Session countingSendsByThread(Session session, Map<String, AtomicLong> counts) {
    return beforeEachSend(session, (method, args) -> {
      if (method.getName().startsWith("send")) {
        counts.computeIfAbsent(Thread.currentThread().getName(), k -> new AtomicLong()).incrementAndGet();
      }
    });
  }

  /** Wraps {@code session} so that {@code hook} sees every call on its async remote first. */
  private static Session beforeEachSend(Session session,
      java.util.function.BiConsumer<Method, Object[]> hook) {
    return proxy(Session.class, (proxy, method, args) -> {
      if (method.getName().equals("getAsyncRemote")) {
        RemoteEndpoint.Async async = session.getAsyncRemote();
        return proxy(RemoteEndpoint.Async.class, (p, m, a) -> {
          hook.accept(m, a == null ? new Object[0] : a);
          return invoke(async, m, a);
        });
      }
      return invoke(session, method, args);
    });
  }

  // ---------------------------------------------------------------------------------------
  // Unpaced throughput.

  private enum Variant {
    RAW("raw, next send from the handler"),
    RAW_LOOP("raw, trampolined"),
    PACED("PacedSender unpaced, pingEvery(0)"),
    PACED_PINGS("PacedSender unpaced, pingEvery(1)"),
    /**
     * Not run by default: the trampolined loop spinning 200 ns before each send, to calibrate
     * what a per-frame cost of that size does to throughput on the machine at hand.
     */
    RAW_LOOP_200NS("raw, trampolined, +200 ns per send"),
    /**
     * Raw, the next send nested in the handler of one that completed inline, at most 8 deep
     * (below Grizzly's cap of 10, so the chain never hops to the selector thread), then
     * trampolined: tells nesting apart from the hop, between the two baselines.
     */
    RAW_NEST8("raw, nested up to 8, then trampolined");

    final String label;

    Variant(String label) {
      this.label = label;
    }
  }

  /**
   * A timed window: messages and bytes the client received, messages the sender saw complete
   * (handed to the kernel; equal to the received rate once the buffers are full).
   */
  private record Run(long messages, long bytes, long completed, double seconds, double cpuSeconds,
      Map<String, Double> cpuMicrosPerMessageByGroup) {
    double messagesPerSecond() {
      return messages / seconds;
    }

    double megabytesPerSecond() {
      return bytes / seconds / 1e6;
    }

    double cpuMicrosPerMessage() {
      return messages == 0 ? 0 : cpuSeconds * 1e6 / messages;
    }
  }

  private static String key(Variant v, int size) {
    return v.name() + "/" + size;
  }

  /**
   * One round: a fresh draining client and its session, on which every variant takes
   * {@code slices} turns, the order rotated each turn. Variants share the connection because
   * a connection's throughput depends on how its threads happen to land on the cores: fresh
   * connections for each variant differed by up to 2x for the same sender, drowning a 5% gap.
   * Turns next to each other on one connection see the same luck, and their ratio cancels it.
   */
  private void throughputRound(int size, int slices, double seconds, Map<String, List<Run>> runs,
      int round) throws Exception {
    long tConnect = System.nanoTime();
    try (Drain client = switch (clientKind) {
      case SOCKET -> SocketDrainClient.connect(server.uri(PATH), WAIT);
      case PROCESS -> drainProcess.connect(server.uri(PATH));
      case JDK -> DrainClient.connect(server.uri(PATH));
    }) {
      Session session = sessions.poll(WAIT.toMillis(), TimeUnit.MILLISECONDS);
      trace("connected in %.0f ms", (System.nanoTime() - tConnect) / 1e6);
      if (session == null) {
        throw new IllegalStateException("no session");
      }
      for (int slice = 0; slice < slices; slice++) {
        List<Variant> order = new ArrayList<>(variants);
        java.util.Collections.rotate(order, slice);
        if ((round + slice) % 2 == 1) {
          // Reversed too, so that no variant always follows the same one.
          java.util.Collections.reverse(order);
        }
        Map<Variant, Run> thisSlice = new java.util.EnumMap<>(Variant.class);
        for (Variant v : order) {
          Run r = slice(v, session, client, size, seconds);
          thisSlice.put(v, r);
          if (runs != null) {
            runs.computeIfAbsent(key(v, size), k -> new ArrayList<>()).add(r);
            turnRows.add(String.format(Locale.ROOT, "%d,%d,%d,%s,%.1f,%.1f,%.2f,%s,%d,%s", size, round + 1,
                slice + 1, v.name(), r.messagesPerSecond(), r.completed / r.seconds, r.cpuMicrosPerMessage(),
                clientLabel, Runtime.getRuntime().availableProcessors(),
                garbageCollector()));
            log("round %d.%d, %5d B, %-34s received %9.0f msg/s %8.1f MB/s, completed %9.0f msg/s,"
                    + " %6.1f us CPU/msg", round + 1, slice + 1, size, v.label, r.messagesPerSecond(),
                r.megabytesPerSecond(), r.completed / r.seconds, r.cpuMicrosPerMessage());
          }
        }
        if (runs != null && CPU_BY_GROUP) {
          recordCpuDifferences(size, thisSlice);
        }
      }
    }
  }

  /**
   * One variant's turn on an open session: a warm-up (the kernel buffers, up to a few MB on
   * loopback, drain what the previous turn left and fill again, so the window sees the steady
   * state), then a timed window in which both the sender's completions and the client's
   * arrivals are counted; then the sender stops and its last send completes.
   */
  private Run slice(Variant variant, Session session, Drain client, int size, double seconds)
      throws Exception {
    Map<String, AtomicLong> sendsByThread = new java.util.concurrent.ConcurrentHashMap<>();
    Map<Long, Long> cpuBefore = Map.of();
    if (THREADS) {
      session = countingSendsByThread(session, sendsByThread);
    }
    ByteBuffer payload = ByteBuffer.allocate(size);
    Supplier<Long> completed;
    Runnable stop;
    CountDownLatch settled = new CountDownLatch(1);
    Runnable begin;
    if (variant == Variant.RAW) {
      RawLoop loop = new RawLoop(session, payload, settled);
      begin = loop::start;
      completed = loop.completed::get;
      stop = loop::stop;
    } else if (variant == Variant.RAW_LOOP || variant == Variant.RAW_LOOP_200NS || variant == Variant.RAW_NEST8) {
      TrampolinedLoop loop = new TrampolinedLoop(session, payload, settled,
          variant == Variant.RAW_LOOP_200NS ? 200 : 0, variant == Variant.RAW_NEST8 ? 8 : 1);
      begin = () -> loop.send(0);
      completed = loop.completed::get;
      stop = loop::stop;
    } else {
      PacedSender sender = PacedSender.newBuilder(session)
          .unpaced()
          .pingEvery(variant == Variant.PACED_PINGS ? 1 : 0)
          .source(rendition -> Frame.of(payload, System.nanoTime()))
          .build();
      begin = sender::start;
      completed = () -> sender.stats().framesCompleted();
      stop = () -> {
        sender.close();
        awaitSettled(sender);
        SenderStats s = sender.stats();
        trace("  %s: pings %d, acks %d, pongs ignored %d, min RTT %s, delivery rate %.1f Mbit/s,"
                + " send latency avg %s", variant.label, s.pingsSent(), s.acksAccepted(),
            s.pongsIgnored(), s.signals().minRtt(), s.signals().deliveryRateBitsPerSecond() / 1e6,
            s.sendLatencyAvg());
        settled.countDown();
      };
    }
    // Every variant starts on a thread of its own: while the socket takes each write at once,
    // sends complete inline and the loop keeps the starting thread (a PacedSender built with
    // unpaced() does too: start() returns only once a send completes asynchronously).
    Thread starter = new Thread(begin, "bench-start");
    starter.setDaemon(true);
    starter.start();
    Thread.sleep((long) (WARMUP_SECONDS * 1000));
    if (CPU_BY_GROUP) {
      // Outside the window: the scan's own cost falls on no variant's figures.
      cpuBefore = cpuNanosByThread();
    }
    long m0 = completed.get();
    long r0 = client.messages();
    long c0 = cpuNanos();
    long t0 = System.nanoTime();
    Thread.sleep((long) (seconds * 1000));
    long m1 = completed.get();
    long r1 = client.messages();
    long t1 = System.nanoTime();
    long c1 = cpuNanos();
    Map<String, Double> cpuByGroup = CPU_BY_GROUP
        ? cpuMicrosPerMessage(cpuBefore, c1 - c0, r1 - r0)
        : Map.of();
    stop.run();
    if (!settled.await(WAIT.toMillis(), TimeUnit.MILLISECONDS)) {
      throw new IllegalStateException(variant + ": the last send did not complete");
    }
    starter.join(WAIT.toMillis());
    if (!session.isOpen()) {
      throw new IllegalStateException(variant + ": the session closed");
    }
    trace("settled in %.0f ms", (System.nanoTime() - t1) / 1e6);
    if (THREADS) {
      log("  %s: sends by thread %s", variant.name(), new java.util.TreeMap<>(sendsByThread));
    }
    long received = r1 - r0;
    return new Run(received, received * size, m1 - m0, (t1 - t0) / 1e9, (c1 - c0) / 1e9, cpuByGroup);
  }

  /**
   * The CSV's client column: what would make turns incomparable, so that --pool keeps apart
   * pinned and unpinned client processes (process@cpu0, process@any), turns that paid the
   * per-send thread counter (+threadcount), and sessions given an idle timeout (+idle-1).
   */
  static String clientLabel(ClientKind client, String clientCpus, boolean threads, Long idleTimeoutMs) {
    return client.name().toLowerCase(Locale.ROOT)
        + (client != ClientKind.PROCESS ? ""
            : clientCpus != null ? "@cpu" + clientCpus.replace(',', ';') : "@any")
        + (threads ? "+threadcount" : "")
        + (idleTimeoutMs != null ? "+idle" + idleTimeoutMs : "");
  }

  /** The throughput turns' draining client. */
  enum ClientKind {
    JDK, SOCKET, PROCESS;

    static ClientKind parse(String name) {
      for (ClientKind kind : values()) {
        if (kind.name().equalsIgnoreCase(name)) {
          return kind;
        }
      }
      throw new IllegalArgumentException("--client must be jdk, socket or process, not " + name);
    }
  }

  /** A client that drains a session and counts the whole messages it received. */
  interface Drain extends AutoCloseable {
    long messages();

    @Override
    void close();
  }

  /**
   * A {@code java.net.http.WebSocket} client that only counts: one {@code request(1)} per
   * callback, like the tests' fast {@link JdkClient}, without keeping a record per message, so
   * the client costs as little CPU as the JDK allows.
   */
  private static final class DrainClient implements java.net.http.WebSocket.Listener, Drain {
    private static final java.net.http.HttpClient HTTP = java.net.http.HttpClient.newHttpClient();
    private final AtomicLong messages = new AtomicLong();
    private volatile java.net.http.WebSocket webSocket;

    static DrainClient connect(java.net.URI uri) throws Exception {
      DrainClient client = new DrainClient();
      client.webSocket = HTTP.newWebSocketBuilder().buildAsync(uri, client)
          .get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
      return client;
    }

    @Override
    public long messages() {
      return messages.get();
    }

    @Override
    public void onOpen(java.net.http.WebSocket ws) {
      ws.request(1);
    }

    @Override
    public java.util.concurrent.CompletionStage<?> onBinary(java.net.http.WebSocket ws, ByteBuffer data, boolean last) {
      if (last) {
        messages.incrementAndGet();
      }
      ws.request(1);
      return null;
    }

    @Override
    public java.util.concurrent.CompletionStage<?> onPing(java.net.http.WebSocket ws, ByteBuffer message) {
      ws.request(1);
      return null;
    }

    @Override
    public void close() {
      long t = System.nanoTime();
      java.net.http.WebSocket ws = webSocket;
      if (ws != null) {
        ws.abort();
      }
      trace("aborted in %.0f ms", (System.nanoTime() - t) / 1e6);
    }
  }

  /**
   * The baseline: one async send in flight, the next issued from the previous one's handler,
   * as a careful hand-written sender would. Tyrus completes a send inline when the socket takes
   * it at once; Grizzly caps that nesting at 10 and then completes on its selector thread, so
   * the recursion stays bounded.
   */
  private static final class RawLoop implements SendHandler {
    final Session session;
    final ByteBuffer payload;
    final CountDownLatch settled;
    final AtomicLong completed = new AtomicLong();
    volatile boolean stopping;

    RawLoop(Session session, ByteBuffer payload, CountDownLatch settled) {
      this.session = session;
      this.payload = payload;
      this.settled = settled;
    }

    void start() {
      send();
    }

    void stop() {
      stopping = true;
    }

    private void send() {
      session.getAsyncRemote().sendBinary(payload.duplicate(), this);
    }

    @Override
    public void onResult(SendResult result) {
      if (!result.isOK()) {
        System.err.println("[bench] raw send failed: " + result.getException());
        settled.countDown();
        return;
      }
      completed.incrementAndGet();
      if (stopping) {
        settled.countDown();
      } else {
        send();
      }
    }
  }

  /**
   * The raw baseline done as {@code SendLoop} does it: a send that completes inline (inside
   * {@code sendBinary}) makes the loop go round again instead of nesting the next send in the
   * handler, so Grizzly's re-entrancy cap (10 nested writes, then a hop to the selector thread)
   * never comes into play. Still one send in flight. With {@code maxDepth > 1} the handler of
   * a send that completed inline nests the next send itself, up to that depth (RAW_NEST8);
   * one continuation owns the chain at a time: a handler that nests takes it over, and the
   * send it nested in returns without going on.
   */
  private static final class TrampolinedLoop {
    private static final int SENDER_RETURNED = 1;
    private static final int HANDLER_DONE = 2;
    private static final int NESTED = 3;
    final Session session;
    final ByteBuffer payload;
    final CountDownLatch settled;
    final long busyNanos;
    final int maxDepth;
    final AtomicLong completed = new AtomicLong();
    volatile boolean stopping;

    TrampolinedLoop(Session session, ByteBuffer payload, CountDownLatch settled, long busyNanos, int maxDepth) {
      this.session = session;
      this.payload = payload;
      this.settled = settled;
      this.busyNanos = busyNanos;
      this.maxDepth = maxDepth;
    }

    void stop() {
      stopping = true;
    }

    /** Sends until a send does not complete inline, or its handler nested the next one. */
    void send(int depth) {
      while (!stopping) {
        if (busyNanos > 0) {
          long end = System.nanoTime() + busyNanos;
          while (System.nanoTime() - end < 0) {
            Thread.onSpinWait();
          }
        }
        java.util.concurrent.atomic.AtomicInteger state = new java.util.concurrent.atomic.AtomicInteger();
        session.getAsyncRemote().sendBinary(payload.duplicate(), result -> done(result, state, depth));
        if (state.compareAndSet(0, SENDER_RETURNED) || state.get() == NESTED) {
          // Completes later and its handler goes on, or its handler went on already, nested.
          return;
        }
      }
      settled.countDown();
    }

    private void done(SendResult result, java.util.concurrent.atomic.AtomicInteger state, int depth) {
      if (!result.isOK()) {
        System.err.println("[bench] raw send failed: " + result.getException());
        stopping = true;
      } else {
        completed.incrementAndGet();
      }
      if (depth + 1 < maxDepth && state.compareAndSet(0, NESTED)) {
        send(depth + 1);
      } else if (!state.compareAndSet(0, HANDLER_DONE)) {
        // The send returned before this ran: the chain goes on from here.
        send(0);
      }
    }
  }

  // ---------------------------------------------------------------------------------------
  // The report.

  private void pacingTable(StringBuilder b, List<PacingResult> pacing) {
    b.append(String.format(Locale.ROOT,
        "Pacing accuracy: one session, %d B frames, default settings (a ping after every frame),"
            + " fast JDK client, %.0f s per rate.%n%n", PACING_FRAME_BYTES, pacingSeconds));
    b.append("| target fps | frames sent | skipped | mean abs interval error, server sends (ms)"
        + " | mean abs interval error, client arrivals (ms) | p99 abs interval error, client (ms)"
        + " | send lateness vs deadline p50 / p99 / max (ms) | grid restarts"
        + " | bare timer lateness p50 / p99 / max (ms), restarts |\n");
    b.append("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    for (PacingResult p : pacing) {
      b.append(String.format(Locale.ROOT,
          "| %.0f | %d | %d | %.3f | %.3f | %.2f | %.3f / %.2f / %.2f | %d | %.3f / %.2f / %.2f, %d |%n",
          p.fps, p.sent, p.skipped, p.serverMeanAbsErrorMs, p.clientMeanAbsErrorMs,
          p.clientP99AbsErrorMs, p.lateP50Ms, p.lateP99Ms, p.lateMaxMs, p.restarts,
          p.timerP50Ms, p.timerP99Ms, p.timerMaxMs, p.timerRestarts));
    }
  }

  private String table(List<PacingResult> pacing, int[] sizes, Map<String, List<Run>> runs,
      double nanosPerFrame, String loadBefore, String loadAfter) {
    StringBuilder b = new StringBuilder();
    // With taskset, the JVM sees only the CPUs it may run on.
    // (On one CPU the JVM also picks the Serial collector unless told otherwise.)
    b.append(String.format(Locale.ROOT, "CPUs this JVM may use: %d; garbage collector: %s; server"
            + " sessions' max idle timeout: %s.%n%n",
        Runtime.getRuntime().availableProcessors(), garbageCollector(),
        idleTimeoutMs == null ? "Tyrus's default (0, none; Tyrus schedules a task at each send)"
            : idleTimeoutMs <= 0 ? idleTimeoutMs + " (none; --idle-timeout-ms)"
            : idleTimeoutMs + " ms (--idle-timeout-ms)"));
    if (!pacing.isEmpty()) {
      pacingTable(b, pacing);
    }
    b.append(String.format(Locale.ROOT,
        "%nUnpaced throughput: one send in flight, %s draining, %d connections per"
            + " message size, on each %d turns of every variant (order rotated) of %.1f s after"
            + " %.1f s of warm-up, counted at the client; msg/s, MB/s and CPU are medians over"
            + " the %d turns; MB = 10^6 bytes; CPU is this whole process (server and sender, and"
            + " the client unless it runs in its own) per message. Ratios: of the medians; then"
            + " the median of the per-turn ratios, each turn against the baseline's turn in the"
            + " same slice of the same connection, with its 95%% confidence interval (order"
            + " statistics).%n%n",
        switch (clientKind) {
          case SOCKET -> "a bare-socket client (frame headers only)";
          case PROCESS -> "a bare-socket client (frame headers only) in " + drainProcess.description();
          case JDK -> "fast JDK client";
        },
        rounds, slices, roundSeconds, WARMUP_SECONDS, rounds * slices));
    b.append("| message | sender | msg/s | MB/s | CPU us/msg | vs raw from handler: ratio of medians;"
        + " per-turn median [95% CI] | vs raw trampolined: same |\n");
    b.append("| ---: | --- | ---: | ---: | ---: | ---: | ---: |\n");
    for (int size : sizes) {
      for (Variant v : variants) {
        List<Run> rs = runs.get(key(v, size));
        double mps = median(rs.stream().mapToDouble(Run::messagesPerSecond).toArray());
        double mbs = median(rs.stream().mapToDouble(Run::megabytesPerSecond).toArray());
        double cpu = median(rs.stream().mapToDouble(Run::cpuMicrosPerMessage).toArray());
        String vsRaw = v == Variant.RAW ? "1" : ratio(rs, runs.get(key(Variant.RAW, size)));
        String vsLoop = v == Variant.RAW_LOOP ? "1" : ratio(rs, runs.get(key(Variant.RAW_LOOP, size)));
        b.append(String.format(Locale.ROOT, "| %s | %s | %.0f | %.1f | %.1f | %s | %s |%n",
            sizeLabel(size), v.label, mps, mbs, cpu, vsRaw, vsLoop));
      }
    }
    b.append(String.format(Locale.ROOT, "%nThe sender's own work per frame, over a no-op session"
        + " whose sends complete inline (unpaced, pings off, one thread, median of %d x %.0f s):"
        + " **%.2f us** per frame.%n", rounds, Math.min(1, roundSeconds), nanosPerFrame / 1000));
    b.append(String.format(Locale.ROOT, "%nLoad average before: %s; after: %s.%n", loadBefore, loadAfter));
    return b.toString();
  }

  /**
   * Ratio of medians, then the median of the per-turn ratios and its 95% confidence interval
   * (the turns of one slice ran side by side on one connection, so their ratio cancels what
   * differs between connections and slices).
   */
  private static String ratio(List<Run> runs, List<Run> baseline) {
    if (baseline == null) {
      return "-";
    }
    double[] perTurn = new double[runs.size()];
    for (int i = 0; i < runs.size(); i++) {
      perTurn[i] = runs.get(i).messagesPerSecond() / baseline.get(i).messagesPerSecond();
    }
    double ofMedians = median(runs.stream().mapToDouble(Run::messagesPerSecond).toArray())
        / median(baseline.stream().mapToDouble(Run::messagesPerSecond).toArray());
    return String.format(Locale.ROOT, "**%.2f**; %s", ofMedians, medianWithInterval(perTurn, 2));
  }

  /** "median [low-high]": the median and its 95% interval ({@link #medianConfidenceRanks}). */
  private static String medianWithInterval(double[] values, int decimals) {
    String f = "%." + decimals + "f";
    return medianWithInterval(values, v -> String.format(Locale.ROOT, f, v), "-");
  }

  /** The same, each number written by {@code format}, the interval's ends joined by {@code between}. */
  private static String medianWithInterval(double[] values, java.util.function.DoubleFunction<String> format,
      String between) {
    double[] sorted = values.clone();
    Arrays.sort(sorted);
    int[] ranks = medianConfidenceRanks(sorted.length);
    return format.apply(median(sorted)) + " [" + format.apply(sorted[ranks[0]]) + between
        + format.apply(sorted[ranks[1]]) + "]";
  }

  /**
   * Indexes (0-based, into sorted samples) of a distribution-free confidence interval of at
   * least 95% for the median of {@code n} samples: [X(a), X(n+1-a)] in 1-based order
   * statistics covers the median with probability 1 - 2 P(Binomial(n, 1/2) <= a - 1), so a is
   * the largest rank that keeps P(B <= a - 1) within 2.5%. Below n = 6 no rank does, and the
   * interval is the whole range.
   */
  static int[] medianConfidenceRanks(int n) {
    // a: 1-based rank; cdf: P(B <= a - 1), grown one term at a time while it stays in 2.5%.
    double pmf = Math.pow(0.5, n);
    double cdf = pmf; // P(B <= 0), for a = 1
    int a = 0;
    int i = 0;
    while (i < n / 2 && cdf <= 0.025) {
      a = i + 1;
      pmf = pmf * (n - i) / (i + 1);
      cdf += pmf;
      i++;
    }
    return a == 0 ? new int[] {0, n - 1} : new int[] {a - 1, n - a};
  }

  // ---------------------------------------------------------------------------------------
  // Pooling runs.

  private static final String TURNS_HEADER =
      "size,round,slice,variant,msgPerSecond,completedPerSecond,cpuMicrosPerMessage,client,cpus,gc";
  /**
   * Runs before the client column: all drained by the JDK client, unpinned on the project's
   * 2-CPU machine, where the JVM's default collector is G1.
   */
  private static final String TURNS_HEADER_BEFORE_CLIENT = "size,round,slice,variant,msgPerSecond,"
      + "completedPerSecond,cpuMicrosPerMessage";

  /**
   * Pools the per-turn rows of several runs: for every message size, variant and baseline, the
   * median of the per-turn ratios (each turn against the baseline's turn in the same slice of
   * the same connection) and, more conservatively since turns on one connection are not
   * independent, the median over connections of each connection's median ratio; each with
   * its 95% interval.
   */
  private static void pool(List<Path> files) throws IOException {
    Map<Slice, Map<String, Double>> slices = new LinkedHashMap<>(); // -> variant -> msg/s
    for (Path file : files) {
      List<String> lines = Files.readAllLines(file);
      if (lines.isEmpty() || !(lines.get(0).equals(TURNS_HEADER) || lines.get(0).equals(TURNS_HEADER_BEFORE_CLIENT))) {
        throw new IllegalArgumentException(file + ": not a core-turns.csv (header " + TURNS_HEADER
            + ", or before the client column " + TURNS_HEADER_BEFORE_CLIENT + ")");
      }
      for (String line : lines.subList(1, lines.size())) {
        if (line.isBlank()) {
          continue;
        }
        String[] f = line.split(",");
        String setup = f.length > 7 ? f[7] + ", " + f[8] + " CPU, " + f[9] : "jdk, 2 CPU, G1";
        Slice slice = new Slice(new Connection(file, Integer.parseInt(f[1])), setup,
            Integer.parseInt(f[0]), Integer.parseInt(f[2]));
        slices.computeIfAbsent(slice, k -> new LinkedHashMap<>()).put(f[3], Double.parseDouble(f[4]));
      }
    }
    StringBuilder b = new StringBuilder(String.format(Locale.ROOT,
        "Pooled from %d files, %d slices. Per turn: median of per-turn ratios [95%% CI];"
            + " per connection: median of the connections' median ratios [95%% CI]; below 6"
            + " samples the bracket is the whole range, which covers less than 95%%.%n%n",
        files.size(), slices.size()));
    b.append("| client, CPUs, collector | message | sender | baseline | turns | per turn | connections | per connection |\n");
    b.append("| --- | ---: | --- | --- | ---: | ---: | ---: | ---: |\n");
    for (String baseline : List.of(Variant.RAW.name(), Variant.RAW_LOOP.name())) {
      // (setup, size) -> variant -> connection -> ratios
      Map<Group, Map<String, Map<Connection, List<Double>>>> ratios = new java.util.TreeMap<>(
          java.util.Comparator.comparing(Group::setup).thenComparing(Group::size));
      slices.forEach((slice, byVariant) -> {
        Double base = byVariant.get(baseline);
        if (base == null) {
          return;
        }
        byVariant.forEach((variant, rate) -> {
          if (!variant.equals(baseline)) {
            ratios.computeIfAbsent(new Group(slice.setup(), slice.size()), x -> new LinkedHashMap<>())
                .computeIfAbsent(variant, x -> new LinkedHashMap<>())
                .computeIfAbsent(slice.connection(), x -> new ArrayList<>()).add(rate / base);
          }
        });
      });
      ratios.forEach((group, byVariant) -> byVariant.forEach((variant, byConnection) -> {
        double[] turns = byConnection.values().stream().flatMap(List::stream)
            .mapToDouble(Double::doubleValue).toArray();
        double[] connections = byConnection.values().stream()
            .mapToDouble(l -> median(l.stream().mapToDouble(Double::doubleValue).toArray())).toArray();
        b.append(String.format(Locale.ROOT, "| %s | %s | %s | %s | %d | %s | %d | %s |%n",
            group.setup(), sizeLabel(group.size()),
            variant, baseline, turns.length, medianWithInterval(turns, 3), connections.length,
            medianWithInterval(connections, 3)));
      }));
    }
    System.out.print(b);
  }

  /** One connection of one pooled run: its turns are not independent of each other. */
  private record Connection(Path file, int round) {}

  /** The turns that ran side by side, one per variant, on one connection. */
  private record Slice(Connection connection, String setup, int size, int index) {}

  /** What pooled ratios are grouped by: client, CPUs and collector ("setup"), and size. */
  private record Group(String setup, int size) {}

  private static String sizeLabel(int bytes) {
    return bytes >= 1024 ? (bytes >> 10) + " KiB" : bytes + " B";
  }

  // ---------------------------------------------------------------------------------------
  // Utilities.

  private static void awaitSettled(PacedSender sender) {
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (sender.stats().framesInFlight() != 0) {
      if (System.nanoTime() - deadline > 0) {
        throw new IllegalStateException("in-flight frame not reported within " + WAIT);
      }
      try {
        Thread.sleep(1);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
  }

  /**
   * The process's threads in the groups the CPU report keeps apart: where a variant's sending
   * loop runs (the thread that started it, the shared scheduler's, or Grizzly's selector, which
   * also writes queued sends for every variant), the in-JVM JDK client, Tyrus's own pool, the
   * sender's ping threads, and everything else.
   */
  static String threadGroup(String threadName) {
    if (threadName.equals("bench-start") || threadName.startsWith("keepup-scheduler-")
        || threadName.startsWith("grizzly-nio-kernel")) {
      return "sending loop";
    }
    if (threadName.startsWith("HttpClient-")) {
      return "JDK client";
    }
    if (threadName.startsWith("tyrus-")) {
      return "Tyrus pool";
    }
    if (threadName.startsWith("keepup-ping-")) {
      return "keepup pings";
    }
    return "other Java threads";
  }

  /** CPU time so far of each live Java thread, by thread id. */
  private static Map<Long, Long> cpuNanosByThread() {
    java.lang.management.ThreadMXBean threads = java.lang.management.ManagementFactory.getThreadMXBean();
    Map<Long, Long> byThread = new java.util.HashMap<>();
    for (long id : threads.getAllThreadIds()) {
      long cpu = threads.getThreadCpuTime(id);
      if (cpu >= 0) {
        byThread.put(id, cpu);
      }
    }
    return byThread;
  }

  /**
   * Each group's CPU since {@code before}, in microseconds a received message. A thread counts
   * only the CPU it spent since then (all of it if it started since); what the process spent
   * beyond its live Java threads (the collector's and compilers' threads, and threads that
   * ended meanwhile) is "not a Java thread".
   */
  private static Map<String, Double> cpuMicrosPerMessage(Map<Long, Long> before, long processNanos, long messages) {
    java.lang.management.ThreadMXBean threads = java.lang.management.ManagementFactory.getThreadMXBean();
    Map<String, Long> nanosByGroup = new java.util.TreeMap<>();
    long javaNanos = 0;
    for (java.lang.management.ThreadInfo info : threads.getThreadInfo(threads.getAllThreadIds())) {
      long cpu = info == null ? -1 : threads.getThreadCpuTime(info.getThreadId());
      if (cpu >= 0) {
        long nanos = cpu - before.getOrDefault(info.getThreadId(), 0L);
        javaNanos += nanos;
        nanosByGroup.merge(threadGroup(info.getThreadName()), nanos, Long::sum);
      }
    }
    nanosByGroup.put("not a Java thread", processNanos - javaNanos);
    Map<String, Double> perMessage = new java.util.TreeMap<>();
    nanosByGroup.forEach((group, nanos) -> perMessage.put(group, messages == 0 ? 0 : nanos / 1e3 / messages));
    return perMessage;
  }

  /** One row of the CPU-by-group table: "all" is the whole process. */
  private record CpuRow(int size, Variant variant, Variant baseline, String group) {}

  /** Per-slice differences in us a message, in the table's order. */
  private final Map<CpuRow, List<Double>> cpuDifferences = new java.util.TreeMap<>(
      java.util.Comparator.comparingInt(CpuRow::size).thenComparing(CpuRow::variant)
          .thenComparing(CpuRow::baseline)
          .thenComparing(row -> row.group().equals("all") ? "\uffff" : row.group()));

  private void recordCpuDifferences(int size, Map<Variant, Run> slice) {
    for (Variant baseline : List.of(Variant.RAW, Variant.RAW_LOOP)) {
      Run base = slice.get(baseline);
      if (base == null) {
        continue;
      }
      slice.forEach((variant, run) -> {
        if (variant == baseline || (variant == Variant.RAW && baseline == Variant.RAW_LOOP)) {
          // (The raw loops against each other: once, trampolined against from the handler.)
          return;
        }
        java.util.Set<String> groups = new java.util.TreeSet<>(run.cpuMicrosPerMessageByGroup().keySet());
        groups.addAll(base.cpuMicrosPerMessageByGroup().keySet());
        for (String group : groups) {
          double difference = run.cpuMicrosPerMessageByGroup().getOrDefault(group, 0.0)
              - base.cpuMicrosPerMessageByGroup().getOrDefault(group, 0.0);
          cpuDifferences.computeIfAbsent(new CpuRow(size, variant, baseline, group), k -> new ArrayList<>())
              .add(difference);
        }
        cpuDifferences.computeIfAbsent(new CpuRow(size, variant, baseline, "all"), k -> new ArrayList<>())
            .add(run.cpuMicrosPerMessage() - base.cpuMicrosPerMessage());
      });
    }
  }

  /** With -Dbench.cpu=true: where each variant's CPU a message goes, against each baseline. */
  private String cpuByThreadGroup() {
    if (cpuDifferences.isEmpty()) {
      return "";
    }
    StringBuilder b = new StringBuilder(String.format(Locale.ROOT, "%nCPU a received message by thread"
        + " group (-Dbench.cpu=true): the sender's turn minus the baseline's turn in the same"
        + " slice, us, median over slices [95%% CI]. \"Sending loop\": the thread that started the"
        + " loop, the shared scheduler's and Grizzly's selector (which writes every variant's"
        + " queued sends).%n%n| message | sender | baseline | group | slices | difference |%n"
        + "| ---: | --- | --- | --- | ---: | ---: |%n"));
    cpuDifferences.forEach((row, differences) -> b.append(String.format(Locale.ROOT,
        "| %s | %s | %s | %s | %d | %s |%n", sizeLabel(row.size()), row.variant().name(),
        row.baseline().name(), row.group(), differences.size(),
        medianWithInterval(differences.stream().mapToDouble(Double::doubleValue).toArray(),
            CoreBenchmark::signed, ", "))));
    return b.toString();
  }

  /** With a sign, two decimals, and no "-0.00". */
  private static String signed(double value) {
    return String.format(Locale.ROOT, "%+.2f", Math.abs(value) < 0.005 ? 0.0 : value);
  }

  private static long cpuNanos() {
    return ProcessHandle.current().info().totalCpuDuration().map(Duration::toNanos).orElse(0L);
  }

  /** The collector's usual name, from its beans' names. */
  private static String garbageCollector() {
    List<String> names = java.lang.management.ManagementFactory.getGarbageCollectorMXBeans().stream()
        .map(java.lang.management.GarbageCollectorMXBean::getName).toList();
    String first = names.isEmpty() ? "unknown" : names.get(0);
    if (first.startsWith("G1")) {
      return "G1";
    }
    if (first.equals("Copy") || first.equals("MarkSweepCompact")) {
      return "Serial";
    }
    if (first.startsWith("PS ")) {
      return "Parallel";
    }
    return first.split(" ")[0];
  }

  private static String loadAverage() {
    try {
      String[] parts = Files.readString(Path.of("/proc/loadavg")).trim().split("\\s+");
      return parts[0] + " " + parts[1] + " " + parts[2];
    } catch (IOException | RuntimeException e) {
      return "n/a";
    }
  }

  private static double mean(double[] values) {
    double sum = 0;
    for (double v : values) {
      sum += v;
    }
    return values.length == 0 ? 0 : sum / values.length;
  }

  private static double median(double[] values) {
    double[] sorted = values.clone();
    Arrays.sort(sorted);
    int n = sorted.length;
    return n == 0 ? 0 : n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  }

  private static double percentile(double[] sorted, double p) {
    if (sorted.length == 0) {
      return 0;
    }
    int index = (int) Math.ceil(p / 100 * sorted.length) - 1;
    return sorted[Math.max(0, Math.min(sorted.length - 1, index))];
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

  private static final long STARTED = System.nanoTime();
  private static final boolean TRACE = Boolean.getBoolean("bench.trace");
  private static final boolean THREADS = Boolean.getBoolean("bench.threads");
  private static final boolean CPU_BY_GROUP = Boolean.getBoolean("bench.cpu");

  private static void trace(String format, Object... args) {
    if (TRACE) {
      log(format, args);
    }
  }

  private static void log(String format, Object... args) {
    System.err.printf(Locale.ROOT, "[bench %5.1f s] " + format + "%n",
        prepend((System.nanoTime() - STARTED) / 1e9, args));
  }

  private static Object[] prepend(Object first, Object[] rest) {
    Object[] all = new Object[rest.length + 1];
    all[0] = first;
    System.arraycopy(rest, 0, all, 1, rest.length);
    return all;
  }
}
