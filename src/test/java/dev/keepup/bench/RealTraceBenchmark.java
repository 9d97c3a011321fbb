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
import dev.keepup.sim.Simulator;
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
 * {@code bench/run-sim.sh}, a fluid link); and a second one, "matched", whose queue is what the
 * real run measured (the largest backlog of bytes the server's sends had completed and the
 * client had not yet received: kernel buffers plus the relay) and whose bottleneck bursts as the
 * relay's token bucket does ({@link Options#relayBurstBytes}, crossing at {@link
 * SimRun#BURST_BITS_PER_SECOND}), to tell a wrong buffer size or a missing burst from a wrong
 * model.
 *
 * <p>Prints a Markdown comparison and writes it to {@code target/bench/real-trace.md}, the
 * per-run figures to {@code target/bench/real-trace.csv} (the simulator's CSV columns, set
 * {@code real}, {@code sim} or {@code sim-matched}). Run with {@code bench/run-real.sh};
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
      SimSource.Options source, double rttMillis, long simQueueBytes, int relayQueueBytes, int relayBucketBytes,
      Path out) {

    public static Options defaults() {
      return new Options(List.of(), 60, List.of("keepup", "await-each-send"), SimLadder.DEFAULT,
          SimSource.Options.DEFAULT, 40, 700_000, 64 * 1024, 0, Path.of("target/bench"));
    }

    SimRun.Config simConfig(long queueBytes, long burstBytes) {
      return new SimRun.Config(ladder, source, Math.round(rttMillis * 1e6 / 2), queueBytes, burstBytes);
    }

    /**
     * The relay's token-bucket depth as the simulator models it: the fixed depth, or the auto
     * depth (the larger of 16 KiB and 10 ms at the rate) at the trace's mean rate.
     */
    long relayBurstBytes(BandwidthTrace trace) {
      return relayBucketBytes > 0 ? relayBucketBytes : Math.max(16 * 1024, Math.round(trace.mean() * 1e6 / 8 * 0.010));
    }
  }

  /** Diagnostics of a real run that the simulator's figures do not hold. */
  public record RealDiagnostics(double relayMbps, double offeredMbps, long maxBacklogBytes, long p50BacklogBytes,
      double stallMaxMs, int messages, double idleCrossingMbps, int idleFrames) {}

  /** One trace and strategy, real and simulated. */
  public record Comparison(String trace, String strategy, SimRun.Result real, SimRun.Result sim,
      SimRun.Result simMatched, RealDiagnostics diagnostics) {

    /** Simulated over real mean shown bitrate. */
    public double bitrateRatio() {
      return sim.metrics().shownMbps() / real.metrics().shownMbps();
    }

    /** Simulated minus real p95 frame age, in ms. */
    public double p95DiffMillis() {
      return sim.metrics().ageP95Millis() - real.metrics().ageP95Millis();
    }

    /** Matched simulation over real mean shown bitrate. */
    public double matchedBitrateRatio() {
      return simMatched.metrics().shownMbps() / real.metrics().shownMbps();
    }

    /** Matched simulation minus real p95 frame age, in ms. */
    public double matchedP95DiffMillis() {
      return simMatched.metrics().ageP95Millis() - real.metrics().ageP95Millis();
    }

    /** Whether issue 5's thresholds hold for the default model: bitrate within 15%, p95 age within 100 ms. */
    public boolean withinThresholds() {
      return Math.abs(bitrateRatio() - 1) <= MAX_BITRATE_ERROR && Math.abs(p95DiffMillis()) <= MAX_P95_DIFF_MS;
    }

    /** Whether they hold for the simulation matched to the real link (its buffer and burst). */
    public boolean matchedWithinThresholds() {
      return Math.abs(matchedBitrateRatio() - 1) <= MAX_BITRATE_ERROR
          && Math.abs(matchedP95DiffMillis()) <= MAX_P95_DIFF_MS;
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
        ShapingRelay.Builder rb = ShapingRelay.newBuilder(new InetSocketAddress(TyrusTestServer.HOST, server.port()))
            .delay(oneWay)
            .queueLimitBytes(o.relayQueueBytes());
        if (o.relayBucketBytes() > 0) {
          rb.bucketBytes(o.relayBucketBytes());
        }
        relay = rb.start();
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
        double[] idle = idleCrossing(recorder, messages, end, oneWay.toNanos());
        RealDiagnostics diagnostics = new RealDiagnostics(relayBytes * 8 / 1e6 / windows, offeredMbps, backlog[0],
            backlog[1], monitor.summary().maxLateMs(), messages.size(), idle[0], (int) idle[1]);
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

  /**
   * How fast a frame sent into an idle path crosses it: for each message of at least 1 KB whose
   * send began after every earlier message had arrived, its size over (arrival - send start -
   * one-way delay), in Mbit/s. Returns {median, count}. On a fluid link this is the link's rate;
   * behind the relay's token bucket it is the burst rate the simulator's {@code --burst} models.
   */
  static double[] idleCrossing(SignalsBenchmark.Recorder recorder, List<JdkClient.Message> messages, long end,
      long oneWayNanos) {
    List<Double> rates = new ArrayList<>();
    for (SignalsBenchmark.Recorder.Event e : recorder.events) {
      int k = (int) e.value() - 1;
      if (e.kind() != SignalsBenchmark.Recorder.Kind.SEND || k < 0 || k >= messages.size() || e.nanos() >= end) {
        continue;
      }
      JdkClient.Message m = messages.get(k);
      boolean idle = k == 0 || messages.get(k - 1).arrivalNanos() <= e.nanos();
      long crossing = m.arrivalNanos() - e.nanos() - oneWayNanos;
      if (idle && m.size() >= 1024 && crossing > 0) {
        rates.add(m.size() * 8e3 / crossing);
      }
    }
    if (rates.isEmpty()) {
      return new double[] {Double.NaN, 0};
    }
    rates.sort(null);
    return new double[] {rates.get(rates.size() / 2), rates.size()};
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
          boolean traced = Boolean.getBoolean("real.decisions") && strategy.name().equals("keepup");
          RealOutcome real = harness.run(name, trace, traced ? tracedKeepup("real") : strategy, o);
          SimRun.Result sim = SimRun.run("sim", name, trace, traced ? tracedKeepup("sim") : strategy,
              o.simConfig(o.simQueueBytes(), 0));
          long measured = Math.max(16 * 1024, real.diagnostics().maxBacklogBytes());
          SimRun.Result simMatched = SimRun.run("sim-matched", name, trace, traced ? tracedKeepup("sim-matched")
              : strategy, o.simConfig(measured, o.relayBurstBytes(trace)));
          Comparison c = new Comparison(name, strategy.name(), real.result(), sim, simMatched, real.diagnostics());
          out.add(c);
          log("  Mbit/s real %.3f sim %.3f (%.2f) matched %.3f (%.2f); p95 age real %.0f sim %.0f (%+.0f) matched %.0f"
                  + " (%+.0f) ms; relay %.3f of %.3f offered; backlog max %d B; idle crossing %.2f Mbit/s (%d frames);"
                  + " JVM stall max %.0f ms",
              real.result().metrics().shownMbps(), sim.metrics().shownMbps(), c.bitrateRatio(),
              simMatched.metrics().shownMbps(), c.matchedBitrateRatio(), real.result().metrics().ageP95Millis(),
              sim.metrics().ageP95Millis(), c.p95DiffMillis(), simMatched.metrics().ageP95Millis(),
              c.matchedP95DiffMillis(),
              real.diagnostics().relayMbps(), real.diagnostics().offeredMbps(), real.diagnostics().maxBacklogBytes(),
              real.diagnostics().idleCrossingMbps(), real.diagnostics().idleFrames(), real.diagnostics().stallMaxMs());
        }
      }
    }
    return out;
  }

  /**
   * The default policy ({@code keepup}) with a listener that logs, to stderr, every decision and
   * verdict change with the number of frames completed so far (a clock that reads the same in
   * virtual and real time): to see where a real run and its simulation part.
   */
  static Strategy tracedKeepup(String label) {
    return Strategies.keepupOnLadder("keepup", ladder -> b -> Strategies.withLadder(ladder).apply(b)
        .listener(new dev.keepup.SenderListener() {
          private long completed;

          @Override
          public void onFrameCompleted(dev.keepup.Frame frame, long sendLatencyNanos) {
            completed++;
          }

          @Override
          public void onVerdictChanged(dev.keepup.Verdict previous, dev.keepup.Verdict current, dev.keepup.Signals signals) {
            System.err.printf(Locale.ROOT, "[%s] frame %d verdict %s rate %.2f min_rtt %d qd %d%n", label, completed,
                current, signals.deliveryRateBitsPerSecond() / 1e6, signals.minRtt().toMillis(),
                signals.queueDelay().toMillis());
          }

          @Override
          public void onDecision(dev.keepup.Decision previous, dev.keepup.Decision current) {
            System.err.printf(Locale.ROOT, "[%s] frame %d decision r%d %.0f fps %s%n", label, completed,
                current.rendition(), current.framesPerSecond(), current.reason());
          }
        }));
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
            + " %.0f ms up); relay queue %d B, token bucket %s; simulator queue %d B; first %.0f s of each trace.%n%n",
        ladderText(o.ladder()), o.ladder().fps(), o.source().allKey() ? "all-key" : "delta coding (GOP "
            + o.source().gopFrames() + ", keys " + o.source().keyToDelta() + "x)", o.source().seed(),
        o.rttMillis(), o.rttMillis() / 2, o.rttMillis() / 2, o.relayQueueBytes(),
        o.relayBucketBytes() > 0 ? o.relayBucketBytes() + " B" : "auto (max of 16 KiB and 10 ms)", o.simQueueBytes(), o.seconds()));
    b.append("\"sim\" is the simulator as `bench/run-sim.sh` runs it (fluid link, queue above); \"matched\" is it"
        + " with the real link's measured buffer as its queue and the relay's token bucket as its burst"
        + " (`--queue`, `--burst`). Ratios and differences are sim or matched against real; the check is issue"
        + " 5's (Mbit/s within 15%, p95 age within 100 ms).\n\n");
    b.append("| trace | strategy | Mbit/s real | sim (ratio) | matched (ratio) | p95 age real | sim (diff) | matched (diff)"
        + " | fps real / sim / matched | stall % real / sim / matched | live QoE/s real / sim / matched"
        + " | check sim / matched |\n");
    b.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|:---:|\n");
    for (Comparison c : results) {
      QoeMeter.Metrics s = c.sim().metrics();
      QoeMeter.Metrics r = c.real().metrics();
      QoeMeter.Metrics m = c.simMatched().metrics();
      b.append(String.format(Locale.ROOT, "| %s | %s | %.3f | %.3f (%.2f) | %.3f (**%.2f**) | %s | %s (%+.0f) | %s (**%+.0f**)"
              + " | %.1f / %.1f / %.1f | %.1f / %.1f / %.1f | %.2f / %.2f / %.2f | %s / %s |%n",
          shortTrace(c.trace()), c.strategy(), r.shownMbps(), s.shownMbps(), c.bitrateRatio(), m.shownMbps(),
          c.matchedBitrateRatio(), age(r.ageP95Millis()), age(s.ageP95Millis()), c.p95DiffMillis(),
          age(m.ageP95Millis()), c.matchedP95DiffMillis(), r.shownFps(), s.shownFps(), m.shownFps(), pct(r), pct(s),
          pct(m), r.qoe() / r.windows(), s.qoe() / s.windows(), m.qoe() / m.windows(),
          c.withinThresholds() ? "ok" : "no", c.matchedWithinThresholds() ? "ok" : "no"));
    }
    b.append("\nThe real runs' diagnostics: the trace's mean rate and what the relay carried; the backlog of bytes"
        + " whose send had completed and that had not yet arrived (kernel buffers plus relay: the matched queue);"
        + " switches; the sender's own counters; the worst late wake-up of a thread of this JVM.\n\n");
    b.append("| trace | strategy | offered / relay Mbit/s | backlog max / p50 | idle-path crossing Mbit/s (frames)"
        + " | switches real / sim / matched | JVM stall max | sender, real |\n");
    b.append("|---|---|---:|---:|---:|---:|---:|---|\n");
    for (Comparison c : results) {
      RealDiagnostics d = c.diagnostics();
      b.append(String.format(Locale.ROOT, "| %s | %s | %.3f / %.3f | %d / %d kB | %.2f (%d) | %d / %d / %d | %.0f ms"
              + " | %s |%n",
          shortTrace(c.trace()), c.strategy(), d.offeredMbps(), d.relayMbps(), d.maxBacklogBytes() / 1000,
          d.p50BacklogBytes() / 1000, d.idleCrossingMbps(), d.idleFrames(), c.real().metrics().switches(), c.sim().metrics().switches(),
          c.simMatched().metrics().switches(), d.stallMaxMs(), c.real().notes()));
    }
    return b.toString();
  }

  private static String age(double ms) {
    return ms >= 10_000 ? String.format(Locale.ROOT, "%.1f s", ms / 1000) : String.format(Locale.ROOT, "%.0f ms", ms);
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
      lines.add(Report.csvRow(c.simMatched(), null));
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
    int relayBucket = d.relayBucketBytes();
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
        case "--sim-queue" -> simQueue = Simulator.parseBytes(value(args, ++i, a));
        case "--relay-queue" -> relayQueue = (int) Simulator.parseBytes(value(args, ++i, a));
        case "--relay-bucket" -> relayBucket = (int) Simulator.parseBytes(value(args, ++i, a));
        case "--out" -> out = Path.of(value(args, ++i, a));
        case "--quick" -> seconds = 10;
        case "--help", "-h" -> {
          System.out.println("""
              bench/run-real.sh [--trace FILE]... [--trace-dir DIR] [--seconds 60] [--strategies keepup,await-each-send]
                                [--ladder 0.3,0.75,...] [--fps 30] [--all-key] [--seed 1] [--rtt-ms 40]
                                [--sim-queue 700k] [--relay-queue 64k] [--relay-bucket BYTES] [--out target/bench] [--quick]
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
    for (Path t : traces) {
      if (!Files.isRegularFile(t)) {
        throw new IllegalArgumentException("no trace " + t + " (run from a clone with ../shared/traces beside it,"
            + " or give --trace-dir DIR or --trace FILE)");
      }
    }
    SimLadder ladder = ladderSpec == null ? new SimLadder(SimLadder.DEFAULT.mbps(), fps) : SimLadder.parse(ladderSpec, fps);
    Options o = new Options(traces, seconds, strategies, ladder, source, rtt, simQueue, relayQueue, relayBucket, out);
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

  private static void log(String format, Object... args) {
    System.err.println("[real] " + String.format(Locale.ROOT, format, args));
  }
}
