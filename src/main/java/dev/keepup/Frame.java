package dev.keepup;

import java.nio.ByteBuffer;
import java.util.Objects;

/**
 * One binary WebSocket message of a live stream: its bytes, when it was captured, what it
 * depends on, and which rendition it belongs to.
 *
 * <p>The payload is never copied: the sender hands a {@linkplain ByteBuffer#duplicate()
 * duplicate} of it to the container, so the same frame may go to many sessions at once. Its
 * bytes must not change after the frame is created. The frame's size is the payload's
 * {@linkplain ByteBuffer#remaining() remaining} bytes at creation.
 *
 * <p>The capture time is in the sender's clock: {@link System#nanoTime()} unless the builder
 * was given another {@link Ticker}. Frame age (capture to delivery) is measured from it.
 */
public final class Frame {
  private final ByteBuffer payload;
  private final long captureTimeNanos;
  private final FrameKind kind;
  private final int rendition;
  private final int size;

  private Frame(ByteBuffer payload, long captureTimeNanos, FrameKind kind, int rendition) {
    this.payload = Objects.requireNonNull(payload, "payload");
    this.kind = Objects.requireNonNull(kind, "kind");
    if (rendition < 0) {
      throw new IllegalArgumentException("rendition must be >= 0: " + rendition);
    }
    this.captureTimeNanos = captureTimeNanos;
    this.rendition = rendition;
    this.size = payload.remaining();
  }

  /** Returns an independent ({@link FrameKind#KEY}) frame of rendition 0. */
  public static Frame of(ByteBuffer payload, long captureTimeNanos) {
    return new Frame(payload, captureTimeNanos, FrameKind.KEY, 0);
  }

  /**
   * Returns a frame.
   *
   * @throws NullPointerException if {@code payload} or {@code kind} is null
   * @throws IllegalArgumentException if {@code rendition} is negative
   */
  public static Frame of(ByteBuffer payload, long captureTimeNanos, FrameKind kind, int rendition) {
    return new Frame(payload, captureTimeNanos, kind, rendition);
  }

  /** Returns the payload as given; callers must not change its bytes or position. */
  public ByteBuffer payload() {
    return payload;
  }

  /** Returns the capture time in the sender's clock (monotonic nanoseconds). */
  public long captureTimeNanos() {
    return captureTimeNanos;
  }

  /** Returns what this frame depends on. */
  public FrameKind kind() {
    return kind;
  }

  /** Returns the index of this frame's rendition in the ladder (0 = cheapest). */
  public int rendition() {
    return rendition;
  }

  /** Returns the payload size in bytes, fixed when the frame was created. */
  public int size() {
    return size;
  }

  @Override
  public String toString() {
    return "Frame[" + kind + ", rendition=" + rendition + ", size=" + size
        + ", captureTimeNanos=" + captureTimeNanos + ']';
  }
}
