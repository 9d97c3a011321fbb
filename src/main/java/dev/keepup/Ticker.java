package dev.keepup;

/**
 * A monotonic clock in nanoseconds, injected so that pacing and estimators can be tested in
 * virtual time.
 *
 * <p>Only differences between readings are meaningful, as with {@link System#nanoTime()}.
 */
@FunctionalInterface
public interface Ticker {

  /** Returns the current reading in nanoseconds. */
  long read();

  /** Returns the ticker backed by {@link System#nanoTime()}, the default everywhere. */
  static Ticker system() {
    return System::nanoTime;
  }
}
