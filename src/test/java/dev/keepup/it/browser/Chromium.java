package dev.keepup.it.browser;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;

/**
 * A headless Chromium driven over the DevTools protocol (CDP) with the JDK's WebSocket client,
 * for integration tests: no Selenium, no driver binary.
 *
 * <pre>{@code
 * try (Chromium browser = Chromium.launch(Chromium.findBinary().orElseThrow(), Path.of("target/browser"));
 *     CdpPage page = browser.openPage("http://127.0.0.1:8080/index.html")) {
 *   Object title = page.evaluate("document.title");
 *   page.screenshot(Path.of("target/browser/index.png"));
 * }
 * }</pre>
 *
 * <p>The browser gets a fresh profile in a temporary directory and a kernel-chosen debugging
 * port, read back from the {@code DevToolsActivePort} file Chromium writes into the profile.
 * One WebSocket to the browser carries every page's traffic (flattened target sessions). Every
 * wait is bounded. {@link #close()} asks the browser to quit, then kills it and every process
 * it started, and deletes the profile; it is idempotent.
 *
 * <p>Thread safe: commands may be sent from any thread; replies and events are handled on the
 * JDK WebSocket's thread.
 */
public final class Chromium implements AutoCloseable {
  /** Chromium's flags for a quiet, reproducible test browser. */
  public static final List<String> FLAGS = List.of(
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-dev-shm-usage",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      "--disable-quic",
      "--remote-debugging-port=0");

  private static final Duration START_TIMEOUT = Duration.ofSeconds(30);
  private static final Duration CONNECT_ATTEMPT = Duration.ofSeconds(5);
  private static final Duration COMMAND_TIMEOUT = Duration.ofSeconds(15);
  private static final Duration EXIT_TIMEOUT = Duration.ofSeconds(5);
  private static final HttpClient HTTP = HttpClient.newHttpClient();

  private final Process process;
  private final Path profile;
  private final Path log;
  private final WebSocket socket;
  private final AtomicLong ids = new AtomicLong();
  private final Map<Long, CompletableFuture<Map<String, Object>>> pending = new ConcurrentHashMap<>();
  private final Map<String, CdpPage> pages = new ConcurrentHashMap<>();
  private final Object sendLock = new Object();
  private volatile Throwable broken;
  private volatile boolean closed;

  private Chromium(Process process, Path profile, Path log, URI browserUri, long deadline)
      throws IOException, InterruptedException, TimeoutException {
    this.process = process;
    this.profile = profile;
    this.log = log;
    this.socket = connect(browserUri, deadline);
  }

  /**
   * Opens the DevTools WebSocket. On a loaded machine a freshly started browser can leave the
   * first handshake hanging, so each attempt is short and they are repeated until the deadline.
   */
  private WebSocket connect(URI browserUri, long deadline) throws IOException, InterruptedException, TimeoutException {
    Throwable last = null;
    while (System.nanoTime() - deadline < 0) {
      if (!process.isAlive()) {
        throw new IOException("Chromium exited with " + process.exitValue() + ": " + tail(log));
      }
      CompletableFuture<WebSocket> attempt = HTTP.newWebSocketBuilder()
          .connectTimeout(CONNECT_ATTEMPT)
          .buildAsync(browserUri, new Receiver());
      try {
        return attempt.get(CONNECT_ATTEMPT.toMillis(), TimeUnit.MILLISECONDS);
      } catch (ExecutionException e) {
        last = e.getCause();
      } catch (TimeoutException e) {
        last = e;
        attempt.cancel(true);
      }
      pauseUnlessExited(process, Duration.ofMillis(100));
    }
    throw new TimeoutException("cannot open " + browserUri + " within " + START_TIMEOUT + ": " + last
        + "; Chromium said: " + tail(log));
  }

  /**
   * Finds a Chromium binary: {@code /usr/bin/chromium}, {@code /usr/bin/chromium-browser}, then
   * {@code chromium} or {@code chromium-browser} on the {@code PATH}.
   */
  public static Optional<Path> findBinary() {
    List<Path> candidates = new ArrayList<>(List.of(Path.of("/usr/bin/chromium"), Path.of("/usr/bin/chromium-browser")));
    String path = System.getenv("PATH");
    if (path != null) {
      for (String dir : path.split(File.pathSeparator)) {
        if (!dir.isEmpty()) {
          candidates.add(Path.of(dir, "chromium"));
          candidates.add(Path.of(dir, "chromium-browser"));
        }
      }
    }
    return candidates.stream().filter(p -> Files.isRegularFile(p) && Files.isExecutable(p)).findFirst();
  }

