package dev.keepup.testing;

import jakarta.websocket.MessageHandler;
import jakarta.websocket.RemoteEndpoint;
import jakarta.websocket.SendHandler;
import jakarta.websocket.SendResult;
import jakarta.websocket.Session;
import java.io.IOException;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.Proxy;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * A {@link Session} double for unit tests of the send loop: records async binary sends and
 * lets the test decide when each completes. Only the methods the library uses are real; the
 * rest throw, so a test notices if the library starts depending on something new.
 */
public final class FakeSession {

  /** How sends complete. */
  public enum Completion {
    /** Inside {@code sendBinary}, before it returns (as Tyrus does when the socket has room). */
    INLINE,
    /** When the test calls {@link #completeNext}. */
    MANUAL,
    /** Inside {@code sendBinary}, twice: a container bug the library must survive. */
    INLINE_TWICE,
    /** Inside {@code sendBinary}, whatever the hook given to {@link #duringSend} does. */
    DURING_SEND
  }

  /** One send the container accepted. */
  public record Send(ByteBuffer data, long atNanos, int size) {}

  private final VirtualTime time;
  private final Session session;
  private final List<Send> sends = new ArrayList<>();
  private final List<MessageHandler> handlers = new ArrayList<>();
  private final java.util.Set<Class<?>> handlerTypes = new java.util.HashSet<>();
  private final java.util.Map<Class<?>, MessageHandler> typedHandlers = new java.util.HashMap<>();
  private final List<ByteBuffer> pings = new ArrayList<>();
  private Consumer<ByteBuffer> onPing = payload -> {};
  private Completion completion = Completion.INLINE;
  private SendHandler outstanding;
  private boolean open = true;
  private int overlaps;
  private RuntimeException refuseWith;
  private Consumer<ByteBuffer> onSend = data -> {};
  private Consumer<SendHandler> duringSend = handler -> {};

  public FakeSession(VirtualTime time) {
    this.time = time;
    RemoteEndpoint.Async async = (RemoteEndpoint.Async) Proxy.newProxyInstance(
        getClass().getClassLoader(), new Class<?>[] {RemoteEndpoint.Async.class}, asyncHandler());
    int[] maxText = {Integer.MAX_VALUE};
    this.session = (Session) Proxy.newProxyInstance(
        getClass().getClassLoader(), new Class<?>[] {Session.class}, (proxy, method, args) -> {
          switch (method.getName()) {
            case "getAsyncRemote": return async;
            case "isOpen": return open;
            case "getId": return "fake";
            case "getMaxTextMessageBufferSize": return maxText[0];
            case "setMaxTextMessageBufferSize": maxText[0] = (Integer) args[0]; return null;
            case "addMessageHandler":
              MessageHandler added = (MessageHandler) args[args.length - 1];
              if (args.length == 2) {
                Class<?> type = (Class<?>) args[0];
                if (handlerTypes.contains(type)) {
                  throw new IllegalStateException("already has a handler for " + type.getSimpleName());
                }
                handlerTypes.add(type);
                typedHandlers.put(type, added);
              }
              handlers.add(added);
              return null;
            case "removeMessageHandler": {
              MessageHandler removed = (MessageHandler) args[0];
              handlers.remove(removed);
              typedHandlers.entrySet().removeIf(e -> {
                boolean match = e.getValue() == removed;
                if (match) {
                  handlerTypes.remove(e.getKey());
                }
                return match;
              });
              return null;
            }
            case "getMessageHandlers": return java.util.Set.copyOf(handlers);
            case "close":
              open = false;
              return null;
            case "toString": return "FakeSession";
            case "hashCode": return System.identityHashCode(proxy);
            case "equals": return proxy == args[0];
            default: throw new UnsupportedOperationException("FakeSession." + method.getName());
          }
        });
  }

  private InvocationHandler asyncHandler() {
    return (proxy, method, args) -> {
      if (method.getName().equals("sendBinary") && args.length == 2
          && args[1] instanceof SendHandler handler) {
        sendBinary((ByteBuffer) args[0], handler);
        return null;
      }
      if (method.getName().equals("sendPing")) {
        if (outstanding != null) {
          overlaps++;
        }
        ByteBuffer payload = (ByteBuffer) args[0];
        pings.add(payload);
        onPing.accept(payload);
        return null;
      }
      switch (method.getName()) {
        case "toString": return "FakeSession.Async";
        case "hashCode": return System.identityHashCode(proxy);
        case "equals": return proxy == args[0];
        default: throw new UnsupportedOperationException("FakeSession.Async." + method.getName());
      }
    };
  }

