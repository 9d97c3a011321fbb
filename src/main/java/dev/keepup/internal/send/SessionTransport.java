package dev.keepup.internal.send;

import jakarta.websocket.SendHandler;
import jakarta.websocket.SendResult;
import jakarta.websocket.Session;
import java.nio.ByteBuffer;
import java.util.Objects;

/** A {@link Transport} over a Jakarta WebSocket session's async remote endpoint. */
public final class SessionTransport implements Transport {
  private final Session session;
  // One handler for the life of the session: with one send in flight, none needs its own.
  private final SendHandler handler;

  public SessionTransport(Session session, Completion completion) {
    this.session = Objects.requireNonNull(session, "session");
    Objects.requireNonNull(completion, "completion");
    this.handler = (SendResult result) ->
        completion.onSendComplete(result.isOK() ? null : failureOf(result));
  }

  private static Throwable failureOf(SendResult result) {
    Throwable error = result.getException();
    return error != null ? error : new IllegalStateException("send failed without an exception");
  }

  @Override
  public void sendBinary(ByteBuffer data) {
    session.getAsyncRemote().sendBinary(data, handler);
  }

  @Override
  public boolean isOpen() {
    return session.isOpen();
  }

  @Override
  public String id() {
    return session.getId();
  }
}
