package dev.keepup.sim;

import dev.keepup.Scheduler;
import dev.keepup.Ticker;
import dev.keepup.testing.VirtualTime;
import jakarta.websocket.Session;
import java.util.Objects;
import java.util.concurrent.Executor;

/**
 * A way of sending a live stream over a WebSocket session: one of the hand-written baselines, or
 * a {@code PacedSender} configured some way. The simulator runs each strategy on each trace in a
 * fresh {@link Context}. Built-ins and the factory for keepup configurations are in {@link
 * Strategies}; a user's own configuration plugs in with {@link Strategies#keepup(String,
 * java.util.function.UnaryOperator)}.
 */
public interface Strategy {

  /** A short name for tables (no commas). */
  String name();

  /**
   * Starts streaming {@code context.source()} to {@code context.session()}, scheduling all work
   * on {@code context.scheduler()} and reading time from {@code context.ticker()}; the run then
   * advances time (virtual in the simulator, real in the real-socket bench) and finally calls
   * {@link Running#stop()}. Must not block or spawn threads. In a real run the scheduler's
   * tasks and the session's completion handlers come on other threads (never at once for one
   * strategy, as long as it keeps one send in flight or its own lock).
   */
  Running start(Context context);

  /** A started strategy. */
  interface Running {
    /** Stops sending; frames already handed to the session still travel. */
    void stop();

    /** Returns a few diagnostic figures for the CSV, or an empty string. */
    default String notes() {
      return "";
    }
  }

  /**
   * Everything a run gives a strategy.
   *
   * @param ticker the run's clock (the simulator's {@link VirtualTime}, or the system clock)
   * @param scheduler where to schedule work (the same {@link VirtualTime}, or a real scheduler)
   * @param pingExecutor the {@code PacedSender}'s ping executor, or null for the library's
   *     default (a real run); inline in virtual time
   * @param session the WebSocket session (a {@link SimulatedLink}'s, or a real one)
   * @param source the live encoder to read frames from
   * @param ladder the renditions the source produces
   */
  record Context(Ticker ticker, Scheduler scheduler, Executor pingExecutor, Session session, SimSource source,
      SimLadder ladder) {
    public Context {
      Objects.requireNonNull(ticker, "ticker");
      Objects.requireNonNull(scheduler, "scheduler");
      Objects.requireNonNull(session, "session");
      Objects.requireNonNull(source, "source");
      Objects.requireNonNull(ladder, "ladder");
    }

    /** A simulator run: everything on {@code time}, pings sent inline. */
    public Context(VirtualTime time, Session session, SimSource source, SimLadder ladder) {
      this(time, time, Runnable::run, session, source, ladder);
    }
  }
}
