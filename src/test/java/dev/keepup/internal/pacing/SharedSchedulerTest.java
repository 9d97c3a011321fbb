package dev.keepup.internal.pacing;

import static org.assertj.core.api.Assertions.assertThat;

import dev.keepup.Scheduler;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The shared scheduler's answer to "is anything waiting for a thread": what an unpaced sender
 * asks before it gives up its thread. Real threads (the shared pool), every wait bounded.
 */
@Timeout(30)
final class SharedSchedulerTest {
  private static final long WAIT_SECONDS = 10;

  @Test
  void aTaskDueLater_isNotWaiting() {
    Scheduler.Cancellable later = SharedScheduler.INSTANCE.schedule(() -> { }, TimeUnit.HOURS.toNanos(1));
    try {
      assertThat(SharedScheduler.INSTANCE.hasTasksWaiting()).isFalse();
    } finally {
      later.cancel();
    }
  }

  @Test
  void aDueTaskThatNoThreadIsFreeFor_isWaiting_andStopsWaitingOnceRun() throws InterruptedException {
    CountDownLatch bothBusy = new CountDownLatch(2);
    CountDownLatch release = new CountDownLatch(1);
    CountDownLatch ran = new CountDownLatch(1);
    Runnable occupy = () -> {
      bothBusy.countDown();
      try {
        release.await(WAIT_SECONDS, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    };
    try {
      SharedScheduler.INSTANCE.schedule(occupy, 0);
      SharedScheduler.INSTANCE.schedule(occupy, 0);
      assertThat(bothBusy.await(WAIT_SECONDS, TimeUnit.SECONDS)).as("both shared threads busy").isTrue();
      assertThat(SharedScheduler.INSTANCE.hasTasksWaiting()).isFalse();

      SharedScheduler.INSTANCE.schedule(ran::countDown, 0);
      assertThat(SharedScheduler.INSTANCE.hasTasksWaiting()).isTrue();
    } finally {
      release.countDown();
    }
    assertThat(ran.await(WAIT_SECONDS, TimeUnit.SECONDS)).isTrue();
    assertThat(SharedScheduler.INSTANCE.hasTasksWaiting()).isFalse();
  }
}
