package dev.keepup.internal.policy;

import dev.keepup.AdaptationPolicy;
import dev.keepup.Decision;
import dev.keepup.Ladder;

/**
 * Guacamole's lag-to-quality map: the rendition falls linearly from the top at {@code low} lag
 * to the bottom at {@code high}, lag being the frame age at the client less the one-way
 * propagation delay. Quality only.
 */
public final class DelayPolicy implements AdaptationPolicy {
  private final long lowNanos;
  private final long highNanos;

  public DelayPolicy(long lowNanos, long highNanos) {
    this.lowNanos = lowNanos;
    this.highNanos = highNanos;
  }

  @Override
  public Decision decide(Context context) {
    Decision current = context.current();
    if (!context.signals().acked()) {
      return current;
    }
    Ladder ladder = context.ladder();
    // Guacamole's lag is how long the client takes to get a frame: here the frame's age at the
    // client beyond the one-way propagation, so both queueing and transmission count.
    long delay = context.signals().frameAge().toNanos() - context.signals().minRtt().toNanos() / 2;
    double quality = 1 - (double) (delay - lowNanos) / (highNanos - lowNanos);
    quality = Math.max(0, Math.min(1, quality));
    int target = (int) Math.round(quality * (ladder.size() - 1));
    double fps = Math.min(ladder.topFrameRate(), context.maxFramesPerSecond());
    if (target == current.rendition() && fps == current.framesPerSecond()) {
      return current;
    }
    return new Decision(target, fps, "delay");
  }
}
