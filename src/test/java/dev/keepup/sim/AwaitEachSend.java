package dev.keepup.sim;

import dev.keepup.Frame;
import dev.keepup.FrameKind;
import dev.keepup.Scheduler;
import jakarta.websocket.SendHandler;
import jakarta.websocket.SendResult;
import java.util.Locale;

/**
 * The baseline most servers start with, Tornado style: {@code await ws.write_message(frame)},
 * then sleep until the next frame deadline, then send the newest frame. One send at a time, so
 * nothing piles up in the server's heap, but a send completes as soon as the kernel takes the
 * bytes, so the kernel buffer and the bottleneck queue fill and hide seconds.
 *
 * <p>Deadlines are on a grid of the ladder's frame interval from the start; after a completion
 * the next send waits for the first deadline after the one just used that is not before the
 * completion. At a deadline it polls the source; with nothing new it waits for the next one.
 *
 * <p>Two modes:
 * <ul>
 *   <li><b>fixed</b>: always the same rendition (the top one by default);
 *   <li><b>lag-to-quality</b> (Guacamole-like): the lag is what such a server can see, the time
 *       from handing a frame to the container to its completion, smoothed (EWMA, weight 1/8 per
 *       send). It maps linearly to a rendition: the top one at a lag of at most {@code lowLag},
 *       the cheapest at {@code highLag} or more, linear (rounded) in between. Defaults 20 and
 *       80 ms. Guacamole's own lag is measured to a client render ack, which a plain WebSocket
 *       server does not have; send completion is near zero until the kernel buffer is full,
 *       after which a send takes its own frame's transmission time. The defaults scored best
 *       of a sweep (20/80, 33/100, 33/133, 67/200 ms; weights 1/4, 1/8, 1/16, on every sixth
 *       FCC/HSDPA trace), though all were within 10% of each other with a p95 age near 9 s:
 *       the kernel buffer, not the thresholds, decides. On a switch it asks the source for a
 *       key frame of the new rendition and sends nothing until that KEY comes (a tick or
 *       two), so a switch never breaks a reference chain.
 * </ul>
 */
final class AwaitEachSend implements Strategy {
  private final String name;
  private final int rendition;
  private final double lowLagMillis;
  private final double highLagMillis;
  private final double lagWeight;

  private AwaitEachSend(String name, int rendition, double lowLagMillis, double highLagMillis, double lagWeight) {
    this.name = name;
    this.rendition = rendition;
    this.lowLagMillis = lowLagMillis;
    this.highLagMillis = highLagMillis;
    this.lagWeight = lagWeight;
  }

  /** Await-each-send at a fixed rendition; {@code rendition} -1 means the top one. */
  static AwaitEachSend fixed(String name, int rendition) {
    return new AwaitEachSend(name, rendition, Double.NaN, Double.NaN, 1);
  }

  /** Lag-to-quality with thresholds in milliseconds and the EWMA weight of each new lag sample. */
  static AwaitEachSend lagToQuality(String name, double lowLagMillis, double highLagMillis, double lagWeight) {
    if (!(lowLagMillis >= 0 && highLagMillis > lowLagMillis)) {
      throw new IllegalArgumentException("lag thresholds must satisfy 0 <= low < high: "
          + lowLagMillis + ", " + highLagMillis);
    }
    if (!(lagWeight > 0 && lagWeight <= 1)) {
      throw new IllegalArgumentException("lagWeight must be in (0, 1]: " + lagWeight);
    }
    return new AwaitEachSend(name, -1, lowLagMillis, highLagMillis, lagWeight);
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public Running start(Context context) {
    Loop loop = new Loop(context);
    loop.scheduleTick(0);
    return loop;
  }

  private boolean adaptive() {
    return !Double.isNaN(lowLagMillis);
  }

  private final class Loop implements Running, SendHandler {
    private final Context context;
    private final long gridStart;
    private final double interval;
    private final int top;
    private long tick;
    private boolean stopped;
    private Scheduler.Cancellable pendingTick;
    private long sentAt;
    private double lagNanos;
    private int current;
    private int switchingTo = -1;
    private long sends;
    private long switchesStarted;

    Loop(Context context) {
      this.context = context;
      this.gridStart = context.ticker().read();
      this.interval = context.ladder().frameIntervalNanos();
      this.top = context.ladder().top();
      this.current = rendition < 0 ? top : Math.min(rendition, top);
    }

    void scheduleTick(long k) {
      tick = k;
      long at = gridStart + Math.round(k * interval);
      pendingTick = context.scheduler().schedule(this::onTick, at - context.ticker().read());
    }

    private void onTick() {
      pendingTick = null;
      if (stopped) {
        return;
      }
      if (adaptive()) {
        int wanted = renditionForLag();
        if (switchingTo < 0 && wanted != current) {
          switchingTo = wanted;
          switchesStarted++;
          context.source().requestKeyFrame(wanted);
        }
      }
      int r = switchingTo >= 0 ? switchingTo : current;
      Frame frame = context.source().poll(r);
      if (frame != null && switchingTo >= 0) {
        if (frame.kind() == FrameKind.KEY) {
          current = switchingTo;
          switchingTo = -1;
        } else {
          frame = null; // not decodable on its own: wait for the key frame asked for
        }
      }
      if (frame == null) {
        scheduleTick(tick + 1);
        return;
      }
      sentAt = context.ticker().read();
      sends++;
      context.session().getAsyncRemote().sendBinary(frame.payload().duplicate(), this);
    }

    @Override
    public void onResult(SendResult result) {
      if (stopped) {
        return;
      }
      long now = context.ticker().read();
      long latency = now - sentAt;
      lagNanos = sends == 1 ? latency : lagNanos + (latency - lagNanos) * lagWeight;
      long next = Math.max(tick + 1, (long) Math.ceil((now - gridStart) / interval));
      // Scheduled, never inline: the container may complete inside sendBinary.
      scheduleTick(next);
    }

    private int renditionForLag() {
      double low = lowLagMillis * 1e6;
      double high = highLagMillis * 1e6;
      double position = (high - lagNanos) / (high - low);
      return (int) Math.round(top * Math.max(0, Math.min(1, position)));
    }

    @Override
    public void stop() {
      stopped = true;
      if (pendingTick != null) {
        pendingTick.cancel();
      }
    }

    @Override
    public String notes() {
      return adaptive()
          ? String.format(Locale.ROOT, "sends=%d switches=%d lag_ms=%.0f", sends, switchesStarted, lagNanos / 1e6)
          : "sends=" + sends;
    }
  }
}
