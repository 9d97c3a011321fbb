package dev.keepup.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.keepup.Frame;
import dev.keepup.FrameSource;
import dev.keepup.PacedSender;
import dev.keepup.SenderListener;
import dev.keepup.SenderStats;
import dev.keepup.Signals;
import dev.keepup.StopReason;
import dev.keepup.Verdict;
import dev.keepup.it.browser.CdpPage;
import dev.keepup.it.browser.Chromium;
import dev.keepup.it.browser.Json;
import dev.keepup.it.browser.StaticHttpServer;
import jakarta.websocket.MessageHandler;
import jakarta.websocket.PongMessage;
import jakarta.websocket.Session;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.Timeout;

/**
 * keepup-client.js and the ack signals end to end: headless Chromium, driven over the DevTools
 * protocol, loads a page that imports {@code /keepup/keepup-client.js} (served from the class
 * path, as a servlet container would serve it from the jar) and streams from a Tyrus server
 * whose endpoint runs a {@link PacedSender}. Also pins what a pong from Chromium proves
 * (docs/protocol.md), and runs the client's own unit tests against a fake WebSocket.
 *
 * <p>One browser for the class, a fresh tab and server per test. Skipped when no Chromium
 * binary is installed. Screenshots and the browser's log go to {@code browser/} in the build
 * folder ({@code target/}, or the pom's {@code keepup.buildDir}).
 */
@Timeout(60)
final class BrowserClientIT {
  private static final Duration WAIT = Duration.ofSeconds(10);
  private static final Path OUT = Path.of(System.getProperty("keepup.buildDir", "target"), "browser");
  private static final String PATH = "/frames";
  private static final double FPS = 20;

  private static Chromium browser;
  private static StaticHttpServer http;

  private final List<CdpPage> pages = new CopyOnWriteArrayList<>();
  private final List<PacedSender> senders = new CopyOnWriteArrayList<>();
  private final List<VerdictChange> verdicts = new CopyOnWriteArrayList<>();
  private TyrusTestServer server;
  private String testName;

  @BeforeAll
  static void launchBrowser() throws Exception {
    Optional<Path> binary = Chromium.findBinary();
    if (binary.isEmpty()) {
      System.out.println("BrowserClientIT skipped: no chromium binary (looked at /usr/bin/chromium,"
          + " /usr/bin/chromium-browser, and chromium, chromium-browser on the PATH)");
    }
    if (binary.isEmpty() && "1".equals(System.getenv("KEEPUP_REQUIRE_CHROMIUM"))) {
      throw new IllegalStateException("KEEPUP_REQUIRE_CHROMIUM=1 but no chromium binary found");
    }
    assumeTrue(binary.isPresent(), "no chromium binary");
    http = StaticHttpServer.start()
        .addResource("/keepup/keepup-client.js", "text/javascript; charset=utf-8",
            "META-INF/resources/keepup/keepup-client.js")
        .addResource("/stream.html", "text/html; charset=utf-8", "browser/stream.html")
        .addResource("/client-unit.html", "text/html; charset=utf-8", "browser/client-unit.html");
    browser = Chromium.launch(binary.get(), OUT);
  }

  @AfterAll
  static void quitBrowser() {
    try {
      if (browser != null) {
        browser.close();
      }
    } finally {
      if (http != null) {
        http.close();
      }
    }
  }

  @BeforeEach
  void name(TestInfo info) {
    testName = info.getTestMethod().map(m -> m.getName()).orElse("test");
  }

  @AfterEach
  void closeAll() {
    try {
      for (CdpPage page : pages) {
        if (!page.console().isEmpty()) {
          System.out.println(testName + ": page console: " + String.join("\n  ", page.console()));
        }
        page.close();
      }
    } finally {
      senders.forEach(PacedSender::close);
      if (server != null) {
        server.close();
      }
    }
  }

