package dev.keepup;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.keepup.testing.FakeSession;
import dev.keepup.testing.FakeSession.Completion;
import dev.keepup.testing.VirtualTime;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.RejectedExecutionException;
import org.junit.jupiter.api.Test;

final class PacedSenderTest {
  private static final long MS = 1_000_000L;

  private final VirtualTime time = new VirtualTime();
  private final FakeSession fake = new FakeSession(time);
  private final RecordingListener listener = new RecordingListener();

  private PacedSender.Builder builder(FrameSource source) {
    return PacedSender.newBuilder(fake.session())
        .source(source)
        .ticker(time)
        .scheduler(time)
        .pingEvery(0) // acks have tests of their own; these are about pacing and accounting
        .listener(listener);
  }

  /** A source that makes a fresh KEY frame of {@code size} bytes, captured now, on every poll. */
  private FrameSource keyFrames(int size) {
    return rendition -> Frame.of(ByteBuffer.allocate(size), time.read());
  }

  @Test
  void pacing_30fpsWithInstantTransport_sends300FramesIn10Seconds() {
    PacedSender sender = builder(keyFrames(1000)).targetFps(30).build();
    sender.start();
    time.advance(Duration.ofSeconds(10).minusNanos(1));

    SenderStats stats = sender.stats();
    assertThat(stats.framesCompleted()).isEqualTo(300);
    assertThat(stats.achievedFps()).isCloseTo(30.0, org.assertj.core.data.Offset.offset(0.01));
    assertThat(stats.isBalanced()).isTrue();
    List<FakeSession.Send> sends = fake.sends();
    for (int i = 1; i < sends.size(); i++) {
      long gap = sends.get(i).atNanos() - sends.get(i - 1).atNanos();
      assertThat(gap).isBetween(33_333_333L - 1, 33_333_334L);
    }
  }

  @Test
  void pacing_afterStall_doesNotBurstToCatchUp() {
    fake.completion(Completion.MANUAL);
    PacedSender sender = builder(keyFrames(1000)).targetFps(10).build();
    sender.start();
    assertThat(fake.sends()).hasSize(1);

    // The client stalls for 2 s: ticks keep replacing the one waiting frame.
    time.advance(Duration.ofSeconds(2));
    assertThat(fake.sends()).hasSize(1);
    long stallEnd = time.read();
    fake.completeNext();
    assertThat(fake.sends()).hasSize(2);
    assertThat(fake.sends().get(1).atNanos()).isEqualTo(stallEnd);

    fake.completion(Completion.INLINE);
    fake.completeNext();
    time.advance(Duration.ofSeconds(1));
    List<FakeSession.Send> sends = fake.sends();
    for (int i = 2; i < sends.size(); i++) {
      assertThat(sends.get(i).atNanos() - sends.get(i - 1).atNanos()).isGreaterThanOrEqualTo(100 * MS - 1);
    }
    assertThat(sends.size()).isBetween(11, 12);
    assertThat(sender.stats().skipped(SkipReason.SUPERSEDED)).isEqualTo(19);
    assertThat(sender.stats().isBalanced()).isTrue();
  }

  @Test
  void unpaced_takesAFrameWheneverThePreviousCompleted() {
    fake.completion(Completion.MANUAL);
    int[] made = {0};
    FrameSource source = rendition -> made[0] < 5 ? Frame.of(ByteBuffer.allocate(10), time.read() + made[0]++) : null;
    PacedSender sender = builder(source).unpaced().build();
    sender.start();
    assertThat(fake.sends()).hasSize(1);
    time.advance(Duration.ofMillis(100)); // nothing is taken while the send is out
    assertThat(sender.stats().framesTaken()).isEqualTo(1);
    for (int i = 0; i < 4; i++) {
      fake.completeNext(); // each completion takes and sends the next frame at once
    }
    assertThat(fake.sends()).hasSize(5);
    fake.completeNext();
    time.advance(Duration.ofMillis(10)); // the source is dry: asked again every millisecond
    made[0] = 0;
    time.advance(Duration.ofMillis(1));
    assertThat(fake.sends()).hasSize(6);
    assertThat(sender.stats().skipped(SkipReason.SUPERSEDED)).isZero();
    assertThat(sender.stats().isBalanced()).isTrue();
  }

  @Test
  void pingExecutorThatRejects_skipsPingsWithoutSpinning() {
    PacedSender sender = PacedSender.newBuilder(fake.session()).source(keyFrames(100)).ticker(time)
        .scheduler(time).listener(listener).targetFps(10)
        .pingExecutor(task -> {
          throw new java.util.concurrent.RejectedExecutionException("saturated");
        })
        .build();
    sender.start(); // returned: no busy loop on a rejected probe or ping
    time.advance(Duration.ofSeconds(5).minusNanos(1));
    SenderStats stats = sender.stats();
    assertThat(stats.pingsSent()).isZero();
    // No pong can come: after 3 s the sender falls back to completion only and keeps going.
    assertThat(stats.framesCompleted()).isGreaterThan(15);
    assertThat(sender.isRunning()).isTrue();
    assertThat(stats.isBalanced()).isTrue();
  }

