package dev.keepup.internal.send;

import dev.keepup.Frame;
import dev.keepup.FrameKind;
import dev.keepup.FrameSource;
import dev.keepup.Scheduler;
import dev.keepup.SenderListener;
import dev.keepup.SenderStats;
import dev.keepup.SkipReason;
import dev.keepup.StopReason;
import dev.keepup.Ticker;
import java.lang.System.Logger.Level;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.EnumMap;
import java.util.Iterator;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Function;

/**
 * One session's send loop: frame ticks on a deadline grid, a small latest-wins queue with
 * keyframe rules, one message in the container at a time, and exact accounting.
 *
 * <p>Events arrive on three kinds of thread: the scheduler (ticks), the container (send
 * completions) and the host's (start, close, stats). All state is guarded by {@link #lock};
 * the container's send is called outside it. Work is serialized by a work-in-progress
 * counter, so a container that completes a send inline, inside {@code sendBinary}, makes the
 * outer loop go round again instead of recursing once per frame.
 */
public final class SendLoop implements Transport.Completion {
  private static final System.Logger LOG = System.getLogger("dev.keepup");
  private static final long SECOND = 1_000_000_000L;
  private static final double LATENCY_EWMA_WEIGHT = 1.0 / 8;

  /** Everything the builder decided; validated there. */
  public record Config(
      FrameSource source,
      SenderListener listener,
      Ticker ticker,
      Scheduler scheduler,
      double frameIntervalNanos,
      long maxBytesPerSecond,
      int maxFrameBytes,
      int maxPendingFrames,
      long staleAfterNanos,
      int maxConsecutiveSourceFailures) {}

  private enum State { NEW, RUNNING, STOPPED }

  private final Config config;
  private final Transport transport;
  private final ReentrantLock lock = new ReentrantLock();
  private final AtomicInteger workInProgress = new AtomicInteger();
  private final Runnable wakeTask = this::onWake;

  // Guarded by lock.
  private State state = State.NEW;
  private StopReason stopReason;
  private final ArrayDeque<Frame> pending;
  private Frame lastTaken;
  private Frame inFlight;
  private long inFlightSince;
  private long nextTickAt;
  /** The deadline grid: tick n is due at gridStart + ceil(n * interval), with no rounding drift. */
  private long gridStart;
  private long ticksOnGrid;
  private long earliestNextSendAt;
  private Scheduler.Cancellable wake;
  private long wakeAt = Long.MAX_VALUE;
  /** The rendition whose reference chain the client holds, or -1 until the next KEY. */
  private int chainRendition = -1;
  private int keyRequestedFor = -1;
  private long keyRequestedAt;
  private int consecutiveSourceFailures;

  private long framesTaken;
  private long framesSent;
  private long framesCompleted;
  private long framesFailed;
  private final long[] skipped = new long[SkipReason.values().length];
  private long bytesSent;
  private long bytesCompleted;
  private long sourceFailures;
  private long listenerFailures;
  private double latencyAvgNanos;
  private long latencyMaxNanos;
  private long lastCompletionAt;
  private double completionIntervalAvgNanos;

  public SendLoop(Config config, Function<Transport.Completion, Transport> transportFactory) {
    this.config = config;
    this.transport = transportFactory.apply(this);
    this.pending = new ArrayDeque<>(config.maxPendingFrames() + 1);
  }

  /** Starts ticking; the first frame is taken at once. */
  public void start() {
    lock.lock();
    try {
      if (state != State.NEW) {
        throw new IllegalStateException("sender already " + (state == State.RUNNING ? "started" : "stopped"));
      }
      state = State.RUNNING;
      nextTickAt = config.ticker().read();
      gridStart = nextTickAt;
      earliestNextSendAt = nextTickAt;
    } finally {
      lock.unlock();
    }
    pump();
  }

  /** Stops the loop with {@link StopReason#CLOSED}; idempotent, safe from any thread. */
  public void close() {
    lock.lock();
    try {
      stop(StopReason.CLOSED, null);
    } finally {
      lock.unlock();
    }
  }

