package dev.keepup.testing;

import dev.keepup.Scheduler;
import dev.keepup.Ticker;
import java.time.Duration;
import java.util.PriorityQueue;

/**
 * A virtual clock and scheduler for unit tests: time moves only when the test advances it,
 * and scheduled tasks run, in time order, on the test's thread.
 */
public final class VirtualTime implements Ticker, Scheduler {
  private final PriorityQueue<Task> queue = new PriorityQueue<>();
  private long now;
  private long sequence;

  /** Starts the clock at an arbitrary non-zero reading, as System.nanoTime does. */
  public VirtualTime() {
    this(1_000_000_000_000L);
  }

  public VirtualTime(long startNanos) {
    this.now = startNanos;
  }

  @Override
  public long read() {
    return now;
  }

  @Override
  public Cancellable schedule(Runnable task, long delayNanos) {
    Task scheduled = new Task(now + Math.max(0, delayNanos), sequence++, task);
    queue.add(scheduled);
    return () -> scheduled.cancelled = true;
  }

  /** Runs every task due within {@code duration}, then sets the clock to its end. */
  public void advance(Duration duration) {
    advanceNanos(duration.toNanos());
  }

  public void advanceNanos(long nanos) {
    long end = now + nanos;
    runUntil(end);
    now = end;
  }

  /** Runs tasks that are due now (those scheduled with no delay included). */
  public void runDue() {
    runUntil(now);
  }

  private void runUntil(long end) {
    while (!queue.isEmpty() && queue.peek().at - end <= 0) {
      Task task = queue.poll();
      if (task.cancelled) {
        continue;
      }
      now = Math.max(now, task.at);
      task.runnable.run();
    }
  }

  /** Returns the number of live (not cancelled) scheduled tasks. */
  public int scheduledTasks() {
    int live = 0;
    for (Task task : queue) {
      if (!task.cancelled) {
        live++;
      }
    }
    return live;
  }

  private static final class Task implements Comparable<Task> {
    final long at;
    final long sequence;
    final Runnable runnable;
    boolean cancelled;

    Task(long at, long sequence, Runnable runnable) {
      this.at = at;
      this.sequence = sequence;
      this.runnable = runnable;
    }

    @Override
    public int compareTo(Task other) {
      int byTime = Long.compare(at - other.at, 0);
      return byTime != 0 ? byTime : Long.compare(sequence, other.sequence);
    }
  }
}
