package dev.keepup;

/** Whether a client is keeping up with the stream, as far as the sender can tell. */
public enum Verdict {
  /** Frames reach the client about as fast as they are sent, with little queueing. */
  KEEPING_UP,
  /**
   * Frames queue up on the way to the client or in it: queueing delay, frame age or the
   * client's own lag (received but not rendered) is rising past what the stream can hide.
   */
  FALLING_BEHIND,
  /** Frames were sent and nothing has been acknowledged for a while: the client or link is stuck. */
  STALLED
}
