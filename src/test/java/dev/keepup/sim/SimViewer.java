package dev.keepup.sim;

import dev.keepup.FrameKind;
import java.nio.ByteBuffer;
import java.util.BitSet;

/**
 * The simulated viewer: takes each binary message the {@link SimulatedLink} delivers, looks the
 * frame up by the id in its first 8 bytes, decides whether it can be decoded and passes it to a
 * {@link QoeMeter}.
 *
 * <p>A KEY always decodes. A DELTA or DISPOSABLE decodes only if the frame it references
 * (same rendition) was delivered earlier and itself decoded, so a skipped reference breaks
 * everything after it until the next KEY, exactly what a decoder does.
 */
public final class SimViewer implements SimulatedLink.Client {
  private final SimSource source;
  private final QoeMeter meter;
  private final BitSet[] decoded;
  private long frames;
  private long undecodable;

  public SimViewer(SimSource source, QoeMeter meter) {
    this.source = source;
    this.meter = meter;
    this.decoded = new BitSet[source.ladder().size()];
    for (int r = 0; r < decoded.length; r++) {
      decoded[r] = new BitSet();
    }
  }

  @Override
  public void onBinary(ByteBuffer data, long atNanos) {
    SimSource.FrameInfo info = source.info(data.getLong(data.position()));
    boolean decodable = info.kind() == FrameKind.KEY
        || (info.reference() >= 0 && decoded[info.rendition()].get(info.reference()));
    if (decodable) {
      decoded[info.rendition()].set(info.index());
    } else {
      undecodable++;
    }
    frames++;
    meter.onFrame(info.captureNanos(), atNanos, data.remaining(), info.rendition(), decodable);
  }

  /** Returns the frames received. */
  public long frames() {
    return frames;
  }

  /** Returns the frames received that could not be decoded. */
  public long undecodable() {
    return undecodable;
  }
}
