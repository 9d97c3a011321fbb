package dev.keepup.bench;

import dev.keepup.Scheduler;
import dev.keepup.Ticker;
import dev.keepup.it.JdkClient;
import dev.keepup.it.TyrusTestServer;
import dev.keepup.net.BandwidthTrace;
import dev.keepup.net.ShapingRelay;
import dev.keepup.net.UplinkDelayRelay;
import dev.keepup.sim.Oracle;
import dev.keepup.sim.QoeMeter;
import dev.keepup.sim.Report;
import dev.keepup.sim.SimLadder;
import dev.keepup.sim.SimRun;
import dev.keepup.sim.SimSource;
import dev.keepup.sim.SimViewer;
import dev.keepup.sim.Strategies;
import dev.keepup.sim.Strategy;
import jakarta.websocket.Session;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * The real-socket bench and the validation of the simulator (issue 5): the same strategy, the
 * same frames and the same trace, once over real sockets and once in the simulator, scored by
 * the simulator's own {@link QoeMeter}, side by side.
 *
 * <p><b>Real run.</b> A Tyrus server; the strategy (the real {@code PacedSender}, or a baseline)
 * runs on the server's session with the system clock and the library's shared scheduler; its
 * frames come from a {@link SimSource} with the same ladder, encoder options and seed as the
 * simulator's, on the system clock. Between server and client: a {@link ShapingRelay} whose
 * token bucket follows the trace ({@link ShapingRelay#followTrace}, started with the source),
 * with half the simulator's RTT as downlink delay, and an {@link UplinkDelayRelay} with the
 * other half on the uplink; the client is a fast-reading JDK {@code java.net.http.WebSocket}
 * (it answers pings itself) that records each message's arrival. After the run the arrivals are
 * fed, in order, to a {@link SimViewer} and {@link QoeMeter} on the run's clock: the same
 * decodability rules and figures as the simulator, not a re-implementation.
 *
 * <p><b>Simulated run.</b> {@link SimRun#run} on the same prefix of the trace, strategy and
 * options, with the simulator's queue ({@code --sim-queue}, default 700k as in
 * {@code bench/run-sim.sh}); and a second one whose queue is what the real run measured (the
 * largest backlog of bytes the server's sends had completed and the client had not yet
 * received: kernel buffers plus the relay), to tell a wrong buffer size from a wrong model.
 *
 * <p>Prints a Markdown comparison and writes it to {@code target/bench/real-trace.md}, the
 * per-run figures to {@code target/bench/real-trace.csv} (the simulator's CSV columns, set
 * {@code real}, {@code sim} or {@code sim-measured-queue}). Run with {@code bench/run-real.sh};
 * see docs/benchmarks.md, "Simulator vs real sockets". Not a test (its name keeps Surefire
 * away); {@code RealTraceIT} runs a short, loosely bounded version.
 */
public final class RealTraceBenchmark {
  private static final long SECOND = 1_000_000_000L;
  private static final Duration WAIT = Duration.ofSeconds(10);
  /** Validation thresholds of issue 5. */
  static final double MAX_BITRATE_ERROR = 0.15;
  static final double MAX_P95_DIFF_MS = 100;

  private RealTraceBenchmark() {}

  /** What to run. */
  public record Options(List<Path> traces, double seconds, List<String> strategies, SimLadder ladder,
      SimSource.Options source, double rttMillis, long simQueueBytes, int relayQueueBytes, Path out) {

    public static Options defaults() {
      return new Options(List.of(), 60, List.of("keepup", "await-each-send"), SimLadder.DEFAULT,
          SimSource.Options.DEFAULT, 40, 700_000, 64 * 1024, Path.of("target/bench"));
    }

    SimRun.Config simConfig(long queueBytes) {
      return new SimRun.Config(ladder, source, Math.round(rttMillis * 1e6 / 2), queueBytes);
    }
  }

  /** Diagnostics of a real run that the simulator's figures do not hold. */
  public record RealDiagnostics(double relayMbps, double offeredMbps, long maxBacklogBytes, long p50BacklogBytes,
      double stallMaxMs, int messages) {}

  /** One trace and strategy, real and simulated. */
  public record Comparison(String trace, String strategy, SimRun.Result real, SimRun.Result sim,
      SimRun.Result simMeasuredQueue, RealDiagnostics diagnostics) {

    /** Simulated over real mean shown bitrate. */
    public double bitrateRatio() {
      return sim.metrics().shownMbps() / real.metrics().shownMbps();
    }

    /** Simulated minus real p95 frame age, in ms. */
    public double p95DiffMillis() {
      return sim.metrics().ageP95Millis() - real.metrics().ageP95Millis();
    }

    /** Whether issue 5's thresholds hold: bitrate within 15%, p95 age within 100 ms. */
    public boolean withinThresholds() {
      return Math.abs(bitrateRatio() - 1) <= MAX_BITRATE_ERROR && Math.abs(p95DiffMillis()) <= MAX_P95_DIFF_MS;
    }
  }

  /** The first {@code seconds} of {@code trace} (all of it if shorter), ending on a sample. */
  public static BandwidthTrace prefix(BandwidthTrace trace, double seconds) {
    double end = Math.min(seconds, trace.duration().toNanos() / 1e9);
    List<Double> pairs = new ArrayList<>();
    for (BandwidthTrace.Sample s : trace.samples()) {
      if (s.timeSeconds() >= end - 1e-9) {
        break;
      }
      pairs.add(s.timeSeconds());
      pairs.add(s.mbitPerSecond());
    }
    pairs.add(end);
    pairs.add(trace.rateAt(end));
    double[] values = new double[pairs.size()];
    for (int i = 0; i < values.length; i++) {
      values[i] = pairs.get(i);
    }
    return BandwidthTrace.of(values);
  }

  /** A Tyrus server for real runs, one session per run. */
  public static final class Harness implements AutoCloseable {
    private final TyrusTestServer server;
    private final BlockingQueue<Session> sessions = new LinkedBlockingQueue<>();

    private Harness() throws Exception {
      this.server = TyrusTestServer.start("/real", sessions::add);
    }

    public static Harness start() throws Exception {
      return new Harness();
    }

    @Override
    public void close() {
      server.close();
    }

    /**
     * Runs {@code strategy} over real sockets for the whole seconds of {@code trace} (already
     * cut to the wanted prefix) and scores it with the simulator's meter.
     */
    public RealOutcome run(String traceName, BandwidthTrace trace, Strategy strategy, Options o) throws Exception {
      int windows = SimRun.windows(trace);
      Duration oneWay = Duration.ofNanos(Math.round(o.rttMillis() * 1e6 / 2));
      ShapingRelay relay = null;
      UplinkDelayRelay uplink = null;
      JdkClient client = null;
      Strategy.Running running = null;
      SignalsBenchmark.StallMonitor monitor = null;
      try {
        relay = ShapingRelay.newBuilder(new InetSocketAddress(TyrusTestServer.HOST, server.port()))
            .delay(oneWay)
            .queueLimitBytes(o.relayQueueBytes())
            .start();
        uplink = UplinkDelayRelay.start(relay.address(), oneWay);
        client = JdkClient.builder(URI.create("ws://127.0.0.1:" + uplink.port() + "/real")).keepPayloads().connect();
        Session raw = sessions.poll(WAIT.toMillis(), TimeUnit.MILLISECONDS);
        if (raw == null) {
          throw new IllegalStateException("no session");
        }
        SignalsBenchmark.Recorder recorder = new SignalsBenchmark.Recorder();
        Session session = recorder.wrap(raw);
        monitor = SignalsBenchmark.StallMonitor.start();

        // Time zero: the trace starts on the relay and the source captures its first frame.
        relay.followTrace(trace, false);
        SimSource source = new SimSource(o.ladder(), o.source(), Ticker.system());
        long t0 = source.captureNanos(0);
        long relayBytesAtStart = relay.downlinkBytes();
        running = strategy.start(new Strategy.Context(Ticker.system(), Scheduler.shared(), null, session, source,
            o.ladder()));
        long end = t0 + windows * SECOND;
        long left;
        while ((left = end - System.nanoTime()) > 0) {
          TimeUnit.NANOSECONDS.sleep(left);
        }
        running.stop();
        String notes = running.notes();
        running = null;
        long relayBytes = relay.downlinkBytes() - relayBytesAtStart;
        monitor.stop();
        List<JdkClient.Message> messages = client.messages();

        // The simulator's viewer and meter, fed the real arrivals on the run's clock.
        QoeMeter meter = QoeMeter.forLadder(t0, windows, o.ladder());
        SimViewer viewer = new SimViewer(source, meter);
        for (JdkClient.Message m : messages) {
          if (m.arrivalNanos() >= end) {
            break;
          }
          viewer.onBinary(ByteBuffer.wrap(m.payload()), m.arrivalNanos());
        }
        QoeMeter.Metrics metrics = meter.finish();
        double offeredMbps = Oracle.meanRate(trace, 0, windows);
        SimRun.Result result = new SimRun.Result("real", traceName, strategy.name(), metrics,
            metrics.deliveredMbps() * 1e6 * windows, offeredMbps * 1e6 * windows, notes);
        long[] backlog = backlog(recorder, messages, end);
        RealDiagnostics diagnostics = new RealDiagnostics(relayBytes * 8 / 1e6 / windows, offeredMbps, backlog[0],
            backlog[1], monitor.summary().maxLateMs(), messages.size());
        return new RealOutcome(result, diagnostics);
      } finally {
        if (running != null) {
          running.stop();
        }
        if (monitor != null) {
          monitor.stop();
        }
        if (client != null) {
          if (client.webSocket() != null) {
            client.webSocket().abort(); // the close frame may sit behind a full buffer
          }
          client.close();
        }
        if (uplink != null) {
          uplink.close();
        }
        if (relay != null) {
          relay.close();
        }
      }
    }
  }

  /** A real run's result and diagnostics. */
  public record RealOutcome(SimRun.Result result, RealDiagnostics diagnostics) {}

  /**
   * The backlog between server and client over the run: bytes whose send had completed (the
   * container handed them to the kernel) and that had not yet arrived at the client, sampled at
   * every completion and arrival before {@code end}. Returns {max, median}. Send k (1-based) is
   * message k-1: one sender, binary messages only, delivered in order.
   */
  static long[] backlog(SignalsBenchmark.Recorder recorder, List<JdkClient.Message> messages, long end) {
    List<long[]> events = new ArrayList<>(); // {time, +bytes or -bytes}
    for (SignalsBenchmark.Recorder.Event e : recorder.events) {
      if (e.kind() == SignalsBenchmark.Recorder.Kind.DONE && e.value() - 1 < messages.size() && e.nanos() < end) {
        events.add(new long[] {e.nanos(), messages.get((int) e.value() - 1).size()});
      }
    }
    for (JdkClient.Message m : messages) {
      if (m.arrivalNanos() < end) {
        events.add(new long[] {m.arrivalNanos(), -m.size()});
      }
    }
    events.sort((a, b) -> Long.compare(a[0], b[0]));
    long level = 0;
    long max = 0;
    long[] samples = new long[events.size()];
    int n = 0;
    for (long[] e : events) {
      level += e[1];
      max = Math.max(max, level);
      samples[n++] = Math.max(0, level);
    }
    Arrays.sort(samples, 0, n);
    return new long[] {max, n == 0 ? 0 : samples[n / 2]};
  }

  /** Runs every strategy of {@code o} on every trace, real then simulated. */
  public static List<Comparison> runAll(Options o) throws Exception {
    Map<String, Strategy> byName = Strategies.byName();
    List<Strategy> strategies = new ArrayList<>();
    for (String name : o.strategies()) {
      Strategy s = byName.get(name);
      if (s == null || !realSafe(name)) {
        throw new IllegalArgumentException("strategy " + name + " cannot run over real sockets here; use one of"
            + " keepup* , await-each-send, lag-to-quality");
      }
      strategies.add(s);
    }
    List<Comparison> out = new ArrayList<>();
    try (Harness harness = Harness.start()) {
      for (Path file : o.traces()) {
        String name = traceName(file);
        BandwidthTrace trace = prefix(BandwidthTrace.parse(file), o.seconds());
        for (Strategy strategy : strategies) {
          log("%s, %s: real run of %d s ...", name, strategy.name(), SimRun.windows(trace));
          RealOutcome real = harness.run(name, trace, strategy, o);
          SimRun.Result sim = SimRun.run("sim", name, trace, strategy, o.simConfig(o.simQueueBytes()));
          long measured = Math.max(16 * 1024, real.diagnostics().maxBacklogBytes());
          SimRun.Result simMeasured = SimRun.run("sim-measured-queue", name, trace, strategy, o.simConfig(measured));
          Comparison c = new Comparison(name, strategy.name(), real.result(), sim, simMeasured, real.diagnostics());
          out.add(c);
          log("  Mbit/s sim %.3f real %.3f (ratio %.2f); p95 age sim %.0f real %.0f ms (diff %+.0f); relay %.3f of"
                  + " %.3f offered; backlog max %d B; JVM stall max %.0f ms",
              sim.metrics().shownMbps(), real.result().metrics().shownMbps(), c.bitrateRatio(),
              sim.metrics().ageP95Millis(), real.result().metrics().ageP95Millis(), c.p95DiffMillis(),
              real.diagnostics().relayMbps(), real.diagnostics().offeredMbps(), real.diagnostics().maxBacklogBytes(),
              real.diagnostics().stallMaxMs());
        }
      }
    }
    return out;
  }

  /** Strategies whose state is safe with completions and ticks on different threads (one send in flight). */
  static boolean realSafe(String name) {
    return name.startsWith("keepup") || name.equals("await-each-send") || name.equals("lag-to-quality");
  }

  static String traceName(Path file) {
    String n = file.getFileName().toString();
    return n.endsWith(".log") ? n.substring(0, n.length() - 4) : n;
  }

  /** The Markdown comparison. */
  public static String report(List<Comparison> results, Options o) {
    StringBuilder b = new StringBuilder();
    b.append(String.format(Locale.ROOT, "Ladder %s Mbit/s at %.0f fps, %s, seed %d; RTT %.0f ms (relay %.0f ms down,"
            + " %.0f ms up); relay queue %d B; simulator queue %d B; first %.0f s of each trace.%n%n",
        ladderText(o.ladder()), o.ladder().fps(), o.source().allKey() ? "all-key" : "delta coding (GOP "
            + o.source().gopFrames() + ", keys " + o.source().keyToDelta() + "x)", o.source().seed(),
        o.rttMillis(), o.rttMillis() / 2, o.rttMillis() / 2, o.relayQueueBytes(), o.simQueueBytes(), o.seconds()));
    b.append("| trace | strategy | Mbit/s sim / real (ratio) | p95 age sim / real (diff) | fps sim / real"
        + " | stall % sim / real | live QoE/s sim / real | within 15% / 100 ms |\n");
    b.append("|---|---|---:|---:|---:|---:|---:|:---:|\n");
    for (Comparison c : results) {
      QoeMeter.Metrics s = c.sim().metrics();
      QoeMeter.Metrics r = c.real().metrics();
      b.append(String.format(Locale.ROOT, "| %s | %s | %.3f / %.3f (**%.2f**) | %.0f / %.0f ms (**%+.0f**) | %.1f / %.1f"
              + " | %.1f / %.1f | %.3f / %.3f | %s |%n",
          shortTrace(c.trace()), c.strategy(), s.shownMbps(), r.shownMbps(), c.bitrateRatio(), s.ageP95Millis(),
          r.ageP95Millis(), c.p95DiffMillis(), s.shownFps(), r.shownFps(), pct(s), pct(r), s.qoe() / s.windows(),
          r.qoe() / r.windows(), c.withinThresholds() ? "yes" : "**no**"));
    }
    b.append("\nThe real runs' diagnostics, and the simulator re-run with the backlog the real run measured as its"
        + " queue:\n\n");
    b.append("| trace | strategy | offered / relay Mbit/s | real backlog max / p50 | sim (measured queue) Mbit/s |"
        + " p95 age | JVM stall max | frames |\n");
    b.append("|---|---|---:|---:|---:|---:|---:|---:|\n");
    for (Comparison c : results) {
      RealDiagnostics d = c.diagnostics();
      QoeMeter.Metrics m = c.simMeasuredQueue().metrics();
      b.append(String.format(Locale.ROOT, "| %s | %s | %.3f / %.3f | %d / %d kB | %.3f | %.0f ms | %.0f ms | %d |%n",
          shortTrace(c.trace()), c.strategy(), d.offeredMbps(), d.relayMbps(), d.maxBacklogBytes() / 1000,
          d.p50BacklogBytes() / 1000, m.shownMbps(), m.ageP95Millis(), d.stallMaxMs(), d.messages()));
    }
    return b.toString();
  }

  private static double pct(QoeMeter.Metrics m) {
    return 100 * m.stallSeconds() / m.windows();
  }

  private static String shortTrace(String name) {
    return name.replace(".jernbanetorget-ljabru-report", "").replace("-report", "");
  }

  private static String ladderText(SimLadder ladder) {
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < ladder.size(); i++) {
      b.append(i == 0 ? "" : "/").append(ladder.mbps(i));
    }
    return b.toString();
  }

  static void writeCsv(Path file, List<Comparison> results) throws IOException {
    List<String> lines = new ArrayList<>();
    lines.add(Report.csvHeader());
    for (Comparison c : results) {
      lines.add(Report.csvRow(c.real(), null));
      lines.add(Report.csvRow(c.sim(), null));
      lines.add(Report.csvRow(c.simMeasuredQueue(), null));
    }
    Files.write(file, lines);
  }

  private static final List<String> DEFAULT_TRACES = List.of(
      "tram.jernbanetorget-ljabru-report.2010-12-09_1310CET_part7.log",
      "tram.jernbanetorget-ljabru-report.2010-12-09_1310CET_part6.log",
      "train.oslo-vestby-report.2011-02-11_1618CET_part2.log");

  public static void main(String[] args) throws Exception {
    Options d = Options.defaults();
    List<Path> traces = new ArrayList<>();
    Path traceDir = Path.of("../shared/traces/fcc_hsdpa");
    double seconds = d.seconds();
    List<String> strategies = d.strategies();
    String ladderSpec = null;
    double fps = d.ladder().fps();
    SimSource.Options source = d.source();
    double rtt = d.rttMillis();
    long simQueue = d.simQueueBytes();
    int relayQueue = d.relayQueueBytes();
    Path out = d.out();
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      switch (a) {
        case "--trace" -> traces.add(Path.of(value(args, ++i, a)));
        case "--trace-dir" -> traceDir = Path.of(value(args, ++i, a));
        case "--seconds" -> seconds = Double.parseDouble(value(args, ++i, a));
        case "--strategies" -> strategies = List.of(value(args, ++i, a).split(","));
        case "--ladder" -> ladderSpec = value(args, ++i, a);
        case "--fps" -> fps = Double.parseDouble(value(args, ++i, a));
        case "--all-key" -> source = source.withAllKey(true);
        case "--seed" -> source = source.withSeed(Long.parseLong(value(args, ++i, a)));
        case "--rtt-ms" -> rtt = Double.parseDouble(value(args, ++i, a));
        case "--sim-queue" -> simQueue = parseBytes(value(args, ++i, a));
        case "--relay-queue" -> relayQueue = (int) parseBytes(value(args, ++i, a));
        case "--out" -> out = Path.of(value(args, ++i, a));
        case "--quick" -> seconds = 10;
        case "--help", "-h" -> {
          System.out.println("""
              bench/run-real.sh [--trace FILE]... [--trace-dir DIR] [--seconds 60] [--strategies keepup,await-each-send]
                                [--ladder 0.3,0.75,...] [--fps 30] [--all-key] [--seed 1] [--rtt-ms 40]
                                [--sim-queue 700k] [--relay-queue 64k] [--out target/bench] [--quick]
              Without --trace: three FCC/HSDPA traces of different character from --trace-dir.""");
          return;
        }
        default -> throw new IllegalArgumentException("unknown option " + a + " (try --help)");
      }
    }
    if (traces.isEmpty()) {
      for (String t : DEFAULT_TRACES) {
        traces.add(traceDir.resolve(t));
      }
    }
    SimLadder ladder = ladderSpec == null ? new SimLadder(SimLadder.DEFAULT.mbps(), fps) : SimLadder.parse(ladderSpec, fps);
    Options o = new Options(traces, seconds, strategies, ladder, source, rtt, simQueue, relayQueue, out);
    String load = SignalsBenchmark.loadAverage();
    long began = System.nanoTime();
    List<Comparison> results = runAll(o);
    String md = report(results, o) + String.format(Locale.ROOT, "%nLoad average before %s, after %s; %.0f s wall.%n",
        load, SignalsBenchmark.loadAverage(), (System.nanoTime() - began) / 1e9);
    Files.createDirectories(out);
    Files.writeString(out.resolve("real-trace.md"), md);
    writeCsv(out.resolve("real-trace.csv"), results);
    System.out.println();
    System.out.print(md);
  }

  private static String value(String[] args, int i, String option) {
    if (i >= args.length) {
      throw new IllegalArgumentException(option + " needs a value");
    }
    return args[i];
  }

  static long parseBytes(String text) {
    String t = text.trim().toLowerCase(Locale.ROOT);
    long unit = 1;
    if (t.endsWith("k")) {
      unit = 1000;
      t = t.substring(0, t.length() - 1);
    } else if (t.endsWith("m")) {
      unit = 1_000_000;
      t = t.substring(0, t.length() - 1);
    }
    return Math.round(Double.parseDouble(t) * unit);
  }

  private static void log(String format, Object... args) {
    System.err.println("[real] " + String.format(Locale.ROOT, format, args));
  }
}
