package dev.keepup.sim;

import dev.keepup.Frame;
import dev.keepup.FrameSource;
import dev.keepup.PacedSender;
import dev.keepup.SenderStats;
import dev.keepup.SkipReason;
import java.util.Locale;
import java.util.Objects;
import java.util.function.Function;
import java.util.function.UnaryOperator;

/**
 * The real {@link PacedSender} over the simulated session, configured by a {@code
 * PacedSender.Builder} configurator. The simulator sets the session, the source, the virtual
 * clock and scheduler, an inline ping executor and {@code targetFps} (the ladder's frame rate);
 * the configurator may change anything else, including those.
 *
 * <p>A sender built without a ladder asks its source for rendition 0. With {@code
 * servedRendition} set, the source is wrapped so that such a sender gets that rendition's
 * frames instead (the {@link FrameSource} contract allows a source to return another
 * rendition); with it unset, renditions pass through, which is what a policy-driven sender
 * needs.
 */
final class KeepupStrategy implements Strategy {
  /** Marks "no fixed rendition: pass the sender's choice through". */
  static final int PASS_THROUGH = Integer.MIN_VALUE;
  /** Marks "the ladder's top rendition". */
  static final int TOP = -1;

  private final String name;
  private final Function<SimLadder, UnaryOperator<PacedSender.Builder>> configurator;
  private final int servedRendition;

  KeepupStrategy(String name, Function<SimLadder, UnaryOperator<PacedSender.Builder>> configurator, int servedRendition) {
    this.name = Objects.requireNonNull(name, "name");
    this.configurator = Objects.requireNonNull(configurator, "configurator");
    this.servedRendition = servedRendition;
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public Running start(Context context) {
    FrameSource source = context.source();
    if (servedRendition != PASS_THROUGH) {
      int served = servedRendition == TOP ? context.ladder().top() : Math.min(servedRendition, context.ladder().top());
      SimSource simSource = context.source();
      source = new FrameSource() {
        @Override
        public Frame poll(int rendition) {
          return simSource.poll(served);
        }

        @Override
        public void requestKeyFrame(int rendition) {
          simSource.requestKeyFrame(rendition);
        }
      };
    }
    PacedSender.Builder builder = PacedSender.newBuilder(context.session())
        .source(source)
        .ticker(context.ticker())
        .scheduler(context.scheduler())
        .targetFps(context.ladder().fps());
    if (context.pingExecutor() != null) {
      builder.pingExecutor(context.pingExecutor());
    }
    builder = configurator.apply(context.ladder()).apply(builder);
    PacedSender sender = builder.build();
    sender.start();
    return new Running() {
      @Override
      public void stop() {
        sender.close();
      }

      @Override
      public String notes() {
        SenderStats s = sender.stats();
        return String.format(Locale.ROOT,
            "taken=%d sent=%d superseded=%d stale=%d broken=%d awaiting_key=%d keys_requested=%d pings=%d acks=%d"
                + " rate_mbps=%.2f min_rtt_ms=%d verdict=%s",
            s.framesTaken(), s.framesSent(), s.skipped(SkipReason.SUPERSEDED), s.skipped(SkipReason.STALE),
            s.skipped(SkipReason.BROKEN_REFERENCE), s.skipped(SkipReason.AWAITING_KEY),
            context.source().keyFramesRequested(), s.pingsSent(), s.acksAccepted(),
            s.signals().deliveryRateBitsPerSecond() / 1e6, s.signals().minRtt().toMillis(), s.signals().verdict());
      }
    };
  }
}