  @Test
  void listenerThatThrowsAnError_doesNotStopTheSender() {
    SenderListener angry = new SenderListener() {
      @Override
      public void onFrameCompleted(Frame frame, long sendLatencyNanos) {
        throw new AssertionError("listener bug");
      }
    };
    PacedSender sender = PacedSender.newBuilder(fake.session()).source(keyFrames(10))
        .ticker(time).scheduler(time).pingEvery(0).targetFps(10).listener(angry).build();
    sender.start();
    time.advance(Duration.ofSeconds(1).minusNanos(1));
    assertThat(sender.isRunning()).isTrue();
    assertThat(sender.stats().framesCompleted()).isEqualTo(10);
  }

  @Test
  void unpaced_withInlineCompletions_handsTheLoopToTheScheduler() {
    // Completions inline, as Tyrus gives them while the socket has room; each send takes 10 us
    // of (virtual) time, so a pass's time budget runs out.
    java.util.concurrent.atomic.AtomicLong elapsedInSends = new java.util.concurrent.atomic.AtomicLong();
    fake.onSend(data -> elapsedInSends.addAndGet(10_000));
    List<Integer> sendsWhenScheduled = new ArrayList<>();
    java.util.concurrent.atomic.AtomicInteger left = new java.util.concurrent.atomic.AtomicInteger(2500);
    PacedSender sender = builder(rendition -> left.getAndDecrement() > 0
            ? Frame.of(ByteBuffer.allocate(10), time.read()) : null)
        .ticker(() -> time.read() + elapsedInSends.get())
        .scheduler((task, delayNanos) -> {
          sendsWhenScheduled.add(fake.sends().size());
          return time.schedule(task, delayNanos);
        })
        .unpaced()
        .build();
    sender.start();
    // On the caller's thread: 2 ms, then the loop is the scheduler's.
    assertThat(fake.sends()).as("start() returns after one short pass").hasSize(200);
    assertThat(sendsWhenScheduled).containsExactly(200);
    time.runDue();
    // On the scheduler's thread: 20 ms a pass; then the source runs dry and is asked again
    // a millisecond later.
    assertThat(sendsWhenScheduled).containsExactly(200, 2200, 2500);
    assertThat(fake.sends()).hasSize(2500);
    sender.close();
    assertThat(sender.stats().isBalanced()).isTrue();
  }

  @Test
  void maxBytesPerSecond_capsSendRate() {
    PacedSender sender = builder(keyFrames(10_000)).targetFps(60).maxBytesPerSecond(100_000).build();
    sender.start();
    time.advance(Duration.ofSeconds(10));

    SenderStats stats = sender.stats();
    // 100 KB/s of 10 KB frames is 10 frames a second; the first goes at once.
    assertThat(stats.bytesCompleted()).isBetween(990_000L, 1_010_000L);
    List<FakeSession.Send> sends = fake.sends();
    for (int i = 1; i < sends.size(); i++) {
      assertThat(sends.get(i).atNanos() - sends.get(i - 1).atNanos()).isGreaterThanOrEqualTo(100 * MS);
    }
    assertThat(stats.skipped(SkipReason.SUPERSEDED)).isGreaterThan(0);
    assertThat(stats.isBalanced()).isTrue();
  }

  @Test
  void latestWins_freshKeyFrameReplacesStaleUnsentOne() {
    fake.completion(Completion.MANUAL);
    List<Frame> made = new ArrayList<>();
    FrameSource source = rendition -> {
      Frame frame = Frame.of(ByteBuffer.allocate(100), time.read());
      made.add(frame);
      return frame;
    };
    PacedSender sender = builder(source).targetFps(10).build();
    sender.start();
    time.advance(Duration.ofMillis(450)); // ticks at 100..400 ms while the first send is out

    SenderStats stats = sender.stats();
    assertThat(stats.framesTaken()).isEqualTo(5);
    assertThat(stats.framesPending()).isEqualTo(1);
    assertThat(stats.skipped(SkipReason.SUPERSEDED)).isEqualTo(3);
    assertThat(listener.skipped).extracting(s -> s.frame).containsExactly(made.get(1), made.get(2), made.get(3));

    fake.completeNext();
    assertThat(fake.sends()).hasSize(2);
    assertThat(fake.sends().get(1).data()).isNotSameAs(made.get(4).payload()); // a duplicate, not the original
    assertThat(listener.completed).containsExactly(made.get(0));
    assertThat(sender.stats().isBalanced()).isTrue();
  }

