package dev.keepup.sim;

import dev.keepup.Frame;
import dev.keepup.Scheduler;
import jakarta.websocket.SendHandler;
import jakarta.websocket.SendResult;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;

/**
 * A bounded drop-oldest queue in front of one send in flight: Spring's {@code
 * ConcurrentWebSocketSessionDecorator} with {@code OverflowStrategy.DROP}, at one rendition,
 * fed a frame every frame interval.
 *
 * <p>Faithful to Spring's logic: a message is first added to the buffer (its size counted);
 * if no send is in progress, the buffer is flushed, one send at a time, until empty; otherwise
 * the limits are checked, and while the buffered bytes exceed {@code bufferSizeLimit} the
 * oldest buffered message is dropped (which may be the one just added, if it alone is over
 * the limit). The message in flight is never dropped and does not count toward the limit.
 * Spring's send is a blocking write that returns when the bytes are in the kernel, which is
 * what the simulated session's async completion reports. Spring also closes the session when a
 * send has been in progress longer than {@code sendTimeLimit}; that is not modelled (as with a
 * large limit), since a closed session would end the run rather than show the queue's effect.
 * The decorator knows nothing of frame kinds: a dropped DELTA breaks its reference chain until
 * the next KEY, and the frames after it reach the viewer undecodable.
 */
final class DropOldest implements Strategy {
  private final String name;
  private final int rendition;
  private final int bufferSizeLimit;

  /** {@code rendition} -1 means the top one. */
  DropOldest(String name, int rendition, int bufferSizeLimit) {
    if (bufferSizeLimit <= 0) {
      throw new IllegalArgumentException("bufferSizeLimit must be > 0: " + bufferSizeLimit);
    }
    this.name = name;
    this.rendition = rendition;
    this.bufferSizeLimit = bufferSizeLimit;
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public Running start(Context context) {
    Decorator decorator = new Decorator(context);
    decorator.next = context.scheduler().schedule(decorator::onTick, 0);
    return decorator;
  }

  private final class Decorator implements Running, SendHandler {
    private final Context context;
    private final int r;
    private final long gridStart;
    private final double interval;
    private final ArrayDeque<ByteBuffer> buffer = new ArrayDeque<>();
    private long bufferSize;
    private boolean inProgress;
    private boolean flushing;
    private boolean stopped;
    private long tick;
    private Scheduler.Cancellable next;
    private long dropped;
    private long sends;

    Decorator(Context context) {
      this.context = context;
      this.r = rendition < 0 ? context.ladder().top() : Math.min(rendition, context.ladder().top());
      this.gridStart = context.ticker().read();
      this.interval = context.ladder().frameIntervalNanos();
    }

    private void onTick() {
      if (stopped) {
        return;
      }
      Frame frame = context.source().poll(r);
      if (frame != null) {
        sendMessage(frame.payload().duplicate());
      }
      tick++;
      next = context.scheduler().schedule(this::onTick, gridStart + Math.round(tick * interval) - context.ticker().read());
    }

    /** Spring's sendMessage: buffer, then flush if no send is in progress, else check limits. */
    private void sendMessage(ByteBuffer message) {
      buffer.add(message);
      bufferSize += message.remaining();
      if (!inProgress) {
        flush();
      } else {
        while (bufferSize > bufferSizeLimit && !buffer.isEmpty()) {
          bufferSize -= buffer.poll().remaining();
          dropped++;
        }
      }
    }

    /** Spring's flush loop, one message in the container at a time; a loop, since completion may be inline. */
    private void flush() {
      if (flushing) {
        return;
      }
      flushing = true;
      try {
        while (!inProgress && !buffer.isEmpty() && !stopped) {
          ByteBuffer message = buffer.poll();
          bufferSize -= message.remaining();
          inProgress = true;
          sends++;
          context.session().getAsyncRemote().sendBinary(message, this);
        }
      } finally {
        flushing = false;
      }
    }

    @Override
    public void onResult(SendResult result) {
      inProgress = false;
      flush();
    }

    @Override
    public void stop() {
      stopped = true;
      next.cancel();
    }

    @Override
    public String notes() {
      return "sends=" + sends + " dropped=" + dropped;
    }
  }
}
