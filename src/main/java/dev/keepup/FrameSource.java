package dev.keepup;

/**
 * Where a {@link PacedSender} takes its frames from; implemented by the host application.
 *
 * <p>The sender calls {@link #poll} once per frame tick (at the frame rate its policy chose),
 * on one of its own threads or a container thread that has just completed a send, and never
 * from two threads at once for the same sender. The source must not block: it returns the
 * newest frame it has for the rendition asked, or {@code null} for "no new frame yet". A
 * source shared by many senders (one camera, many viewers) hands each its own reader; see
 * {@link LiveSource}.
 *
 * <p>What {@code poll} throws is caught, logged, counted and reported to the listener; the
 * tick is lost, not the sender. After {@code maxConsecutiveSourceFailures} failures in a row
 * the sender stops with {@link StopReason#SOURCE_FAILED}.
 */
@FunctionalInterface
public interface FrameSource {

  /**
   * Returns the next frame to send for {@code rendition}, or {@code null} if there is none yet.
   *
   * <p>A source that has no such rendition may return a frame of another one; the frame's own
   * {@link Frame#rendition()} is what the sender goes by.
   *
   * <p>Inter-coded streams ({@link FrameKind#DELTA} frames): the frames of one rendition must
   * come in decode order with no reference left out; a source may skip ahead only to a {@link
   * FrameKind#KEY} (and may drop {@link FrameKind#DISPOSABLE} frames). The sender cannot see
   * references, only kinds. While a switch waits for the new rendition's keyframe it polls the
   * new rendition and the current one in turn, so a source must not move its reader to the new
   * rendition until it can start there at a KEY: until then, {@code null} for the new one and
   * the current one's frames in order (what {@link LiveSource} does).
   *
   * @param rendition the ladder index the policy chose (0 when there is no ladder)
   */
  Frame poll(int rendition);

  /**
   * Asks for a {@link FrameKind#KEY} frame of {@code rendition} soon: the sender had to skip a
   * reference frame, or is switching to that rendition. An encoder would emit an IDR frame.
   * Must not block. The default does nothing, which suits streams of independent frames.
   */
  default void requestKeyFrame(int rendition) {}
}
