package dev.keepup.sim;

import dev.keepup.testing.VirtualTime;
import jakarta.websocket.Session;

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
   * on {@code context.time()}; the run then advances virtual time and finally calls {@link
   * Running#stop()}. Must not block or spawn threads.
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
   * @param time the run's virtual clock and scheduler
   * @param session the simulated WebSocket session (a {@link SimulatedLink})
   * @param source the live encoder to read frames from
   * @param ladder the renditions the source produces
   */
  record Context(VirtualTime time, Session session, SimSource source, SimLadder ladder) {}
}
