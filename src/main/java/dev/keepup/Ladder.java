package dev.keepup;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * The renditions a stream is offered in, cheapest first, and the frame rates a policy may
 * step down to.
 *
 * <p>A rendition's bitrate is what it costs at the top frame rate; at a lower frame rate a
 * policy assumes it costs proportionally less, which is exact for independent frames (JPEG)
 * and an upper bound for inter-coded video. Immutable.
 *
 * <pre>{@code
 * Ladder ladder = Ladder.builder()
 *     .rendition("240p", 300_000)
 *     .rendition("480p", 1_200_000)
 *     .rendition("720p", 2_850_000)
 *     .build();
 * }</pre>
 */
public final class Ladder {
  /** The default frame-rate steps, from the top down. */
  public static final List<Double> DEFAULT_FRAME_RATES = List.of(30.0, 15.0, 10.0, 5.0, 2.0, 1.0);

  /** One rendition: a label for logs and stats, and its bitrate at the top frame rate. */
  public record Rendition(String label, long bitsPerSecond) {
    /** Checks the values. */
    public Rendition {
      Objects.requireNonNull(label, "label");
      if (bitsPerSecond <= 0) {
        throw new IllegalArgumentException("bitsPerSecond must be > 0: " + bitsPerSecond);
      }
    }
  }

  private final List<Rendition> renditions;
  private final double[] frameRates;

  private Ladder(List<Rendition> renditions, double[] frameRates) {
    this.renditions = List.copyOf(renditions);
    this.frameRates = frameRates;
  }

  /** Returns a ladder of unlabelled renditions with these bitrates (bits per second, ascending). */
  public static Ladder ofBitrates(long... bitsPerSecond) {
    Builder builder = builder();
    for (long bitrate : bitsPerSecond) {
      builder.rendition(bitrate / 1000 + "k", bitrate);
    }
    return builder.build();
  }

  /** Returns a builder; renditions are added cheapest first. */
  public static Builder builder() {
    return new Builder();
  }

  /** Returns the number of renditions. */
  public int size() {
    return renditions.size();
  }

  /** Returns the rendition at {@code index} (0 = cheapest). */
  public Rendition rendition(int index) {
    return renditions.get(index);
  }

  /** Returns the bitrate of rendition {@code index} at the top frame rate, in bits per second. */
  public long bitsPerSecond(int index) {
    return renditions.get(index).bitsPerSecond();
  }

  /** Returns the renditions, cheapest first. */
  public List<Rendition> renditions() {
    return renditions;
  }

  /** Returns the number of frame-rate steps. */
  public int frameRateSteps() {
    return frameRates.length;
  }

  /** Returns frame-rate step {@code index}: 0 is the top (highest) rate. */
  public double frameRate(int index) {
    return frameRates[index];
  }

  /** Returns the top frame rate, the one the bitrates are given at. */
  public double topFrameRate() {
    return frameRates[0];
  }

  /**
   * Returns the highest rendition whose bitrate at {@code fps} fits within {@code bitsPerSecond},
   * or -1 if not even the cheapest does.
   */
  public int highestFitting(double bitsPerSecond, double fps) {
    double scale = fps / topFrameRate();
    for (int i = renditions.size() - 1; i >= 0; i--) {
      if (bitsPerSecond(i) * scale <= bitsPerSecond) {
        return i;
      }
    }
    return -1;
  }

  @Override
  public String toString() {
    return "Ladder" + renditions + " at " + Arrays.toString(frameRates) + " fps";
  }

  /** Builds a {@link Ladder}; every value is checked when given. */
  public static final class Builder {
    private final List<Rendition> renditions = new ArrayList<>();
    private double[] frameRates = DEFAULT_FRAME_RATES.stream().mapToDouble(Double::doubleValue).toArray();

    private Builder() {}

    /**
     * Adds the next rendition, which must cost more than the previous one.
     *
     * @throws IllegalArgumentException if {@code bitsPerSecond} is not above the previous one's
     */
    public Builder rendition(String label, long bitsPerSecond) {
      Rendition rendition = new Rendition(label, bitsPerSecond);
      if (!renditions.isEmpty() && bitsPerSecond <= renditions.get(renditions.size() - 1).bitsPerSecond()) {
        throw new IllegalArgumentException("renditions must be in ascending bitrate order: " + bitsPerSecond
            + " after " + renditions.get(renditions.size() - 1).bitsPerSecond());
      }
      renditions.add(rendition);
      return this;
    }

    /**
     * Sets the frame-rate steps, highest first; the first is the rate the bitrates are given at.
     * Default 30, 15, 10, 5, 2, 1.
     *
     * @throws IllegalArgumentException unless non-empty, strictly descending, each in (0, 1000]
     */
    public Builder frameRates(double... fps) {
      if (fps.length == 0) {
        throw new IllegalArgumentException("frameRates must not be empty");
      }
      for (int i = 0; i < fps.length; i++) {
        if (!(fps[i] > 0 && fps[i] <= 1000)) {
          throw new IllegalArgumentException("frameRates must be in (0, 1000]: " + fps[i]);
        }
        if (i > 0 && fps[i] >= fps[i - 1]) {
          throw new IllegalArgumentException("frameRates must be strictly descending: " + fps[i] + " after " + fps[i - 1]);
        }
      }
      this.frameRates = fps.clone();
      return this;
    }

    /**
     * Returns the ladder.
     *
     * @throws IllegalStateException if no rendition was added
     */
    public Ladder build() {
      if (renditions.isEmpty()) {
        throw new IllegalStateException("a ladder needs at least one rendition");
      }
      return new Ladder(renditions, frameRates.clone());
    }
  }
}
