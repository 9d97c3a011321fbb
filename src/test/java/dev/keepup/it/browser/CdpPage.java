package dev.keepup.it.browser;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeoutException;

/**
 * One browser tab of a {@link Chromium}: navigate, evaluate JavaScript, take screenshots, and
 * read what the page logged.
 *
 * <p>Scripts run with {@code Runtime.evaluate}, promises awaited and results returned by value
 * (as {@link Json} values: maps, lists, strings, numbers, booleans, null). Every call is bounded.
 * Thread safe.
 */
public final class CdpPage implements AutoCloseable {
  private static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(15);
  private static final Duration CLOSE_TIMEOUT = Duration.ofSeconds(5);

  private final Chromium browser;
  private final String targetId;
  private final String sessionId;
  private final List<String> console = new CopyOnWriteArrayList<>();
  private volatile boolean closed;

  CdpPage(Chromium browser, String targetId, String sessionId) {
    this.browser = browser;
    this.targetId = targetId;
    this.sessionId = sessionId;
  }

  /** Sends a CDP command to this page and returns its result; bounded by 15 s. */
  public Map<String, Object> call(String method, Map<String, ?> params)
      throws IOException, InterruptedException, TimeoutException {
    return call(method, params, DEFAULT_TIMEOUT);
  }

  /** Sends a CDP command to this page and returns its result. */
  public Map<String, Object> call(String method, Map<String, ?> params, Duration timeout)
      throws IOException, InterruptedException, TimeoutException {
    return browser.call(method, params, sessionId, timeout);
  }

  /**
   * Navigates to {@code url} and waits until the document has loaded (its module scripts ran).
   *
   * @throws Chromium.CdpException if navigation fails
   * @throws TimeoutException if the page does not load within {@code timeout}
   */
  public void navigate(String url, Duration timeout) throws IOException, InterruptedException, TimeoutException {
    Map<String, Object> result = call("Page.navigate", Map.of("url", url), timeout);
    if (result.get("errorText") != null) {
      throw new Chromium.CdpException("cannot load " + url + ": " + result.get("errorText"));
    }
    long deadline = System.nanoTime() + timeout.toNanos();
    // The page waits for its own load event (up to a second a call), so this loop does not spin;
    // it goes round only when the old document's context went away mid-call.
    String loaded = "location.href !== " + Json.write(url) + " ? false"
        + " : document.readyState === 'complete' ? true"
        + " : new Promise(r => { addEventListener('load', () => r(true)); setTimeout(() => r(false), 1000); })";
    while (true) {
      try {
        if (Boolean.TRUE.equals(evaluate(loaded, Duration.ofSeconds(2)))) {
          return;
        }
      } catch (Chromium.CdpException | TimeoutException navigating) {
        // The old document's context went away mid-call; ask the new one.
      }
      if (System.nanoTime() - deadline > 0) {
        throw new TimeoutException(url + " did not load within " + timeout + "; console: " + console);
      }
    }
  }

  /** Evaluates {@code expression}, awaiting a promise; bounded by 15 s. */
  public Object evaluate(String expression) throws IOException, InterruptedException, TimeoutException {
    return evaluate(expression, DEFAULT_TIMEOUT);
  }

  /**
   * Evaluates {@code expression} in the page, awaiting it if it is a promise, and returns its
   * value as JSON ({@code undefined} as null).
   *
   * @throws Chromium.CdpException if the script throws or the promise rejects
   */
  public Object evaluate(String expression, Duration timeout)
      throws IOException, InterruptedException, TimeoutException {
    Map<String, Object> params = new LinkedHashMap<>();
    params.put("expression", expression);
    params.put("awaitPromise", true);
    params.put("returnByValue", true);
    Map<String, Object> result = call("Runtime.evaluate", params, timeout);
    if (result.get("exceptionDetails") != null) {
      throw new Chromium.CdpException("script failed: " + describe(Json.object(result.get("exceptionDetails"))));
    }
    return Json.object(result.get("result")).get("value");
  }

  /** Evaluates {@code expression}, which must yield an object, and returns it. */
  public Map<String, Object> evaluateObject(String expression)
      throws IOException, InterruptedException, TimeoutException {
    return Json.object(evaluate(expression));
  }

  /**
   * Waits until {@code expression} yields {@code true}, checked by the page itself every 25 ms
   * (one call, no polling from here); returns false if it has not within {@code timeout}.
   */
  public boolean await(String expression, Duration timeout)
      throws IOException, InterruptedException, TimeoutException {
    long millis = timeout.toMillis();
    String waiting = "new Promise((resolve, reject) => { const end = performance.now() + " + millis + ";"
        + " const check = () => { try { if ((" + expression + ") === true) return resolve(true);"
        + " if (performance.now() > end) return resolve(false); setTimeout(check, 25); }"
        + " catch (e) { reject(e); } }; check(); })";
    return Boolean.TRUE.equals(evaluate(waiting, timeout.plusSeconds(5)));
  }

  /** Saves a PNG of the viewport to {@code file}, creating its directory; returns the file. */
  public Path screenshot(Path file) throws IOException, InterruptedException, TimeoutException {
    Map<String, Object> shot = call("Page.captureScreenshot", Map.of("format", "png"));
    Path parent = file.toAbsolutePath().getParent();
    if (parent != null) {
      Files.createDirectories(parent);
    }
    Files.write(file, Base64.getDecoder().decode((String) shot.get("data")));
    return file;
  }

  /** What the page logged: console calls, uncaught exceptions, browser log entries, in order. */
  public List<String> console() {
    return List.copyOf(console);
  }

  void onEvent(String method, Map<String, Object> params) {
    switch (method) {
      case "Runtime.consoleAPICalled" -> {
        StringBuilder line = new StringBuilder("console.").append(params.get("type")).append(':');
        for (Object arg : Json.array(params.getOrDefault("args", List.of()))) {
          Map<String, Object> remote = Json.object(arg);
          Object value = remote.containsKey("value") ? remote.get("value") : remote.get("description");
          line.append(' ').append(value);
        }
        console.add(line.toString());
      }
      case "Runtime.exceptionThrown" ->
          console.add("uncaught: " + describe(Json.object(params.get("exceptionDetails"))));
      case "Log.entryAdded" -> {
        Map<String, Object> entry = Json.object(params.get("entry"));
        console.add("log." + entry.get("level") + ": " + entry.get("text")
            + (entry.get("url") != null ? " (" + entry.get("url") + ")" : ""));
      }
      case "Inspector.targetCrashed" -> console.add("page crashed");
      default -> {
        // Other events are not needed yet.
      }
    }
  }

  private static String describe(Map<String, Object> details) {
    Object exception = details.get("exception");
    if (exception instanceof Map<?, ?> remote && remote.get("description") != null) {
      return String.valueOf(remote.get("description"));
    }
    return String.valueOf(details.get("text"));
  }

  /** Closes the tab; idempotent, bounded by 5 s, never throws. */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    try {
      browser.call("Target.closeTarget", Map.of("targetId", targetId), null, CLOSE_TIMEOUT);
    } catch (IOException | TimeoutException | RuntimeException ignored) {
      // The browser is gone or closing; the tab goes with it.
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      browser.detached(sessionId);
    }
  }
}
