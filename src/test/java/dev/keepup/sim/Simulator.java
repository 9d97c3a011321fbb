package dev.keepup.sim;

import dev.keepup.net.BandwidthTrace;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * The trace-driven simulator: every strategy over every trace, in virtual time, scored by the
 * live QoE of DESIGN.md beside the offline oracle. Run it with {@code bench/run-sim.sh}; {@code
 * --help} lists the options. Writes {@code results.csv} (one row per trace and strategy, the
 * oracle included) and {@code results.md} (one table per trace set) to {@code target/sim/}, and
 * prints the tables.
 *
 * <p>Each run is isolated (its own {@link dev.keepup.testing.VirtualTime}, link, source and
 * sender) and runs single-threaded; runs go in parallel on a small pool (2 threads by
 * default). Results do not depend on the pool: time is virtual and every source is seeded.
 */
public final class Simulator {
  private Simulator() {}

  /** A trace and where it came from. */
  public record TraceEntry(String set, String name, BandwidthTrace trace) {}

  /** Runs the oracle and every strategy on every trace; results in trace order, oracle first. */
  public static List<SimRun.Result> runAll(List<TraceEntry> traces, List<Strategy> strategies, SimRun.Config config,
      int threads, PrintStream progress) {
    record Task(int order, TraceEntry trace, Strategy strategy) {}
    List<Task> tasks = new ArrayList<>();
    for (TraceEntry t : traces) {
      tasks.add(new Task(tasks.size(), t, null));
      for (Strategy s : strategies) {
        tasks.add(new Task(tasks.size(), t, s));
      }
    }
    // Longest first, so the pool does not end on one long trace.
    List<Task> byCost = new ArrayList<>(tasks);
    byCost.sort(Comparator.comparingLong((Task t) -> -t.trace().trace().duration().toNanos()).thenComparingInt(Task::order));
    AtomicInteger threadCount = new AtomicInteger();
    ExecutorService pool = Executors.newFixedThreadPool(threads, r -> {
      Thread thread = new Thread(r, "sim-" + threadCount.incrementAndGet());
      thread.setDaemon(true);
      return thread;
    });
    AtomicInteger done = new AtomicInteger();
    try {
      Map<Task, Future<SimRun.Result>> futures = new LinkedHashMap<>();
      for (Task task : byCost) {
        futures.put(task, pool.submit(() -> {
          TraceEntry t = task.trace();
          SimRun.Result result = task.strategy() == null
              ? SimRun.oracle(t.set(), t.name(), t.trace(), config)
              : SimRun.run(t.set(), t.name(), t.trace(), task.strategy(), config);
          int n = done.incrementAndGet();
          if (progress != null && (n % 100 == 0 || n == tasks.size())) {
            progress.printf("  %d/%d runs%n", n, tasks.size());
          }
          return result;
        }));
      }
      List<SimRun.Result> results = new ArrayList<>();
      for (Task task : tasks) {
        try {
          results.add(futures.get(task).get());
        } catch (ExecutionException e) {
          throw new IllegalStateException("run failed: " + task.trace().name() + " / "
              + (task.strategy() == null ? "oracle" : task.strategy().name()), e.getCause());
        }
      }
      return results;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    } finally {
      pool.shutdownNow();
    }
  }

  /**
   * Reads every trace file in {@code dir} (sorted by name; README, LICENSE and {@code .md} files
   * skipped), at most {@code limit} of them. The set is named after the folder.
   *
   * @throws IllegalArgumentException if a file is not a valid trace
   */
  public static List<TraceEntry> loadFolder(Path dir, int limit) throws IOException {
    if (!Files.isDirectory(dir)) {
      throw new IllegalArgumentException("not a folder of traces: " + dir.toAbsolutePath());
    }
    String set = dir.toAbsolutePath().normalize().getFileName().toString();
    List<Path> files;
    try (Stream<Path> list = Files.list(dir)) {
      files = list.filter(Files::isRegularFile)
          .filter(p -> {
            String name = p.getFileName().toString();
            return !name.startsWith(".") && !name.startsWith("README") && !name.startsWith("LICENSE")
                && !name.endsWith(".md");
          })
          .sorted()
          .limit(limit)
          .collect(Collectors.toList());
    }
    List<TraceEntry> traces = new ArrayList<>();
    for (Path file : files) {
      traces.add(new TraceEntry(set, file.getFileName().toString(), BandwidthTrace.parse(file)));
    }
    return traces;
  }

