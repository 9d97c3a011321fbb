package dev.keepup.bench;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A {@link SocketDrainClient} in a JVM of its own ({@code --client process}), optionally pinned
 * to CPUs of its own with {@code taskset}: the server's process then holds only the server, as
 * when the client is on another machine, and neither side's threads queue for the other's
 * core (the nearest this benchmark gets to a client on another machine). Driven over the
 * child's stdin and stdout ({@link SocketDrainClient#main}); every answer is awaited with a
 * timeout, and {@link #close} ends the child in any case. A command left without its answer
 * (a timeout, an interrupt) ends the child too: its late answer must not pass for the next
 * command's.
 */
final class DrainProcess implements AutoCloseable {
  private static final Duration ANSWER_WITHIN = Duration.ofSeconds(15);

  private final Process process;
  private final PrintStream commands;
  /** The child's output lines; an empty Optional once it ended. One reader thread fills it. */
  private final BlockingQueue<Optional<String>> answers = new LinkedBlockingQueue<>();
  private final Duration answerWithin;
  private final String description;
  /** Set once a command went unanswered or the child was closed: no command may go after it. */
  private volatile boolean broken;

  private DrainProcess(Process process, Duration answerWithin, String description) {
    this.process = process;
    this.answerWithin = answerWithin;
    this.description = description;
    this.commands = new PrintStream(process.getOutputStream(), true, StandardCharsets.UTF_8);
    Thread reader = new Thread(() -> {
      try (BufferedReader lines = new BufferedReader(
          new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
        for (String line; (line = lines.readLine()) != null; ) {
          answers.add(Optional.of(line));
        }
      } catch (IOException e) {
        // The child's output broke off: the same, to the asker, as its end.
      } finally {
        answers.add(Optional.empty());
      }
    }, "drain-process-answers");
    reader.setDaemon(true);
    reader.start();
  }

  /**
   * Starts the child with this JVM's {@code java} and class path, and waits until it is ready.
   *
   * @param cpus a {@code taskset -c} CPU list for the child, or null to leave it unpinned
   * @throws IllegalArgumentException if {@code cpus} is not a CPU list
   * @throws IOException if the child cannot start (no {@code taskset}, a CPU it may not use)
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
    // VM warnings go to stderr, so that stdout carries answers only.
    command.addAll(List.of(java, "-XX:+DisplayVMOutputToStderr", "-Xms64m", "-Xmx64m",
        "-cp", System.getProperty("java.class.path"), SocketDrainClient.class.getName()));
    return start(command, ANSWER_WITHIN,
        cpus == null ? "its own process" : "its own process on CPU " + cpus);
  }

  /** Starts {@code command}, which must speak the protocol, and waits for its {@code ready}. */
  static DrainProcess start(List<String> command, Duration answerWithin, String description)
      throws IOException {
    Process process = new ProcessBuilder(command)
        .redirectError(ProcessBuilder.Redirect.INHERIT)
        .start();
    DrainProcess child = new DrainProcess(process, answerWithin, description);
    try {
      child.awaitAnswer("(start)", "ready");
    } catch (IOException | RuntimeException e) {
      child.close();
      throw e;
    }
    return child;
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
        String answer;
        try {
          answer = ask("messages", null);
        } catch (IOException e) {
          throw new IllegalStateException("drain process: " + e.getMessage(), e);
        }
        try {
          return Long.parseLong(answer);
        } catch (NumberFormatException e) {
          throw new IllegalStateException("drain process: \"messages\" answered " + answer + ", not a count", e);
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
    if (broken) {
      throw new IOException("the client process was ended (closed, or a command went unanswered)");
    }
    commands.println(command);
    return awaitAnswer(command, expected);
  }

  private String awaitAnswer(String command, String expected) throws IOException {
    Optional<String> answer;
    try {
      answer = answers.poll(answerWithin.toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      kill();
      Thread.currentThread().interrupt();
      throw new IOException("interrupted waiting for the answer to \"" + command + "\"", e);
    }
    if (answer == null) {
      kill();
      throw new IOException("no answer to \"" + command + "\" within " + answerWithin.toMillis() + " ms");
    }
    if (answer.isEmpty()) {
      // Put back for whoever asks next: the end stays the end.
      answers.add(answer);
      throw new IOException("the client process ended its output at \"" + command + "\"" + exitCode());
    }
    String line = answer.get();
    if (line.startsWith("error ") || (expected != null && !line.equals(expected))) {
      throw new IOException("\"" + command + "\" answered: " + line);
    }
    return line;
  }

  /** The exit code of a child whose output ended, once it exits (within 5 s). */
  private String exitCode() {
    try {
      return process.waitFor(5, TimeUnit.SECONDS) ? ", exit code " + process.exitValue() : ", still running";
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return "";
    }
  }

  /** Ends a child that left a command unanswered: it is not asked to stop, it is stopped. */
  private void kill() {
    end(0);
  }

  /** Ends the child: end of input first, which closes its connection; killed if it lingers. */
  @Override
  public void close() {
    end(5);
  }

  /** Closes the child's input, gives it {@code graceSeconds} to exit, then kills it. */
  private void end(int graceSeconds) {
    broken = true;
    commands.close();
    try {
      if (graceSeconds == 0 || !process.waitFor(graceSeconds, TimeUnit.SECONDS)) {
        process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      process.destroyForcibly();
      Thread.currentThread().interrupt();
    }
  }
}
