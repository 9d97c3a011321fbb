package dev.keepup.internal.signal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.keepup.Signals;
import dev.keepup.Verdict;
import org.junit.jupiter.api.Test;

final class DeliveryTrackerTest {
  private static final long MS = 1_000_000L;
  private static final long SECOND = 1_000 * MS;

  private final DeliveryTracker tracker = new DeliveryTracker(SECOND);
  private long now = 5 * SECOND;

  /** A link of {@code bytesPerSecond} with {@code rtt}, fed back to back: frame i is acked when its last byte is through. */
  private void backToBack(int frames, int size, double bytesPerSecond, long rtt, long firstSeq) {
    long start = now;
    for (int i = 0; i < frames; i++) {
      tracker.onSent(firstSeq + i, size, now, now, false);
    }
    for (int i = 0; i < frames; i++) {
      long ackAt = start + (long) ((i + 1) * size / bytesPerSecond * SECOND) + rtt;
      tracker.onPingSent(firstSeq + i, start);
      assertThat(tracker.onPong(firstSeq + i, ackAt)).isTrue();
    }
    now = start + (long) (frames * size / bytesPerSecond * SECOND) + rtt;
  }

  @Test
  void deliveryRate_fromBackToBackFrames_matchesTheLink() {
    backToBack(40, 50_000, 250_000, 40 * MS, 1);
    assertThat(tracker.deliveryRateBytesPerSecond()).isCloseTo(250_000, within(2_500.0));
    assertThat(tracker.snapshot(now).deliveryRateBitsPerSecond()).isCloseTo(2_000_000, within(20_000L));
  }

  @Test
  void appLimitedSamples_countOnlyWhenTheyRaiseTheEstimate() {
    backToBack(20, 50_000, 250_000, 40 * MS, 1);
    double linkRate = tracker.deliveryRateBytesPerSecond();
    // Now a sparse stream: one 10 KB frame a second, each acked 80 ms later. Its samples show
    // the stream's rate, not the link's, and must not drag the estimate down.
    for (long seq = 21; seq < 41; seq++) {
      now += SECOND;
      tracker.onSent(seq, 10_000, now, now, true);
      tracker.onPingSent(seq, now);
      tracker.onPong(seq, now + 80 * MS);
    }
    assertThat(tracker.deliveryRateBytesPerSecond()).isCloseTo(linkRate, within(linkRate * 0.01));
  }

  @Test
  void appLimitedSampleThatQueued_countsAsTheLink() {
    backToBack(20, 50_000, 250_000, 40 * MS, 1);
    // The same sparse stream, but the link has dropped to 25 KB/s: each 10 KB frame takes
    // 400 ms to cross, far beyond its 40 ms at the estimate. Those samples met the link.
    for (long seq = 21; seq < 31; seq++) {
      now += SECOND;
      tracker.onSent(seq, 10_000, now, now, true);
      tracker.onPingSent(seq, now);
      tracker.onPong(seq, now + 440 * MS);
    }
    // Ignored as app-limited, they would leave it at 250 KB/s.
    assertThat(tracker.deliveryRateBytesPerSecond()).isLessThan(100_000);
    // The newest sample: 10 KB over its 440 ms from send to ack.
    assertThat(tracker.snapshot(now).latestRateBitsPerSecond()).isCloseTo(10_000 * 8 * 1000 / 440, within(100L));
  }

  @Test
  void overdueAck_boundsTheRateBeforeAnySampleArrives() {
    backToBack(20, 50_000, 1_000_000, 20 * MS, 1);
    double estimate = tracker.deliveryRateBytesPerSecond();
    assertThat(estimate).isCloseTo(1_000_000, within(50_000.0));
    assertThat(tracker.capRate(now)).isEqualTo(estimate);
    // A frame goes out and nothing comes back: the link has dropped. 50 KB at 1 MB/s take
    // 50 ms; after 500 ms the link has carried less than 50 KB in 500 ms less the min RTT.
    tracker.onSent(21, 50_000, now, now, true);
    tracker.onPingSent(21, now);
    long sent = now;
    assertThat(tracker.capRate(sent + 40 * MS)).isEqualTo(estimate); // not yet overdue
    double bound = 50_000.0 * SECOND / (500 * MS - tracker.minRttNanos(sent + 500 * MS));
    assertThat(tracker.capRate(sent + 500 * MS)).isCloseTo(bound, within(bound * 0.01));
    assertThat(tracker.snapshot(sent + 500 * MS).latestRateBitsPerSecond()).isCloseTo((long) (bound * 8), within(1_000L));
    assertThat(tracker.snapshot(sent + 500 * MS).verdict()).isEqualTo(Verdict.FALLING_BEHIND);
    // The estimate itself moves only with samples.
    assertThat(tracker.deliveryRateBytesPerSecond()).isEqualTo(estimate);
  }

