package dev.keepup.sim;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;

/** The QoE terms on tiny hand-made deliveries: Rmin 0.3, Rmax 4.3, a 100 ms nominal interval. */
final class QoeMeterTest {
  private static final long MS = 1_000_000L;
  private static final long START = 5_000 * MS;
  private static final int MBIT = 125_000; // bytes

  private static QoeMeter meter(int windows) {
    return new QoeMeter(START, windows, 0.3, 4.3, 100 * MS);
  }

  /** A frame captured at {@code captureMs} that arrived at {@code arrivalMs}, both from the start. */
  private static void frame(QoeMeter meter, long captureMs, long arrivalMs, int bytes, int rendition, boolean decodable) {
    meter.onFrame(START + captureMs * MS, START + arrivalMs * MS, bytes, rendition, decodable);
  }

  @Test
  void bitrate_countsDecodableBytesOfEachWindow() {
    QoeMeter meter = meter(2);
    for (int i = 0; i < 10; i++) {
      frame(meter, i * 100, i * 100 + 10, MBIT / 10, 0, true);
    }
    frame(meter, 950, 990, MBIT, 0, false);
    for (int i = 10; i < 20; i++) {
      frame(meter, i * 100, i * 100 + 10, MBIT / 5, 0, true);
    }
    QoeMeter.Metrics m = meter.finish();
    // R_0 = 1 Mbit/s, R_1 = 2 Mbit/s; the undecodable frame counts as delivered, not as shown.
    assertThat(m.bitrateTerm()).isCloseTo(3.0, within(1e-9));
    assertThat(m.shownMbps()).isCloseTo(1.5, within(1e-9));
    assertThat(m.deliveredMbps()).isCloseTo(2.0, within(1e-9));
    assertThat(m.undecodableFrames()).isEqualTo(1);
    assertThat(m.shownFps()).isEqualTo(10.0);
    assertThat(m.switchTerm()).as("|R_1 - R_0|, none for the first window").isCloseTo(1.0, within(1e-9));
    assertThat(m.stallSeconds()).isZero();
  }

  @Test
  void stall_isWhatAGapExceedsTheIntervalPlus200ms_splitOverWindows() {
    QoeMeter meter = meter(3);
    frame(meter, 0, 100, 1000, 0, true); // 100 ms after the start: no stall (threshold 300 ms)
    frame(meter, 0, 600, 1000, 0, true); // gap 500 ms: 200 ms of stall, [400, 600)
    frame(meter, 0, 900, 1000, 0, false); // undecodable: the stall goes on
    frame(meter, 0, 2500, 1000, 0, true); // gap 1900 ms: stall [900, 2500): 100 in w0, 1000 in w1, 500 in w2
    QoeMeter.Metrics m = meter.finish(); // open gap 2500 -> 3000: stall [2800, 3000)
    assertThat(m.stallSeconds()).isCloseTo(0.2 + 1.6 + 0.2, within(1e-9));
    assertThat(m.stallTerm()).isCloseTo(4.3 * 2.0, within(1e-9));
  }

  @Test
  void stall_countsASlowStartAndAnEmptyRun() {
    QoeMeter slowStart = meter(2);
    frame(slowStart, 0, 1300, 1000, 0, true);
    assertThat(slowStart.finish().stallSeconds()).as("start to 1.3 s, then 1.3 to 2 s").isCloseTo(1.0 + 0.4, within(1e-9));
    assertThat(meter(2).finish().stallSeconds()).isCloseTo(1.7, within(1e-9));
  }

  @Test
  void latency_isMeanAgeInTheWindow_withTheKneeAt1100ms() {
    assertThat(QoeMeter.latencyPenalty(1.0, 0.3, 4.3)).isCloseTo(0.015, within(1e-12));
    assertThat(QoeMeter.latencyPenalty(1.1, 0.3, 4.3)).isCloseTo(0.0165, within(1e-12));
    assertThat(QoeMeter.latencyPenalty(1.2, 0.3, 4.3)).isCloseTo(0.516, within(1e-12));

    QoeMeter meter = meter(2);
    for (int i = 0; i < 10; i++) {
      long arrival = i * 100 + 10;
      frame(meter, arrival - (i % 2 == 0 ? 100 : 300), arrival, 1000, 0, true); // mean age 0.2 s
    }
    for (int i = 10; i < 20; i++) {
      frame(meter, i * 100 - 2000, i * 100 + 10, 1000, 0, true); // age 2.01 s
    }
    QoeMeter.Metrics m = meter.finish();
    assertThat(m.latencyTerm()).isCloseTo(0.05 * 0.3 * 0.2 + 0.1 * 4.3 * 2.01, within(1e-9));
  }

