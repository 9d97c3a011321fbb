package dev.keepup.sim;

import dev.keepup.Frame;
import dev.keepup.FrameKind;
import dev.keepup.FrameSource;
import dev.keepup.Ticker;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Objects;
import java.util.Random;

/**
 * A seeded live encoder for the simulator: every rendition of a {@link SimLadder} produces a
 * frame each {@code 1/fps} in virtual time, whether or not anyone reads it.
 *
 * <p><b>Stream.</b> Frame {@code i} of every rendition is captured at {@code start + i/fps}.
 * With delta coding (the default) a rendition is a sequence of GOPs of {@code gopFrames}
 * frames (or, with {@code referencesOnly}, every non-KEY frame a DELTA): a {@link FrameKind#KEY}, then alternately {@link FrameKind#DISPOSABLE} and {@link
 * FrameKind#DELTA} (position 1, 3, 5... disposable; 2, 4, 6... delta). A DELTA references the
 * previous reference frame (the DELTA two before it, or the KEY); a DISPOSABLE references the
 * reference frame just before it and nothing references it. {@link #requestKeyFrame} makes the
 * next frame of that rendition a KEY and restarts its GOP there (an encoder's IDR). In
 * all-key mode (JPEG-like) every frame is a KEY.
 *
 * <p><b>Sizes.</b> A KEY is {@code keyToDelta} times the mean of a DELTA or DISPOSABLE; every
 * size is that mean times a lognormal factor of mean 1 and shape {@code sigma}, so that each
 * rendition's mean bitrate at the ladder's frame rate is its ladder bitrate (forced IDRs add a
 * little on top). Sizes depend only on the seed, the rendition and the frame index: every
 * strategy sees the same frames. Each payload starts with the frame's id (8 bytes, big-endian),
 * by which the simulated client looks the frame up ({@link #info}).
 *
 * <p><b>Reading.</b> {@link #poll} serves one reader (one session) and never blocks:
 * <ul>
 *   <li>on the first poll, and whenever the rendition asked differs from the previous poll's,
 *       the newest KEY of that rendition if it is no older than the last frame returned (the
 *       reader switches there), else {@code null} and the reader stays on its rendition (a
 *       sender switching renditions asks for a KEY and polls both until it comes);
 *   <li>otherwise, if a KEY newer than the last frame returned has been produced, the newest
 *       such KEY (a reader that fell behind jumps ahead, losing nothing decodable);
 *   <li>otherwise the next frame in order, skipping DISPOSABLE frames that a newer frame has
 *       already followed (nothing depends on them); {@code null} if there is none yet.
 * </ul>
 * So a reader that keeps up gets every frame in order, and one that falls behind gets an
 * intact reference chain and is never more than one GOP behind. In all-key mode this is simply
 * the newest frame. Frames are generated lazily (only the renditions read, only up to now), so
 * a run costs nothing for renditions nobody reads.
 *
 * <p>Thread safe: the reading and key-frame methods are synchronized, so that the real-socket
 * bench ({@code dev.keepup.bench.RealTraceBenchmark}) can share a source between the sender's
 * threads and the client's; a simulator run is single-threaded and pays only uncontended locks.
 */
public final class SimSource implements FrameSource {

  /**
   * How the encoder behaves.
   *
   * @param gopFrames frames from one KEY to the next (30: one second at 30 fps)
   * @param keyToDelta mean KEY size over mean DELTA size
   * @param sigma shape of the lognormal size variation (0: constant sizes)
   * @param allKey every frame a KEY, of equal mean size (JPEG-like); GOP settings unused
   * @param seed seed of the size variation
   * @param referencesOnly every non-KEY frame a DELTA (IPPP, as a zero-latency encoder without
   *     B-frames or temporal layers makes): none is DISPOSABLE
   */
  public record Options(int gopFrames, double keyToDelta, double sigma, boolean allKey, long seed,
      boolean referencesOnly) {
    /** GOP of 30, keyframes 5x a delta, sigma 0.25, delta coding, seed 1. */
    public static final Options DEFAULT = new Options(30, 5.0, 0.25, false, 1);

    /** With DISPOSABLE frames between the DELTAs. */
    public Options(int gopFrames, double keyToDelta, double sigma, boolean allKey, long seed) {
      this(gopFrames, keyToDelta, sigma, allKey, seed, false);
    }

    public Options {
      if (gopFrames < 1) {
        throw new IllegalArgumentException("gopFrames must be >= 1: " + gopFrames);
      }
      if (!(keyToDelta >= 1) || !Double.isFinite(keyToDelta)) {
        throw new IllegalArgumentException("keyToDelta must be >= 1: " + keyToDelta);
      }
      if (!(sigma >= 0 && sigma <= 2)) {
        throw new IllegalArgumentException("sigma must be in [0, 2]: " + sigma);
      }
    }

    public Options withAllKey(boolean allKey) {
      return new Options(gopFrames, keyToDelta, sigma, allKey, seed, referencesOnly);
    }

    public Options withGopFrames(int gopFrames) {
      return new Options(gopFrames, keyToDelta, sigma, allKey, seed, referencesOnly);
    }

    public Options withSeed(long seed) {
      return new Options(gopFrames, keyToDelta, sigma, allKey, seed, referencesOnly);
    }

    public Options withReferencesOnly(boolean referencesOnly) {
      return new Options(gopFrames, keyToDelta, sigma, allKey, seed, referencesOnly);
    }
  }

