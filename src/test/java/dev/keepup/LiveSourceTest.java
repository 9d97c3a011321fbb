package dev.keepup;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

final class LiveSourceTest {
  private final List<Integer> keyRequests = new ArrayList<>();
  private final LiveSource live = LiveSource.create(2, 8, keyRequests::add);
  private long id;

  private Frame publish(FrameKind kind, int rendition) {
    ByteBuffer payload = ByteBuffer.allocate(8);
    payload.putLong(0, id++);
    Frame frame = Frame.of(payload, id, kind, rendition);
    live.publish(frame);
    return frame;
  }

  private static long idOf(Frame frame) {
    return frame.payload().getLong(0);
  }

  @Test
  void reader_joinsAtAKeyframeAndAsksForOneUntilThen() {
    FrameSource reader = live.newReader();
    publish(FrameKind.DELTA, 0);
    assertThat(reader.poll(0)).isNull();
    assertThat(reader.poll(0)).isNull();
    assertThat(keyRequests).as("at most one request per rendition per half second").containsExactly(0);
    publish(FrameKind.KEY, 0);
    publish(FrameKind.DELTA, 0);
    Frame first = reader.poll(0);
    assertThat(first.kind()).isEqualTo(FrameKind.KEY);
    assertThat(idOf(reader.poll(0))).isEqualTo(2);
    assertThat(reader.poll(0)).isNull();
  }

  @Test
  void allKeyStream_givesTheNewestFrame() {
    FrameSource reader = live.newReader();
    for (int i = 0; i < 5; i++) {
      publish(FrameKind.KEY, 0);
    }
    assertThat(idOf(reader.poll(0))).isEqualTo(4);
    publish(FrameKind.KEY, 0);
    publish(FrameKind.KEY, 0);
    assertThat(idOf(reader.poll(0))).as("latest wins").isEqualTo(6);
  }

  @Test
  void deltaStream_inOrderShedsDisposableWhenBehindAndRejoinsWhenLapped() {
    FrameSource reader = live.newReader();
    publish(FrameKind.KEY, 0);
    assertThat(idOf(reader.poll(0))).isEqualTo(0);
    publish(FrameKind.DISPOSABLE, 0); // 1
    publish(FrameKind.DELTA, 0); // 2
    publish(FrameKind.DISPOSABLE, 0); // 3
    publish(FrameKind.DELTA, 0); // 4
    assertThat(idOf(reader.poll(0))).as("behind: the disposable is shed").isEqualTo(2);
    assertThat(idOf(reader.poll(0))).isEqualTo(4);
    for (int i = 0; i < 10; i++) {
      publish(FrameKind.DELTA, 0); // 5..14: more than the ring of 8
    }
    assertThat(reader.poll(0)).as("lapped: nothing to rejoin at").isNull();
    publish(FrameKind.DELTA, 0);
    assertThat(reader.poll(0)).as("a DELTA after missing references is never returned").isNull();
    publish(FrameKind.KEY, 0);
    assertThat(reader.poll(0).kind()).isEqualTo(FrameKind.KEY);
  }

  @Test
  void switch_waitsForAFreshKeyframeOfTheTarget() {
    FrameSource reader = live.newReader();
    publish(FrameKind.KEY, 0);
    publish(FrameKind.KEY, 1); // 1
    publish(FrameKind.DELTA, 1);
    publish(FrameKind.DELTA, 1);
    assertThat(idOf(reader.poll(0))).isEqualTo(0);
    assertThat(reader.poll(1)).as("the keyframe of 1 is stale").isNull();
    assertThat(keyRequests).containsExactly(1);
    publish(FrameKind.KEY, 1);
    assertThat(reader.poll(1).kind()).isEqualTo(FrameKind.KEY);
  }

  @Test
  void frames_areReadOnlyViewsOfOnePayload() {
    Frame published = publish(FrameKind.KEY, 0);
    Frame a = live.newReader().poll(0);
    Frame b = live.newReader().poll(0);
    assertThat(a.payload().isReadOnly()).isTrue();
    assertThat(a.payload()).isNotSameAs(b.payload());
    assertThat(a.payload()).isEqualTo(published.payload());
  }

  @Test
  void publish_rejectsBadInput() {
    assertThatThrownBy(() -> live.publish(null)).isInstanceOf(NullPointerException.class).hasMessage("frame");
    assertThatThrownBy(() -> publish(FrameKind.KEY, 2)).hasMessage("frame rendition must be < renditions (2): 2");
    assertThatThrownBy(() -> LiveSource.create(0)).hasMessage("renditions must be in [1, 64]: 0");
    assertThatThrownBy(() -> LiveSource.create(1, 1, r -> {})).hasMessage("framesPerRendition must be in [2, 10000]: 1");
    assertThat(live.newReader().poll(7)).as("no such rendition").isNull();
  }

  @Test
  void oneProducerManyReaders_concurrently() throws InterruptedException {
    LiveSource shared = LiveSource.create(1);
    int readers = 8;
    CountDownLatch done = new CountDownLatch(readers);
    AtomicReference<Throwable> failure = new AtomicReference<>();
    List<Thread> threads = new ArrayList<>();
    for (int i = 0; i < readers; i++) {
      FrameSource reader = shared.newReader();
      Thread thread = new Thread(() -> {
        try {
          long last = -1;
          for (int n = 0; n < 20_000; n++) {
            Frame frame = reader.poll(0);
            if (frame != null) {
              long seen = frame.payload().getLong(0);
              if (seen < last) {
                throw new AssertionError("went backwards: " + seen + " after " + last);
              }
              last = seen;
            }
          }
        } catch (Throwable t) {
          failure.set(t);
        } finally {
          done.countDown();
        }
      });
      threads.add(thread);
      thread.start();
    }
    for (long n = 0; done.getCount() > 0 && n < 1_000_000; n++) {
      ByteBuffer payload = ByteBuffer.allocate(8);
      payload.putLong(0, n);
      shared.publish(Frame.of(payload, n));
    }
    assertThat(done.await(10, TimeUnit.SECONDS)).isTrue();
    assertThat(failure.get()).isNull();
  }
}