  @Test
  void clientAcks_fastPage_areAcceptedAndKeepUp() throws Exception {
    startStreaming(b -> b.pingEvery(0).clientAcks(true));
    CdpPage page = openStreamPage(server.uri(PATH), Map.of("renderDelayMs", 0));
    PacedSender sender = awaitSender();

    List<Sample> samples = sample(sender, Duration.ofSeconds(3), s -> false);
    Map<String, Object> state = pageState(page);
    page.screenshot(OUT.resolve(testName + ".png"));
    SenderStats last = sender.stats();
    for (Sample sample : samples) {
      if (sample.signals().verdict() != Verdict.KEEPING_UP) {
        System.out.printf("%s: at %d ms: %s%n", testName, (sample.atNanos() - samples.get(0).atNanos()) / 1_000_000, sample.signals());
      }
    }

    long received = Json.asLong(state.get("received"));
    // 60 frames in 3 s at 20 fps; fewer on a loaded machine.
    assertThat(received).isGreaterThanOrEqualTo(20).isLessThanOrEqualTo(last.framesSent());
    assertThat(state.get("ordered")).isEqualTo(true);
    assertThat(Json.array(state.get("errors"))).isEmpty();
    assertThat(Json.asLong(state.get("rendered"))).isEqualTo(received);
    assertThat(last.acksRejected()).isZero();
    // One ack per frame, less those that arrived back to back and shared one.
    assertThat(last.acksAccepted()).isGreaterThanOrEqualTo(received / 2);
    assertThat(samples.get(samples.size() / 3).stats().acksAccepted()).isLessThan(last.acksAccepted());
    assertThat(last.signals().acked()).isTrue();
    assertThat(last.signals().unackedFrames()).isLessThanOrEqualTo(2);
    assertThat(samples).allSatisfy(s -> assertThat(s.signals().clientLagFrames()).isLessThanOrEqualTo(1));
    // The first rate samples come from a stream that has only just started, and one frame in
    // flight can read as 150 ms of backlog while the rate estimate is low (on a loaded machine
    // even later, for a few milliseconds). After a second of acks, no episode may last 300 ms.
    long settled = samples.stream().filter(s -> s.signals().acked()).findFirst().orElseThrow().atNanos()
        + TimeUnit.SECONDS.toNanos(1);
    assertThat(samples.stream().filter(s -> s.atNanos() >= settled)).hasSizeGreaterThan(10);
    // A slow page shows seconds; a fast one at most a blip (a late ack on a loaded machine).
    assertThat(longestEpisodeNotKeepingUp(settled, samples.get(samples.size() - 1).atNanos()))
        .isLessThan(Duration.ofMillis(300));
  }

  @Test
  void clientAcks_slowPage_showClientLagAndFallingBehind() throws Exception {
    // With the default 2 KiB cap floor the sender holds each frame until the page has taken
    // the last, and the page's lag never reaches 3 (its main thread both renders and reads):
    // a 16 KiB floor lets a few frames wait in the page, as they would for a page that decodes
    // off its main thread, which is the case this test is about.
    startStreaming(b -> b.pingEvery(0).clientAcks(true).inFlightCap(16 << 10, 4 << 20));
    // 80 ms of work per frame at 20 fps: the page falls 7.5 frames further behind each second.
    CdpPage page = openStreamPage(server.uri(PATH), Map.of("renderDelayMs", 80));
    PacedSender sender = awaitSender();

    long start = System.nanoTime();
    List<Sample> samples = sample(sender, Duration.ofSeconds(6), s ->
        System.nanoTime() - start > TimeUnit.MILLISECONDS.toNanos(1500)
            && s.stream().anyMatch(x -> x.signals().clientLagFrames() >= 3
                && x.signals().verdict() == Verdict.FALLING_BEHIND));
    Map<String, Object> state = pageState(page);
    page.screenshot(OUT.resolve(testName + ".png"));
    SenderStats last = sender.stats();

    int maxLag = samples.stream().mapToInt(s -> s.signals().clientLagFrames()).max().orElse(0);
    System.out.printf("%s: max client lag %d frames; page received %s, rendered %s; verdict changes %s%n",
        testName, maxLag, state.get("received"), state.get("rendered"), verdicts);
    assertThat(maxLag).isGreaterThanOrEqualTo(3);
    assertThat(samples).anySatisfy(s -> {
      assertThat(s.signals().verdict()).isEqualTo(Verdict.FALLING_BEHIND);
      assertThat(s.signals().clientLagFrames()).isGreaterThanOrEqualTo(3);
    });
    assertThat(verdicts).anySatisfy(v -> assertThat(v.current()).isEqualTo(Verdict.FALLING_BEHIND));
    assertThat(Json.asLong(state.get("rendered"))).isLessThan(Json.asLong(state.get("received")));
    assertThat(last.acksRejected()).isZero();
    assertThat(last.acksAccepted()).isPositive();
    assertThat(last.signals().acked()).isTrue();
  }

