package dev.keepup;

/**
 * How a frame depends on the frames before it, which decides what may be skipped.
 *
 * <p>Independent frames (JPEG, PNG, a full dashboard state) are all {@link #KEY}: any of them
 * can be skipped and the next one still decodes.
 */
public enum FrameKind {
  /** Decodes on its own (an IDR frame, a JPEG); a rendition switch takes effect only at one. */
  KEY,
  /**
   * Needs the frames before it back to the last {@link #KEY}; once one is skipped, the sender
   * skips every later {@code DELTA} of that rendition until the next {@code KEY}.
   */
  DELTA,
  /** Nothing depends on it (a non-reference frame, a higher temporal layer); shed first. */
  DISPOSABLE
}
