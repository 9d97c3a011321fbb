package dev.keepup.internal.signal;

/**
 * A bandwidth estimate smoothed by a fast and a slow exponential average, reporting the lower
 * of the two (the hls.js scheme): it drops as fast as the fast average and rises only as fast
 * as the slow one, so a single lucky sample cannot push quality up.
 *
 * <p>Samples are weighted by the time they cover, so the half-lives are in seconds whatever the
 * frame rate. Both averages start at zero and are divided by {@code 1 - alpha^totalWeight}, so
 * the first samples are not biased toward zero.
 */
public final class RateEstimate {
  private final Ewma fast;
  private final Ewma slow;

  public RateEstimate(double fastHalfLifeSeconds, double slowHalfLifeSeconds) {
    this.fast = new Ewma(fastHalfLifeSeconds);
    this.slow = new Ewma(slowHalfLifeSeconds);
  }

  /** Adds a sample of {@code bytesPerSecond} covering {@code seconds}. */
  public void add(double bytesPerSecond, double seconds) {
    if (!(bytesPerSecond >= 0) || !(seconds > 0)) {
      return;
    }
    fast.add(bytesPerSecond, seconds);
    slow.add(bytesPerSecond, seconds);
  }

  /** Returns the estimate in bytes per second, or 0 before any sample. */
  public double bytesPerSecond() {
    return Math.min(fast.get(), slow.get());
  }

  /** Returns the fast average alone: what the link did over the last moment. */
  public double fastBytesPerSecond() {
    return fast.get();
  }

  public boolean hasSamples() {
    return fast.totalWeight > 0;
  }

  private static final class Ewma {
    private final double alphaPerSecond;
    private double estimate;
    private double totalWeight;

    Ewma(double halfLifeSeconds) {
      this.alphaPerSecond = Math.exp(Math.log(0.5) / halfLifeSeconds);
    }

    void add(double value, double weight) {
      double adjusted = Math.pow(alphaPerSecond, weight);
      estimate = value * (1 - adjusted) + adjusted * estimate;
      totalWeight += weight;
    }

    double get() {
      if (totalWeight <= 0) {
        return 0;
      }
      double zeroFactor = 1 - Math.pow(alphaPerSecond, totalWeight);
      return estimate / zeroFactor;
    }
  }
}
