package dev.keepup.internal.signal;

import dev.keepup.Signals;
import dev.keepup.Verdict;
import java.time.Duration;

/**
 * Turns sends and acks into the figures of {@link Signals}: delivery rate, min RTT, queueing
 * delay, unacknowledged bytes, frame age at the client, and a verdict.
 *
 * <p>Acks are cumulative: an ack for frame {@code n} (a pong to the ping sent after it, or a
 * client's received count) proves frames 1..n arrived. Rate samples follow BBR's delivery-rate
 * sampler ({@code tcp_rate.c}): bytes delivered between a frame's send and its ack, over the
 * longer of the send and ack intervals, so that bunched acks do not inflate it; a sample taken
 * while the sender had nothing waiting is "app-limited" and counts only if it raises the
 * estimate. Samples are smoothed by {@link RateEstimate}.
 *
 * <p>Pure: every method takes {@code now}; nothing reads a clock. Not thread safe: the send
 * loop calls it under its lock.
 */
public final class DeliveryTracker {
  private static final long SECOND = 1_000_000_000L;
  /** Frames remembered for ack matching: 34 s at 30 fps; the send loop never lets more go unacked. */
  public static final int CAPACITY = 1024;
  private static final int MASK = CAPACITY - 1;
  private static final long RTT_WINDOW_NANOS = 10 * SECOND;
  private static final long OFFSET_WINDOW_NANOS = 30 * SECOND;
  private static final long MIN_WAIT_NANOS = 200_000L;
  /** About 100 years: a client clock's origin may be anything, and its times must fit in nanos. */
  private static final long MAX_CLIENT_TIME_NANOS = 3_000_000_000L * SECOND;
  private static final long RTT_PROBE_INTERVAL_NANOS = SECOND;
  private static final long FIRST_PROBES_STALE_NANOS = 2 * SECOND;
  private static final long ACK_LAG_FLOOR_NANOS = 100_000_000L;
  private static final double QUEUE_DELAY_TIME_CONSTANT_NANOS = 100_000_000.0;
  static final long LOCAL_STALL_GRACE_NANOS = 50_000_000L;
  private static final long PROBE_TIMEOUT_NANOS = 2 * SECOND;
  /** Queueing beyond transmission and min RTT that marks a sample as link-limited. */
  private static final long QUEUED_SAMPLE_NANOS = 50_000_000L;
  private static final int MIN_BURST_BYTES = 1024;
  private static final long MIN_BURST_NANOS = 1_000_000L;
  /** The most the burst-sample floor grows with the min RTT: its error is jitter, which does not grow in step. */
  private static final long MAX_BURST_FLOOR_NANOS = 10_000_000L;

  /** Queueing delay past which a client is falling behind: beyond this, viewers see lag. */
  static final long FALLING_BEHIND_DELAY_NANOS = 150_000_000L;
  /** Received-but-unrendered frames past which a client's own processing is falling behind. */
  static final int FALLING_BEHIND_CLIENT_LAG = 3;
  static final long ACK_OVERDUE_MARGIN_NANOS = 30_000_000L;

  private final long stallAfterNanos;

  private final long[] cumBytes = new long[CAPACITY];
  private final int[] sizes = new int[CAPACITY];
  private final long[] sentAt = new long[CAPACITY];
  private final long[] captureAt = new long[CAPACITY];
  private final long[] deliveredAtSend = new long[CAPACITY];
  private final long[] deliveredTimeAtSend = new long[CAPACITY];
  private final long[] firstSentAtSend = new long[CAPACITY];
  private final boolean[] appLimited = new boolean[CAPACITY];
  private final long[] pingAt = new long[CAPACITY];
  /** Whether the frame went into an empty pipe: its ack then bounds the RTT and shows a burst rate. */
  private final boolean[] sentIdle = new boolean[CAPACITY];
  private final long[] queuedAtSend = new long[CAPACITY];

