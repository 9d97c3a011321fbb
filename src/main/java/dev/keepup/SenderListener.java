package dev.keepup;

/**
 * Receives a {@link PacedSender}'s events; every method does nothing by default.
 *
 * <p>Threading: for one sender, calls never overlap and arrive in order, on the thread that
 * processed the event: the shared scheduler, or a container thread that completed a send or
 * delivered a pong. Methods must return quickly and must not block. What they throw is
 * logged and otherwise ignored: a listener cannot stop or break the sender. A listener may
 * call {@link PacedSender#stats()} and {@link PacedSender#close()}.
 */
public interface SenderListener {

  /** A listener that ignores everything. */
  SenderListener NONE = new SenderListener() {};

  /** The container reported {@code frame} as sent, {@code sendLatencyNanos} after the send began. */
  default void onFrameCompleted(Frame frame, long sendLatencyNanos) {}

  /** The container reported {@code frame} as failed; the sender stops next. */
  default void onFrameFailed(Frame frame, Throwable error) {}

  /** {@code frame} was taken from the source but will never be sent. */
  default void onFrameSkipped(Frame frame, SkipReason reason) {}

  /** The source threw, or returned a frame the sender had to reject. */
  default void onSourceError(Throwable error) {}

  /**
   * The verdict on the client changed; {@code signals} holds the figures behind it. See {@link
   * Signals}.
   */
  default void onVerdictChanged(Verdict previous, Verdict current, Signals signals) {}

  /**
   * The policy changed its decision: a new frame rate applies at once, a new rendition at its
   * next keyframe.
   */
  default void onDecision(Decision previous, Decision current) {}

  /**
   * The sender stopped; called exactly once.
   *
   * @param cause the failure behind it, or {@code null} for {@link StopReason#CLOSED} and an
   *     orderly {@link StopReason#SESSION_CLOSED}
   */
  default void onStopped(StopReason reason, Throwable cause) {}
}
