package dev.keepup;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.keepup.net.BandwidthTrace;
import dev.keepup.sim.SimulatedLink;
import dev.keepup.testing.VirtualTime;
import jakarta.websocket.CloseReason;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The signals and the in-flight cap, end to end over a simulated link in virtual time. */
final class SignalsTest {
  private static final long MS = 1_000_000L;
  private static final long SECOND = 1_000 * MS;

  private final VirtualTime time = new VirtualTime();
  private final long start = time.read();
  /** Per delivered frame: arrival time, capture time. */
  private final List<long[]> arrivals = new ArrayList<>();
  private final List<Verdict> verdicts = new ArrayList<>();

  private SimulatedLink link(double mbitPerSecond) {
    SimulatedLink link = new SimulatedLink(time, BandwidthTrace.of(0, mbitPerSecond), 20 * MS, 700_000);
    link.client((data, at) -> arrivals.add(new long[] {at, data.getLong(0)}));
    return link;
  }

  /** 30 fps of 50 KB frames (12 Mbit/s), each carrying its capture time. */
  private PacedSender.Builder sender(SimulatedLink link) {
    return PacedSender.newBuilder(link.session())
        .source(rendition -> {
          ByteBuffer payload = ByteBuffer.allocate(50_000);
          payload.putLong(0, time.read());
          return Frame.of(payload, time.read());
        })
        .ticker(time)
        .scheduler(time)
        .pingExecutor(Runnable::run)
        .listener(new SenderListener() {
          @Override
          public void onVerdictChanged(Verdict previous, Verdict current, Signals signals) {
            verdicts.add(current);
          }
        });
  }

  private double[] agesMillisBetween(long fromNanos, long toNanos) {
    return arrivals.stream()
        .filter(a -> a[0] - start >= fromNanos && a[0] - start < toNanos)
        .mapToDouble(a -> (a[0] - a[1]) / 1e6)
        .sorted()
        .toArray();
  }

  private static double p95(double[] sorted) {
    return sorted[(int) Math.floor(0.95 * (sorted.length - 1))];
  }

  @Test
  void pingAcksWithCap_keepFrameAgeLowAndTheLinkBusy() {
    SimulatedLink link = link(2.0);
    PacedSender sender = sender(link).build();
    sender.start();
    time.advance(Duration.ofSeconds(3));
    assertThat(sender.stats().signals().deliveryRateBitsPerSecond()).isCloseTo(2_000_000, within(300_000L));
    time.advance(Duration.ofSeconds(17));

    double[] ages = agesMillisBetween(2 * SECOND, 20 * SECOND);
    assertThat(p95(ages)).isLessThan(300);
    // 2 Mbit/s carries five 50 KB frames a second.
    assertThat(ages.length / 18.0).isGreaterThanOrEqualTo(4.5);
    assertThat(link.bytesDelivered() * 8 / link.bitsOffered()).isGreaterThan(0.9);
    Signals signals = sender.stats().signals();
    assertThat(signals.acked()).isTrue();
    assertThat(signals.minRtt().toMillis()).isBetween(40L, 45L);
    assertThat(signals.verdict()).isEqualTo(Verdict.KEEPING_UP);
    assertThat(link.maxWaiting()).isEqualTo(1);
  }

