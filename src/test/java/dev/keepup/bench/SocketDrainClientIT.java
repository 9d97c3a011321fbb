package dev.keepup.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.keepup.Frame;
import dev.keepup.PacedSender;
import dev.keepup.SenderStats;
import dev.keepup.it.TyrusTestServer;
import jakarta.websocket.Session;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The benchmark's bare-socket client against a scripted server on 127.0.0.1: it counts whole
 * data messages whatever the frame sizes and however the bytes are split across reads, and
 * answers pings with masked pongs.
 */
@Timeout(30)
final class SocketDrainClientIT {
  private static final Duration WAIT = Duration.ofSeconds(10);
  private ServerSocket listener;

  @BeforeEach
  void listen() throws IOException {
    listener = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
  }

  @AfterEach
  void stop() throws IOException {
    listener.close();
  }

  @Test
  void countsMessagesOfEveryLengthEncoding_splitAcrossWrites() throws Exception {
    CompletableFuture<Socket> accepted = acceptAndHandshake();
    try (SocketDrainClient client = SocketDrainClient.connect(uri(), WAIT);
        Socket server = accepted.get(WAIT.toMillis(), TimeUnit.MILLISECONDS)) {
      ByteArrayOutputStream frames = new ByteArrayOutputStream();
      frames.write(frame(0x82, 0));          // empty binary message
      frames.write(frame(0x82, 125));        // 7-bit length
      frames.write(frame(0x82, 126));        // 16-bit length
      frames.write(frame(0x82, 70_000));     // 64-bit length
      frames.write(frame(0x02, 1000));       // a fragmented message: first part...
      frames.write(frame(0x00, 1000));       // ...middle...
      frames.write(frame(0x80, 10));         // ...and last: one message
      frames.write(frame(0x81, 5));          // text
      byte[] all = frames.toByteArray();
      OutputStream out = server.getOutputStream();
      // One byte at a time through the headers' region, then the rest: headers split anywhere.
      for (int i = 0; i < 300; i++) {
        out.write(all[i]);
        out.flush();
      }
      out.write(all, 300, all.length - 300);
      out.flush();
      awaitMessages(client, 6);
      assertThat(client.messages()).isEqualTo(6);
    }
  }

  @Test
  void aSmallBuffer_walksFramesWhoseHeadersStraddleItsEnd() throws Exception {
    CompletableFuture<Socket> accepted = acceptAndHandshake();
    try (SocketDrainClient client = SocketDrainClient.connect(uri(), WAIT, SocketDrainClient.MIN_BUFFER_BYTES);
        Socket server = accepted.get(WAIT.toMillis(), TimeUnit.MILLISECONDS)) {
      ByteArrayOutputStream frames = new ByteArrayOutputStream();
      // Lengths that put header boundaries all over a 127-byte buffer, pings among them.
      int messages = 0;
      for (int i = 0; i < 400; i++) {
        frames.write(frame(0x82, (i * 37) % 300 + (i % 7 == 0 ? 66_000 : 0)));
        messages++;
        if (i % 5 == 0) {
          frames.write(new byte[] {(byte) 0x89, 2, 'p', (byte) i});
        }
      }
      server.getOutputStream().write(frames.toByteArray());
      server.getOutputStream().flush();
      awaitMessages(client, messages);
      assertThat(client.messages()).isEqualTo(messages);
      assertThat(client.pongs()).isEqualTo(80);
    }
  }

  @Test
  void againstTyrus_countsEveryMessageAPacedSenderCompletes_andAnswersItsPings() throws Exception {
    try (TyrusTestServer server = TyrusTestServer.start("/bench", s -> { });
        SocketDrainClient client = SocketDrainClient.connect(server.uri("/bench"), WAIT)) {
      Session session = server.awaitSession(WAIT);
      int frames = 2_000;
      AtomicInteger taken = new AtomicInteger();
      // 70,000 bytes: a 64-bit length in every header.
      ByteBuffer payload = ByteBuffer.allocate(70_000);
      PacedSender sender = PacedSender.newBuilder(session)
          .unpaced()
          .pingEvery(1)
          .source(rendition -> taken.getAndIncrement() < frames ? Frame.of(payload, System.nanoTime()) : null)
          .build();
      sender.start();
      long deadline = System.nanoTime() + WAIT.toNanos();
      while (sender.stats().framesCompleted() + sender.stats().framesSkipped() < frames
          && System.nanoTime() - deadline < 0) {
        Thread.sleep(1);
      }
      sender.close();
      SenderStats stats = sender.stats();
      assertThat(stats.framesCompleted() + stats.framesSkipped()).isEqualTo(frames);
      awaitMessages(client, stats.framesCompleted());
      assertThat(client.messages()).isEqualTo(stats.framesCompleted());
      assertThat(client.pongs()).isPositive();
      assertThat(stats.acksAccepted()).isPositive();
    }
  }

