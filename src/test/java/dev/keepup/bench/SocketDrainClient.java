package dev.keepup.bench;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.Base64;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A WebSocket client that does as little as a client can: a plain socket, the opening
 * handshake, then one thread reading whatever the kernel has (up to 256 KiB a read) and
 * walking the frame headers to count whole data messages, answering pings with pongs. No
 * payload is copied or looked at.
 *
 * <p>Why it exists: the JDK's {@code java.net.http.WebSocket} costs this machine's two cores
 * about as much CPU per message as the server does (two threads, a callback and a {@code
 * request(1)} per message), so with it the benchmark measures a process where the sender's
 * share is diluted and every turn competes with the client for a core. With this client the
 * server's sending thread is what limits throughput, which is what a ratio against a raw send
 * loop is meant to compare.
 */
final class SocketDrainClient implements CoreBenchmark.Drain {
  private static final int OP_CONTINUATION = 0x0;
  private static final int OP_BINARY = 0x2;
  private static final int OP_TEXT = 0x1;
  private static final int OP_CLOSE = 0x8;
  private static final int OP_PING = 0x9;
  private static final int OP_PONG = 0xA;
  private static final int MAX_CONTROL_PAYLOAD = 125;
  /** Room for the largest control frame whole (a 2-byte header and 125 bytes). */
  static final int MIN_BUFFER_BYTES = 2 + MAX_CONTROL_PAYLOAD;
  private static final int BUFFER_BYTES = 256 * 1024;

  private final Socket socket;
  private final InputStream in;
  private final OutputStream out;
  private final Thread reader;
  private final int bufferBytes;
  private final AtomicLong messages = new AtomicLong();
  private final AtomicLong pongs = new AtomicLong();
  private volatile Throwable failure;
  private volatile boolean closing;

  private SocketDrainClient(Socket socket, int bufferBytes) throws IOException {
    this.socket = socket;
    this.bufferBytes = bufferBytes;
    this.in = socket.getInputStream();
    this.out = socket.getOutputStream();
    this.reader = new Thread(this::readLoop, "socket-drain");
    this.reader.setDaemon(true);
  }

  /**
   * Runs the client in a process of its own, driven over stdin and stdout one line at a time,
   * so that a benchmark can put it on another CPU than the server's (see {@link DrainProcess}):
   * it says {@code ready} once started; then {@code connect <ws uri>} answers {@code
   * connected}, {@code messages} the count so far, {@code close} answers {@code closed}; a
   * failure answers {@code error <what>}. One connection at a time; end of input closes it and
   * exits.
   */
  public static void main(String[] args) throws IOException {
    java.io.BufferedReader commands = new java.io.BufferedReader(
        new java.io.InputStreamReader(System.in, StandardCharsets.UTF_8));
    java.io.PrintStream answers = new java.io.PrintStream(System.out, true, StandardCharsets.UTF_8);
    SocketDrainClient client = null;
    answers.println("ready");
    try {
      for (String line; (line = commands.readLine()) != null; ) {
        try {
          if (line.startsWith("connect ")) {
            if (client != null) {
              throw new IllegalStateException("already connected");
            }
            client = connect(URI.create(line.substring(8).trim()), Duration.ofSeconds(10));
            answers.println("connected");
          } else if (line.equals("messages")) {
            if (client == null) {
              throw new IllegalStateException("not connected");
            }
            answers.println(client.messages());
          } else if (line.equals("close")) {
            if (client != null) {
              SocketDrainClient closing = client;
              client = null;
              closing.close();
            }
            answers.println("closed");
          } else {
            throw new IllegalArgumentException("unknown command: " + line);
          }
        } catch (IOException | RuntimeException e) {
          answers.println("error " + String.valueOf(e).replace('\n', ' '));
        }
      }
    } finally {
      if (client != null) {
        client.close();
      }
    }
  }

  /** Connects to {@code uri} (ws://host:port/path) and completes the opening handshake. */
  static SocketDrainClient connect(URI uri, Duration timeout) throws IOException {
    return connect(uri, timeout, BUFFER_BYTES);
  }