  @Test
  void aFrameHeldByTheCap_givesWayToAFresherOne_evenAfterAShortHold() {
    // A camera's own 30 fps clock, 3 ms after the sender's ticks: each tick takes a frame that
    // is already 30 ms old. The cap holds it until the link has room; at release a fresher one
    // has usually been captured, and an independent frame supersedes the held one. Without
    // that, the hold (short or not) came on top of 30 ms.
    SimulatedLink link = link(2.0);
    long interval = SECOND / 30;
    List<Long> ageAtSend = new ArrayList<>();
    PacedSender sender = sender(link)
        .listener(new SenderListener() {
          @Override
          public void onFrameCompleted(Frame frame, long sendLatencyNanos) {
            // The simulated link completes a send the moment its bytes are queued.
            ageAtSend.add(time.read() - frame.captureTimeNanos());
          }
        })
        .source(rendition -> {
          long k = Math.floorDiv(time.read() - start - 3 * MS, interval);
          long capture = start + 3 * MS + k * interval;
          ByteBuffer payload = ByteBuffer.allocate(50_000);
          payload.putLong(0, capture);
          return Frame.of(payload, capture);
        })
        .build();
    sender.start();
    time.advance(Duration.ofSeconds(20));
    // The floor: 200 ms to cross 2 Mbit/s and 20 ms of propagation, plus up to an interval of
    // source phase and the cap's standing queue (SignalsTest's fresh-frame source: < 300 ms).
    double[] ages = agesMillisBetween(2 * SECOND, 20 * SECOND);
    assertThat(p95(ages)).isLessThan(300);
    assertThat(ages.length / 18.0).isGreaterThanOrEqualTo(4.5);
    // What the exchange buys: no frame leaves more than an interval (and a tick's slack) after
    // its capture; kept, the 30 ms-old frame went out up to two intervals old.
    double[] atSend = ageAtSend.stream().skip(10).mapToDouble(n -> n / 1e6).sorted().toArray();
    assertThat(atSend[atSend.length - 1]).isLessThan(40);
  }

  @Test
  void completionOnly_letsTheKernelBufferHideSeconds() {
    SimulatedLink link = link(2.0);
    PacedSender sender = sender(link).pingEvery(0).build();
    sender.start();
    time.advance(Duration.ofSeconds(20));
    // What the cap prevents: 700 KB of socket and bottleneck buffer is 2.8 s at 2 Mbit/s.
    assertThat(p95(agesMillisBetween(5 * SECOND, 20 * SECOND))).isGreaterThan(2_500);
    assertThat(sender.stats().signals().acked()).isFalse();
  }

  @Test
  void clientAcksWithCap_keepFrameAgeLow() {
    SimulatedLink link = link(2.0).clientAcks(true);
    PacedSender sender = sender(link).pingEvery(0).clientAcks(true).build();
    sender.start();
    time.advance(Duration.ofSeconds(20));
    assertThat(p95(agesMillisBetween(2 * SECOND, 20 * SECOND))).isLessThan(300);
    assertThat(sender.stats().acksRejected()).isZero();
    // 200 ms of transmission, 20 ms of propagation, and up to a frame interval of queue.
    assertThat(sender.stats().signals().frameAge().toMillis()).isBetween(220L, 350L);
  }

  @Test
  void rateDrop_turnsTheVerdictThenTheCapBringsAgeBack() {
    SimulatedLink link = link(8.0);
    PacedSender sender = sender(link).build();
    sender.start();
    time.advance(Duration.ofSeconds(5));
    assertThat(sender.stats().signals().verdict()).isEqualTo(Verdict.KEEPING_UP);
    link.setRate(1_000_000);
    time.advance(Duration.ofSeconds(2));
    assertThat(verdicts).contains(Verdict.FALLING_BEHIND);
    time.advance(Duration.ofSeconds(8));
    // A 50 KB frame takes 400 ms at 1 Mbit/s; the cap keeps the queue to about one more.
    assertThat(p95(agesMillisBetween(10 * SECOND, 15 * SECOND))).isLessThan(1_000);
    assertThat(sender.stats().signals().deliveryRateBitsPerSecond()).isCloseTo(1_000_000, within(150_000L));
  }

  @Test
  void clientThatStopsAnswering_isStalled() {
    SimulatedLink link = link(2.0);
    PacedSender sender = sender(link).build();
    sender.start();
    time.advance(Duration.ofSeconds(3));
    link.answerPings(false);
    time.advance(Duration.ofSeconds(3));
    assertThat(sender.stats().signals().verdict()).isEqualTo(Verdict.STALLED);
    assertThat(verdicts).endsWith(Verdict.STALLED);
    // The cap holds: nothing piles up behind a client that went silent.
    assertThat(sender.stats().signals().unackedBytes()).isLessThan(200_000);
  }

  @Test
  void clientThatNeverAnswersPings_fallsBackToCompletionOnly() {
    SimulatedLink link = link(8.0).answerPings(false);
    PacedSender sender = sender(link).build();
    sender.start();
    time.advance(Duration.ofSeconds(10));
    SenderStats stats = sender.stats();
    assertThat(stats.pingsSent()).isGreaterThanOrEqualTo(1);
    assertThat(stats.acksAccepted()).isZero();
    assertThat(stats.signals().acked()).isFalse();
    // Frames still flow: the sender did not wait forever for an ack that never comes.
    assertThat(stats.framesCompleted()).isGreaterThan(100);
  }

