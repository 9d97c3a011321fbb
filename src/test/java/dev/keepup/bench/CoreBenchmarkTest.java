package dev.keepup.bench;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** The benchmark's statistics; the benchmark itself runs from bench/run-core.sh. */
final class CoreBenchmarkTest {

  @Test
  void clientLabel_namesWhatMakesTurnsIncomparable() {
    assertThat(CoreBenchmark.clientLabel(CoreBenchmark.ClientKind.JDK, null, false, null)).isEqualTo("jdk");
    assertThat(CoreBenchmark.clientLabel(CoreBenchmark.ClientKind.JDK, null, false, -1L))
        .isEqualTo("jdk+idle-1");
    assertThat(CoreBenchmark.clientLabel(CoreBenchmark.ClientKind.JDK, null, true, -1L))
        .isEqualTo("jdk+threadcount+idle-1");
    assertThat(CoreBenchmark.clientLabel(CoreBenchmark.ClientKind.PROCESS, "0,1", false, null))
        .isEqualTo("process@cpu0;1");
    assertThat(CoreBenchmark.clientLabel(CoreBenchmark.ClientKind.PROCESS, null, false, 60000L))
        .isEqualTo("process@any+idle60000");
    assertThat(CoreBenchmark.clientLabel(CoreBenchmark.ClientKind.SOCKET, null, false, null))
        .isEqualTo("socket");
  }

  @Test
  void threadGroup_putsEachVariantsSendingLoopTogether() {
    assertThat(CoreBenchmark.threadGroup("bench-start")).isEqualTo("sending loop");
    assertThat(CoreBenchmark.threadGroup("keepup-scheduler-2")).isEqualTo("sending loop");
    assertThat(CoreBenchmark.threadGroup("grizzly-nio-kernel(1) SelectorRunner")).isEqualTo("sending loop");
    assertThat(CoreBenchmark.threadGroup("HttpClient-1-SelectorManager")).isEqualTo("JDK client");
    assertThat(CoreBenchmark.threadGroup("HttpClient-1-Worker-0")).isEqualTo("JDK client");
    assertThat(CoreBenchmark.threadGroup("tyrus-1-thread-3")).isEqualTo("Tyrus pool");
    assertThat(CoreBenchmark.threadGroup("keepup-ping-1")).isEqualTo("keepup pings");
    assertThat(CoreBenchmark.threadGroup("main")).isEqualTo("other Java threads");
  }

  @Test
  void medianConfidenceRanks_matchTheBinomialTable() {
    // 1-based ranks from the binomial distribution: n = 10 -> 2..9, n = 32 -> 10..23,
    // n = 144 -> 60..85 (coverage 97.9%, 98.0% and 96.3%); below 6 the whole range.
    assertThat(CoreBenchmark.medianConfidenceRanks(10)).containsExactly(1, 8);
    assertThat(CoreBenchmark.medianConfidenceRanks(32)).containsExactly(9, 22);
    assertThat(CoreBenchmark.medianConfidenceRanks(144)).containsExactly(59, 84);
    assertThat(CoreBenchmark.medianConfidenceRanks(5)).containsExactly(0, 4);
    assertThat(CoreBenchmark.medianConfidenceRanks(6)).containsExactly(0, 5);
  }

  @Test
  void medianConfidenceRanks_coverAtLeast95Percent() {
    for (int n = 6; n <= 200; n++) {
      int[] ranks = CoreBenchmark.medianConfidenceRanks(n);
      // Coverage of [X(lo+1), X(hi+1)]: P(lo + 1 <= B <= hi), B ~ Binomial(n, 1/2).
      double coverage = 0;
      double pmf = Math.pow(0.5, n);
      for (int k = 0; k <= n; k++) {
        if (k >= ranks[0] + 1 && k <= ranks[1]) {
          coverage += pmf;
        }
        pmf = pmf * (n - k) / (k + 1);
      }
      assertThat(coverage).as("n = %d", n).isGreaterThanOrEqualTo(0.95);
    }
  }
}
