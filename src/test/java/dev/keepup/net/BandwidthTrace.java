package dev.keepup.net;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * A piecewise-constant downlink bandwidth trace, in the two-column text format of
 * {@code /work/shared/traces/fcc_hsdpa/*.log}.
 *
 * <p>Each non-blank line holds {@code time_seconds throughput_mbit_per_second}, separated
 * by whitespace. A sample's throughput holds from its time until the next sample's time.
 * Times are taken <em>relative to the first sample</em>: most published traces are slices
 * of longer logs and start at an arbitrary offset (e.g. 103.4 s), and a replay should
 * start with the first sample, not with a silent gap. Before the first sample (never
 * reached after that shift) and after the last one the nearest sample's rate applies.
 *
 * <p>The format has no end marker, so {@link #duration()} ends at the last sample: a
 * looping replay wraps there and the last sample's rate is only seen by a replay that
 * does not loop (it then holds forever). To give the last step of a synthetic trace a
 * length, add a closing sample, e.g. {@code of(0, 2.0, 1, 0.5, 2, 0.5)}.
 *
 * <p>Throughput is in Mbit/s with 1 Mbit = 10<sup>6</sup> bits (network convention).
 * Instances are immutable and thread safe.
 */
public final class BandwidthTrace {

  /** One line of a trace: from {@code timeSeconds} on, the link carries {@code mbitPerSecond}. */
  public record Sample(double timeSeconds, double mbitPerSecond) {}

  /**
   * A decimal number as written by the trace tools. Stricter than {@link Double#parseDouble},
   * which would also accept {@code NaN}, {@code Infinity}, hex floats and a trailing {@code d}.
   */
  private static final Pattern NUMBER =
      Pattern.compile("[+-]?(\\d+(\\.\\d*)?|\\.\\d+)([eE][+-]?\\d+)?");

  private static final Pattern WHITESPACE = Pattern.compile("\\s+");

  private final String source;
  /** Times relative to the first sample, strictly increasing, first is 0. */
  private final double[] times;
  private final double[] rates;

  private BandwidthTrace(String source, double[] times, double[] rates) {
    this.source = source;
    this.times = times;
    this.rates = rates;
  }

  /**
   * Reads a trace file.
   *
   * @throws IllegalArgumentException if a line is malformed (the message names the file
   *     and the 1-based line number), times do not increase, or the file holds no sample
   * @throws IOException if the file cannot be read
   */
  public static BandwidthTrace parse(Path file) throws IOException {
    Objects.requireNonNull(file, "file");
    return parse(file.getFileName().toString(), Files.readAllLines(file, StandardCharsets.UTF_8));
  }

  /**
   * Parses the lines of a trace; {@code sourceName} only labels error messages.
   *
   * @throws IllegalArgumentException as {@link #parse(Path)}
   */
  public static BandwidthTrace parse(String sourceName, List<String> lines) {
    Objects.requireNonNull(sourceName, "sourceName");
    Objects.requireNonNull(lines, "lines");
    List<double[]> samples = new ArrayList<>();
    int previousLine = 0;
    for (int i = 0; i < lines.size(); i++) {
      int lineNo = i + 1;
      String line = lines.get(i).strip();
      if (line.isEmpty()) {
        continue; // a trailing newline or a blank separator is harmless
      }
      String where = sourceName + " line " + lineNo;
      String[] fields = WHITESPACE.split(line);
      if (fields.length != 2) {
        throw new IllegalArgumentException(
            where + ": expected 2 fields 'time_seconds throughput_mbit_per_second', got "
                + fields.length + ": '" + line + "'");
      }
      double time = number(fields[0], "time_seconds", where);
      double rate = number(fields[1], "throughput_mbit_per_second", where);
      if (!samples.isEmpty()) {
        double previous = samples.get(samples.size() - 1)[0];
        if (!(time > previous)) {
          throw new IllegalArgumentException(
              where + ": time_seconds must be after the previous sample's (line "
                  + previousLine + ", " + previous + "): " + time);
        }
      }
      samples.add(new double[] {time, rate});
      previousLine = lineNo;
    }
    if (samples.isEmpty()) {
      throw new IllegalArgumentException(sourceName + ": no samples");
    }
    return build(sourceName, samples);
  }

  /**
   * Builds a synthetic trace from {@code time_seconds, mbit_per_second} pairs, for steps in
   * tests: {@code of(0, 4.0, 1.5, 1.0)} is 4 Mbit/s for 1.5 s, then 1 Mbit/s.
   *
   * @throws IllegalArgumentException if the count is odd or zero, a value is negative or not
   *     finite, or times do not increase (the message names the 1-based sample)
   */
  public static BandwidthTrace of(double... timeAndRatePairs) {
    Objects.requireNonNull(timeAndRatePairs, "timeAndRatePairs");
    if (timeAndRatePairs.length == 0 || timeAndRatePairs.length % 2 != 0) {
      throw new IllegalArgumentException(
          "timeAndRatePairs must hold a positive, even number of values: "
              + timeAndRatePairs.length);
    }
    List<double[]> samples = new ArrayList<>();
    for (int i = 0; i < timeAndRatePairs.length; i += 2) {
      String where = "sample " + (i / 2 + 1);
      double time = checked(timeAndRatePairs[i], "time_seconds", where);
      double rate = checked(timeAndRatePairs[i + 1], "mbit_per_second", where);
      if (!samples.isEmpty() && !(time > samples.get(samples.size() - 1)[0])) {
        throw new IllegalArgumentException(
            where + ": time_seconds must be after the previous sample's ("
                + samples.get(samples.size() - 1)[0] + "): " + time);
      }
      samples.add(new double[] {time, rate});
    }
    return build("synthetic", samples);
  }

  private static BandwidthTrace build(String source, List<double[]> samples) {
    double origin = samples.get(0)[0];
    double[] times = new double[samples.size()];
    double[] rates = new double[samples.size()];
    for (int i = 0; i < times.length; i++) {
      times[i] = samples.get(i)[0] - origin;
      rates[i] = samples.get(i)[1];
    }
    return new BandwidthTrace(source, times, rates);
  }

  private static double number(String text, String name, String where) {
    if (!NUMBER.matcher(text).matches()) {
      throw new IllegalArgumentException(where + ": " + name + " is not a number: '" + text + "'");
    }
    return checked(Double.parseDouble(text), name, where);
  }

  private static double checked(double value, String name, String where) {
    if (!Double.isFinite(value) || value < 0) {
      throw new IllegalArgumentException(
          where + ": " + name + " must be finite and >= 0: " + value);
    }
    return value;
  }

  /**
   * The throughput in Mbit/s at {@code seconds} after the first sample.
   *
   * <p>At or after the last sample the last rate applies; this method does not loop.
   *
   * @throws IllegalArgumentException if {@code seconds} is negative or not finite
   */
  public double rateAt(double seconds) {
    if (!Double.isFinite(seconds) || seconds < 0) {
      throw new IllegalArgumentException("seconds must be finite and >= 0: " + seconds);
    }
    int i = Arrays.binarySearch(times, seconds);
    // Not found: binarySearch returns -(insertion point) - 1, and the sample in force is
    // the one before the insertion point (there always is one, since times[0] == 0).
    return rates[i >= 0 ? i : -i - 2];
  }

  /** From the first to the last sample; zero for a one-sample trace. */
  public Duration duration() {
    return Duration.ofNanos(Math.round(times[times.length - 1] * 1e9));
  }

  /**
   * The time-weighted mean throughput in Mbit/s over {@link #duration()}, the rate a looping
   * replay offers on average; for a one-sample trace, that sample's rate.
   *
   * <p>This is not the plain average of the samples (which overweights short intervals and
   * counts the last sample, whose rate a loop never plays); the traces' README quotes the
   * plain average, which for this data set runs a few percent higher.
   */
  public double mean() {
    double span = times[times.length - 1];
    if (span == 0) {
      return rates[0];
    }
    double megabits = 0;
    for (int i = 0; i < times.length - 1; i++) {
      megabits += rates[i] * (times[i + 1] - times[i]);
    }
    return megabits / span;
  }

  /** The samples in order, times relative to the first sample (so the first is at 0). */
  public List<Sample> samples() {
    List<Sample> list = new ArrayList<>(times.length);
    for (int i = 0; i < times.length; i++) {
      list.add(new Sample(times[i], rates[i]));
    }
    return List.copyOf(list);
  }

  /** The file name this trace was parsed from, or {@code "synthetic"}. */
  public String source() {
    return source;
  }

  @Override
  public String toString() {
    return "BandwidthTrace[" + source + ", " + times.length + " samples, "
        + String.format(java.util.Locale.ROOT, "%.1f s, mean %.3f Mbit/s",
            times[times.length - 1], mean()) + "]";
  }
}