  @Test
  void forgedAndFloodedAcks_areCountedAndIgnored() {
    SimulatedLink link = link(2.0).clientAcks(true);
    PacedSender sender = sender(link).clientAcks(true).build();
    sender.start();
    time.advance(Duration.ofSeconds(2));
    long accepted = sender.stats().acksAccepted();
    assertThat(sender.acceptPong(ByteBuffer.wrap(new byte[16]))).isFalse();
    assertThat(sender.acceptPong(ByteBuffer.allocate(0))).isFalse();
    assertThat(sender.acceptClientAck("k1 999999 1.0 -1")).as("acks more than sent").isTrue();
    assertThat(sender.acceptClientAck("k1 garbage")).isTrue();
    assertThat(sender.acceptClientAck("hello")).as("not an ack: the host's").isFalse();
    for (int i = 0; i < 10_000; i++) {
      sender.acceptClientAck("k1 1 1.0 -1");
    }
    SenderStats stats = sender.stats();
    assertThat(stats.pongsIgnored()).isEqualTo(2);
    assertThat(stats.acksRejected()).isGreaterThanOrEqualTo(10_000);
    assertThat(stats.acksAccepted()).isEqualTo(accepted);
    assertThat(sender.isRunning()).isTrue();
    time.advance(Duration.ofSeconds(5));
    assertThat(sender.stats().acksAccepted()).isGreaterThan(accepted);
    assertThat(p95(agesMillisBetween(3 * SECOND, 7 * SECOND))).isLessThan(300);
  }

  @Test
  void badAck_withCloseOnBadAck_closesWith1008() {
    SimulatedLink link = link(2.0).clientAcks(true);
    List<StopReason> stops = new ArrayList<>();
    PacedSender sender = sender(link).clientAcks(true).closeOnBadAck(true)
        .listener(new SenderListener() {
          @Override
          public void onStopped(StopReason reason, Throwable cause) {
            stops.add(reason);
          }
        }).build();
    sender.start();
    time.advance(Duration.ofSeconds(1));
    sender.acceptClientAck("k1 999999 1.0 -1");
    assertThat(stops).containsExactly(StopReason.PROTOCOL_VIOLATION);
    assertThat(link.closeReason().getCloseCode()).isEqualTo(CloseReason.CloseCodes.VIOLATED_POLICY);
    assertThat(sender.stats().stopReason()).isEqualTo(StopReason.PROTOCOL_VIOLATION);
  }

  @Test
  void hostWithItsOwnPongHandler_getsAClearErrorOrForwardsPongs() {
    SimulatedLink link = link(2.0);
    link.session().addMessageHandler(jakarta.websocket.PongMessage.class,
        (jakarta.websocket.MessageHandler.Whole<jakarta.websocket.PongMessage>) pong -> {});
    PacedSender clash = sender(link).build();
    assertThatThrownBy(clash::start)
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("session sim already has a pong handler: build with registerMessageHandlers(false)"
            + " and pass pongs to acceptPong");
  }

  @Test
  void hostsOwnPongHandler_forwardingToAcceptPong_acksFrames() {
    SimulatedLink link = link(2.0);
    java.util.concurrent.atomic.AtomicReference<PacedSender> ref = new java.util.concurrent.atomic.AtomicReference<>();
    link.session().addMessageHandler(jakarta.websocket.PongMessage.class,
        (jakarta.websocket.MessageHandler.Whole<jakarta.websocket.PongMessage>)
            pong -> ref.get().acceptPong(pong.getApplicationData()));
    PacedSender sender = sender(link).registerMessageHandlers(false).build();
    ref.set(sender);
    sender.start();
    time.advance(Duration.ofSeconds(10));
    assertThat(sender.stats().acksAccepted()).isGreaterThan(40);
    assertThat(p95(agesMillisBetween(2 * SECOND, 10 * SECOND))).isLessThan(300);
  }

