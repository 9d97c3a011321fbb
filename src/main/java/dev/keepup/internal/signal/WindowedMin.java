package dev.keepup.internal.signal;

import java.util.Arrays;

/**
 * The minimum of a signal over a sliding time window, in constant space.
 *
 * <p>The window is cut into a few buckets, each keeping the minimum of its samples; a bucket
 * that falls out of the window is forgotten whole. The window is thus exact to one bucket
 * (a tenth of it), which is all a min RTT or a clock-offset filter needs. Pure: time comes in
 * as an argument.
 */
public final class WindowedMin {
  private static final int BUCKETS = 10;

  private final long bucketNanos;
  private final long[] mins = new long[BUCKETS];
  private final long[] starts = new long[BUCKETS];
  private boolean empty = true;
  private int current;

  public WindowedMin(long windowNanos) {
    if (windowNanos < BUCKETS) {
      throw new IllegalArgumentException("windowNanos must be >= " + BUCKETS + ": " + windowNanos);
    }
    this.bucketNanos = windowNanos / BUCKETS;
    Arrays.fill(mins, Long.MAX_VALUE);
  }

  /** Adds {@code value} measured at {@code now}. */
  public void add(long value, long now) {
    if (empty) {
      empty = false;
      current = 0;
      starts[0] = now;
      mins[0] = value;
      return;
    }
    if (now - starts[current] >= bucketNanos) {
      current = (current + 1) % BUCKETS;
      starts[current] = now;
      mins[current] = value;
    } else if (value < mins[current]) {
      mins[current] = value;
    }
  }

  /** Returns the minimum over the window ending at {@code now}, or {@code fallback} if none. */
  public long get(long now, long fallback) {
    long min = Long.MAX_VALUE;
    long windowStart = now - bucketNanos * BUCKETS;
    for (int i = 0; i < BUCKETS; i++) {
      if (mins[i] != Long.MAX_VALUE && starts[i] - windowStart >= 0 && mins[i] < min) {
        min = mins[i];
      }
    }
    if (min == Long.MAX_VALUE) {
      // Every bucket is older than the window: keep the newest rather than know nothing.
      return empty ? fallback : mins[current];
    }
    return min;
  }
}