  @Test
  void pings_areAnsweredByChromium_withoutClientAcks() throws Exception {
    startStreaming(b -> b.pingEvery(1).clientAcks(false));
    CdpPage page = openStreamPage(server.uri(PATH), Map.of("acks", false));
    PacedSender sender = awaitSender();

    List<Sample> samples = sample(sender, Duration.ofSeconds(5), s -> s.get(s.size() - 1).stats().acksAccepted() >= 30);
    Map<String, Object> state = pageState(page);
    page.screenshot(OUT.resolve(testName + ".png"));
    SenderStats last = sender.stats();

    assertThat(Json.asLong(state.get("received"))).isPositive();
    assertThat(Json.asLong(state.get("acksSent"))).isZero();
    assertThat(last.pingsSent()).isPositive();
    System.out.printf("%s: %d pings, %d acks accepted, %d pongs ignored%n",
        testName, last.pingsSent(), last.acksAccepted(), last.pongsIgnored());
    assertThat(last.acksAccepted()).isGreaterThanOrEqualTo(30);
    assertThat(last.acksRejected()).isZero();
    assertThat(last.signals().acked()).isTrue();
    assertThat(samples.get(samples.size() / 2).stats().acksAccepted()).isLessThan(last.acksAccepted());
  }

  /**
   * What a pong from Chromium proves: it answers pings in its network service, without the
   * page. While the page's main thread is blocked, pongs still come for the first frames (those
   * Chromium could buffer toward the page), then stop until the page reads again.
   */
  @Test
  void chromium_answersPingsWhilePageIsBlocked_untilItsBufferTowardThePageIsFull() throws Exception {
    int frames = 120;
    int size = 16 << 10;
    List<long[]> pongs = new CopyOnWriteArrayList<>();
    server = TyrusTestServer.start(PATH, session -> session.addMessageHandler(PongMessage.class,
        (MessageHandler.Whole<PongMessage>) pong -> {
          ByteBuffer data = pong.getApplicationData();
          pongs.add(new long[] {data.getLong(data.position()), System.nanoTime()});
        }));
    CdpPage page = openStreamPage(server.uri(PATH), Map.of("acks", false));
    Session session = server.awaitSession(WAIT);

    page.evaluate("keepupTest.block(2500)");
    Thread.sleep(200); // the block starts in the page's next task
    long sentAt = System.nanoTime();
    for (long seq = 1; seq <= frames; seq++) {
      ByteBuffer frame = ByteBuffer.allocate(size).putLong(0, seq);
      session.getAsyncRemote().sendBinary(frame, result -> {});
      session.getAsyncRemote().sendPing(ByteBuffer.allocate(8).putLong(0, seq));
    }
    Thread.sleep(1000);
    long ackedWhileBlocked = pongs.stream().mapToLong(p -> p[0]).max().orElse(0);

    assertThat(page.await("keepupTest.state().received === " + frames, WAIT)).isTrue();
    Map<String, Object> state = pageState(page);
    page.screenshot(OUT.resolve(testName + ".png"));
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (pongs.stream().noneMatch(p -> p[0] == frames) && System.nanoTime() - deadline < 0) {
      Thread.sleep(20);
    }

    double firstArrival = Json.asDouble(state.get("firstArrival"));
    double blockEnd = Json.asDouble(state.get("blockEnd"));
    System.out.printf("%s: while the page was blocked Chromium answered pings for %d of %d frames"
            + " (%d KiB of %d KiB; first pong %.0f ms after the first frame); the page saw its first"
            + " frame %.0f ms after the block ended%n",
        testName, ackedWhileBlocked, frames, ackedWhileBlocked * size >> 10, (long) frames * size >> 10,
        pongs.isEmpty() ? -1.0 : (pongs.get(0)[1] - sentAt) / 1e6, firstArrival - blockEnd);
    assertThat(Json.asDouble(state.get("blockStart"))).isPositive();
    assertThat(firstArrival).isGreaterThanOrEqualTo(blockEnd);
    assertThat(ackedWhileBlocked).isBetween(1L, frames - 1L);
    assertThat(pongs).anySatisfy(p -> assertThat(p[0]).isEqualTo(frames));
    assertThat(state.get("ordered")).isEqualTo(true);
  }