  /**
   * The synthetic set: steps and ramps of 120 s that probe reaction time, recovery, and
   * behaviour around the ladder's rungs.
   */
  public static List<TraceEntry> synthetic() {
    List<TraceEntry> list = new ArrayList<>();
    list.add(new TraceEntry("synthetic", "step-5-1-5", BandwidthTrace.of(0, 5.0, 40, 1.0, 80, 5.0, 120, 5.0)));
    list.add(new TraceEntry("synthetic", "step-3-0.5-3", BandwidthTrace.of(0, 3.0, 40, 0.5, 80, 3.0, 120, 3.0)));
    list.add(new TraceEntry("synthetic", "step-1-5", BandwidthTrace.of(0, 1.0, 60, 5.0, 120, 5.0)));
    list.add(new TraceEntry("synthetic", "square-1-3-10s", square(1.0, 3.0, 10, 120)));
    list.add(new TraceEntry("synthetic", "ramp-6-0.2", ramp(6.0, 0.2, 120)));
    list.add(new TraceEntry("synthetic", "ramp-0.2-6", ramp(0.2, 6.0, 120)));
    return list;
  }

  private static BandwidthTrace ramp(double from, double to, int seconds) {
    double[] pairs = new double[2 * (seconds + 1)];
    for (int i = 0; i <= seconds; i++) {
      pairs[2 * i] = i;
      pairs[2 * i + 1] = from + (to - from) * Math.min(i, seconds - 1) / (seconds - 1);
    }
    return BandwidthTrace.of(pairs);
  }

  private static BandwidthTrace square(double low, double high, int period, int seconds) {
    int steps = seconds / period;
    double[] pairs = new double[2 * (steps + 1)];
    for (int i = 0; i <= steps; i++) {
      pairs[2 * i] = i * period;
      pairs[2 * i + 1] = i % 2 == 0 ? low : high;
    }
    return BandwidthTrace.of(pairs);
  }

  // --- command line ---------------------------------------------------------------------

  private static final String USAGE = String.join("\n",
      "Usage: bench/run-sim.sh [options]",
      "  --traces DIR[,DIR...]   folders of traces ('time_s mbit_per_s' per line); default ../shared/traces/fcc_hsdpa",
      "  --no-traces             only the synthetic set",
      "  --no-synthetic          without the synthetic steps and ramps",
      "  --limit N               at most N traces per folder (a quick look)",
      "  --strategies A,B,...    built-in strategies to run; default all (see --list)",
      "  --configurator CLASS[=NAME]  add PacedSender with the run's ladder, then configured by CLASS: a public",
      "                          UnaryOperator<PacedSender.Builder> or Function<SimLadder, UnaryOperator<PacedSender.Builder>>,",
      "                          no-arg constructor (repeatable)",
      "  --policy CLASS[=NAME]   add PacedSender with the run's ladder and an AdaptationPolicy of CLASS (repeatable)",
      "  (your classes: their directories or jars in KEEPUP_SIM_CP, absolute or relative to the keepup clone)",
      "  --ladder MBPS,MBPS,...  renditions' mean bitrates, cheapest first; default 0.3,0.75,1.2,1.85,2.85,4.3",
      "  --fps F                 frame rate of every rendition; default 30",
      "  --gop N                 frames per GOP (KEY to KEY); default 30",
      "  --key-ratio K           mean KEY size over mean DELTA size; default 5",
      "  --sigma S               lognormal size variation; default 0.25",
      "  --all-key               every frame a KEY (JPEG-like)",
      "  --references-only       every non-KEY frame a DELTA (IPPP: no DISPOSABLE frames to shed)",
      "  --seed N                seed of the frame sizes; default 1",
      "  --rtt-ms MS             propagation round trip; default 40",
      "  --queue BYTES           socket buffer + bottleneck queue, e.g. 700k, 4m; default 700k (k = 1000, m = 10^6)",
      "  --burst BYTES           bottleneck token-bucket depth (the real bench's relay: 16 KiB, ~16k); default 0, fluid",
      "  --threads N             runs in parallel; default 2",
      "  --out DIR               where results.csv and results.md go; default target/sim",
      "  --list                  list the built-in strategies and exit");