  private long sentSeq;
  private long cumSent;
  private long ackedSeq;
  private long cumAcked;
  private long lastAckAt;
  private long lastAckedSentAt;
  private boolean acked;
  /** When the last ack arrived; unlike lastAckAt, a send into an empty pipe does not move it. */
  private long lastAckArrivalAt;
  private long localStallEndedAt = Long.MIN_VALUE / 2;
  private long probesLost;
  private long firstSendAt;
  private long pongSeq;
  private long clientReceived;
  private long clientRendered = -1;
  private long lastClientTime;

  private final RateEstimate rate = new RateEstimate(1.0, 4.0);
  /** Probe RTTs: pings into an empty pipe. Kept past the window until the next probe replaces them. */
  private final WindowedMin probeRtt = new WindowedMin(RTT_WINDOW_NANOS);
  /** Send-to-ack times of frames sent into an empty pipe: upper bounds, used only before any probe. */
  private final WindowedMin upperRtt = new WindowedMin(RTT_WINDOW_NANOS);
  /** Windowed min of (server arrival - client time): the client's clock offset, plus the least uplink delay. */
  private final WindowedMin clientOffset = new WindowedMin(OFFSET_WINDOW_NANOS);
  private double queueDelayNanos;
  private double burstRate;
  private double latestRate;
  private long probeSentAt;
  private long lastProbeAt;
  private long probes;
  private long frameAgeNanos;
  private double sendRateAcc;
  private long sendRateAt;

  private long pongsIgnored;
  private long acksRejected;

  public DeliveryTracker(long stallAfterNanos) {
    this.stallAfterNanos = stallAfterNanos;
  }

  /**
   * Records that frame {@code seq} (1, 2, 3...) of {@code size} bytes was handed to the
   * container at {@code now}. {@code appLimited}: it went out the moment it was made, with
   * nothing waiting, so the link may have idled before it.
   */
  public void onSent(long seq, int size, long captureTime, long now, boolean appLimited) {
    if (seq != sentSeq + 1) {
      throw new IllegalArgumentException("frames must be sent in order: " + seq + " after " + sentSeq);
    }
    int i = (int) (seq & MASK);
    long queuedBefore = estimatedQueuedBytes(now);
    long aheadOfLink = aheadOfLink(queuedBefore, now);
    if (sentSeq == ackedSeq) {
      // Nothing in flight: the delivery clock restarts here (tcp_rate.c does the same).
      lastAckAt = now;
      lastAckedSentAt = now;
    }
    if (seq == 1) {
      firstSendAt = now;
    }
    sentSeq = seq;
    cumSent += size;
    cumBytes[i] = cumSent;
    sizes[i] = size;
    sentAt[i] = now;
    captureAt[i] = captureTime;
    deliveredAtSend[i] = cumAcked;
    deliveredTimeAtSend[i] = lastAckAt;
    firstSentAtSend[i] = lastAckedSentAt;
    this.appLimited[i] = appLimited;
    // Into an empty pipe: nothing unacked, or all of it estimated drained (the ack is on its way).
    // Or sent on time with at most the previous frame still unacked: at high rates its ack is
    // merely in flight; any wait behind it only lowers the burst sample (the safe side).
    // "Drained" leaves out a round trip's worth of bytes in propagation (queueAheadOfLink):
    // counting them, no frame after the first went into an empty pipe at a 100 ms round trip
    // and 30 fps, and the burst rate, the climb's evidence, never moved off its first sample.
    sentIdle[i] = aheadOfLink == 0 || (appLimited && sentSeq - 1 - ackedSeq <= 1);
    queuedAtSend[i] = queuedBefore;
    pingAt[i] = 0;
    sendRateAcc = decayedSendRate(now) + size;
    sendRateAt = now;
  }

  private double decayedSendRate(long now) {
    return sendRateAcc * Math.exp(-(double) (now - sendRateAt) / SECOND);
  }

  /** Records that a ping acknowledging frame {@code seq} was handed to the container at {@code now}. */
  public void onPingSent(long seq, long now) {
    if (seq <= ackedSeq || seq > sentSeq) {
      return;
    }
    pingAt[(int) (seq & MASK)] = now;
  }

