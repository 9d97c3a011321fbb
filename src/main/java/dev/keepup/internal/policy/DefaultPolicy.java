package dev.keepup.internal.policy;

import dev.keepup.AdaptationPolicy;
import dev.keepup.Decision;
import dev.keepup.Ladder;
import dev.keepup.Signals;
import dev.keepup.Verdict;

/**
 * The recommended hybrid: hold while the client keeps up, drop fast when it falls behind,
 * climb carefully. See {@code docs/adaptation.md} for the reasoning and references.
 *
 * <ul>
 *   <li>Congestion (the verdict says the link is falling behind, for 60 ms or more, or
 *       stalled): the highest rendition that fits 0.85 of the acked delivery rate, or the
 *       cheapest; persisting congestion steps one rendition down each half second. Quality
 *       only: the in-flight cap already thins the frame rate to what the link carries.
 *   <li>Skipping (over a fifth of recent frames skipped, mostly because the in-flight cap held
 *       them): the stream does not fit the link, which for inter-coded video means broken
 *       references and stalls; treated as congestion.
 *   <li>Client lag (frames received but not rendered pile up while the link keeps up): a
 *       slow decoder costs per frame, not per byte, so the frame rate steps down, not the
 *       quality; it steps back up after three quiet seconds.
 *   <li>Climbing: after a quiet second (no congestion, no switch), one rendition up if the
 *       burst rate (frames sent into an empty pipe crossing the link) says it fits with a 0.8
 *       safety factor. While the stream is app-limited the delivery rate only shows the
 *       stream's own bitrate, so the burst rate is the probe. A rendition that brings
 *       congestion within 10 s of being climbed to is held off for 15 s, doubling to 2 min on
 *       each repeat, unless the burst rate shows 1.5 times what it needs once half the hold
 *       has passed; a quiet minute at a rendition clears the back-off of it and those below.
 *   <li>Hysteresis: a climb needs the next rendition to fit with a 20% margin (the 0.8 factor),
 *       so an estimate hovering near a step does not flap; a lost frame rate is regained after
 *       a quiet second, as many steps at once as fit.
 * </ul>
 *
 * <p>Not thread safe: one instance per sender, called under its lock.
 */
public final class DefaultPolicy implements AdaptationPolicy {
  private static final long MS = 1_000_000L;
  static final double CONGESTION_FACTOR = 0.85;
  static final double CLIMB_FACTOR = 0.8;
  static final long QUIET_BEFORE_CLIMB_NANOS = 1_000 * MS;
  static final long QUIET_BEFORE_FPS_UP_NANOS = 1_000 * MS;
  static final long CLIENT_LAG_STEP_NANOS = 1_000 * MS;
  static final long CONGESTED_STEP_NANOS = 500 * MS;
  /** How long congestion must last before the policy acts on it (a stall acts at once). */
  static final long CONGESTION_PERSISTENCE_NANOS = 60 * MS;
  static final long FAILED_CLIMB_WINDOW_NANOS = 10_000 * MS;
  static final long FIRST_BACKOFF_NANOS = 15_000 * MS;
  static final long MAX_BACKOFF_NANOS = 120_000 * MS;
  static final long BACKOFF_RESET_NANOS = 60_000 * MS;
  static final int CLIENT_LAG_FRAMES = 3;
  /** A skipped fraction past which the stream does not fit the link. */
  static final double SKIPPING = 0.2;
  static final long CLIENT_QUIET_NANOS = 3_000 * MS;

  private static final long NOT_CONGESTED = Long.MIN_VALUE;
  private long congestedSince = NOT_CONGESTED;
  private long lastCongestionAt = Long.MIN_VALUE / 2;
  private long lastChangeAt = Long.MIN_VALUE / 2;
  private long lastClimbAt = Long.MIN_VALUE / 2;
  private int lastClimbTo = -1;
  private long lastClientLagAt = Long.MIN_VALUE / 2;
  private long[] holdUntil = new long[0];
  private long[] backoff = new long[0];

