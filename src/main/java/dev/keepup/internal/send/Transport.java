package dev.keepup.internal.send;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.function.Consumer;

/**
 * The little the send loop needs from a WebSocket session: one async binary send at a time,
 * pings, the pong and text messages coming back, and whether the session is still open.
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

  /** Sends a ping; synchronous in the Jakarta API, so it may block while the socket is full. */
  void sendPing(ByteBuffer payload) throws IOException;

  /** Routes the session's pongs to {@code onPong}; returns false if it already has a pong handler. */
  boolean addPongHandler(Consumer<ByteBuffer> onPong);

  /** Routes the session's text messages to {@code onText}; returns false if it already has one. */
  boolean addTextHandler(Consumer<String> onText);

  /** Removes the handlers this transport added; the session may outlive the sender. */
  void removeHandlers();

  /** Closes the session with 1008 (policy violation). */
  void closeForViolation(String reason);

  /** Returns whether the session is open. */
  boolean isOpen();

  /** Returns a short identifier for log messages. */
  String id();
}
