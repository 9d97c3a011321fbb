package dev.keepup.internal.policy;

import static org.assertj.core.api.Assertions.assertThat;

import dev.keepup.AdaptationPolicy;
import dev.keepup.Decision;
import dev.keepup.Ladder;
import dev.keepup.Signals;
import dev.keepup.Verdict;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The default policy's back-off, driven tick by tick with made-up signals. */
final class DefaultPolicyTest {
  private static final long MS = 1_000_000L;
  private static final long SECOND = 1_000 * MS;
  private static final Ladder LADDER = Ladder.ofBitrates(300_000, 750_000, 1_200_000);

  private final DefaultPolicy policy = new DefaultPolicy();
  private Decision current = new Decision(1, 30, "start");
  private long now = 100 * SECOND;

  /** One tick a 30th of a second for {@code nanos}, with the given burst rate and verdict. */
  private void run(long nanos, long burst, Verdict verdict) {
    run(nanos, burst, verdict, 1_000_000);
  }

  private void run(long nanos, long burst, Verdict verdict, long rate) {
    for (long end = now + nanos; now < end; now += SECOND / 30) {
      Signals signals = new Signals(verdict, rate, rate, Duration.ofMillis(40),
          Duration.ZERO, 0, 0, Duration.ofMillis(50), 0, 700_000, burst, true, Duration.ZERO);
      current = policy.decide(new AdaptationPolicy.Context(signals, current, LADDER, 30, now, 0, false, 0));
    }
  }

  /** Ticks until the rendition reaches {@code rendition} or {@code nanos} pass; returns how long it took, or -1. */
  private long climbTo(int rendition, long nanos, long burst) {
    long from = now;
    for (long end = now + nanos; now < end; ) {
      run(SECOND / 30, burst, Verdict.KEEPING_UP);
      if (current.rendition() >= rendition) {
        return now - from;
      }
    }
    return -1;
  }

  @Test
  void aClimbThatFails_isHeldOff_doublingEachTime_andAQuietMinuteBelowDoesNotClearIt() {
    long roomy = 2_000_000; // 1.5 x the 1.2 Mbit/s rendition 2 needs is 1.8: enough to lift a hold
    assertThat(climbTo(2, 5 * SECOND, roomy)).isPositive();
    run(200 * MS, roomy, Verdict.FALLING_BEHIND); // fails at once: down, held off 15 s
    assertThat(current.rendition()).isEqualTo(1);
    // Only the second half of the hold can be lifted by the burst rate. (Times count from the
    // end of the 200 ms of congestion; the hold started within it, when the policy acted.)
    long first = climbTo(2, 20 * SECOND, roomy);
    assertThat(first).isBetween(7_300 * MS, 15 * SECOND);
    run(200 * MS, roomy, Verdict.FALLING_BEHIND); // fails again: 30 s
    long second = climbTo(2, 40 * SECOND, roomy);
    assertThat(second).isBetween(14_800 * MS, 30 * SECOND);
    run(200 * MS, roomy, Verdict.FALLING_BEHIND); // and again: 60 s
    long third = climbTo(2, 70 * SECOND, roomy);
    assertThat(third).isBetween(29_800 * MS, 60 * SECOND);
    run(200 * MS, roomy, Verdict.FALLING_BEHIND); // and again: 120 s, the most
    // A burst rate that fits rendition 2 (0.8 x 1.6 >= 1.2) but does not lift a hold (< 1.8):
    // the climb waits the whole 120 s, over a minute of it quiet at rendition 1.
    long fourth = climbTo(2, 130 * SECOND, 1_600_000);
    assertThat(fourth).isBetween(119_800 * MS, 121 * SECOND);
    // That hold was over a minute quiet at rendition 1: rendition 2's back-off stands, so the
    // next failure holds it off 120 s again (15 s if the quiet minute below had cleared it).
    run(200 * MS, roomy, Verdict.FALLING_BEHIND);
    assertThat(climbTo(2, 59 * SECOND, roomy)).isEqualTo(-1);
  }

  @Test
  void congestion_costsQuality_neverTheFrameRate_stepByStepWhileTheRateDoesNotExplainIt() {
    current = new Decision(2, 30, "start");
    // 0.85 x 1 Mbit/s fits rendition 1 (0.75): there at once (after the 60 ms persistence).
    run(100 * MS, 0, Verdict.FALLING_BEHIND, 1_000_000);
    assertThat(current).extracting(Decision::rendition, Decision::framesPerSecond).containsExactly(1, 30.0);
    // Still falling behind at what the rate supports: one rendition down after half a second.
    run(400 * MS, 0, Verdict.FALLING_BEHIND, 1_000_000);
    assertThat(current.rendition()).isEqualTo(1);
    run(200 * MS, 0, Verdict.FALLING_BEHIND, 1_000_000);
    assertThat(current).extracting(Decision::rendition, Decision::framesPerSecond).containsExactly(0, 30.0);
    // Even a rate under the cheapest rendition leaves the frame rate alone: the in-flight cap
    // thins the frames to what the link carries.
    run(3 * SECOND, 0, Verdict.FALLING_BEHIND, 40_000);
    assertThat(current).extracting(Decision::rendition, Decision::framesPerSecond).containsExactly(0, 30.0);
  }
}