  @Test
  void send_neverOverlapsInTheContainer() {
    fake.completion(Completion.MANUAL);
    PacedSender sender = builder(keyFrames(100)).targetFps(100).build();
    sender.start();
    for (int i = 0; i < 200; i++) {
      time.advance(Duration.ofMillis(7));
      if (i % 3 == 0) {
        fake.completeNext();
      }
    }
    assertThat(fake.overlaps()).isZero();
    assertThat(sender.stats().isBalanced()).isTrue();
  }

  @Test
  void deltaChain_waitsForKeyAndSkipsBrokenReferences() {
    fake.completion(Completion.MANUAL);
    List<Integer> keyRequests = new ArrayList<>();
    FrameKind[] pattern = {FrameKind.DELTA, FrameKind.KEY, FrameKind.DELTA, FrameKind.DISPOSABLE,
        FrameKind.DELTA, FrameKind.DELTA, FrameKind.DELTA, FrameKind.DELTA, FrameKind.KEY};
    int[] index = {0};
    FrameSource source = new FrameSource() {
      @Override
      public Frame poll(int rendition) {
        if (index[0] >= pattern.length) {
          return null;
        }
        return Frame.of(ByteBuffer.allocate(10), time.read(), pattern[index[0]++], 0);
      }

      @Override
      public void requestKeyFrame(int rendition) {
        keyRequests.add(rendition);
      }
    };
    PacedSender sender = builder(source).targetFps(10).maxPendingFrames(3).build();
    sender.start();
    // DELTA before any KEY: the client has no reference.
    assertThat(listener.skippedReasons()).containsExactly(SkipReason.BROKEN_REFERENCE);
    assertThat(keyRequests).containsExactly(0);

    time.advance(Duration.ofMillis(100)); // KEY goes out and stays in flight
    time.advance(Duration.ofMillis(300)); // DELTA, DISPOSABLE, DELTA queue up
    time.advance(Duration.ofMillis(100)); // a DELTA into a full queue: the DISPOSABLE is shed
    assertThat(sender.stats().framesPending()).isEqualTo(3);
    assertThat(listener.skippedReasons()).endsWith(SkipReason.SUPERSEDED);
    time.advance(Duration.ofMillis(100)); // full of references: the newcomer breaks the chain
    assertThat(listener.skippedReasons()).endsWith(SkipReason.BROKEN_REFERENCE);
    time.advance(Duration.ofMillis(100)); // a DELTA after the break is skipped too
    assertThat(listener.skippedReasons()).endsWith(SkipReason.BROKEN_REFERENCE, SkipReason.BROKEN_REFERENCE);
    // Not again for the break at 600 ms: at most one request a second per rendition.
    assertThat(keyRequests).containsExactly(0);

    fake.completion(Completion.INLINE);
    fake.completeNext(); // drains the three queued frames, each sent after the last completes
    time.advance(Duration.ofMillis(100)); // the KEY restores the chain
    assertThat(listener.completed).extracting(Frame::kind).containsExactly(
        FrameKind.KEY, FrameKind.DELTA, FrameKind.DELTA, FrameKind.DELTA, FrameKind.KEY);
    assertThat(sender.stats().isBalanced()).isTrue();
  }

  @Test
  void staleFrame_isSkippedAndBreaksItsChain() {
    fake.completion(Completion.MANUAL);
    long[] captured = {0};
    FrameSource source = rendition -> Frame.of(ByteBuffer.allocate(10), captured[0]++ == 0 ? time.read() : time.read() - 2_000 * MS);
    PacedSender sender = builder(source).targetFps(10).staleAfter(Duration.ofMillis(500)).build();
    sender.start();
    time.advance(Duration.ofMillis(100));
    fake.completeNext();
    assertThat(sender.stats().skipped(SkipReason.STALE)).isEqualTo(1);
    assertThat(fake.sends()).hasSize(1);
    assertThat(sender.stats().isBalanced()).isTrue();
  }

  @Test
  void sameFrameReturnedTwice_isTakenOnce() {
    Frame only = Frame.of(ByteBuffer.allocate(10), time.read());
    PacedSender sender = builder(rendition -> only).targetFps(10).staleAfter(Duration.ofHours(1)).build();
    sender.start();
    time.advance(Duration.ofSeconds(1));
    assertThat(sender.stats().framesTaken()).isEqualTo(1);
    assertThat(fake.sends()).hasSize(1);
  }