  /** Returns whether the loop has started and not stopped. */
  public boolean isRunning() {
    lock.lock();
    try {
      return state == State.RUNNING;
    } finally {
      lock.unlock();
    }
  }

  @Override
  public void onSendComplete(Throwable errorOrNull) {
    lock.lock();
    try {
      complete(config.ticker().read(), errorOrNull);
    } finally {
      lock.unlock();
    }
    pump();
  }

  private void onWake() {
    lock.lock();
    try {
      wake = null;
      wakeAt = Long.MAX_VALUE;
    } finally {
      lock.unlock();
    }
    pump();
  }

  /** Runs steps until no event is left unprocessed; only one thread at a time gets past the counter. */
  private void pump() {
    if (workInProgress.getAndIncrement() != 0) {
      return;
    }
    int missed = 1;
    do {
      Frame toSend;
      lock.lock();
      try {
        toSend = step(config.ticker().read());
      } finally {
        lock.unlock();
      }
      if (toSend != null) {
        transmit(toSend);
      }
      missed = workInProgress.addAndGet(-missed);
    } while (missed != 0);
  }

  private void transmit(Frame frame) {
    try {
      transport.sendBinary(frame.payload().duplicate());
    } catch (RuntimeException refused) {
      // Tomcat throws on an overlapping send and most containers on a closed session: either
      // way this frame has failed, and the completion path stops the loop.
      onSendComplete(refused);
    }
  }

  /** Advances the loop to {@code now}; returns the frame to hand to the container, if any. */
  private Frame step(long now) {
    if (state != State.RUNNING) {
      return null;
    }
    if (!transport.isOpen()) {
      stop(StopReason.SESSION_CLOSED, null);
      return null;
    }
    if (now - nextTickAt >= 0) {
      tick(now);
      if (state != State.RUNNING) {
        return null;
      }
    }
    Frame frame = nextToSend(now);
    if (frame != null) {
      inFlight = frame;
      inFlightSince = now;
      framesSent++;
      bytesSent += frame.size();
      earliestNextSendAt = config.maxBytesPerSecond() > 0
          ? now + frame.size() * SECOND / config.maxBytesPerSecond()
          : now;
    }
    scheduleWake(now);
    return frame;
  }

  private void tick(long now) {
    double interval = config.frameIntervalNanos();
    ticksOnGrid++;
    long next = gridStart + (long) Math.ceil(ticksOnGrid * interval);
    if (next - now <= 0) {
      // A tick was missed (a stall, a late timer): start a new grid rather than burst to catch up.
      gridStart = now;
      ticksOnGrid = 1;
      next = now + (long) Math.ceil(interval);
    }
    nextTickAt = next;
    Frame frame;
    try {
      frame = config.source().poll(0);
    } catch (RuntimeException | LinkageError failure) {
      sourceFailed(new IllegalStateException("frame source threw", failure));
      return;
    }
    if (frame == null || frame == lastTaken) {
      return;
    }
    lastTaken = frame;
    framesTaken++;
    if (frame.size() > config.maxFrameBytes()) {
      skip(frame, SkipReason.TOO_LARGE);
      sourceFailed(new IllegalArgumentException(
          "frame size exceeds maxFrameBytes (" + config.maxFrameBytes() + "): " + frame.size()));
      return;
    }
    consecutiveSourceFailures = 0;
    admit(frame);
  }

