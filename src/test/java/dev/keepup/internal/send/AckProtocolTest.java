package dev.keepup.internal.send;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

final class AckProtocolTest {

  @Test
  void pingPayload_roundTrips() {
    ByteBuffer payload = AckProtocol.pingPayload(42, 7);
    assertThat(payload.remaining()).isEqualTo(16);
    assertThat(AckProtocol.parsePong(payload, 42)).isEqualTo(7);
    assertThat(payload.remaining()).as("parsing does not consume").isEqualTo(16);
    assertThat(AckProtocol.parsePong(AckProtocol.pingPayload(42, AckProtocol.PROBE_SEQ), 42)).isEqualTo(AckProtocol.PROBE_SEQ);
  }

  @Test
  void pong_foreignOrForged_isMalformed() {
    assertThat(AckProtocol.parsePong(AckProtocol.pingPayload(41, 7), 42)).as("another sender's nonce").isEqualTo(AckProtocol.MALFORMED);
    assertThat(AckProtocol.parsePong(ByteBuffer.allocate(0), 42)).isEqualTo(AckProtocol.MALFORMED);
    assertThat(AckProtocol.parsePong(ByteBuffer.allocate(125), 42)).isEqualTo(AckProtocol.MALFORMED);
    assertThat(AckProtocol.parsePong(null, 42)).isEqualTo(AckProtocol.MALFORMED);
    ByteBuffer wrongMagic = AckProtocol.pingPayload(42, 7);
    wrongMagic.putInt(0, 0x12345678);
    assertThat(AckProtocol.parsePong(wrongMagic, 42)).isEqualTo(AckProtocol.MALFORMED);
    ByteBuffer negative = AckProtocol.pingPayload(42, -5);
    assertThat(AckProtocol.parsePong(negative, 42)).isEqualTo(AckProtocol.MALFORMED);
  }

  @Test
  void clientAck_wellFormed_isParsed() {
    assertThat(AckProtocol.parseClientAck("k1 12 1534.250 -1"))
        .isEqualTo(new AckProtocol.ClientAck(12, 1534.25, -1));
    assertThat(AckProtocol.parseClientAck("k1 12 1534 10"))
        .isEqualTo(new AckProtocol.ClientAck(12, 1534, 10));
  }

  @ParameterizedTest
  @ValueSource(strings = {
      "", "k1", "k1 ", "k1 1 2", "k1 1 2 3 4", "k2 1 2 3", "K1 1 2 3", "k1  1 2 3", "k1 1 2 3 ",
      "k1 -1 2 3", "k1 1 -2 3", "k1 1 2 -2", "k1 a 2 3", "k1 1 NaN 3", "k1 1 Infinity 3",
      "k1 1 1e5 3", "k1 1 0x10 3", "k1 1 1.2.3 3", "k1 1234567890123456789 2 3", "k1 1 . 3",
      "k1 1 2 3\n"})
  void clientAck_malformed_isRejected(String text) {
    assertThat(AckProtocol.parseClientAck(text)).isNull();
  }

  @Test
  void clientAck_oversized_isRejectedBeforeParsing() {
    assertThat(AckProtocol.parseClientAck("k1 1 2 3" + " ".repeat(200))).isNull();
    assertThat(AckProtocol.parseClientAck("k1 1 " + "1".repeat(100) + " 3")).isNull();
    assertThat(AckProtocol.parseClientAck(null)).isNull();
  }
}
