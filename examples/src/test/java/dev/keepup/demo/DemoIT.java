package dev.keepup.demo;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.keepup.it.browser.CdpPage;
import dev.keepup.it.browser.Chromium;
import dev.keepup.it.browser.Json;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.function.Predicate;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The demo end to end, as a visitor would use it: headless Chromium opens the page served by an
 * in-process {@link DemoServer}, the stream climbs to the top rendition, the test drags the
 * page's own throttle control to 1 Mbit/s and then back to unlimited, and checks from the page's
 * own samples ({@code window.demoState.history}, one every 250 ms) that:
 *
 * <ul>
 *   <li>the rendition went down within {@link #DOWN_WITHIN} of the throttle, and stayed below the
 *       top from {@link #SETTLE} on until the throttle was lifted;
 *   <li>frame age (capture on the server to drawn on the page) stayed low once the change had
 *       settled: every frame drawn from {@link #SETTLE} on under 1 s (the target);
 *   <li>frames kept arriving: never {@link #MAX_GAP} without a new frame drawn, from the throttle
 *       to the end, transitions included, and at least {@link #MIN_SETTLED_FPS} frames a second
 *       on average once settled;
 *   <li>after lifting the throttle the stream climbed back to the top rendition within {@link
 *       #RECOVER}, with the same age bounds from {@link #LIFT_SETTLE} after the lift on, and
 *       stayed at the top.
 * </ul>
 *
 * <p>The issue's own target, every frame under 1 s once settled after the throttle and after
 * the lift, is asserted. Measured (2026-11-25, after the adaptation changes of that day): below
 * the top 1.2 s after the throttle, the oldest frame 0.9 s old at that moment, then 66-79 ms at
 * 15 fps; back at the top 4.5 s after the lift. Before those changes the stream took 2.9-5.2 s
 * to go down with frames up to 2.9 s old, sat at 1 fps and took 13-32 s to come back, and the
 * test asserted looser bounds; {@code -Ddemo.strict=false} restores the 4 s outlier bound.
 *
 * <p>It prints what it measured (time to go down, peak age while throttled, when age last
 * reached 1 s, age once settled, time to come back) and a per-second timeline, before asserting,
 * so a failure shows the figures.
 *
 * <p>Saves {@code target/demo.png} (and {@code target/demo-throttled.png}); with {@code
 * -Ddemo.screenshot=docs/demo.png}, also that path, relative to the repository root. Skipped
 * when no Chromium binary is installed. Every wait is bounded.
 */
@Timeout(180)
final class DemoIT {
  private static final Path OUT = Path.of("target");
  /** From 320x180 to the top at the start: on a loaded 2-core machine it has taken up to 27 s. */
  private static final Duration CLIMB = Duration.ofSeconds(40);
  /** How long the throttle stays at 1 Mbit/s. */
  private static final Duration THROTTLED = Duration.ofSeconds(20);
  /** The rendition must be below the top within this long of the throttle (measured: 1.2 s). */
  private static final Duration DOWN_WITHIN = Duration.ofSeconds(4);
  /** The change has settled this long after the throttle (measured: the oldest frame, 0.9 s, at 1.2 s). */
  private static final Duration SETTLE = Duration.ofSeconds(4);
  /** Back to the top rendition within this long of lifting the throttle (measured: 4.5 s). */
  private static final Duration RECOVER = Duration.ofSeconds(15);
  /** The change has settled this long after lifting the throttle. */
  private static final Duration LIFT_SETTLE = Duration.ofSeconds(2);
  /** No frame drawn once settled is older than this (measured worst: 2.5 s). */
  private static final long MAX_OUTLIER_MS = 4000;
  /**
   * The target, every settled frame under 1 s, is asserted; {@code -Ddemo.strict=false}
   * relaxes it to {@link #MAX_OUTLIER_MS} for a machine too loaded to keep it.
   */
  private static final boolean STRICT = !"false".equals(System.getProperty("demo.strict"));
  /** How long to watch the top rendition once back. */
  private static final Duration AT_TOP = Duration.ofSeconds(4);
  private static final long MAX_AGE_MS = 1000;
  /** The longest time without a new frame on screen, transitions included. */
  private static final long MAX_GAP = 3000;
  /** Measured: 14.9 fps at 1 Mbit/s (320x180 JPEG). */
  private static final double MIN_SETTLED_FPS = 3;
  private static final String STATE = """
      (() => {
        const s = window.demoState;
        return {
          connection: s.connection, top: s.ladder.length - 1, rendition: s.rendition,
          fps: s.fps, ageMs: s.ageMs, ageMaxMs: s.ageMaxMs,
          framesReceived: s.framesReceived, framesRendered: s.framesRendered,
          throttleBps: s.server ? s.server.throttleBps : null,
          verdict: s.server ? s.server.verdict : null,
          estimateBps: s.server ? s.server.deliveryBps : null,
          decisionFps: s.server ? s.server.decisionFps : null,
          errors: s.errors,
        };
      })()""";

  private DemoServer server;
  private Chromium browser;
  private CdpPage page;
  /** Every page sample fetched so far, in order. */
  private final List<Sample> samples = new ArrayList<>();

  /** One of the page's samples; {@code drawnAgeMs} is the oldest frame drawn in it, -1 if none was. */
  record Sample(long atMillis, int rendition, int fps, long drawnAgeMs, long framesRendered, String verdict,
      long estimateBps, long throttleBps) {}

  @BeforeEach
  void start() throws Exception {
    Optional<Path> binary = Chromium.findBinary();
    if (binary.isEmpty()) {
      System.out.println("DemoIT skipped: no chromium binary");
    }
    if (binary.isEmpty() && "1".equals(System.getenv("KEEPUP_REQUIRE_CHROMIUM"))) {
      throw new IllegalStateException("KEEPUP_REQUIRE_CHROMIUM=1 but no chromium binary found");
    }
    assumeTrue(binary.isPresent(), "no chromium binary");
    server = DemoServer.start(DemoServer.Options.defaults().withPort(0).withLogDecisions(true));
    browser = Chromium.launch(binary.get(), OUT.resolve("browser"));
    page = browser.openPage("about:blank");
    page.call("Emulation.setDeviceMetricsOverride",
        Map.of("width", 1280, "height", 900, "deviceScaleFactor", 1, "mobile", false));
    page.navigate("http://127.0.0.1:" + server.port() + "/", Duration.ofSeconds(15));
  }

  @AfterEach
  void stop() {
    try {
      if (page != null) {
        if (!page.console().isEmpty()) {
          System.out.println("DemoIT: page console:\n  " + String.join("\n  ", page.console()));
        }
        page.close();
      }
    } finally {
      try {
        if (browser != null) {
          browser.close();
        }
      } finally {
        if (server != null) {
          server.close();
        }
      }
    }
  }

  @Test
  void throttleDownAndBack_renditionFollows_framesKeepComing_ageStaysLow() throws Exception {
    assertThat(await("window.demoState && demoState.connection === 'open' && demoState.framesRendered > 0",
        Duration.ofSeconds(15))).as("the page shows frames").isTrue();
    int top = (int) Json.asLong(state().get("top"));
    assertThat(top).isEqualTo(Camera.SPECS.size() - 1);

    long climbStart = System.currentTimeMillis();
    assertThat(collectUntil("demoState.rendition === " + top, CLIMB))
        .as("the stream climbs to the top rendition within %s; last state %s", CLIMB, state()).isTrue();
    long climbMillis = System.currentTimeMillis() - climbStart;
    collectUntil("false", Duration.ofSeconds(3));
    long before = samples.get(samples.size() - 1).atMillis();

    long throttledAt = setThrottle("1");
    collectUntil("false", THROTTLED);
    page.screenshot(OUT.resolve("demo-throttled.png"));
    long liftedAt = setThrottle("unlimited");
    boolean backAtTop = collectUntil("demoState.rendition === " + top, RECOVER);
    long atTopAt = System.currentTimeMillis();
    collectUntil("false", AT_TOP);
    Path shot = page.screenshot(OUT.resolve("demo.png"));
    copyScreenshot(shot);
    long end = samples.get(samples.size() - 1).atMillis();

    List<Sample> baseline = between(before - 3000, throttledAt);
    List<Sample> throttled = between(throttledAt, liftedAt);
    List<Sample> settled = between(throttledAt + SETTLE.toMillis(), liftedAt);
    List<Sample> atTop = between(atTopAt, end + 1);
    List<Sample> lifted = between(liftedAt, end + 1);
    List<Sample> liftSettled = between(liftedAt + LIFT_SETTLE.toMillis(), end + 1);
    List<Sample> fromThrottle = between(throttledAt, end + 1);
    long down = firstAt(throttled, s -> s.rendition() >= 0 && s.rendition() < top) - throttledAt;
    long up = firstAt(lifted, s -> s.rendition() == top) - liftedAt;
    long lastOld = throttled.stream().filter(s -> s.drawnAgeMs() >= MAX_AGE_MS).mapToLong(Sample::atMillis).max()
        .orElse(throttledAt - 1) - throttledAt;
    Sample peak = throttled.stream().max(Comparator.comparingLong(Sample::drawnAgeMs)).orElseThrow();
    double settledFps = framesPerSecond(settled);

    timeline(fromThrottle, throttledAt, liftedAt);
    report("before (top rendition, unlimited)", baseline);
    report("throttled to 1 Mbit/s, whole " + THROTTLED.toSeconds() + " s", throttled);
    report("throttled, from " + SETTLE.toSeconds() + " s on", settled);
    report("after lifting the throttle", lifted);
    System.out.printf(Locale.ROOT, "DemoIT figures: climb to top %d ms | throttle: below the top after %s,"
            + " peak age %d ms at +%d ms, age last >= %d ms %s; from +%d s: age median %d ms, max %d ms,"
            + " %.1f fps drawn | longest gap without a frame %d ms | lift: back at the top after %s;"
            + " from +%d s: age median %d ms, max %d ms%n",
        climbMillis, down < 0 ? "never" : down + " ms", peak.drawnAgeMs(), peak.atMillis() - throttledAt, MAX_AGE_MS,
        lastOld < 0 ? "never" : "at +" + lastOld + " ms", SETTLE.toSeconds(), medianAge(settled), maxAge(settled), settledFps, longestGapMillis(fromThrottle),
        up < 0 ? "never (" + (atTopAt - liftedAt) + " ms)" : up + " ms", LIFT_SETTLE.toSeconds(),
        medianAge(liftSettled), maxAge(liftSettled));
    boolean targetThrottled = maxAge(settled) < MAX_AGE_MS;
    boolean targetLifted = maxAge(liftSettled) < MAX_AGE_MS;
    System.out.printf(Locale.ROOT, "DemoIT target (issue 6: every frame under %d ms once settled): throttled %s,"
        + " after the lift %s%n", MAX_AGE_MS, targetThrottled ? "met" : "MISSED (" + maxAge(settled) + " ms)",
        targetLifted ? "met" : "MISSED (" + maxAge(liftSettled) + " ms)");

    assertThat(Json.array(state().get("errors"))).as("page errors").isEmpty();
    assertThat(maxAge(baseline)).as("frame age at the top rendition, unlimited").isLessThan(MAX_AGE_MS);
    // Down, soon, and it stays down while the link cannot carry the top rendition.
    assertThat(down).as("time from the throttle to the first frame below the top rendition")
        .isBetween(0L, DOWN_WITHIN.toMillis());
    assertThat(settled).as("below the top rendition from %s after the throttle", SETTLE)
        .allSatisfy(s -> assertThat(s.rendition()).isLessThan(top));
    // The change settled: frames under a second old, bar rare outliers (see the class comment).
    assertThat(medianAge(settled)).as("the median age of frames drawn from %s after the throttle", SETTLE)
        .isLessThan(MAX_AGE_MS);
    assertThat(maxAge(settled)).as("the oldest frame drawn from %s after the throttle until it was lifted (the"
        + " last one of %d ms or more came %s)", SETTLE, MAX_AGE_MS,
        lastOld < 0 ? "never" : lastOld + " ms after the throttle")
        .isLessThan(STRICT ? MAX_AGE_MS : MAX_OUTLIER_MS);
    // Frames kept arriving, through both changes.
    assertThat(longestGapMillis(fromThrottle)).as("longest time without a new frame, from the throttle on")
        .isLessThan(MAX_GAP);
    assertThat(settledFps).as("frames drawn a second once settled at 1 Mbit/s").isGreaterThanOrEqualTo(MIN_SETTLED_FPS);
    // And everything came back: the top rendition, with frames under a second old.
    assertThat(backAtTop).as("back at the top rendition within %s of lifting the throttle; last state %s", RECOVER,
        state()).isTrue();
    assertThat(medianAge(liftSettled)).as("the median age of frames drawn from %s after lifting the throttle",
        LIFT_SETTLE).isLessThan(MAX_AGE_MS);
    assertThat(maxAge(liftSettled)).as("the oldest frame drawn from %s after lifting the throttle", LIFT_SETTLE)
        .isLessThan(STRICT ? MAX_AGE_MS : MAX_OUTLIER_MS);
    // Back for good: at the top for most of the next seconds and at the end (a dip of a step
    // while a busy machine delays a pong is the library being careful, not failing).
    long atTopSamples = atTop.stream().filter(s -> s.rendition() == top).count();
    assertThat(atTopSamples).as("samples at the top rendition once back, of %d: %s", atTop.size(),
        atTop.stream().map(Sample::rendition).toList()).isGreaterThanOrEqualTo((long) Math.ceil(atTop.size() * 0.75));
    assertThat(atTop.get(atTop.size() - 1).rendition()).as("at the top rendition at the end").isEqualTo(top);
    assertThat(maxAge(atTop)).as("frame age at the top rendition once back").isLessThan(MAX_AGE_MS);
  }

  /**
   * Evaluates {@code expression} every 200 ms until it is true; false after {@code timeout}. (Not
   * {@code CdpPage.await}, which asks every 25 ms: on a busy 2-core machine that much DevTools
   * traffic slows the very page being measured.)
   */
  private boolean await(String expression, Duration timeout) throws Exception {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      if (Boolean.TRUE.equals(page.evaluate(expression))) {
        return true;
      }
      if (System.nanoTime() - deadline > 0) {
        return false;
      }
      Thread.sleep(200);
    }
  }

  /**
   * Drags the page's own control, as a visitor would (sets the slider and dispatches an input
   * event, which sends the command at once), waits until the server reports the new throttle,
   * and returns the page's clock when the control moved.
   */
  private long setThrottle(String step) throws Exception {
    Map<String, Object> moved = page.evaluateObject("(() => { const s = document.getElementById('throttle');"
        + " const i = s.dataset.steps.split(',').indexOf(" + Json.write(step) + ");"
        + " if (i < 0) throw new Error('no step ' + " + Json.write(step) + ");"
        + " const at = Date.now();"
        + " s.value = String(i); s.dispatchEvent(new Event('input', { bubbles: true }));"
        + " return { at: at, throttle: demoState.throttle }; })()");
    assertThat(moved.get("throttle")).isEqualTo(step);
    long bps = step.equals("unlimited") ? 0 : Math.round(Double.parseDouble(step) * 1e6);
    assertThat(await("demoState.server && demoState.server.throttleBps === " + bps, Duration.ofSeconds(5)))
        .as("the server applied the throttle %s", step).isTrue();
    return (long) number(moved.get("at"));
  }

  private Map<String, Object> state() throws Exception {
    return page.evaluateObject(STATE);
  }

  /**
   * Collects the page's samples into {@link #samples} every 250 ms until {@code expression} is
   * true (returns true) or {@code timeout} has passed (returns false). One DevTools call each
   * time: the condition and the samples since the last one.
   */
  private boolean collectUntil(String expression, Duration timeout) throws Exception {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      long after = samples.isEmpty() ? 0 : samples.get(samples.size() - 1).atMillis();
      Map<String, Object> got = page.evaluateObject("({ done: !!(" + expression + "),"
          + " history: demoState.history.filter(h => h.t > " + after + ") })");
      for (Object entry : Json.array(got.get("history"))) {
        Map<String, Object> h = Json.object(entry);
        samples.add(new Sample((long) number(h.get("t")), (int) number(h.get("rendition")), (int) number(h.get("fps")),
            h.get("drawnAgeMs") == null ? -1 : (long) number(h.get("drawnAgeMs")),
            (long) number(h.get("framesRendered")), String.valueOf(h.get("verdict")),
            h.get("estimateBps") == null ? 0 : (long) number(h.get("estimateBps")),
            h.get("throttleBps") == null ? -1 : (long) number(h.get("throttleBps"))));
      }
      if (Boolean.TRUE.equals(got.get("done"))) {
        return true;
      }
      if (System.nanoTime() - deadline > 0) {
        return false;
      }
      Thread.sleep(250);
    }
  }

  /** The samples taken in {@code [from, to)}, page clock; fails if the page sampled too rarely. */
  private List<Sample> between(long from, long to) {
    List<Sample> in = samples.stream().filter(s -> s.atMillis() >= from && s.atMillis() < to).toList();
    assertThat(in).as("page samples over %d ms", to - from).hasSizeGreaterThan((int) ((to - from) / 250 / 2));
    return in;
  }

  private static long firstAt(List<Sample> samples, Predicate<Sample> condition) {
    return samples.stream().filter(condition).mapToLong(Sample::atMillis).findFirst().orElse(Long.MIN_VALUE / 2);
  }

  private static long maxAge(List<Sample> samples) {
    return samples.stream().mapToLong(Sample::drawnAgeMs).max().orElse(-1);
  }

  /** The median age of the frames drawn in {@code samples} (each sample's oldest); -1 if none. */
  private static long medianAge(List<Sample> samples) {
    long[] ages = samples.stream().mapToLong(Sample::drawnAgeMs).filter(a -> a >= 0).sorted().toArray();
    return ages.length == 0 ? -1 : ages[ages.length / 2];
  }

  private static double framesPerSecond(List<Sample> samples) {
    Sample first = samples.get(0);
    Sample last = samples.get(samples.size() - 1);
    return (last.framesRendered() - first.framesRendered()) * 1000.0 / Math.max(1, last.atMillis() - first.atMillis());
  }

  /** One line a second from the throttle on: renditions, frames drawn, oldest frame drawn, verdict. */
  private static void timeline(List<Sample> samples, long throttledAt, long liftedAt) {
    StringBuilder out = new StringBuilder(String.format(Locale.ROOT, "DemoIT timeline (second after the throttle;"
        + " L: after the lift at +%.1f s): renditions, frames drawn, oldest frame drawn, verdict, estimate%n",
        (liftedAt - throttledAt) / 1000.0));
    long frames = samples.get(0).framesRendered();
    int i = 0;
    while (i < samples.size()) {
      long second = Math.floorDiv(samples.get(i).atMillis() - throttledAt, 1000);
      List<Sample> bucket = new ArrayList<>();
      while (i < samples.size() && Math.floorDiv(samples.get(i).atMillis() - throttledAt, 1000) == second) {
        bucket.add(samples.get(i++));
      }
      Sample last = bucket.get(bucket.size() - 1);
      out.append(String.format(Locale.ROOT, "  %s%3d  r%-8s %3d frames  %5d ms  %-14s %6.2f Mbit/s%n",
          throttledAt + second * 1000 >= liftedAt ? "L" : " ", second,
          bucket.stream().map(Sample::rendition).distinct().map(String::valueOf).collect(Collectors.joining(",")),
          last.framesRendered() - frames, maxAge(bucket), last.verdict(), last.estimateBps() / 1e6));
      frames = last.framesRendered();
    }
    System.out.print(out);
  }

  /** The longest stretch of samples over which no new frame was drawn. */
  private static long longestGapMillis(List<Sample> samples) {
    long longest = 0;
    Sample since = samples.get(0);
    for (Sample sample : samples) {
      if (sample.framesRendered() != since.framesRendered()) {
        since = sample;
      }
      longest = Math.max(longest, sample.atMillis() - since.atMillis());
    }
    return longest;
  }

  private static double number(Object value) {
    return ((Number) value).doubleValue();
  }

  private static void report(String phase, List<Sample> samples) {
    System.out.printf(Locale.ROOT, "DemoIT: %-45s renditions %s, fps %d..%d (mean %.1f), age max %d ms (mean %.0f),"
            + " estimate %.2f Mbit/s (last), verdicts %s%n",
        phase,
        samples.stream().map(Sample::rendition).distinct().sorted().toList(),
        samples.stream().mapToInt(Sample::fps).min().orElse(0),
        samples.stream().mapToInt(Sample::fps).max().orElse(0),
        samples.stream().mapToInt(Sample::fps).average().orElse(0),
        samples.stream().mapToLong(Sample::drawnAgeMs).max().orElse(0),
        samples.stream().mapToLong(Sample::drawnAgeMs).filter(a -> a >= 0).average().orElse(0),
        samples.get(samples.size() - 1).estimateBps() / 1e6,
        samples.stream().map(Sample::verdict).distinct().toList());
  }

  /** Copies the screenshot to {@code -Ddemo.screenshot}, a path relative to the repository root. */
  private static void copyScreenshot(Path shot) throws Exception {
    String target = System.getProperty("demo.screenshot", "");
    if (target.isBlank()) {
      return;
    }
    Path root = Path.of(System.getProperty("basedir", ".")).toAbsolutePath().normalize().getParent();
    Path destination = root.resolve(target).normalize();
    Files.createDirectories(destination.getParent());
    Files.copy(shot, destination, StandardCopyOption.REPLACE_EXISTING);
    System.out.println("DemoIT: screenshot saved to " + destination);
  }
}
