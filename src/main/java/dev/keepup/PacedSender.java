package dev.keepup;

import dev.keepup.internal.send.PingExecutor;
import dev.keepup.internal.send.SendLoop;
import dev.keepup.internal.send.SessionTransport;
import jakarta.websocket.Session;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.Executor;

/**
 * Streams frames from a {@link FrameSource} to one WebSocket session at a paced frame rate,
 * with at most one message in the container at a time.
 *
 * <pre>{@code
 * PacedSender sender = PacedSender.newBuilder(session)
 *     .source(rendition -> camera.latestFrame())
 *     .targetFps(30)
 *     .build();
 * sender.start();
 * // ... in @OnClose:
 * sender.close();
 * }</pre>
 *
 * <p>Each frame tick takes the source's newest frame into a small queue; a fresher frame
 * replaces a stale unsent one (latest wins, under the keyframe rules of {@link FrameKind}),
 * and the next send starts at the later of its deadline and the previous send's completion,
 * so a slow client gets fewer frames rather than a growing backlog, and a client that recovers
 * does not get a burst. Every frame taken from the source is accounted for exactly once in
 * {@link #stats()}.
 *
 * <p>Thread safe. No thread per sender: ticks run on the {@link Scheduler}, and the next send
 * often starts on the container thread that completed the previous one. Nothing blocks the
 * caller's thread or the container's I/O thread.
 */
public final class PacedSender implements AutoCloseable {
  /**
   * What a sender without a ladder streams: one rendition whose cost is unknown, so a policy
   * can only move the frame rate.
   */
  private static final Ladder SINGLE_RENDITION = Ladder.builder().rendition("single", 1).build();

  private final SendLoop loop;

  private PacedSender(Builder builder) {
    SendLoop.Config config = new SendLoop.Config(
        builder.source,
        builder.listener,
        builder.ticker,
        builder.scheduler,
        builder.targetFps == Double.POSITIVE_INFINITY ? 0 : 1e9 / builder.targetFps,
        builder.maxBytesPerSecond,
        builder.maxFrameBytes,
        builder.maxPendingFrames,
        builder.staleAfterNanos,
        builder.maxConsecutiveSourceFailures,
        builder.pingEvery,
        builder.clientAcks,
        builder.registerMessageHandlers,
        builder.closeOnBadAck,
        builder.minInFlightBytes,
        builder.maxInFlightBytes,
        builder.stallAfterNanos,
        builder.pingExecutor,
        builder.ladder != null ? builder.ladder : SINGLE_RENDITION,
        builder.policy != null ? builder.policy : builder.ladder != null ? AdaptationPolicy.defaults() : null,
        builder.startRendition);
    Session session = builder.session;
    this.loop = new SendLoop(config, completion -> new SessionTransport(session, completion));
  }

  /**
   * Returns a builder for a sender on {@code session}.
   *
   * @throws NullPointerException if {@code session} is null
   */
  public static Builder newBuilder(Session session) {
    return new Builder(Objects.requireNonNull(session, "session"));
  }

  /**
   * Starts streaming; the first frame is taken at once.
   *
   * @throws IllegalStateException if already started or closed
   */
  public void start() {
    loop.start();
  }

  /**
   * Stops streaming with {@link StopReason#CLOSED}; idempotent and safe from any thread. Frames
   * still queued are skipped with {@link SkipReason#CLOSED}; a frame already in the container
   * is counted when the container reports it. The session itself is left open: it is the
   * host's.
   */
  @Override
  public void close() {
    loop.close();
  }

  /** Returns whether the sender has started and not stopped. */
  public boolean isRunning() {
    return loop.isRunning();
  }

  /** Returns a consistent snapshot of the sender's counters and signals. */
  public SenderStats stats() {
    return loop.stats();
  }

  /**
   * Passes a pong's application data to the sender, for a host whose endpoint has its own pong
   * handler (build with {@code registerMessageHandlers(false)}). Pongs that are not the sender's
   * are ignored and counted; the buffer is only read.
   *
   * @return whether the pong acknowledged a frame
   */
  public boolean acceptPong(ByteBuffer applicationData) {
    return loop.acceptPong(applicationData);
  }

  /**
   * Passes a text message to the sender, for a host whose endpoint has its own text handler
   * (build with {@code registerMessageHandlers(false)}): call it first, and handle the message
   * yourself when it returns false. See {@code docs/protocol.md}.
   *
   * @return false if the message is not a client ack (it lacks the protocol's prefix); true if
   *     it was one, whether accepted or rejected as invalid
   */
  public boolean acceptClientAck(String message) {
    return loop.acceptClientAck(message);
  }

