package dev.keepup.sim;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.keepup.Frame;
import dev.keepup.FrameKind;
import dev.keepup.testing.VirtualTime;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

final class SimSourceTest {
  private static final double INTERVAL_MS = 1000.0 / 30;
  private final VirtualTime time = new VirtualTime();
  private final long start = time.read();

  private SimSource source(SimSource.Options options) {
    return new SimSource(SimLadder.DEFAULT, options, time);
  }

  /** Advances to half a millisecond after frame {@code index} was captured. */
  private void toFrame(int index) {
    long at = start + Math.round((index * INTERVAL_MS + 0.5) * 1e6);
    time.advanceNanos(Math.max(0, at - time.read()));
  }

  @Test
  void meanBitrate_matchesTheLadder_keyFramesFiveTimesADelta() {
    SimSource source = source(SimSource.Options.DEFAULT);
    for (int r = 0; r < SimLadder.DEFAULT.size(); r++) {
      long bytes = 0;
      long keys = 0;
      long deltas = 0;
      int keyCount = 0;
      int deltaCount = 0;
      int frames = 30 * 600;
      for (int i = 0; i < frames; i++) {
        SimSource.FrameInfo f = source.planned(r, i);
        bytes += f.size();
        if (f.kind() == FrameKind.KEY) {
          keys += f.size();
          keyCount++;
        } else {
          deltas += f.size();
          deltaCount++;
        }
      }
      double mbps = bytes * 8 / 1e6 / 600;
      assertThat(mbps).as("rendition %d", r).isCloseTo(SimLadder.DEFAULT.mbps(r), within(SimLadder.DEFAULT.mbps(r) * 0.01));
      assertThat((double) keys / keyCount / ((double) deltas / deltaCount)).isCloseTo(5.0, within(0.15));
    }
  }

  @Test
  void gop_isKeyThenDisposableAndDeltaAlternating_withReferences() {
    SimSource source = source(SimSource.Options.DEFAULT.withSeed(7));
    assertThat(source.planned(0, 0).kind()).isEqualTo(FrameKind.KEY);
    assertThat(source.planned(0, 0).reference()).isEqualTo(-1);
    assertThat(source.planned(0, 1).kind()).isEqualTo(FrameKind.DISPOSABLE);
    assertThat(source.planned(0, 1).reference()).isEqualTo(0);
    assertThat(source.planned(0, 2).kind()).isEqualTo(FrameKind.DELTA);
    assertThat(source.planned(0, 2).reference()).isEqualTo(0);
    assertThat(source.planned(0, 3).reference()).isEqualTo(2);
    assertThat(source.planned(0, 4).reference()).isEqualTo(2);
    assertThat(source.planned(0, 29).kind()).isEqualTo(FrameKind.DISPOSABLE);
    assertThat(source.planned(0, 30).kind()).isEqualTo(FrameKind.KEY);
    assertThat(source.planned(0, 60).kind()).isEqualTo(FrameKind.KEY);
  }

  @Test
  void sizes_dependOnlyOnSeedRenditionAndIndex() {
    SimSource a = source(SimSource.Options.DEFAULT);
    SimSource b = source(SimSource.Options.DEFAULT);
    SimSource other = source(SimSource.Options.DEFAULT.withSeed(2));
    b.planned(3, 100); // generating another rendition first changes nothing
    assertThat(a.planned(5, 42)).isEqualTo(b.planned(5, 42));
    assertThat(a.planned(5, 42).size()).isNotEqualTo(other.planned(5, 42).size());
    SimSource constant = source(new SimSource.Options(30, 5, 0, false, 1));
    // 4.3 Mbit/s: 537,500 bytes a second over 34 delta-equivalents per GOP.
    assertThat(constant.planned(5, 1).size()).isEqualTo(15809);
    assertThat(constant.planned(5, 0).size()).isEqualTo(79044);
  }

  @Test
  void poll_keepingUp_returnsEveryFrameInOrder_carryingItsId() {
    SimSource source = source(SimSource.Options.DEFAULT);
    List<Frame> frames = new ArrayList<>();
    for (int i = 0; i < 65; i++) {
      toFrame(i);
      frames.add(source.poll(2));
      assertThat(source.poll(2)).as("nothing new").isNull();
    }
    for (int i = 0; i < frames.size(); i++) {
      Frame f = frames.get(i);
      SimSource.FrameInfo info = source.info(f.payload().getLong(0));
      assertThat(info.index()).isEqualTo(i);
      assertThat(info.rendition()).isEqualTo(2);
      assertThat(f.captureTimeNanos()).isEqualTo(info.captureNanos());
      assertThat(f.kind()).isEqualTo(info.kind());
      assertThat(f.size()).isEqualTo(info.size());
    }
  }

