package dev.keepup.demo;

import java.util.Locale;

/** Writes one flat JSON object: enough for the demo's few messages, with no library. */
final class Json {
  private final StringBuilder out = new StringBuilder("{");

  Json put(String key, String value) {
    return putRaw(key, quote(value));
  }

  Json put(String key, long value) {
    return putRaw(key, Long.toString(value));
  }

  Json put(String key, double value) {
    if (!Double.isFinite(value)) {
      return putRaw(key, "null");
    }
    return putRaw(key, value == Math.rint(value) && Math.abs(value) < 1e15
        ? Long.toString((long) value) : String.format(Locale.ROOT, "%s", value));
  }

  /** Puts a value that is already JSON. */
  Json putRaw(String key, String json) {
    if (out.length() > 1) {
      out.append(',');
    }
    out.append(quote(key)).append(':').append(json);
    return this;
  }

  static String quote(String value) {
    StringBuilder quoted = new StringBuilder(value.length() + 2).append('"');
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      switch (c) {
        case '"' -> quoted.append("\\\"");
        case '\\' -> quoted.append("\\\\");
        case '\n' -> quoted.append("\\n");
        case '\r' -> quoted.append("\\r");
        case '\t' -> quoted.append("\\t");
        default -> {
          if (c < 0x20) {
            quoted.append(String.format(Locale.ROOT, "\\u%04x", (int) c));
          } else {
            quoted.append(c);
          }
        }
      }
    }
    return quoted.append('"').toString();
  }

  @Override
  public String toString() {
    return out + "}";
  }
}
