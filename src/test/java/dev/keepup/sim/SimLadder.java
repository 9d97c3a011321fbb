package dev.keepup.sim;

import java.util.Arrays;
import java.util.Locale;
import java.util.Objects;
import java.util.stream.Collectors;

/**
 * The simulator's ladder: the mean bitrate of each rendition (cheapest first) and the frame
 * rate they are produced at: what the simulated encoder makes. Strategies that drive the
 * library convert it to a {@code Ladder} ({@link Strategies#withLadder}).
 *
 * @param mbps mean bitrate of each rendition in Mbit/s (1 Mbit = 10<sup>6</sup> bits), strictly
 *     increasing
 * @param fps frames per second of every rendition
 */
public record SimLadder(double[] mbps, double fps) {

  /** The default ladder of the evaluation issue: 0.3 to 4.3 Mbit/s at 30 fps (Pensieve's ladder). */
  public static final SimLadder DEFAULT = new SimLadder(new double[] {0.3, 0.75, 1.2, 1.85, 2.85, 4.3}, 30);

  public SimLadder {
    Objects.requireNonNull(mbps, "mbps");
    if (mbps.length == 0 || mbps.length > 64) {
      throw new IllegalArgumentException("ladder must have 1 to 64 renditions: " + mbps.length);
    }
    mbps = mbps.clone();
    for (int i = 0; i < mbps.length; i++) {
      if (!(mbps[i] > 0) || !Double.isFinite(mbps[i]) || (i > 0 && !(mbps[i] > mbps[i - 1]))) {
        throw new IllegalArgumentException("ladder bitrates must be positive and increasing: " + Arrays.toString(mbps));
      }
    }
    if (!(fps > 0 && fps <= 1000)) {
      throw new IllegalArgumentException("fps must be in (0, 1000]: " + fps);
    }
  }

  /**
   * Parses {@code "0.3,0.75,1.2"} (Mbit/s, cheapest first).
   *
   * @throws IllegalArgumentException if a value is not a number or the list is invalid
   */
  public static SimLadder parse(String commaSeparatedMbps, double fps) {
    String[] parts = commaSeparatedMbps.split(",");
    double[] values = new double[parts.length];
    for (int i = 0; i < parts.length; i++) {
      try {
        values[i] = Double.parseDouble(parts[i].strip());
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("ladder: not a number: '" + parts[i] + "'");
      }
    }
    return new SimLadder(values, fps);
  }

  @Override
  public double[] mbps() {
    return mbps.clone();
  }

  /** Returns the mean bitrate of {@code rendition} in Mbit/s. */
  public double mbps(int rendition) {
    return mbps[rendition];
  }

  /** Returns the number of renditions. */
  public int size() {
    return mbps.length;
  }

  /** Returns the index of the most expensive rendition. */
  public int top() {
    return mbps.length - 1;
  }

  /** Returns Rmin of the QoE formula: the cheapest rendition's bitrate. */
  public double minMbps() {
    return mbps[0];
  }

  /** Returns Rmax of the QoE formula: the most expensive rendition's bitrate. */
  public double maxMbps() {
    return mbps[mbps.length - 1];
  }

  /** Returns the nominal frame interval in nanoseconds. */
  public double frameIntervalNanos() {
    return 1e9 / fps;
  }

  /** Returns the highest rendition whose bitrate is at most {@code mbps}, or -1 if none is. */
  public int highestAtMost(double mbps) {
    int best = -1;
    for (int i = 0; i < this.mbps.length; i++) {
      if (this.mbps[i] <= mbps + 1e-12) {
        best = i;
      }
    }
    return best;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof SimLadder other && Arrays.equals(mbps, other.mbps) && fps == other.fps;
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(mbps) * 31 + Double.hashCode(fps);
  }

  @Override
  public String toString() {
    return Arrays.stream(mbps).mapToObj(v -> String.format(Locale.ROOT, "%s", trim(v)))
        .collect(Collectors.joining("/")) + " Mbit/s at " + trim(fps) + " fps";
  }

  private static String trim(double v) {
    return v == Math.rint(v) ? String.valueOf((long) v) : String.valueOf(v);
  }
}
