package dev.keepup.sim;

import java.util.Arrays;

/**
 * Scores what a viewer saw: the QoE figures of DESIGN.md ("How we know it works") over 1 s
 * windows, from the frames delivered to the client.
 *
 * <p>Feed it every binary message the client received ({@link #onFrame}), in arrival order,
 * then call {@link #finish}. Windows are {@code [start + w s, start + (w+1) s)} for {@code w =
 * 0 .. windows-1}; frames arriving after the last window are ignored. Per window:
 *
 * <ul>
 *   <li>{@code R_w}: Mbit/s of <em>decodable</em> frames that arrived in w (a frame whose
 *       reference chain back to its KEY was broken counts zero);
 *   <li>{@code S_w}: stall seconds in w. For each gap between consecutive decodable arrivals,
 *       the part beyond the nominal frame interval plus 200 ms is a stall, placed at the end of
 *       the gap and split over the windows it covers. The session start counts as an arrival
 *       (so a slow start stalls), and a gap still open at the end of the run stalls up to it;
 *   <li>{@code A_w}: mean age (arrival minus capture, seconds) of the decodable frames that
 *       arrived in w. In a window with none, the viewer still looks at the newest decodable
 *       frame shown before it, which keeps ageing: {@code A_w} is its age averaged over the
 *       window, {@code (window middle) - (its capture time)}. Before any frame was shown, the
 *       age counts from the session start ({@code w + 0.5} s).
 * </ul>
 *
 * <p>Live QoE = sum over w of {@code R_w - Rmax*S_w - |R_w - R_(w-1)| - L(A_w)}, with {@code
 * L(a) = 0.05*Rmin*a} for {@code a <= 1.1} s, else {@code 0.1*Rmax*a}; the first window has no
 * switch term. Pensieve's linear QoE, reported beside it, is the same without the latency
 * term and with its constant 4.3 as the rebuffering weight: {@code R_w - 4.3*S_w - |R_w -
 * R_(w-1)|}. Frame age percentiles are over decodable frames (nearest rank); switches count
 * changes of rendition between consecutive decodable frames.
 */
public final class QoeMeter {
  /** Pensieve's rebuffering penalty: its top bitrate in Mbit/s, a constant of that QoE. */
  public static final double PENSIEVE_REBUFFER_WEIGHT = 4.3;
  private static final double STALL_SLACK_SECONDS = 0.2;
  private static final double LATENCY_KNEE_SECONDS = 1.1;

  private final long startNanos;
  private final int windows;
  private final double rMin;
  private final double rMax;
  private final double stallThresholdNanos;

  private final long[] decodableBytes;
  private final double[] ageSumSeconds;
  private final int[] decodableFrames;
  private final long[] newestCapture;
  private final double[] stallSeconds;

  private long deliveredBytes;
  private long deliveredFrames;
  private long undecodableFrames;
  private double[] ages = new double[1024];
  private int ageCount;
  private long lastShownArrival;
  private int lastRendition = -1;
  private long switches;
  private boolean finished;

  /**
   * A meter for a run that starts at {@code startNanos} and lasts {@code windows} seconds.
   *
   * @param nominalIntervalNanos the stream's frame interval (1/fps)
   */
  public QoeMeter(long startNanos, int windows, double rMinMbps, double rMaxMbps, double nominalIntervalNanos) {
    if (windows < 1) {
      throw new IllegalArgumentException("windows must be >= 1: " + windows);
    }
    this.startNanos = startNanos;
    this.windows = windows;
    this.rMin = rMinMbps;
    this.rMax = rMaxMbps;
    this.stallThresholdNanos = nominalIntervalNanos + STALL_SLACK_SECONDS * 1e9;
    this.decodableBytes = new long[windows];
    this.ageSumSeconds = new double[windows];
    this.decodableFrames = new int[windows];
    this.newestCapture = new long[windows];
    Arrays.fill(newestCapture, Long.MIN_VALUE);
    this.stallSeconds = new double[windows];
    this.lastShownArrival = startNanos;
  }

  /** A meter for {@code ladder}: Rmin, Rmax and the nominal interval taken from it. */
  public static QoeMeter forLadder(long startNanos, int windows, SimLadder ladder) {
    return new QoeMeter(startNanos, windows, ladder.minMbps(), ladder.maxMbps(), ladder.frameIntervalNanos());
  }

  /** The latency penalty {@code L(a)} of DESIGN.md for a mean age of {@code ageSeconds}. */
  public static double latencyPenalty(double ageSeconds, double rMinMbps, double rMaxMbps) {
    return ageSeconds <= LATENCY_KNEE_SECONDS ? 0.05 * rMinMbps * ageSeconds : 0.1 * rMaxMbps * ageSeconds;
  }

  private long endNanos() {
    return startNanos + windows * 1_000_000_000L;
  }

  /**
   * Records a binary message of {@code bytes} that arrived at the client at {@code arrivalNanos}.
   * Calls must come in arrival order.
   */
  public void onFrame(long captureNanos, long arrivalNanos, int bytes, int rendition, boolean decodable) {
    if (finished) {
      throw new IllegalStateException("meter already finished");
    }
    if (arrivalNanos < startNanos || arrivalNanos >= endNanos()) {
      return;
    }
    deliveredBytes += bytes;
    deliveredFrames++;
    if (!decodable) {
      undecodableFrames++;
      return;
    }
    int w = (int) ((arrivalNanos - startNanos) / 1_000_000_000L);
    double age = (arrivalNanos - captureNanos) / 1e9;
    decodableBytes[w] += bytes;
    decodableFrames[w]++;
    ageSumSeconds[w] += age;
    newestCapture[w] = Math.max(newestCapture[w], captureNanos);
    if (ageCount == ages.length) {
      ages = Arrays.copyOf(ages, ages.length * 2);
    }
    ages[ageCount++] = age;
    addStall(lastShownArrival, arrivalNanos);
    lastShownArrival = arrivalNanos;
    if (lastRendition >= 0 && rendition != lastRendition) {
      switches++;
    }
    lastRendition = rendition;
  }

