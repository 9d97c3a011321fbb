package dev.keepup.internal.pacing;

import dev.keepup.Scheduler;

/**
 * A scheduler that can say whether tasks are due that none of its threads has taken yet.
 *
 * <p>An unpaced sender that has used its pass on a scheduler thread asks before it hands the
 * loop on: with nothing else waiting there is no one to be fair to, and handing on would only
 * wake the pool's other thread to carry on where this one left off, trading the loop between
 * threads every pass (measured on one CPU at 64 KiB: the two shared threads took turns, half
 * the sends each).
 */
public interface QueueAwareScheduler extends Scheduler {

  /** Whether a task is due now that no thread is running yet. */
  boolean hasTasksWaiting();
}
