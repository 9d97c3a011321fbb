package dev.keepup.sim;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Turns run results into the simulator's CSV (one row per trace and strategy) and Markdown
 * (one table per trace set, one row per strategy).
 *
 * <p>Aggregates per strategy over a set's traces:
 * <ul>
 *   <li>live QoE/s: each trace's live QoE divided by its seconds, averaged over traces;
 *   <li>of oracle: the live QoE summed over all traces over the oracle's sum (the figure to
 *       push up; DESIGN.md's target for the default policy is 0.75);
 *   <li>Pensieve QoE/s: as live QoE/s, for Pensieve's linear QoE (no latency term);
 *   <li>Mbit/s and fps: of decodable frames, averaged over traces;
 *   <li>p95 age: each trace's 95th percentile of frame age, median over traces; and the
 *       fraction of traces whose p95 is at most 500 ms (target: 95%);
 *   <li>stall %: stall time over play time, all traces pooled;
 *   <li>switches/min: rendition switches over minutes, all traces pooled;
 *   <li>util: delivered bits over the bits the traces offered, pooled.
 * </ul>
 */
public final class Report {
  private Report() {}

  /** One strategy's aggregate over a set. */
  public record Row(String strategy, int traces, double qoePerSecond, double oracleFraction,
      double pensievePerSecond, double mbps, double fps, double medianP95AgeMillis,
      double fractionP95Within500, double stallPercent, double switchesPerMinute, double utilisation) {}

  /** Aggregates {@code results} of one set, strategies in first-seen order, the oracle first. */
  public static List<Row> aggregate(List<SimRun.Result> results) {
    Map<String, List<SimRun.Result>> byStrategy = new LinkedHashMap<>();
    Map<String, SimRun.Result> oracleByTrace = new LinkedHashMap<>();
    for (SimRun.Result r : results) {
      if (r.strategy().equals("oracle")) {
        oracleByTrace.put(r.trace(), r);
      }
    }
    if (!oracleByTrace.isEmpty()) {
      byStrategy.put("oracle", new ArrayList<>(oracleByTrace.values()));
    }
    for (SimRun.Result r : results) {
      if (!r.strategy().equals("oracle")) {
        byStrategy.computeIfAbsent(r.strategy(), k -> new ArrayList<>()).add(r);
      }
    }
    List<Row> rows = new ArrayList<>();
    for (Map.Entry<String, List<SimRun.Result>> e : byStrategy.entrySet()) {
      List<SimRun.Result> runs = e.getValue();
      int n = runs.size();
      double qoePs = 0, pensievePs = 0, mbps = 0, fps = 0, qoeSum = 0, oracleSum = 0;
      double stall = 0, seconds = 0, switches = 0, delivered = 0, offered = 0;
      int within = 0;
      double[] p95 = new double[n];
      for (int i = 0; i < n; i++) {
        SimRun.Result r = runs.get(i);
        QoeMeter.Metrics m = r.metrics();
        qoePs += m.qoe() / m.windows();
        pensievePs += m.pensieveQoe() / m.windows();
        mbps += m.shownMbps();
        fps += m.shownFps();
        qoeSum += m.qoe();
        SimRun.Result oracle = oracleByTrace.get(r.trace());
        oracleSum += oracle != null ? oracle.metrics().qoe() : Double.NaN;
        stall += m.stallSeconds();
        seconds += m.windows();
        switches += m.switches();
        delivered += r.deliveredBits();
        offered += r.offeredBits();
        p95[i] = m.ageP95Millis();
        if (m.ageP95Millis() <= 500) {
          within++;
        }
      }
      Arrays.sort(p95);
      double median = n == 0 ? Double.NaN
          : n % 2 == 1 ? p95[n / 2] : (p95[n / 2 - 1] + p95[n / 2]) / 2;
      rows.add(new Row(e.getKey(), n, qoePs / n, qoeSum / oracleSum, pensievePs / n, mbps / n, fps / n,
          median, within / (double) n, 100 * stall / seconds, switches / (seconds / 60),
          offered > 0 ? delivered / offered : Double.NaN));
    }
    return rows;
  }

  /** The Markdown table of {@code rows}. */
  public static String markdownTable(List<Row> rows) {
    StringBuilder out = new StringBuilder();
    out.append("| strategy | live QoE/s | of oracle | Pensieve QoE/s | Mbit/s | fps | p95 age (median) "
        + "| p95 age <= 500 ms | stall % | switches/min | util |\n");
    out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (Row r : rows) {
      out.append(String.format(Locale.ROOT, "| %s | %.3f | %.2f | %.3f | %.2f | %.1f | %s | %.0f%% | %.1f | %.1f | %.2f |%n",
          r.strategy(), r.qoePerSecond(), r.oracleFraction(), r.pensievePerSecond(), r.mbps(), r.fps(),
          millis(r.medianP95AgeMillis()), 100 * r.fractionP95Within500(), r.stallPercent(),
          r.switchesPerMinute(), r.utilisation()));
    }
    return out.toString();
  }

  private static String millis(double ms) {
    if (Double.isInfinite(ms)) {
      return "n/a";
    }
    return ms >= 10_000 ? String.format(Locale.ROOT, "%.1f s", ms / 1000) : String.format(Locale.ROOT, "%.0f ms", ms);
  }

  /** The CSV header. */
  public static String csvHeader() {
    return "set,trace,strategy,seconds,qoe,qoe_per_s,oracle_qoe,qoe_of_oracle,pensieve_qoe,pensieve_per_s,"
        + "bitrate_term,stall_term,switch_term,latency_term,shown_mbps,delivered_mbps,shown_fps,delivered_frames,"
        + "undecodable_frames,age_p50_ms,age_p95_ms,age_max_ms,stall_s,stall_pct,switches,switches_per_min,"
        + "utilisation,notes";
  }

  /** One CSV row; {@code oracle} is the same trace's oracle result, or null. */
  public static String csvRow(SimRun.Result r, SimRun.Result oracle) {
    QoeMeter.Metrics m = r.metrics();
    double oracleQoe = oracle != null ? oracle.metrics().qoe() : Double.NaN;
    return String.join(",",
        csv(r.set()), csv(r.trace()), csv(r.strategy()), String.valueOf(m.windows()),
        f(m.qoe()), f(m.qoe() / m.windows()), f(oracleQoe), f(m.qoe() / oracleQoe),
        f(m.pensieveQoe()), f(m.pensieveQoe() / m.windows()),
        f(m.bitrateTerm()), f(m.stallTerm()), f(m.switchTerm()), f(m.latencyTerm()),
        f(m.shownMbps()), f(m.deliveredMbps()), f(m.shownFps()), String.valueOf(m.deliveredFrames()),
        String.valueOf(m.undecodableFrames()), f(m.ageP50Millis()), f(m.ageP95Millis()), f(m.ageMaxMillis()),
        f(m.stallSeconds()), f(100 * m.stallSeconds() / m.windows()), String.valueOf(m.switches()),
        f(m.switchesPerMinute()), f(r.utilisation()), csv(r.notes()));
  }

  private static String f(double v) {
    if (Double.isNaN(v)) {
      return "";
    }
    if (Double.isInfinite(v)) {
      return v > 0 ? "inf" : "-inf";
    }
    return String.format(Locale.ROOT, "%.4f", v);
  }

  private static String csv(String s) {
    if (s.contains(",") || s.contains("\"") || s.contains("\n")) {
      return '"' + s.replace("\"", "\"\"") + '"';
    }
    return s;
  }
}
