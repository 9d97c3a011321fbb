package dev.keepup.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import jakarta.websocket.ClientEndpointConfig;
import jakarta.websocket.CloseReason;
import jakarta.websocket.Endpoint;
import jakarta.websocket.EndpointConfig;
import jakarta.websocket.MessageHandler;
import jakarta.websocket.PongMessage;
import jakarta.websocket.SendResult;
import jakarta.websocket.Session;
import java.net.ConnectException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.NetworkInterface;
import java.net.Socket;
import java.net.SocketException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.glassfish.tyrus.client.ClientManager;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Proves the test harness works, and pins how the clients the library relies on answer pings:
 * the ping/pong "ack" signal (DESIGN.md, "Three signals") means something different per client.
 */
@Timeout(60)
final class HarnessIT {
  private static final Duration WAIT = Duration.ofSeconds(10);
  private static final String PATH = "/frames";

  @Test
  void server_sendsTenMessagesOnOpen_jdkClientReceivesAllInOrder() throws Exception {
    try (TyrusTestServer server = TyrusTestServer.start(PATH, session -> {
          for (int i = 0; i < 10; i++) {
            session.getAsyncRemote().sendBinary(numbered(i, 1000 * (i + 1)), result -> {});
          }
        });
        JdkClient client = JdkClient.builder(server.uri(PATH)).keepPayloads().connect()) {
      assertThat(client.awaitMessages(10, WAIT)).isTrue();

      List<JdkClient.Message> messages = client.messages();
      assertThat(messages).hasSize(10);
      for (int i = 0; i < 10; i++) {
        assertThat(messages.get(i).size()).isEqualTo(1000 * (i + 1));
        assertThat(ByteBuffer.wrap(messages.get(i).payload()).getInt()).isEqualTo(i);
      }
      assertThat(messages).extracting(JdkClient.Message::arrivalNanos).isSorted();

      client.close();
      assertThat(server.awaitCloses(1, WAIT)).isTrue();
      assertThat(server.closeReasons().get(0).getCloseCode())
          .isEqualTo(CloseReason.CloseCodes.NORMAL_CLOSURE);
      assertThat(client.closeEvent()).hasValueSatisfying(c -> assertThat(c.statusCode()).isEqualTo(1000));
    }
  }

  /**
   * Tests send traffic to loopback only: the server listens on 127.0.0.1, not on 0.0.0.0 as
   * Tyrus's own Grizzly container does. Checked twice: the address the kernel reports for the
   * listening socket, and a connection to each of this machine's non-loopback addresses (which
   * the kernel routes locally, so nothing leaves the machine) being refused.
   */
  @Test
  void server_listensOnLoopbackOnly() throws Exception {
    try (TyrusTestServer server = TyrusTestServer.start(PATH, session -> {})) {
      InetSocketAddress bound = server.boundAddress();
      assertThat(bound.getAddress()).isEqualTo(InetAddress.getByAddress(new byte[] {127, 0, 0, 1}));
      assertThat(bound.getPort()).isEqualTo(server.port());

      try (Socket loopback = new Socket()) {
        loopback.connect(new InetSocketAddress("127.0.0.1", server.port()), 2000);
        assertThat(loopback.isConnected()).isTrue();
      }
      List<InetAddress> others = nonLoopbackAddresses();
      System.out.println("HarnessIT: non-loopback addresses tried: " + others);
      for (InetAddress other : others) {
        try (Socket socket = new Socket()) {
          assertThatThrownBy(() -> socket.connect(new InetSocketAddress(other, server.port()), 2000))
              .as("connecting to %s:%d", other, server.port())
              .isInstanceOf(ConnectException.class);
        }
      }
    }
  }

  /** This machine's IPv4 addresses on interfaces that are up and not loopback (may be none). */
  private static List<InetAddress> nonLoopbackAddresses() throws SocketException {
    List<InetAddress> addresses = new ArrayList<>();
    for (NetworkInterface nic : NetworkInterface.networkInterfaces().toList()) {
      if (!nic.isUp() || nic.isLoopback()) {
        continue;
      }
      nic.inetAddresses().filter(a -> a instanceof Inet4Address && !a.isLoopbackAddress()).forEach(addresses::add);
    }
    return addresses;
  }

  @Test
  void jdkClient_pacedReading_limitsItsReadRate() throws Exception {
    int count = 10;
    int size = 20_000;
    long bytesPerSecond = 200_000;
    try (TyrusTestServer server = TyrusTestServer.start(PATH, session -> {
          for (int i = 0; i < count; i++) {
            session.getAsyncRemote().sendBinary(numbered(i, size), result -> {});
          }
        });
        JdkClient client = JdkClient.builder(server.uri(PATH)).paced(bytesPerSecond).connect()) {
      assertThat(client.awaitMessages(count, WAIT)).isTrue();

      List<JdkClient.Message> m = client.messages();
      // The first part is read at once, the rest of the 200 KB at 200 KB/s: about 0.9 s.
      long elapsed = m.get(count - 1).arrivalNanos() - m.get(0).firstPartNanos();
      assertThat(elapsed).isGreaterThan(TimeUnit.MILLISECONDS.toNanos(700));
    }
  }

