package dev.keepup.sim;

import dev.keepup.net.BandwidthTrace;
import dev.keepup.testing.VirtualTime;
import jakarta.websocket.MessageHandler;
import jakarta.websocket.PongMessage;
import jakarta.websocket.RemoteEndpoint;
import jakarta.websocket.SendHandler;
import jakarta.websocket.SendResult;
import jakarta.websocket.Session;
import java.lang.reflect.Proxy;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;

/**
 * A WebSocket session over a simulated bottleneck link, in virtual time: what the simulator
 * runs the real {@code PacedSender} (and the baselines) against.
 *
 * <p>The model, from the facts measured in DESIGN.md: bytes written by the server enter one
 * FIFO that stands for the server's socket buffer plus the bottleneck queue, of {@code
 * queueBytes} capacity (~0.7 MB measured on a congested 2 Mbit/s link, ~4 MB with a slow reader
 * on loopback). An async send completes when its last byte has entered that FIFO (the
 * "handed to the kernel" semantics of every container). The FIFO drains at the trace's rate,
 * piecewise constant; a message reaches the client one propagation delay after its last byte
 * leaves the bottleneck. Pings travel in the same FIFO behind every byte queued before them;
 * the client answers each at once, and its pong, like its acks, returns over an unshaped uplink
 * after one propagation delay. The client reads as fast as the link delivers.
 *
 * <p>Optionally ({@link #burstBytes(long)}, default 0) the bottleneck is a token bucket of that
 * depth, as the real-socket bench's {@code ShapingRelay} is: tokens accrue at the link's rate
 * while the queue is empty, up to the depth (the bucket starts full), and queued bytes pass at
 * once while tokens last. A frame sent into an idle link then crosses partly or wholly at once,
 * which is what a burst-rate probe sees on a real shaper.
 *
 * <p>It is a fluid model: TCP's congestion window, slow start and packet loss are not modelled;
 * the real-socket bench checks how far that matters.
 */
public final class SimulatedLink {
  private static final int PING_WIRE_OVERHEAD = 2;
  private static final int BINARY_WIRE_OVERHEAD = 4;

  /** What the simulated client sees. */
  public interface Client {
    /** A binary message arrived at {@code atNanos}. */
    void onBinary(ByteBuffer data, long atNanos);
  }

  private final VirtualTime time;
  private final BandwidthTrace trace;
  private final long startNanos;
  private final long oneWayDelayNanos;
  private final long queueBytes;
  private final Session session;
  private final Map<Class<?>, MessageHandler> handlers = new HashMap<>();
  private final ArrayDeque<Segment> inQueue = new ArrayDeque<>();
  /** Sends the container accepted and has not yet fully written (unbounded, as Tyrus and Jetty). */
  private final ArrayDeque<Segment> waiting = new ArrayDeque<>();

  private Client client = (data, at) -> {};
  private boolean clientAcks;
  private long clientClockOffsetNanos = 123_456_789L;
  private double fixedRateBitsPerSecond = -1;
  private boolean open = true;
  private boolean answerPings = true;
  private jakarta.websocket.CloseReason closeReason;

  private long cumEnqueued;
  private double cumDrained;
  private long lastAdvance;
  private dev.keepup.Scheduler.Cancellable wake;
  private long receivedCount;
  private long bytesDelivered;
  private double bitsOffered;
  private int maxWaiting;
  private boolean admitting;
  private boolean advancing;
  private long burstBytes;
  private double tokens;
  private double peakBytesPerNano; // 0: a burst passes at once

  private static final class Segment {
    final boolean ping;
    final ByteBuffer data;
    final long wireBytes;
    final SendHandler handler;
    long endOffset;

    Segment(boolean ping, ByteBuffer data, long wireBytes, SendHandler handler) {
      this.ping = ping;
      this.data = data;
      this.wireBytes = wireBytes;
      this.handler = handler;
    }
  }

