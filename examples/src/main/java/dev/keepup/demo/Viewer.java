package dev.keepup.demo;

import dev.keepup.AdaptationPolicy;
import dev.keepup.Decision;
import dev.keepup.Ladder;
import dev.keepup.PacedSender;
import dev.keepup.SenderListener;
import dev.keepup.SenderStats;
import dev.keepup.Signals;
import dev.keepup.StopReason;
import dev.keepup.Verdict;
import jakarta.websocket.CloseReason;
import jakarta.websocket.MessageHandler;
import jakarta.websocket.PongMessage;
import jakarta.websocket.Session;
import java.io.IOException;
import java.time.LocalTime;
import java.time.format.DateTimeFormatter;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One browser tab: its WebSocket session behind a {@link ThrottledLink}, the {@link PacedSender}
 * streaming the camera to it through that link, and the tab's own text messages.
 *
 * <p>The sender is built with {@code registerMessageHandlers(false)}: the session's text
 * handler gives every message to {@link PacedSender#acceptClientAck} first (client acks start
 * with {@code "k1 "}), and handles the rest itself: {@code throttle <bits per second>} or {@code
 * throttle unlimited}. Text from the server (a hello with the ladder, then stats twice a second)
 * is never counted by the client, so it can share the socket with the sender's frames.
 */
final class Viewer implements AutoCloseable {
  /** The lowest and highest throttle a tab may ask for. */
  static final long MIN_THROTTLE = 50_000;
  static final long MAX_THROTTLE = 1_000_000_000;

  private static final DateTimeFormatter MILLIS = DateTimeFormatter.ofPattern("HH:mm:ss.SSS");

  private final int number;
  private final Session session;
  private final ThrottledLink link;
  private final PacedSender sender;
  private final Ladder ladder;
  private final Camera camera;
  private final AtomicBoolean closed = new AtomicBoolean();

  Viewer(int number, Session session, Camera camera, ThrottledLink link, boolean logDecisions) {
    this.number = number;
    this.session = session;
    this.camera = camera;
    this.link = link;
    this.ladder = camera.ladder();
    this.sender = PacedSender.newBuilder(link.session())
        .source(camera.newReader())
        .ladder(ladder)
        .policy(AdaptationPolicy.defaults())
        .targetFps(camera.fps())
        .clientAcks(true)
        .registerMessageHandlers(false)
        .listener(new SenderListener() {
          @Override
          public void onDecision(Decision previous, Decision current) {
            if (logDecisions) {
              log(String.format(Locale.ROOT, "decision %s @%s -> %s @%s fps (%s)", label(previous.rendition()),
                  fps(previous.framesPerSecond()), label(current.rendition()), fps(current.framesPerSecond()), current.reason()));
            }
          }

          @Override
          public void onVerdictChanged(Verdict previous, Verdict current, Signals signals) {
            if (logDecisions) {
              log(String.format(Locale.ROOT, "verdict %s -> %s: rate %s, latest %s, burst %s, queue %d ms, age %d ms,"
                      + " unacked %d B, client lag %d", previous, current,
                  Format.rate(signals.deliveryRateBitsPerSecond()), Format.rate(signals.latestRateBitsPerSecond()),
                  Format.rate(signals.burstRateBitsPerSecond()), signals.queueDelay().toMillis(),
                  signals.frameAge().toMillis(), signals.unackedBytes(), signals.clientLagFrames()));
            }
          }

          @Override
          public void onStopped(StopReason reason, Throwable cause) {
            if (reason != StopReason.CLOSED) {
              System.out.printf("tab #%d: sender stopped: %s%s%n", number, reason, cause == null ? "" : " (" + cause + ")");
            }
          }
        })
        .build();
  }

  private String label(int rendition) {
    return rendition >= 0 && rendition < ladder.size() ? ladder.rendition(rendition).label() : "-";
  }

  private static String fps(double fps) {
    return fps == Math.rint(fps) ? Long.toString((long) fps) : Double.toString(fps);
  }

  private void log(String message) {
    System.out.printf("%s tab #%d: %s%n", LocalTime.now().format(MILLIS), number, message);
  }

  /** Wires the session's handlers, greets the tab and starts streaming. */
  void start() {
    session.addMessageHandler(String.class, (MessageHandler.Whole<String>) this::onText);
    session.addMessageHandler(PongMessage.class,
        (MessageHandler.Whole<PongMessage>) pong -> sender.acceptPong(pong.getApplicationData()));
    link.sendText(hello(), null);
    sender.start();
  }

