package dev.keepup;

import dev.keepup.internal.send.SendLoop;
import dev.keepup.internal.send.SessionTransport;
import jakarta.websocket.Session;
import java.time.Duration;
import java.util.Objects;

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
  private final SendLoop loop;

  private PacedSender(Builder builder) {
    SendLoop.Config config = new SendLoop.Config(
        builder.source,
        builder.listener,
        builder.ticker,
        builder.scheduler,
        1e9 / builder.targetFps,
        builder.maxBytesPerSecond,
        builder.maxFrameBytes,
        builder.maxPendingFrames,
        builder.staleAfterNanos,
        builder.maxConsecutiveSourceFailures);
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

  /** Returns a consistent snapshot of the sender's counters. */
  public SenderStats stats() {
    return loop.stats();
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
    private int maxPendingFrames = 3;
    private long staleAfterNanos = Duration.ofSeconds(1).toNanos();
    private int maxConsecutiveSourceFailures = 30;

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
     * Sets the frame rate: how often the source is asked for a frame. Default 30.
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
     * broken reference. Default 3.
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