  public SimulatedLink(VirtualTime time, BandwidthTrace trace, long oneWayDelayNanos, long queueBytes) {
    this.time = time;
    this.trace = trace;
    this.startNanos = time.read();
    this.lastAdvance = startNanos;
    this.oneWayDelayNanos = oneWayDelayNanos;
    this.queueBytes = queueBytes;
    RemoteEndpoint.Async async = (RemoteEndpoint.Async) Proxy.newProxyInstance(
        getClass().getClassLoader(), new Class<?>[] {RemoteEndpoint.Async.class}, (proxy, method, args) -> {
          switch (method.getName()) {
            case "sendBinary":
              if (args.length == 2 && args[1] instanceof SendHandler handler) {
                send((ByteBuffer) args[0], handler);
                return null;
              }
              throw new UnsupportedOperationException("SimulatedLink: sendBinary without a SendHandler");
            case "sendPing":
              ping((ByteBuffer) args[0]);
              return null;
            case "hashCode": return System.identityHashCode(proxy);
            case "equals": return proxy == args[0];
            case "toString": return "SimulatedLink.Async";
            default: throw new UnsupportedOperationException("SimulatedLink.Async." + method.getName());
          }
        });
    int[] maxText = {Integer.MAX_VALUE};
    this.session = (Session) Proxy.newProxyInstance(
        getClass().getClassLoader(), new Class<?>[] {Session.class}, (proxy, method, args) -> {
          switch (method.getName()) {
            case "getAsyncRemote": return async;
            case "isOpen": return open;
            case "getId": return "sim";
            case "getMaxTextMessageBufferSize": return maxText[0];
            case "setMaxTextMessageBufferSize": maxText[0] = (Integer) args[0]; return null;
            case "addMessageHandler":
              if (args.length != 2) {
                throw new UnsupportedOperationException("SimulatedLink: addMessageHandler(MessageHandler)");
              }
              if (handlers.putIfAbsent((Class<?>) args[0], (MessageHandler) args[1]) != null) {
                throw new IllegalStateException("handler already registered for " + args[0]);
              }
              return null;
            case "close":
              open = false;
              if (args != null && args.length == 1) {
                closeReason = (jakarta.websocket.CloseReason) args[0];
              }
              return null;
            case "hashCode": return System.identityHashCode(proxy);
            case "equals": return proxy == args[0];
            case "toString": return "SimulatedLink.Session";
            default: throw new UnsupportedOperationException("SimulatedLink.Session." + method.getName());
          }
        });
  }

  public Session session() {
    return session;
  }

  public SimulatedLink client(Client client) {
    this.client = client;
    return this;
  }

  /**
   * Makes the bottleneck a token bucket of {@code bytes} depth (0, the default: a pure fluid
   * link); the bucket starts full. Set it before the first send.
   */
  public SimulatedLink burstBytes(long bytes) {
    if (bytes < 0) {
      throw new IllegalArgumentException("burstBytes must be >= 0: " + bytes);
    }
    advance();
    this.burstBytes = bytes;
    this.tokens = bytes;
    return this;
  }

  /**
   * The rate at which a burst passes ({@link #burstBytes}): a real shaper writes a burst in
   * packets, through sockets and threads, never in zero time. 0 (the default): at once.
   */
  public SimulatedLink burstBitsPerSecond(double bitsPerSecond) {
    if (!(bitsPerSecond >= 0)) {
      throw new IllegalArgumentException("burstBitsPerSecond must be >= 0: " + bitsPerSecond);
    }
    advance();
    this.peakBytesPerNano = bitsPerSecond / 8 / 1e9;
    return this;
  }

  /** Makes the client send a received-count ack (docs/protocol.md) for every binary message. */
  public SimulatedLink clientAcks(boolean clientAcks) {
    this.clientAcks = clientAcks;
    return this;
  }

  /** Overrides the trace with a constant rate from now on (for step scenarios driven by a test). */
  public void setRate(double bitsPerSecond) {
    advance();
    fixedRateBitsPerSecond = bitsPerSecond;
    reschedule();
  }

  /** Brings the link up to the current virtual time (a test reading figures calls it first). */
  public void sync() {
    advance();
    reschedule();
  }

  /** Makes the client ignore pings (a client that never answers them, or has stopped). */
  public SimulatedLink answerPings(boolean answerPings) {
    this.answerPings = answerPings;
    return this;
  }

  /** Returns the reason the server closed the session with, or null. */
  public jakarta.websocket.CloseReason closeReason() {
    return closeReason;
  }

  /** Returns the bytes of binary messages delivered to the client. */
  public long bytesDelivered() {
    return bytesDelivered;
  }

  /** Returns the bits the link could have carried so far (the integral of its rate). */
  public double bitsOffered() {
    advance();
    return bitsOffered;
  }

  /** Returns the largest number of sends the container held at once (1 means never more than one). */
  public int maxWaiting() {
    return maxWaiting;
  }

  /** Returns the bytes queued toward the client now: socket buffer plus bottleneck queue plus unwritten sends. */
  public long queuedBytes() {
    advance();
    long waitingBytes = 0;
    for (Segment s : waiting) {
      waitingBytes += s.wireBytes;
    }
    return (long) Math.ceil(cumEnqueued - cumDrained) + waitingBytes;
  }

