package dev.keepup.sim;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.keepup.PacedSender;
import dev.keepup.net.BandwidthTrace;
import dev.keepup.testing.FakeSession;
import dev.keepup.testing.VirtualTime;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;

/** The baselines and the keepup strategy, each over a simulated link or a fake session. */
final class StrategiesTest {
  private static final SimSource.Options CONSTANT_JPEG = new SimSource.Options(30, 5, 0, true, 1);

  private final VirtualTime time = new VirtualTime();
  private final long start = time.read();

  private record Run(SimulatedLink link, SimViewer viewer, QoeMeter meter, Strategy.Running running, List<Integer> renditions) {}

  private Run run(Strategy strategy, double mbps, SimSource.Options options, int seconds) {
    SimulatedLink link = new SimulatedLink(time, BandwidthTrace.of(0, mbps), 20_000_000L, 700_000);
    SimSource source = new SimSource(SimLadder.DEFAULT, options, time);
    QoeMeter meter = QoeMeter.forLadder(start, seconds, SimLadder.DEFAULT);
    SimViewer viewer = new SimViewer(source, meter);
    List<Integer> renditions = new ArrayList<>();
    link.client((data, at) -> {
      renditions.add(source.info(data.getLong(data.position())).rendition());
      viewer.onBinary(data, at);
    });
    Strategy.Running running = strategy.start(new Strategy.Context(time, link.session(), source, SimLadder.DEFAULT));
    time.advance(Duration.ofSeconds(seconds));
    return new Run(link, viewer, meter, running, renditions);
  }

  @Test
  void awaitEachSend_oneSendInTheContainer_butTheKernelBufferFills() {
    Run run = run(Strategies.awaitEachSend(), 2.0, SimSource.Options.DEFAULT, 20);
    assertThat(run.link().maxWaiting()).isEqualTo(1);
    QoeMeter.Metrics m = run.meter().finish();
    assertThat(m.ageP95Millis()).as("700 KB at 2 Mbit/s").isGreaterThan(2_000);
    assertThat(m.undecodableFrames()).isZero();
    assertThat(run.renditions()).containsOnly(5);
  }

  @Test
  void fixedRate_sendsEveryFrame_andTheContainerQueuesWithoutBound() {
    Run run = run(Strategies.fixedRate(), 2.0, SimSource.Options.DEFAULT, 20);
    assertThat(run.link().maxWaiting()).isGreaterThan(200);
    // Frames 0 to 600: the tick at 20 s is in.
    assertThat(run.running().notes()).startsWith("sends=601 ");
    assertThat(run.meter().finish().ageMaxMillis()).isGreaterThan(10_000);
  }

  @Test
  void fixedRate_onAFastLink_deliversEverythingFresh() {
    Run run = run(Strategies.fixedRate(), 10.0, SimSource.Options.DEFAULT, 10);
    QoeMeter.Metrics m = run.meter().finish();
    assertThat(m.shownFps()).isGreaterThan(29.9);
    assertThat(m.ageP95Millis()).isLessThan(120);
  }

  @Test
  void dropOldest_dropsTheOldestBufferedFrames_neverTheOneInFlight() {
    FakeSession fake = new FakeSession(time).completion(FakeSession.Completion.MANUAL);
    SimSource source = new SimSource(SimLadder.DEFAULT, CONSTANT_JPEG, time);
    // Top-rendition JPEG frames are 17,917 bytes: the limit holds three.
    Strategy.Running running = new DropOldest("drop", -1, 3 * 17_917)
        .start(new Strategy.Context(time, fake.session(), source, SimLadder.DEFAULT));
    time.advanceNanos(10 * 33_333_334L); // frames 0..10: 0 in flight, 1..10 buffered, 7 dropped
    assertThat(fake.sends()).hasSize(1);
    assertThat(running.notes()).isEqualTo("sends=1 dropped=7");
    fake.completeNext();
    fake.completeNext();
    fake.completeNext();
    fake.completeNext();
    assertThat(fake.sends()).extracting(s -> source.info(s.data().getLong(0)).index()).containsExactly(0, 8, 9, 10);
    assertThat(fake.overlaps()).isZero();
  }

  @Test
  void dropOldest_breaksDeltaChains_whichTheViewerCannotDecode() {
    Run run = run(Strategies.dropOldest(512 * 1024), 2.0, SimSource.Options.DEFAULT, 20);
    QoeMeter.Metrics m = run.meter().finish();
    assertThat(m.undecodableFrames()).isGreaterThan(m.deliveredFrames() / 2);
    assertThat(run.link().maxWaiting()).isEqualTo(1);
  }