  @Test
  void poll_behind_skipsDisposablesThenJumpsToTheNewestKey() {
    SimSource source = source(SimSource.Options.DEFAULT);
    toFrame(0);
    assertThat(index(source, source.poll(0))).isEqualTo(0);
    toFrame(6);
    // Frames 1..6 waiting: 1 is disposable and 2 follows it, so 2 (the delta) comes next.
    assertThat(index(source, source.poll(0))).isEqualTo(2);
    assertThat(index(source, source.poll(0))).isEqualTo(4);
    assertThat(index(source, source.poll(0))).isEqualTo(6);
    assertThat(source.poll(0)).isNull();
    toFrame(40);
    // KEY 30 was produced since: jump to it, nothing decodable lost.
    assertThat(index(source, source.poll(0))).isEqualTo(30);
    assertThat(index(source, source.poll(0))).isEqualTo(32);
  }

  @Test
  void poll_anotherRendition_joinsOnlyAtAKeyNoOlderThanWhatWasShown() {
    SimSource source = source(SimSource.Options.DEFAULT);
    toFrame(0);
    assertThat(index(source, source.poll(0))).isEqualTo(0);
    toFrame(5);
    assertThat(index(source, source.poll(0))).isEqualTo(2);
    assertThat(index(source, source.poll(0))).isEqualTo(4);
    assertThat(index(source, source.poll(0))).isEqualTo(5);
    // Rendition 4's newest key (0) is older than frame 5: no join, and the reader stays on 0.
    assertThat(source.poll(4)).isNull();
    source.requestKeyFrame(4);
    toFrame(7);
    assertThat(index(source, source.poll(0))).as("still reading rendition 0 in order").isEqualTo(6);
    Frame key = source.poll(4);
    assertThat(key.kind()).isEqualTo(FrameKind.KEY);
    assertThat(key.rendition()).isEqualTo(4);
    assertThat(index(source, key)).isEqualTo(6);
    assertThat(index(source, source.poll(4))).isEqualTo(7);
    // Back to 0: its newest key (0) is older than what was shown.
    assertThat(source.poll(0)).isNull();
  }

  @Test
  void referencesOnly_makesEveryNonKeyFrameADelta_ofTheSameSizes() {
    SimSource ippp = source(SimSource.Options.DEFAULT.withReferencesOnly(true));
    SimSource ibp = source(SimSource.Options.DEFAULT);
    for (int i = 0; i < 60; i++) {
      FrameKind expected = i % 30 == 0 ? FrameKind.KEY : FrameKind.DELTA;
      assertThat(ippp.planned(2, i).kind()).as("frame %d", i).isEqualTo(expected);
      assertThat(ippp.planned(2, i).size()).isEqualTo(ibp.planned(2, i).size());
    }
  }

  @Test
  void requestKeyFrame_makesTheNextFrameAKey_andRestartsTheGop() {
    SimSource source = source(SimSource.Options.DEFAULT);
    toFrame(10);
    source.poll(1);
    source.requestKeyFrame(1);
    toFrame(11);
    Frame key = source.poll(1);
    assertThat(key.kind()).isEqualTo(FrameKind.KEY);
    assertThat(index(source, key)).isEqualTo(11);
    assertThat(source.planned(1, 12).kind()).isEqualTo(FrameKind.DISPOSABLE);
    assertThat(source.planned(1, 41).kind()).isEqualTo(FrameKind.KEY);
    assertThat(source.planned(1, 30).kind()).as("the old GOP's key is gone").isEqualTo(FrameKind.DISPOSABLE);
    assertThat(source.planned(0, 30).kind()).as("other renditions keep theirs").isEqualTo(FrameKind.KEY);
    assertThat(source.keyFramesRequested()).isEqualTo(1);
  }

  @Test
  void allKey_everyFrameIsAKeyOfTheMeanSize_andPollReturnsTheNewest() {
    SimSource source = source(new SimSource.Options(30, 5, 0, true, 1));
    assertThat(source.planned(5, 0).size()).isEqualTo(17917); // 537,500 / 30
    assertThat(source.planned(5, 1).kind()).isEqualTo(FrameKind.KEY);
    toFrame(0);
    source.poll(5);
    toFrame(9);
    assertThat(index(source, source.poll(5))).isEqualTo(9);
  }

  @Test
  void poll_renditionOutOfRange_isClamped() {
    SimSource source = source(SimSource.Options.DEFAULT);
    assertThat(source.poll(99).rendition()).isEqualTo(5); // frame 0 is captured at the start
    assertThat(source.poll(99)).isNull();
    assertThat(source.poll(-1).rendition()).isZero();
  }

  private static int index(SimSource source, Frame frame) {
    assertThat(frame).isNotNull();
    return source.info(frame.payload().getLong(0)).index();
  }
}
