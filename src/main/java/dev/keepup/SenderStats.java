package dev.keepup;

import java.time.Duration;
import java.util.Map;

/**
 * An immutable snapshot of one sender's counters, taken by {@link PacedSender#stats()}.
 *
 * <p>Every frame taken from the source is in exactly one place, so
 * {@code framesTaken == framesCompleted + framesFailed + framesSkipped() + framesPending +
 * framesInFlight} holds in every snapshot.
 *
 * @param framesTaken frames returned by the source
 * @param framesSent frames handed to the container
 * @param framesCompleted frames the container reported sent
 * @param framesFailed frames the container reported failed
 * @param skipped frames never sent, by reason (every reason present, zero if none)
 * @param framesPending frames waiting for the transport
 * @param framesInFlight frames handed to the container and not yet reported (0 or 1)
 * @param bytesSent payload bytes handed to the container
 * @param bytesCompleted payload bytes the container reported sent
 * @param bytesInFlight payload bytes handed to the container and not yet reported
 * @param achievedFps completed frames per second, averaged over about the last second
 * @param sendLatencyAvg send latency (hand-over to completion), exponentially averaged
 * @param sendLatencyMax the longest send latency seen
 * @param sourceFailures times the source threw or returned a frame that was rejected
 * @param pingsSent pings handed to the container
 * @param acksAccepted pongs and client acks that acknowledged frames
 * @param pongsIgnored pongs that were not this sender's, repeated, or went backwards
 * @param acksRejected client acks that were malformed, went backwards, or acked more than was
 *     sent, and acks of either kind shed as a flood (beyond four per frame plus 64 a second)
 * @param signals what the sender knows about how well the client keeps up
 * @param decision the policy's decision in force (rendition and frame rate)
 * @param rendition the rendition being sent: the decision's, once its keyframe went out; -1
 *     before the first keyframe
 * @param renditionSwitches switches of the rendition being sent
 * @param policyFailures times the policy threw or returned an invalid decision
 * @param stopReason why the sender stopped, or {@code null} while it runs
 */
public record SenderStats(
    long framesTaken,
    long framesSent,
    long framesCompleted,
    long framesFailed,
    Map<SkipReason, Long> skipped,
    int framesPending,
    int framesInFlight,
    long bytesSent,
    long bytesCompleted,
    long bytesInFlight,
    double achievedFps,
    Duration sendLatencyAvg,
    Duration sendLatencyMax,
    long sourceFailures,
    long pingsSent,
    long acksAccepted,
    long pongsIgnored,
    long acksRejected,
    Signals signals,
    Decision decision,
    int rendition,
    long renditionSwitches,
    long policyFailures,
    StopReason stopReason) {

  /** Copies the map, so the snapshot stays immutable. */
  public SenderStats {
    skipped = Map.copyOf(skipped);
  }

  /** Returns the number of frames skipped for any reason. */
  public long framesSkipped() {
    long total = 0;
    for (long count : skipped.values()) {
      total += count;
    }
    return total;
  }

  /** Returns the frames skipped for {@code reason}. */
  public long skipped(SkipReason reason) {
    return skipped.getOrDefault(reason, 0L);
  }

  /** Returns whether every frame taken is accounted for exactly once. */
  public boolean isBalanced() {
    return framesTaken
        == framesCompleted + framesFailed + framesSkipped() + framesPending + framesInFlight;
  }
}