  /** Adds the stall part of the gap between two decodable arrivals (or the start, or the end). */
  private void addStall(long from, long to) {
    long stallFrom = from + (long) Math.ceil(stallThresholdNanos);
    if (to <= stallFrom) {
      return;
    }
    for (long t = stallFrom; t < to; ) {
      int w = (int) ((t - startNanos) / 1_000_000_000L);
      if (w >= windows) {
        break;
      }
      long windowEnd = startNanos + (w + 1) * 1_000_000_000L;
      long until = Math.min(to, windowEnd);
      stallSeconds[w] += (until - t) / 1e9;
      t = until;
    }
  }

  /** Closes the run at the end of the last window and returns the figures. */
  public Metrics finish() {
    if (!finished) {
      finished = true;
      addStall(lastShownArrival, endNanos());
    }
    double qoe = 0;
    double pensieve = 0;
    double bitrateTerm = 0;
    double stallTerm = 0;
    double switchTerm = 0;
    double latencyTerm = 0;
    double stallTotal = 0;
    long decodableBits = 0;
    long shownFrames = 0;
    double previousR = Double.NaN;
    long shownCapture = startNanos;
    double[] qoeByWindow = new double[windows];
    for (int w = 0; w < windows; w++) {
      double r = decodableBytes[w] * 8 / 1e6;
      double age;
      if (decodableFrames[w] > 0) {
        age = ageSumSeconds[w] / decodableFrames[w];
        shownCapture = Math.max(shownCapture, newestCapture[w]);
      } else {
        double middle = startNanos + (w + 0.5) * 1e9;
        age = (middle - shownCapture) / 1e9;
      }
      double s = stallSeconds[w];
      double sw = Double.isNaN(previousR) ? 0 : Math.abs(r - previousR);
      double l = latencyPenalty(age, rMin, rMax);
      double q = r - rMax * s - sw - l;
      qoeByWindow[w] = q;
      qoe += q;
      pensieve += r - PENSIEVE_REBUFFER_WEIGHT * s - sw;
      bitrateTerm += r;
      stallTerm += rMax * s;
      switchTerm += sw;
      latencyTerm += l;
      stallTotal += s;
      decodableBits += decodableBytes[w] * 8;
      shownFrames += decodableFrames[w];
      previousR = r;
    }
    double[] sorted = Arrays.copyOf(ages, ageCount);
    Arrays.sort(sorted);
    return new Metrics(
        windows,
        qoe,
        pensieve,
        bitrateTerm,
        stallTerm,
        switchTerm,
        latencyTerm,
        decodableBits / 1e6 / windows,
        deliveredBytes * 8 / 1e6 / windows,
        shownFrames / (double) windows,
        deliveredFrames,
        undecodableFrames,
        percentile(sorted, 0.50) * 1e3,
        percentile(sorted, 0.95) * 1e3,
        sorted.length == 0 ? Double.POSITIVE_INFINITY : sorted[sorted.length - 1] * 1e3,
        stallTotal,
        switches,
        qoeByWindow);
  }

  /** Nearest-rank percentile of sorted values; infinite when there are none (nothing was shown). */
  static double percentile(double[] sorted, double p) {
    if (sorted.length == 0) {
      return Double.POSITIVE_INFINITY;
    }
    int rank = (int) Math.ceil(p * sorted.length);
    return sorted[Math.max(0, Math.min(sorted.length - 1, rank - 1))];
  }

  /**
   * The figures of one run.
   *
   * @param windows 1 s windows scored (the run's length in seconds)
   * @param qoe live QoE, summed over windows
   * @param pensieveQoe Pensieve's linear QoE, summed over windows
   * @param bitrateTerm sum of R_w
   * @param stallTerm sum of Rmax * S_w
   * @param switchTerm sum of |R_w - R_(w-1)|
   * @param latencyTerm sum of L(A_w)
   * @param shownMbps mean Mbit/s of decodable frames
   * @param deliveredMbps mean Mbit/s of every frame that reached the client
   * @param shownFps decodable frames per second
   * @param deliveredFrames frames that reached the client
   * @param undecodableFrames of those, frames whose reference chain was broken
   * @param ageP50Millis median age of decodable frames (capture to arrival)
   * @param ageP95Millis 95th percentile of it
   * @param ageMaxMillis the largest
   * @param stallSeconds total stall time
   * @param switches rendition changes between consecutive decodable frames
   * @param qoeByWindow each window's live QoE
   */
  public record Metrics(
      int windows,
      double qoe,
      double pensieveQoe,
      double bitrateTerm,
      double stallTerm,
      double switchTerm,
      double latencyTerm,
      double shownMbps,
      double deliveredMbps,
      double shownFps,
      long deliveredFrames,
      long undecodableFrames,
      double ageP50Millis,
      double ageP95Millis,
      double ageMaxMillis,
      double stallSeconds,
      long switches,
      double[] qoeByWindow) {

    /** Returns the switches per minute of run time. */
    public double switchesPerMinute() {
      return switches * 60.0 / windows;
    }
  }
}