  @Test
  void sourceThatThrows_isCountedAndRepeatedFailuresStopTheSender() {
    int[] polls = {0};
    boolean[] broken = {false};
    FrameSource source = rendition -> {
      if (broken[0] || ++polls[0] % 2 == 0) {
        throw new IllegalStateException("camera hiccup");
      }
      return Frame.of(ByteBuffer.allocate(10), time.read());
    };
    PacedSender sender = builder(source).targetFps(10).maxConsecutiveSourceFailures(3).build();
    sender.start();
    time.advance(Duration.ofSeconds(1));
    assertThat(sender.isRunning()).isTrue();
    assertThat(sender.stats().sourceFailures()).isEqualTo(5);
    assertThat(listener.sourceErrors).hasSize(5).allSatisfy(error ->
        assertThat(error).hasMessage("frame source threw").hasRootCauseMessage("camera hiccup"));

    broken[0] = true;
    time.advance(Duration.ofSeconds(1));
    assertThat(sender.isRunning()).isFalse();
    assertThat(listener.stops).containsExactly(StopReason.SOURCE_FAILED);
    assertThat(sender.stats().stopReason()).isEqualTo(StopReason.SOURCE_FAILED);
    assertThat(time.scheduledTasks()).isZero();
    assertThat(sender.stats().isBalanced()).isTrue();
  }

  @Test
  void oversizedFrame_isSkippedAndCountedAsSourceFailure() {
    int[] size = {100, 5000, 100};
    int[] i = {0};
    FrameSource source = rendition -> i[0] < size.length ? Frame.of(ByteBuffer.allocate(size[i[0]++]), time.read()) : null;
    PacedSender sender = builder(source).targetFps(10).maxFrameBytes(1000).build();
    sender.start();
    time.advance(Duration.ofSeconds(1));
    SenderStats stats = sender.stats();
    assertThat(stats.skipped(SkipReason.TOO_LARGE)).isEqualTo(1);
    assertThat(stats.sourceFailures()).isEqualTo(1);
    assertThat(stats.framesCompleted()).isEqualTo(2);
    assertThat(listener.sourceErrors).singleElement().satisfies(error ->
        assertThat(error).isInstanceOf(IllegalArgumentException.class).hasMessage("frame size exceeds maxFrameBytes (1000): 5000"));
    assertThat(stats.isBalanced()).isTrue();
  }

  @Test
  void clientGoneMidSend_stopsWithSessionClosedAndBalancedAccounting() {
    fake.completion(Completion.MANUAL);
    PacedSender sender = builder(keyFrames(100)).targetFps(10).build();
    sender.start();
    time.advance(Duration.ofMillis(250));
    fake.closeRemotely();
    time.advance(Duration.ofSeconds(1));

    SenderStats stats = sender.stats();
    assertThat(sender.isRunning()).isFalse();
    assertThat(listener.stops).containsExactly(StopReason.SESSION_CLOSED);
    assertThat(stats.framesFailed()).isEqualTo(1);
    assertThat(stats.skipped(SkipReason.CLOSED)).isEqualTo(1);
    assertThat(stats.framesPending()).isZero();
    assertThat(stats.framesInFlight()).isZero();
    assertThat(stats.isBalanced()).isTrue();
    assertThat(time.scheduledTasks()).isZero();
  }

  @Test
  void sessionFoundClosedAtTick_stopsWithSessionClosed() throws IOException {
    PacedSender sender = builder(keyFrames(100)).targetFps(10).build();
    sender.start();
    fake.session().close();
    time.advance(Duration.ofMillis(100));
    assertThat(listener.stops).containsExactly(StopReason.SESSION_CLOSED);
    assertThat(sender.stats().isBalanced()).isTrue();
  }

  @Test
  void failedSendOnOpenSession_stopsWithSendFailed() {
    fake.completion(Completion.MANUAL);
    PacedSender sender = builder(keyFrames(100)).targetFps(10).build();
    sender.start();
    IllegalStateException error = new IllegalStateException("message too big for this container");
    fake.failNext(error);
    assertThat(listener.stops).containsExactly(StopReason.SEND_FAILED);
    assertThat(listener.stopCauses).containsExactly(error);
    assertThat(sender.stats().framesFailed()).isEqualTo(1);
    assertThat(sender.stats().isBalanced()).isTrue();
  }

  @Test
  void ioErrorOnASessionStillReportedOpen_isTheConnectionLost() {
    fake.completion(Completion.MANUAL);
    PacedSender sender = builder(keyFrames(100)).targetFps(10).build();
    sender.start();
    RuntimeException error = new RuntimeException("write failed", new IOException("Broken pipe"));
    fake.failNext(error);
    assertThat(listener.stops).containsExactly(StopReason.SESSION_CLOSED);
    assertThat(listener.stopCauses).containsExactly(error);
    assertThat(sender.stats().framesFailed()).isEqualTo(1);
    assertThat(sender.stats().isBalanced()).isTrue();
  }

  @Test
  void containerRefusingTheSend_failsTheFrameAndStops() {
    fake.refuseSends(new IllegalStateException("The remote endpoint was in state [TEXT_FULL_WRITING]"));
    PacedSender sender = builder(keyFrames(100)).targetFps(10).build();
    sender.start();
    assertThat(listener.stops).containsExactly(StopReason.SEND_FAILED);
    assertThat(sender.stats().framesFailed()).isEqualTo(1);
    assertThat(sender.stats().isBalanced()).isTrue();
  }