  @Test
  void badAcks_areRejected_andCloseWith1008OnlyWithCloseOnBadAck() throws Exception {
    List<PacedSender> lenient = new CopyOnWriteArrayList<>();
    List<PacedSender> strict = new CopyOnWriteArrayList<>();
    server = TyrusTestServer.builder()
        .endpoint("/lenient", session -> startSender(session, b -> b.pingEvery(0).clientAcks(true), lenient))
        .endpoint("/strict", session -> startSender(session,
            b -> b.pingEvery(0).clientAcks(true).closeOnBadAck(true), strict))
        .start();

    CdpPage page = openStreamPage(server.uri("/lenient"), Map.of());
    assertThat(page.await("keepupTest.state().received >= 5", WAIT)).isTrue();
    PacedSender sender = lenient.get(0);
    long acceptedBefore = sender.stats().acksAccepted();
    page.evaluate("['k1 999999 1.5 -1', 'k1 3 1.5', 'k1 3 1.5 4', 'hello']"
        + ".forEach((m) => keepupTest.client.socket.send(m))");
    assertThat(page.await("keepupTest.state().received >= 15", WAIT)).isTrue();
    SenderStats stats = sender.stats();
    assertThat(stats.acksRejected()).isEqualTo(3);
    assertThat(stats.acksAccepted()).isGreaterThan(acceptedBefore);
    assertThat(sender.isRunning()).isTrue();

    CdpPage strictPage = openStreamPage(server.uri("/strict"), Map.of());
    assertThat(strictPage.await("keepupTest.state().received >= 5", WAIT)).isTrue();
    strictPage.evaluate("keepupTest.client.socket.send('k1 999999 1.5 -1')");
    assertThat(strictPage.await("keepupTest.state().closeEvent !== null", WAIT)).isTrue();
    Map<String, Object> closeEvent = Json.object(pageState(strictPage).get("closeEvent"));
    assertThat(Json.asLong(closeEvent.get("code"))).isEqualTo(1008);
    assertThat(strict.get(0).stats().stopReason()).isEqualTo(StopReason.PROTOCOL_VIOLATION);
  }

  /**
   * A page that stalls for a second while 200-byte frames stream at 200 fps (Chromium keeps
   * reading them, and answering pings, for the page) then drains ~200 messages in one go. Its
   * acks must not look like a flood, or {@code closeOnBadAck(true)} would cut it off: the
   * client sends one ack per burst, not one per message (one per message fails this test).
   */
  @Test
  void clientAcks_pageDrainingABacklogAfterAStall_isNotTakenForAFlood() throws Exception {
    long[] seq = {0};
    server = TyrusTestServer.start(PATH, session -> startSender(session, b -> b
        .source(rendition -> {
          ByteBuffer payload = ByteBuffer.allocate(200).putLong(0, ++seq[0]);
          return Frame.of(payload, System.nanoTime());
        })
        .targetFps(200).pingEvery(1).clientAcks(true).closeOnBadAck(true), senders));
    CdpPage page = openStreamPage(server.uri(PATH), Map.of());
    PacedSender sender = awaitSender();
    assertThat(page.await("keepupTest.state().received >= 20", WAIT)).isTrue();

    page.evaluate("keepupTest.block(1000)");
    Thread.sleep(1000);
    long sentBeforeDrain = sender.stats().framesSent();
    assertThat(page.await("keepupTest.state().received >= " + sentBeforeDrain, WAIT)).isTrue();
    Thread.sleep(200);
    SenderStats stats = sender.stats();
    Map<String, Object> state = pageState(page);

    assertThat(state.get("closeEvent")).isNull();
    assertThat(sender.isRunning()).isTrue();
    assertThat(stats.acksRejected()).isZero();
    assertThat(stats.stopReason()).isNull();
  }

