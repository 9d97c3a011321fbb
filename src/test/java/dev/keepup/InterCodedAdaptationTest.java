package dev.keepup;

import static org.assertj.core.api.Assertions.assertThat;

import dev.keepup.net.BandwidthTrace;
import dev.keepup.sim.SimulatedLink;
import dev.keepup.testing.VirtualTime;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

final class InterCodedAdaptationTest {
  private static final long MS = 1_000_000L;
  private static final long SECOND = 1_000 * MS;
  static final Ladder LADDER = AdaptationTest.LADDER;

  VirtualTime time;
  long start;
  List<String> decisions;

  private PacedSender sender(SimulatedLink link, FrameSource source, AdaptationPolicy policy, int startRendition) {
    return PacedSender.newBuilder(link.session()).source(source).ladder(LADDER).policy(policy)
        .startRendition(startRendition).ticker(time).scheduler(time).pingExecutor(Runnable::run)
        .listener(new SenderListener() {
          @Override
          public void onDecision(Decision previous, Decision current) {
            decisions.add(String.format("%.2f:r%d@%.0f(%s)", (time.read() - start) / 1e9, current.rendition(), current.framesPerSecond(), current.reason()));
          }
        }).build();
  }

  private void reset() {
    time = new VirtualTime();
    start = time.read();
    decisions = new ArrayList<>();
  }

  private FrameSource interCoded(int gop, long keyDelayNanos, Duration duration) {
    Frame[] newest = new Frame[LADDER.size()];
    long[] forceKeyAt = new long[LADDER.size()];
    java.util.Arrays.fill(forceKeyAt, Long.MAX_VALUE);
    long end = time.read() + duration.toNanos();
    int[] n = {0};
    Runnable[] tick = new Runnable[1];
    tick[0] = () -> {
      for (int r = 0; r < LADDER.size(); r++) {
        boolean key = n[0] % gop == 0 || time.read() >= forceKeyAt[r];
        if (key) forceKeyAt[r] = Long.MAX_VALUE;
        ByteBuffer payload = ByteBuffer.allocate((int) (LADDER.bitsPerSecond(r) / 8 / 30));
        newest[r] = Frame.of(payload, time.read(), key ? FrameKind.KEY : FrameKind.DELTA, r);
      }
      n[0]++;
      if (time.read() + SECOND / 30 < end) {
        time.schedule(tick[0], SECOND / 30);
      }
    };
    tick[0].run();
    return new FrameSource() {
      @Override public Frame poll(int rendition) { return newest[rendition]; }
      @Override public void requestKeyFrame(int rendition) {
        if (keyDelayNanos >= 0 && forceKeyAt[rendition] == Long.MAX_VALUE) forceKeyAt[rendition] = time.read() + keyDelayNanos;
      }
    };
  }

  /**
   * A host source of inter-coded video (a DELTA stream, a KEY every 2 s, the newest frame per
   * rendition) on a fast link: each climb waits for the target's keyframe, skipping its
   * non-key frames meanwhile. Those skips are the switch's, not the link's: read as
   * congestion, they dropped the stream back after every climb, down to 1 fps when the source
   * ignored keyframe requests.
   */
  @Test
  void interCodedHostSource_climbsToTheTopOnAFastLink_withoutCallingSwitchesCongestion() {
    for (long keyDelay : new long[] {-1, 100 * MS}) {
      reset();
      SimulatedLink link = new SimulatedLink(time, BandwidthTrace.of(0, 20.0), 20 * MS, 700_000);
      FrameSource source = interCoded(60, keyDelay, Duration.ofSeconds(60));
      PacedSender sender = sender(link, source, AdaptationPolicy.defaults(), 0);
      sender.start();
      time.advance(Duration.ofSeconds(40));
      SenderStats s = sender.stats();
      System.out.printf("adaptation: inter-coded host source, key delay %s, 20 Mbit/s: %s after 40 s, %d decisions%n",
          keyDelay < 0 ? "never" : keyDelay / MS + " ms", s.decision(), decisions.size());
      assertThat(s.decision().rendition()).as("decisions %s", decisions).isEqualTo(LADDER.size() - 1);
      assertThat(s.decision().framesPerSecond()).isEqualTo(30.0);
      assertThat(decisions).noneMatch(d -> d.contains("congestion"));
      assertThat(s.isBalanced()).isTrue();
    }
  }
}