  @Test
  void close_isIdempotentReportsOnceAndSkipsPendingFrames() {
    fake.completion(Completion.MANUAL);
    PacedSender sender = builder(keyFrames(100)).targetFps(10).build();
    sender.start();
    time.advance(Duration.ofMillis(150));
    sender.close();
    sender.close();
    assertThat(listener.stops).containsExactly(StopReason.CLOSED);
    SenderStats stats = sender.stats();
    assertThat(stats.skipped(SkipReason.CLOSED)).isEqualTo(1);
    assertThat(stats.framesInFlight()).isEqualTo(1);
    assertThat(stats.isBalanced()).isTrue();

    fake.completeNext(); // the frame in the container completes after close
    assertThat(sender.stats().framesCompleted()).isEqualTo(1);
    assertThat(sender.stats().framesInFlight()).isZero();
    assertThat(sender.stats().isBalanced()).isTrue();
    assertThat(time.scheduledTasks()).isZero();
    assertThat(fake.sends()).hasSize(1);
  }

  @Test
  void start_twiceOrAfterClose_isRejected() {
    PacedSender sender = builder(keyFrames(100)).build();
    sender.start();
    assertThatThrownBy(sender::start).isInstanceOf(IllegalStateException.class).hasMessage("sender already started");
    sender.close();
    assertThatThrownBy(sender::start).isInstanceOf(IllegalStateException.class).hasMessage("sender already stopped");
  }

  @Test
  void listenerThatThrows_doesNotStopTheSender() {
    SenderListener angry = new SenderListener() {
      @Override
      public void onFrameCompleted(Frame frame, long sendLatencyNanos) {
        throw new IllegalStateException("listener bug");
      }
    };
    PacedSender sender = PacedSender.newBuilder(fake.session()).source(keyFrames(10))
        .ticker(time).scheduler(time).pingEvery(0).targetFps(10).listener(angry).build();
    sender.start();
    time.advance(Duration.ofSeconds(1).minusNanos(1));
    assertThat(sender.isRunning()).isTrue();
    assertThat(sender.stats().framesCompleted()).isEqualTo(10);
  }

  @Test
  void builder_rejectsBadValuesWithMessagesNamingThem() {
    PacedSender.Builder builder = PacedSender.newBuilder(fake.session());
    assertThatThrownBy(() -> PacedSender.newBuilder(null)).isInstanceOf(NullPointerException.class).hasMessage("session");
    assertThatThrownBy(() -> builder.targetFps(0)).hasMessage("targetFps must be in (0, 1000]: 0.0");
    assertThatThrownBy(() -> builder.targetFps(Double.NaN)).hasMessage("targetFps must be in (0, 1000]: NaN");
    assertThatThrownBy(() -> builder.targetFps(1001)).hasMessage("targetFps must be in (0, 1000]: 1001.0");
    assertThatThrownBy(() -> builder.maxBytesPerSecond(0)).hasMessage("maxBytesPerSecond must be > 0: 0");
    assertThatThrownBy(() -> builder.maxFrameBytes(-1)).hasMessage("maxFrameBytes must be > 0: -1");
    assertThatThrownBy(() -> builder.maxPendingFrames(0)).hasMessage("maxPendingFrames must be in [1, 64]: 0");
    assertThatThrownBy(() -> builder.maxPendingFrames(65)).hasMessage("maxPendingFrames must be in [1, 64]: 65");
    assertThatThrownBy(() -> builder.staleAfter(Duration.ZERO)).hasMessage("staleAfter must be > 0: PT0S");
    assertThatThrownBy(() -> builder.staleAfter(null)).isInstanceOf(NullPointerException.class).hasMessage("staleAfter");
    assertThatThrownBy(() -> builder.maxConsecutiveSourceFailures(0)).hasMessage("maxConsecutiveSourceFailures must be >= 1: 0");
    assertThatThrownBy(() -> builder.source(null)).isInstanceOf(NullPointerException.class).hasMessage("source");
    assertThatThrownBy(() -> builder.listener(null)).isInstanceOf(NullPointerException.class).hasMessage("listener");
    assertThatThrownBy(() -> builder.ticker(null)).isInstanceOf(NullPointerException.class).hasMessage("ticker");
    assertThatThrownBy(() -> builder.scheduler(null)).isInstanceOf(NullPointerException.class).hasMessage("scheduler");
    assertThatThrownBy(() -> builder.pingEvery(-1)).hasMessage("pingEvery must be in [0, 1000]: -1");
    assertThatThrownBy(() -> builder.pingEvery(1001)).hasMessage("pingEvery must be in [0, 1000]: 1001");
    assertThatThrownBy(() -> builder.inFlightCap(0, 10)).hasMessage("inFlightCap minBytes must be > 0: 0");
    assertThatThrownBy(() -> builder.inFlightCap(10, 9)).hasMessage("inFlightCap maxBytes must be >= minBytes (10): 9");
    assertThatThrownBy(() -> builder.stallAfter(Duration.ofMillis(-1))).hasMessage("stallAfter must be > 0: PT-0.001S");
    assertThatThrownBy(() -> builder.stallAfter(null)).isInstanceOf(NullPointerException.class).hasMessage("stallAfter");
    assertThatThrownBy(() -> builder.startRendition(-1)).hasMessage("startRendition must be >= 0: -1");
    assertThatThrownBy(() -> builder.ladder(null)).isInstanceOf(NullPointerException.class).hasMessage("ladder");
    assertThatThrownBy(() -> builder.policy(null)).isInstanceOf(NullPointerException.class).hasMessage("policy");
    assertThatThrownBy(() -> builder.pingExecutor(null)).isInstanceOf(NullPointerException.class).hasMessage("pingExecutor");
    assertThatThrownBy(builder::build).isInstanceOf(IllegalStateException.class).hasMessage("source is required");
    assertThatThrownBy(() -> PacedSender.newBuilder(fake.session()).source(keyFrames(1))
        .ladder(Ladder.ofBitrates(1, 2)).startRendition(2).build())
        .isInstanceOf(IllegalStateException.class).hasMessageContaining("startRendition").hasMessageContaining("2");
  }