  @Override
  public Decision decide(Context context) {
    Ladder ladder = context.ladder();
    if (holdUntil.length != ladder.size()) {
      holdUntil = new long[ladder.size()];
      backoff = new long[ladder.size()];
    }
    Signals signals = context.signals();
    Decision current = context.current();
    long now = context.nowNanos();
    if (!signals.acked()) {
      // No acks, no evidence: completion alone cannot tell a full buffer from a fast client.
      return current;
    }
    double topFps = Math.min(ladder.topFrameRate(), context.maxFramesPerSecond());
    boolean clientLag = signals.clientLagFrames() >= CLIENT_LAG_FRAMES;
    if (clientLag) {
      lastClientLagAt = now;
    }
    // Frames skipped because the cap held them are the link saying no, before any delay shows.
    boolean congested = signals.verdict() == Verdict.STALLED
        || (signals.verdict() == Verdict.FALLING_BEHIND && !clientLag)
        || (context.skippedFraction() > SKIPPING && !clientLag);
    if (congested) {
      if (congestedSince == NOT_CONGESTED) {
        congestedSince = now;
      }
      lastCongestionAt = now;
      // A blip (a late pong behind a CPU hiccup, one low sample) must not cost renditions:
      // act once it has lasted CONGESTION_PERSISTENCE, or at once on a stall.
      if (signals.verdict() == Verdict.STALLED || now - congestedSince >= CONGESTION_PERSISTENCE_NANOS) {
        return onCongestion(context, ladder, topFps, now);
      }
      return current;
    }
    congestedSince = NOT_CONGESTED;
    if (clientLag) {
      return stepFrameRate(current, ladder, -1, now, CLIENT_LAG_STEP_NANOS, "client lag");
    }
    if (now - lastCongestionAt < QUIET_BEFORE_CLIMB_NANOS || now - lastChangeAt < QUIET_BEFORE_CLIMB_NANOS
        || context.switchPending()) {
      return current;
    }
    if (current.framesPerSecond() < topFps) {
      // Regain frame rate first: it was the first thing given up. As far as the capacity
      // allows at once: one step per quiet period took 10 s from 1 fps back to 30.
      if (now - lastClientLagAt >= CLIENT_QUIET_NANOS && now - lastChangeAt >= QUIET_BEFORE_FPS_UP_NANOS) {
        double fps = current.framesPerSecond();
        for (double next = nextFrameRate(ladder, fps, topFps); next > fps && fits(signals, ladder, current.rendition(), next);
            next = nextFrameRate(ladder, fps, topFps)) {
          fps = next;
        }
        if (fps > current.framesPerSecond()) {
          return change(current, current.rendition(), fps, now, "recover fps");
        }
      }
      return current;
    }
    if (now - lastCongestionAt >= BACKOFF_RESET_NANOS && now - lastChangeAt >= BACKOFF_RESET_NANOS) {
      // A quiet minute at this rendition: its failures, and those below it, are history. Not
      // those above it: a rendition that keeps failing keeps its doubled hold.
      for (int r = 0; r <= current.rendition() && r < backoff.length; r++) {
        backoff[r] = 0;
      }
    }
    int next = current.rendition() + 1;
    if (next < ladder.size() && climbAllowed(signals, ladder, next, topFps, now)) {
      lastClimbAt = now;
      lastClimbTo = next;
      return change(current, next, current.framesPerSecond(), now, "climb");
    }
    return current;
  }