  /** With a read buffer of {@code bufferBytes}: small ones let a test split frames anywhere. */
  static SocketDrainClient connect(URI uri, Duration timeout, int bufferBytes) throws IOException {
    if (bufferBytes < MIN_BUFFER_BYTES) {
      throw new IllegalArgumentException("bufferBytes " + bufferBytes + " < " + MIN_BUFFER_BYTES);
    }
    Socket socket = new Socket();
    try {
      socket.setTcpNoDelay(true);
      socket.connect(new InetSocketAddress(uri.getHost(), uri.getPort()), (int) timeout.toMillis());
      // Bounded handshake; the drain itself blocks in read until close() shuts the socket.
      socket.setSoTimeout((int) timeout.toMillis());
      SocketDrainClient client = new SocketDrainClient(socket, bufferBytes);
      client.handshake(uri);
      socket.setSoTimeout(0);
      client.reader.start();
      return client;
    } catch (IOException | RuntimeException e) {
      socket.close();
      throw e;
    }
  }

  private void handshake(URI uri) throws IOException {
    byte[] nonce = new byte[16];
    ThreadLocalRandom.current().nextBytes(nonce);
    String key = Base64.getEncoder().encodeToString(nonce);
    String request = "GET " + uri.getRawPath() + " HTTP/1.1\r\n"
        + "Host: " + uri.getHost() + ":" + uri.getPort() + "\r\n"
        + "Upgrade: websocket\r\n"
        + "Connection: Upgrade\r\n"
        + "Sec-WebSocket-Key: " + key + "\r\n"
        + "Sec-WebSocket-Version: 13\r\n\r\n";
    out.write(request.getBytes(StandardCharsets.US_ASCII));
    out.flush();
    String response = readHead(in);
    if (!response.startsWith("HTTP/1.1 101")) {
      throw new IOException("handshake refused: " + response.lines().findFirst().orElse(""));
    }
    String accept = acceptFor(key);
    boolean accepted = response.lines()
        .anyMatch(line -> line.regionMatches(true, 0, "Sec-WebSocket-Accept:", 0, 21)
            && line.substring(21).trim().equals(accept));
    if (!accepted) {
      throw new IOException("handshake: no Sec-WebSocket-Accept of " + accept + " in " + response);
    }
  }

  /**
   * Reads an HTTP head up to and including its blank line, byte by byte so that nothing after
   * it (the first frames) is consumed; at most 8 KiB.
   */
  static String readHead(InputStream in) throws IOException {
    StringBuilder head = new StringBuilder();
    while (head.indexOf("\r\n\r\n", Math.max(0, head.length() - 4)) < 0) {
      int b = in.read();
      if (b < 0 || head.length() > 8192) {
        throw new IOException("no complete HTTP head: " + head);
      }
      head.append((char) b);
    }
    return head.toString();
  }