  @Test
  void frame_rejectsBadInput() {
    assertThatThrownBy(() -> Frame.of(null, 0)).isInstanceOf(NullPointerException.class).hasMessage("payload");
    assertThatThrownBy(() -> Frame.of(ByteBuffer.allocate(1), 0, null, 0)).isInstanceOf(NullPointerException.class).hasMessage("kind");
    assertThatThrownBy(() -> Frame.of(ByteBuffer.allocate(1), 0, FrameKind.KEY, -1)).hasMessage("rendition must be >= 0: -1");
  }

  @Test
  void sourceKeepingTheNewestFramePerRendition_neverHasAFrameTakenTwice_acrossASwitch() {
    // Newest frame per rendition, as a camera with one encoder per rendition keeps them; asked
    // again with nothing new, it returns the same frame. A switch asks two renditions a tick.
    Frame[] newest = new Frame[2];
    int[] made = new int[1];
    Runnable produce = () -> {
      for (int r = 0; r < 2; r++) {
        newest[r] = Frame.of(ByteBuffer.allocate(100), time.read(), made[0] % 10 == 0 ? FrameKind.KEY : FrameKind.DELTA, r);
      }
      made[0]++;
    };
    produce.run();
    java.util.concurrent.atomic.AtomicInteger polls = new java.util.concurrent.atomic.AtomicInteger();
    FrameSource source = rendition -> {
      // A new frame every other poll of rendition 0: the source runs at half the tick rate.
      if (rendition == 0 && polls.incrementAndGet() % 2 == 0) {
        produce.run();
      }
      return newest[rendition];
    };
    long start = time.read();
    AdaptationPolicy upAfterASecond = context -> context.nowNanos() - start > 1_000_000_000L
        ? new Decision(1, context.current().framesPerSecond(), "up") : context.current();
    PacedSender sender = builder(source).targetFps(30).ladder(Ladder.ofBitrates(100_000, 200_000))
        .policy(upAfterASecond).build();
    sender.start();
    time.advance(Duration.ofSeconds(3));
    sender.close();
    java.util.Set<Frame> distinct = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
    distinct.addAll(listener.completed);
    assertThat(distinct).as("frames sent twice").hasSameSizeAs(listener.completed);
    java.util.Set<Frame> everyTaken = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
    everyTaken.addAll(listener.completed);
    listener.skipped.forEach(skip -> assertThat(everyTaken.add(skip.frame())).as("taken twice: %s", skip).isTrue());
    assertThat(sender.stats().decision().rendition()).isEqualTo(1);
    assertThat(sender.stats().isBalanced()).isTrue();
  }

  @Test
  void stopping_removesTheHandlersItAdded_soTheSessionCanHaveAnotherSender() {
    PacedSender first = builder(keyFrames(100)).pingEvery(1).clientAcks(true).build();
    first.start();
    assertThat(fake.handlers()).hasSize(2);
    // Acks are at most 96 characters: the container may not assemble more than 1 KiB of text
    // while the sender owns the text handler, and gets its own limit back afterwards.
    assertThat(fake.session().getMaxTextMessageBufferSize()).isEqualTo(1024);
    first.close();
    assertThat(fake.handlers()).isEmpty();
    assertThat(fake.session().getMaxTextMessageBufferSize()).isEqualTo(Integer.MAX_VALUE);
    PacedSender second = builder(keyFrames(100)).pingEvery(1).build();
    second.start();
    assertThat(fake.handlers()).hasSize(1);
    second.close();
  }

