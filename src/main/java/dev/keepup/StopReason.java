package dev.keepup;

/** Why a {@link PacedSender} stopped; reported once to the listener and kept in the stats. */
public enum StopReason {
  /** {@link PacedSender#close()} was called. */
  CLOSED,
  /**
   * The connection is gone: the WebSocket session was closed by either side or found closed, or
   * a send failed with an I/O error or the container's "connection closed / not open" error (a
   * client that vanished, before the container marked the session closed).
   */
  SESSION_CLOSED,
  /**
   * The container refused a send or reported it failed for a reason other than I/O, on a
   * session it still reports open; the session is presumed unusable.
   */
  SEND_FAILED,
  /** The source threw or returned invalid frames too many times in a row. */
  SOURCE_FAILED,
  /**
   * The client sent an invalid or forged ack, or a flood of them, and the sender was built with
   * {@code closeOnBadAck(true)}: it closed the session with 1008 (policy violation).
   */
  PROTOCOL_VIOLATION,
  /**
   * The sender itself, or the scheduler or ping executor it was given, threw where nothing
   * should (a shut-down scheduler rejecting a task, a bug): logged with the cause; the frame
   * it was about to send, if any, counts as failed.
   */
  INTERNAL_ERROR
}
