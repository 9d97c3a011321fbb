package dev.keepup.sim;

import dev.keepup.net.BandwidthTrace;
import dev.keepup.testing.VirtualTime;
import java.util.Objects;

/**
 * One strategy over one trace, isolated in its own {@link VirtualTime}: a {@link SimulatedLink}
 * following the trace, a {@link SimSource} producing the ladder, a {@link SimViewer} scoring
 * what arrives. The run lasts the trace's whole seconds (at least one).
 */
public final class SimRun {
  private SimRun() {}

  /**
   * The rate at which a burst ({@link Config#burstBytes}) crosses: 8 Mbit/s, what frames sent
   * into an idle path crossed the real bench's relay at (its token bucket written 4 KiB at a
   * time through loopback sockets and relay threads), median 7.2-8.8 Mbit/s over 190-210 frames
   * on a 1.1 Mbit/s trace (RealTraceBenchmark's "idle-path crossing"). Overridable with the
   * system property {@code keepup.sim.burstMbps}.
   */
  public static final double BURST_BITS_PER_SECOND =
      Double.parseDouble(System.getProperty("keepup.sim.burstMbps", "8")) * 1e6;

  /**
   * The link and stream of a run.
   *
   * @param ladder the renditions
   * @param source the encoder's options (GOP, key size, variance, all-key, seed)
   * @param oneWayDelayNanos propagation delay each way (RTT / 2)
   * @param queueBytes the socket buffer plus bottleneck queue of the link
   * @param burstBytes the bottleneck's token-bucket depth ({@link SimulatedLink#burstBytes}; 0:
   *     a pure fluid link)
   */
  public record Config(SimLadder ladder, SimSource.Options source, long oneWayDelayNanos, long queueBytes,
      long burstBytes) {
    /** The default ladder and encoder, RTT 40 ms, 0.7 MB of queue (DESIGN.md's congested-link figure). */
    public static final Config DEFAULT = new Config(SimLadder.DEFAULT, SimSource.Options.DEFAULT, 20_000_000L, 700_000, 0);

    public Config {
      Objects.requireNonNull(ladder, "ladder");
      Objects.requireNonNull(source, "source");
      if (oneWayDelayNanos < 0) {
        throw new IllegalArgumentException("oneWayDelayNanos must be >= 0: " + oneWayDelayNanos);
      }
      if (queueBytes <= 0) {
        throw new IllegalArgumentException("queueBytes must be > 0: " + queueBytes);
      }
      if (burstBytes < 0) {
        throw new IllegalArgumentException("burstBytes must be >= 0: " + burstBytes);
      }
    }

    /** A fluid link (no burst). */
    public Config(SimLadder ladder, SimSource.Options source, long oneWayDelayNanos, long queueBytes) {
      this(ladder, source, oneWayDelayNanos, queueBytes, 0);
    }
  }

  /**
   * What a run produced.
   *
   * @param set the trace set (folder name, or "synthetic")
   * @param trace the trace's name
   * @param strategy the strategy's name, or "oracle"
   * @param metrics the viewer's figures
   * @param deliveredBits bits of binary messages that reached the client in the run
   * @param offeredBits bits the trace could have carried in the run
   * @param notes strategy diagnostics
   */
  public record Result(String set, String trace, String strategy, QoeMeter.Metrics metrics,
      double deliveredBits, double offeredBits, String notes) {

    /** Returns delivered over offered bits. */
    public double utilisation() {
      return offeredBits > 0 ? deliveredBits / offeredBits : 0;
    }
  }

  /** Returns the run length in whole seconds for {@code trace}. */
  public static int windows(BandwidthTrace trace) {
    return (int) Math.max(1, Math.floor(trace.duration().toNanos() / 1e9 + 1e-9));
  }

  /** Runs {@code strategy} over {@code trace}. */
  public static Result run(String set, String traceName, BandwidthTrace trace, Strategy strategy, Config config) {
    VirtualTime time = new VirtualTime();
    int windows = windows(trace);
    long start = time.read();
    SimulatedLink link = new SimulatedLink(time, trace, config.oneWayDelayNanos(), config.queueBytes())
        .burstBytes(config.burstBytes())
        .burstBitsPerSecond(config.burstBytes() > 0 ? BURST_BITS_PER_SECOND : 0);
    SimSource source = new SimSource(config.ladder(), config.source(), time);
    QoeMeter meter = QoeMeter.forLadder(start, windows, config.ladder());
    SimViewer viewer = new SimViewer(source, meter);
    link.client(viewer);
    Strategy.Running running = strategy.start(new Strategy.Context(time, link.session(), source, config.ladder()));
    time.advanceNanos(windows * 1_000_000_000L);
    running.stop();
    link.sync();
    QoeMeter.Metrics metrics = meter.finish();
    return new Result(set, traceName, strategy.name(), metrics, metrics.deliveredMbps() * 1e6 * windows,
        link.bitsOffered(), running.notes());
  }

  /** Scores the offline oracle on {@code trace}. */
  public static Result oracle(String set, String traceName, BandwidthTrace trace, Config config) {
    int windows = windows(trace);
    QoeMeter.Metrics metrics = Oracle.score(trace, config.ladder(), config.source(), config.oneWayDelayNanos(), windows);
    double offered = Oracle.meanRate(trace, 0, windows) * 1e6 * windows;
    return new Result(set, traceName, "oracle", metrics, metrics.deliveredMbps() * 1e6 * windows, offered, "");
  }
}