  @Test
  void schedulerThatThrows_stopsWithInternalError_andTheFrameIsAccountedFor() {
    fake.completion(Completion.MANUAL);
    RejectedExecutionException shutDown = new RejectedExecutionException("scheduler shut down");
    PacedSender sender = builder(keyFrames(100)).targetFps(10)
        .scheduler((task, delay) -> {
          throw shutDown;
        }).build();
    sender.start(); // must not throw into the caller
    assertThat(listener.stops).containsExactly(StopReason.INTERNAL_ERROR);
    assertThat(listener.stopCauses).containsExactly(shutDown);
    assertThat(sender.stats().framesInFlight()).isZero();
    assertThat(sender.stats().isBalanced()).isTrue();
  }

  @Test
  @org.junit.jupiter.api.Timeout(value = 10, threadMode = org.junit.jupiter.api.Timeout.ThreadMode.SEPARATE_THREAD)
  void tickerThatThrowsWithAnInlineCompletionPending_stopsAndAccountsForTheFrame() {
    // The send completes inside sendBinary, and the loop takes that completion on its next
    // step, after reading the clock; a clock that throws there once spun the loop for good.
    PacedSender sender = startWithAClockThatBreaksAtTheFirstSend();
    assertStoppedWithItsOneFrameFailed(sender, StopReason.INTERNAL_ERROR);
  }

  /** Starts a 10 fps sender whose clock throws from its first send until start() returns. */
  private PacedSender startWithAClockThatBreaksAtTheFirstSend() {
    boolean[] broken = {false};
    fake.onSend(data -> broken[0] = true);
    PacedSender sender = builder(keyFrames(100)).targetFps(10)
        .ticker(() -> {
          if (broken[0]) {
            throw new IllegalStateException("clock broke");
          }
          return time.read();
        }).build();
    sender.start(); // returns, and does not throw into the caller
    broken[0] = false; // mended, for stats()
    return sender;
  }

  private void assertStoppedWithItsOneFrameFailed(PacedSender sender, StopReason reason) {
    assertThat(listener.stops).containsExactly(reason);
    assertThat(sender.stats().framesFailed()).isEqualTo(1);
    assertThat(sender.stats().framesInFlight()).isZero();
    assertThat(sender.stats().isBalanced()).isTrue();
  }

  @Test
  void sendBinaryThatThrowsAnError_failsTheFrameAndStops() {
    fake.onSend(data -> {
      throw new AssertionError("a container bug");
    });
    PacedSender sender = builder(keyFrames(100)).targetFps(10).build();
    sender.start(); // must not throw into the caller
    assertStoppedWithItsOneFrameFailed(sender, StopReason.SEND_FAILED);
  }

  @Test
  void completionCalledTwiceInsideSendBinary_countsEachFrameOnce() {
    fake.completion(Completion.INLINE_TWICE);
    assertTenFramesInASecond_eachCompletedOnce();
  }

  /** Runs a 10 fps sender for 950 ms: ten frames sent, each completed once, and no stop. */
  private void assertTenFramesInASecond_eachCompletedOnce() {
    PacedSender sender = builder(keyFrames(100)).targetFps(10).build();
    sender.start();
    time.advance(Duration.ofMillis(950));
    SenderStats stats = sender.stats();
    assertThat(stats.framesSent()).isEqualTo(10);
    assertThat(stats.framesCompleted()).isEqualTo(10);
    assertThat(stats.framesFailed()).isZero();
    assertThat(listener.stops).isEmpty();
    assertThat(stats.isBalanced()).isTrue();
  }

  @Test
  @org.junit.jupiter.api.Timeout(value = 10, threadMode = org.junit.jupiter.api.Timeout.ThreadMode.SEPARATE_THREAD)
  void completionCalledTwiceInside_withAClockThatThrows_stopsAndAccountsForTheFrame() {
    // The second call takes the locked path, whose clock read threw out of sendBinary's
    // catch and out of the loop, leaving it wedged with the frame in flight.
    fake.completion(Completion.INLINE_TWICE);
    PacedSender sender = startWithAClockThatBreaksAtTheFirstSend();
    assertStoppedWithItsOneFrameFailed(sender, StopReason.INTERNAL_ERROR);
  }

  @Test
  void inlineErrorThenAThrowFromSendBinary_failsTheFrameOnce() {
    fake.duringSend(handler -> {
      handler.onResult(new jakarta.websocket.SendResult(new IOException("connection reset")));
      throw new IllegalStateException("session closed");
    });
    PacedSender sender = builder(keyFrames(100)).targetFps(10).build();
    sender.start();
    assertThat(listener.stops).hasSize(1);
    assertThat(sender.stats().framesSent()).isEqualTo(1);
    assertThat(sender.stats().framesFailed()).isEqualTo(1);
    assertThat(sender.stats().framesInFlight()).isZero();
    assertThat(sender.stats().isBalanced()).isTrue();
  }

