package dev.keepup.demo;

import java.util.Locale;

/** Human-readable rates for the console. */
final class Format {
  private Format() {}

  /** A rate in bits per second: "850 kbit/s", "4.2 Mbit/s". */
  static String rate(long bitsPerSecond) {
    if (bitsPerSecond < 1_000_000) {
      return String.format(Locale.ROOT, "%d kbit/s", Math.round(bitsPerSecond / 1e3));
    }
    return String.format(Locale.ROOT, "%.1f Mbit/s", bitsPerSecond / 1e6);
  }

  /** A link's limit: "unlimited" or its rate. */
  static String link(long bitsPerSecond) {
    return bitsPerSecond == ThrottledLink.UNLIMITED ? "unlimited" : rate(bitsPerSecond);
  }
}