  @Test
  void javascriptClient_unitTests_pass() throws Exception {
    CdpPage page = open(http.uri("/client-unit.html"));
    List<Object> results = Json.array(page.evaluate("runUnitTests()", Duration.ofSeconds(20)));
    page.screenshot(OUT.resolve(testName + ".png"));

    List<String> failures = new ArrayList<>();
    for (Object r : results) {
      Map<String, Object> result = Json.object(r);
      if (!Boolean.TRUE.equals(result.get("ok"))) {
        failures.add(result.get("name") + ": " + result.get("error"));
      }
    }
    assertThat(results).hasSizeGreaterThanOrEqualTo(10);
    assertThat(failures).isEmpty();
  }

  // --- support ---

  private record VerdictChange(long atNanos, Verdict previous, Verdict current, Signals signals) {}

  private record Sample(long atNanos, SenderStats stats) {
    Signals signals() {
      return stats.signals();
    }
  }

  /** Frames of 5 to 20 KB carrying a sequence number in their first 8 bytes. */
  private static final class NumberedFrames implements FrameSource {
    private final Random random = new Random(42);
    private long seq;

    @Override
    public Frame poll(int rendition) {
      ByteBuffer payload = ByteBuffer.allocate(5_000 + random.nextInt(15_001));
      payload.putLong(0, ++seq);
      return Frame.of(payload, System.nanoTime());
    }
  }

  private void startStreaming(UnaryOperator<PacedSender.Builder> configure) throws Exception {
    server = TyrusTestServer.start(PATH, session -> startSender(session, configure, senders));
  }

  private void startSender(Session session, UnaryOperator<PacedSender.Builder> configure, List<PacedSender> into) {
    PacedSender sender = configure.apply(PacedSender.newBuilder(session)
            .source(new NumberedFrames())
            .targetFps(FPS)
            .listener(new SenderListener() {
              @Override
              public void onVerdictChanged(Verdict previous, Verdict current, Signals signals) {
                verdicts.add(new VerdictChange(System.nanoTime(), previous, current, signals));
              }
            }))
        .build();
    into.add(sender);
    if (into != senders) {
      senders.add(sender);
    }
    sender.start();
  }

  private PacedSender awaitSender() throws Exception {
    server.awaitSession(WAIT);
    return senders.get(0);
  }

  /** The longest time the verdict was not KEEPING_UP between {@code from} and {@code to}. */
  private Duration longestEpisodeNotKeepingUp(long from, long to) {
    long longest = 0;
    long since = -1;
    Verdict current = Verdict.KEEPING_UP;
    for (VerdictChange change : verdicts) {
      long at = Math.max(change.atNanos(), from);
      if (change.atNanos() > to) {
        break;
      }
      if (current != Verdict.KEEPING_UP && since >= 0) {
        longest = Math.max(longest, at - since);
      }
      current = change.current();
      since = current == Verdict.KEEPING_UP ? -1 : at;
    }
    if (current != Verdict.KEEPING_UP) {
      longest = Math.max(longest, to - Math.max(since, from));
    }
    return Duration.ofNanos(longest);
  }

  private CdpPage open(URI uri) throws Exception {
    CdpPage page = browser.openPage(uri.toString());
    pages.add(page);
    assertThat(page.await("window.pageReady === true", WAIT)).as("page ready; console: %s", page.console()).isTrue();
    return page;
  }

  private CdpPage openStreamPage(URI ws, Map<String, Object> options) throws Exception {
    CdpPage page = open(http.uri("/stream.html"));
    Object opened = page.evaluate("keepupTest.start(" + Json.write(ws.toString()) + ", " + Json.write(options) + ")");
    assertThat(opened).as("socket opened; console: %s", page.console()).isEqualTo(true);
    return page;
  }

  private static Map<String, Object> pageState(CdpPage page) throws Exception {
    return Json.object(page.evaluate("keepupTest.state()"));
  }

  /** Takes a stats snapshot every 50 ms for {@code duration}, or until {@code done} holds. */
  private static List<Sample> sample(PacedSender sender, Duration duration, Predicate<List<Sample>> done)
      throws InterruptedException {
    List<Sample> samples = new ArrayList<>();
    long deadline = System.nanoTime() + duration.toNanos();
    do {
      samples.add(new Sample(System.nanoTime(), sender.stats()));
      if (done.test(samples)) {
        break;
      }
      Thread.sleep(50);
    } while (System.nanoTime() - deadline < 0);
    return samples;
  }
}