  @Test
  void lagToQuality_staysAtTheTopOnAFastLink_goesDownOnceTheKernelBufferIsFull() {
    Run fast = run(Strategies.lagToQuality(), 10.0, SimSource.Options.DEFAULT, 5);
    assertThat(fast.renditions()).containsOnly(5);

    Run slow = run(Strategies.lagToQuality(), 1.0, SimSource.Options.DEFAULT, 30);
    QoeMeter.Metrics m = slow.meter().finish();
    assertThat(slow.renditions()).contains(0, 1, 2);
    assertThat(m.undecodableFrames()).as("switches wait for a key frame").isZero();
    assertThat(m.ageP50Millis()).as("the buffer it cannot see: 700 KB at 1 Mbit/s").isGreaterThan(3_000);
  }

  @Test
  void keepup_isThePacedSender_servedTheTopRendition_withPingsAsAcks() {
    Run run = run(Strategies.byName().get("keepup-no-ladder"), 2.0, SimSource.Options.DEFAULT.withAllKey(true), 20);
    QoeMeter.Metrics m = run.meter().finish();
    assertThat(run.renditions()).containsOnly(5);
    assertThat(run.link().maxWaiting()).isEqualTo(1);
    assertThat(m.ageP95Millis()).isLessThan(300);
    assertThat(m.shownFps()).isGreaterThan(12); // 2 Mbit/s of 17.9 KB frames is 14 a second
    assertThat(run.running().notes()).contains("acks=").doesNotContain("acks=0 ");
  }

  @Test
  void keepup_configurator_isApplied() {
    Strategy tenFps = Strategies.keepupSingleRendition("ten", 0, b -> b.targetFps(10));
    Run run = run(tenFps, 10.0, SimSource.Options.DEFAULT.withAllKey(true), 10);
    assertThat(run.meter().finish().shownFps()).isCloseTo(10, within(0.2));
    assertThat(run.renditions()).containsOnly(0);
  }

  @Test
  void keepup_withAConfigurator_startsFromTheRunsLadder() {
    // A user's tweak of the default setup must not quietly lose the ladder: without it the
    // sender asks for rendition 0 throughout (0.30 Mbit/s on every trace).
    Strategy mine = Strategies.keepup("mine", b -> b.maxPendingFrames(4));
    Run run = run(mine, 10.0, SimSource.Options.DEFAULT.withAllKey(true), 20);
    assertThat(run.renditions()).contains(0, 5);
  }

  /** A configurator a user might name on the command line. */
  public static final class TwentyFps implements UnaryOperator<PacedSender.Builder> {
    @Override
    public PacedSender.Builder apply(PacedSender.Builder builder) {
      return builder.targetFps(20);
    }
  }

  @Test
  void fromConfiguratorClass_loadsAUserClass() {
    Strategy strategy = Strategies.fromConfiguratorClass(TwentyFps.class.getName(), null);
    assertThat(strategy.name()).isEqualTo("custom-StrategiesTest$TwentyFps");
    Run run = run(strategy, 10.0, SimSource.Options.DEFAULT.withAllKey(true), 10);
    assertThat(run.meter().finish().shownFps()).isCloseTo(20, within(0.3));
    assertThat(run.renditions()).as("on the run's ladder, not rendition 0 alone").contains(0, 5);
    assertThatThrownBy(() -> Strategies.fromConfiguratorClass("no.such.Class", null))
        .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("cannot instantiate no.such.Class");
    assertThatThrownBy(() -> Strategies.fromConfiguratorClass(String.class.getName(), "x"))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("is neither");
  }

  @Test
  void builtIns_haveUniqueNamesWithoutCommas() {
    List<String> names = Strategies.builtIns().stream().map(Strategy::name).toList();
    assertThat(names).doesNotHaveDuplicates().allSatisfy(n -> assertThat(n).doesNotContain(","));
    assertThat(names).containsExactly("await-each-send", "fixed-rate", "drop-oldest-512k", "lag-to-quality",
        "keepup-no-ladder", "keepup-fixed", "keepup-throughput", "keepup-delay", "keepup");
  }

  @Test
  void stop_stopsSending() {
    Run run = run(Strategies.fixedRate(), 10.0, SimSource.Options.DEFAULT, 1);
    run.running().stop();
    long before = run.viewer().frames();
    time.advance(Duration.ofSeconds(2));
    assertThat(run.viewer().frames() - before).as("at most what was already on the way").isLessThanOrEqualTo(2);
  }
}