  /** Configures a {@link PacedSender}; every option is checked when set. Not thread safe. */
  public static final class Builder {
    private final Session session;
    private FrameSource source;
    private SenderListener listener = SenderListener.NONE;
    private Ticker ticker = Ticker.system();
    private Scheduler scheduler;
    private double targetFps = 30;
    private long maxBytesPerSecond;
    private int maxFrameBytes = 8 << 20;
    private int maxPendingFrames = 8;
    private long staleAfterNanos = Duration.ofSeconds(1).toNanos();
    private int maxConsecutiveSourceFailures = 30;
    private int pingEvery = 1;
    private boolean clientAcks;
    private boolean registerMessageHandlers = true;
    private boolean closeOnBadAck;
    private long minInFlightBytes = 2 << 10;
    private long maxInFlightBytes = 4 << 20;
    private long stallAfterNanos = Duration.ofSeconds(1).toNanos();
    private Executor pingExecutor = PingExecutor.SHARED;
    private Ladder ladder;
    private AdaptationPolicy policy;
    private int startRendition;

    private Builder(Session session) {
      this.session = session;
    }

    /** Sets where frames come from. Required. */
    public Builder source(FrameSource source) {
      this.source = Objects.requireNonNull(source, "source");
      return this;
    }

    /** Sets the listener for the sender's events. Default {@link SenderListener#NONE}. */
    public Builder listener(SenderListener listener) {
      this.listener = Objects.requireNonNull(listener, "listener");
      return this;
    }

    /**
     * Sets the frame rate: how often the source is asked for a frame. Default 30. See also
     * {@link #unpaced()}.
     *
     * @throws IllegalArgumentException unless {@code 0 < targetFps <= 1000}
     */
    public Builder targetFps(double targetFps) {
      if (!(targetFps > 0 && targetFps <= 1000)) {
        throw new IllegalArgumentException("targetFps must be in (0, 1000]: " + targetFps);
      }
      this.targetFps = targetFps;
      return this;
    }

    /**
     * Takes a frame whenever the previous one has completed (and its ping, if any, has gone),
     * with no frame clock: for bulk transfer, and to measure the sender's own overhead. The
     * byte-rate cap and the in-flight cap still apply; when the source has nothing, it is asked
     * again a millisecond later. Replaces {@link #targetFps}.
     *
     * <p>While the container completes every send at once (the socket takes each write), the
     * loop hands itself to the scheduler after 2 ms on the thread that started it or a
     * container thread, and after 20 ms on a scheduler thread, so it never keeps a thread that
     * others need.
     *
     * <p>With pings on (the default), the in-flight cap keeps what is queued toward the client
     * to about a round trip's worth, which is what a live stream wants and what bulk transfer
     * does not: over loopback, 1 KiB frames ran at about 0.7 of a raw send loop with pings,
     * and at about 0.95-0.96 of it without ({@code docs/benchmarks.md}). For bulk transfer,
     * set {@link #pingEvery pingEvery(0)}.
     */
    public Builder unpaced() {
      this.targetFps = Double.POSITIVE_INFINITY;
      return this;
    }

    /**
     * Caps this session's send rate: after a frame of {@code n} bytes the next send waits at
     * least {@code n / maxBytesPerSecond} seconds, so one fast client cannot take all the
     * uplink or CPU. Default: no cap.
     *
     * @throws IllegalArgumentException if {@code maxBytesPerSecond} is not positive
     */
    public Builder maxBytesPerSecond(long maxBytesPerSecond) {
      if (maxBytesPerSecond <= 0) {
        throw new IllegalArgumentException("maxBytesPerSecond must be > 0: " + maxBytesPerSecond);
      }
      this.maxBytesPerSecond = maxBytesPerSecond;
      return this;
    }

    /**
     * Sets the largest frame the sender accepts; larger ones are skipped with {@link
     * SkipReason#TOO_LARGE} and count as source failures. Default 8 MiB.
     *
     * @throws IllegalArgumentException if {@code maxFrameBytes} is not positive
     */
    public Builder maxFrameBytes(int maxFrameBytes) {
      if (maxFrameBytes <= 0) {
        throw new IllegalArgumentException("maxFrameBytes must be > 0: " + maxFrameBytes);
      }
      this.maxFrameBytes = maxFrameBytes;
      return this;
    }

