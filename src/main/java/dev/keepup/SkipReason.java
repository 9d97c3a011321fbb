package dev.keepup;

/** Why a frame taken from the source was never handed to the transport. */
public enum SkipReason {
  /** A fresher frame arrived while this one waited for the transport (latest wins). */
  SUPERSEDED,
  /** Older than the builder's {@code staleAfter} when its turn came. */
  STALE,
  /** Larger than the builder's {@code maxFrameBytes}. */
  TOO_LARGE,
  /** Of a rendition outside the sender's ladder (counted as a source error too). */
  INVALID_RENDITION,
  /** A {@link FrameKind#DELTA} whose reference chain was broken by an earlier skip. */
  BROKEN_REFERENCE,
  /** Not a {@link FrameKind#KEY} of the rendition being switched to, while the switch waited. */
  AWAITING_KEY,
  /** A {@link FrameKind#DISPOSABLE} frame shed to lower the frame rate while a switch down waits. */
  SHED,
  /** Still waiting when the sender stopped. */
  CLOSED
}