  /**
   * Starts {@code binary} headless with {@link #FLAGS} and a fresh profile, and connects to it.
   * Its output goes to a log file in {@code logDir}.
   *
   * @throws IOException if it does not start, or exits, within 30 s
   */
  public static Chromium launch(Path binary, Path logDir) throws IOException, InterruptedException {
    Files.createDirectories(logDir);
    Path profile = Files.createTempDirectory("keepup-chromium-");
    Path log = Files.createTempFile(logDir, "chromium-", ".log");
    List<String> command = new ArrayList<>();
    command.add(binary.toString());
    command.addAll(FLAGS);
    command.add("--user-data-dir=" + profile);
    command.add("about:blank");
    Process process = new ProcessBuilder(command)
        .redirectErrorStream(true)
        .redirectOutput(log.toFile())
        .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
        .start();
    long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
    try {
      URI browserUri = awaitDevToolsPort(process, profile, log, deadline);
      return new Chromium(process, profile, log, browserUri, deadline);
    } catch (IOException | InterruptedException | TimeoutException | RuntimeException e) {
      kill(process, false);
      deleteTree(profile);
      if (e instanceof InterruptedException ie) {
        throw ie;
      }
      throw e instanceof IOException io ? io : new IOException("Chromium did not start: " + e, e);
    }
  }

  private static URI awaitDevToolsPort(Process process, Path profile, Path log, long deadline)
      throws IOException, InterruptedException, TimeoutException {
    Path portFile = profile.resolve("DevToolsActivePort");
    while (System.nanoTime() - deadline < 0) {
      if (!process.isAlive()) {
        throw new IOException("Chromium exited with " + process.exitValue() + ": " + tail(log));
      }
      if (Files.isRegularFile(portFile)) {
        List<String> lines = Files.readAllLines(portFile, StandardCharsets.UTF_8);
        // Written as "<port>\n<path>\n"; a half-written file is read again.
        if (lines.size() >= 2 && !lines.get(1).isBlank()) {
          return URI.create("ws://127.0.0.1:" + Integer.parseInt(lines.get(0).trim()) + lines.get(1).trim());
        }
      }
      pauseUnlessExited(process, Duration.ofMillis(25));
    }
    throw new TimeoutException("no DevToolsActivePort within " + START_TIMEOUT + ": " + tail(log));
  }

  /** Returns the last lines Chromium printed, for error messages. */
  public String logTail() {
    return tail(log);
  }

  private static String tail(Path log) {
    try {
      List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
      return String.join("\n", lines.subList(Math.max(0, lines.size() - 20), lines.size()));
    } catch (IOException | UncheckedIOException e) {
      return "(no log: " + e + ")";
    }
  }

  /** The browser's process id, for diagnostics. */
  public long pid() {
    return process.pid();
  }

  /**
   * Opens a new tab, attaches to it with console and page events enabled, and navigates it to
   * {@code url} (skipped for {@code about:blank}).
   */
  public CdpPage openPage(String url) throws IOException, InterruptedException, TimeoutException {
    Map<String, Object> created = call("Target.createTarget", Map.of("url", "about:blank"), null, COMMAND_TIMEOUT);
    String targetId = (String) created.get("targetId");
    Map<String, Object> attached = call("Target.attachToTarget",
        Map.of("targetId", targetId, "flatten", true), null, COMMAND_TIMEOUT);
    String sessionId = (String) attached.get("sessionId");
    CdpPage page = new CdpPage(this, targetId, sessionId);
    pages.put(sessionId, page);
    page.call("Runtime.enable", Map.of());
    page.call("Page.enable", Map.of());
    page.call("Log.enable", Map.of());
    if (!"about:blank".equals(url)) {
      page.navigate(url, COMMAND_TIMEOUT);
    }
    return page;
  }

  /**
   * Sends a command, to a page if {@code sessionId} is not null, and waits for its result.
   *
   * @throws CdpException if the browser answers with an error
   * @throws TimeoutException if it does not answer within {@code timeout}
   */
  Map<String, Object> call(String method, Map<String, ?> params, String sessionId, Duration timeout)
      throws IOException, InterruptedException, TimeoutException {
    long id = ids.incrementAndGet();
    CompletableFuture<Map<String, Object>> reply = new CompletableFuture<>();
    pending.put(id, reply);
    try {
      Map<String, Object> message = new LinkedHashMap<>();
      message.put("id", id);
      message.put("method", method);
      message.put("params", params);
      if (sessionId != null) {
        message.put("sessionId", sessionId);
      }
      send(Json.write(message), timeout);
      Map<String, Object> answer = reply.get(timeout.toNanos(), TimeUnit.NANOSECONDS);
      if (answer.get("error") != null) {
        Map<String, Object> error = Json.object(answer.get("error"));
        throw new CdpException(method + ": " + error.get("message")
            + (error.get("data") != null ? " (" + error.get("data") + ")" : ""));
      }
      Object result = answer.get("result");
      return result == null ? Map.of() : Json.object(result);
    } catch (ExecutionException e) {
      throw new IOException(method + " failed: " + e.getCause(), e.getCause());
    } catch (TimeoutException e) {
      throw new TimeoutException(method + " got no answer within " + timeout);
    } finally {
      pending.remove(id);
    }
  }

