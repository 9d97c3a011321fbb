package dev.keepup;

import dev.keepup.internal.policy.DefaultPolicy;
import dev.keepup.internal.policy.DelayPolicy;
import dev.keepup.internal.policy.FixedPolicy;
import dev.keepup.internal.policy.ThroughputPolicy;
import java.util.Objects;

/**
 * Decides, from what the sender knows about a client, which rendition to stream and at what
 * frame rate.
 *
 * <p>The sender calls {@link #decide} at most once per frame tick, under its lock, so it must
 * be cheap and must not block. A policy instance serves one sender and may keep state (the
 * built-ins do); the factories here return a fresh instance each call. What {@code decide}
 * throws, or an invalid decision (a rendition outside the ladder), is logged and counted, and
 * the previous decision stands.
 *
 * <p>A switch of rendition takes effect at the next {@link FrameKind#KEY} frame of the target
 * rendition (the sender asks the source for one); a change of frame rate takes effect at once.
 * See {@code docs/adaptation.md} for the built-ins and how to write one.
 */
@FunctionalInterface
public interface AdaptationPolicy {

  /**
   * Returns the decision for the next frame tick; returning {@code context.current()} keeps
   * things as they are.
   */
  Decision decide(Context context);

  /**
   * What a policy sees at a frame tick.
   *
   * @param signals the sender's figures on the client
   * @param current the decision in force
   * @param ladder the renditions and frame-rate steps
   * @param maxFramesPerSecond the sender's target frame rate, which decisions may not exceed
   * @param nowNanos the sender's clock
   * @param lastSwitchNanos when the rendition last changed (the start time if never)
   * @param switchPending whether a rendition switch is waiting for a keyframe
   * @param skippedFraction the fraction of recent frames (the last half second or so, weighted by age) that were skipped
   *     rather than sent: superseded while the in-flight cap held them, stale, or undecodable
   *     after a broken reference. A stream that does not fit the link shows it here first.
   */
  record Context(
      Signals signals,
      Decision current,
      Ladder ladder,
      double maxFramesPerSecond,
      long nowNanos,
      long lastSwitchNanos,
      boolean switchPending,
      double skippedFraction) {}

  /**
   * Returns a policy that never adapts: one rendition, one frame rate. The baseline.
   *
   * @throws IllegalArgumentException if {@code rendition} is negative or {@code fps} not in (0, 1000]
   */
  static AdaptationPolicy fixed(int rendition, double fps) {
    return new FixedPolicy(new Decision(rendition, fps, "fixed"));
  }

  /**
   * Returns a throughput-based policy: the highest rendition whose bitrate fits under a safety
   * factor of the link's rate, stricter going up (0.7) than down (0.9), the factors of hls.js
   * and dash.js. Quality only; the frame rate stays at the top. The link's rate is the
   * delivery-rate estimate and, while the client keeps up, the burst rate when higher: a paced
   * live stream is app-limited, so its delivery rate shows only its own bitrate.
   */
  static AdaptationPolicy throughputBased() {
    return new ThroughputPolicy();
  }

  /**
   * Returns a delay-based policy after Apache Guacamole's, which scales JPEG quality linearly
   * from best to worst as the client's lag grows from 20 to 80 ms: here the rendition falls
   * linearly over the same range of lag, the frame age at the client less the one-way
   * propagation delay (queueing and transmission).
   */
  static AdaptationPolicy delayBased() {
    return new DelayPolicy(20_000_000L, 80_000_000L);
  }

  /**
   * Returns the recommended hybrid policy: it holds while the client keeps up; when queueing
   * delay says it is falling behind, it drops at once to the rendition the acked rate
   * supports (the in-flight cap thins the frame rate meanwhile); when the client's own
   * rendering lags, it lowers the frame rate, not the quality; and it climbs one rendition at a
   * time after a quiet second, when the rate frames crossed the link at says the next one fits,
   * backing off (doubling) from a rendition that failed soon after a climb. See {@code
   * docs/adaptation.md}.
   */
  static AdaptationPolicy defaults() {
    return new DefaultPolicy();
  }

  /** Checks a decision against the ladder and frame-rate limit; returns it if valid. */
  static Decision validate(Decision decision, Ladder ladder, double maxFramesPerSecond) {
    Objects.requireNonNull(decision, "decision");
    if (decision.rendition() >= ladder.size()) {
      throw new IllegalArgumentException(
          "decision rendition must be < ladder size (" + ladder.size() + "): " + decision.rendition());
    }
    if (decision.framesPerSecond() > maxFramesPerSecond) {
      throw new IllegalArgumentException(
          "decision framesPerSecond must be <= targetFps (" + maxFramesPerSecond + "): " + decision.framesPerSecond());
    }
    return decision;
  }
}