  @Test
  void pingEveryThird_acksInSteps_andStillKeepsAgeLow() {
    SimulatedLink link = link(2.0);
    PacedSender sender = sender(link).pingEvery(3).build();
    sender.start();
    time.advance(Duration.ofSeconds(10));
    SenderStats stats = sender.stats();
    // A ping after frames 3, 6, 9..., each pong acking its frame and the ones before it; and
    // one after the newest frame whenever the cap holds the next for acks that no ping asks
    // for (without it the sender waited out the stall timeout: 17 frames in 10 s). Still
    // fewer than one a frame on a link that carries the stream.
    assertThat(stats.framesSent()).isGreaterThan(45);
    assertThat(stats.pingsSent()).isBetween(stats.framesSent() / 3 - 2, stats.framesSent() + 10); // + RTT probes
    assertThat(stats.signals().acked()).isTrue();
    assertThat(p95(agesMillisBetween(2 * SECOND, 10 * SECOND))).isLessThan(400);
  }

  @Test
  void pingEveryThird_onALinkWithRoom_pingsAThirdOfTheFrames() {
    SimulatedLink link = link(40.0); // 12 Mbit/s of frames: the cap never holds one
    PacedSender sender = sender(link).pingEvery(3).build();
    sender.start();
    time.advance(Duration.ofSeconds(10));
    SenderStats stats = sender.stats();
    assertThat(stats.framesSent()).isGreaterThan(290);
    assertThat(stats.pingsSent()).isBetween(stats.framesSent() / 3 - 2, stats.framesSent() / 3 + 12); // + RTT probes
  }

  /** Unpaced 1 KiB frames over a fast link: thousands of frames a second, each one short. */
  private PacedSender.Builder smallFramesUnpaced(SimulatedLink link, int frames) {
    int[] left = {frames};
    return sender(link).unpaced().source(rendition -> {
      if (left[0] == 0) {
        return null;
      }
      left[0]--;
      ByteBuffer payload = ByteBuffer.allocate(1024);
      payload.putLong(0, time.read());
      return Frame.of(payload, time.read());
    });
  }

  @Test
  void pingsAfterFrames_areSpacedAMillisecondApart_andStillAckTheNewestFrame() {
    SimulatedLink link = link(400.0); // 50 MB/s: a 1 KiB frame takes 20 us
    PacedSender sender = smallFramesUnpaced(link, Integer.MAX_VALUE).build();
    sender.start();
    time.advance(Duration.ofSeconds(1));
    SenderStats stats = sender.stats();
    // A ping after every frame made each frame wait for it (0.15 of a raw send loop at 1 KiB
    // over loopback); spaced, frames flow between pings. The cap still asks for a ping
    // whenever it holds a frame for acks (most of the ~4,000 pings here, on this 40 ms round
    // trip), which costs nothing: nothing else could go. Before spacing: one a frame (~9,600).
    assertThat(stats.framesSent()).isGreaterThan(5_000);
    assertThat(stats.pingsSent()).isLessThan(stats.framesSent() / 2);
    assertThat(stats.acksAccepted()).isGreaterThan(1_000);
    assertThat(stats.signals().acked()).isTrue();
  }

  @Test
  void aSpacedPing_stillGoesWhenTheFramesStop() {
    SimulatedLink link = link(400.0);
    PacedSender sender = smallFramesUnpaced(link, 5).build();
    sender.start();
    time.advance(Duration.ofMillis(200));
    SenderStats stats = sender.stats();
    // Five frames back to back: the pings after frames 2 to 5 fell within the first one's
    // millisecond; the ping that waited still goes once the frames stop, and acks the last.
    assertThat(stats.framesCompleted()).isEqualTo(5);
    assertThat(stats.signals().unackedBytes()).isZero();
    assertThat(stats.signals().acked()).isTrue();
  }

  @Test
  void signals_beforeAnySend_areEmpty() {
    SimulatedLink link = link(2.0);
    PacedSender sender = sender(link).build();
    Signals signals = sender.stats().signals();
    assertThat(signals.verdict()).isEqualTo(Verdict.KEEPING_UP);
    assertThat(Arrays.asList(signals.deliveryRateBitsPerSecond(), signals.unackedBytes())).containsOnly(0L);
    assertThat(signals.acked()).isFalse();
  }
}
