package dev.keepup.sim;

import dev.keepup.net.BandwidthTrace;
import dev.keepup.testing.VirtualTime;
import java.util.List;

/**
 * The offline oracle of DESIGN.md: the ceiling a sender that knew the trace in advance could
 * reach, scored by the same {@link QoeMeter}.
 *
 * <p>For each 1 s window it takes the highest rendition whose ladder bitrate is at most the
 * trace's mean bandwidth over that window, and delivers the frames of that rendition captured
 * in the window (the very frames {@link SimSource} would produce with the same options and
 * seed, no forced key frames) one propagation delay after capture: no queueing, no
 * serialisation delay, every frame decodable (it switches renditions at window boundaries as
 * if a KEY were always there; with the default GOP of one second at 30 fps it is). When even
 * the cheapest rendition does not fit, it sends that rendition thinned to the frame rate that
 * fits (an evenly spaced fraction {@code bandwidth / Rmin} of its frames), so the ceiling stays
 * honest on traces that dip below the ladder; thinning past 1 frame in 7 shows up as stalls.
 */
public final class Oracle {
  private Oracle() {}

  /** The oracle's figures for a run of {@code windows} seconds over {@code trace}. */
  public static QoeMeter.Metrics score(
      BandwidthTrace trace, SimLadder ladder, SimSource.Options options, long oneWayDelayNanos, int windows) {
    int[] chosen = new int[windows];
    double[] keepFraction = new double[windows];
    for (int w = 0; w < windows; w++) {
      double bandwidth = meanRate(trace, w, w + 1);
      int r = ladder.highestAtMost(bandwidth);
      chosen[w] = Math.max(r, 0);
      keepFraction[w] = r >= 0 ? 1 : bandwidth / ladder.minMbps();
    }
    return deliver(ladder, options, oneWayDelayNanos, chosen, keepFraction);
  }

  /** Delivers the frames of {@code chosen[w]} captured in each window w, one propagation delay after capture. */
  private static QoeMeter.Metrics deliver(SimLadder ladder, SimSource.Options options, long oneWayDelayNanos,
      int[] chosen, double[] keepFraction) {
    int windows = chosen.length;
    VirtualTime clock = new VirtualTime();
    long start = clock.read();
    SimSource source = new SimSource(ladder, options, clock);
    QoeMeter meter = QoeMeter.forLadder(start, windows, ladder);
    double kept = 0;
    for (int i = 0; ; i++) {
      long capture = source.captureNanos(i);
      int w = (int) ((capture - start) / 1_000_000_000L);
      if (w >= windows) {
        break;
      }
      double fraction = keepFraction[w];
      if (fraction < 1) {
        // Evenly spaced: keep a frame each time the running sum crosses a whole number.
        double before = kept;
        kept += fraction;
        if (Math.floor(kept) == Math.floor(before)) {
          continue;
        }
      }
      SimSource.FrameInfo frame = source.planned(chosen[w], i);
      meter.onFrame(capture, capture + oneWayDelayNanos, frame.size(), chosen[w], true);
    }
    return meter.finish();
  }

  /** The time-weighted mean rate of {@code trace} in Mbit/s over {@code [from, to)} seconds. */
  public static double meanRate(BandwidthTrace trace, double from, double to) {
    List<BandwidthTrace.Sample> samples = trace.samples();
    double megabits = 0;
    for (int i = 0; i < samples.size(); i++) {
      double pieceStart = samples.get(i).timeSeconds();
      double pieceEnd = i + 1 < samples.size() ? samples.get(i + 1).timeSeconds() : Double.POSITIVE_INFINITY;
      double overlap = Math.min(to, pieceEnd) - Math.max(from, pieceStart);
      if (overlap > 0) {
        megabits += overlap * samples.get(i).mbitPerSecond();
      }
    }
    return megabits / (to - from);
  }
}
