package dev.keepup.sim;

import dev.keepup.Frame;
import dev.keepup.Scheduler;
import jakarta.websocket.SendHandler;

/**
 * Fixed-rate pacing at one rendition, after Ben Darnell's "fair rate" loop for Tornado: a frame
 * every frame interval on a fixed grid, sent with an async send that is not awaited. The
 * container (here {@link SimulatedLink}, which queues like Tyrus, Jetty and Undertow) holds
 * every send the socket cannot take yet, without bound: the frame rate never drops and the
 * backlog, and the frames' age, grow for as long as the link is slower than the stream.
 */
final class FixedRate implements Strategy {
  private final String name;
  private final int rendition;

  /** {@code rendition} -1 means the top one. */
  FixedRate(String name, int rendition) {
    this.name = name;
    this.rendition = rendition;
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public Running start(Context context) {
    int r = rendition < 0 ? context.ladder().top() : Math.min(rendition, context.ladder().top());
    long gridStart = context.ticker().read();
    double interval = context.ladder().frameIntervalNanos();
    long[] counts = new long[2]; // sends, completions
    SendHandler handler = result -> counts[1]++;
    return new Running() {
      private long tick;
      private boolean stopped;
      private Scheduler.Cancellable next = context.scheduler().schedule(this::onTick, 0);

      private void onTick() {
        if (stopped) {
          return;
        }
        Frame frame = context.source().poll(r);
        if (frame != null) {
          counts[0]++;
          context.session().getAsyncRemote().sendBinary(frame.payload().duplicate(), handler);
        }
        tick++;
        next = context.scheduler().schedule(this::onTick, gridStart + Math.round(tick * interval) - context.ticker().read());
      }

      @Override
      public void stop() {
        stopped = true;
        next.cancel();
      }

      @Override
      public String notes() {
        return "sends=" + counts[0] + " completed=" + counts[1];
      }
    };
  }
}