  @Test
  void windowWithoutFrames_ageOfTheLastShownFrameKeepsGrowing() {
    QoeMeter meter = meter(3);
    frame(meter, 450, 500, 1000, 0, true); // w0: age 0.05 s
    frame(meter, 2450, 2500, 1000, 0, true); // w2: age 0.05 s
    QoeMeter.Metrics m = meter.finish();
    // w1 shows the frame captured at 0.45 s all along: mean age 1.5 - 0.45 = 1.05 s.
    assertThat(m.latencyTerm()).isCloseTo(0.015 * (0.05 + 1.05 + 0.05), within(1e-9));
  }

  @Test
  void nothingShownYet_ageCountsFromTheStart() {
    QoeMeter.Metrics m = meter(2).finish();
    // Ages 0.5 s and 1.5 s (counted from the start); no bitrate; a stall from 0.3 s to the end.
    assertThat(m.latencyTerm()).isCloseTo(0.015 * 0.5 + 0.43 * 1.5, within(1e-9));
    assertThat(m.qoe()).isCloseTo(-4.3 * 1.7 - (0.015 * 0.5 + 0.43 * 1.5), within(1e-9));
    assertThat(m.ageP95Millis()).isInfinite();
  }

  @Test
  void qoe_sumsEveryTermPerWindow_pensieveDropsTheLatencyTerm() {
    QoeMeter meter = meter(3);
    frame(meter, 0, 100, MBIT, 0, true);
    frame(meter, 500, 600, MBIT, 1, true);
    frame(meter, 800, 900, MBIT, 1, false);
    frame(meter, 900, 2500, 2 * MBIT, 1, true);
    QoeMeter.Metrics m = meter.finish();
    // R = 2, 0, 2; S = 0.3, 1.0, 0.7; switch = 0, 2, 2; A = 0.1, 1.5 - 0.5 = 1.0, 1.6.
    double w0 = 2 - 4.3 * 0.3 - 0 - 0.05 * 0.3 * 0.1;
    double w1 = 0 - 4.3 * 1.0 - 2 - 0.05 * 0.3 * 1.0;
    double w2 = 2 - 4.3 * 0.7 - 2 - 0.1 * 4.3 * 1.6;
    assertThat(m.qoeByWindow()).containsExactly(new double[] {w0, w1, w2}, within(1e-9));
    assertThat(m.qoe()).isCloseTo(w0 + w1 + w2, within(1e-9));
    assertThat(m.pensieveQoe()).isCloseTo(4 - 4.3 * 2.0 - 4, within(1e-9));
    assertThat(m.switches()).as("rendition 0 to 1, once").isEqualTo(1);
    assertThat(m.switchesPerMinute()).isCloseTo(20.0, within(1e-9));
    assertThat(m.ageP50Millis()).isCloseTo(100, within(1e-6));
    assertThat(m.ageP95Millis()).isCloseTo(1600, within(1e-6));
    assertThat(m.ageMaxMillis()).isCloseTo(1600, within(1e-6));
  }

  @Test
  void framesOutsideTheRun_areIgnored_andFinishIsFinal() {
    QoeMeter meter = meter(1);
    frame(meter, 0, 1000, MBIT, 0, true);
    QoeMeter.Metrics m = meter.finish();
    assertThat(m.deliveredFrames()).isZero();
    assertThatThrownBy(() -> frame(meter, 0, 10, 1, 0, true))
        .isInstanceOf(IllegalStateException.class).hasMessage("meter already finished");
    assertThatThrownBy(() -> new QoeMeter(0, 0, 0.3, 4.3, 1e8))
        .isInstanceOf(IllegalArgumentException.class).hasMessage("windows must be >= 1: 0");
  }
}