  @Test
  void queueDelay_isAveragedOverTime_soASlowStreamForgetsASpike() {
    backToBack(20, 10_000, 1_000_000, 20 * MS, 1);
    // One frame a second; the first waits 2 s in a queue, the next ones none.
    long seq = 21;
    now += SECOND;
    tracker.onSent(seq, 10_000, now, now, true);
    tracker.onPingSent(seq, now);
    tracker.onPong(seq++, now + 2_030 * MS);
    now += 2_030 * MS;
    assertThat(tracker.snapshot(now).queueDelay().toMillis()).isGreaterThan(1_000);
    for (int i = 0; i < 2; i++) {
      now += SECOND;
      tracker.onSent(seq, 10_000, now, now, true);
      tracker.onPingSent(seq, now);
      tracker.onPong(seq++, now + 30 * MS);
    }
    // Averaged per ack (a quarter each) it would still read over 1 s after two acks.
    assertThat(tracker.snapshot(now + 30 * MS).queueDelay().toMillis()).isLessThan(20);
  }

  /** 20 frames of 50 KB, one every 70 ms, each acked 70 ms after it was sent: no queue. */
  private static long paced(DeliveryTracker tracker, long t) {
    for (long seq = 1; seq <= 20; seq++, t += 70 * MS) {
      tracker.onSent(seq, 50_000, t, t, false);
      tracker.onPingSent(seq, t);
      tracker.onPong(seq, t + 70 * MS);
    }
    return t;
  }

  @Test
  void acksHandledRightAfterALocalStall_giveNoSamples() {
    long t = paced(tracker, now);
    double estimate = tracker.deliveryRateBytesPerSecond();
    // A frame goes out, then this process stalls 400 ms; its ack, in since long, is handled
    // only after the stall, together with the late timer that reports it.
    tracker.onSent(21, 50_000, t, t, true);
    tracker.onPingSent(21, t);
    long stallEnd = t + 400 * MS;
    tracker.onLocalStall(stallEnd);
    assertThat(tracker.snapshot(stallEnd).verdict()).isEqualTo(Verdict.KEEPING_UP);
    assertThat(tracker.capRate(stallEnd)).isEqualTo(estimate);
    assertThat(tracker.onPong(21, stallEnd + MS)).isTrue();
    assertThat(tracker.deliveryRateBytesPerSecond()).isEqualTo(estimate);
    assertThat(tracker.snapshot(stallEnd + MS).queueDelay().toMillis()).isLessThan(5);
    assertThat(tracker.unackedFrames()).isZero();
    // The same without the stall report: overdue meanwhile, then a 300 ms queueing delay.
    DeliveryTracker unaware = new DeliveryTracker(SECOND);
    t = paced(unaware, now);
    unaware.onSent(21, 50_000, t, t, true);
    unaware.onPingSent(21, t);
    assertThat(unaware.snapshot(t + 400 * MS).verdict()).isEqualTo(Verdict.FALLING_BEHIND);
    unaware.onPong(21, t + 401 * MS);
    assertThat(unaware.snapshot(t + 401 * MS).queueDelay().toMillis()).isGreaterThan(200);
  }

  @Test
  void rateDrop_isFollowedWithinSeconds() {
    backToBack(40, 50_000, 1_000_000, 40 * MS, 1);
    backToBack(20, 50_000, 125_000, 40 * MS, 41); // 8 s at an eighth of the rate
    assertThat(tracker.deliveryRateBytesPerSecond()).isCloseTo(125_000, within(125_000 * 0.1));
  }