  /** Entry point; see {@code --help}. */
  public static void main(String[] args) throws IOException {
    List<String> folders = new ArrayList<>(List.of("../shared/traces/fcc_hsdpa"));
    boolean synthetic = true;
    int limit = Integer.MAX_VALUE;
    String strategyNames = null;
    List<String> configurators = new ArrayList<>();
    List<String> policies = new ArrayList<>();
    String ladderSpec = null;
    double fps = 30;
    SimSource.Options options = SimSource.Options.DEFAULT;
    int gop = options.gopFrames();
    double keyRatio = options.keyToDelta();
    double sigma = options.sigma();
    boolean allKey = false;
    boolean referencesOnly = false;
    long seed = options.seed();
    double rttMillis = 40;
    long queue = 700_000;
    long burst = 0;
    int threads = 2;
    Path out = Path.of("target", "sim");
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      switch (a) {
        case "--traces" -> folders = List.of(value(args, ++i, a).split(","));
        case "--no-traces" -> folders = List.of();
        case "--no-synthetic" -> synthetic = false;
        case "--limit" -> limit = Integer.parseInt(value(args, ++i, a));
        case "--strategies" -> strategyNames = value(args, ++i, a);
        case "--configurator" -> configurators.add(value(args, ++i, a));
        case "--policy" -> policies.add(value(args, ++i, a));
        case "--ladder" -> ladderSpec = value(args, ++i, a);
        case "--fps" -> fps = Double.parseDouble(value(args, ++i, a));
        case "--gop" -> gop = Integer.parseInt(value(args, ++i, a));
        case "--key-ratio" -> keyRatio = Double.parseDouble(value(args, ++i, a));
        case "--sigma" -> sigma = Double.parseDouble(value(args, ++i, a));
        case "--all-key" -> allKey = true;
        case "--references-only" -> referencesOnly = true;
        case "--seed" -> seed = Long.parseLong(value(args, ++i, a));
        case "--rtt-ms" -> rttMillis = Double.parseDouble(value(args, ++i, a));
        case "--queue" -> queue = parseBytes(value(args, ++i, a));
        case "--burst" -> burst = parseBytes(value(args, ++i, a));
        case "--threads" -> threads = Integer.parseInt(value(args, ++i, a));
        case "--out" -> out = Path.of(value(args, ++i, a));
        case "--list" -> {
          Strategies.byName().keySet().forEach(System.out::println);
          return;
        }
        case "--help", "-h" -> {
          System.out.println(USAGE);
          return;
        }
        default -> throw new IllegalArgumentException("unknown option: " + a + "\n" + USAGE);
      }
    }
    SimLadder ladder = ladderSpec == null ? new SimLadder(SimLadder.DEFAULT.mbps(), fps) : SimLadder.parse(ladderSpec, fps);
    SimRun.Config config = new SimRun.Config(ladder, new SimSource.Options(gop, keyRatio, sigma, allKey, seed, referencesOnly),
        Math.round(rttMillis * 1e6 / 2), queue, burst);

    List<Strategy> strategies = new ArrayList<>();
    Map<String, Strategy> builtIns = Strategies.byName();
    if (strategyNames == null) {
      strategies.addAll(builtIns.values());
    } else if (!strategyNames.isBlank()) {
      for (String name : strategyNames.split(",")) {
        Strategy s = builtIns.get(name.strip());
        if (s == null) {
          throw new IllegalArgumentException("unknown strategy: " + name + "; built-ins: " + builtIns.keySet());
        }
        strategies.add(s);
      }
    }
    for (String spec : configurators) {
      String[] parts = spec.split("=", 2);
      strategies.add(Strategies.fromConfiguratorClass(parts[0], parts.length > 1 ? parts[1] : null));
    }
    for (String spec : policies) {
      String[] parts = spec.split("=", 2);
      strategies.add(Strategies.fromPolicyClass(parts[0], parts.length > 1 ? parts[1] : null));
    }

    List<TraceEntry> traces = new ArrayList<>();
    for (String folder : folders) {
      traces.addAll(loadFolder(Path.of(folder), limit));
    }
    if (synthetic) {
      traces.addAll(synthetic());
    }
    if (traces.isEmpty() || strategies.isEmpty()) {
      throw new IllegalArgumentException("nothing to run: " + traces.size() + " traces, " + strategies.size() + " strategies");
    }

