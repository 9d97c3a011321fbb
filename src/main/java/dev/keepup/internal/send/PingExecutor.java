package dev.keepup.internal.send;

import java.util.concurrent.Executor;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The default home of pings: a pool of daemon threads that grows only while pings block.
 *
 * <p>A ping is normally a microsecond's write into a socket that has just taken a frame, so one
 * or two threads serve every session. A ping that blocks (a client that stopped reading just as
 * its socket filled) holds a thread of its own; the pool is bounded, and when it is exhausted a
 * ping is skipped and counted rather than queued behind a stuck one.
 */
public final class PingExecutor {
  private static final int MAX_THREADS = 64;

  /** The shared instance. */
  public static final Executor SHARED = create();

  private PingExecutor() {}

  private static Executor create() {
    AtomicInteger count = new AtomicInteger();
    ThreadPoolExecutor executor = new ThreadPoolExecutor(
        0, MAX_THREADS, 30, TimeUnit.SECONDS, new SynchronousQueue<>(), task -> {
          Thread thread = new Thread(task, "keepup-ping-" + count.incrementAndGet());
          thread.setDaemon(true);
          return thread;
        });
    return executor;
  }
}
