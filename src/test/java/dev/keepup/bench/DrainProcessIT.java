package dev.keepup.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.keepup.Frame;
import dev.keepup.PacedSender;
import dev.keepup.SenderStats;
import dev.keepup.it.TyrusTestServer;
import jakarta.websocket.Session;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The benchmark's client in a JVM of its own (--client process): a real child process
 * draining a real Tyrus server on 127.0.0.1, driven over its stdin and stdout.
 */
@Timeout(60)
final class DrainProcessIT {
  private static final Duration WAIT = Duration.ofSeconds(10);
  /** What the scripted children are told to connect to: they never do, they only answer. */
  private static final URI NOWHERE = URI.create("ws://127.0.0.1:1/bench");

  @Test
  void countsEveryMessageAPacedSenderCompletes_oneConnectionAfterAnother() throws Exception {
    try (TyrusTestServer server = TyrusTestServer.start("/bench", s -> { });
        DrainProcess child = DrainProcess.start(null)) {
      for (int connection = 0; connection < 2; connection++) {
        try (CoreBenchmark.Drain drain = child.connect(server.uri("/bench"))) {
          Session session = server.awaitSession(WAIT);
          int frames = 1_000 * (connection + 1);
          AtomicInteger taken = new AtomicInteger();
          ByteBuffer payload = ByteBuffer.allocate(1024 * (connection + 1));
          PacedSender sender = PacedSender.newBuilder(session)
              .unpaced()
              .pingEvery(0)
              .source(rendition -> taken.getAndIncrement() < frames ? Frame.of(payload, System.nanoTime()) : null)
              .build();
          sender.start();
          long deadline = System.nanoTime() + WAIT.toNanos();
          while (sender.stats().framesCompleted() < frames && System.nanoTime() - deadline < 0) {
            Thread.sleep(1);
          }
          sender.close();
          SenderStats stats = sender.stats();
          assertThat(stats.framesCompleted()).isEqualTo(frames);
          while (drain.messages() < frames && System.nanoTime() - deadline < 0) {
            Thread.sleep(1);
          }
          assertThat(drain.messages()).as("connection %d", connection).isEqualTo(frames);
        }
        // Closing the drain closes the child's socket: the server sees the client go.
        assertThat(server.awaitCloses(connection + 1, WAIT)).as("server session after the drain closed").isTrue();
      }
      assertThat(child.isAlive()).isTrue();
    }
  }

  @Test
  void aConnectionRefused_isAnErrorThatNamesIt_andTheChildGoesOn() throws Exception {
    int closedPort;
    try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      closedPort = probe.getLocalPort();
    }
    try (DrainProcess child = DrainProcess.start(null)) {
      assertThatThrownBy(() -> child.connect(URI.create("ws://127.0.0.1:" + closedPort + "/bench")))
          .isInstanceOf(IOException.class)
          .hasMessageContaining("answered: error")
          .hasMessageContaining("Connection refused");
      try (TyrusTestServer server = TyrusTestServer.start("/bench", s -> { });
          CoreBenchmark.Drain drain = child.connect(server.uri("/bench"))) {
        server.awaitSession(WAIT);
        assertThat(drain.messages()).isZero();
      }
    }
  }

  @Test
  void close_endsTheChild() throws Exception {
    DrainProcess child = DrainProcess.start(null);
    try {
      assertThat(child.isAlive()).isTrue();
    } finally {
      child.close();
    }
    assertThat(child.isAlive()).isFalse();
    assertThatThrownBy(() -> child.connect(NOWHERE))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("exited");
  }

  // Children that break the protocol: a shell script in the client's place.

  @Test
  void aChildThatNeverSaysReady_failsTheStartWithinItsTimeout_andIsEnded(@TempDir Path dir) throws Exception {
    Path pidFile = dir.resolve("pid");
    long started = System.nanoTime();
    // exec: the shell becomes the sleep, which ignores the end of its input.
    assertThatThrownBy(() -> fakeChild("echo $$ > '" + pidFile + "'; exec sleep 30"))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("no answer to \"(start)\" within 1000 ms");
    assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(10));
    long pid = Long.parseLong(Files.readString(pidFile).trim());
    assertThat(ProcessHandle.of(pid).filter(ProcessHandle::isAlive)).as("the silent child").isEmpty();
  }

  @Test
  void aChildThatGoesSilent_isEndedAtTheTimeout_andAskedNothingMore() throws Exception {
    try (DrainProcess child = fakeChild("echo ready; read line; exec sleep 30")) {
      long started = System.nanoTime();
      assertThatThrownBy(() -> child.connect(NOWHERE))
          .isInstanceOf(IOException.class)
          .hasMessageContaining("no answer to \"connect");
      assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(10));
      assertThat(child.isAlive()).isFalse();
      assertThatThrownBy(() -> child.connect(NOWHERE))
          .isInstanceOf(IOException.class)
          .hasMessageContaining("exited");
    }
  }

  @Test
  void anInterruptedWait_endsTheChild_soThatItsLateAnswerCannotPassForTheNextOnes() throws Exception {
    // Answers, but only after a while: a late "connected" must not be taken for what comes next.
    try (DrainProcess child = fakeChild("echo ready; read line; sleep 0.3; echo connected; read line; echo 5; read line")) {
      Thread.currentThread().interrupt();
      try {
        assertThatThrownBy(() -> child.connect(NOWHERE))
            .isInstanceOf(IOException.class)
            .hasMessageContaining("interrupted");
      } finally {
        assertThat(Thread.interrupted()).as("interrupt status kept").isTrue();
      }
      assertThat(child.isAlive()).isFalse();
      assertThatThrownBy(() -> child.connect(NOWHERE))
          .isInstanceOf(IOException.class);
    }
  }

  @Test
  void anAnswerThatIsNotTheOneExpected_isAnError() throws Exception {
    try (DrainProcess child = fakeChild("echo ready; read line; echo bogus; read line")) {
      assertThatThrownBy(() -> child.connect(NOWHERE))
          .isInstanceOf(IOException.class)
          .hasMessageContaining("answered: bogus");
    }
  }

  @Test
  void aCountThatIsNotANumber_isAnErrorThatQuotesIt() throws Exception {
    try (DrainProcess child = fakeChild("echo ready; read line; echo connected; read line; echo many; read line")) {
      CoreBenchmark.Drain drain = child.connect(NOWHERE);
      assertThatThrownBy(drain::messages)
          .isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("answered many, not a count");
    }
  }

  @Test
  void aChildThatDies_isAnErrorAtTheNextCommand_notAHang() throws Exception {
    try (DrainProcess child = fakeChild("echo ready; read line; exit 3")) {
      assertThatThrownBy(() -> child.connect(NOWHERE))
          .isInstanceOf(IOException.class)
          .hasMessageContaining("client process")
          .hasMessageContaining("3");
      assertThatThrownBy(() -> child.connect(NOWHERE))
          .isInstanceOf(IOException.class)
          .hasMessageContaining("client process exited with 3");
    }
  }

  private static DrainProcess fakeChild(String script) throws IOException {
    return DrainProcess.start(List.of("sh", "-c", script), Duration.ofSeconds(1), "a script");
  }

  @Test
  void aCpuListThatIsNotOne_isRefusedBeforeAnythingStarts() {
    assertThatThrownBy(() -> DrainProcess.start("0; rm -rf /"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("--client-cpus")
        .hasMessageContaining("0; rm -rf /");
  }
}