  /**
   * Returns whether an RTT probe should go now: nothing is queued toward the client, so a ping
   * measures the bare round trip, and the last probe is old enough (one a second at most).
   */
  public boolean rttProbeDue(long now) {
    expireProbe(now);
    return probeSentAt == 0 && sentSeq == ackedSeq
        && (probes == 0 || now - lastProbeAt >= RTT_PROBE_INTERVAL_NANOS);
  }

  /**
   * Gives up on a probe whose pong has not come in {@link #PROBE_TIMEOUT_NANOS}: pongs can be
   * lost (the JDK client answers only the newest of pings that queue up, a host may not pass
   * pongs on), and an outstanding probe would otherwise stop probing for good.
   */
  private void expireProbe(long now) {
    if (probeSentAt != 0 && now - probeSentAt > Math.max(PROBE_TIMEOUT_NANOS, stallAfterNanos)) {
      probeSentAt = 0;
      probesLost++;
    }
  }

  /**
   * Returns whether the min RTT is too old to trust: no probe has found the pipe empty for a
   * whole window. The send loop then holds frames until everything is acked, and probes (BBR's
   * ProbeRTT does the same), so that a link that is never idle cannot keep a stale RTT forever.
   */
  public boolean rttStale(long now) {
    expireProbe(now);
    // The first probes of a connection often read high (slow start, a cold path): re-probe
    // sooner until a few have been taken.
    long staleAfter = probes < 3 ? FIRST_PROBES_STALE_NANOS : RTT_WINDOW_NANOS;
    return probes > 0 && probeSentAt == 0 && now - lastProbeAt > staleAfter;
  }

  /** Forgets a ping that could not be sent, so that a pong claiming it is not believed. */
  public void onPingFailed(long seq, long now) {
    if (seq == 0) {
      // An attempt all the same: the next probe waits its interval.
      probeSentAt = 0;
      lastProbeAt = now;
      probes++;
    } else if (seq > ackedSeq && seq <= sentSeq) {
      pingAt[(int) (seq & MASK)] = 0;
    }
  }

  /** Records that an RTT probe was handed to the container at {@code now}. */
  public void onProbeSent(long now) {
    probeSentAt = now;
    lastProbeAt = now;
    probes++;
  }

  /** Takes the pong to an RTT probe; returns false if no probe was outstanding. */
  public boolean onProbePong(long now) {
    if (probeSentAt == 0) {
      pongsIgnored++;
      return false;
    }
    probeRtt.add(now - probeSentAt, now);
    probeSentAt = 0;
    return true;
  }

  /**
   * Takes a pong for the ping after frame {@code seq}; returns whether it was accepted. A pong
   * for a frame never pinged, already acknowledged, or out of order is ignored and counted.
   */
  public boolean onPong(long seq, long now) {
    if (seq <= pongSeq || seq > sentSeq || sentSeq - seq >= CAPACITY || pingAt[(int) (seq & MASK)] == 0) {
      pongsIgnored++;
      return false;
    }
    pongSeq = seq;
    if (seq > ackedSeq) {
      advance(seq, now, now - minRtt(now) / 2);
    }
    return true;
  }

  /**
   * Takes a client ack: {@code received} binary messages arrived, the last at client time
   * {@code receivedAtNanos}; {@code rendered} (or -1 if not reported) were rendered. Returns
   * whether it was accepted; an ack for more than was sent, or going backwards, is rejected.
   */
  public boolean onClientAck(long received, long receivedAtNanos, long rendered, long now) {
    if (received < clientReceived || received > sentSeq || rendered > received
        || (rendered >= 0 && rendered < clientRendered) || receivedAtNanos < lastClientTime
        || receivedAtNanos > MAX_CLIENT_TIME_NANOS) {
      acksRejected++;
      return false;
    }
    clientReceived = received;
    lastClientTime = receivedAtNanos;
    if (rendered >= 0) {
      clientRendered = rendered;
    }
    if (sentSeq - received >= CAPACITY) {
      // Valid but older than the frames remembered (pongs ran far ahead of a stalled page):
      // its counts count, its timing cannot be matched to a frame.
      return true;
    }
    clientOffset.add(now - receivedAtNanos, now);
    if (received > ackedSeq) {
      // The client's receive time in our clock: its timestamp shifted by the least offset seen.
      long receivedAt = receivedAtNanos + clientOffset.get(now, now - receivedAtNanos);
      advance(received, now, Math.min(receivedAt, now));
    }
    return true;
  }