  /**
   * What the client knows about a frame by its id.
   *
   * @param rendition the ladder index
   * @param index the frame number within the rendition (0 at the start)
   * @param kind KEY, DELTA or DISPOSABLE
   * @param reference the index of the frame it needs (same rendition), or -1 for a KEY
   * @param captureNanos capture time in the run's clock
   * @param size payload bytes
   */
  public record FrameInfo(int rendition, int index, FrameKind kind, int reference, long captureNanos, int size) {}

  private static final int MIN_SIZE = 16;
  private static final FrameKind[] KINDS = FrameKind.values();

  private final SimLadder ladder;
  private final Options options;
  private final Ticker clock;
  private final long startNanos;
  private final double intervalNanos;
  private final Track[] tracks;
  private int lastPolled = -1;
  private long framesReturned;
  private long keyFramesRequested;

  /** A source whose first frame is captured at {@code clock.read()} now. */
  public SimSource(SimLadder ladder, Options options, Ticker clock) {
    this.ladder = Objects.requireNonNull(ladder, "ladder");
    this.options = Objects.requireNonNull(options, "options");
    this.clock = Objects.requireNonNull(clock, "clock");
    this.startNanos = clock.read();
    this.intervalNanos = ladder.frameIntervalNanos();
    this.tracks = new Track[ladder.size()];
    for (int r = 0; r < tracks.length; r++) {
      tracks[r] = new Track(r);
    }
  }

  /** Returns the frame id carried in the first 8 bytes of the payload. */
  public static long id(int rendition, int index) {
    return ((long) index << 6) | rendition;
  }

  /** Returns the ladder. */
  public SimLadder ladder() {
    return ladder;
  }

  /** Returns the capture time of frame {@code index} (of any rendition). */
  public long captureNanos(int index) {
    return startNanos + Math.round(index * intervalNanos);
  }

  /** Returns the index of the newest frame captured at or before {@code now}, or -1. */
  int newestIndexAt(long now) {
    if (now < startNanos) {
      return -1;
    }
    long i = (long) Math.floor((now - startNanos) / intervalNanos);
    while (captureNanos((int) (i + 1)) <= now) {
      i++;
    }
    while (i >= 0 && captureNanos((int) i) > now) {
      i--;
    }
    return (int) i;
  }

  @Override
  public synchronized Frame poll(int rendition) {
    int r = Math.max(0, Math.min(rendition, tracks.length - 1));
    Track track = tracks[r];
    int newest = newestIndexAt(clock.read());
    if (newest < 0) {
      return null;
    }
    track.produceUpTo(newest);
    int next;
    if (r != lastPolled) {
      // A reader joins another rendition only at a KEY no older than what it has shown (as
      // LiveSource's readers do); until there is one it stays where it is. Returning any newer
      // frame would hand the sender a DELTA whose reference it never sent, which it has no way
      // to tell from an intact chain: polling the target and the current rendition in turn
      // while a switch waits for its key broke every chain that way (87% stall on one trace).
      int shown = lastPolled >= 0 ? tracks[lastPolled].cursor : -1;
      int key = options.allKey() ? newest : track.lastKey;
      if (key < 0 || key < shown || key <= track.cursor) {
        return null;
      }
      lastPolled = r;
      next = key;
    } else if (track.cursor >= newest) {
      return null;
    } else if (track.lastKey > track.cursor) {
      next = track.lastKey;
    } else {
      next = track.cursor + 1;
      while (next < newest && track.kind(next) == FrameKind.DISPOSABLE) {
        next++;
      }
    }
    if (next <= track.cursor) {
      return null; // the newest frame of this rendition was already returned
    }
    track.cursor = next;
    framesReturned++;
    int size = track.sizes[next];
    ByteBuffer payload = ByteBuffer.allocate(size);
    payload.putLong(0, id(r, next));
    return Frame.of(payload, captureNanos(next), track.kind(next), r);
  }

