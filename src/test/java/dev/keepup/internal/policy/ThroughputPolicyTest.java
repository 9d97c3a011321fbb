package dev.keepup.internal.policy;

import static org.assertj.core.api.Assertions.assertThat;

import dev.keepup.AdaptationPolicy;
import dev.keepup.Decision;
import dev.keepup.Ladder;
import dev.keepup.Signals;
import dev.keepup.Verdict;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The throughput policy on made-up signals: what counts as the link's rate. */
final class ThroughputPolicyTest {
  private static final long SECOND = 1_000_000_000L;
  private static final Ladder LADDER = Ladder.ofBitrates(300_000, 750_000, 1_200_000);

  private final ThroughputPolicy policy = new ThroughputPolicy();

  private Decision decide(Decision current, Verdict verdict, long rate, long burst) {
    Signals signals = new Signals(verdict, rate, rate, Duration.ofMillis(40), Duration.ZERO, 0, 0,
        Duration.ofMillis(50), 0, rate, burst, true, Duration.ZERO);
    return policy.decide(new AdaptationPolicy.Context(signals, current, LADDER, 30, 10 * SECOND, 0, false, 0));
  }

  @Test
  void appLimitedStream_climbsOnTheBurstRate_andStaysWhereItsOwnBitrateReadsBelowIt() {
    // At rendition 0 the delivery rate is the stream's own 0.3 Mbit/s; the burst rate shows
    // 2 Mbit/s of room: 0.7 x 2 = 1.4 fits rendition 2.
    assertThat(decide(new Decision(0, 30, "start"), Verdict.KEEPING_UP, 300_000, 2_000_000).rendition())
        .isEqualTo(2);
    // At rendition 2 its own 1.2 Mbit/s is under 1.2 / 0.9: not a reason to go down.
    Decision top = new Decision(2, 30, "x");
    assertThat(decide(top, Verdict.KEEPING_UP, 1_200_000, 2_000_000)).isSameAs(top);
  }

  @Test
  void fallingBehind_goesByTheDeliveryRateAlone() {
    // The burst rate is no longer sampled once the pipe never empties: it must not hold the
    // stream up. 0.9 x 0.9 Mbit/s fits rendition 1.
    Decision top = new Decision(2, 30, "x");
    assertThat(decide(top, Verdict.FALLING_BEHIND, 900_000, 2_000_000).rendition()).isEqualTo(1);
  }
}