  private void sendBinary(ByteBuffer data, SendHandler handler) {
    if (refuseWith != null) {
      throw refuseWith;
    }
    if (outstanding != null) {
      overlaps++;
      throw new IllegalStateException("a send is already outstanding");
    }
    int size = data.remaining();
    sends.add(new Send(data, time.read(), size));
    onSend.accept(data);
    outstanding = handler;
    if (completion == Completion.INLINE) {
      completeNext();
    } else if (completion == Completion.INLINE_TWICE) {
      completeNext();
      handler.onResult(new SendResult());
    } else if (completion == Completion.DURING_SEND) {
      outstanding = null;
      duringSend.accept(handler);
    }
  }

  public Session session() {
    return session;
  }

  public FakeSession completion(Completion completion) {
    this.completion = completion;
    return this;
  }

  /** Makes every later send throw {@code error} from {@code sendBinary}. */
  public FakeSession refuseSends(RuntimeException error) {
    this.refuseWith = error;
    return this;
  }

  /**
   * Completes each send inside {@code sendBinary} by running {@code hook} with its handler
   * there: a completion from another thread, an error then a throw, and so on.
   */
  public FakeSession duringSend(Consumer<SendHandler> hook) {
    this.duringSend = hook;
    this.completion = Completion.DURING_SEND;
    return this;
  }

  public FakeSession onSend(Consumer<ByteBuffer> onSend) {
    this.onSend = onSend;
    return this;
  }

  /** Completes the outstanding send successfully; returns false if there was none. */
  public boolean completeNext() {
    SendHandler handler = outstanding;
    if (handler == null) {
      return false;
    }
    outstanding = null;
    handler.onResult(new SendResult());
    return true;
  }

  /** Fails the outstanding send with {@code error}. */
  public boolean failNext(Throwable error) {
    SendHandler handler = outstanding;
    if (handler == null) {
      return false;
    }
    outstanding = null;
    handler.onResult(new SendResult(error));
    return true;
  }

  /** Marks the session closed, as when the client goes away; the outstanding send, if any, fails. */
  public void closeRemotely() {
    open = false;
    failNext(new IOException("connection closed by peer"));
  }

  public boolean hasOutstanding() {
    return outstanding != null;
  }

  public List<Send> sends() {
    return sends;
  }

  public int overlaps() {
    return overlaps;
  }

  public List<MessageHandler> handlers() {
    return handlers;
  }

  /** Returns the payloads of the pings sent, in order. */
  public List<ByteBuffer> pings() {
    return pings;
  }

  public FakeSession onPing(Consumer<ByteBuffer> onPing) {
    this.onPing = onPing;
    return this;
  }

  /** Delivers a pong to the handler the library registered, as the container would. */
  @SuppressWarnings("unchecked")
  public void deliverPong(ByteBuffer payload) {
    MessageHandler.Whole<jakarta.websocket.PongMessage> handler =
        (MessageHandler.Whole<jakarta.websocket.PongMessage>) typedHandlers.get(jakarta.websocket.PongMessage.class);
    if (handler == null) {
      throw new IllegalStateException("no pong handler registered");
    }
    handler.onMessage(new jakarta.websocket.PongMessage() {
      @Override
      public ByteBuffer getApplicationData() {
        return payload;
      }
    });
  }

  /** Delivers a text message to the handler the library registered. */
  @SuppressWarnings("unchecked")
  public void deliverText(String text) {
    MessageHandler.Whole<String> handler = (MessageHandler.Whole<String>) typedHandlers.get(String.class);
    if (handler == null) {
      throw new IllegalStateException("no text handler registered");
    }
    handler.onMessage(text);
  }

  /** Registers a pong handler as a host endpoint would, before the library tries to. */
  public void preRegisterPongHandler() {
    handlerTypes.add(jakarta.websocket.PongMessage.class);
  }
}