    System.err.printf(Locale.ROOT, "keepup simulator: %d traces x (%d strategies + oracle), %d threads%n",
        traces.size(), strategies.size(), threads);
    long began = System.nanoTime();
    List<SimRun.Result> results = runAll(traces, strategies, config, threads, System.err);
    double wallSeconds = (System.nanoTime() - began) / 1e9;

    Files.createDirectories(out);
    writeCsv(out.resolve("results.csv"), results);
    String markdown = markdown(results, config, strategies, wallSeconds, threads);
    Files.writeString(out.resolve("results.md"), markdown, StandardCharsets.UTF_8);
    System.out.print(markdown);
    System.err.printf(Locale.ROOT, "wrote %s and %s in %.1f s%n", out.resolve("results.csv"), out.resolve("results.md"), wallSeconds);
  }

  static void writeCsv(Path file, List<SimRun.Result> results) throws IOException {
    Map<String, SimRun.Result> oracles = new LinkedHashMap<>();
    for (SimRun.Result r : results) {
      if (r.strategy().equals("oracle")) {
        oracles.put(r.set() + "/" + r.trace(), r);
      }
    }
    StringBuilder csv = new StringBuilder(Report.csvHeader()).append('\n');
    for (SimRun.Result r : results) {
      csv.append(Report.csvRow(r, oracles.get(r.set() + "/" + r.trace()))).append('\n');
    }
    Files.writeString(file, csv, StandardCharsets.UTF_8);
  }

  static String markdown(List<SimRun.Result> results, SimRun.Config config, List<Strategy> strategies,
      double wallSeconds, int threads) {
    Map<String, List<SimRun.Result>> bySet = new LinkedHashMap<>();
    for (SimRun.Result r : results) {
      bySet.computeIfAbsent(r.set(), k -> new ArrayList<>()).add(r);
    }
    StringBuilder md = new StringBuilder("# keepup simulator results\n\n");
    SimSource.Options o = config.source();
    md.append(String.format(Locale.ROOT,
        "Ladder %s; %s, GOP %d frames, KEY %.1fx a delta, sigma %.2f, seed %d. Link: RTT %.0f ms, queue %d bytes%s."
            + " %d runs in %.1f s wall on %d threads.%n%n",
        config.ladder(), o.allKey() ? "all-KEY (JPEG-like)" : o.referencesOnly() ? "delta coding, references only (IPPP)" : "delta coding", o.gopFrames(), o.keyToDelta(), o.sigma(),
        o.seed(), config.oneWayDelayNanos() * 2 / 1e6, config.queueBytes(),
        config.burstBytes() > 0 ? ", burst " + config.burstBytes() + " bytes" : "", results.size(), wallSeconds, threads));
    for (Map.Entry<String, List<SimRun.Result>> e : bySet.entrySet()) {
      long traces = e.getValue().stream().filter(r -> r.strategy().equals("oracle")).count();
      md.append("## ").append(e.getKey()).append(" (").append(traces).append(" traces)\n\n");
      md.append(Report.markdownTable(Report.aggregate(e.getValue()))).append('\n');
    }
    md.append("Live QoE per 1 s window: R - Rmax*S - |R - R_prev| - L(A) (DESIGN.md); \"of oracle\": summed live QoE"
        + " over the oracle's. Mbit/s, fps and ages count decodable frames only. Definitions: src/test/java/dev/keepup/"
        + "sim/QoeMeter.java, Report.java, Oracle.java; strategies: Strategies.java.\n");
    return md.toString();
  }

  private static String value(String[] args, int i, String option) {
    if (i >= args.length) {
      throw new IllegalArgumentException(option + " needs a value");
    }
    return args[i];
  }

  /** Parses a byte count with an optional {@code k} (10^3) or {@code m} (10^6) suffix: "700k", "4m". */
  public static long parseBytes(String text) {
    String t = text.strip().toLowerCase(Locale.ROOT);
    long unit = 1;
    if (t.endsWith("k")) {
      unit = 1_000;
      t = t.substring(0, t.length() - 1);
    } else if (t.endsWith("m")) {
      unit = 1_000_000;
      t = t.substring(0, t.length() - 1);
    }
    return Math.round(Double.parseDouble(t) * unit);
  }
}