  private void advance(long seq, long now, long deliveredAt) {
    int i = (int) (seq & MASK);
    if (!timingSuspect(i, now)) {
      // Acked either way; with its timing this process's stall, it gives no samples.
      sample(i, now);
    }
    frameAgeNanos = Math.max(0, deliveredAt - captureAt[i]);
    acked = true;
    lastAckArrivalAt = now;
    ackedSeq = seq;
    cumAcked = cumBytes[i];
    lastAckAt = now;
    lastAckedSentAt = sentAt[i];
  }

  /** Takes the rate, RTT, burst and queue-delay samples of frame slot {@code i}'s ack, before it counts as acked. */
  private void sample(int i, long now) {
    if (sentIdle[i]) {
      // Sent into an empty pipe: send to ack is the RTT plus the frame's own transmission, an
      // upper bound that only counts until probes give the real thing.
      upperRtt.add(now - sentAt[i], now);
      sampleBurstRate(i, now);
    }
    long delivered = cumBytes[i];
    long sendElapsed = sentAt[i] - firstSentAtSend[i];
    long ackElapsed = now - deliveredTimeAtSend[i];
    long interval = Math.max(sendElapsed, ackElapsed);
    long bytes = delivered - deliveredAtSend[i];
    double bytesPerNano = rate.bytesPerSecond() / SECOND;
    long serialization = bytesPerNano > 0 ? (long) (sizes[i] / bytesPerNano) : 0;
    long delay = Math.max(0, now - sentAt[i] - serialization - minRtt(now));
    if (interval > 0 && bytes > 0) {
      double sample = bytes * (double) SECOND / interval;
      // An app-limited sample only shows what the stream offered, so it may only raise the
      // estimate (BBR's rule); but one that queued on the way (it took clearly longer than its
      // transmission at the estimate) met the link's limit, not the stream's: it counts. Else
      // a link that drops under an app-limited stream is only noticed once the cap has held
      // enough frames back to make samples that are not app-limited: seconds, in the demo.
      boolean linkLimited = !appLimited[i] || (acked && delay > QUEUED_SAMPLE_NANOS);
      if (linkLimited || sample > rate.bytesPerSecond()) {
        rate.add(sample, (double) interval / SECOND);
      }
      // An app-limited sample is a lower bound on the link: one above the newest link-limited
      // sample means that sample no longer holds (a late pong once read as a drop must not
      // hold the rate down for good).
      if (linkLimited || sample > latestRate) {
        latestRate = sample;
      }
    }
    // Averaged over time, not acks: about 100 ms at any frame rate. Per ack, a stream at 1 fps
    // took ten seconds to forget a two-second spike, and stayed "falling behind" all along.
    double weight = -Math.expm1(-(double) Math.max(0, now - lastAckArrivalAt) / QUEUE_DELAY_TIME_CONSTANT_NANOS);
    queueDelayNanos = acked ? queueDelayNanos + (delay - queueDelayNanos) * weight : delay;
  }

