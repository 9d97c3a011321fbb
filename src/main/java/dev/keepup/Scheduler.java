package dev.keepup;

import dev.keepup.internal.pacing.SharedScheduler;

/**
 * Runs delayed tasks for senders, injected so that pacing can be tested in virtual time.
 *
 * <p>All senders built without one share {@link #shared()}: a small pool of daemon threads,
 * so there is no thread per session. Tasks must be short and must not block; the senders'
 * tasks are.
 */
@FunctionalInterface
public interface Scheduler {

  /**
   * Runs {@code task} once, {@code delayNanos} from now (at once if not positive).
   *
   * @return a handle that cancels the task if it has not started
   */
  Cancellable schedule(Runnable task, long delayNanos);

  /** A scheduled task that can be called off. */
  @FunctionalInterface
  interface Cancellable {
    /** Cancels the task if it has not started; does nothing otherwise. */
    void cancel();
  }

  /** Returns the scheduler shared by every sender that was not given one. */
  static Scheduler shared() {
    return SharedScheduler.INSTANCE;
  }
}