  @Test
  void completionOnAnotherThreadWhileInsideSendBinary_isTakenOnce() throws Exception {
    fake.duringSend(handler -> {
      Thread other = new Thread(() -> handler.onResult(new jakarta.websocket.SendResult()), "container");
      other.start();
      try {
        other.join(5_000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    });
    assertTenFramesInASecond_eachCompletedOnce();
  }

  @Test
  void closeFromInsideSendBinary_completesTheFrameAndStops() {
    PacedSender[] sender = new PacedSender[1];
    fake.onSend(data -> sender[0].close());
    sender[0] = builder(keyFrames(100)).targetFps(10).build();
    sender[0].start();
    time.advance(Duration.ofMillis(500));
    assertThat(listener.stops).containsExactly(StopReason.CLOSED);
    assertThat(fake.sends()).hasSize(1);
    assertThat(sender[0].stats().framesCompleted()).isEqualTo(1);
    assertThat(sender[0].stats().framesInFlight()).isZero();
    assertThat(sender[0].stats().isBalanced()).isTrue();
  }

  @Test
  void pingDeferredBySpacing_goesWhenItsMillisecondIsUp_notAtTheNextTick() {
    // Frame 1 completes late, just before the next tick, and its ping goes; frame 2 then
    // completes within the millisecond, so its ping waits for the spacing, and a wake must
    // send it then: without one it waited for the tick after (33 ms).
    fake.completion(Completion.MANUAL);
    List<Long> pingTimes = new ArrayList<>();
    fake.onPing(payload -> {
      if (payload.getLong(8) != 0) { // not the RTT probe into the idle connection at start
        pingTimes.add(time.read());
      }
    });
    long start = time.read();
    PacedSender sender = builder(keyFrames(100)).targetFps(30).pingEvery(1)
        .pingExecutor(Runnable::run).build();
    sender.start();
    time.advance(Duration.ofNanos(32_800_000));
    fake.completion(Completion.INLINE);
    fake.completeNext();
    assertThat(pingTimes).containsExactly(start + 32_800_000);
    time.advance(Duration.ofMillis(7));
    assertThat(fake.sends()).hasSize(2);
    assertThat(pingTimes).containsExactly(start + 32_800_000, start + 33_800_000);
  }

  @Test
  void sourceThatClosesTheSenderInsidePoll_hasItsFrameSkippedAsClosed() {
    PacedSender[] sender = new PacedSender[1];
    sender[0] = builder(rendition -> {
      sender[0].close();
      return Frame.of(ByteBuffer.allocate(10), time.read());
    }).build();
    sender[0].start();
    assertThat(listener.skippedReasons()).containsExactly(SkipReason.CLOSED);
    assertThat(sender[0].stats().framesPending()).isZero();
    assertThat(sender[0].stats().isBalanced()).isTrue();
  }

  @Test
  void frameOfARenditionOutsideTheLadder_isSkippedAndCountedAsASourceError() {
    PacedSender sender = builder(rendition -> Frame.of(ByteBuffer.allocate(10), time.read(), FrameKind.KEY, 7))
        .ladder(Ladder.ofBitrates(100_000, 200_000)).targetFps(10).build();
    sender.start();
    time.advance(Duration.ofMillis(250));
    assertThat(listener.skippedReasons()).containsOnly(SkipReason.INVALID_RENDITION);
    assertThat(listener.sourceErrors).isNotEmpty();
    assertThat(fake.sends()).isEmpty();
    assertThat(sender.stats().isBalanced()).isTrue();
    sender.close();
  }

  /** Records what the sender reports. */
  static final class RecordingListener implements SenderListener {
    record Skip(Frame frame, SkipReason reason) {}

    final List<Frame> completed = new ArrayList<>();
    final List<Skip> skipped = new ArrayList<>();
    final List<Throwable> sourceErrors = new ArrayList<>();
    final List<StopReason> stops = new ArrayList<>();
    final List<Throwable> stopCauses = new ArrayList<>();

    @Override
    public void onFrameCompleted(Frame frame, long sendLatencyNanos) {
      completed.add(frame);
    }

    @Override
    public void onFrameSkipped(Frame frame, SkipReason reason) {
      skipped.add(new Skip(frame, reason));
    }

    @Override
    public void onSourceError(Throwable error) {
      sourceErrors.add(error);
    }

    @Override
    public void onStopped(StopReason reason, Throwable cause) {
      stops.add(reason);
      stopCauses.add(cause);
    }

    List<SkipReason> skippedReasons() {
      return skipped.stream().map(Skip::reason).toList();
    }
  }

}
