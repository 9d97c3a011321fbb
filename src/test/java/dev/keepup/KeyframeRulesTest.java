package dev.keepup;

import static org.assertj.core.api.Assertions.assertThat;

import dev.keepup.testing.FakeSession;
import dev.keepup.testing.VirtualTime;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.RepetitionInfo;

/**
 * Property: whatever the frame kinds, stalls, renditions and policy switches, the client never
 * receives a frame whose reference chain is broken.
 */
final class KeyframeRulesTest {

  /** What a frame needs: for a KEY nothing, otherwise the previous reference frame of its rendition. */
  private record Info(FrameKind kind, int rendition, long reference) {}

  @RepeatedTest(200)
  void randomStreams_neverDeliverAFrameAfterAMissingReference(RepetitionInfo repetition) {
    Random random = new Random(repetition.getCurrentRepetition());
    VirtualTime time = new VirtualTime();
    FakeSession fake = new FakeSession(time).completion(FakeSession.Completion.MANUAL);
    Map<Long, Info> frames = new HashMap<>();
    long[] lastReference = {-1, -1, -1};
    long[] nextId = {0};
    FrameSource source = rendition -> {
      if (random.nextInt(10) == 0) {
        return null;
      }
      int r = random.nextInt(8) == 0 ? random.nextInt(3) : rendition; // sometimes another rendition
      int roll = random.nextInt(10);
      FrameKind kind = roll == 0 ? FrameKind.KEY : roll < 6 ? FrameKind.DELTA : FrameKind.DISPOSABLE;
      long id = nextId[0]++;
      frames.put(id, new Info(kind, r, kind == FrameKind.KEY ? -1 : lastReference[r]));
      if (kind != FrameKind.DISPOSABLE) {
        lastReference[r] = id;
      }
      ByteBuffer payload = ByteBuffer.allocate(16);
      payload.putLong(0, id);
      return Frame.of(payload, time.read(), kind, r);
    };
    int[] decision = {0};
    PacedSender sender = PacedSender.newBuilder(fake.session())
        .source(source)
        .ladder(Ladder.ofBitrates(100_000, 200_000, 300_000))
        .policy(context -> new Decision(decision[0], 30, "random"))
        .maxPendingFrames(1 + random.nextInt(4))
        .pingEvery(0)
        .ticker(time)
        .scheduler(time)
        .build();
    sender.start();
    for (int step = 0; step < 300; step++) {
      if (random.nextInt(20) == 0) {
        decision[0] = random.nextInt(3);
      }
      time.advance(Duration.ofMillis(random.nextInt(60)));
      if (random.nextInt(3) > 0) {
        fake.completeNext();
      }
    }
    sender.close();
    fake.completeNext();

    // The client decodes in order: a frame is shown only if its reference was shown.
    java.util.Set<Long> decoded = new java.util.HashSet<>();
    for (FakeSession.Send send : fake.sends()) {
      long id = send.data().getLong(0);
      Info info = frames.get(id);
      if (info.kind() != FrameKind.KEY) {
        assertThat(decoded).as("frame %d (%s, rendition %d) needs %d", id, info.kind(), info.rendition(), info.reference())
            .contains(info.reference());
      }
      decoded.add(id);
    }
    assertThat(sender.stats().isBalanced()).isTrue();
  }
}
