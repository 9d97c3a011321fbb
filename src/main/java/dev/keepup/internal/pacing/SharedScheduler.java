package dev.keepup.internal.pacing;

import dev.keepup.Scheduler;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The default {@link Scheduler}: two daemon threads shared by every sender in the JVM.
 *
 * <p>Two rather than one so that a container whose async send is slow to return on one socket
 * delays, rather than stops, every other session; more would only add context switches, since
 * a tick does microseconds of work.
 */
public final class SharedScheduler implements Scheduler {
  /** The one instance, started on first use. */
  public static final SharedScheduler INSTANCE = new SharedScheduler();

  private final ScheduledThreadPoolExecutor executor;

  private SharedScheduler() {
    AtomicInteger count = new AtomicInteger();
    executor = new ScheduledThreadPoolExecutor(2, task -> {
      Thread thread = new Thread(task, "keepup-scheduler-" + count.incrementAndGet());
      thread.setDaemon(true);
      return thread;
    });
    // Cancelled ticks of closed senders must not pile up in the queue.
    executor.setRemoveOnCancelPolicy(true);
  }

  @Override
  public Cancellable schedule(Runnable task, long delayNanos) {
    ScheduledFuture<?> future = executor.schedule(task, Math.max(0, delayNanos), TimeUnit.NANOSECONDS);
    return () -> future.cancel(false);
  }
}
