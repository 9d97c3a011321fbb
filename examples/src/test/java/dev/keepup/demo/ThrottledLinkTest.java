package dev.keepup.demo;

import static org.assertj.core.api.Assertions.assertThat;

import jakarta.websocket.RemoteEndpoint;
import jakarta.websocket.SendHandler;
import jakarta.websocket.SendResult;
import jakarta.websocket.Session;
import java.lang.reflect.Proxy;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The throttle behaves like a bottleneck link: rate, order, buffer-full completion, pass-through. */
@Timeout(20)
final class ThrottledLinkTest {
  private final ScheduledExecutorService drainer = Executors.newSingleThreadScheduledExecutor();
  private final FakeSession real = new FakeSession();

  /** What reached the real session, when. */
  record Delivery(String kind, int bytes, long atNanos) {}

  @AfterEach
  void stop() {
    drainer.shutdownNow();
  }

  /** The rate is applied on the drainer thread: wait (bounded) until it is in force. */
  private static void awaitRate(ThrottledLink link, long bitsPerSecond) throws InterruptedException {
    long deadline = System.nanoTime() + 5_000_000_000L;
    while (link.bitsPerSecond() != bitsPerSecond) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("rate not applied within 5 s");
      }
      Thread.sleep(1);
    }
  }

  @Test
  void bytesCrossAtTheRate_inOrder_pingsAndTextToo() throws Exception {
    ThrottledLink link = new ThrottledLink(real.session(), drainer);
    link.setBitsPerSecond(1_000_000);
    awaitRate(link, 1_000_000);
    RemoteEndpoint.Async remote = link.session().getAsyncRemote();
    long start = System.nanoTime();
    AtomicInteger completed = new AtomicInteger();
    for (int i = 0; i < 8; i++) {
      remote.sendBinary(ByteBuffer.allocate(12_500), ok(completed));
      remote.sendPing(ByteBuffer.allocate(16));
    }
    link.sendText("{\"type\":\"stats\"}", null);

    // 100 KB fit in the 256 KB buffer: every send completes at once, as into a socket buffer.
    assertThat(completed.get()).isEqualTo(8);
    awaitDeliveries(17, 5_000);
    assertThat(real.deliveries).extracting(Delivery::kind).containsExactly(
        "binary", "ping", "binary", "ping", "binary", "ping", "binary", "ping",
        "binary", "ping", "binary", "ping", "binary", "ping", "binary", "ping", "text");
    // 8 x (12,500 + 4) + 8 x 18 + 18 bytes at 125,000 bytes/s: 0.80 s.
    double seconds = (real.deliveries.get(16).atNanos() - start) / 1e9;
    assertThat(seconds).isBetween(0.75, 1.2);
    // The first frame crossed on its own, at the rate: no burst allowance on an idle link.
    double first = (real.deliveries.get(0).atNanos() - start) / 1e9;
    assertThat(first).isBetween(0.09, 0.4);
    link.close();
  }

  @Test
  void aSendCompletesOnlyWhenItsBytesFitInTheBuffer() throws Exception {
    ThrottledLink link = new ThrottledLink(real.session(), drainer, 50_000);
    link.setBitsPerSecond(800_000); // 100,000 bytes/s
    awaitRate(link, 800_000);
    RemoteEndpoint.Async remote = link.session().getAsyncRemote();
    AtomicInteger completed = new AtomicInteger();
    remote.sendBinary(ByteBuffer.allocate(40_000), ok(completed));
    long start = System.nanoTime();
    AtomicReference<Long> secondDone = new AtomicReference<>();
    remote.sendBinary(ByteBuffer.allocate(40_000), result -> secondDone.set(System.nanoTime()));

    assertThat(completed.get()).isEqualTo(1);
    assertThat(secondDone.get()).isNull();
    // It fits once 30,000 bytes of the first have left: about 0.3 s.
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(3);
    while (secondDone.get() == null && System.nanoTime() < deadline) {
      Thread.sleep(5);
    }
    assertThat(secondDone.get()).isNotNull();
    assertThat((secondDone.get() - start) / 1e9).isBetween(0.25, 0.7);
    link.close();
  }

  @Test
  void unlimited_passesStraightThrough_withTheSessionsOwnCompletion() throws Exception {
    ThrottledLink link = new ThrottledLink(real.session(), drainer);
    AtomicInteger completed = new AtomicInteger();
    link.session().getAsyncRemote().sendBinary(ByteBuffer.allocate(100_000), ok(completed));
    link.session().getAsyncRemote().sendPing(ByteBuffer.allocate(16));

    assertThat(real.deliveries).extracting(Delivery::kind).containsExactly("binary", "ping");
    assertThat(completed.get()).isEqualTo(1);
    assertThat(link.queuedBytes()).isZero();
    link.close();
  }

  @Test
  void liftingTheLimit_flushesWhatWaits_inOrder() throws Exception {
    ThrottledLink link = new ThrottledLink(real.session(), drainer);
    link.setBitsPerSecond(100_000);
    awaitRate(link, 100_000);
    RemoteEndpoint.Async remote = link.session().getAsyncRemote();
    for (int i = 0; i < 5; i++) {
      remote.sendBinary(ByteBuffer.allocate(10_000), ok(new AtomicInteger()));
    }
    Thread.sleep(50);
    assertThat(real.deliveries).isEmpty();

    link.setBitsPerSecond(ThrottledLink.UNLIMITED);
    awaitDeliveries(5, 2_000);
    assertThat(link.queuedBytes()).isZero();
    link.close();
  }

  @Test
  void close_failsWhatWaitsForRoom_andLaterSends() throws Exception {
    ThrottledLink link = new ThrottledLink(real.session(), drainer, 10_000);
    link.setBitsPerSecond(100_000);
    awaitRate(link, 100_000);
    RemoteEndpoint.Async remote = link.session().getAsyncRemote();
    remote.sendBinary(ByteBuffer.allocate(8_000), ok(new AtomicInteger()));
    AtomicReference<SendResult> waiting = new AtomicReference<>();
    remote.sendBinary(ByteBuffer.allocate(8_000), waiting::set);
    assertThat(waiting.get()).isNull();

    link.close();
    assertThat(waiting.get()).isNotNull();
    assertThat(waiting.get().isOK()).isFalse();
    AtomicReference<SendResult> late = new AtomicReference<>();
    remote.sendBinary(ByteBuffer.allocate(10), late::set);
    assertThat(late.get().isOK()).isFalse();
  }

  private static SendHandler ok(AtomicInteger completed) {
    return result -> {
      assertThat(result.isOK()).isTrue();
      completed.incrementAndGet();
    };
  }

  private void awaitDeliveries(int n, long timeoutMillis) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
    while (real.deliveries.size() < n && System.nanoTime() < deadline) {
      Thread.sleep(5);
    }
    assertThat(real.deliveries).hasSize(n);
  }

  /** A session whose async remote records what it is sent and completes every send at once. */
  static final class FakeSession {
    final List<Delivery> deliveries = new CopyOnWriteArrayList<>();

    Session session() {
      RemoteEndpoint.Async async = (RemoteEndpoint.Async) Proxy.newProxyInstance(getClass().getClassLoader(),
          new Class<?>[] {RemoteEndpoint.Async.class}, (proxy, method, args) -> {
            switch (method.getName()) {
              case "sendBinary" -> {
                deliveries.add(new Delivery("binary", ((ByteBuffer) args[0]).remaining(), System.nanoTime()));
                ((SendHandler) args[1]).onResult(new SendResult());
              }
              case "sendPing" -> deliveries.add(new Delivery("ping", ((ByteBuffer) args[0]).remaining(), System.nanoTime()));
              case "sendText" -> {
                deliveries.add(new Delivery("text", ((String) args[0]).length(), System.nanoTime()));
                ((SendHandler) args[1]).onResult(new SendResult());
              }
              default -> throw new UnsupportedOperationException(method.getName());
            }
            return null;
          });
      return (Session) Proxy.newProxyInstance(getClass().getClassLoader(), new Class<?>[] {Session.class},
          (proxy, method, args) -> switch (method.getName()) {
            case "getAsyncRemote" -> async;
            case "isOpen" -> true;
            case "getId" -> "fake";
            default -> throw new UnsupportedOperationException(method.getName());
          });
    }
  }
}