  private Decision onCongestion(Context context, Ladder ladder, double topFps, long now) {
    Decision current = context.current();
    Signals signals = context.signals();
    long rate = signals.deliveryRateBitsPerSecond();
    if (signals.latestRateBitsPerSecond() > 0) {
      // The smoothed estimate trails a drop by a second; the newest sample does not.
      rate = Math.min(rate, signals.latestRateBitsPerSecond());
    }
    if (current.rendition() == lastClimbTo && now - lastClimbAt < FAILED_CLIMB_WINDOW_NANOS) {
      // The climb failed: hold this rendition off, longer each time.
      int failed = current.rendition();
      backoff[failed] = backoff[failed] == 0 ? FIRST_BACKOFF_NANOS : Math.min(MAX_BACKOFF_NANOS, backoff[failed] * 2);
      holdUntil[failed] = now + backoff[failed];
      lastClimbTo = -1;
    }
    if (rate <= 0) {
      // No rate to choose by: the cheapest rendition, the least the link must carry.
      return change(current, 0, current.framesPerSecond(), now, "congestion");
    }
    // Quality only: the in-flight cap already thins the frame rate to what the link carries,
    // at once and frame by frame (a frame held past its tick is replaced by a fresher one).
    // Lowering the frame rate as well cost more than it saved over the simulator's traces
    // (live QoE 0.72 against 0.75 for delta-coded video, 0.39 against 0.64 with 2 s GOPs, whose
    // readers fell so far behind at a few fps that references went stale), and regaining it
    // waited for a quiet second. The frame rate is the actuator for a slow client, not a slow
    // link (DESIGN.md).
    int target = Math.max(0, ladder.highestFitting(rate * CONGESTION_FACTOR, topFps));
    if (target < current.rendition()) {
      return change(current, target, current.framesPerSecond(), now, "congestion");
    }
    if (current.rendition() > 0 && now - lastChangeAt >= CONGESTED_STEP_NANOS) {
      // Still congested at what the rate supports: the estimate lags the link; a step down
      // each half second.
      return change(current, current.rendition() - 1, current.framesPerSecond(), now, "congestion");
    }
    return current;
  }

  private boolean climbAllowed(Signals signals, Ladder ladder, int next, double fps, long now) {
    long need = (long) (ladder.bitsPerSecond(next) * fps / ladder.topFrameRate());
    long burst = signals.burstRateBitsPerSecond();
    // Held off: only a burst rate well above the need lifts the hold, and only in its second half.
    if (now < holdUntil[next] && (burst < need * 1.5 || now < holdUntil[next] - backoff[next] / 2)) {
      return false;
    }
    if (burst == 0) {
      // No frame has crossed an empty pipe yet: no evidence of room, no climb.
      return false;
    }
    // The 0.8 factor is also the hysteresis: an estimate within 20% of the step is noise.
    return capacity(signals) * CLIMB_FACTOR >= need;
  }

  /**
   * What the link can carry, as far as the signals show: the burst rate, or the delivery rate
   * when higher; the delivery rate counts only as far as the newest link-limited sample agrees,
   * since it trails a drop.
   */
  private static long capacity(Signals signals) {
    long rate = signals.deliveryRateBitsPerSecond();
    if (signals.latestRateBitsPerSecond() > 0) {
      rate = Math.min(rate, signals.latestRateBitsPerSecond());
    }
    return Math.max(signals.burstRateBitsPerSecond(), rate);
  }

  private static boolean fits(Signals signals, Ladder ladder, int rendition, double fps) {
    return capacity(signals) * CLIMB_FACTOR >= ladder.bitsPerSecond(rendition) * fps / ladder.topFrameRate();
  }

  private static double nextFrameRate(Ladder ladder, double current, double topFps) {
    double next = topFps;
    for (int i = ladder.frameRateSteps() - 1; i >= 0; i--) {
      double step = ladder.frameRate(i);
      if (step > current && step <= topFps) {
        return step;
      }
    }
    return next;
  }

  private Decision stepFrameRate(Decision current, Ladder ladder, int direction, long now, long minGapNanos, String reason) {
    if (now - lastChangeAt < minGapNanos) {
      return current;
    }
    double fps = current.framesPerSecond();
    double lower = fps;
    for (int i = 0; i < ladder.frameRateSteps(); i++) {
      if (ladder.frameRate(i) < fps) {
        lower = ladder.frameRate(i);
        break;
      }
    }
    if (direction < 0 && lower < fps) {
      return change(current, current.rendition(), lower, now, reason);
    }
    return current;
  }

  private Decision change(Decision current, int rendition, double fps, long now, String reason) {
    if (rendition == current.rendition() && fps == current.framesPerSecond()) {
      return current;
    }
    lastChangeAt = now;
    return new Decision(rendition, fps, reason);
  }
}
