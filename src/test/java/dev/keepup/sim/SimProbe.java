package dev.keepup.sim;

import dev.keepup.*;
import dev.keepup.net.BandwidthTrace;
import dev.keepup.testing.VirtualTime;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.*;

public final class SimProbe {
  public static void main(String[] args) {
    for (String mode : (args.length > 0 ? args : new String[] {"completion", "pings", "acks"})) {
      for (double mbps : new double[] {2.0, 0.5, 8.0}) {
        run(mode, mbps, 50_000, 30);
      }
    }
  }

  static void run(String mode, double mbps, int size, double fps) {
    VirtualTime time = new VirtualTime();
    SimulatedLink link = new SimulatedLink(time, BandwidthTrace.of(0, mbps), 20_000_000L, 700_000);
    List<long[]> arrivals = new ArrayList<>();
    long start = time.read();
    link.client((data, at) -> arrivals.add(new long[] {at, data.getLong(0)}));
    if (mode.equals("acks")) link.clientAcks(true);
    FrameSource source = r -> {
      ByteBuffer b = ByteBuffer.allocate(size);
      b.putLong(0, time.read());
      return Frame.of(b, time.read());
    };
    PacedSender.Builder builder = PacedSender.newBuilder(link.session()).source(source).ticker(time).scheduler(time)
        .pingExecutor(Runnable::run).targetFps(fps);
    if (mode.equals("completion")) builder.pingEvery(0);
    if (mode.equals("acks")) builder.pingEvery(0).clientAcks(true);
    PacedSender sender = builder.build();
    sender.start();
    StringBuilder out = new StringBuilder();
    for (int sec = 1; sec <= 20; sec++) {
      final int s = sec;
      time.advance(Duration.ofSeconds(1));
      if (s == 5 || s == 10 || s == 20) {
        long from = start + (s - 1) * 1_000_000_000L;
        double[] ages = arrivals.stream().filter(a -> a[0] >= start + 2_000_000_000L && a[0] <= start + s * 1_000_000_000L).mapToDouble(a -> (a[0] - a[1]) / 1e6).sorted().toArray();
        long recent = arrivals.stream().filter(a -> a[0] >= from).count();
        out.append(String.format(" t=%ds p50=%.0f p95=%.0f fps=%d", s, pct(ages, 50), pct(ages, 95), recent));
      }
    }
    SenderStats st = sender.stats();
    System.out.printf("%-10s %4.1f Mbit/s:%s rate=%.2f Mbit/s minRtt=%dms qd=%dms verdict=%s util=%.2f%n", mode, mbps, out,
        st.signals().deliveryRateBitsPerSecond() / 1e6, st.signals().minRtt().toMillis(), st.signals().queueDelay().toMillis(),
        st.signals().verdict(), link.bytesDelivered() * 8 / link.bitsOffered());
  }

  static double pct(double[] v, double p) {
    if (v.length == 0) return Double.NaN;
    return v[(int) Math.min(v.length - 1, Math.floor(p / 100 * v.length))];
  }
}