  /**
   * A frame sent into an empty pipe crossed the bottleneck as one burst: its size over its
   * transmission time (send to ack, less the min RTT) shows the link's capacity even when the
   * stream uses a fraction of it. Small frames are skipped: their timing is all RTT noise.
   */
  private void sampleBurstRate(int i, long now) {
    long rtt = minRtt(now);
    long transmission = now - sentAt[i] - rtt;
    if (probes == 0 || sizes[i] < MIN_BURST_BYTES) {
      return;
    }
    if (transmission < 0) {
      return; // quicker than the min RTT allows: the RTT reads high, and the timing says nothing
    }
    // Faster than the timing can resolve (a millisecond, or a quarter of the min RTT, which
    // may itself read a few ms high): counted as taking that long, a lower bound on the link.
    // Skipping such frames left a stream of small frames on a fast link with no evidence of
    // room at all, and stuck at its lowest rendition.
    long floor = Math.max(MIN_BURST_NANOS, Math.min(rtt / 4, MAX_BURST_FLOOR_NANOS));
    double sample = sizes[i] * (double) SECOND / Math.max(transmission, floor);
    if (transmission < floor && sample < burstRate) {
      // A floored sample only says "at least this fast": it must not pull down an estimate
      // that a frame long enough to time showed. (Averaged in, the small frames of a stream
      // kept the estimate at size / floor: at a 100 ms RTT, 0.35 Mbit/s for 1.1 KB frames,
      // and a stream that never climbed off its lowest rendition.)
      return;
    }
    burstRate = burstRate == 0 ? sample : burstRate + (sample - burstRate) * 0.25;
  }

  /** Returns the bytes sent and not yet acknowledged. */
  public long unackedBytes() {
    return cumSent - cumAcked;
  }

  /** Returns the frames sent and not yet acknowledged. */
  public int unackedFrames() {
    return (int) (sentSeq - ackedSeq);
  }

  /** Returns whether any ack has arrived. */
  public boolean hasAcks() {
    return acked;
  }

  /**
   * Returns the bytes still queued on the way to the client, estimated: those unacknowledged,
   * less what the estimated rate has drained since the last ack (or since the oldest unacked
   * frame was sent, if later). Between acks this lets the next frame go just as the previous
   * one drains, instead of waiting a whole round trip for the ack.
   */
  public long estimatedQueuedBytes(long now) {
    long unacked = unackedBytes();
    if (unacked == 0) {
      return 0;
    }
    double bytesPerNano = capRate(now) / SECOND;
    if (bytesPerNano <= 0) {
      return unacked;
    }
    long oldestSentAt = sentAt[(int) ((ackedSeq + 1) & MASK)];
    long drainingSince = Math.max(lastAckAt, oldestSentAt);
    long drained = (long) (bytesPerNano * Math.max(0, now - drainingSince));
    return Math.max(0, unacked - drained);
  }

  /**
   * The bytes waiting to cross the link, as far as the estimates tell: the unacked bytes not
   * yet drained ({@link #estimatedQueuedBytes}) less a round trip's worth at the {@link
   * #drainRate}. The drain counts from the last ack, which left the client a one-way trip
   * after its bytes crossed, so bytes that crossed since, or are still on their way to the
   * bottleneck, read as queued there: at a 100 ms round trip, a 100 ms backlog on an idle link.
   */
  long queueAheadOfLink(long now) {
    return aheadOfLink(estimatedQueuedBytes(now), now);
  }

  private long aheadOfLink(long queued, long now) {
    return queued == 0 ? 0 : Math.max(0, queued - (long) (drainRate() * minRtt(now) / SECOND));
  }

  /**
   * The rate at which queued bytes drain, in bytes per second: the delivery rate, or the
   * burst rate when higher. While the stream is app-limited the delivery rate is only the
   * stream's own bitrate, which turned one keyframe (five deltas' worth) into a backlog of
   * several hundred ms on a link that carried it in 50.
   */
  private double drainRate() {
    return Math.max(rate.bytesPerSecond(), burstRate);
  }

  /**
   * Returns how many bytes beyond the cap may be unacknowledged: what the link delivers while
   * acks are on their way back (two round trips, and at least 100 ms of scheduling slack), and
   * the newest frame.
   * The drain estimate lets frames go between acks; this bound stops it from crediting a
   * client that has stopped acking with drained bytes forever.
   */
  public long ackLagAllowanceBytes(long now) {
    long lag = Math.max(2 * minRtt(now), ACK_LAG_FLOOR_NANOS);
    // Plus the newest frame: a frame larger than the bandwidth-delay product is still draining,
    // unacked, when the next one should go, or the link idles a round trip between frames.
    return (long) (capRate(now) * lag / SECOND) + (sentSeq > 0 ? sizes[(int) (sentSeq & MASK)] : 0);
  }

