package dev.keepup.internal.send;

import jakarta.websocket.CloseReason;
import jakarta.websocket.MessageHandler;
import jakarta.websocket.PongMessage;
import jakarta.websocket.SendHandler;
import jakarta.websocket.SendResult;
import jakarta.websocket.Session;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Objects;
import java.util.function.Consumer;

/** A {@link Transport} over a Jakarta WebSocket session's async remote endpoint. */
public final class SessionTransport implements Transport {
  private final Session session;
  // One handler for the life of the session: with one send in flight, none needs its own.
  private final SendHandler handler;
  /** The message handlers added, to remove when the sender stops. Touched by one thread at a time. */
  private final java.util.List<MessageHandler> added = new java.util.concurrent.CopyOnWriteArrayList<>();

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
  public void sendPing(ByteBuffer payload) throws IOException {
    session.getAsyncRemote().sendPing(payload);
  }

  @Override
  public boolean addPongHandler(Consumer<ByteBuffer> onPong) {
    MessageHandler.Whole<PongMessage> handler = pong -> onPong.accept(pong.getApplicationData());
    try {
      session.addMessageHandler(PongMessage.class, handler);
    } catch (IllegalStateException alreadyHasOne) {
      return false;
    }
    added.add(handler);
    return true;
  }

  /**
   * The largest text message the container may assemble once the sender owns the session's
   * text handler: acks are at most {@link AckProtocol#MAX_ACK_CHARS} characters, and a whole
   * handler gets a message only once the container has buffered all of it (Tyrus's default
   * limit is {@code Integer.MAX_VALUE}: a client could make it hold gigabytes). Over the
   * limit the container closes the session with 1009 (message too big).
   */
  static final int MAX_TEXT_MESSAGE_BYTES = 1024;

  /** The session's text limit before the sender lowered it, to put back on stop; -1: untouched. */
  private int previousTextLimit = -1;

  @Override
  public boolean addTextHandler(Consumer<String> onText) {
    MessageHandler.Whole<String> handler = onText::accept;
    try {
      session.addMessageHandler(String.class, handler);
    } catch (IllegalStateException alreadyHasOne) {
      return false;
    }
    added.add(handler);
    try {
      int limit = session.getMaxTextMessageBufferSize();
      if (limit > MAX_TEXT_MESSAGE_BYTES) {
        session.setMaxTextMessageBufferSize(MAX_TEXT_MESSAGE_BYTES);
        previousTextLimit = limit;
      }
    } catch (RuntimeException unsupported) {
      // A container that will not take the limit keeps its own; the ack parser still rejects
      // anything over MAX_ACK_CHARS, once the container has handed it over.
    }
    return true;
  }

  @Override
  public void removeHandlers() {
    for (MessageHandler handler : added) {
      try {
        session.removeMessageHandler(handler);
      } catch (RuntimeException closedOrGone) {
        // A closed session drops its handlers itself.
      }
    }
    added.clear();
    if (previousTextLimit >= 0) {
      // The session outlives the sender: the host's own text, later, gets its old limit.
      try {
        session.setMaxTextMessageBufferSize(previousTextLimit);
      } catch (RuntimeException closedOrGone) {
        // Nothing to give back to.
      }
      previousTextLimit = -1;
    }
  }

  @Override
  public void closeForViolation(String reason) {
    try {
      session.close(new CloseReason(CloseReason.CloseCodes.VIOLATED_POLICY, reason));
    } catch (IOException | RuntimeException alreadyGone) {
      // The session is closing or closed either way, which is what was asked.
    }
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
