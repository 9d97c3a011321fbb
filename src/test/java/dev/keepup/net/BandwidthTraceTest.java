package dev.keepup.net;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

final class BandwidthTraceTest {

  private static final Path TRACES = Path.of("/work/shared/traces/fcc_hsdpa");

  @Test
  void parse_realTraceFile() throws IOException {
    Path file = TRACES.resolve("norway_ferry_10_part0.log");
    assumeTrue(Files.isRegularFile(file), "trace set not present: " + TRACES);

    BandwidthTrace trace = BandwidthTrace.parse(file);

    assertThat(trace.source()).isEqualTo("norway_ferry_10_part0.log");
    assertThat(trace.samples()).hasSize(43);
    assertThat(trace.samples().get(0)).isEqualTo(new BandwidthTrace.Sample(0.0, 1.36721697313));
    assertThat(trace.rateAt(0)).isEqualTo(1.36721697313);
    assertThat(trace.rateAt(1.9)).isEqualTo(1.36721697313);
    assertThat(trace.rateAt(2.0)).isEqualTo(1.095675203);
    assertThat(trace.rateAt(1_000)).isEqualTo(2.71090558767);
    assertThat(trace.duration()).isEqualTo(Duration.ofNanos(38_140_000_105L));
    assertThat(trace.mean()).isCloseTo(1.815085, within(1e-6));
  }

  @Test
  void parse_everyFileOfTheTraceSet() throws IOException {
    assumeTrue(Files.isDirectory(TRACES), "trace set not present: " + TRACES);
    List<Path> files;
    try (Stream<Path> list = Files.list(TRACES)) {
      files = list.filter(p -> p.toString().endsWith(".log")).sorted().toList();
    }
    assertThat(files).isNotEmpty();

    for (Path file : files) {
      BandwidthTrace trace = BandwidthTrace.parse(file);
      // Most files are slices of longer logs starting at an offset; times are shifted to 0.
      assertThat(trace.samples().get(0).timeSeconds()).as(file.toString()).isZero();
      assertThat(trace.duration()).as(file.toString()).isPositive();
      assertThat(trace.mean()).as(file.toString()).isBetween(0.01, 20.0);
    }
  }

  @Test
  void rateAt_isPiecewiseConstantUntilTheNextSample() {
    BandwidthTrace trace = BandwidthTrace.of(0, 4.0, 1.5, 1.0, 3, 2.0);

    assertThat(trace.rateAt(0)).isEqualTo(4.0);
    assertThat(trace.rateAt(1.4999)).isEqualTo(4.0);
    assertThat(trace.rateAt(1.5)).isEqualTo(1.0);
    assertThat(trace.rateAt(2.9)).isEqualTo(1.0);
    assertThat(trace.rateAt(3)).isEqualTo(2.0);
    assertThat(trace.rateAt(100)).isEqualTo(2.0);
    assertThat(trace.duration()).isEqualTo(Duration.ofSeconds(3));
    // The last sample opens no interval within the duration: (4 * 1.5 + 1 * 1.5) / 3.
    assertThat(trace.mean()).isCloseTo(2.5, within(1e-12));
  }

  @Test
  void parse_timesAreRelativeToTheFirstSample() {
    BandwidthTrace trace =
        BandwidthTrace.parse("offset.log", List.of("10.0 1.0", "12.0 3.0", "13 5"));

    assertThat(trace.samples())
        .containsExactly(
            new BandwidthTrace.Sample(0, 1.0),
            new BandwidthTrace.Sample(2, 3.0),
            new BandwidthTrace.Sample(3, 5.0));
    assertThat(trace.rateAt(2.5)).isEqualTo(3.0);
    assertThat(trace.duration()).isEqualTo(Duration.ofSeconds(3));
  }

  @Test
  void parse_acceptsTabsRepeatedSpacesBlankLinesAndExponents() {
    BandwidthTrace trace =
        BandwidthTrace.parse("loose.log", List.of("", "0\t1.5", "   ", "  2.5    2e-1  ", ""));

    assertThat(trace.samples())
        .containsExactly(new BandwidthTrace.Sample(0, 1.5), new BandwidthTrace.Sample(2.5, 0.2));
  }

  @Test
  void oneSample_hasZeroDurationAndItsRateAsMean() {
    BandwidthTrace trace = BandwidthTrace.of(0, 3.0);

    assertThat(trace.duration()).isZero();
    assertThat(trace.mean()).isEqualTo(3.0);
    assertThat(trace.rateAt(7)).isEqualTo(3.0);
  }

  static Stream<Arguments> malformedLines() {
    String fields = "bad.log line 3: expected 2 fields 'time_seconds throughput_mbit_per_second', ";
    String rate = "bad.log line 3: throughput_mbit_per_second ";
    String order =
        "bad.log line 3: time_seconds must be after the previous sample's (line 2, 2.0): ";
    return Stream.of(
        Arguments.of("1.5", fields + "got 1: '1.5'"),
        Arguments.of("4 1.0 7", fields + "got 3: '4 1.0 7'"),
        Arguments.of("4 fast", rate + "is not a number: 'fast'"),
        Arguments.of("NaN 1.0", "bad.log line 3: time_seconds is not a number: 'NaN'"),
        Arguments.of("4 Infinity", rate + "is not a number: 'Infinity'"),
        Arguments.of("4 1.0d", rate + "is not a number: '1.0d'"),
        Arguments.of("4 -1.0", rate + "must be finite and >= 0: -1.0"),
        Arguments.of("2 1.0", order + "2.0"),
        Arguments.of("1 1.0", order + "1.0"));
  }

  @ParameterizedTest
  @MethodSource("malformedLines")
  void parse_rejectsMalformedLine_namingTheLine(String badLine, String message, @TempDir Path dir)
      throws IOException {
    Path file = dir.resolve("bad.log");
    Files.write(file, List.of("0 1.0", "2 1.5", badLine, "9 2.0"), StandardCharsets.UTF_8);

    assertThatThrownBy(() -> BandwidthTrace.parse(file))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage(message);
  }

  @Test
  void parse_rejectsFileWithoutSamples(@TempDir Path dir) throws IOException {
    Path file = dir.resolve("empty.log");
    Files.write(file, List.of("", "  "), StandardCharsets.UTF_8);

    assertThatThrownBy(() -> BandwidthTrace.parse(file))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("empty.log: no samples");
  }

  @Test
  void of_rejectsOddCountAndDecreasingTimes() {
    assertThatThrownBy(() -> BandwidthTrace.of(0, 1.0, 2))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("timeAndRatePairs must hold a positive, even number of values: 3");
    assertThatThrownBy(() -> BandwidthTrace.of(0, 1.0, 0, 2.0))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("sample 2: time_seconds must be after the previous sample's (0.0): 0.0");
    assertThatThrownBy(() -> BandwidthTrace.of(0, Double.NaN))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("sample 1: mbit_per_second must be finite and >= 0: NaN");
  }

  @Test
  void rateAt_rejectsNegativeTime() {
    BandwidthTrace trace = BandwidthTrace.of(0, 1.0);

    assertThatThrownBy(() -> trace.rateAt(-0.5))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("seconds must be finite and >= 0: -0.5");
  }
}
