package dev.keepup;

import java.util.Objects;

/**
 * What a policy chose: the rendition to stream, the frame rate to take frames at, and why.
 *
 * @param rendition the ladder index (0 = cheapest)
 * @param framesPerSecond how often the source is asked for a frame; at most the sender's target
 * @param reason a short, stable word or phrase for logs and stats ("hold", "throughput", ...)
 */
public record Decision(int rendition, double framesPerSecond, String reason) {
  /** Checks the values. */
  public Decision {
    Objects.requireNonNull(reason, "reason");
    if (rendition < 0) {
      throw new IllegalArgumentException("rendition must be >= 0: " + rendition);
    }
    if (!(framesPerSecond > 0 && framesPerSecond <= 1000)) {
      throw new IllegalArgumentException("framesPerSecond must be in (0, 1000]: " + framesPerSecond);
    }
  }

  /** Returns whether this decision streams the same rendition at the same rate as {@code other}. */
  public boolean sameAs(Decision other) {
    return other != null && rendition == other.rendition && framesPerSecond == other.framesPerSecond;
  }
}
