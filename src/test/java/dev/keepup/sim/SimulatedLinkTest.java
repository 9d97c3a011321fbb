package dev.keepup.sim;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.keepup.net.BandwidthTrace;
import dev.keepup.testing.VirtualTime;
import jakarta.websocket.SendHandler;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

final class SimulatedLinkTest {
  private static final long MS = 1_000_000L;
  private final VirtualTime time = new VirtualTime();

  /** Sends frames back to back, each as soon as the previous completes (await-each-send). */
  private static void awaitEachSend(SimulatedLink link, int size, int count, List<Long> completions, VirtualTime time) {
    SendHandler[] handler = new SendHandler[1];
    int[] sent = {0};
    handler[0] = result -> {
      completions.add(time.read());
      if (++sent[0] < count) {
        link.session().getAsyncRemote().sendBinary(ByteBuffer.allocate(size), handler[0]);
      }
    };
    link.session().getAsyncRemote().sendBinary(ByteBuffer.allocate(size), handler[0]);
  }

  @Test
  void backlog_drainsAtTheLinkRateAndCompletionsRunAheadByTheBuffer() {
    SimulatedLink link = new SimulatedLink(time, BandwidthTrace.of(0, 2.0), 20 * MS, 700_000);
    List<Long> arrivals = new ArrayList<>();
    long start = time.read();
    link.client((data, at) -> arrivals.add(at - start));
    List<Long> completions = new ArrayList<>();
    awaitEachSend(link, 50_000, 100, completions, time);

    // 700 KB of buffer: the first 14 sends complete at once, as the measured kernel buffers do.
    assertThat(completions.subList(0, 13)).allSatisfy(t -> assertThat(t).isEqualTo(start));
    time.advance(Duration.ofSeconds(30));
    assertThat(arrivals).hasSize(100);
    // 50,004 wire bytes at 250 KB/s is 200 ms each, plus 20 ms of propagation.
    assertThat(arrivals.get(0) / 1e6).isCloseTo(200.0 + 20, within(0.1));
    assertThat((arrivals.get(99) - arrivals.get(0)) / 1e6).isCloseTo(99 * 200.016, within(1.0));
    assertThat(link.bytesDelivered()).isEqualTo(5_000_000);
  }

  @Test
  void rateFollowsTheTrace() {
    SimulatedLink link = new SimulatedLink(time, BandwidthTrace.of(0, 8.0, 1, 1.0, 2, 1.0), 0, 10_000_000);
    List<Long> arrivals = new ArrayList<>();
    long start = time.read();
    link.client((data, at) -> arrivals.add(at - start));
    awaitEachSend(link, 100_000, 20, new ArrayList<>(), time);
    time.advance(Duration.ofSeconds(5));
    // 1 MB/s for the first second, then 125 KB/s: the 10th message's last 40 bytes cross the
    // change (0.32 ms), and each later one takes 800 ms.
    assertThat(arrivals.get(9) / 1e6).isCloseTo(1000.32, within(0.01));
    assertThat((arrivals.get(11) - arrivals.get(10)) / 1e6).isCloseTo(800.032, within(0.1));
    assertThat(link.bitsOffered()).isCloseTo(8e6 + 4e6, within(1.0));
  }

  @Test
  void pingTravelsBehindQueuedBytes() {
    SimulatedLink link = new SimulatedLink(time, BandwidthTrace.of(0, 2.0), 20 * MS, 700_000);
    List<Long> pongs = new ArrayList<>();
    long start = time.read();
    link.session().addMessageHandler(jakarta.websocket.PongMessage.class,
        (jakarta.websocket.MessageHandler.Whole<jakarta.websocket.PongMessage>) pong -> pongs.add(time.read() - start));
    link.session().getAsyncRemote().sendBinary(ByteBuffer.allocate(100_000), result -> {});
    try {
      link.session().getAsyncRemote().sendPing(ByteBuffer.wrap(new byte[16]));
    } catch (java.io.IOException impossible) {
      throw new AssertionError(impossible);
    }
    time.advance(Duration.ofSeconds(2));
    // 100,004 + 18 bytes at 250 KB/s, then 20 ms down and 20 ms back.
    assertThat(pongs).singleElement().satisfies(t -> assertThat(t / 1e6).isCloseTo(400.088 + 40, within(0.1)));
  }

  @Test
  void burst_passesSavedTokensAtTheBurstRateThenTheLinkRate() {
    // 2 Mbit/s (250 B/ms), a 16,000-byte bucket, bursts at 20 Mbit/s (2,500 B/ms).
    SimulatedLink link = new SimulatedLink(time, BandwidthTrace.of(0, 2.0), 20 * MS, 700_000)
        .burstBytes(16_000).burstBitsPerSecond(20e6);
    List<Long> arrivals = new ArrayList<>();
    long start = time.read();
    link.client((data, at) -> arrivals.add(at - start));
    SendHandler ignore = result -> {};
    // A small frame into the full bucket crosses at the burst rate: 5,004 B in 2.0016 ms.
    link.session().getAsyncRemote().sendBinary(ByteBuffer.allocate(5_000), ignore);
    time.advance(Duration.ofSeconds(1)); // idle: the bucket refills (it holds at most 16,000)
    // A large one: tokens run out after 16,000 / (2,500 - 250) = 7.11 ms (17,778 B gone), the
    // other 22,226 B at the link rate, 88.9 ms: 96.0 ms in all.
    long second = time.read() - start;
    link.session().getAsyncRemote().sendBinary(ByteBuffer.allocate(40_000), ignore);
    time.advance(Duration.ofSeconds(1));
    assertThat(arrivals).hasSize(2);
    assertThat(arrivals.get(0) / 1e6).isCloseTo(20 + 2.0016, within(0.01));
    assertThat((arrivals.get(1) - second) / 1e6).isCloseTo(20 + 16_000.0 / 2_250 + (40_004 - 16_000.0 * 2_500 / 2_250) / 250,
        within(0.05));
  }

  @Test
  void noBurst_isTheFluidLink() {
    SimulatedLink link = new SimulatedLink(time, BandwidthTrace.of(0, 2.0), 20 * MS, 700_000);
    List<Long> arrivals = new ArrayList<>();
    long start = time.read();
    link.client((data, at) -> arrivals.add(at - start));
    link.session().getAsyncRemote().sendBinary(ByteBuffer.allocate(5_000), result -> {});
    time.advance(Duration.ofSeconds(1));
    assertThat(arrivals.get(0) / 1e6).isCloseTo(20 + 5_004 / 250.0, within(0.01));
  }
}
