package dev.keepup.sim;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.keepup.net.BandwidthTrace;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every built-in strategy over the three FCC/HSDPA traces in {@code src/test/resources/traces}:
 * the sanity of the whole pipeline (a second or two of CPU).
 */
final class SimulatorTest {
  private static final String CONSTRAINED = "tram.jernbanetorget-ljabru-report.2010-12-09_1222CET_part6.log";
  private static final String MEDIAN = "norway_ferry_5_part2.log";
  private static final String FAST = "norway_ferry_6_part5.log";

  private static List<Simulator.TraceEntry> traces;
  private static List<SimRun.Result> results;

  @BeforeAll
  static void runAll() throws IOException, URISyntaxException {
    Path dir = Path.of(SimulatorTest.class.getResource("/traces/LICENSE").toURI()).getParent();
    traces = Simulator.loadFolder(dir, Integer.MAX_VALUE);
    results = Simulator.runAll(traces, Strategies.builtIns(), SimRun.Config.DEFAULT, 2, null);
  }

  private static SimRun.Result result(String trace, String strategy) {
    return results.stream().filter(r -> r.trace().equals(trace) && r.strategy().equals(strategy)).findFirst().orElseThrow();
  }

  @Test
  void loadFolder_readsTheTraces_skippingLicenceAndReadme() {
    assertThat(traces).extracting(Simulator.TraceEntry::name).containsExactly(MEDIAN, FAST, CONSTRAINED);
    assertThat(traces).extracting(Simulator.TraceEntry::set).containsOnly("traces");
    assertThat(results).hasSize(3 * (1 + Strategies.builtIns().size()));
  }

  @Test
  void oracle_scoresHighest_overTheSet_andOnEachTraceAgainstEveryBaseline() {
    Map<String, Double> sums = results.stream()
        .collect(Collectors.groupingBy(SimRun.Result::strategy, Collectors.summingDouble(r -> r.metrics().qoe())));
    double oracle = sums.remove("oracle");
    assertThat(sums.values()).allSatisfy(sum -> assertThat(sum).isLessThan(oracle));
    // Per trace against the baselines. Not against keepup at a fixed top rendition: on the fast
    // trace it delivers 4.3 Mbit/s frames at a lower frame rate, more Mbit/s than the oracle's
    // full-rate 1.85/2.85, and the QoE formula rewards bits whatever the frame rate.
    for (Simulator.TraceEntry t : traces) {
      double ceiling = result(t.name(), "oracle").metrics().qoe();
      for (String baseline : List.of("await-each-send", "fixed-rate", "drop-oldest-512k", "lag-to-quality")) {
        assertThat(result(t.name(), baseline).metrics().qoe()).as("%s on %s", baseline, t.name()).isLessThan(ceiling);
      }
    }
    assertThat(result(CONSTRAINED, "keepup").metrics().qoe()).isLessThan(result(CONSTRAINED, "oracle").metrics().qoe());
  }

  @Test
  void awaitEachSend_hidesSecondsInTheKernelBuffer_keepupDoesNot() {
    for (String trace : List.of(CONSTRAINED, MEDIAN)) {
      double await = result(trace, "await-each-send").metrics().ageP95Millis();
      double keepup = result(trace, "keepup").metrics().ageP95Millis();
      assertThat(await).as(trace).isGreaterThan(1_000);
      assertThat(keepup).as(trace).isLessThan(await / 4);
    }
    assertThat(result(MEDIAN, "fixed-rate").metrics().ageP95Millis())
        .as("an unbounded queue is worse still").isGreaterThan(result(MEDIAN, "await-each-send").metrics().ageP95Millis());
  }

  @Test
  void oracle_hasNoStallsAndOnlyThePropagationDelay() {
    for (Simulator.TraceEntry t : traces) {
      QoeMeter.Metrics m = result(t.name(), "oracle").metrics();
      assertThat(m.stallSeconds()).isZero();
      assertThat(m.ageMaxMillis()).isCloseTo(20, within(1e-6));
      assertThat(m.latencyTerm()).isLessThan(0.001 * m.windows());
    }
  }

