package dev.keepup.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.tuple;

import jakarta.websocket.MessageHandler;
import jakarta.websocket.PongMessage;
import jakarta.websocket.Session;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Pins how Tyrus 2.2 on Grizzly behaves where the library's send loop depends on it (see
 * docs/containers.md). If an upgrade changes one of these, the transport must be revisited.
 */
@Timeout(60)
final class TyrusServerFactsIT {
  private static final Duration WAIT = Duration.ofSeconds(10);
  private static final String PATH = "/facts";

  @Test
  void asyncSendBinary_callsHandlerOnCallerThreadBeforeReturning_whenSocketTakesTheWrite()
      throws Exception {
    try (TyrusTestServer server = TyrusTestServer.start(PATH, session -> {});
        JdkClient client = JdkClient.connect(server.uri(PATH))) {
      Session session = server.awaitSession(WAIT);
      AtomicBoolean returned = new AtomicBoolean();
      AtomicBoolean calledBeforeReturn = new AtomicBoolean();
      AtomicLong handlerThread = new AtomicLong();
      CountDownLatch done = new CountDownLatch(1);

      session.getAsyncRemote().sendBinary(ByteBuffer.allocate(1000), result -> {
        calledBeforeReturn.set(!returned.get());
        handlerThread.set(Thread.currentThread().getId());
        done.countDown();
      });
      returned.set(true);

      assertThat(done.await(WAIT.toMillis(), TimeUnit.MILLISECONDS)).isTrue();
      assertThat(calledBeforeReturn).isTrue();
      assertThat(handlerThread.get()).isEqualTo(Thread.currentThread().getId());
      assertThat(client.awaitMessages(1, WAIT)).isTrue();
    }
  }

  /**
   * With a client that does not read, async sends all return at once and queue in Tyrus/Grizzly
   * without bound; the send timeout does not fail them; pings neither block nor jump the queue,
   * also when sent from inside a SendHandler; queued completions run on a Grizzly thread.
   */
  @Test
  void asyncSends_queueWithoutBoundOrTimeout_andPingsStayInOrderWithoutBlocking() throws Exception {
    int count = 200;
    int size = 64 * 1024;
    try (TyrusTestServer server = TyrusTestServer.start(PATH, session -> {});
        JdkClient client = JdkClient.builder(server.uri(PATH)).startPaused().connect()) {
      Session session = server.awaitSession(WAIT);
      session.getAsyncRemote().setSendTimeout(200);
      AtomicInteger ok = new AtomicInteger();
      AtomicInteger failed = new AtomicInteger();
      List<String> completionThreads = new CopyOnWriteArrayList<>();
      AtomicLong pingInHandlerNanos = new AtomicLong(-1);
      Thread caller = Thread.currentThread();

      for (int i = 0; i < count; i++) {
        int index = i;
        session.getAsyncRemote().sendBinary(ByteBuffer.allocate(size), result -> {
          if (!result.isOK()) {
            failed.incrementAndGet();
            return;
          }
          ok.incrementAndGet();
          if (Thread.currentThread() != caller) {
            completionThreads.add(Thread.currentThread().getName());
          }
          if (index == 5) {
            long t0 = System.nanoTime();
            try {
              session.getAsyncRemote().sendPing(utf8("in-handler"));
              pingInHandlerNanos.set(System.nanoTime() - t0);
            } catch (Exception e) {
              // Left at -1: the assertion below reports it.
            }
          }
        });
      }
      // 12.5 MiB cannot all be in kernel buffers (4 MiB tcp_wmem max plus the client's receive
      // buffer); the rest waits in Grizzly's write queue, and the 200 ms send timeout is ignored.
      Thread.sleep(600);
      int outstanding = count - ok.get() - failed.get();
      assertThat(outstanding).isGreaterThan(count / 4);
      assertThat(failed).hasValue(0);
      assertThat(session.isOpen()).isTrue();

      long t0 = System.nanoTime();
      session.getAsyncRemote().sendPing(utf8("async"));
      long t1 = System.nanoTime();
      session.getBasicRemote().sendPing(utf8("basic"));
      long t2 = System.nanoTime();
      assertThat(t1 - t0).isLessThan(TimeUnit.MILLISECONDS.toNanos(100));
      assertThat(t2 - t1).isLessThan(TimeUnit.MILLISECONDS.toNanos(100));

      client.resumeReading();
      assertThat(client.awaitMessages(count, WAIT)).isTrue();
      assertThat(client.awaitPings(3, WAIT)).isTrue();
      assertThat(client.pings()).extracting(JdkClient.Ping::text, JdkClient.Ping::messagesBefore)
          .containsExactly(
              tuple("in-handler", 6),
              tuple("async", count),
              tuple("basic", count));
      assertThat(pingInHandlerNanos.get()).isBetween(0L, TimeUnit.MILLISECONDS.toNanos(100));
      // Sends queued behind the backlog complete on Grizzly's selector thread, not the caller's.
      assertThat(completionThreads).isNotEmpty().anyMatch(n -> n.contains("SelectorRunner"));
    }
  }

  @Test
  void pendingSendHandlers_allFail_whenClientDisconnects_andSessionReportsClosed()
      throws Exception {
    int count = 100;
    try (TyrusTestServer server = TyrusTestServer.start(PATH, session -> {});
        JdkClient client = JdkClient.builder(server.uri(PATH)).startPaused().connect()) {
      Session session = server.awaitSession(WAIT);
      CountDownLatch called = new CountDownLatch(count);
      AtomicInteger failed = new AtomicInteger();
      for (int i = 0; i < count; i++) {
        session.getAsyncRemote().sendBinary(ByteBuffer.allocate(64 * 1024), result -> {
          if (!result.isOK()) {
            failed.incrementAndGet();
          }
          called.countDown();
        });
      }
      Thread.sleep(300);
      assertThat(called.getCount()).isPositive();

      client.webSocket().abort();

      assertThat(called.await(WAIT.toMillis(), TimeUnit.MILLISECONDS)).isTrue();
      assertThat(failed.get()).isPositive();
      assertThat(server.awaitCloses(1, WAIT)).isTrue();
      assertThat(session.isOpen()).isFalse();
      assertThatThrownBy(() -> session.getAsyncRemote().sendBinary(ByteBuffer.allocate(1), r -> {}))
          .isInstanceOf(IllegalStateException.class);
      assertThatThrownBy(() -> session.getAsyncRemote().sendPing(ByteBuffer.allocate(1)))
          .isInstanceOf(IllegalStateException.class);
    }
  }

  @Test
  void pongHandler_receivesUnsolicitedPongs_onGrizzlyWorkerThread() throws Exception {
    BlockingQueue<String> pongs = new LinkedBlockingQueue<>();
    try (TyrusTestServer server = TyrusTestServer.start(PATH, session ->
            session.addMessageHandler(PongMessage.class, (MessageHandler.Whole<PongMessage>) pong ->
                pongs.add(StandardCharsets.UTF_8.decode(pong.getApplicationData()) + " on "
                    + Thread.currentThread().getName())));
        JdkClient client = JdkClient.connect(server.uri(PATH))) {
      server.awaitSession(WAIT);
      client.webSocket().sendPong(utf8("unsolicited")).get(WAIT.toMillis(), TimeUnit.MILLISECONDS);

      String pong = pongs.poll(WAIT.toMillis(), TimeUnit.MILLISECONDS);
      assertThat(pong).startsWith("unsolicited on Grizzly-worker");
    }
  }

  private static ByteBuffer utf8(String s) {
    return ByteBuffer.wrap(s.getBytes(StandardCharsets.UTF_8));
  }
}