  /**
   * The rate the in-flight cap counts on: the estimate, or the overdue bound when lower, so
   * that a link that drops under the stream stops taking frames within a few frame times
   * instead of filling kernel buffers at the old rate until the estimate catches up.
   */
  public double capRate(long now) {
    return Math.min(rate.bytesPerSecond(), overdueRateBound(now));
  }

  /** Returns the delivery-rate estimate in bytes per second, or 0 if none yet. */
  public double deliveryRateBytesPerSecond() {
    return rate.bytesPerSecond();
  }

  /** Returns the windowed min RTT in nanoseconds, or 0 if none yet. */
  public long minRttNanos(long now) {
    return minRtt(now);
  }

  /**
   * The min RTT: from probes once there is one (a probe's value stands until the next probe
   * replaces it, so an expiring window never leaves only the inflated upper bounds), else the
   * upper bounds, else 0.
   */
  private long minRtt(long now) {
    return probeRtt.get(now, upperRtt.get(now, 0));
  }

  /**
   * Returns how long, from {@code now}, until the estimated queue drains to {@code bytes}, or
   * -1 if the rate is unknown (only an ack can tell).
   */
  public long nanosUntilQueuedAtMost(long bytes, long now) {
    long queued = estimatedQueuedBytes(now);
    if (queued <= bytes) {
      return 0;
    }
    double bytesPerNano = capRate(now) / SECOND;
    if (bytesPerNano <= 0) {
      return -1;
    }
    long wait = (long) Math.ceil((queued - bytes) / bytesPerNano);
    // Closer than a timer can resolve: near enough drained.
    return wait < MIN_WAIT_NANOS ? 0 : wait;
  }

  /**
   * Records that this process itself stalled until {@code now} (a timer fired late: a GC pause,
   * a starved CPU). Acks that came in meanwhile are handled only now, so their timing is the
   * stall's, not the link's: for frames sent before {@code now}, acks handled within the next
   * {@link #LOCAL_STALL_GRACE_NANOS} give no rate or delay sample, and their frames are not
   * called overdue. Without this a 300 ms pause reads as a link that fell behind.
   */
  public void onLocalStall(long now) {
    localStallEndedAt = now;
  }

  private boolean timingSuspect(int i, long now) {
    return sentAt[i] - localStallEndedAt < 0 && now - localStallEndedAt < LOCAL_STALL_GRACE_NANOS;
  }

  /** Counts a pong that could not even be parsed as one of ours. */
  public void ignorePong() {
    pongsIgnored++;
  }

  /** Counts a client ack that could not even be parsed. */
  public void rejectAck() {
    acksRejected++;
  }

  public long pongsIgnored() {
    return pongsIgnored;
  }

  public long acksRejected() {
    return acksRejected;
  }

  /** Returns the time since the last ack, or since the first send if none, or 0 before any send. */
  long sinceLastAck(long now) {
    if (sentSeq == 0) {
      return 0;
    }
    return now - (acked ? lastAckArrivalAt : firstSendAt);
  }

