package dev.keepup.demo;

import jakarta.websocket.RemoteEndpoint;
import jakarta.websocket.SendHandler;
import jakarta.websocket.SendResult;
import jakarta.websocket.Session;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * A slow network link in front of one WebSocket session, on the server side, so that the
 * library's signals see it as they would see a real one.
 *
 * <p>What goes to the client (binary messages, pings, text) enters a FIFO of {@link
 * #DEFAULT_CAPACITY_BYTES} (standing for the socket's send buffer and the bottleneck's queue)
 * and leaves it at the configured rate: a message is handed to the real session when its last
 * byte has crossed the link, so the client sees it, and answers a ping, as late as it would
 * behind a bottleneck of that rate. A send completes when its bytes are in the FIFO, as a send
 * into a kernel buffer does; while the FIFO is full, it waits. Pings go through the same FIFO,
 * in order, so pongs are delayed like data. The link has no burst allowance: while the FIFO is
 * empty no credit builds up, so a frame sent into an idle link still crosses it at the rate,
 * as on a real bottleneck (not a token-bucket shaper that lets bursts through).
 *
 * <p>With no limit ({@link #UNLIMITED}) and an empty FIFO, sends go straight to the session.
 *
 * <p>{@link #session()} is the throttled view: a {@link Proxy} of the real session whose {@code
 * getAsyncRemote()} sends binary messages and pings through the link; every other method goes
 * to the real session. Thread safe.
 */
final class ThrottledLink implements AutoCloseable {
  /** No limit. */
  static final long UNLIMITED = 0;
  /** The FIFO's size: a socket buffer plus a bottleneck queue. */
  static final int DEFAULT_CAPACITY_BYTES = 256 << 10;
  /** How often the FIFO drains. */
  static final long TICK_NANOS = TimeUnit.MILLISECONDS.toNanos(2);

  private enum Kind { BINARY, PING, TEXT }

  /** One message in the FIFO. */
  private static final class Item {
    final Kind kind;
    final ByteBuffer data;
    final String text;
    /** Bytes on the wire: the payload and a WebSocket frame header. */
    final long wireBytes;
    SendHandler handler;

    Item(Kind kind, ByteBuffer data, String text, long payloadBytes, SendHandler handler) {
      this.kind = kind;
      this.data = data;
      this.text = text;
      this.wireBytes = payloadBytes + (payloadBytes < 126 ? 2 : payloadBytes < 65_536 ? 4 : 10);
      this.handler = handler;
    }
  }

  private final Session real;
  private final Session throttled;
  private final ScheduledExecutorService drainer;
  private final long capacityBytes;
  private final Object lock = new Object();
  private final ArrayDeque<Item> fifo = new ArrayDeque<>();
  /** Bytes in the FIFO not yet across the link, the head's remainder included. */
  private long queuedBytes;
  /** The head item's bytes not yet across the link. */
  private long headRemaining;
  private long bitsPerSecond = UNLIMITED;
  private long lastDrainNanos;
  /** Bytes the link may still move this tick: the token bucket, which holds nothing while idle. */
  private double credit;
  private ScheduledFuture<?> drainTask;
  /** Items taken from the FIFO and being handed to the real session, outside the lock. */
  private int delivering;
  private Throwable failure;
  private boolean closed;

  /**
   * A link in front of {@code real}, drained by {@code drainer}, which must be single-threaded
   * (it delivers what crossed, in order; one drainer may serve many links).
   */
  ThrottledLink(Session real, ScheduledExecutorService drainer) {
    this(real, drainer, DEFAULT_CAPACITY_BYTES);
  }

  ThrottledLink(Session real, ScheduledExecutorService drainer, long capacityBytes) {
    this.real = real;
    this.drainer = drainer;
    this.capacityBytes = capacityBytes;
    RemoteEndpoint.Async async = (RemoteEndpoint.Async) Proxy.newProxyInstance(
        ThrottledLink.class.getClassLoader(), new Class<?>[] {RemoteEndpoint.Async.class}, new AsyncHandler());
    this.throttled = (Session) Proxy.newProxyInstance(
        ThrottledLink.class.getClassLoader(), new Class<?>[] {Session.class}, (proxy, method, args) -> {
          if (method.getName().equals("getAsyncRemote") && method.getParameterCount() == 0) {
            return async;
          }
          return forward(method, real, args, proxy);
        });
  }

  /** The session as the sender should see it: its async sends and pings go through the link. */
  Session session() {
    return throttled;
  }

  /** The link's rate in bits per second, or {@link #UNLIMITED}. */
  long bitsPerSecond() {
    synchronized (lock) {
      return bitsPerSecond;
    }
  }

  /** Sets the link's rate; takes effect at once, for what is queued too. */
  void setBitsPerSecond(long bitsPerSecond) {
    if (bitsPerSecond < 0) {
      throw new IllegalArgumentException("bitsPerSecond must be >= 0: " + bitsPerSecond);
    }
    // On the drainer, the one thread that delivers from the FIFO, so messages stay in order.
    try {
      drainer.execute(() -> {
        drain(); // what crossed at the old rate
        synchronized (lock) {
          this.bitsPerSecond = bitsPerSecond;
          if (!fifo.isEmpty()) {
            ensureDraining();
          }
        }
        drain();
      });
    } catch (RejectedExecutionException stopping) {
      // The server is stopping; the link goes with it.
    }
  }

  /** Bytes waiting in the FIFO. */
  long queuedBytes() {
    synchronized (lock) {
      return queuedBytes;
    }
  }

  /** Sends a text message through the link; {@code handler} may be null. */
  void sendText(String text, SendHandler handler) {
    enqueue(new Item(Kind.TEXT, null, text, text.getBytes(StandardCharsets.UTF_8).length, handler));
  }

  /** Stops draining; what is still queued is dropped and its pending sends fail. */
  @Override
  public void close() {
    List<SendHandler> failed = new ArrayList<>();
    synchronized (lock) {
      if (closed) {
        return;
      }
      closed = true;
      if (drainTask != null) {
        drainTask.cancel(false);
        drainTask = null;
      }
      for (Item item : fifo) {
        if (item.handler != null) {
          failed.add(item.handler);
          item.handler = null;
        }
      }
      fifo.clear();
      queuedBytes = 0;
      headRemaining = 0;
    }
    SendResult result = new SendResult(new IOException("link closed"));
    failed.forEach(h -> h.onResult(result));
  }

  private void enqueue(Item item) {
    boolean direct;
    Throwable failed;
    synchronized (lock) {
      failed = closed ? new IOException("link closed") : failure;
      direct = failed == null && bitsPerSecond == UNLIMITED && fifo.isEmpty() && delivering == 0;
      if (failed == null && !direct) {
        if (fifo.isEmpty()) {
          headRemaining = item.wireBytes;
          lastDrainNanos = System.nanoTime();
          credit = 0;
        }
        fifo.add(item);
        queuedBytes += item.wireBytes;
        ensureDraining();
      }
    }
    if (failed != null) {
      if (item.handler != null) {
        item.handler.onResult(new SendResult(failed));
      } else if (item.kind == Kind.PING) {
        throw new UncheckedIOException(new IOException("link failed or closed", failed));
      }
      return;
    }
    if (direct) {
      // Nothing queued ahead: the real session's own completion is the completion.
      deliver(item, item.handler);
      return;
    }
    completeAccepted();
  }

  /** Completes, in order, the sends whose bytes now fit in the FIFO (or that reached its head). */
  private void completeAccepted() {
    List<SendHandler> accepted = new ArrayList<>();
    synchronized (lock) {
      long position = 0;
      boolean head = true;
      for (Item item : fifo) {
        long end = position + (head ? headRemaining : item.wireBytes);
        if (item.handler != null && (end <= capacityBytes || head)) {
          accepted.add(item.handler);
          item.handler = null;
        }
        position = end;
        head = false;
      }
    }
    SendResult ok = new SendResult();
    accepted.forEach(h -> h.onResult(ok));
  }

  private void ensureDraining() {
    if (drainTask == null && !closed) {
      drainTask = drainer.scheduleAtFixedRate(this::drain, TICK_NANOS, TICK_NANOS, TimeUnit.NANOSECONDS);
    }
  }

  /** Moves what crossed the link since the last drain to the real session, in order. */
  private void drain() {
    List<Item> crossed;
    synchronized (lock) {
      if (closed) {
        return;
      }
      crossed = drainLocked(System.nanoTime());
      if (fifo.isEmpty() && drainTask != null) {
        drainTask.cancel(false);
        drainTask = null;
      }
      delivering += crossed.size();
    }
    try {
      for (Item item : crossed) {
        deliver(item, null);
      }
    } finally {
      synchronized (lock) {
        delivering -= crossed.size();
      }
    }
    if (!crossed.isEmpty()) {
      completeAccepted();
    }
  }

  /** Lets the rate's worth of bytes since the last drain cross; returns the items that crossed whole. */
  private List<Item> drainLocked(long now) {
    List<Item> crossed = new ArrayList<>();
    long elapsed = Math.max(0, now - lastDrainNanos);
    lastDrainNanos = now;
    if (fifo.isEmpty()) {
      // No credit while idle: a bottleneck link cannot send later the bytes it did not have.
      credit = 0;
      return crossed;
    }
    credit = bitsPerSecond == UNLIMITED ? Double.POSITIVE_INFINITY : credit + bitsPerSecond / 8.0 * elapsed / 1e9;
    while (!fifo.isEmpty() && credit >= 1) {
      long step = (long) Math.min(headRemaining, Math.floor(credit));
      headRemaining -= step;
      queuedBytes -= step;
      credit -= step;
      if (headRemaining > 0) {
        break;
      }
      crossed.add(fifo.poll());
      if (!fifo.isEmpty()) {
        headRemaining = fifo.peekFirst().wireBytes;
      }
    }
    if (fifo.isEmpty()) {
      credit = 0;
    }
    return crossed;
  }

  /** Hands a message that crossed the link to the real session; {@code handler} is the sender's, if still owed. */
  private void deliver(Item item, SendHandler handler) {
    RemoteEndpoint.Async remote = real.getAsyncRemote();
    try {
      switch (item.kind) {
        case BINARY -> remote.sendBinary(item.data, result -> {
          if (!result.isOK()) {
            failed(result.getException());
          }
          if (handler != null) {
            handler.onResult(result);
          }
        });
        case PING -> {
          remote.sendPing(item.data);
          if (handler != null) {
            handler.onResult(new SendResult());
          }
        }
        case TEXT -> remote.sendText(item.text, result -> {
          if (!result.isOK()) {
            failed(result.getException());
          }
          if (handler != null) {
            handler.onResult(result);
          }
        });
      }
    } catch (IOException | RuntimeException e) {
      failed(e);
      if (handler != null) {
        handler.onResult(new SendResult(e));
      } else if (item.kind == Kind.PING) {
        // A ping that went straight through throws to its caller, as the real one would.
        throw e instanceof IOException io ? new UncheckedIOException(io) : (RuntimeException) e;
      }
    }
  }

  private void failed(Throwable error) {
    synchronized (lock) {
      if (failure == null) {
        failure = error != null ? error : new IOException("send failed");
      }
    }
  }

  private static Object forward(Method method, Object target, Object[] args, Object proxy) throws Throwable {
    if (method.getDeclaringClass() == Object.class) {
      switch (method.getName()) {
        case "equals":
          return proxy == args[0];
        case "hashCode":
          return System.identityHashCode(proxy);
        case "toString":
          return "Throttled[" + target + "]";
        default:
          break;
      }
    }
    try {
      return method.invoke(target, args);
    } catch (InvocationTargetException e) {
      throw e.getCause();
    }
  }

  /** The throttled {@code RemoteEndpoint.Async}: binary messages and pings go through the link. */
  private final class AsyncHandler implements InvocationHandler {
    @Override
    public Object invoke(Object proxy, Method method, Object[] args) throws Throwable {
      String name = method.getName();
      Class<?>[] types = method.getParameterTypes();
      if (name.equals("sendBinary") && types.length == 2 && types[1] == SendHandler.class) {
        ByteBuffer data = copy((ByteBuffer) args[0]);
        enqueue(new Item(Kind.BINARY, data, null, data.remaining(), (SendHandler) args[1]));
        return null;
      }
      if (name.equals("sendBinary") && types.length == 1) {
        ByteBuffer data = copy((ByteBuffer) args[0]);
        CompletableFuture<Void> done = new CompletableFuture<>();
        enqueue(new Item(Kind.BINARY, data, null, data.remaining(), result -> complete(done, result)));
        return (Future<Void>) done;
      }
      if (name.equals("sendPing") && types.length == 1) {
        ByteBuffer data = copy((ByteBuffer) args[0]);
        try {
          enqueue(new Item(Kind.PING, data, null, data.remaining(), null));
        } catch (UncheckedIOException e) {
          throw e.getCause();
        }
        return null;
      }
      if (name.equals("sendText") && types.length == 2 && types[1] == SendHandler.class) {
        String text = (String) args[0];
        enqueue(new Item(Kind.TEXT, null, text, text.getBytes(StandardCharsets.UTF_8).length, (SendHandler) args[1]));
        return null;
      }
      return forward(method, real.getAsyncRemote(), args, proxy);
    }

    private void complete(CompletableFuture<Void> done, SendResult result) {
      if (result.isOK()) {
        done.complete(null);
      } else {
        done.completeExceptionally(result.getException());
      }
    }

    /** A socket copies what it is given; so does the link, so the caller may reuse its buffer. */
    private ByteBuffer copy(ByteBuffer data) {
      ByteBuffer copy = ByteBuffer.allocate(data.remaining());
      copy.put(data.duplicate()).flip();
      return copy;
    }
  }
}
