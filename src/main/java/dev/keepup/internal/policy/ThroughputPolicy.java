package dev.keepup.internal.policy;

import dev.keepup.AdaptationPolicy;
import dev.keepup.Decision;
import dev.keepup.Ladder;

/**
 * The highest rendition under a safety factor of the delivery-rate estimate: 0.9 to stay or go
 * down (dash.js's default safety factor), 0.7 to go up (hls.js's {@code abrBandWidthUpFactor}),
 * so that an estimate hovering near a step does not flap; at most one switch a second, the
 * first a second after the start. Quality only.
 */
public final class ThroughputPolicy implements AdaptationPolicy {
  static final double DOWN_FACTOR = 0.9;
  static final double UP_FACTOR = 0.7;
  static final long MIN_DWELL_NANOS = 1_000_000_000L;

  @Override
  public Decision decide(Context context) {
    long rate = context.signals().deliveryRateBitsPerSecond();
    Decision current = context.current();
    // At most one switch a second, from a second after the start: the first samples of a
    // connection (one frame over a round trip) read far below the link, and a switch on them
    // would never be undone while the stream is app-limited. dash.js likewise decides once
    // per segment, on a whole segment's download.
    if (rate <= 0 || context.nowNanos() - context.lastSwitchNanos() < MIN_DWELL_NANOS) {
      return current;
    }
    Ladder ladder = context.ladder();
    double fps = Math.min(ladder.topFrameRate(), context.maxFramesPerSecond());
    int stay = Math.max(0, ladder.highestFitting(rate * DOWN_FACTOR, fps));
    int target = current.rendition();
    if (stay < target) {
      target = stay;
    } else {
      int up = ladder.highestFitting(rate * UP_FACTOR, fps);
      if (up > target) {
        target = up;
      }
    }
    if (target == current.rendition() && fps == current.framesPerSecond()) {
      return current;
    }
    return new Decision(target, fps, "throughput");
  }
}
