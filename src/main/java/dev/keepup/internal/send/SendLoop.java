package dev.keepup.internal.send;

import dev.keepup.AdaptationPolicy;
import dev.keepup.Decision;
import dev.keepup.Frame;
import dev.keepup.FrameKind;
import dev.keepup.FrameSource;
import dev.keepup.Ladder;
import dev.keepup.Scheduler;
import dev.keepup.SenderListener;
import dev.keepup.SenderStats;
import dev.keepup.Signals;
import dev.keepup.Verdict;
import dev.keepup.internal.signal.DeliveryTracker;
import dev.keepup.SkipReason;
import dev.keepup.StopReason;
import dev.keepup.Ticker;
import java.lang.System.Logger.Level;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.EnumMap;
import java.util.Iterator;
import java.util.Map;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadLocalRandom;
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
  /** Acks allowed per frame on average: a pong and a client ack, with room for both kinds twice. */
  private static final int ACKS_PER_FRAME = 4;
  private static final int ACK_FLOOD_BURST = 64;
  private static final long UNPACED_ACKS_PER_SECOND = 100_000;
  private static final long UNPACED_RETRY_NANOS = 1_000_000L;
  /**
   * How long one pass may keep sending unpaced on a thread that is not the scheduler's (the
   * caller of start, a container I/O thread) before it hands the loop to the scheduler: a
   * container that completes every send inline would otherwise keep that thread for good.
   */
  private static final long UNPACED_FOREIGN_PASS_NANOS = 2_000_000L;
  /**
   * The same bound on a scheduler thread, there for the other senders sharing it. Longer,
   * because a hand-off is dear on a busy machine: the woken thread waits for a core, and on
   * the project's 2-core machine a 2 ms bound cost 25-30% of 1 KiB throughput (6 interleaved
   * rounds each, CoreBenchmark), 50 ms about 5%.
   */
  private static final long UNPACED_SCHEDULER_PASS_NANOS = 20_000_000L;
  /** Bounds a pass as well, for a ticker that does not move within it (virtual time). */
  private static final int UNPACED_MAX_SENDS_PER_PASS = 4096;
  /**
   * The skipped fraction looks back about half a second, in time rather than frames: counted
   * per frame, a stream slowed to 1 fps took 25 s to forget the skips of a drop, and held its
   * frame rate down all that while.
   */
  private static final double SKIP_TIME_CONSTANT_NANOS = 500_000_000.0;
  private static final long NO_PING = -1;
  private static final long PROBE = 0;
  /** Completion-only: a send latency average past this means kernel buffers are full. */
  private static final long COMPLETION_FALLING_BEHIND_NANOS = 100_000_000L;
  /** A tick this late means this process stalled (GC, starved CPU), not the link. */
  private static final long LOCAL_STALL_NANOS = 50_000_000L;
  /** No pong or client ack this long after the first send means the client never answers. */
  private static final long PINGS_UNANSWERED_AFTER_NANOS = 3 * SECOND;
  /**
   * At most one ping after frames per millisecond. A ping is a hop to the ping executor with no
   * frame sent meanwhile, dear when frames are small and come back to back: pinging each 1 KiB
   * frame of an unpaced stream over loopback cut its throughput to 0.15 of a raw send loop,
   * one a millisecond to 0.70-0.73 (bench/run-core.sh). At frame rates below 1000 fps it
   * never binds; above, the in-flight cap still asks for its own pings, unspaced, whenever it
   * holds a frame for acks.
   */
  private static final long MIN_PING_SPACING_NANOS = 1_000_000L;

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
      int maxConsecutiveSourceFailures,
      int pingEvery,
      boolean clientAcks,
      boolean registerHandlers,
      boolean closeOnBadAck,
      long minInFlightBytes,
      long maxInFlightBytes,
      long stallAfterNanos,
      Executor pingExecutor,
      Ladder ladder,
      AdaptationPolicy policy,
      int startRendition) {

    boolean acksExpected() {
      return pingEvery > 0 || clientAcks;
    }

    double maxFramesPerSecond() {
      return frameIntervalNanos == 0 ? 1000 : 1e9 / frameIntervalNanos;
    }
  }

  private enum State { NEW, RUNNING, STOPPED }

  private final Config config;
  private final Transport transport;
  private final ReentrantLock lock = new ReentrantLock();
  private final AtomicInteger workInProgress = new AtomicInteger();
  /**
   * The thread inside {@code sendBinary} for this loop, if any. Written only by the thread
   * that holds the work counter; read by completions on any thread, which need only know
   * whether it is themselves (a thread never reads its own old write back).
   */
  private Thread inlineThread;
  /** A completion that came inside sendBinary, for the loop's next step; loop thread only. */
  private boolean completedInline;
  private Throwable inlineError;
  private final Runnable wakeTask = this::onWake;

  // Guarded by lock.
  private State state = State.NEW;
  /** {@code state == STOPPED}, readable without the lock. */
  private volatile boolean stopped;
  private StopReason stopReason;
  private final ArrayDeque<Frame> pending;
  /**
   * The last frame taken per rendition: a source asked again with nothing new returns the same
   * frame, and a switch asks two renditions a tick, so one slot would take a frame twice.
   */
  private final Frame[] lastTaken = new Frame[64];
  private Frame inFlight;
  private long inFlightSince;
  private long nextTickAt;
  /** The deadline grid: tick n is due at gridStart + ceil(n * interval), with no rounding drift. */
  private long gridStart;
  private long ticksOnGrid;
  private long earliestNextSendAt;
  private long capWakeAt = Long.MAX_VALUE;
  private Scheduler.Cancellable wake;
  private long wakeAt = Long.MAX_VALUE;
  /** The rendition whose reference chain the client holds, or -1 until the next KEY. */
  private int chainRendition = -1;
  private final boolean[] keyRequested = new boolean[64];
  private final long[] keyRequestedAt = new long[64];
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
  private long floodedAcks;
  private double latencyAvgNanos;
  private long latencyMaxNanos;
  private long lastCompletionAt;
  private double completionIntervalAvgNanos;

  // Acks: pings after frames, pongs and client acks coming back. Null tracker: completion only.
  private final DeliveryTracker tracker;
  private final int pingNonce = ThreadLocalRandom.current().nextInt();
  private final Runnable pingTask = this::sendPing;
  /** The frame whose ping is due next, or 0; a due ping goes before the next frame. */
  private long pingDueFor;
  /** The frame the newest ping acknowledges (0: none yet). */
  private long lastPingSeq;
  /** When the last ping after a frame started: pings are spaced (see pingDue). */
  private long lastPingAt;
  /** Whether the last look for a frame to send found one held back by the in-flight cap. */
  private boolean capHeld;
  /**
   * What a ping thread is sending: a frame's sequence number, {@link #PROBE} for an RTT probe,
   * or {@link #NO_PING}. No frame is sent meanwhile, so the ping keeps its place in the stream.
   */
  private long pingInFlightFor = NO_PING;
  private boolean pingDispatched;
  private boolean closeForViolationDue;
  private boolean handlersReleased;
  /** Set by a step whose pass has used its time; only the thread running the pass reads it. */
  private boolean handoffDue;
  /** Whether the source has given a frame that is not a keyframe: an inter-coded stream. */
  private boolean interCoded;
  private long pingsSent;
  private long pingFailures;
  private long firstPingAt;
  private long firstSentAt;
  /** True once pings went unanswered long enough to conclude the client never answers them. */
  private boolean pingsUnanswered;
  private long acksAccepted;
  private long ackFloodTokens;
  private long ackFloodRefilledAt;
  private Verdict verdict = Verdict.KEEPING_UP;
  private Frame lastAdmitted;
  private Decision decision;
  private double intervalNanos;
  private long lastSwitchAt;
  private long renditionSwitches;
  /** Sends made by the current pump pass; only the thread holding the work counter touches it. */
  private int sendsThisPass;
  private long passStartedAt;
  private long passBudgetNanos;
  /** The rendition of the last keyframe taken, kept across broken chains to count switches. */
  private int lastRendition = -1;
  private long policyFailures;
  /** Time-decayed counts of skips and of all frames (skips and sends), for the skipped fraction. */
  private double recentSkips;
  private double recentFrames;
  private long recentFramesAt;
  private long lastAdmittedAt;
  /** When a frame held by the cap last had the source asked for a fresher one. */
  private long refreshedAt = Long.MIN_VALUE;

  public SendLoop(Config config, Function<Transport.Completion, Transport> transportFactory) {
    this.config = config;
    this.transport = transportFactory.apply(this);
    this.pending = new ArrayDeque<>(config.maxPendingFrames() + 1);
    this.tracker = config.acksExpected() ? new DeliveryTracker(config.stallAfterNanos()) : null;
    this.intervalNanos = config.frameIntervalNanos();
    this.decision = new Decision(config.startRendition(),
        Math.min(config.maxFramesPerSecond(), config.ladder().topFrameRate()), "start");
    if (config.frameIntervalNanos() > 0 && config.policy() != null) {
      this.intervalNanos = 1e9 / decision.framesPerSecond();
    }
  }

  /** Starts ticking; the first frame is taken at once. */
  public void start() {
    lock.lock();
    try {
      if (state != State.NEW) {
        throw new IllegalStateException("sender already " + (state == State.RUNNING ? "started" : "stopped"));
      }
      if (config.registerHandlers()) {
        // Pongs answer RTT probes too, so the handler goes in whenever acks are expected.
        if (tracker != null && !transport.addPongHandler(this::acceptPong)) {
          throw new IllegalStateException("session " + transport.id() + " already has a pong handler:"
              + " build with registerMessageHandlers(false) and pass pongs to acceptPong");
        }
        if (config.clientAcks() && !transport.addTextHandler(this::acceptClientAck)) {
          throw new IllegalStateException("session " + transport.id() + " already has a text handler:"
              + " build with registerMessageHandlers(false) and pass text messages to acceptClientAck");
        }
      }
      state = State.RUNNING;
      nextTickAt = config.ticker().read();
      gridStart = nextTickAt;
      lastSwitchAt = nextTickAt;
      earliestNextSendAt = nextTickAt;
      ackFloodRefilledAt = nextTickAt;
      ackFloodTokens = ACK_FLOOD_BURST;
      lastPingAt = nextTickAt - MIN_PING_SPACING_NANOS;
    } finally {
      lock.unlock();
    }
    pump();
  }

  /**
   * Takes a pong's payload; returns whether it acknowledged a frame. Pongs that are not this
   * sender's, repeat or go backwards are counted and ignored.
   */
  public boolean acceptPong(ByteBuffer payload) {
    if (tracker == null) {
      return false;
    }
    try {
      return takePong(payload);
    } finally {
      closeIfViolated();
    }
  }

  private boolean takePong(ByteBuffer payload) {
    long seq = AckProtocol.parsePong(payload, pingNonce);
    boolean accepted;
    lock.lock();
    try {
      long now = config.ticker().read();
      if (state != State.RUNNING || !takeAckToken(now)) {
        return false;
      }
      noticeLocalStall(now);
      accepted = seq == AckProtocol.PROBE_SEQ ? tracker.onProbePong(now)
          : seq != AckProtocol.MALFORMED && tracker.onPong(seq, now);
      if (accepted) {
        ackArrived();
      } else if (seq == AckProtocol.MALFORMED) {
        tracker.ignorePong();
      }
    } finally {
      lock.unlock();
    }
    if (accepted) {
      pump();
    }
    return accepted;
  }

  /**
   * Takes a text message that may be a client ack; returns false if it is not one (it does
   * not start with the protocol's prefix), true if it was handled, accepted or rejected.
   */
  public boolean acceptClientAck(String text) {
    if (text == null || !text.startsWith(AckProtocol.ACK_PREFIX)) {
      return false;
    }
    if (tracker == null || !config.clientAcks()) {
      return true;
    }
    try {
      takeClientAck(text);
    } finally {
      closeIfViolated();
    }
    return true;
  }

  private void takeClientAck(String text) {
    boolean accepted;
    lock.lock();
    try {
      long now = config.ticker().read();
      if (state != State.RUNNING) {
        return;
      }
      if (!takeAckToken(now)) {
        return; // shed and counted as a flood
      }
      noticeLocalStall(now);
      AckProtocol.ClientAck ack = AckProtocol.parseClientAck(text);
      accepted = ack != null
          && tracker.onClientAck(ack.received(), (long) (ack.receivedAtMillis() * 1e6), ack.rendered(), now);
      if (accepted) {
        ackArrived();
      } else {
        if (ack == null) {
          tracker.rejectAck();
        }
        badAck("client ack rejected: " + abbreviate(text));
      }
    } finally {
      lock.unlock();
    }
    if (accepted) {
      pump();
    }
  }

  private static String abbreviate(String text) {
    return text.length() <= 40 ? text : text.substring(0, 40) + "...";
  }

  /**
   * An ack handled while the loop's timer is long overdue was held up by a stall of this
   * process (GC, starved CPU), whichever thread got going first: its timing is not the link's.
   */
  private void noticeLocalStall(long now) {
    if (tracker != null && !unpaced() && wake != null && now - wakeAt > LOCAL_STALL_NANOS) {
      tracker.onLocalStall(now);
    }
  }

  private void ackArrived() {
    acksAccepted++;
    if (pingsUnanswered) {
      pingsUnanswered = false;
      LOG.log(Level.INFO, "keepup: session {0}: acks arrived; the in-flight cap is back on", transport.id());
    }
  }

  /** Acks beyond a few per frame are a flood: each costs a lock and a parse, so they are shed. */
  private boolean takeAckToken(long now) {
    long perSecond = unpaced()
        ? UNPACED_ACKS_PER_SECOND
        : (long) (ACKS_PER_FRAME * SECOND / (1e9 / config.maxFramesPerSecond())) + ACK_FLOOD_BURST;
    // Capped before multiplying: after a day without acks the product would overflow.
    long refill = Math.min(now - ackFloodRefilledAt, SECOND) * perSecond / SECOND;
    if (refill > 0) {
      ackFloodTokens = Math.min(ACK_FLOOD_BURST, ackFloodTokens + refill);
      ackFloodRefilledAt = now;
    }
    if (ackFloodTokens > 0) {
      ackFloodTokens--;
      return true;
    }
    floodedAcks++;
    if (Long.bitCount(floodedAcks) == 1) {
      LOG.log(Level.WARNING, "keepup: session {0}: ack flood, {1} acks shed", transport.id(), floodedAcks);
    }
    badAck("ack flood");
    return false;
  }

  private void badAck(String why) {
    if (config.closeOnBadAck() && state == State.RUNNING) {
      LOG.log(Level.WARNING, "keepup: session {0}: {1}; closing with 1008", transport.id(), why);
      stop(StopReason.PROTOCOL_VIOLATION, new IllegalArgumentException(why));
      // Closed once the lock is released: a close can block (Tomcat writes the close frame
      // blocking, behind a send in progress), and a scheduler thread must never wait on it.
      closeForViolationDue = true;
    }
  }

  /** Called with the lock released, after an ack or pong was handled. */
  private void closeIfViolated() {
    boolean close;
    lock.lock();
    try {
      close = closeForViolationDue;
      closeForViolationDue = false;
    } finally {
      lock.unlock();
    }
    if (close) {
      transport.closeForViolation("keepup: invalid ack");
    }
    releaseIfStopped();
  }

  /** Stops the loop with {@link StopReason#CLOSED}; idempotent, safe from any thread. */
  public void close() {
    lock.lock();
    try {
      stop(StopReason.CLOSED, null);
    } finally {
      lock.unlock();
    }
    releaseIfStopped();
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
    if (Thread.currentThread() == inlineThread && !completedInline) {
      // Inside sendBinary, on the loop's own thread (the socket took the write at once): the
      // loop takes the completion on its next step, under the lock it takes anyway, instead
      // of a lock, a clock read and a pass of its own here: unpaced over a no-op session, 125
      // ns a frame instead of 194 (CoreBenchmark), for small frames sent back to back.
      completedInline = true;
      inlineError = errorOrNull;
      return;
    }
    lock.lock();
    try {
      complete(config.ticker().read(), errorOrNull);
    } catch (RuntimeException | Error failure) {
      // A clock or a bug that throws here must not reach the container's thread, nor leave
      // the frame in flight: it fails with the loop (complete() clears inFlight once it counts).
      internalFailure(failure, inFlight);
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
    pump(UNPACED_SCHEDULER_PASS_NANOS);
  }

  /** Runs steps until no event is left unprocessed; only one thread at a time gets past the counter. */
  private void pump() {
    pump(UNPACED_FOREIGN_PASS_NANOS);
  }

  /** {@code budgetNanos}: how long this pass may send unpaced, if it is this thread's to run. */
  private void pump(long budgetNanos) {
    if (workInProgress.getAndIncrement() != 0) {
      return;
    }
    int missed = 1;
    sendsThisPass = 0;
    passBudgetNanos = budgetNanos;
    do {
      Frame toSend;
      boolean ping;
      lock.lock();
      Frame inFlightBefore = inFlight;
      // Taken out before anything can throw: a pending inline completion left set would send
      // this thread round again for good (see the end of the loop).
      boolean inlinePending = completedInline;
      Throwable inlineFailure = inlineError;
      completedInline = false;
      inlineError = null;
      try {
        long now = config.ticker().read();
        if (inlinePending) {
          complete(now, inlineFailure);
          inlinePending = false;
          inFlightBefore = inFlight;
        }
        toSend = step(now);
        ping = toSend == null && pingInFlightFor != NO_PING && !pingDispatched;
        pingDispatched |= ping;
      } catch (RuntimeException | Error failure) {
        // Nothing in a step should throw; if something does (a shut-down scheduler, a bug),
        // stop cleanly rather than leave the loop wedged behind its work counter.
        toSend = null;
        ping = false;
        // A frame made in flight by this step, or one whose inline completion was never
        // taken: either way it fails with the loop, so that it is accounted for.
        internalFailure(failure, inlinePending || inFlight != inFlightBefore ? inFlight : null);
      } finally {
        lock.unlock();
      }
      if (toSend != null) {
        inlineThread = Thread.currentThread();
        try {
          transmit(toSend);
        } finally {
          inlineThread = null;
        }
      } else if (ping) {
        dispatchPing();
      }
      if (handoffDue) {
        // Let go of the counter entirely, then queue the task that goes on: whatever arrived
        // meanwhile (a completion, a wake) is covered by that task. Going round again instead
        // would race every wake against this thread and keep two threads trading the loop.
        workInProgress.set(0);
        handOff();
        break;
      }
      if (!completedInline) {
        // (With a completion taken inline, this thread goes round again: it is this pass's.)
        missed = workInProgress.addAndGet(-missed);
      }
    } while (missed != 0);
    releaseIfStopped();
  }

  private void handOff() {
    lock.lock();
    try {
      handoffDue = false;
      long now = config.ticker().read();
      if (state == State.RUNNING && (wake == null || wakeAt - now > 0)) {
        if (wake != null) {
          wake.cancel();
        }
        wakeAt = now;
        wake = config.scheduler().schedule(wakeTask, 0);
      }
    } catch (RuntimeException | Error failure) {
      internalFailure(failure, null);
    } finally {
      lock.unlock();
    }
  }

  /** Under the lock: a step threw; {@code taken} is a frame it made in flight but never sent. */
  private void internalFailure(Throwable failure, Frame taken) {
    LOG.log(Level.ERROR, "keepup: session " + transport.id() + ": internal error; stopping", failure);
    if (taken != null) {
      inFlight = null;
      framesFailed++;
      try {
        config.listener().onFrameFailed(taken, failure);
      } catch (RuntimeException | Error listenerFailure) {
        listenerFailed(listenerFailure);
      }
    }
    stop(StopReason.INTERNAL_ERROR, failure);
  }

  /** With the lock released: once stopped, the session gets its handlers back. */
  private void releaseIfStopped() {
    if (!stopped) {
      // Read without the lock: every pass ends here, and a lock taken once more per frame is
      // one more place for a completion on another thread to queue behind the loop.
      return;
    }
    boolean release;
    lock.lock();
    try {
      release = state == State.STOPPED && !handlersReleased;
      handlersReleased |= release;
    } finally {
      lock.unlock();
    }
    if (release) {
      transport.removeHandlers();
    }
  }

  /**
   * Hands the due ping to the ping executor. Pings are synchronous in the Jakarta API (Tomcat
   * writes them blocking), so they run where a rare block stalls this session only: never on
   * the shared scheduler or a container I/O thread.
   */
  private void dispatchPing() {
    try {
      config.pingExecutor().execute(pingTask);
    } catch (RuntimeException saturatedOrShutDown) {
      pingDone(false, saturatedOrShutDown);
    }
  }

  private void sendPing() {
    long seq;
    lock.lock();
    try {
      seq = pingInFlightFor;
      // Recorded before the write: a fast client's pong can arrive before sendPing returns.
      long now = config.ticker().read();
      if (seq == PROBE) {
        tracker.onProbeSent(now);
      } else {
        tracker.onPingSent(seq, now);
      }
    } finally {
      lock.unlock();
    }
    try {
      transport.sendPing(AckProtocol.pingPayload(pingNonce, seq));
      pingDone(true, null);
    } catch (IOException | RuntimeException failure) {
      pingDone(false, failure);
    }
  }

  private void pingDone(boolean sent, Throwable failure) {
    lock.lock();
    try {
      long now = config.ticker().read();
      long seq = pingInFlightFor;
      pingInFlightFor = NO_PING;
      pingDispatched = false;
      if (sent) {
        pingsSent++;
        if (firstPingAt == 0) {
          firstPingAt = now;
        }
      } else {
        if (seq != NO_PING) {
          // Counted as an attempt: a ping that cannot go now must not be retried at once, or a
          // saturated ping pool would spin this loop.
          tracker.onPingFailed(seq, now);
        }
        pingFailures++;
        if (state == State.RUNNING && !transport.isOpen()) {
          stop(StopReason.SESSION_CLOSED, failure);
        } else if (Long.bitCount(pingFailures) == 1) {
          LOG.log(Level.WARNING, "keepup: session " + transport.id() + ": ping failed (#" + pingFailures + ")", failure);
        }
      }
    } finally {
      lock.unlock();
    }
    pump();
  }

  private void transmit(Frame frame) {
    try {
      transport.sendBinary(frame.payload().duplicate());
    } catch (RuntimeException | Error refused) {
      // Tomcat throws on an overlapping send and most containers on a closed session: either
      // way this frame has failed, and the completion path stops the loop. An Error too: if it
      // went through, the loop would stay wedged behind its work counter, the frame in flight.
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
    if (sendsThisPass == 0) {
      passStartedAt = now;
    }
    boolean tickDue = now - nextTickAt >= 0 && (!unpaced() || readyForFrame(now));
    if (tickDue && unpaced() && !passMaySend(now)) {
      // This pass has had its time: the loop goes on from a scheduler task, once this pass
      // has let go of the work counter (see pump).
      tickDue = false;
      handoffDue = true;
    }
    if (tickDue) {
      tick(now);
      if (state != State.RUNNING) {
        return null;
      }
    }
    if (inFlight == null && pingInFlightFor == NO_PING) {
      if (pingDue(now)) {
        // The ping goes right after its frame completed, when the socket has just taken data.
        startPing(pingDueFor, now);
      } else if (pingDueFor == 0 && tracker != null && !pingsUnanswered && tracker.rttProbeDue(now)) {
        // Nothing is queued toward the client: a ping now measures the bare round trip.
        pingInFlightFor = PROBE;
      }
    }
    Frame frame = pingInFlightFor == NO_PING ? nextToSend(now) : null;
    if (frame == null && capHeld && pingInFlightFor == NO_PING && inFlight == null
        && config.pingEvery() > 0 && framesSent > lastPingSeq) {
      // The cap holds a frame until acks come, and the newest frames sent have no ping behind
      // them: with pingEvery(k) the next ping was due after a frame the cap will not let go,
      // and the sender waited out the stall timeout (17 frames in 10 s at 2 Mbit/s); or the
      // ping waits out its spacing. Nothing else can go now, so the ping costs nothing: ask.
      startPing(framesSent, now);
    }
    if (frame != null) {
      sendsThisPass++;
      if (framesSent == 0) {
        firstSentAt = now;
      }
      countFrame(now, false);
      inFlight = frame;
      inFlightSince = now;
      framesSent++;
      bytesSent += frame.size();
      earliestNextSendAt = config.maxBytesPerSecond() > 0
          ? now + frame.size() * SECOND / config.maxBytesPerSecond()
          : now;
      if (tracker != null) {
        // Sent the instant it was taken, with nothing held before it: the pipe waited for
        // the source. A fresher frame standing in for a held one is not that.
        boolean appLimited = frame == lastAdmitted && lastAdmittedAt == now && refreshedAt != now;
        tracker.onSent(framesSent, frame.size(), frame.captureTimeNanos(), now, appLimited);
      }
    }
    updateVerdict(now);
    scheduleWake(now);
    return frame;
  }

  /** Whether acks gate sends: they are expected, and the client has not shown it never answers. */
  private boolean capActive(long now) {
    if (tracker == null) {
      return false;
    }
    if (!pingsUnanswered && !tracker.hasAcks() && framesSent >= 1
        && now - firstSentAt > PINGS_UNANSWERED_AFTER_NANOS) {
      pingsUnanswered = true;
      LOG.log(Level.WARNING, "keepup: session {0}: no pong or client ack in 3 s; falling back to"
          + " send completion only, which cannot see past kernel buffers", transport.id());
    }
    return !pingsUnanswered;
  }

  /**
   * How many bytes may be queued toward the client when the next frame is released: twice the
   * bandwidth-delay product, enough to keep the link busy while acks travel, and no more, so
   * the kernel's buffers cannot hide seconds of delay.
   */
  private long allowedQueuedBytes(long now) {
    double rate = tracker.capRate(now);
    if (rate <= 0) {
      return config.minInFlightBytes();
    }
    long bdp = (long) (2 * rate * tracker.minRttNanos(now) / SECOND);
    return Math.max(config.minInFlightBytes(), Math.min(config.maxInFlightBytes(), bdp));
  }

  private void updateVerdict(long now) {
    Verdict current = currentVerdict(now);
    if (current != verdict) {
      Verdict previous = verdict;
      verdict = current;
      Signals signals = signals(now);
      try {
        config.listener().onVerdictChanged(previous, current, signals);
      } catch (RuntimeException | Error failure) {
        listenerFailed(failure);
      }
    }
  }

  private Verdict currentVerdict(long now) {
    if (tracker != null && !pingsUnanswered) {
      return tracker.verdict(now);
    }
    // Completion only: all it can see is sends that take long once kernel buffers are full.
    if (inFlight != null && now - inFlightSince > config.stallAfterNanos()) {
      return Verdict.STALLED;
    }
    return latencyAvgNanos > COMPLETION_FALLING_BEHIND_NANOS ? Verdict.FALLING_BEHIND : Verdict.KEEPING_UP;
  }

  private Signals signals(long now) {
    if (tracker != null && !pingsUnanswered) {
      return tracker.snapshot(now);
    }
    long since = inFlight != null ? now - inFlightSince : 0;
    return new Signals(currentVerdict(now), 0, 0, Duration.ZERO, Duration.ZERO,
        inFlight == null ? 0 : inFlight.size(), inFlight == null ? 0 : 1, Duration.ZERO, 0,
        tracker != null ? tracker.snapshot(now).sendRateBitsPerSecond() : 0, 0, false, Duration.ofNanos(since));
  }

  private boolean passMaySend(long now) {
    return now - passStartedAt < passBudgetNanos && sendsThisPass < UNPACED_MAX_SENDS_PER_PASS;
  }

  /** Unpaced: a frame is taken whenever the transport is free for it, with no frame clock. */
  private boolean unpaced() {
    return intervalNanos == 0;
  }

  private boolean readyForFrame(long now) {
    return inFlight == null && pending.isEmpty() && pingInFlightFor == NO_PING && !pingDue(now);
  }

  /**
   * Whether the ping asked for after a frame may go: at most one per {@link
   * #MIN_PING_SPACING_NANOS}. Frames go meanwhile, and a later completion that is due a ping
   * moves it to the newer frame, so a spaced ping follows the newest frame it was due for
   * (with pingEvery(1), the newest the socket has taken).
   */
  private boolean pingDue(long now) {
    return pingDueFor != 0 && now - lastPingAt >= MIN_PING_SPACING_NANOS;
  }

  /** Under the lock: the ping after frame {@code seq} is the next thing to go. */
  private void startPing(long seq, long now) {
    pingInFlightFor = seq;
    lastPingSeq = seq;
    lastPingAt = now;
    pingDueFor = 0;
  }

  private void tick(long now) {
    if (!unpaced() && now - nextTickAt > LOCAL_STALL_NANOS) {
      // This process stalled (the timer is this late): timing measured across the stall is
      // its own, so neither the estimates nor the policy act on it this tick.
      if (tracker != null) {
        tracker.onLocalStall(now);
      }
    } else {
      decide(now);
    }
    if (unpaced()) {
      // Asked again at once after a frame; after "none yet", a millisecond later.
      nextTickAt = takeFrames(now) ? now : now + UNPACED_RETRY_NANOS;
      return;
    }
    double interval = intervalNanos;
    if (switchPending() && decision.rendition() < chainRendition && !interCoded) {
      // A switch down waits for its keyframe: meanwhile the current rendition, which does not
      // fit, goes at the next lower frame rate, on a grid of its own; the decided rate's grid
      // starts afresh once the switch lands. Only for independent frames: an inter-coded
      // stream ticked slower skips references and breaks its chain (60% stall over the FCC
      // traces when tried), so there the frame rate falls by shedding disposable frames.
      interval = 1e9 / lowerFrameRate(decision.framesPerSecond());
      gridStart = now;
      ticksOnGrid = 0;
    }
    ticksOnGrid++;
    long next = gridStart + (long) Math.ceil(ticksOnGrid * interval);
    if (next - now <= 0) {
      // A tick was missed (a stall, a late timer): start a new grid rather than burst to catch up.
      gridStart = now;
      ticksOnGrid = 1;
      next = now + (long) Math.ceil(interval);
    }
    nextTickAt = next;
    takeFrames(now);
  }

  /** Asks the policy for this tick's decision; a failing or invalid one leaves the last standing. */
  private void decide(long now) {
    if (config.policy() == null) {
      return;
    }
    Decision next;
    try {
      AdaptationPolicy.Context context = new AdaptationPolicy.Context(signals(now), decision, config.ladder(),
          config.maxFramesPerSecond(), now, lastSwitchAt, switchPending(), skippedFraction());
      next = AdaptationPolicy.validate(config.policy().decide(context), config.ladder(), config.maxFramesPerSecond());
    } catch (RuntimeException | Error failure) {
      policyFailures++;
      if (Long.bitCount(policyFailures) == 1) {
        LOG.log(Level.WARNING, "keepup: session " + transport.id() + ": policy failed (#" + policyFailures
            + "); the last decision stands", failure);
      }
      return;
    }
    if (next.sameAs(decision)) {
      return;
    }
    Decision previous = decision;
    decision = next;
    if (next.framesPerSecond() != previous.framesPerSecond() && !unpaced()) {
      intervalNanos = 1e9 / next.framesPerSecond();
      gridStart = now;
      ticksOnGrid = 0;
    }
    if (next.rendition() != previous.rendition()) {
      requestKeyFrame(next.rendition());
    }
    try {
      config.listener().onDecision(previous, next);
    } catch (RuntimeException | Error failure) {
      listenerFailed(failure);
    }
  }

  /** The ladder's next frame-rate step below {@code fps}, or {@code fps} if it is the lowest. */
  private double lowerFrameRate(double fps) {
    Ladder ladder = config.ladder();
    for (int i = 0; i < ladder.frameRateSteps(); i++) {
      if (ladder.frameRate(i) < fps) {
        return ladder.frameRate(i);
      }
    }
    return fps;
  }

  /** Whether the policy chose a rendition the client has no reference chain in yet. */
  private boolean switchPending() {
    return chainRendition >= 0 && chainRendition != decision.rendition();
  }

  /**
   * Takes this tick's frame. While a switch waits for a keyframe of the target rendition, the
   * target is asked first (a keyframe switches at once) and the current rendition keeps the
   * picture moving, shedding its disposable frames on the way down.
   */
  private boolean takeFrames(long now) {
    int target = decision.rendition();
    if (!switchPending()) {
      return pollSource(target, now, false);
    }
    int from = chainRendition;
    boolean took = pollSource(target, now, false);
    if (chainRendition == target) {
      return true;
    }
    return pollSource(from, now, target < from) | took;
  }

  /** Takes the source's next frame of {@code rendition}, if any; returns whether one was taken. */
  private boolean pollSource(int rendition, long now, boolean shedDisposable) {
    Frame frame;
    try {
      frame = config.source().poll(rendition);
    } catch (RuntimeException | Error failure) {
      sourceFailed(new IllegalStateException("frame source threw", failure));
      return false;
    }
    int slot = frame == null ? 0 : frame.rendition() & (lastTaken.length - 1);
    if (frame == null || frame == lastTaken[slot]) {
      // Nothing new is no failure: it ends a run of them.
      consecutiveSourceFailures = 0;
      return false;
    }
    lastTaken[slot] = frame;
    framesTaken++;
    if (state != State.RUNNING) {
      // The source closed the sender from inside poll.
      skip(frame, SkipReason.CLOSED);
      return true;
    }
    if (config.policy() != null && frame.rendition() >= config.ladder().size()) {
      skip(frame, SkipReason.INVALID_RENDITION);
      sourceFailed(new IllegalArgumentException("frame rendition " + frame.rendition()
          + " is outside the ladder (" + config.ladder().size() + " renditions)"));
      return true;
    }
    if (frame.size() > config.maxFrameBytes()) {
      skip(frame, SkipReason.TOO_LARGE);
      sourceFailed(new IllegalArgumentException(
          "frame size exceeds maxFrameBytes (" + config.maxFrameBytes() + "): " + frame.size()));
      return true;
    }
    consecutiveSourceFailures = 0;
    if (frame.rendition() != chainRendition && frame.kind() != FrameKind.KEY && chainRendition >= 0
        && frame.rendition() == decision.rendition()) {
      // The target rendition, but not where a client can join it.
      skip(frame, SkipReason.AWAITING_KEY);
      requestKeyFrame(frame.rendition());
      return true;
    }
    if (shedDisposable && frame.kind() == FrameKind.DISPOSABLE) {
      skip(frame, SkipReason.SHED);
      return true;
    }
    lastAdmitted = frame;
    lastAdmittedAt = now;
    admit(frame);
    return true;
  }

  /** Queues a fresh frame under the keyframe rules; the queue never exceeds its bound. */
  private void admit(Frame frame) {
    interCoded |= frame.kind() != FrameKind.KEY;
    if (frame.kind() == FrameKind.KEY) {
      while (!pending.isEmpty()) {
        skip(pending.poll(), SkipReason.SUPERSEDED);
      }
      if (frame.rendition() != chainRendition && lastRendition >= 0 && frame.rendition() != lastRendition) {
        renditionSwitches++;
        lastSwitchAt = lastAdmittedAt;
      }
      chainRendition = frame.rendition();
      lastRendition = chainRendition;
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
    capHeld = false;
    if (inFlight != null || pending.isEmpty() || now - earliestNextSendAt < 0) {
      return null;
    }
    capWakeAt = Long.MAX_VALUE;
    if (capActive(now)) {
      long allowed = allowedQueuedBytes(now);
      long wait = tracker.unackedFrames() >= DeliveryTracker.CAPACITY - 1 || tracker.rttStale(now)
          || tracker.unackedBytes() > allowed + tracker.ackLagAllowanceBytes(now)
          ? -1
          : tracker.nanosUntilQueuedAtMost(allowed, now);
      if (wait != 0) {
        // Held back: wake when the queue should have drained, or, with no rate to tell, when
        // an ack arrives (the pong handler pumps) or at the stall timeout at the latest.
        capWakeAt = now + (wait > 0 ? wait : config.stallAfterNanos());
        capHeld = true;
        return null;
      }
    }
    if (pending.size() == 1 && pending.peek().kind() == FrameKind.KEY && !unpaced()
        && (now - lastAdmittedAt >= intervalNanos / 2 || now - pending.peek().captureTimeNanos() >= intervalNanos)) {
      // Released between ticks, after the cap held it half a frame interval or more, or when
      // it is a whole interval old (taken late in its interval, it is soon stale however
      // short the hold: 16 ms of p95 frame age on a 200 KB/s reader): the source may have a
      // fresher frame by now, and an independent one supersedes the held one (all-KEY
      // streams: JPEG, PNG). Without this a held frame goes up to two frame intervals old.
      // (Not after a short hold of a fresh frame, such as a ping going out first: nothing
      // fresher yet.)
      refreshedAt = now;
      takeFrames(now);
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
    // At most once a second per rendition, across breaks: a keyframe costs several frames, and
    // asking for one at every break on a link that cannot carry the rendition would make the
    // stream all keyframes.
    int slot = rendition & (keyRequestedAt.length - 1);
    if (keyRequested[slot] && now - keyRequestedAt[slot] < SECOND) {
      return;
    }
    keyRequested[slot] = true;
    keyRequestedAt[slot] = now;
    try {
      config.source().requestKeyFrame(rendition);
    } catch (RuntimeException | Error failure) {
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
      if (tracker != null && config.pingEvery() > 0 && state == State.RUNNING
          && framesSent % config.pingEvery() == 0) {
        pingDueFor = framesSent;
      }
      try {
        config.listener().onFrameCompleted(frame, latency);
      } catch (RuntimeException | Error failure) {
        listenerFailed(failure);
      }
    } else {
      framesFailed++;
      try {
        config.listener().onFrameFailed(frame, error);
      } catch (RuntimeException | Error failure) {
        listenerFailed(failure);
      }
      if (state == State.RUNNING) {
        // A write that fails with an I/O error means the connection is gone, even when the
        // container has not yet marked the session closed (Grizzly does that on another thread).
        boolean gone = !transport.isOpen() || isConnectionLoss(error);
        if (!gone) {
          LOG.log(Level.WARNING, "keepup: session " + transport.id() + ": send failed; stopping", error);
        }
        stop(gone ? StopReason.SESSION_CLOSED : StopReason.SEND_FAILED, error);
      }
    }
  }

  private static boolean isConnectionLoss(Throwable error) {
    for (Throwable t = error; t != null; t = t.getCause() == t ? null : t.getCause()) {
      if (t instanceof IOException) {
        return true;
      }
      // Grizzly fails a write on a connection it has just closed with "Connection is not open."
      // or "The connection has been closed.", before Tyrus marks the session closed.
      String message = t.getMessage();
      if (t instanceof IllegalStateException && message != null
          && (message.startsWith("Connection is not open") || message.startsWith("The connection has been closed"))) {
        return true;
      }
    }
    return false;
  }

  private void recordCompletionInterval(long now) {
    if (framesCompleted > 1) {
      double interval = now - lastCompletionAt;
      // Weight by elapsed time, so the average spans about a second at any frame rate.
      double weight = 1 - decay(interval, SECOND);
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
    } catch (RuntimeException | Error failure) {
      listenerFailed(failure);
    }
    if (consecutiveSourceFailures >= config.maxConsecutiveSourceFailures() && state == State.RUNNING) {
      stop(StopReason.SOURCE_FAILED, error);
    }
  }

  /**
   * e^(-elapsed / timeConstant), by its series when the exponent is small (error under x^4/24,
   * 4e-6 at 0.1): both averages below run per frame, where Math.exp showed in unpaced profiles.
   */
  private static double decay(double elapsedNanos, double timeConstantNanos) {
    double x = elapsedNanos / timeConstantNanos;
    return x < 0.1 ? 1 - x * (1 - x / 2 + x * x / 6) : Math.exp(-x);
  }

  private void countFrame(long now, boolean skipped) {
    double decay = decay(Math.max(0, now - recentFramesAt), SKIP_TIME_CONSTANT_NANOS);
    recentFramesAt = now;
    recentSkips = recentSkips * decay + (skipped ? 1 : 0);
    recentFrames = recentFrames * decay + 1;
  }

  private double skippedFraction() {
    return recentFrames > 0 ? recentSkips / recentFrames : 0;
  }

  private void skip(Frame frame, SkipReason reason) {
    skipped[reason.ordinal()]++;
    // Only skips the link forced count toward "does not fit": not the source's bad frames, and
    // not those a pending switch makes (a non-key frame of the target, a shed disposable one),
    // which a policy that took them for congestion would answer by dropping the switch it asked for.
    if (reason == SkipReason.SUPERSEDED || reason == SkipReason.STALE || reason == SkipReason.BROKEN_REFERENCE) {
      countFrame(config.ticker().read(), true);
    }
    try {
      config.listener().onFrameSkipped(frame, reason);
    } catch (RuntimeException | Error failure) {
      listenerFailed(failure);
    }
  }

  private void stop(StopReason reason, Throwable cause) {
    if (state == State.STOPPED) {
      return;
    }
    state = State.STOPPED;
    stopped = true;
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
    } catch (RuntimeException | Error failure) {
      listenerFailed(failure);
    }
  }

  private void scheduleWake(long now) {
    // Unpaced and busy: the completion (or the ping's) wakes the loop, not a timer.
    long at = unpaced() && (!readyForFrame(now) || handoffDue) ? Long.MAX_VALUE : nextTickAt;
    if (pingDueFor != 0 && inFlight == null && pingInFlightFor == NO_PING && !handoffDue) {
      // A spaced ping waits for its time, and nothing else may wake the loop before then.
      long pingAt = lastPingAt + MIN_PING_SPACING_NANOS;
      if (at == Long.MAX_VALUE || pingAt - at < 0) {
        at = pingAt;
      }
    }
    if (inFlight == null && pingInFlightFor == NO_PING && !pending.isEmpty()) {
      // A frame waits for the byte-rate cap or the in-flight cap, not for a completion.
      long sendAt = Math.max(earliestNextSendAt - now, capWakeAt == Long.MAX_VALUE ? 0 : capWakeAt - now);
      if (sendAt > 0 && now + sendAt - at < 0) {
        at = now + sendAt;
      }
    }
    if (at == Long.MAX_VALUE || (wake != null && wakeAt - at <= 0)) {
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
          pingsSent,
          acksAccepted,
          tracker == null ? 0 : tracker.pongsIgnored(),
          (tracker == null ? 0 : tracker.acksRejected()) + floodedAcks,
          signals(now),
          decision,
          chainRendition,
          renditionSwitches,
          policyFailures,
          stopReason);
    } finally {
      lock.unlock();
    }
  }
}