  // --- the server side -----------------------------------------------------------------

  private void send(ByteBuffer data, SendHandler handler) {
    if (!open) {
      handler.onResult(new SendResult(new java.io.IOException("session closed")));
      return;
    }
    advance();
    ByteBuffer copy = data.duplicate();
    waiting.add(new Segment(false, copy, copy.remaining() + BINARY_WIRE_OVERHEAD, handler));
    maxWaiting = Math.max(maxWaiting, waiting.size());
    admitAndComplete();
    if (!advancing) {
      reschedule();
    }
  }

  private void ping(ByteBuffer payload) {
    advance();
    ByteBuffer copy = ByteBuffer.allocate(payload.remaining());
    copy.put(payload.duplicate()).flip();
    // A ping is written at once, behind everything already in the socket; it is tiny, so the
    // model lets it in even when the buffer is full rather than model the blocking write.
    // Behind any data the container has not written yet, as Tyrus queues it.
    waiting.add(new Segment(true, copy, copy.remaining() + PING_WIRE_OVERHEAD, null));
    admitAndComplete();
    if (!advancing) {
      reschedule();
    }
  }

  /**
   * Moves waiting sends into the FIFO while there is room for the whole message, completing
   * each as it gets in. All-or-nothing admission gives the same completion time as a kernel
   * taking partial writes: the last byte gets in exactly when room for the whole message has
   * drained. Not reentrant: a completion handler that sends again only adds to {@code waiting},
   * and this loop takes it.
   */
  private void admitAndComplete() {
    if (admitting) {
      return;
    }
    admitting = true;
    try {
      while (!waiting.isEmpty()) {
        Segment head = waiting.peek();
        if (!head.ping && admissionThreshold(head) > cumDrained + 1e-6) {
          return;
        }
        waiting.poll();
        cumEnqueued += head.wireBytes;
        head.endOffset = cumEnqueued;
        inQueue.add(head);
        if (head.handler != null) {
          head.handler.onResult(new SendResult());
        }
      }
    } finally {
      admitting = false;
    }
  }

  /** The drained-bytes mark at which {@code segment} fits whole (a message larger than the buffer waits for it to empty). */
  private double admissionThreshold(Segment segment) {
    return cumEnqueued + Math.min(segment.wireBytes, queueBytes) - queueBytes;
  }

  // --- the link ------------------------------------------------------------------------

  private double rateBytesPerNano(long at) {
    double bitsPerSecond = fixedRateBitsPerSecond >= 0
        ? fixedRateBitsPerSecond
        : trace.rateAt((at - startNanos) / 1e9) * 1e6;
    return bitsPerSecond / 8 / 1e9;
  }

  /** Returns the next time after {@code at} at which the rate may change. */
  private long nextRateChange(long at) {
    if (fixedRateBitsPerSecond >= 0) {
      return Long.MAX_VALUE;
    }
    double seconds = (at - startNanos) / 1e9;
    for (BandwidthTrace.Sample sample : trace.samples()) {
      if (sample.timeSeconds() > seconds + 1e-9) {
        return startNanos + (long) Math.ceil(sample.timeSeconds() * 1e9);
      }
    }
    return Long.MAX_VALUE;
  }

  /** The next drained-bytes mark at which something happens: a message leaves, or a waiting one fits. */
  private double nextMark() {
    double mark = Double.POSITIVE_INFINITY;
    if (!inQueue.isEmpty()) {
      mark = inQueue.peek().endOffset;
    }
    if (!waiting.isEmpty()) {
      mark = Math.min(mark, admissionThreshold(waiting.peek()));
    }
    return mark;
  }