  @Test
  void pong_unknownDuplicateOrOutOfOrder_isIgnoredAndCounted() {
    tracker.onSent(1, 1000, now, now, false);
    tracker.onSent(2, 1000, now, now, false);
    tracker.onPingSent(2, now);
    assertThat(tracker.onPong(1, now + MS)).as("never pinged").isFalse();
    assertThat(tracker.onPong(3, now + MS)).as("never sent").isFalse();
    assertThat(tracker.onPong(2, now + MS)).isTrue();
    assertThat(tracker.onPong(2, now + 2 * MS)).as("duplicate").isFalse();
    assertThat(tracker.onPong(1, now + 2 * MS)).as("backwards").isFalse();
    assertThat(tracker.pongsIgnored()).isEqualTo(4);
    assertThat(tracker.unackedFrames()).isZero();
  }

  @Test
  void clientAck_forMoreThanSentOrBackwards_isRejected() {
    for (long seq = 1; seq <= 3; seq++) {
      tracker.onSent(seq, 1000, now, now, false);
    }
    assertThat(tracker.onClientAck(4, 0, -1, now)).as("more than sent").isFalse();
    assertThat(tracker.onClientAck(2, 0, 3, now)).as("rendered > received").isFalse();
    assertThat(tracker.onClientAck(2, 10 * MS, 1, now + MS)).isTrue();
    assertThat(tracker.onClientAck(1, 11 * MS, 1, now + 2 * MS)).as("received backwards").isFalse();
    assertThat(tracker.onClientAck(2, 12 * MS, 0, now + 3 * MS)).as("rendered backwards").isFalse();
    assertThat(tracker.onClientAck(3, 13 * MS, 1, now + 4 * MS)).isTrue();
    assertThat(tracker.acksRejected()).isEqualTo(4);
    assertThat(tracker.snapshot(now + 4 * MS).clientLagFrames()).isEqualTo(2);
  }

  @Test
  void clientAck_frameAgeRemovesTheClientClockOffset() {
    long offset = 987_654_321_000L; // the client's clock is far from ours
    tracker.onSent(1, 1000, now - 30 * MS, now, false); // captured 30 ms before it was sent
    // Received 25 ms after the send, acked 20 ms later (uplink).
    assertThat(tracker.onClientAck(1, now + 25 * MS + offset, -1, now + 45 * MS)).isTrue();
    // The offset filter absorbs the uplink delay of its best sample, so the age is the
    // capture-to-receipt time plus that delay at most: 55 ms + 20 ms.
    assertThat(tracker.snapshot(now + 45 * MS).frameAge().toMillis()).isBetween(55L, 75L);
  }

  @Test
  void minRtt_comesFromProbesIntoAnEmptyPipe() {
    assertThat(tracker.rttProbeDue(now)).isTrue();
    tracker.onProbeSent(now);
    assertThat(tracker.rttProbeDue(now)).isFalse();
    assertThat(tracker.onProbePong(now + 42 * MS)).isTrue();
    assertThat(tracker.minRttNanos(now + 42 * MS)).isEqualTo(42 * MS);
    assertThat(tracker.onProbePong(now + 50 * MS)).as("no probe outstanding").isFalse();
    // Not again within a second, and never while frames are unacked.
    assertThat(tracker.rttProbeDue(now + 500 * MS)).isFalse();
    tracker.onSent(1, 1000, now, now + 900 * MS, false);
    assertThat(tracker.rttProbeDue(now + 1500 * MS)).isFalse();
  }

  @Test
  void verdict_stalledWhenNothingIsAckedForTheStallTime() {
    tracker.onSent(1, 1000, now, now, false);
    tracker.onPingSent(1, now);
    tracker.onPong(1, now + 50 * MS);
    tracker.onSent(2, 1000, now + 100 * MS, now + 100 * MS, false);
    assertThat(tracker.verdict(now + 150 * MS)).isEqualTo(Verdict.KEEPING_UP);
    // A 1 KB frame's ack due within a few ms and a round trip: late is falling behind...
    assertThat(tracker.verdict(now + 900 * MS)).isEqualTo(Verdict.FALLING_BEHIND);
    // ...and nothing for the stall time is stalled.
    assertThat(tracker.verdict(now + 1200 * MS)).isEqualTo(Verdict.STALLED);
    Signals signals = tracker.snapshot(now + 1200 * MS);
    assertThat(signals.unackedFrames()).isEqualTo(1);
    assertThat(signals.sinceLastAck().toMillis()).isEqualTo(1150);
  }