  /** Returns the verdict at {@code now}. */
  public Verdict verdict(long now) {
    if (unackedFrames() > 0) {
      long oldestSentAt = sentAt[(int) ((ackedSeq + 1) & MASK)];
      if (now - Math.max(acked ? lastAckAt : oldestSentAt, oldestSentAt) > stallAfterNanos) {
        return Verdict.STALLED;
      }
    }
    if (!acked) {
      return Verdict.KEEPING_UP;
    }
    double bytesPerNano = rate.bytesPerSecond() / SECOND;
    // The frame just handed over is not a backlog: early on, with the estimate at the stream's
    // own bitrate, counting it would read one frame as a queue.
    long newest = sentSeq > ackedSeq ? sizes[(int) (sentSeq & MASK)] : 0;
    // Nor is a round trip's worth of bytes: the queue estimate drains from the last ack, which
    // left the client a one-way trip ago and was sent when its bytes had crossed, so what has
    // crossed since, or is still on its way to the bottleneck, reads as queued. At a 100 ms
    // round trip that alone read as a 100 ms backlog, and every keyframe tipped it over.
    double drainPerNano = drainRate() / SECOND;
    long backlogNanos = drainPerNano > 0
        ? (long) (Math.max(0, queueAheadOfLink(now) - newest) / drainPerNano) : 0;
    int clientLag = clientLag();
    if (queueDelayNanos > FALLING_BEHIND_DELAY_NANOS
        || backlogNanos > FALLING_BEHIND_DELAY_NANOS
        || clientLag >= FALLING_BEHIND_CLIENT_LAG
        || ackOverdue(now, bytesPerNano)) {
      return Verdict.FALLING_BEHIND;
    }
    return Verdict.KEEPING_UP;
  }

  /**
   * Whether the oldest unacked frame's ack is late: later than the queue ahead of it and its
   * own transmission take at the estimated rate, plus one and a half round trips and a margin. The first
   * sign of a rate drop, a few frame times after it, before any queueing-delay sample.
   */
  private boolean ackOverdue(long now, double bytesPerNano) {
    if (unackedFrames() == 0 || bytesPerNano <= 0) {
      return false;
    }
    int oldest = (int) ((ackedSeq + 1) & MASK);
    if (timingSuspect(oldest, now)) {
      return false;
    }
    long expected = (long) ((queuedAtSend[oldest] + sizes[oldest]) / bytesPerNano)
        + minRtt(now) * 3 / 2 + ACK_OVERDUE_MARGIN_NANOS;
    return now - sentAt[oldest] > expected;
  }

  /**
   * An upper bound on the link's rate while the oldest unacked frame is overdue: it and the
   * bytes queued ahead of it when it was sent have not all crossed in the time since (less a
   * min RTT), so the link carries less than that much per that time. Falls as the wait goes
   * on, so a drop shows in the rate within a few frame times, long before the first sample
   * of the new rate arrives (at 1 Mbit/s a 60 KB frame behind 200 KB of queue takes 2 s).
   * {@link Double#POSITIVE_INFINITY} when nothing is overdue.
   */
  private double overdueRateBound(long now) {
    double bytesPerNano = rate.bytesPerSecond() / SECOND;
    if (!ackOverdue(now, bytesPerNano)) {
      return Double.POSITIVE_INFINITY;
    }
    int oldest = (int) ((ackedSeq + 1) & MASK);
    long waited = now - sentAt[oldest] - minRtt(now);
    if (waited <= 0) {
      return Double.POSITIVE_INFINITY;
    }
    return (queuedAtSend[oldest] + sizes[oldest]) * (double) SECOND / waited;
  }

  /** The newest link-limited sample, or the overdue bound when that is lower. */
  private double latestRate(long now) {
    double bound = overdueRateBound(now);
    return latestRate > 0 ? Math.min(latestRate, bound) : bound == Double.POSITIVE_INFINITY ? 0 : bound;
  }

  private int clientLag() {
    return clientRendered < 0 ? 0 : (int) Math.min(Integer.MAX_VALUE, clientReceived - clientRendered);
  }

  /** Returns the snapshot of every figure at {@code now}. */
  public Signals snapshot(long now) {
    return new Signals(
        verdict(now),
        (long) (rate.bytesPerSecond() * 8),
        (long) (latestRate(now) * 8),
        Duration.ofNanos(minRtt(now)),
        Duration.ofNanos((long) queueDelayNanos),
        unackedBytes(),
        unackedFrames(),
        Duration.ofNanos(frameAgeNanos),
        clientLag(),
        (long) (decayedSendRate(now) * 8),
        (long) (burstRate * 8),
        acked,
        Duration.ofNanos(sinceLastAck(now)));
  }
}