  @Test
  void answersAPingWithAMaskedPongOfItsPayload() throws Exception {
    CompletableFuture<Socket> accepted = acceptAndHandshake();
    try (SocketDrainClient client = SocketDrainClient.connect(uri(), WAIT);
        Socket server = accepted.get(WAIT.toMillis(), TimeUnit.MILLISECONDS)) {
      server.setSoTimeout((int) WAIT.toMillis());
      byte[] ping = {(byte) 0x89, 3, 'a', 'b', 'c'};
      OutputStream out = server.getOutputStream();
      out.write(ping);
      out.write(frame(0x82, 1));
      out.flush();
      InputStream in = server.getInputStream();
      byte[] pong = in.readNBytes(9);
      assertThat(pong[0] & 0xFF).isEqualTo(0x8A);
      assertThat(pong[1] & 0xFF).isEqualTo(0x80 | 3);
      byte[] unmasked = new byte[3];
      for (int i = 0; i < 3; i++) {
        unmasked[i] = (byte) (pong[6 + i] ^ pong[2 + i]);
      }
      assertThat(new String(unmasked, StandardCharsets.US_ASCII)).isEqualTo("abc");
      awaitMessages(client, 1);
      assertThat(client.pongs()).isEqualTo(1);
    }
  }

  @Test
  void aMaskedFrameFromTheServer_failsTheCount() throws Exception {
    CompletableFuture<Socket> accepted = acceptAndHandshake();
    try (SocketDrainClient client = SocketDrainClient.connect(uri(), WAIT);
        Socket server = accepted.get(WAIT.toMillis(), TimeUnit.MILLISECONDS)) {
      server.getOutputStream().write(new byte[] {(byte) 0x82, (byte) 0x81, 1, 2, 3, 4, 5});
      server.getOutputStream().flush();
      assertThat(awaitFailure(client)).hasRootCauseMessage("masked frame from the server");
    }
  }