  @Test
  void verdict_fallingBehindWhenTheClientDoesNotRender() {
    for (long seq = 1; seq <= 5; seq++) {
      tracker.onSent(seq, 1000, now, now, false);
    }
    tracker.onClientAck(5, 0, 1, now + 10 * MS);
    assertThat(tracker.verdict(now + 10 * MS)).isEqualTo(Verdict.FALLING_BEHIND);
    tracker.onClientAck(5, 1, 5, now + 20 * MS);
    assertThat(tracker.verdict(now + 20 * MS)).isEqualTo(Verdict.KEEPING_UP);
  }

  @Test
  void estimatedQueue_drainsAtTheRateBetweenAcks() {
    backToBack(20, 50_000, 250_000, 40 * MS, 1);
    long start = now;
    tracker.onSent(21, 50_000, start, start, false);
    tracker.onSent(22, 50_000, start, start, false);
    assertThat(tracker.estimatedQueuedBytes(start)).isEqualTo(100_000);
    assertThat(tracker.estimatedQueuedBytes(start + 200 * MS)).isCloseTo(50_000, within(1_500L));
    assertThat(tracker.nanosUntilQueuedAtMost(20_000, start)).isCloseTo(320 * MS, within(5 * MS));
  }

  /**
   * A 30 fps stream over a FIFO link of {@code linkBytesPerSecond} with {@code rtt}, sent as
   * made (app-limited): deltas of {@code delta} bytes and a keyframe of {@code key} bytes each
   * second. Pongs come a round trip after each frame's last byte is through. Returns how many
   * ticks had the verdict FALLING_BEHIND or worse.
   */
  private int appLimitedStream(DeliveryTracker t, long seconds, int delta, int key, double linkBytesPerSecond,
      long rtt) {
    java.util.ArrayDeque<long[]> acks = new java.util.ArrayDeque<>();
    long linkFreeAt = now;
    int behind = 0;
    long seq = 1;
    for (long end = now + seconds * SECOND; now < end; now += SECOND / 30) {
      while (!acks.isEmpty() && acks.peek()[1] <= now) {
        long[] ack = acks.poll();
        t.onPong(ack[0], ack[1]);
      }
      if (t.verdict(now) != Verdict.KEEPING_UP) {
        behind++;
      }
      int size = seq % 30 == 1 ? key : delta;
      t.onSent(seq, size, now, now, true);
      t.onPingSent(seq, now);
      linkFreeAt = Math.max(linkFreeAt, now) + (long) (size / linkBytesPerSecond * SECOND);
      acks.add(new long[] {seq, linkFreeAt + rtt});
      seq++;
    }
    return behind;
  }

  @Test
  void longRoundTrip_bytesInPropagationAreNoBacklog_andTheBurstRateFollowsTheLink() {
    // 2 Mbit/s, 200 ms round trip; a 0.75 Mbit/s-like stream (2.7 KB deltas, 13.8 KB keys). The
    // stream is app-limited: its delivery rate is its own bitrate, and a round trip's worth of
    // it is always unacked. Read as queued, that was a 150+ ms "backlog" at every keyframe.
    DeliveryTracker t = new DeliveryTracker(SECOND);
    t.onProbeSent(now); // the bare round trip, as the sender probes it on an empty pipe
    now += 200 * MS;
    t.onProbePong(now);
    int behind = appLimitedStream(t, 10, 2_700, 13_800, 250_000, 200 * MS);
    assertThat(behind).as("ticks not keeping up").isZero();
    // The burst rate, the evidence for a climb, tracks the link (2 Mbit/s), not the first
    // sample nor the deltas' floored samples (2.7 KB over the 10 ms floor: 2.2 Mbit/s at most).
    assertThat(t.snapshot(now).burstRateBitsPerSecond()).isBetween(1_500_000L, 2_400_000L);
  }
}
