package dev.keepup.internal.send;

import java.nio.ByteBuffer;

/**
 * The wire formats of acks: the payload of the pings the sender puts after frames, and the
 * text messages of the client-ack protocol ({@code docs/protocol.md}).
 *
 * <p>Everything parsed here is untrusted: parsers return a sentinel for anything malformed,
 * never throw, and look at a bounded number of bytes.
 */
public final class AckProtocol {
  /** "kup1": tells our pongs from any other pong the session may see. */
  static final int PING_MAGIC = 0x6b757031;
  static final int PING_PAYLOAD_BYTES = 16;
  /** Returned by the parsers for input that is not a well-formed message. */
  public static final long MALFORMED = -1;
  /** The sequence number an RTT probe carries: it follows no frame. */
  public static final long PROBE_SEQ = 0;

  /** Client acks are short; anything longer is rejected before it is parsed. */
  public static final int MAX_ACK_CHARS = 96;
  public static final String ACK_PREFIX = "k1 ";

  private AckProtocol() {}

  /** Writes the payload of the ping that follows frame {@code seq} into a fresh buffer. */
  static ByteBuffer pingPayload(int nonce, long seq) {
    ByteBuffer payload = ByteBuffer.allocate(PING_PAYLOAD_BYTES);
    payload.putInt(PING_MAGIC).putInt(nonce).putLong(seq).flip();
    return payload;
  }

  /**
   * Returns the frame sequence number a pong acknowledges, {@link #PROBE_SEQ} for an RTT probe,
   * or {@link #MALFORMED} if the payload is not one of this sender's pings (wrong size, magic or
   * nonce, or a negative number).
   */
  static long parsePong(ByteBuffer payload, int nonce) {
    if (payload == null || payload.remaining() != PING_PAYLOAD_BYTES) {
      return MALFORMED;
    }
    int at = payload.position();
    if (payload.getInt(at) != PING_MAGIC || payload.getInt(at + 4) != nonce) {
      return MALFORMED;
    }
    long seq = payload.getLong(at + 8);
    return seq >= 0 ? seq : MALFORMED;
  }

  /** A parsed client ack; {@code rendered} is -1 when the client does not report it. */
  public record ClientAck(long received, double receivedAtMillis, long rendered) {}

  /**
   * Parses {@code k1 <received> <receivedAtMillis> <rendered>}; returns null if malformed.
   *
   * <p>{@code received} and {@code rendered} are non-negative decimal counts ({@code rendered}
   * may be -1); {@code receivedAtMillis} is a finite, non-negative decimal in the client's
   * own monotonic clock (a browser's {@code performance.now()}).
   */
  public static ClientAck parseClientAck(String text) {
    if (text == null || text.length() > MAX_ACK_CHARS || !text.startsWith(ACK_PREFIX)) {
      return null;
    }
    String[] parts = text.substring(ACK_PREFIX.length()).split(" ", -1);
    if (parts.length != 3) {
      return null;
    }
    long received = parseCount(parts[0]);
    long rendered = parts[2].equals("-1") ? -1 : parseCount(parts[2]);
    double at = parseMillis(parts[1]);
    if (received < 0 || (rendered < 0 && !parts[2].equals("-1")) || !(at >= 0)) {
      return null;
    }
    return new ClientAck(received, at, rendered);
  }

  private static long parseCount(String digits) {
    if (digits.isEmpty() || digits.length() > 18) {
      return MALFORMED;
    }
    long value = 0;
    for (int i = 0; i < digits.length(); i++) {
      char c = digits.charAt(i);
      if (c < '0' || c > '9') {
        return MALFORMED;
      }
      value = value * 10 + (c - '0');
    }
    return value;
  }

  private static double parseMillis(String text) {
    if (text.isEmpty() || text.length() > 24) {
      return Double.NaN;
    }
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      if ((c < '0' || c > '9') && c != '.') {
        return Double.NaN;
      }
    }
    try {
      double value = Double.parseDouble(text);
      return Double.isFinite(value) ? value : Double.NaN;
    } catch (NumberFormatException malformed) {
      return Double.NaN;
    }
  }
}
