package dev.keepup.sim;

import static org.assertj.core.api.Assertions.assertThat;

import dev.keepup.Frame;
import dev.keepup.testing.VirtualTime;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

final class SimViewerTest {
  private final VirtualTime time = new VirtualTime();
  private final SimSource source = new SimSource(SimLadder.DEFAULT, SimSource.Options.DEFAULT, time);
  private final QoeMeter meter = QoeMeter.forLadder(time.read(), 10, SimLadder.DEFAULT);
  private final SimViewer viewer = new SimViewer(source, meter);

  /** Frames 0..count-1 of rendition 0, polled as produced. */
  private List<Frame> frames(int count) {
    List<Frame> frames = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      time.advanceNanos(i == 0 ? 0 : 33_333_334L);
      frames.add(source.poll(0));
    }
    return frames;
  }

  private void deliver(Frame frame) {
    viewer.onBinary(frame.payload().duplicate(), time.read());
  }

  @Test
  void skippedDisposable_breaksNothing_skippedDelta_breaksTheChainUntilTheNextKey() {
    List<Frame> frames = frames(36);
    for (int i = 0; i < frames.size(); i++) {
      if (i == 3 || i == 6) {
        continue; // 3 is disposable: harmless; 6 is a delta: 7..29 depend on it
      }
      deliver(frames.get(i));
    }
    // Undecodable: 7 to 29 (23 frames); 30 is a KEY and 31..35 decode again.
    assertThat(viewer.undecodable()).isEqualTo(23);
    assertThat(viewer.frames()).isEqualTo(34);
    assertThat(meter.finish().undecodableFrames()).isEqualTo(23);
  }

  @Test
  void everyFrameInOrder_decodes() {
    frames(65).forEach(this::deliver);
    assertThat(viewer.undecodable()).isZero();
  }
}