  /** RFC 6455 section 4.2.2: base64(SHA-1(key + the protocol's GUID)). */
  static String acceptFor(String key) {
    try {
      byte[] digest = MessageDigest.getInstance("SHA-1")
          .digest((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").getBytes(StandardCharsets.US_ASCII));
      return Base64.getEncoder().encodeToString(digest);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JDK has SHA-1", e);
    }
  }

  @Override
  public long messages() {
    Throwable error = failure;
    if (error != null) {
      throw new IllegalStateException("socket drain failed", error);
    }
    return messages.get();
  }

  /** Pongs sent in answer to the server's pings. */
  long pongs() {
    return pongs.get();
  }

  /**
   * Closes the socket and waits for the reader to end.
   *
   * @throws IllegalStateException if the reader is still running 10 s later
   */
  @Override
  public void close() {
    closing = true;
    try {
      socket.close();
    } catch (IOException e) {
      // Closing is all that was asked; the reader ends on the closed socket either way.
    }
    try {
      reader.join(10_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return;
    }
    if (reader.isAlive()) {
      throw new IllegalStateException("socket drain: the reader did not stop within 10 s");
    }
  }

  /** Whether the reader thread is still running. */
  boolean readerAlive() {
    return reader.isAlive();
  }

  /**
   * Reads and walks frames: {@code buf[start, end)} holds unparsed bytes; {@code skip} counts
   * payload bytes of the current data frame still to come, dropped as they arrive.
   */
  private void readLoop() {
    byte[] buf = new byte[bufferBytes];
    int start = 0;
    int end = 0;
    long skip = 0;
    boolean countWhenSkipped = false;
    try {
      while (true) {
        if (skip > 0) {
          long take = Math.min(skip, end - start);
          start += (int) take;
          skip -= take;
          if (skip == 0 && countWhenSkipped) {
            messages.incrementAndGet();
          }
        }
        if (skip == 0) {
          int header = headerLength(buf, start, end);
          if (header > 0) {
            int opcode = buf[start] & 0x0F;
            boolean fin = (buf[start] & 0x80) != 0;
            if ((buf[start] & 0x70) != 0) {
              throw new IOException("reserved bits set with no extension negotiated");
            }
            long length = payloadLength(buf, start);
            if (length < 0) {
              throw new IOException("payload length with its most significant bit set");
            }
            if (opcode >= OP_CLOSE) {
              if (opcode > OP_PONG) {
                throw new IOException("reserved control opcode " + opcode);
              }
              if (length > MAX_CONTROL_PAYLOAD || !fin) {
                throw new IOException("control frame of " + length + " bytes" + (fin ? "" : ", fragmented"));
              }
              if (end - start >= header + length) {
                // A control frame is answered once it is here whole.
                if (opcode == OP_CLOSE) {
                  throw new IOException("the server closed the connection");
                }
                if (opcode == OP_PING) {
                  pong(buf, start + header, (int) length);
                }
                start += header + (int) length;
                continue;
              }
            } else {
              if (opcode != OP_BINARY && opcode != OP_TEXT && opcode != OP_CONTINUATION) {
                throw new IOException("reserved data opcode " + opcode);
              }
              start += header;
              skip = length;
              countWhenSkipped = fin;
              if (length == 0 && fin) {
                messages.incrementAndGet();
              }
              continue;
            }
          }
        }
        // More bytes needed: all of a payload read so far is consumed, or a header or control
        // frame is incomplete and moves to the front of the buffer.
        if (start == end) {
          start = 0;
          end = 0;
        } else if (start > 0) {
          System.arraycopy(buf, start, buf, 0, end - start);
          end -= start;
          start = 0;
        }
        if (end == buf.length) {
          // Cannot happen while a header (at most 10 bytes) or a control frame (at most 127)
          // is all a compacted buffer holds; a read of nothing here would spin for good.
          throw new IllegalStateException("socket drain: buffer full at " + start + " of " + end);
        }
        int n = in.read(buf, end, buf.length - end);
        if (n < 0) {
          throw new IOException("end of stream from the server");
        }
        end += n;
      }
    } catch (IOException e) {
      if (!closing) {
        failure = e;
      }
    } catch (RuntimeException | Error e) {
      failure = e;
      throw e;
    }
  }

  /** The length of the frame header at {@code start}, or 0 if not all of it is here yet. */
  private static int headerLength(byte[] buf, int start, int end) throws IOException {
    if (end - start < 2) {
      return 0;
    }
    if ((buf[start + 1] & 0x80) != 0) {
      throw new IOException("masked frame from the server");
    }
    int len7 = buf[start + 1] & 0x7F;
    int header = len7 == 126 ? 4 : len7 == 127 ? 10 : 2;
    return end - start >= header ? header : 0;
  }

  private static long payloadLength(byte[] buf, int start) {
    int len7 = buf[start + 1] & 0x7F;
    if (len7 < 126) {
      return len7;
    }
    int bytes = len7 == 126 ? 2 : 8;
    long length = 0;
    for (int i = 0; i < bytes; i++) {
      length = (length << 8) | (buf[start + 2 + i] & 0xFF);
    }
    return length;
  }

  /** Answers a ping with its payload, masked as a client must. */
  private void pong(byte[] buf, int offset, int length) throws IOException {
    byte[] frame = new byte[6 + length];
    frame[0] = (byte) 0x8A;
    frame[1] = (byte) (0x80 | length);
    byte[] mask = new byte[4];
    ThreadLocalRandom.current().nextBytes(mask);
    System.arraycopy(mask, 0, frame, 2, 4);
    for (int i = 0; i < length; i++) {
      frame[6 + i] = (byte) (buf[offset + i] ^ mask[i & 3]);
    }
    out.write(frame);
    pongs.incrementAndGet();
  }
}