  /**
   * Runs the link up to now: drains at the rate of each constant piece, and at each mark
   * delivers the message that left or admits the send that now fits, at the exact time.
   */
  private void advance() {
    if (advancing) {
      return;
    }
    advancing = true;
    try {
      long now = time.read();
      while (true) {
        while (!inQueue.isEmpty() && inQueue.peek().endOffset <= cumDrained + 1e-6) {
          Segment done = inQueue.poll();
          scheduleArrival(done, lastAdvance + oneWayDelayNanos);
        }
        admitAndComplete();
        double queued = cumEnqueued - cumDrained;
        boolean bursting = tokens > 1e-9 && queued > 1e-6;
        if (bursting && peakBytesPerNano == 0) {
          // Tokens saved while idle let queued bytes through at once.
          double burst = Math.min(tokens, queued);
          tokens -= burst;
          cumDrained += burst;
          continue;
        }
        if (lastAdvance >= now) {
          return;
        }
        long pieceEnd = Math.min(now, nextRateChange(lastAdvance));
        double linkRate = rateBytesPerNano(lastAdvance);
        double rate = linkRate;
        if (bursting && peakBytesPerNano > linkRate) {
          // Tokens saved while idle let queued bytes through at the burst rate until they run out.
          rate = peakBytesPerNano;
          pieceEnd = Math.min(pieceEnd, lastAdvance + Math.max(1, (long) Math.ceil(tokens / (rate - linkRate))));
        }
        double mark = nextMark();
        long until = pieceEnd;
        if (rate > 0 && mark != Double.POSITIVE_INFINITY) {
          long at = lastAdvance + (long) Math.ceil((mark - cumDrained) / rate);
          if (at <= pieceEnd) {
            until = Math.max(at, lastAdvance);
            bitsOffered += linkRate * 8 * (until - lastAdvance);
            spendTokens(rate, linkRate, until - lastAdvance);
            cumDrained = Math.min(cumEnqueued, Math.max(cumDrained, mark));
            lastAdvance = until;
            continue;
          }
        }
        bitsOffered += linkRate * 8 * (until - lastAdvance);
        if (burstBytes > 0 && queued <= 1e-6) {
          tokens = Math.min(burstBytes, tokens + linkRate * (until - lastAdvance)); // idle: the bucket fills
        } else {
          spendTokens(rate, linkRate, until - lastAdvance);
        }
        cumDrained = Math.min(cumEnqueued, cumDrained + rate * (until - lastAdvance));
        lastAdvance = until;
      }
    } finally {
      advancing = false;
    }
  }

  /** While bursting, tokens go at the burst rate and come back at the link's. */
  private void spendTokens(double rate, double linkRate, long nanos) {
    if (rate > linkRate) {
      tokens = Math.max(0, tokens - (rate - linkRate) * nanos);
    }
  }

  private void scheduleArrival(Segment segment, long at) {
    time.schedule(() -> arrive(segment), at - time.read());
  }

  private void arrive(Segment segment) {
    long now = time.read();
    if (segment.ping) {
      if (!answerPings) {
        return;
      }
      ByteBuffer payload = segment.data;
      time.schedule(() -> deliverPong(payload), oneWayDelayNanos);
      return;
    }
    receivedCount++;
    bytesDelivered += segment.data.remaining();
    client.onBinary(segment.data.duplicate(), now);
    if (clientAcks) {
      long count = receivedCount;
      double clientMillis = (now + clientClockOffsetNanos) / 1e6;
      String ack = "k1 " + count + " " + String.format(java.util.Locale.ROOT, "%.3f", clientMillis) + " -1";
      time.schedule(() -> deliverText(ack), oneWayDelayNanos);
    }
  }

  @SuppressWarnings("unchecked")
  private void deliverPong(ByteBuffer payload) {
    MessageHandler.Whole<PongMessage> handler = (MessageHandler.Whole<PongMessage>) handlers.get(PongMessage.class);
    if (handler != null && open) {
      handler.onMessage(() -> payload.duplicate());
    }
  }

  @SuppressWarnings("unchecked")
  private void deliverText(String text) {
    MessageHandler.Whole<String> handler = (MessageHandler.Whole<String>) handlers.get(String.class);
    if (handler != null && open) {
      handler.onMessage(text);
    }
  }

  /** Schedules a wake-up at the next moment something happens on the link. */
  private void reschedule() {
    if (wake != null) {
      wake.cancel();
      wake = null;
    }
    long now = time.read();
    double mark = nextMark();
    if (mark == Double.POSITIVE_INFINITY) {
      return;
    }
    double rate = rateBytesPerNano(now);
    if (tokens > 1e-9 && cumEnqueued - cumDrained > 1e-6) {
      rate = peakBytesPerNano == 0 ? Double.POSITIVE_INFINITY : Math.max(rate, peakBytesPerNano); // a burst
    }
    long at = rate == Double.POSITIVE_INFINITY ? now
        : rate > 0 ? now + Math.max(0, (long) Math.ceil((mark - cumDrained) / rate)) : Long.MAX_VALUE;
    at = Math.min(at, nextRateChange(now));
    if (at == Long.MAX_VALUE) {
      return;
    }
    wake = time.schedule(() -> {
      wake = null;
      advance();
      reschedule();
    }, at - now);
  }
}