  @Test
  void utilisation_isAFractionOfTheTrace() {
    for (SimRun.Result r : results) {
      // The adapting senders sit below the link on purpose: a rendition needs 0.7-0.8 of the
      // estimate to be climbed to, and the ladder's steps are 1.5-2.5x apart. The delay policy
      // falls to the bottom at 80 ms of lag (docs/adaptation.md), the bottom rendition alone
      // being 0.3 Mbit/s.
      double floor = r.strategy().equals("keepup-delay") ? 0.1
          : r.strategy().startsWith("keepup-throughput") || r.strategy().equals("keepup") ? 0.2 : 0.3;
      assertThat(r.utilisation()).as(r.strategy() + " on " + r.trace()).isBetween(floor, 1.0 + 1e-6);
    }
  }

  @Test
  void defaultPolicy_holdsTheEvaluationTargets_onTheBundledTraces() {
    // A guard against regressions, not the measurement (bench/run-sim.sh over 117 traces).
    // Per trace: p95 frame age within 500 ms, stall under 2% (1% over the set; one trace is a
    // small sample), at least 0.6 of the oracle (0.85 over the set), and above every
    // hand-written baseline. Over the three traces: above every other keepup policy.
    Map<String, Double> sums = results.stream()
        .collect(Collectors.groupingBy(SimRun.Result::strategy, Collectors.summingDouble(r -> r.metrics().qoe())));
    for (Simulator.TraceEntry t : traces) {
      QoeMeter.Metrics m = result(t.name(), "keepup").metrics();
      assertThat(m.ageP95Millis()).as(t.name()).isLessThanOrEqualTo(500);
      assertThat(m.stallSeconds()).as(t.name()).isLessThan(0.02 * m.windows());
      assertThat(m.qoe()).as(t.name()).isGreaterThan(0.6 * result(t.name(), "oracle").metrics().qoe());
      for (String baseline : List.of("await-each-send", "fixed-rate", "drop-oldest-512k", "lag-to-quality")) {
        assertThat(m.qoe()).as("keepup vs %s on %s", baseline, t.name())
            .isGreaterThan(result(t.name(), baseline).metrics().qoe());
      }
    }
    for (String policy : List.of("keepup-no-ladder", "keepup-fixed", "keepup-throughput", "keepup-delay")) {
      assertThat(sums.get("keepup")).as("keepup vs %s over the three traces", policy).isGreaterThan(sums.get(policy));
    }
  }

  @Test
  void results_areDeterministic_whateverThePool() {
    List<Simulator.TraceEntry> fast = traces.stream().filter(t -> t.name().equals(FAST)).toList();
    List<SimRun.Result> again = Simulator.runAll(fast, Strategies.builtIns(), SimRun.Config.DEFAULT, 1, null);
    for (SimRun.Result r : again) {
      assertThat(r.metrics().qoe()).as(r.strategy()).isEqualTo(result(FAST, r.strategy()).metrics().qoe());
    }
  }

  @Test
  void writesCsvAndMarkdown(@TempDir Path dir) throws IOException {
    Simulator.writeCsv(dir.resolve("results.csv"), results);
    List<String> csv = Files.readAllLines(dir.resolve("results.csv"));
    assertThat(csv).hasSize(1 + results.size());
    assertThat(csv.get(0)).startsWith("set,trace,strategy,seconds,qoe,");
    assertThat(csv.get(1).split(",", -1).length).isGreaterThanOrEqualTo(csv.get(0).split(",").length);
    String md = Simulator.markdown(results, SimRun.Config.DEFAULT, Strategies.builtIns(), 1.5, 2);
    assertThat(md).contains("## traces (3 traces)", "| oracle | ", "| keepup | ", "| 1.00 |");
  }

  @Test
  void parseBytes_acceptsSuffixes() {
    assertThat(Simulator.parseBytes("700k")).isEqualTo(700_000);
    assertThat(Simulator.parseBytes("4m")).isEqualTo(4_000_000);
    assertThat(Simulator.parseBytes("0.7M")).isEqualTo(700_000);
    assertThat(Simulator.parseBytes("65536")).isEqualTo(65_536);
  }

  @Test
  void synthetic_tracesAre120Seconds() {
    assertThat(Simulator.synthetic()).hasSize(6).allSatisfy(t -> assertThat(SimRun.windows(t.trace())).isEqualTo(120));
    BandwidthTrace ramp = Simulator.synthetic().get(4).trace();
    assertThat(ramp.rateAt(0)).isEqualTo(6.0);
    assertThat(ramp.rateAt(119.5)).isCloseTo(0.2, within(1e-9));
  }
}