  private void send(String text, Duration timeout) throws IOException, InterruptedException, TimeoutException {
    Throwable failure = broken;
    if (failure != null || closed) {
      throw new IOException("DevTools connection is " + (closed ? "closed" : "broken"), failure);
    }
    // The JDK WebSocket allows one outstanding send at a time.
    synchronized (sendLock) {
      try {
        socket.sendText(text, true).get(timeout.toNanos(), TimeUnit.NANOSECONDS);
      } catch (ExecutionException e) {
        throw new IOException("cannot send to DevTools: " + e.getCause(), e.getCause());
      }
    }
  }

  void detached(String sessionId) {
    pages.remove(sessionId);
  }

  private void onMessage(String text) {
    Map<String, Object> message = Json.object(Json.parse(text));
    Object id = message.get("id");
    if (id != null) {
      CompletableFuture<Map<String, Object>> reply = pending.get(Json.asLong(id));
      if (reply != null) {
        reply.complete(message);
      }
      return;
    }
    Object sessionId = message.get("sessionId");
    CdpPage page = sessionId == null ? null : pages.get((String) sessionId);
    if (page != null) {
      Object params = message.get("params");
      page.onEvent((String) message.get("method"), params == null ? Map.of() : Json.object(params));
    }
  }

  private void fail(Throwable error) {
    broken = error;
    for (CompletableFuture<Map<String, Object>> reply : pending.values()) {
      reply.completeExceptionally(error);
    }
  }

  /**
   * Quits the browser: {@code Browser.close}, then SIGTERM, then SIGKILL, each waited for at
   * most 5 s, for the browser and every process it started; then deletes the profile.
   */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    List<ProcessHandle> children = process.descendants().toList();
    try {
      if (broken == null) {
        send(Json.write(Map.of("id", ids.incrementAndGet(), "method", "Browser.close")), EXIT_TIMEOUT);
      }
    } catch (IOException | TimeoutException | RuntimeException ignored) {
      // Killed below.
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    closed = true;
    socket.abort();
    fail(new IOException("browser closed"));
    kill(process, true);
    for (ProcessHandle child : children) {
      if (child.isAlive()) {
        child.destroyForcibly();
      }
    }
    // Crash reporters and other helpers may still write into the profile until they are gone.
    for (ProcessHandle child : children) {
      try {
        child.onExit().get(EXIT_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
      } catch (ExecutionException | TimeoutException stuck) {
        // Deleted as far as it goes.
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
    }
    deleteTree(profile);
  }

  /** Waits for {@code process} to exit (if {@code asked} to), then terminates, then kills it. */
  private static void kill(Process process, boolean asked) {
    try {
      if (asked && process.waitFor(EXIT_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
        return;
      }
      process.destroy();
      if (process.waitFor(EXIT_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
        return;
      }
      process.destroyForcibly();
      process.waitFor(EXIT_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      process.destroyForcibly();
      Thread.currentThread().interrupt();
    }
  }

  /**
   * Waits for {@code process} to exit, at most {@code pause}: the pause between two looks at
   * what it writes, cut short (and the next look fails fast) if it dies meanwhile.
   */
  private static void pauseUnlessExited(Process process, Duration pause) throws InterruptedException {
    try {
      process.onExit().get(pause.toMillis(), TimeUnit.MILLISECONDS);
    } catch (ExecutionException | TimeoutException stillRunning) {
      // The usual case: it is still starting.
    }
  }

  private static void deleteTree(Path root) {
    // Files can vanish under the walk (the browser's helpers were waited for in close); retry.
    for (int attempt = 0; attempt < 5 && Files.exists(root); attempt++) {
      try (Stream<Path> paths = Files.walk(root)) {
        paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      } catch (IOException | UncheckedIOException retry) {
        // Files vanished under the walk; go again.
      }
    }
  }

  /** Thrown when the browser answers a command with an error, or a script throws. */
  public static final class CdpException extends IOException {
    private static final long serialVersionUID = 1L;

    public CdpException(String message) {
      super(message);
    }
  }

  private final class Receiver implements WebSocket.Listener {
    private final StringBuilder parts = new StringBuilder();

    @Override
    public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
      parts.append(data);
      if (last) {
        String text = parts.toString();
        parts.setLength(0);
        try {
          onMessage(text);
        } catch (RuntimeException bad) {
          System.err.println("Chromium: cannot handle DevTools message: " + bad);
        }
      }
      webSocket.request(1);
      return null;
    }

    @Override
    public CompletionStage<?> onClose(WebSocket webSocket, int statusCode, String reason) {
      fail(new IOException("DevTools connection closed: " + statusCode + " " + reason));
      return null;
    }

    @Override
    public void onError(WebSocket webSocket, Throwable error) {
      fail(error);
    }
  }
}
