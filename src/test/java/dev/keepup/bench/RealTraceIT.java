package dev.keepup.bench;

import static org.assertj.core.api.Assertions.assertThat;

import dev.keepup.net.BandwidthTrace;
import dev.keepup.sim.QoeMeter;
import dev.keepup.sim.SimRun;
import dev.keepup.sim.Strategies;
import dev.keepup.sim.Strategy;
import java.nio.file.Path;
import java.util.Locale;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A short, loosely bounded run of the real-socket bench ({@code bench/run-real.sh}) over 10 s of
 * {@code norway_ferry_5_part2} (in {@code src/test/resources/traces}), real and simulated.
 *
 * <p>await-each-send fills the link, so its delivered bitrate is the trace's whatever the
 * machine does: real and simulated must agree to within a third (they agree within 1% in the
 * benchmark); this fails when the relay stops following the trace or the real arrivals stop
 * reaching the simulator's meter. The default policy's real figures vary by 2x between runs
 * and with the machine's load (docs/benchmarks.md), so it is only checked to deliver frames
 * with bounded age, once more if this JVM was starved of CPU meanwhile.
 */
@Timeout(value = 120, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
final class RealTraceIT {
  private static final double SECONDS = 10;
  private static final double STALL_MS = 150;

  @Test
  void realRun_followsTheTraceAndFeedsTheSimulatorsMeter() throws Exception {
    Path file = Path.of(RealTraceIT.class.getResource("/traces/norway_ferry_5_part2.log").toURI());
    BandwidthTrace trace = RealTraceBenchmark.prefix(BandwidthTrace.parse(file), SECONDS);
    RealTraceBenchmark.Options options = RealTraceBenchmark.Options.defaults();
    Strategy await = Strategies.byName().get("await-each-send");
    Strategy keepup = Strategies.byName().get("keepup");
    RealTraceBenchmark.RealOutcome awaitReal;
    RealTraceBenchmark.RealOutcome keepupReal;
    try (RealTraceBenchmark.Harness harness = RealTraceBenchmark.Harness.start()) {
      awaitReal = harness.run("norway_ferry_5_part2", trace, await, options);
      keepupReal = harness.run("norway_ferry_5_part2", trace, keepup, options);
      if (keepupReal.result().metrics().ageP95Millis() >= 2000 && keepupReal.diagnostics().stallMaxMs() > STALL_MS) {
        keepupReal = harness.run("norway_ferry_5_part2", trace, keepup, options); // the machine, not the sender
      }
    }
    SimRun.Result awaitSim = SimRun.run("sim", "norway_ferry_5_part2", trace, await,
        options.simConfig(options.simQueueBytes(), 0));
    QoeMeter.Metrics a = awaitReal.result().metrics();
    QoeMeter.Metrics s = awaitSim.metrics();
    QoeMeter.Metrics k = keepupReal.result().metrics();
    String summary = String.format(Locale.ROOT,
        "await-each-send real %.3f Mbit/s (relay %.3f of %.3f offered), sim %.3f; keepup real %.3f Mbit/s, %.1f fps,"
            + " p95 %.0f ms; JVM stall max %.0f / %.0f ms",
        a.deliveredMbps(), awaitReal.diagnostics().relayMbps(), awaitReal.diagnostics().offeredMbps(),
        s.deliveredMbps(), k.shownMbps(), k.shownFps(), k.ageP95Millis(), awaitReal.diagnostics().stallMaxMs(),
        keepupReal.diagnostics().stallMaxMs());

    assertThat(a.deliveredMbps()).as("await-each-send real Mbit/s; %s", summary).isGreaterThan(0);
    assertThat(s.deliveredMbps() / a.deliveredMbps()).as("sim over real Mbit/s; %s", summary).isBetween(0.75, 1.33);
    assertThat(k.shownFps()).as("keepup real frames/s; %s", summary).isGreaterThan(3);
    assertThat(k.ageP95Millis()).as("keepup real p95 frame age (ms); %s", summary).isLessThan(2000);
  }
}