  /** Queues a fresh frame under the keyframe rules; the queue never exceeds its bound. */
  private void admit(Frame frame) {
    if (frame.kind() == FrameKind.KEY) {
      while (!pending.isEmpty()) {
        skip(pending.poll(), SkipReason.SUPERSEDED);
      }
      chainRendition = frame.rendition();
      keyRequestedFor = -1;
      pending.add(frame);
      return;
    }
    if (frame.rendition() != chainRendition) {
      skip(frame, SkipReason.BROKEN_REFERENCE);
      requestKeyFrame(frame.rendition());
      return;
    }
    if (pending.size() >= config.maxPendingFrames()) {
      if (!shedOldestDisposable()) {
        if (frame.kind() == FrameKind.DISPOSABLE) {
          skip(frame, SkipReason.SUPERSEDED);
          return;
        }
        // Every queued frame is a reference the client needs: keep them, drop the newcomer, and
        // skip the rest of this chain until the next keyframe.
        skip(frame, SkipReason.BROKEN_REFERENCE);
        chainRendition = -1;
        requestKeyFrame(frame.rendition());
        return;
      }
    }
    pending.add(frame);
  }

  private boolean shedOldestDisposable() {
    for (Iterator<Frame> it = pending.iterator(); it.hasNext(); ) {
      Frame queued = it.next();
      if (queued.kind() == FrameKind.DISPOSABLE) {
        it.remove();
        skip(queued, SkipReason.SUPERSEDED);
        return true;
      }
    }
    return false;
  }

  private Frame nextToSend(long now) {
    if (inFlight != null || pending.isEmpty() || now - earliestNextSendAt < 0) {
      return null;
    }
    while (!pending.isEmpty()) {
      Frame head = pending.poll();
      if (now - head.captureTimeNanos() <= config.staleAfterNanos()) {
        return head;
      }
      skip(head, SkipReason.STALE);
      if (head.kind() != FrameKind.DISPOSABLE) {
        breakChain(head.rendition());
      }
    }
    return null;
  }

  /** A reference frame is lost: every queued frame that depends on it is undecodable. */
  private void breakChain(int rendition) {
    chainRendition = -1;
    for (Iterator<Frame> it = pending.iterator(); it.hasNext(); ) {
      Frame queued = it.next();
      if (queued.kind() != FrameKind.KEY) {
        it.remove();
        skip(queued, SkipReason.BROKEN_REFERENCE);
      }
    }
    requestKeyFrame(rendition);
  }

  private void requestKeyFrame(int rendition) {
    long now = config.ticker().read();
    // Once per break, and again each second while it lasts in case the encoder missed it.
    if (rendition == keyRequestedFor && now - keyRequestedAt < SECOND) {
      return;
    }
    keyRequestedFor = rendition;
    keyRequestedAt = now;
    try {
      config.source().requestKeyFrame(rendition);
    } catch (RuntimeException | LinkageError failure) {
      sourceFailed(new IllegalStateException("frame source threw on requestKeyFrame", failure));
    }
  }

  private void complete(long now, Throwable error) {
    Frame frame = inFlight;
    if (frame == null) {
      // Containers call back once per send; a second call would be their bug, not a frame.
      LOG.log(Level.WARNING, "keepup: session {0}: send completion without a send in flight", transport.id());
      return;
    }
    inFlight = null;
    long latency = now - inFlightSince;
    if (error == null) {
      framesCompleted++;
      bytesCompleted += frame.size();
      latencyAvgNanos = framesCompleted == 1 ? latency : latencyAvgNanos + (latency - latencyAvgNanos) * LATENCY_EWMA_WEIGHT;
      latencyMaxNanos = Math.max(latencyMaxNanos, latency);
      recordCompletionInterval(now);
      try {
        config.listener().onFrameCompleted(frame, latency);
      } catch (RuntimeException | LinkageError failure) {
        listenerFailed(failure);
      }
    } else {
      framesFailed++;
      try {
        config.listener().onFrameFailed(frame, error);
      } catch (RuntimeException | LinkageError failure) {
        listenerFailed(failure);
      }
      if (state == State.RUNNING) {
        boolean gone = !transport.isOpen();
        if (!gone) {
          LOG.log(Level.WARNING, "keepup: session " + transport.id() + ": send failed; stopping", error);
        }
        stop(gone ? StopReason.SESSION_CLOSED : StopReason.SEND_FAILED, error);
      }
    }
  }

