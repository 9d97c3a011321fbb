package dev.keepup;

import java.time.Duration;

/**
 * What the sender knows about how well one client keeps up: an immutable snapshot, the input
 * of every {@link AdaptationPolicy} decision and part of {@link SenderStats}.
 *
 * <p>Figures come from three signals, weakest to strongest: send completion (any client),
 * pongs to the pings the sender puts after frames (any RFC 6455 client), and acks from the
 * shipped JavaScript client. A figure no signal could measure yet is zero; {@link #acked()}
 * tells whether any ack has arrived at all. See {@code docs/signals.md}.
 *
 * @param verdict the summary: keeping up, falling behind, or stalled
 * @param deliveryRateBitsPerSecond delivered bits per second, estimated from acks (0 if unknown)
 * @param latestRateBitsPerSecond the newest rate sample taken while the link, not the stream,
 *     was the limit (a sample that queued on the way counts as such; a later, higher sample of
 *     any kind replaces it), or, while the oldest unacked frame is overdue, the upper bound its
 *     wait puts on the link when that is lower (0 if none): noisy, but it shows a drop long
 *     before the smoothed estimate
 * @param minRtt the smallest round trip seen over the last 10 s, queueing excluded (0 if unknown)
 * @param queueDelay how long acked frames waited in queues beyond the minimum, averaged over
 *     about the last 100 ms of acks (0 if unknown)
 * @param unackedBytes payload bytes sent and not yet acknowledged
 * @param unackedFrames frames sent and not yet acknowledged
 * @param frameAge capture-to-client age of the newest acknowledged frame (0 if unknown)
 * @param clientLagFrames frames the client has received but not yet rendered (0 if not reported)
 * @param sendRateBitsPerSecond bits per second the sender handed to the container, over about a second
 * @param burstRateBitsPerSecond the rate single frames crossed the link at when sent into an
 *     empty pipe (0 if unknown): a view of capacity while the stream is app-limited and the
 *     delivery rate only shows the stream's own bitrate; optimistic where the link lets bursts through
 * @param acked whether any pong or client ack has arrived
 * @param sinceLastAck time since the last valid ack, or since the first send if none yet
 */
public record Signals(
    Verdict verdict,
    long deliveryRateBitsPerSecond,
    long latestRateBitsPerSecond,
    Duration minRtt,
    Duration queueDelay,
    long unackedBytes,
    int unackedFrames,
    Duration frameAge,
    int clientLagFrames,
    long sendRateBitsPerSecond,
    long burstRateBitsPerSecond,
    boolean acked,
    Duration sinceLastAck) {}
