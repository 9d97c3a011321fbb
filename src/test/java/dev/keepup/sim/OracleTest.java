package dev.keepup.sim;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.keepup.net.BandwidthTrace;
import org.junit.jupiter.api.Test;

final class OracleTest {
  private static final long ONE_WAY = 20_000_000L;

  @Test
  void picksTheHighestRenditionThatFitsEachWindow_withNoQueueing() {
    BandwidthTrace trace = BandwidthTrace.of(0, 2.0, 30, 0.8, 60, 0.8);
    QoeMeter.Metrics m = Oracle.score(trace, SimLadder.DEFAULT, SimSource.Options.DEFAULT, ONE_WAY, 60);
    // 1.85 Mbit/s for 30 s, then 0.75: one switch, full frame rate, age = the propagation delay.
    assertThat(m.shownMbps()).isCloseTo((1.85 + 0.75) / 2, within(0.03));
    assertThat(m.switches()).isEqualTo(1);
    assertThat(m.shownFps()).isCloseTo(30, within(0.1));
    assertThat(m.stallSeconds()).isZero();
    assertThat(m.ageP95Millis()).isCloseTo(20, within(1e-6));
    assertThat(m.undecodableFrames()).isZero();
  }

  @Test
  void belowTheLadder_sendsTheCheapestRenditionThinnedToFit() {
    BandwidthTrace trace = BandwidthTrace.of(0, 0.15, 20, 0.15);
    QoeMeter.Metrics m = Oracle.score(trace, SimLadder.DEFAULT, SimSource.Options.DEFAULT, ONE_WAY, 20);
    assertThat(m.shownFps()).isCloseTo(15, within(0.1));
    assertThat(m.shownMbps()).isCloseTo(0.15, within(0.03));
    assertThat(m.stallSeconds()).isZero();
  }

  @Test
  void meanRate_integratesThePiecewiseConstantTrace() {
    BandwidthTrace trace = BandwidthTrace.of(0, 1.0, 1.5, 3.0, 4, 0.5);
    assertThat(Oracle.meanRate(trace, 0, 1)).isEqualTo(1.0);
    assertThat(Oracle.meanRate(trace, 1, 2)).isEqualTo(2.0);
    assertThat(Oracle.meanRate(trace, 4, 10)).as("the last rate holds").isEqualTo(0.5);
  }
}
