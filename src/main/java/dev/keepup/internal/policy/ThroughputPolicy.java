package dev.keepup.internal.policy;

import dev.keepup.AdaptationPolicy;
import dev.keepup.Decision;
import dev.keepup.Ladder;
import dev.keepup.Signals;
import dev.keepup.Verdict;

/**
 * The highest rendition under a safety factor of the link's rate: 0.9 to stay or go
 * down (dash.js's default safety factor), 0.7 to go up (hls.js's {@code abrBandWidthUpFactor}),
 * so that an estimate hovering near a step does not flap; at most one switch a second, the
 * first a second after the start. Quality only. The link's rate is the delivery-rate estimate
 * (or its newest sample, when lower), and, while the client keeps up, the burst rate when
 * higher: a paced stream's delivery rate is its own bitrate.
 */
public final class ThroughputPolicy implements AdaptationPolicy {
  static final double DOWN_FACTOR = 0.9;
  static final double UP_FACTOR = 0.7;
  static final long MIN_DWELL_NANOS = 1_000_000_000L;

  @Override
  public Decision decide(Context context) {
    Signals signals = context.signals();
    long rate = signals.deliveryRateBitsPerSecond();
    if (signals.latestRateBitsPerSecond() > 0) {
      // The smoothed estimate trails a drop by a second; the newest sample does not.
      rate = Math.min(rate, signals.latestRateBitsPerSecond());
    }
    if (signals.verdict() == Verdict.KEEPING_UP) {
      // A paced stream that keeps up is app-limited: its delivery rate is its own bitrate, never
      // more, and on that alone it would never leave its first rendition (it did not, over the
      // simulator's traces). The burst rate shows the link's room; once the client falls
      // behind, the delivery rate alone counts, since the burst rate stops being sampled.
      rate = Math.max(rate, signals.burstRateBitsPerSecond());
    }
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
