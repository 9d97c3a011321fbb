package dev.keepup.bench;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.file.Path;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A {@link SocketDrainClient} in a JVM of its own ({@code --client process}), optionally pinned
 * to CPUs of its own with {@code taskset}: the server's process then holds only the server, as
 * when the client is on another machine, and neither side's threads queue for the other's
 * core. Driven over the child's stdin and stdout ({@link SocketDrainClient#main}); every
 * answer is awaited with a timeout, and {@link #close} ends the child in any case.
 */
final class DrainProcess implements AutoCloseable {
  private static final Duration ANSWER_WITHIN = Duration.ofSeconds(15);

  private final Process process;
  private final PrintStream commands;
  private final BufferedReader answers;
  private final String description;

  private DrainProcess(Process process, String description) {
    this.process = process;
    this.description = description;
    this.commands = new PrintStream(process.getOutputStream(), true, StandardCharsets.UTF_8);
    this.answers = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
  }

  /**
   * Starts the child with this JVM's {@code java} and class path.
   *
   * @param cpus a {@code taskset -c} CPU list for the child, or null to leave it unpinned
   */
  static DrainProcess start(String cpus) throws IOException {
    List<String> command = new ArrayList<>();
    if (cpus != null) {
      if (!cpus.matches("[0-9]+([-,][0-9]+)*")) {
        throw new IllegalArgumentException("--client-cpus must be a CPU list such as 0 or 0-1, not " + cpus);
      }
      command.addAll(List.of("taskset", "-c", cpus));
    }
    String java = ProcessHandle.current().info().command()
        .orElseGet(() -> Path.of(System.getProperty("java.home"), "bin", "java").toString());
    command.addAll(List.of(java, "-Xms64m", "-Xmx64m", "-cp", System.getProperty("java.class.path"),
        SocketDrainClient.class.getName()));
    Process process = new ProcessBuilder(command)
        .redirectError(ProcessBuilder.Redirect.INHERIT)
        .start();
    return new DrainProcess(process, cpus == null ? "its own process" : "its own process on CPU " + cpus);
  }

  /** Whether the child is still running. */
  boolean isAlive() {
    return process.isAlive();
  }

  /** Where the client runs, for the report. */
  String description() {
    return description;
  }

  /** Opens the child's connection to {@code uri}; the child holds one at a time. */
  CoreBenchmark.Drain connect(URI uri) throws IOException {
    ask("connect " + uri, "connected");
    return new CoreBenchmark.Drain() {
      @Override
      public long messages() {
        try {
          return Long.parseLong(ask("messages", null));
        } catch (IOException e) {
          throw new IllegalStateException("drain process: " + e.getMessage(), e);
        }
      }

      @Override
      public void close() {
        try {
          ask("close", "closed");
        } catch (IOException e) {
          throw new IllegalStateException("drain process: " + e.getMessage(), e);
        }
      }
    };
  }

  /** Sends one command and returns its answer, which must be {@code expected} if given. */
  private synchronized String ask(String command, String expected) throws IOException {
    if (!process.isAlive()) {
      throw new IOException("the client process exited with " + process.exitValue());
    }
    commands.println(command);
    CompletableFuture<String> answer = CompletableFuture.supplyAsync(() -> {
      try {
        return answers.readLine();
      } catch (IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
    });
    String line;
    try {
      line = answer.get(ANSWER_WITHIN.toMillis(), TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      close();
      throw new IOException("no answer to \"" + command + "\" within " + ANSWER_WITHIN.toSeconds() + " s");
    } catch (ExecutionException e) {
      throw new IOException("reading the answer to \"" + command + "\"", e.getCause());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted waiting for \"" + command + "\"", e);
    }
    if (line == null) {
      throw new IOException("the client process ended its output after \"" + command + "\"");
    }
    if (line.startsWith("error ") || (expected != null && !line.equals(expected))) {
      throw new IOException("\"" + command + "\" answered: " + line);
    }
    return line;
  }

  /** Ends the child: end of input first, which closes its connection; killed if it lingers. */
  @Override
  public void close() {
    commands.close();
    try {
      if (!process.waitFor(5, TimeUnit.SECONDS)) {
        process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      process.destroyForcibly();
      Thread.currentThread().interrupt();
    }
  }
}
