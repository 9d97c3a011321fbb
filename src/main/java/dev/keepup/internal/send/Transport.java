package dev.keepup.internal.send;

import java.nio.ByteBuffer;

/**
 * The little the send loop needs from a WebSocket session: one async binary send at a time,
 * and whether the session is still open.
 */
public interface Transport {

  /** Receives the outcome of the one outstanding send. */
  @FunctionalInterface
  interface Completion {
    /** Called once per send, on any thread, possibly before {@code sendBinary} returns. */
    void onSendComplete(Throwable errorOrNull);
  }

  /**
   * Starts sending {@code data} as one binary message; the outcome goes to the completion given
   * at construction. Never called while a send is outstanding.
   *
   * @throws RuntimeException if the container refuses the send outright
   */
  void sendBinary(ByteBuffer data);

  /** Returns whether the session is open. */
  boolean isOpen();

  /** Returns a short identifier for log messages. */
  String id();
}
