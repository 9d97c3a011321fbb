package dev.keepup.internal.policy;

import dev.keepup.AdaptationPolicy;
import dev.keepup.Decision;

/** One rendition, one frame rate, whatever happens: the baseline. */
public final class FixedPolicy implements AdaptationPolicy {
  private final Decision decision;

  public FixedPolicy(Decision decision) {
    this.decision = decision;
  }

  @Override
  public Decision decide(Context context) {
    return decision;
  }
}