    /**
     * Sets how many frames may wait for the transport. A {@link FrameKind#KEY} frame always
     * replaces every frame waiting, so streams of independent frames never queue more than one;
     * the room is for {@link FrameKind#DELTA} chains to ride out a short hiccup without a
     * broken reference, which costs a stall until the next keyframe. Default 8 (at 30 fps,
     * with disposable frames shed, up to about half a second of references): over the
     * simulator's 117 cellular traces, 3 stalled delta streams twice as long (1.3% of play
     * time against 0.7%), and more than 8 gained nothing.
     *
     * @throws IllegalArgumentException unless {@code 1 <= maxPendingFrames <= 64}
     */
    public Builder maxPendingFrames(int maxPendingFrames) {
      if (maxPendingFrames < 1 || maxPendingFrames > 64) {
        throw new IllegalArgumentException("maxPendingFrames must be in [1, 64]: " + maxPendingFrames);
      }
      this.maxPendingFrames = maxPendingFrames;
      return this;
    }

    /**
     * Sets the age (now minus capture time) past which a waiting frame is skipped with {@link
     * SkipReason#STALE} instead of sent. Default 1 second.
     *
     * @throws NullPointerException if {@code staleAfter} is null
     * @throws IllegalArgumentException if {@code staleAfter} is not positive
     */
    public Builder staleAfter(Duration staleAfter) {
      Objects.requireNonNull(staleAfter, "staleAfter");
      if (staleAfter.isNegative() || staleAfter.isZero()) {
        throw new IllegalArgumentException("staleAfter must be > 0: " + staleAfter);
      }
      this.staleAfterNanos = saturatedNanos(staleAfter);
      return this;
    }

    /**
     * Sets how many source failures in a row (a throw, or a frame over {@code maxFrameBytes})
     * stop the sender with {@link StopReason#SOURCE_FAILED}. Default 30, a second at 30 fps.
     *
     * @throws IllegalArgumentException if {@code maxConsecutiveSourceFailures} is below 1
     */
    public Builder maxConsecutiveSourceFailures(int maxConsecutiveSourceFailures) {
      if (maxConsecutiveSourceFailures < 1) {
        throw new IllegalArgumentException(
            "maxConsecutiveSourceFailures must be >= 1: " + maxConsecutiveSourceFailures);
      }
      this.maxConsecutiveSourceFailures = maxConsecutiveSourceFailures;
      return this;
    }

    /**
     * Sends a ping after every {@code n}th frame, whose pong acknowledges that frame and every
     * one before it: the signal that sees past kernel buffers, with any RFC 6455 client. 0
     * turns the pings after frames off; with client acks on, the sender still sends a ping
     * into an idle connection (at most once a second) to measure the round trip,
     * and with no client acks either it sends none and falls back to send completion only,
     * which cannot tell a full kernel buffer from a fast client. A ping also goes after the
     * newest frame whenever the in-flight cap holds the next one for acks no ping has asked
     * for (those are never held back: nothing else could go). The pings
     * after frames go at most once a millisecond, since each holds the next frame back until
     * it has been written: at higher frame rates (an {@link #unpaced()} stream of small
     * frames) frames go on meanwhile, and the ping goes once the millisecond is up, after the
     * newest frame it was due for (with {@code n = 1}, the newest that completed). Default 1.
     *
     * @throws IllegalArgumentException unless {@code 0 <= n <= 1000}
     */
    public Builder pingEvery(int n) {
      if (n < 0 || n > 1000) {
        throw new IllegalArgumentException("pingEvery must be in [0, 1000]: " + n);
      }
      this.pingEvery = n;
      return this;
    }

    /**
     * Accepts acks from the client ({@code keepup-client.js}, or any client speaking {@code
     * docs/protocol.md}): received and rendered counts that also show the client's own lag.
     * The sender must then be the only sender of binary messages on the session, since acks
     * count them. Default false.
     */
    public Builder clientAcks(boolean clientAcks) {
      this.clientAcks = clientAcks;
      return this;
    }

    /**
     * Whether {@link PacedSender#start()} adds a pong handler (when pings are on) and a text
     * handler (when client acks are on) to the session. Turn it off when the endpoint has its
     * own, and pass pongs to {@link PacedSender#acceptPong} and text messages to {@link
     * PacedSender#acceptClientAck}. Default true.
     */
    public Builder registerMessageHandlers(boolean registerMessageHandlers) {
      this.registerMessageHandlers = registerMessageHandlers;
      return this;
    }

    /**
     * Whether an invalid or forged client ack, or a flood of pongs or acks, closes the session
     * with 1008 (policy violation) and stops the sender with {@link
     * StopReason#PROTOCOL_VIOLATION}. Either way it is counted and never acted on. A pong that is
     * not this sender's is only ignored and counted. Default false: ignore and count.
     */
    public Builder closeOnBadAck(boolean closeOnBadAck) {
      this.closeOnBadAck = closeOnBadAck;
      return this;
    }

