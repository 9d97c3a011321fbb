package dev.keepup;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import dev.keepup.it.JdkClient;
import dev.keepup.it.TyrusTestServer;
import jakarta.websocket.ClientEndpointConfig;
import jakarta.websocket.CloseReason;
import jakarta.websocket.Endpoint;
import jakarta.websocket.EndpointConfig;
import jakarta.websocket.MessageHandler;
import jakarta.websocket.RemoteEndpoint;
import jakarta.websocket.SendHandler;
import jakarta.websocket.Session;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Queue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import java.util.function.UnaryOperator;
import org.glassfish.tyrus.client.ClientManager;
import org.glassfish.tyrus.client.ClientProperties;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@link PacedSender} over real sockets: a Tyrus 2.2 server on 127.0.0.1 and real clients, the
 * JDK's {@code java.net.http.WebSocket} and the Tyrus client.
 *
 * <p>Every server-side session handed to the sender is wrapped in a {@link SendGuard}, a
 * {@link Proxy} that fails the test if a second binary send starts while one is outstanding,
 * if a ping is sent while a binary send is outstanding, if a send handler is called twice, or
 * if anything the sender runs on a container thread (send handler, pong handler) throws into
 * the container. Every frame carries its sequence number and capture time ({@link
 * System#nanoTime()}) in its first 16 bytes, so the client side checks order, duplicates and
 * age. Every wait is bounded; each test stops everything it starts.
 */
@Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
final class PacedSenderIT {
  private static final Duration WAIT = Duration.ofSeconds(10);
  private static final String PATH = "/stream";
  private static final long MS = 1_000_000L;

  // ---------------------------------------------------------------------------------------
  // Fast clients: frames arrive at the target rate, in order, every completed frame received.

  @Test
  void fastJdkClient_receivesAtTargetRate() throws Exception {
    StreamSpec spec = new StreamSpec(10_000, b -> b.targetFps(30));
    try (TyrusTestServer server = spec.server();
        JdkClient client = JdkClient.builder(server.uri(PATH)).keepPayloads().connect()) {
      Stream stream = spec.awaitStream();
      Window window = Window.measure(stream, client::messageCount, 3_000);
      stream.sender.close();
      stream.awaitSettled();

      SenderStats stats = stream.sender.stats();
      assertThat(client.awaitMessages((int) stats.framesCompleted(), WAIT)).isTrue();
      List<Received> received = fromJdk(client.messages());
      assertFastClientStream(stream, received, 30, window);
      // A JDK client answers each ping once it has consumed everything before it.
      assertThat(stats.pingsSent()).isGreaterThan(stats.framesCompleted() / 2);
      assertThat(stats.acksAccepted()).isGreaterThan(stats.framesCompleted() / 2);
      assertThat(stats.signals().acked()).isTrue();
      stream.assertClean(server);
    }
  }

  @Test
  void fastTyrusClient_receivesAtTargetRate() throws Exception {
    StreamSpec spec = new StreamSpec(10_000, b -> b.targetFps(30));
    ClientManager manager = ClientManager.createClient();
    try (TyrusTestServer server = spec.server()) {
      TyrusReceiver receiver = new TyrusReceiver(0);
      Session clientSession = receiver.connect(manager, server.uri(PATH));
      try {
        Stream stream = spec.awaitStream();
        Window window = Window.measure(stream, receiver::count, 3_000);
        stream.sender.close();
        stream.awaitSettled();

        SenderStats stats = stream.sender.stats();
        await(() -> receiver.count() >= stats.framesCompleted(), WAIT, "Tyrus client receives every frame");
        assertFastClientStream(stream, receiver.received(), 30, window);
        // The Tyrus client answers pings itself, in frame order.
        assertThat(stats.acksAccepted()).isGreaterThan(stats.framesCompleted() / 2);
        stream.assertClean(server);
      } finally {
        closeQuietly(clientSession);
      }
    } finally {
      manager.shutdown();
    }
  }

  @Test
  void fastJdkClient_at60fps_receivesAtTargetRate() throws Exception {
    StreamSpec spec = new StreamSpec(4_000, b -> b.targetFps(60));
    try (TyrusTestServer server = spec.server();
        JdkClient client = JdkClient.builder(server.uri(PATH)).keepPayloads().connect()) {
      Stream stream = spec.awaitStream();
      Window window = Window.measure(stream, client::messageCount, 2_000);
      stream.sender.close();
      stream.awaitSettled();

      assertThat(client.awaitMessages((int) stream.sender.stats().framesCompleted(), WAIT)).isTrue();
      assertFastClientStream(stream, fromJdk(client.messages()), 60, window);
      stream.assertClean(server);
    }
  }

  // ---------------------------------------------------------------------------------------
  // Slow clients: never a second message in the container, pings only between sends.

  /**
   * Pings off (completion only): the sender cannot see past the kernel buffers, so they fill,
   * and sends then complete late, on Grizzly's selector thread; ticks keep firing meanwhile.
   * The client starts paused so the buffers fill within the test, then reads at 1 MB/s.
   */
  @Test
  void slowJdkClient_pingsOff_neverOverlapsSendsInContainer() throws Exception {
    StreamSpec spec = new StreamSpec(128 << 10, b -> b.targetFps(30).pingEvery(0));
    try (TyrusTestServer server = spec.server();
        JdkClient client = JdkClient.builder(server.uri(PATH))
            .keepPayloads().paced(1_000_000).startPaused().connect()) {
      Stream stream = spec.awaitStream();
      sleepMillis(1_500);
      client.resumeReading();
      sleepMillis(2_500);

      SenderStats running = stream.sender.stats();
      stream.sender.close();
      // The in-flight frame sits behind megabytes of kernel buffer: end the connection, which
      // fails it (Tyrus calls every pending handler with an error), rather than wait for it.
      client.webSocket().abort();
      stream.awaitSettled();

      SenderStats stats = stream.sender.stats();
      assertThat(stats.stopReason()).isEqualTo(StopReason.CLOSED);
      assertThat(stats.framesFailed()).isLessThanOrEqualTo(1);
      assertThat(stats.pingsSent()).isZero();
      assertThat(stream.guard.pings.get()).isZero();
      // Backpressure did happen: ticks kept coming while a send sat in the container, frames
      // were skipped for it, and sends completed late, on another thread. Late completions are
      // few: once the socket has room again, Grizzly writes (and completes) the next frames
      // inline, in a burst, until the buffers are full again (DESIGN.md, "The problem").
      assertThat(stream.guard.pollsWhileOutstanding.get()).isGreaterThanOrEqualTo(20);
      assertThat(running.skipped(SkipReason.SUPERSEDED)).isPositive();
      assertThat(stream.guard.lateCompletions.get()).isPositive();
      assertThat(stream.guard.binarySends.get()).isEqualTo(stats.framesSent());
      assertInOrderWithoutDuplicates(fromJdk(client.messages()));
      stream.assertNoViolations();
      assertThat(server.errors()).isEmpty();
      System.out.printf(Locale.ROOT, "slow JDK client, pings off: %s; late completions %d,"
              + " ticks while a send was outstanding %d%n",
          summary(stats), stream.guard.lateCompletions.get(), stream.guard.pollsWhileOutstanding.get());
    }
  }

  /**
   * Default settings (a ping after every frame): the in-flight cap holds frames back until the
   * pong shows the client consumed the previous ones, so pings and sends interleave all the
   * time, and each ping must go only while no binary send is outstanding.
   */
  @Test
  void slowJdkClient_pingsOn_neverOverlapsSendsOrPingsInContainer() throws Exception {
    StreamSpec spec = new StreamSpec(64 << 10, b -> b.targetFps(30));
    try (TyrusTestServer server = spec.server();
        JdkClient client = JdkClient.builder(server.uri(PATH))
            .keepPayloads().paced(600_000).connect()) {
      Stream stream = spec.awaitStream();
      sleepMillis(3_000);
      stream.sender.close();
      stream.awaitSettled();

      SenderStats stats = stream.sender.stats();
      assertThat(stats.stopReason()).isEqualTo(StopReason.CLOSED);
      assertThat(stats.framesFailed()).isZero();
      assertThat(stats.pingsSent()).isPositive();
      assertThat(stream.guard.pings.get()).isEqualTo(stats.pingsSent());
      assertThat(stats.acksAccepted()).isPositive();
      // 64 KiB at 30 fps is 2 MB/s into a 600 KB/s reader: most frames must be skipped.
      assertThat(stats.framesSkipped()).isGreaterThan(stats.framesTaken() / 3);
      assertThat(stream.guard.binarySends.get()).isEqualTo(stats.framesSent());
      await(() -> client.messageCount() >= stats.framesCompleted(), WAIT, "client drains");
      List<Received> received = fromJdk(client.messages());
      assertThat(seqs(received)).containsExactlyElementsOf(stream.recorder.completedSeqs);
      assertInOrderWithoutDuplicates(received);
      stream.assertClean(server);
      System.out.printf(Locale.ROOT, "slow JDK client, pings on: %s; late completions %d%n",
          summary(stats), stream.guard.lateCompletions.get());
    }
  }

  /** A Tyrus client whose handler takes 50 ms per message stops reading while it works. */
  @Test
  void slowTyrusClient_pingsOn_neverOverlapsSendsOrPingsInContainer() throws Exception {
    StreamSpec spec = new StreamSpec(64 << 10, b -> b.targetFps(30));
    ClientManager manager = ClientManager.createClient();
    try (TyrusTestServer server = spec.server()) {
      TyrusReceiver receiver = new TyrusReceiver(50);
      Session clientSession = receiver.connect(manager, server.uri(PATH));
      try {
        Stream stream = spec.awaitStream();
        sleepMillis(3_000);
        stream.sender.close();
        stream.awaitSettled();

        SenderStats stats = stream.sender.stats();
        assertThat(stats.stopReason()).isEqualTo(StopReason.CLOSED);
        assertThat(stats.framesFailed()).isZero();
        assertThat(stats.pingsSent()).isPositive();
        // About 20 messages/s consumed of 30 offered.
        assertThat(stats.framesSkipped()).isPositive();
        await(() -> receiver.count() >= stats.framesCompleted(), WAIT, "client drains");
        assertThat(seqs(receiver.received())).containsExactlyElementsOf(stream.recorder.completedSeqs);
        assertInOrderWithoutDuplicates(receiver.received());
        stream.assertClean(server);
      } finally {
        receiver.release();
        closeQuietly(clientSession);
      }
    } finally {
      manager.shutdown();
    }
  }

  // ---------------------------------------------------------------------------------------
  // Client disconnects mid-stream.

  /**
   * The README's host: {@code sender.close()} from {@code @OnClose}. Tyrus handles the client's
   * close frame on a Grizzly worker: {@code TyrusEndpointWrapper.onClose} sets the session
   * CLOSED, then calls the endpoint's {@code onClose}. The host's {@code close()} comes within
   * microseconds, so the reason observed is CLOSED (50 of 50 runs, JDK and Tyrus clients); a
   * tick, pong or completion falling in between would find {@code !isOpen()} first and stop
   * with SESSION_CLOSED, which is just as right, so both are accepted. Never a failure.
   */
  @Test
  void jdkClientCloses_midStream_hostClosesSender_stopsOnceBalanced() throws Exception {
    StreamSpec spec = new StreamSpec(10_000, b -> b.targetFps(60)).closeSenderOnClose(true);
    try (TyrusTestServer server = spec.server();
        JdkClient client = JdkClient.builder(server.uri(PATH)).keepPayloads().connect()) {
      Stream stream = spec.awaitStream();
      assertThat(client.awaitMessages(20, WAIT)).isTrue();
      client.close();

      stream.awaitSettled();
      assertThat(server.awaitCloses(1, WAIT)).isTrue();
      assertThat(server.closeReasons().get(0).getCloseCode()).isEqualTo(CloseReason.CloseCodes.NORMAL_CLOSURE);
      assertThat(stream.recorder.stopReason).isIn(StopReason.CLOSED, StopReason.SESSION_CLOSED);
      assertOrderlyStop(stream);
      assertStoppedOnceAndClean(stream, server);
      assertInOrderWithoutDuplicates(fromJdk(client.messages()));
    }
  }

  /**
   * A host that never calls {@code close()}: the sender finds the session closed by itself, at
   * its next tick ({@code isOpen()} is false once Tyrus processed the close): SESSION_CLOSED,
   * observed with no cause and no failed frame in 25 of 25 runs.
   */
  @Test
  void jdkClientCloses_midStream_senderStopsBySelfWithSessionClosed() throws Exception {
    StreamSpec spec = new StreamSpec(10_000, b -> b.targetFps(60));
    try (TyrusTestServer server = spec.server();
        JdkClient client = JdkClient.builder(server.uri(PATH)).keepPayloads().connect()) {
      Stream stream = spec.awaitStream();
      assertThat(client.awaitMessages(20, WAIT)).isTrue();
      client.close();

      stream.awaitSettled();
      assertThat(stream.recorder.stopReason).isEqualTo(StopReason.SESSION_CLOSED);
      assertOrderlyStop(stream);
      assertStoppedOnceAndClean(stream, server);
      assertInOrderWithoutDuplicates(fromJdk(client.messages()));
    }
  }

  /**
   * A client sends a 10 MB text message, in 64 KB fragments, where acks are at most 96
   * characters. A whole-message handler sees it only once the container has assembled all of
   * it, and Tyrus's default limit is 2 GiB: the sender lowers the session's limit to 1 KiB when
   * it owns the text handler, so the container refuses the message (1009, too big) after its
   * first fragment instead of holding it, and the sender stops with the session.
   */
  @Test
  void clientSendsAHugeTextMessage_theContainerRefusesIt_senderStopsWithTheSession() throws Exception {
    StreamSpec spec = new StreamSpec(10_000, b -> b.targetFps(30).pingEvery(0).clientAcks(true));
    try (TyrusTestServer server = spec.server();
        JdkClient client = JdkClient.builder(server.uri(PATH)).connect()) {
      Stream stream = spec.awaitStream();
      assertThat(client.awaitMessages(5, WAIT)).isTrue();
      assertThat(stream.session.getMaxTextMessageBufferSize()).isEqualTo(1024);
      String fragment = "k".repeat(64 * 1024);
      try {
        for (int i = 0; i < 160; i++) {
          client.webSocket().sendText(fragment, i == 159).get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
        }
      } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException refused) {
        // The server closed the connection under the client's feet: expected.
      }
      assertThat(client.awaitClose(WAIT)).isTrue();
      stream.awaitSettled();
      assertThat(stream.recorder.stopReason).isEqualTo(StopReason.SESSION_CLOSED);
      assertThat(server.closeReasons()).extracting(r -> r.getCloseCode().getCode()).contains(1009);
      assertOrderlyStop(stream);
    }
  }

  /**
   * The client vanishes (abort: no close frame) while a send is stuck in the container behind
   * full kernel buffers. Grizzly fails the pending write and the handler reports the error; the
   * in-flight frame is counted as failed and the error is the stop's cause. The reason depends
   * on a race inside Grizzly: the CLOSED event, which Tyrus turns into "session CLOSED", runs on
   * a worker thread ({@code WorkerThreadIOStrategy}), while the write fails on the selector
   * thread, either in {@code doClose} ({@code NIOConnection.terminate0}) or because the write
   * itself hits "Broken pipe". Most runs find the session already closed (61 of 62); in the
   * rest the write fails on a session still reported open (cause {@code IOException: Broken
   * pipe} from {@code TCPNIOAsyncQueueWriter.write0} on the selector thread). Either way the
   * connection is lost, and the sender says so: SESSION_CLOSED.
   */
  @Test
  void jdkClientAborts_midSend_senderStopsOnce_inFlightFrameFailed() throws Exception {
    StreamSpec spec = new StreamSpec(256 << 10, b -> b.targetFps(30).pingEvery(0));
    try (TyrusTestServer server = spec.server();
        JdkClient client = JdkClient.builder(server.uri(PATH)).startPaused().connect()) {
      Stream stream = spec.awaitStream();
      // The client reads nothing: the kernel buffers fill, then one send stays in flight.
      await(() -> stream.sender.stats().framesInFlight() == 1 && stream.guard.outstandingFor() > 200 * MS,
          WAIT, "a send stuck in the container");
      client.webSocket().abort();

      stream.awaitSettled();
      SenderStats stats = stream.sender.stats();
      assertThat(stats.framesFailed()).isEqualTo(1);
      assertThat(stream.recorder.failedSeqs).hasSize(1);
      assertThat(stream.recorder.stopReason).isEqualTo(StopReason.SESSION_CLOSED);
      // The container's own error: IOException "Broken pipe" or "Connection closed", or
      // IllegalStateException "Connection is not open." from Grizzly, depending on timing. A
      // tick can also find the session closed before the failed write is reported: then the
      // stop has no cause, and the frame still fails once, after the stop.
      if (stream.recorder.stopCause != null) {
        assertThat(stream.recorder.stopCause).isSameAs(stream.recorder.failures.peek());
      } else {
        assertThat(stream.recorder.stopReason).isEqualTo(StopReason.SESSION_CLOSED);
      }
      assertStoppedOnceAndClean(stream, server);
    }
  }

  /**
   * The client vanishes while the stream is idle between frames (fast client, small frames):
   * the next tick finds the session closed (24 of 25 runs), or the ping after the last frame
   * is refused by the closed session first (1 of 25: cause {@code IllegalStateException: The
   * connection has been closed.}). Either way SESSION_CLOSED, as for a frame sent in the instant
   * between the abort and Tyrus marking the session closed, which fails with an I/O error.
   */
  @Test
  void jdkClientAborts_betweenFrames_senderStopsOnceBalanced() throws Exception {
    StreamSpec spec = new StreamSpec(1_000, b -> b.targetFps(30));
    try (TyrusTestServer server = spec.server();
        JdkClient client = JdkClient.builder(server.uri(PATH)).keepPayloads().connect()) {
      Stream stream = spec.awaitStream();
      assertThat(client.awaitMessages(10, WAIT)).isTrue();
      client.webSocket().abort();

      stream.awaitSettled();
      assertThat(stream.recorder.stopReason).isEqualTo(StopReason.SESSION_CLOSED);
      assertThat(stream.sender.stats().framesFailed()).isLessThanOrEqualTo(1);
      assertStoppedOnceAndClean(stream, server);
      assertInOrderWithoutDuplicates(fromJdk(client.messages()));
    }
  }

  /** As with the JDK client: CLOSED observed in 25 of 25 runs, SESSION_CLOSED possible. */
  @Test
  void tyrusClientCloses_midStream_hostClosesSender_stopsOnceBalanced() throws Exception {
    StreamSpec spec = new StreamSpec(10_000, b -> b.targetFps(60)).closeSenderOnClose(true);
    ClientManager manager = ClientManager.createClient();
    try (TyrusTestServer server = spec.server()) {
      TyrusReceiver receiver = new TyrusReceiver(0);
      Session clientSession = receiver.connect(manager, server.uri(PATH));
      try {
        Stream stream = spec.awaitStream();
        await(() -> receiver.count() >= 20, WAIT, "20 frames at the client");
        clientSession.close(new CloseReason(CloseReason.CloseCodes.GOING_AWAY, "bye"));

        stream.awaitSettled();
        assertThat(server.awaitCloses(1, WAIT)).isTrue();
        // The client's close code, or 1006 when the close frame lost a race with the socket
        // closing on a loaded machine; either way the sender stops once and cleanly.
        assertThat(server.closeReasons().get(0).getCloseCode())
            .isIn(CloseReason.CloseCodes.GOING_AWAY, CloseReason.CloseCodes.CLOSED_ABNORMALLY);
        assertThat(stream.recorder.stopReason).isIn(StopReason.CLOSED, StopReason.SESSION_CLOSED);
        assertOrderlyStop(stream);
        assertStoppedOnceAndClean(stream, server);
        assertInOrderWithoutDuplicates(receiver.received());
      } finally {
        closeQuietly(clientSession);
      }
    } finally {
      manager.shutdown();
    }
  }

  // ---------------------------------------------------------------------------------------
  // Many sessions.

  /**
   * 100 sessions (50 JDK clients, 50 Tyrus clients) at 30 fps for 5 s on one server and the
   * shared scheduler: every frame taken is accounted for, every completed frame reaches its
   * client in order, no send overlaps. The achieved frame rates are printed, and checked only
   * loosely (the machine may be shared).
   */
  @Test
  @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
  void hundredSessions_at30fps_everyFrameAccountedFor() throws Exception {
    int jdkClients = 50;
    int tyrusClients = 50;
    int sessions = jdkClients + tyrusClients;
    StreamSpec spec = new StreamSpec(2_000, b -> b.targetFps(30)).startOnOpen(false);
    ClientManager manager = ClientManager.createClient();
    manager.getProperties().put(ClientProperties.SHARED_CONTAINER, true);
    List<JdkClient> jdk = new ArrayList<>();
    List<TyrusReceiver> tyrus = new ArrayList<>();
    List<Session> tyrusSessions = new ArrayList<>();
    try (TyrusTestServer server = spec.server()) {
      // Sessions are identified by connection order: the server sees them in the same order.
      List<Stream> streams = new ArrayList<>();
      for (int i = 0; i < sessions; i++) {
        if (i % 2 == 0 && jdk.size() < jdkClients) {
          jdk.add(JdkClient.builder(server.uri(PATH)).keepPayloads().connect());
        } else {
          TyrusReceiver receiver = new TyrusReceiver(0);
          tyrusSessions.add(receiver.connect(manager, server.uri(PATH)));
          tyrus.add(receiver);
        }
        streams.add(spec.awaitStream());
      }

      long start = System.nanoTime();
      streams.forEach(Stream::start);
      sleepMillis(5_000);
      streams.forEach(s -> s.sender.close());
      long seconds = System.nanoTime() - start;
      for (Stream s : streams) {
        s.awaitSettled();
      }

      double[] fps = new double[sessions];
      long taken = 0;
      long accounted = 0;
      int j = 0;
      int t = 0;
      for (int i = 0; i < sessions; i++) {
        Stream s = streams.get(i);
        SenderStats stats = s.sender.stats();
        assertThat(stats.isBalanced()).as("session %d balanced: %s", i, stats).isTrue();
        assertThat(stats.framesPending() + stats.framesInFlight()).isZero();
        assertThat(stats.framesFailed()).isZero();
        assertThat(s.recorder.skippedCount.get() + stats.framesCompleted()).isEqualTo(stats.framesTaken());
        taken += stats.framesTaken();
        accounted += stats.framesCompleted() + stats.framesSkipped();
        fps[i] = stats.framesCompleted() * 1e9 / seconds;
        List<Received> received;
        if (i % 2 == 0 && j < jdkClients) {
          JdkClient client = jdk.get(j++);
          assertThat(client.awaitMessages((int) stats.framesCompleted(), WAIT)).isTrue();
          received = fromJdk(client.messages());
        } else {
          TyrusReceiver receiver = tyrus.get(t++);
          await(() -> receiver.count() >= stats.framesCompleted(), WAIT, "Tyrus client drains");
          received = receiver.received();
        }
        assertThat(seqs(received)).as("session %d", i).containsExactlyElementsOf(s.recorder.completedSeqs);
        s.assertClean(server);
      }
      assertThat(accounted).isEqualTo(taken);
      double[] sorted = fps.clone();
      Arrays.sort(sorted);
      System.out.printf(Locale.ROOT,
          "100 sessions x 30 fps x %.1f s: frames taken %d, all accounted; achieved fps"
              + " min %.1f p5 %.1f p50 %.1f p95 %.1f max %.1f%n",
          seconds / 1e9, taken, sorted[0], percentile(sorted, 5), percentile(sorted, 50),
          percentile(sorted, 95), sorted[sorted.length - 1]);
      // Loose: a starved session, not a busy machine, should fail this. Clients and server
      // share this JVM, and on 2 cores they saturate it: ticks then run late and the grid
      // restarts (no catch-up burst), so 26-28 fps is typical on an idle machine, 24 under load.
      assertThat(percentile(sorted, 50)).isGreaterThan(15);
      assertThat(sorted[0]).isGreaterThan(10);
    } finally {
      jdk.forEach(JdkClient::close);
      tyrusSessions.forEach(PacedSenderIT::closeQuietly);
      manager.shutdown();
    }
  }

  // ---------------------------------------------------------------------------------------
  // Assertions.

  /**
   * The rate is judged over a window that opens once the client has its first frames, so that a
   * slow start (a cold JVM on a busy machine can stall the first ticks for a second, and the
   * sender then restarts its grid rather than burst) does not count against it.
   */
  private record Window(long fromNanos, long toNanos, SenderStats from, SenderStats to) {
    static Window measure(Stream stream, java.util.function.IntSupplier received, long millis)
        throws InterruptedException {
      await(() -> received.getAsInt() >= 5, WAIT, "first frames at the client");
      SenderStats from = stream.sender.stats();
      long fromNanos = System.nanoTime();
      sleepMillis(millis);
      SenderStats to = stream.sender.stats();
      return new Window(fromNanos, System.nanoTime(), from, to);
    }

    double seconds() {
      return (toNanos - fromNanos) / 1e9;
    }
  }

  private static void assertFastClientStream(Stream stream, List<Received> received, double fps, Window window) {
    SenderStats stats = stream.sender.stats();
    assertThat(stats.stopReason()).isEqualTo(StopReason.CLOSED);
    assertThat(stats.framesFailed()).isZero();
    // Every completed frame reached the client, in the order completed, once.
    assertThat(seqs(received)).containsExactlyElementsOf(stream.recorder.completedSeqs);
    assertInOrderWithoutDuplicates(received);
    // Never more than the target rate: a tick late by a whole interval restarts the grid rather
    // than burst to catch up. The usual interval between arrivals at the client is the target's.
    // How many frames arrive is checked only loosely: on this shared 2-core machine the process
    // is sometimes descheduled for hundreds of milliseconds (seen: 69 of 90 in a 3 s window, the
    // rest of that run on time), and the sender rightly does not make up for it.
    double expected = fps * window.seconds();
    long completed = window.to.framesCompleted() - window.from.framesCompleted();
    long taken = window.to.framesTaken() - window.from.framesTaken();
    long skipped = window.to.framesSkipped() - window.from.framesSkipped();
    assertThat((double) completed).isLessThanOrEqualTo(expected + 2).isGreaterThan(expected * 0.6);
    assertThat(taken).isLessThanOrEqualTo((long) expected + 2);
    assertThat(skipped).isLessThanOrEqualTo(1 + taken / 7);
    List<Received> inWindow = received.stream()
        .filter(r -> r.arrivalNanos >= window.fromNanos && r.arrivalNanos <= window.toNanos).toList();
    double[] intervalsMs = new double[inWindow.size() - 1];
    for (int i = 1; i < inWindow.size(); i++) {
      intervalsMs[i - 1] = (inWindow.get(i).arrivalNanos - inWindow.get(i - 1).arrivalNanos) / 1e6;
    }
    Arrays.sort(intervalsMs);
    double medianIntervalMs = percentile(intervalsMs, 50);
    assertThat(medianIntervalMs).isCloseTo(1000 / fps, org.assertj.core.data.Percentage.withPercentage(10));
    double meanIntervalMs = (inWindow.get(inWindow.size() - 1).arrivalNanos - inWindow.get(0).arrivalNanos)
        / 1e6 / (inWindow.size() - 1);
    long[] ages = received.stream().mapToLong(r -> r.arrivalNanos - r.captureNanos).sorted().toArray();
    assertThat(ages[ages.length / 2]).as("median frame age at the client, ns").isLessThan(50 * MS);
    System.out.printf(Locale.ROOT, "%s at %.0f fps: %d frames in a %.2f s window, arrival"
            + " interval median %.2f ms mean %.2f ms, age p50 %.2f ms max %.2f ms; %s%n",
        stream.label, fps, completed, window.seconds(), medianIntervalMs, meanIntervalMs,
        ages[ages.length / 2] / 1e6, ages[ages.length - 1] / 1e6, summary(stats));
  }

  /**
   * No failure behind the stop, except one that raced with the close: a send or ping that the
   * already-closed session refused (Tyrus's {@code getAsyncRemote()} throws {@code
   * IllegalStateException} once the session is CLOSED; in its CLOSING window a send throws a
   * plain {@code RuntimeException}). Such a send counts as the one failed frame.
   */
  private static void assertOrderlyStop(Stream stream) {
    SenderStats stats = stream.sender.stats();
    assertThat(stats.framesFailed()).isLessThanOrEqualTo(1);
    Throwable cause = stream.recorder.stopCause;
    if (cause != null) {
      assertThat(cause).isInstanceOf(RuntimeException.class);
    }
    if (stats.framesFailed() == 1 && stream.recorder.stopReason != StopReason.CLOSED) {
      assertThat(cause).isSameAs(stream.recorder.failures.peek());
    }
  }

  private static void assertStoppedOnceAndClean(Stream stream, TyrusTestServer server) throws Exception {
    // A late close() by the host must neither throw nor report a second stop.
    stream.sender.close();
    stream.sender.close();
    sleepMillis(100);
    assertThat(stream.recorder.stops.get()).isEqualTo(1);
    assertThat(stream.sender.isRunning()).isFalse();
    assertThat(stream.sender.stats().stopReason()).isEqualTo(stream.recorder.stopReason);
    stream.assertClean(server);
    System.out.printf(Locale.ROOT, "%s: stopped with %s (cause %s); %s%n", stream.label,
        stream.recorder.stopReason, stream.recorder.stopCause, summary(stream.sender.stats()));
  }

  private static void assertInOrderWithoutDuplicates(List<Received> received) {
    for (int i = 1; i < received.size(); i++) {
      if (received.get(i).seq <= received.get(i - 1).seq) {
        fail("frame %d arrived after frame %d (index %d)", received.get(i).seq, received.get(i - 1).seq, i);
      }
    }
  }

  private static String summary(SenderStats s) {
    return String.format(Locale.ROOT, "taken %d, sent %d, completed %d, failed %d, skipped %s,"
            + " pings %d, acks %d, pongs ignored %d, stop %s",
        s.framesTaken(), s.framesSent(), s.framesCompleted(), s.framesFailed(), nonZero(s),
        s.pingsSent(), s.acksAccepted(), s.pongsIgnored(), s.stopReason());
  }

  private static String nonZero(SenderStats s) {
    StringBuilder b = new StringBuilder("{");
    s.skipped().forEach((reason, n) -> {
      if (n > 0) {
        b.append(b.length() > 1 ? ", " : "").append(reason).append('=').append(n);
      }
    });
    return b.append('}').toString();
  }

  // ---------------------------------------------------------------------------------------
  // The server side: one sender per connection, behind a guarded session.

  /** What each connection's endpoint does; collects the streams it creates. */
  private static final class StreamSpec {
    final int frameBytes;
    final UnaryOperator<PacedSender.Builder> options;
    final BlockingQueue<Stream> streams = new LinkedBlockingQueue<>();
    boolean closeSenderOnClose;
    boolean startOnOpen = true;

    StreamSpec(int frameBytes, UnaryOperator<PacedSender.Builder> options) {
      this.frameBytes = frameBytes;
      this.options = options;
    }

    StreamSpec closeSenderOnClose(boolean value) {
      closeSenderOnClose = value;
      return this;
    }

    StreamSpec startOnOpen(boolean value) {
      startOnOpen = value;
      return this;
    }

    TyrusTestServer server() throws Exception {
      return TyrusTestServer.builder().endpoint(PATH, () -> new Endpoint() {
        private Stream stream;

        @Override
        public void onOpen(Session session, EndpointConfig config) {
          stream = new Stream(session, StreamSpec.this);
          if (startOnOpen) {
            stream.start();
          }
          streams.add(stream);
        }

        @Override
        public void onClose(Session session, CloseReason reason) {
          if (closeSenderOnClose) {
            stream.sender.close();
          }
        }
      }).start();
    }

    Stream awaitStream() throws InterruptedException {
      Stream stream = streams.poll(WAIT.toMillis(), TimeUnit.MILLISECONDS);
      assertThat(stream).as("a stream opened within %s", WAIT).isNotNull();
      return stream;
    }
  }

  /** One connection's sender, its guarded session and what its listener saw. */
  private static final class Stream {
    final String label;
    final SendGuard guard = new SendGuard();
    final Recorder recorder = new Recorder(guard);
    final PacedSender sender;
    final Session session;

    Stream(Session session, StreamSpec spec) {
      this.session = session;
      this.label = "session " + session.getId();
      PacedSender.Builder builder = PacedSender.newBuilder(guard.wrap(session))
          .source(new NumberedSource(spec.frameBytes, guard))
          .listener(recorder);
      this.sender = spec.options.apply(builder).build();
    }

    void start() {
      sender.start();
    }

    /** Waits until the sender stopped and the container reported its last frame. */
    void awaitSettled() throws InterruptedException {
      assertThat(recorder.stopped.await(WAIT.toMillis(), TimeUnit.MILLISECONDS))
          .as("%s stopped", label).isTrue();
      await(() -> {
        SenderStats s = sender.stats();
        return s.framesInFlight() == 0 && s.framesPending() == 0 && guard.outstanding.get() == 0;
      }, WAIT, label + ": in-flight frame reported");
      SenderStats stats = sender.stats();
      assertThat(stats.isBalanced()).as("balanced: %s", stats).isTrue();
      assertThat(stats.framesTaken())
          .isEqualTo(stats.framesCompleted() + stats.framesFailed() + stats.framesSkipped());
      assertThat(recorder.completedSeqs).hasSize((int) stats.framesCompleted());
      assertThat(recorder.skippedCount.get()).isEqualTo(stats.framesSkipped());
      assertThat(recorder.failedSeqs).hasSize((int) stats.framesFailed());
      assertThat(stats.framesSent()).isEqualTo(stats.framesCompleted() + stats.framesFailed());
    }

    void assertNoViolations() {
      assertThat(guard.violations).as("%s: container contract", label).isEmpty();
      assertThat(recorder.stops.get()).isEqualTo(1);
    }

    void assertClean(TyrusTestServer server) {
      assertNoViolations();
      assertThat(server.errors()).as("errors seen by the endpoint's onError").isEmpty();
    }
  }

  /**
   * Wraps a server session: checks that at most one binary send is in the container at a time,
   * that pings go only while none is, that each handler is called once, and that nothing the
   * sender runs on a container thread throws into the container.
   */
  private static final class SendGuard {
    final AtomicInteger outstanding = new AtomicInteger();
    final AtomicInteger pingsOutstanding = new AtomicInteger();
    final AtomicLong binarySends = new AtomicLong();
    final AtomicLong lateCompletions = new AtomicLong();
    final AtomicLong pings = new AtomicLong();
    final AtomicLong pollsWhileOutstanding = new AtomicLong();
    final AtomicLong outstandingSince = new AtomicLong();
    final List<String> violations = new CopyOnWriteArrayList<>();

    Session wrap(Session session) {
      return proxy(Session.class, (proxy, method, args) -> {
        switch (method.getName()) {
          case "getAsyncRemote":
            return remote(RemoteEndpoint.Async.class, session.getAsyncRemote());
          case "getBasicRemote":
            return remote(RemoteEndpoint.Basic.class, session.getBasicRemote());
          case "addMessageHandler":
            return addHandler(session, method, args);
          default:
            return invoke(session, method, args);
        }
      });
    }

    long outstandingFor() {
      return outstanding.get() == 0 ? 0 : System.nanoTime() - outstandingSince.get();
    }

    private <T> T remote(Class<T> type, T delegate) {
      return proxy(type, (proxy, method, args) -> {
        String name = method.getName();
        if (name.equals("sendBinary") && args.length == 2 && args[1] instanceof SendHandler handler) {
          return sendBinary(delegate, method, (ByteBuffer) args[0], handler);
        }
        if (name.equals("sendPing")) {
          if (outstanding.get() != 0) {
            violations.add("sendPing while a binary send is outstanding, on " + Thread.currentThread().getName());
          }
          pingsOutstanding.incrementAndGet();
          try {
            Object result = invoke(delegate, method, args);
            pings.incrementAndGet();
            return result;
          } finally {
            pingsOutstanding.decrementAndGet();
          }
        }
        if (name.startsWith("send")) {
          violations.add("unexpected " + type.getSimpleName() + "." + name + " " + Arrays.toString(method.getParameterTypes()));
        }
        return invoke(delegate, method, args);
      });
    }

    private Object sendBinary(Object delegate, Method method, ByteBuffer data, SendHandler handler)
        throws Throwable {
      int now = outstanding.incrementAndGet();
      if (now != 1) {
        violations.add("sendBinary while " + (now - 1) + " outstanding, on " + Thread.currentThread().getName());
      }
      if (pingsOutstanding.get() != 0) {
        violations.add("sendBinary while a ping is being sent");
      }
      outstandingSince.set(System.nanoTime());
      binarySends.incrementAndGet();
      Thread caller = Thread.currentThread();
      AtomicBoolean returned = new AtomicBoolean();
      AtomicBoolean called = new AtomicBoolean();
      SendHandler guarded = result -> {
        if (!called.compareAndSet(false, true)) {
          violations.add("send handler called twice");
          return;
        }
        if (returned.get() || Thread.currentThread() != caller) {
          lateCompletions.incrementAndGet();
        }
        // Released before the sender hears of it: it may start the next send from in here.
        outstanding.decrementAndGet();
        try {
          handler.onResult(result);
        } catch (RuntimeException | Error thrown) {
          violations.add("send handler threw into the container: " + thrown);
          throw thrown;
        }
      };
      try {
        return invoke(delegate, method, new Object[] {data, guarded});
      } catch (Throwable refused) {
        // Refused outright (a closed session): no handler will come.
        if (called.compareAndSet(false, true)) {
          outstanding.decrementAndGet();
        }
        throw refused;
      } finally {
        returned.set(true);
      }
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    private Object addHandler(Session session, Method method, Object[] args) throws Throwable {
      if (args.length == 2 && args[1] instanceof MessageHandler.Whole whole) {
        MessageHandler.Whole<Object> guarded = message -> {
          try {
            whole.onMessage(message);
          } catch (RuntimeException | Error thrown) {
            violations.add("message handler threw into the container: " + thrown);
            throw thrown;
          }
        };
        session.addMessageHandler((Class<Object>) args[0], guarded);
        return null;
      }
      return invoke(session, method, args);
    }

    private static Object invoke(Object target, Method method, Object[] args) throws Throwable {
      try {
        return method.invoke(target, args);
      } catch (InvocationTargetException e) {
        throw e.getCause();
      }
    }

    private static <T> T proxy(Class<T> type, InvocationHandler handler) {
      return type.cast(Proxy.newProxyInstance(type.getClassLoader(), new Class<?>[] {type}, handler));
    }
  }

  /** Records the listener's events, and checks its threading contract (calls never overlap). */
  private static final class Recorder implements SenderListener {
    final SendGuard guard;
    final AtomicBoolean busy = new AtomicBoolean();
    final Queue<Long> completedSeqs = new ConcurrentLinkedQueue<>();
    final Queue<Long> failedSeqs = new ConcurrentLinkedQueue<>();
    final Queue<Throwable> failures = new ConcurrentLinkedQueue<>();
    final AtomicLong skippedCount = new AtomicLong();
    final AtomicInteger stops = new AtomicInteger();
    final CountDownLatch stopped = new CountDownLatch(1);
    volatile StopReason stopReason;
    volatile Throwable stopCause;

    Recorder(SendGuard guard) {
      this.guard = guard;
    }

    @Override
    public void onFrameCompleted(Frame frame, long sendLatencyNanos) {
      enter();
      completedSeqs.add(frame.payload().getLong(0));
      exit();
    }

    @Override
    public void onFrameFailed(Frame frame, Throwable error) {
      enter();
      failedSeqs.add(frame.payload().getLong(0));
      failures.add(error);
      exit();
    }

    @Override
    public void onFrameSkipped(Frame frame, SkipReason reason) {
      enter();
      skippedCount.incrementAndGet();
      exit();
    }

    @Override
    public void onStopped(StopReason reason, Throwable cause) {
      enter();
      if (stops.incrementAndGet() == 1) {
        stopReason = reason;
        stopCause = cause;
      } else {
        guard.violations.add("onStopped called again: " + reason);
      }
      stopped.countDown();
      exit();
    }

    private void enter() {
      if (!busy.compareAndSet(false, true)) {
        guard.violations.add("listener calls overlap");
      }
    }

    private void exit() {
      busy.set(false);
    }
  }

  /** A new frame at every poll: sequence number and capture time in the first 16 bytes. */
  private static final class NumberedSource implements FrameSource {
    private final int size;
    private final SendGuard guard;
    private long next;

    NumberedSource(int size, SendGuard guard) {
      this.size = size;
      this.guard = guard;
    }

    @Override
    public Frame poll(int rendition) {
      if (guard.outstanding.get() != 0) {
        guard.pollsWhileOutstanding.incrementAndGet();
      }
      long now = System.nanoTime();
      ByteBuffer payload = ByteBuffer.allocate(size);
      payload.putLong(0, next++).putLong(8, now);
      return Frame.of(payload, now);
    }
  }

  // ---------------------------------------------------------------------------------------
  // The client side.

  private record Received(long seq, long captureNanos, long arrivalNanos) {}

  private static List<Received> fromJdk(List<JdkClient.Message> messages) {
    List<Received> out = new ArrayList<>(messages.size());
    for (JdkClient.Message m : messages) {
      ByteBuffer b = ByteBuffer.wrap(m.payload());
      out.add(new Received(b.getLong(0), b.getLong(8), m.arrivalNanos()));
    }
    return out;
  }

  private static List<Long> seqs(List<Received> received) {
    return received.stream().map(Received::seq).toList();
  }

  /** A Tyrus client endpoint that records frames, optionally taking a while over each. */
  private static final class TyrusReceiver extends Endpoint {
    private final long millisPerMessage;
    private final List<Received> received = new CopyOnWriteArrayList<>();
    private final CountDownLatch released = new CountDownLatch(1);

    TyrusReceiver(long millisPerMessage) {
      this.millisPerMessage = millisPerMessage;
    }

    Session connect(ClientManager manager, java.net.URI uri) throws Exception {
      return manager.connectToServer(this, ClientEndpointConfig.Builder.create().build(), uri);
    }

    @Override
    public void onOpen(Session session, EndpointConfig config) {
      session.addMessageHandler(ByteBuffer.class, (MessageHandler.Whole<ByteBuffer>) data -> {
        long now = System.nanoTime();
        received.add(new Received(data.getLong(data.position()), data.getLong(data.position() + 8), now));
        if (millisPerMessage > 0) {
          try {
            // Bounded, and cut short by release(), so a finished test frees the client's thread.
            released.await(millisPerMessage, TimeUnit.MILLISECONDS);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
        }
      });
    }

    int count() {
      return received.size();
    }

    List<Received> received() {
      return List.copyOf(received);
    }

    void release() {
      released.countDown();
    }
  }

  // ---------------------------------------------------------------------------------------
  // Utilities.

  private static void closeQuietly(Session session) {
    try {
      if (session.isOpen()) {
        session.close();
      }
    } catch (Exception e) {
      // Closing is best effort; the manager's shutdown ends the connection anyway.
    }
  }

  private static void await(BooleanSupplier condition, Duration timeout, String what) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() - deadline > 0) {
        fail("not within %s: %s", timeout, what);
      }
      Thread.sleep(5);
    }
  }

  private static void sleepMillis(long millis) throws InterruptedException {
    Thread.sleep(millis);
  }

  private static double percentile(double[] sorted, double p) {
    int index = (int) Math.ceil(p / 100 * sorted.length) - 1;
    return sorted[Math.max(0, Math.min(sorted.length - 1, index))];
  }
}