  /**
   * The JDK client sends its automatic pong only when the ping's own callback is due, i.e. after
   * the application has requested (consumed) every message before the ping. A client that stops
   * calling {@code request(n)} stops answering pings, so a pong from it proves consumption.
   */
  @Test
  void jdkClient_answersPingOnlyAfterRequestingEarlierMessages() throws Exception {
    BlockingQueue<Long> pongs = new LinkedBlockingQueue<>();
    try (TyrusTestServer server = TyrusTestServer.start(PATH, session -> recordPongs(session, pongs));
        JdkClient client = JdkClient.builder(server.uri(PATH)).startPaused().connect()) {
      Session session = server.awaitSession(WAIT);
      sendAndAwait(session, 5, 20_000);
      session.getAsyncRemote().sendPing(utf8("after-5"));

      // Nothing requested: the five messages and the ping sit unread, and no pong comes back.
      assertThat(pongs.poll(500, TimeUnit.MILLISECONDS)).isNull();
      assertThat(client.messageCount()).isZero();

      client.resumeReading();
      Long pong = pongs.poll(WAIT.toMillis(), TimeUnit.MILLISECONDS);
      assertThat(pong).isNotNull();
      assertThat(client.awaitPings(1, WAIT)).isTrue();

      JdkClient.Ping ping = client.pings().get(0);
      assertThat(ping.text()).isEqualTo("after-5");
      assertThat(ping.messagesBefore()).isEqualTo(5);
      long lastMessage = client.messages().get(4).arrivalNanos();
      long requestForPing = client.requestNanos().stream()
          .filter(t -> t >= lastMessage).findFirst().orElseThrow();
      assertThat(pong).isGreaterThanOrEqualTo(requestForPing);
    }
  }

  /** A slow reader answers a ping only when its reading reaches it, not when the ping arrives. */
  @Test
  void jdkClient_pacedReader_answersPingWhenItHasReadEverythingBefore() throws Exception {
    BlockingQueue<Long> pongs = new LinkedBlockingQueue<>();
    try (TyrusTestServer server = TyrusTestServer.start(PATH, session -> recordPongs(session, pongs));
        JdkClient client = JdkClient.builder(server.uri(PATH)).paced(50_000).connect()) {
      Session session = server.awaitSession(WAIT);
      sendAndAwait(session, 5, 20_000);
      long pingSent = System.nanoTime();
      session.getAsyncRemote().sendPing(utf8("after-5"));

      Long pong = pongs.poll(WAIT.toMillis(), TimeUnit.MILLISECONDS);
      assertThat(pong).isNotNull();
      assertThat(client.awaitMessages(5, WAIT)).isTrue();
      // 100 KB at 50 KB/s: the pong waits for about 2 s of reading, though the ping was in the
      // client's socket buffer within a millisecond.
      assertThat(pong - pingSent).isGreaterThan(TimeUnit.MILLISECONDS.toNanos(1000));
      assertThat(pong).isGreaterThanOrEqualTo(client.messages().get(4).arrivalNanos());
      assertThat(client.pings().get(0).messagesBefore()).isEqualTo(5);
    }
  }

  /**
   * The Tyrus client answers pings itself, on its reading thread, in order: the pong leaves only
   * after the whole-message handlers of every earlier message have returned.
   */
  @Test
  void tyrusClient_answersPingOnlyAfterEarlierMessageHandlersReturn() throws Exception {
    BlockingQueue<Long> pongs = new LinkedBlockingQueue<>();
    CountDownLatch release = new CountDownLatch(1);
    List<Long> handlerReturns = new CopyOnWriteArrayList<>();
    ClientManager manager = ClientManager.createClient();
    try (TyrusTestServer server = TyrusTestServer.start(PATH, session -> recordPongs(session, pongs))) {
      Session clientSession = manager.connectToServer(new Endpoint() {
        @Override
        public void onOpen(Session session, EndpointConfig config) {
          session.addMessageHandler(ByteBuffer.class, (MessageHandler.Whole<ByteBuffer>) data -> {
            try {
              // Bounded so a failing test cannot leave the client's thread stuck.
              release.await(WAIT.toMillis(), TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
            }
            handlerReturns.add(System.nanoTime());
          });
        }
      }, ClientEndpointConfig.Builder.create().build(), server.uri(PATH));
      try {
        Session session = server.awaitSession(WAIT);
        sendAndAwait(session, 3, 10_000);
        session.getAsyncRemote().sendPing(utf8("after-3"));

        // The first handler is blocked: the ping waits behind it.
        assertThat(pongs.poll(500, TimeUnit.MILLISECONDS)).isNull();

        release.countDown();
        Long pong = pongs.poll(WAIT.toMillis(), TimeUnit.MILLISECONDS);
        assertThat(pong).isNotNull();
        assertThat(handlerReturns).hasSize(3);
        assertThat(pong).isGreaterThanOrEqualTo(handlerReturns.get(2));
      } finally {
        clientSession.close();
      }
    } finally {
      manager.shutdown();
    }
  }

  private static void recordPongs(Session session, BlockingQueue<Long> pongs) {
    session.addMessageHandler(PongMessage.class,
        (MessageHandler.Whole<PongMessage>) pong -> pongs.add(System.nanoTime()));
  }

  /** Sends {@code count} binary messages and waits until Tyrus reports each one written. */
  private static void sendAndAwait(Session session, int count, int size) throws InterruptedException {
    CountDownLatch written = new CountDownLatch(count);
    List<SendResult> failures = new CopyOnWriteArrayList<>();
    for (int i = 0; i < count; i++) {
      session.getAsyncRemote().sendBinary(numbered(i, size), result -> {
        if (!result.isOK()) {
          failures.add(result);
        }
        written.countDown();
      });
    }
    assertThat(written.await(WAIT.toMillis(), TimeUnit.MILLISECONDS)).isTrue();
    assertThat(failures).isEmpty();
  }

  /** A message of {@code size} bytes whose first four bytes hold {@code index}. */
  private static ByteBuffer numbered(int index, int size) {
    ByteBuffer b = ByteBuffer.allocate(size);
    b.putInt(0, index);
    return b;
  }

  private static ByteBuffer utf8(String s) {
    return ByteBuffer.wrap(s.getBytes(StandardCharsets.UTF_8));
  }
}