    /**
     * Bounds the in-flight cap: a frame is released only when the bytes estimated still queued
     * toward the client are at most twice the delivery rate times the min RTT, clamped to
     * {@code [minBytes, maxBytes]}. The lower bound keeps the stream moving before the first
     * ack and on very slow links; it is also the standing queue a client with a tiny RTT
     * keeps (2 KiB is 10 ms at 200 KB/s; the former 16 KiB default was 82 ms of frame age
     * there). The upper bound limits what a fast link may queue. Defaults 2 KiB and 4 MiB.
     * Applies only while acks arrive.
     *
     * @throws IllegalArgumentException unless {@code 0 < minBytes <= maxBytes}
     */
    public Builder inFlightCap(long minBytes, long maxBytes) {
      if (minBytes <= 0) {
        throw new IllegalArgumentException("inFlightCap minBytes must be > 0: " + minBytes);
      }
      if (maxBytes < minBytes) {
        throw new IllegalArgumentException(
            "inFlightCap maxBytes must be >= minBytes (" + minBytes + "): " + maxBytes);
      }
      this.minInFlightBytes = minBytes;
      this.maxInFlightBytes = maxBytes;
      return this;
    }

    /**
     * Sets how long frames may go unacknowledged (or a send uncompleted, without acks) before
     * the verdict is {@link Verdict#STALLED}. Default 1 second.
     *
     * @throws NullPointerException if {@code stallAfter} is null
     * @throws IllegalArgumentException if {@code stallAfter} is not positive
     */
    public Builder stallAfter(Duration stallAfter) {
      Objects.requireNonNull(stallAfter, "stallAfter");
      if (stallAfter.isNegative() || stallAfter.isZero()) {
        throw new IllegalArgumentException("stallAfter must be > 0: " + stallAfter);
      }
      this.stallAfterNanos = saturatedNanos(stallAfter);
      return this;
    }

    /**
     * Sets where pings are sent from. Pings are synchronous in the Jakarta API and may block
     * while a socket is full, so the default is a shared pool of daemon threads that grows
     * only while pings block; never the scheduler.
     */
    public Builder pingExecutor(Executor pingExecutor) {
      this.pingExecutor = Objects.requireNonNull(pingExecutor, "pingExecutor");
      return this;
    }

    /**
     * Sets the renditions the source offers; the sender then adapts with {@link
     * AdaptationPolicy#defaults()} unless given another policy, and asks the source for the
     * rendition the policy chose. Without a ladder there is one rendition and no policy: the
     * in-flight cap alone skips what a slow client cannot take. The ladder's top frame rate is
     * capped by {@link #targetFps}.
     */
    public Builder ladder(Ladder ladder) {
      this.ladder = Objects.requireNonNull(ladder, "ladder");
      return this;
    }

    /**
     * Sets the adaptation policy; one instance per sender. Default: {@link
     * AdaptationPolicy#defaults()} with a ladder, none without (which is {@link
     * AdaptationPolicy#fixed} at the target frame rate). A policy without a ladder can move only
     * the frame rate.
     */
    public Builder policy(AdaptationPolicy policy) {
      this.policy = Objects.requireNonNull(policy, "policy");
      return this;
    }

    /**
     * Sets the rendition streaming starts at. Default 0, the cheapest: the default policy climbs
     * from there within seconds once it has seen the link.
     *
     * @throws IllegalArgumentException if {@code startRendition} is negative
     */
    public Builder startRendition(int startRendition) {
      if (startRendition < 0) {
        throw new IllegalArgumentException("startRendition must be >= 0: " + startRendition);
      }
      this.startRendition = startRendition;
      return this;
    }

    /** Sets the clock. Default {@link Ticker#system()}; frames' capture times must use it too. */
    public Builder ticker(Ticker ticker) {
      this.ticker = Objects.requireNonNull(ticker, "ticker");
      return this;
    }

    /** Sets the scheduler for frame ticks. Default {@link Scheduler#shared()}. */
    public Builder scheduler(Scheduler scheduler) {
      this.scheduler = Objects.requireNonNull(scheduler, "scheduler");
      return this;
    }

    /**
     * Returns a new sender with this configuration; the builder may be reused.
     *
     * @throws IllegalStateException if no source was set
     */
    public PacedSender build() {
      if (source == null) {
        throw new IllegalStateException("source is required");
      }
      if (scheduler == null) {
        scheduler = Scheduler.shared();
      }
      int renditions = ladder != null ? ladder.size() : 1;
      if (startRendition >= renditions) {
        throw new IllegalStateException(
            "startRendition must be < ladder size (" + renditions + "): " + startRendition);
      }
      return new PacedSender(this);
    }

    private static long saturatedNanos(Duration duration) {
      try {
        return duration.toNanos();
      } catch (ArithmeticException tooLong) {
        return Long.MAX_VALUE;
      }
    }
  }
}