  private void onText(String text) {
    if (sender.acceptClientAck(text)) {
      return;
    }
    String[] words = text.trim().split("\\s+");
    if (words.length == 2 && words[0].equals("throttle")) {
      long bitsPerSecond = parseThrottle(words[1]);
      if (bitsPerSecond >= 0) {
        link.setBitsPerSecond(bitsPerSecond);
        System.out.printf("tab #%d: link set to %s%n", number, Format.link(bitsPerSecond));
        return;
      }
    }
    System.out.printf("tab #%d: ignored message %.40s%n", number, text);
  }

  /** {@code "unlimited"} or bits per second in range; -1 if neither. */
  static long parseThrottle(String word) {
    if (word.equals("unlimited")) {
      return ThrottledLink.UNLIMITED;
    }
    try {
      long value = Math.round(Double.parseDouble(word));
      return value >= MIN_THROTTLE && value <= MAX_THROTTLE ? value : -1;
    } catch (NumberFormatException e) {
      return -1;
    }
  }

  int number() {
    return number;
  }

  /** Sends the tab the server's view of its stream, through its link like everything else. */
  void pushStats() {
    if (!closed.get() && session.isOpen()) {
      link.sendText(statsJson(sender.stats()), null);
    }
  }

  private String hello() {
    Json json = new Json().put("type", "hello").put("tab", number).put("fps", camera.fps())
        .put("linkCapacityBytes", ThrottledLink.DEFAULT_CAPACITY_BYTES);
    StringBuilder renditions = new StringBuilder("[");
    long[] sizes = camera.measuredFrameBytes();
    for (int i = 0; i < ladder.size(); i++) {
      Camera.Spec spec = Camera.SPECS.get(i);
      renditions.append(i == 0 ? "" : ",").append(new Json()
          .put("label", spec.label()).put("width", spec.width()).put("height", spec.height())
          .put("quality", spec.quality()).put("bitsPerSecond", ladder.bitsPerSecond(i))
          .put("frameBytes", sizes[i]));
    }
    return json.putRaw("ladder", renditions.append(']').toString()).toString();
  }

  private String statsJson(SenderStats stats) {
    Signals signals = stats.signals();
    int rendition = stats.rendition();
    return new Json()
        .put("type", "stats")
        .put("tab", number)
        .put("rendition", rendition)
        .put("label", rendition >= 0 ? ladder.rendition(rendition).label() : "")
        .put("fps", round1(stats.achievedFps()))
        .put("decisionFps", stats.decision().framesPerSecond())
        .put("decisionRendition", stats.decision().rendition())
        .put("reason", stats.decision().reason())
        .put("verdict", signals.verdict().name())
        .put("frameAgeMs", signals.frameAge().toMillis())
        .put("deliveryBps", signals.deliveryRateBitsPerSecond())
        .put("latestBps", signals.latestRateBitsPerSecond())
        .put("burstBps", signals.burstRateBitsPerSecond())
        .put("sendBps", signals.sendRateBitsPerSecond())
        .put("queueDelayMs", signals.queueDelay().toMillis())
        .put("minRttMs", round1(signals.minRtt().toNanos() / 1e6))
        .put("clientLagFrames", signals.clientLagFrames())
        .put("throttleBps", link.bitsPerSecond())
        .put("linkQueuedBytes", link.queuedBytes())
        .put("framesSent", stats.framesSent())
        .put("framesSkipped", stats.framesSkipped())
        .put("switches", stats.renditionSwitches())
        .toString();
  }

  private static double round1(double value) {
    return Math.round(value * 10) / 10.0;
  }

  /** One row of the console table. */
  String tableRow() {
    SenderStats stats = sender.stats();
    Signals signals = stats.signals();
    int rendition = stats.rendition();
    return String.format(Locale.ROOT, "  #%-3d %-11s %-15s %5.1f/%-3.0f %6d ms  %-12s %s",
        number,
        Format.link(link.bitsPerSecond()),
        rendition >= 0 ? ladder.rendition(rendition).label() : "-",
        stats.achievedFps(),
        stats.decision().framesPerSecond(),
        signals.frameAge().toMillis(),
        signals.acked() ? Format.rate(signals.deliveryRateBitsPerSecond()) : "-",
        signals.verdict());
  }

  static String tableHeader() {
    return String.format(Locale.ROOT, "  %-4s %-11s %-15s %9s %9s  %-12s %s",
        "tab", "link", "rendition", "fps", "age", "est. rate", "verdict");
  }

  /** Stops the sender and the link; with {@code closeSession}, closes the socket too (server shutdown). */
  void close(boolean closeSession) {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    sender.close();
    link.close();
    if (closeSession && session.isOpen()) {
      try {
        session.close(new CloseReason(CloseReason.CloseCodes.GOING_AWAY, "demo server stopping"));
      } catch (IOException | RuntimeException ignored) {
        // Going anyway.
      }
    }
  }

  @Override
  public void close() {
    close(false);
  }
}