  private void recordCompletionInterval(long now) {
    if (framesCompleted > 1) {
      double interval = now - lastCompletionAt;
      // Weight by elapsed time, so the average spans about a second at any frame rate.
      double weight = -Math.expm1(-interval / SECOND);
      completionIntervalAvgNanos = framesCompleted == 2
          ? interval
          : completionIntervalAvgNanos + (interval - completionIntervalAvgNanos) * weight;
    }
    lastCompletionAt = now;
  }

  private void sourceFailed(Throwable error) {
    sourceFailures++;
    consecutiveSourceFailures++;
    // Log the 1st, 2nd, 4th, 8th... so a source failing every other tick cannot flood the log.
    if (Long.bitCount(sourceFailures) == 1) {
      LOG.log(Level.WARNING, "keepup: session " + transport.id() + ": source failure #" + sourceFailures, error);
    }
    try {
      config.listener().onSourceError(error);
    } catch (RuntimeException | LinkageError failure) {
      listenerFailed(failure);
    }
    if (consecutiveSourceFailures >= config.maxConsecutiveSourceFailures() && state == State.RUNNING) {
      stop(StopReason.SOURCE_FAILED, error);
    }
  }

  private void skip(Frame frame, SkipReason reason) {
    skipped[reason.ordinal()]++;
    try {
      config.listener().onFrameSkipped(frame, reason);
    } catch (RuntimeException | LinkageError failure) {
      listenerFailed(failure);
    }
  }

  private void stop(StopReason reason, Throwable cause) {
    if (state == State.STOPPED) {
      return;
    }
    state = State.STOPPED;
    stopReason = reason;
    if (wake != null) {
      wake.cancel();
      wake = null;
      wakeAt = Long.MAX_VALUE;
    }
    while (!pending.isEmpty()) {
      skip(pending.poll(), SkipReason.CLOSED);
    }
    // A frame still in flight stays counted as such until the container reports it.
    try {
      config.listener().onStopped(reason, cause);
    } catch (RuntimeException | LinkageError failure) {
      listenerFailed(failure);
    }
  }

  private void scheduleWake(long now) {
    long at = nextTickAt;
    if (inFlight == null && !pending.isEmpty() && earliestNextSendAt - at < 0) {
      at = earliestNextSendAt;
    }
    if (wake != null && wakeAt - at <= 0) {
      return;
    }
    if (wake != null) {
      wake.cancel();
    }
    wakeAt = at;
    wake = config.scheduler().schedule(wakeTask, at - now);
  }

  private void listenerFailed(Throwable failure) {
    listenerFailures++;
    if (Long.bitCount(listenerFailures) == 1) {
      LOG.log(Level.WARNING, "keepup: session " + transport.id() + ": listener threw (#" + listenerFailures + "); ignored", failure);
    }
  }

  /** Returns a consistent snapshot of the counters. */
  public SenderStats stats() {
    lock.lock();
    try {
      long now = config.ticker().read();
      Map<SkipReason, Long> byReason = new EnumMap<>(SkipReason.class);
      for (SkipReason reason : SkipReason.values()) {
        byReason.put(reason, skipped[reason.ordinal()]);
      }
      double fps = 0;
      if (framesCompleted > 1) {
        double interval = Math.max(completionIntervalAvgNanos, now - lastCompletionAt);
        fps = interval > 0 ? SECOND / interval : 0;
      }
      return new SenderStats(
          framesTaken,
          framesSent,
          framesCompleted,
          framesFailed,
          byReason,
          pending.size(),
          inFlight == null ? 0 : 1,
          bytesSent,
          bytesCompleted,
          inFlight == null ? 0 : inFlight.size(),
          fps,
          Duration.ofNanos((long) latencyAvgNanos),
          Duration.ofNanos(latencyMaxNanos),
          sourceFailures,
          stopReason);
    } finally {
      lock.unlock();
    }
  }
}