  @Test
  void acceptKey_isRfc6455s() {
    // The worked example of RFC 6455, section 1.3.
    assertThat(SocketDrainClient.acceptFor("dGhlIHNhbXBsZSBub25jZQ==")).isEqualTo("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  }

  @Test
  void aHandshakeWithoutTheAcceptKey_isAnError() throws Exception {
    CompletableFuture<Socket> accepted = acceptAndHandshake(false);
    assertThatThrownBy(() -> SocketDrainClient.connect(uri(), WAIT))
        .isInstanceOf(IOException.class).hasMessageContaining("Sec-WebSocket-Accept");
    accepted.get(WAIT.toMillis(), TimeUnit.MILLISECONDS).close();
  }

  @Test
  void malformedFrames_failTheCount() throws Exception {
    byte[][] malformed = {
        {(byte) 0x82, 127, (byte) 0x80, 0, 0, 0, 0, 0, 0, 1},  // length's top bit set
        {(byte) 0x8B, 0},                                       // reserved control opcode
        {(byte) 0x83, 0},                                       // reserved data opcode
        {(byte) 0x09, 0},                                       // fragmented ping
        {(byte) 0xC2, 0},                                       // reserved bit, no extension
        {(byte) 0x88, 2, 3, (byte) 0xE8},                       // close (1000)
    };
    for (byte[] frame : malformed) {
      CompletableFuture<Socket> accepted = acceptAndHandshake();
      SocketDrainClient client = SocketDrainClient.connect(uri(), WAIT);
      try (Socket server = accepted.get(WAIT.toMillis(), TimeUnit.MILLISECONDS)) {
        server.getOutputStream().write(frame);
        server.getOutputStream().flush();
        assertThat(awaitFailure(client)).as("frame %s", java.util.Arrays.toString(frame))
            .hasRootCauseInstanceOf(IOException.class);
      } finally {
        client.close();
      }
      assertThat(client.readerAlive()).isFalse();
    }
  }

  @Test
  void anEndOfStreamFromTheServer_failsTheCount() throws Exception {
    CompletableFuture<Socket> accepted = acceptAndHandshake();
    try (SocketDrainClient client = SocketDrainClient.connect(uri(), WAIT)) {
      Socket server = accepted.get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
      server.getOutputStream().write(frame(0x82, 3));
      server.getOutputStream().flush();
      awaitMessages(client, 1);
      server.close();
      assertThat(awaitFailure(client)).hasRootCauseMessage("end of stream from the server");
    }
  }

  @Test
  void close_stopsTheReader_andWhatItReadsAfterIsNoFailure() throws Exception {
    CompletableFuture<Socket> accepted = acceptAndHandshake();
    SocketDrainClient client = SocketDrainClient.connect(uri(), WAIT);
    try (Socket server = accepted.get(WAIT.toMillis(), TimeUnit.MILLISECONDS)) {
      server.getOutputStream().write(frame(0x82, 3));
      server.getOutputStream().flush();
      awaitMessages(client, 1);
      client.close();
      assertThat(client.readerAlive()).isFalse();
      assertThat(client.messages()).isEqualTo(1);
    }
  }

  @Test
  void aRefusedHandshake_isAnError() throws Exception {
    CompletableFuture<Socket> accepted = CompletableFuture.supplyAsync(() -> {
      try {
        Socket s = listener.accept();
        SocketDrainClient.readHead(s.getInputStream());
        s.getOutputStream().write("HTTP/1.1 404 Not Found\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        s.getOutputStream().flush();
        return s;
      } catch (IOException e) {
        throw new IllegalStateException(e);
      }
    });
    assertThatThrownBy(() -> SocketDrainClient.connect(uri(), WAIT))
        .isInstanceOf(IOException.class).hasMessageContaining("404");
    accepted.get(WAIT.toMillis(), TimeUnit.MILLISECONDS).close();
  }

  private URI uri() {
    return URI.create("ws://127.0.0.1:" + listener.getLocalPort() + "/bench");
  }

  private CompletableFuture<Socket> acceptAndHandshake() {
    return acceptAndHandshake(true);
  }

  private CompletableFuture<Socket> acceptAndHandshake(boolean withAccept) {
    return CompletableFuture.supplyAsync(() -> {
      try {
        Socket s = listener.accept();
        // Small writes go out as written, so that frames reach the client split where a test
        // splits them.
        s.setTcpNoDelay(true);
        String request = SocketDrainClient.readHead(s.getInputStream());
        String key = request.lines().filter(l -> l.startsWith("Sec-WebSocket-Key: ")).findFirst()
            .map(l -> l.substring("Sec-WebSocket-Key: ".length()).trim()).orElse(null);
        if (!request.startsWith("GET /bench HTTP/1.1") || key == null) {
          throw new IllegalStateException("bad request: " + request);
        }
        s.getOutputStream().write(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            + "Connection: Upgrade\r\n" + (withAccept ? "Sec-WebSocket-Accept: "
            + SocketDrainClient.acceptFor(key) + "\r\n" : "") + "\r\n").getBytes(StandardCharsets.US_ASCII));
        s.getOutputStream().flush();
        return s;
      } catch (IOException e) {
        throw new IllegalStateException(e);
      }
    });
  }


  /**
   * An unmasked frame with first byte {@code b0} and {@code length} bytes of 0xFF: a walker
   * that loses its place reads them as a masked frame with reserved bits set, and fails.
   */
  private static byte[] frame(int b0, int length) {
    ByteArrayOutputStream f = new ByteArrayOutputStream();
    f.write(b0);
    if (length < 126) {
      f.write(length);
    } else if (length < 65536) {
      f.write(126);
      f.write(length >> 8);
      f.write(length);
    } else {
      f.write(127);
      for (int shift = 56; shift >= 0; shift -= 8) {
        f.write((int) ((long) length >> shift));
      }
    }
    byte[] payload = new byte[length];
    java.util.Arrays.fill(payload, (byte) 0xFF);
    f.writeBytes(payload);
    return f.toByteArray();
  }

  /** The failure {@code messages()} reports within the wait; fails the test if none comes. */
  private static IllegalStateException awaitFailure(SocketDrainClient client) throws InterruptedException {
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (System.nanoTime() - deadline < 0) {
      try {
        client.messages();
      } catch (IllegalStateException failed) {
        return failed;
      }
      Thread.sleep(1);
    }
    throw new AssertionError("no failure reported within " + WAIT);
  }

  private static void awaitMessages(SocketDrainClient client, long count) throws InterruptedException {
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (client.messages() < count && System.nanoTime() - deadline < 0) {
      Thread.sleep(1);
    }
  }
}