  /** Makes the next frame of {@code rendition} a KEY, restarting its GOP there. */
  @Override
  public synchronized void requestKeyFrame(int rendition) {
    if (rendition < 0 || rendition >= tracks.length || options.allKey()) {
      return;
    }
    keyFramesRequested++;
    Track track = tracks[rendition];
    int newest = newestIndexAt(clock.read());
    track.produceUpTo(newest);
    track.forceKeyAt = newest + 1;
  }

  /**
   * Returns what the client needs to know about frame {@code id}.
   *
   * @throws IllegalArgumentException if no such frame has been produced
   */
  public synchronized FrameInfo info(long id) {
    int rendition = (int) (id & 63);
    long index = id >>> 6;
    if (rendition >= tracks.length || index > tracks[rendition].produced - 1) {
      throw new IllegalArgumentException("no such frame: " + id);
    }
    Track track = tracks[rendition];
    int i = (int) index;
    return new FrameInfo(rendition, i, track.kind(i), track.refs[i], captureNanos(i), track.sizes[i]);
  }

  /**
   * Returns frame {@code index} of {@code rendition} as the encoder would produce it if no key
   * frame were ever requested: the offline oracle's view. Produces ahead of the clock, so only
   * for a source that is not polled.
   */
  synchronized FrameInfo planned(int rendition, int index) {
    Track track = tracks[rendition];
    track.produceUpTo(index);
    return new FrameInfo(rendition, index, track.kind(index), track.refs[index], captureNanos(index), track.sizes[index]);
  }

  /** Returns how many frames poll has returned. */
  public synchronized long framesReturned() {
    return framesReturned;
  }

  /** Returns how many key frames were requested (with delta coding). */
  public synchronized long keyFramesRequested() {
    return keyFramesRequested;
  }

  /** One rendition's frames, generated lazily in index order. */
  private final class Track {
    final int rendition;
    final Random random;
    final double meanDelta;
    final double keyMultiplier;
    byte[] kinds = new byte[256];
    int[] sizes = new int[256];
    int[] refs = new int[256];
    int produced;
    int gopStart;
    int lastRef = -1;
    int lastKey = -1;
    int forceKeyAt = -1;
    int cursor = -1;

    Track(int rendition) {
      this.rendition = rendition;
      this.random = new Random(options.seed() * 0x9E3779B97F4A7C15L + rendition * 0x632BE59BD9B4E019L);
      double bytesPerFrame = ladder.mbps(rendition) * 1e6 / 8 / ladder.fps();
      if (options.allKey()) {
        this.meanDelta = bytesPerFrame;
        this.keyMultiplier = 1;
      } else {
        int gop = options.gopFrames();
        this.meanDelta = bytesPerFrame * gop / (gop - 1 + options.keyToDelta());
        this.keyMultiplier = options.keyToDelta();
      }
    }

    FrameKind kind(int index) {
      return KINDS[kinds[index]];
    }

    void produceUpTo(int index) {
      while (produced <= index) {
        produceNext();
      }
    }

    private void produceNext() {
      int i = produced;
      if (i == kinds.length) {
        int n = kinds.length * 2;
        kinds = Arrays.copyOf(kinds, n);
        sizes = Arrays.copyOf(sizes, n);
        refs = Arrays.copyOf(refs, n);
      }
      FrameKind kind;
      if (options.allKey() || i == forceKeyAt || i - gopStart >= options.gopFrames() || i == 0) {
        kind = FrameKind.KEY;
        gopStart = i;
      } else {
        kind = !options.referencesOnly() && (i - gopStart) % 2 == 1 ? FrameKind.DISPOSABLE : FrameKind.DELTA;
      }
      double sigma = options.sigma();
      double noise = sigma == 0 ? 1 : Math.exp(sigma * random.nextGaussian() - sigma * sigma / 2);
      double mean = kind == FrameKind.KEY ? meanDelta * keyMultiplier : meanDelta;
      kinds[i] = (byte) kind.ordinal();
      sizes[i] = Math.max(MIN_SIZE, (int) Math.round(mean * noise));
      refs[i] = kind == FrameKind.KEY ? -1 : lastRef;
      if (kind != FrameKind.DISPOSABLE) {
        lastRef = i;
      }
      if (kind == FrameKind.KEY) {
        lastKey = i;
      }
      produced = i + 1;
    }
  }
}
