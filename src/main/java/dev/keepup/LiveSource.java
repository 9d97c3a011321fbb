package dev.keepup;

import java.nio.ByteBuffer;
import java.util.Objects;
import java.util.function.IntConsumer;

/**
 * A live fan-out source for one encoder and many viewers: the producer publishes each encoded
 * frame once per rendition, and every session's sender reads the newest frames through its own
 * {@linkplain #newReader() reader}, zero-copy.
 *
 * <p>Each rendition keeps its last {@code framesPerRendition} frames in a ring (memory is
 * bounded by that count times the frame sizes). A reader:
 *
 * <ul>
 *   <li>joins a rendition (at start, or when the policy switches) only at a {@link
 *       FrameKind#KEY} frame among the newest two, so a new viewer never starts with a stale
 *       group of pictures; until one comes it returns {@code null} and passes the keyframe
 *       request to the producer's callback;
 *   <li>on an all-{@code KEY} stream (JPEG), always returns the newest frame: older ones are
 *       skipped unseen, latest wins;
 *   <li>on an inter-coded stream, returns frames in order so that references hold, skipping
 *       {@link FrameKind#DISPOSABLE} ones when it has fallen behind, and jumping to the newest
 *       keyframe when the frames it needs have left the ring.
 * </ul>
 *
 * <p>Frames handed out share the published payload through read-only views; the producer must
 * not change a payload after publishing it. Thread safe: one producer thread and any number of
 * readers, each reader used by one sender.
 */
public final class LiveSource {
  /** The least time between two keyframe requests for one rendition passed to the producer. */
  public static final long KEY_REQUEST_INTERVAL_NANOS = 500_000_000L;

  private final Ring[] rings;
  private final IntConsumer keyFrameRequests;
  private final long[] lastKeyRequest;
  private final boolean[] keyRequested;
  private final Ticker ticker;

  private LiveSource(int renditions, int framesPerRendition, IntConsumer keyFrameRequests, Ticker ticker) {
    this.ticker = ticker;
    this.rings = new Ring[renditions];
    for (int i = 0; i < renditions; i++) {
      rings[i] = new Ring(framesPerRendition);
    }
    this.keyFrameRequests = keyFrameRequests;
    this.lastKeyRequest = new long[renditions];
    this.keyRequested = new boolean[renditions];
  }

  /**
   * Returns a source for {@code renditions} renditions keeping the last {@code
   * framesPerRendition} frames of each; {@code keyFrameRequests} receives the rendition a
   * reader needs a keyframe of (an encoder would emit an IDR frame; it must not block).
   *
   * @throws IllegalArgumentException unless {@code 1 <= renditions <= 64} and {@code 2 <=
   *     framesPerRendition <= 10_000}
   */
  public static LiveSource create(int renditions, int framesPerRendition, IntConsumer keyFrameRequests) {
    return create(renditions, framesPerRendition, keyFrameRequests, Ticker.system());
  }

  /**
   * As {@link #create(int, int, IntConsumer)}, with the clock that spaces keyframe requests
   * (one per rendition per {@link #KEY_REQUEST_INTERVAL_NANOS}) given: for tests in virtual time.
   */
  public static LiveSource create(int renditions, int framesPerRendition, IntConsumer keyFrameRequests,
      Ticker ticker) {
    if (renditions < 1 || renditions > 64) {
      throw new IllegalArgumentException("renditions must be in [1, 64]: " + renditions);
    }
    if (framesPerRendition < 2 || framesPerRendition > 10_000) {
      throw new IllegalArgumentException("framesPerRendition must be in [2, 10000]: " + framesPerRendition);
    }
    return new LiveSource(renditions, framesPerRendition,
        Objects.requireNonNull(keyFrameRequests, "keyFrameRequests"), Objects.requireNonNull(ticker, "ticker"));
  }

  /** Returns a source for independent frames (JPEG): a ring of 2 per rendition, no key requests. */
  public static LiveSource create(int renditions) {
    return create(renditions, 2, rendition -> {});
  }

  /**
   * Publishes the next frame of its rendition; called by the producer.
   *
   * @throws NullPointerException if {@code frame} is null
   * @throws IllegalArgumentException if the frame's rendition is outside this source
   */
  public void publish(Frame frame) {
    Objects.requireNonNull(frame, "frame");
    if (frame.rendition() >= rings.length) {
      throw new IllegalArgumentException(
          "frame rendition must be < renditions (" + rings.length + "): " + frame.rendition());
    }
    rings[frame.rendition()].publish(frame);
  }

  /**
   * Passes a keyframe request to the producer, at most once per {@link
   * #KEY_REQUEST_INTERVAL_NANOS} per rendition whatever the number of readers: an encoder asked
   * by every viewer on every tick would emit nothing but keyframes.
   */
  private void requestKey(int rendition) {
    long now = ticker.read();
    synchronized (lastKeyRequest) {
      if (keyRequested[rendition] && now - lastKeyRequest[rendition] < KEY_REQUEST_INTERVAL_NANOS) {
        return;
      }
      keyRequested[rendition] = true;
      lastKeyRequest[rendition] = now;
    }
    keyFrameRequests.accept(rendition);
  }

  /** Returns the number of renditions. */
  public int renditions() {
    return rings.length;
  }

  /** Returns a new reader, the {@link FrameSource} for one session's sender. */
  public FrameSource newReader() {
    return new Reader();
  }

  /** One rendition's newest frames; sequence numbers count every frame ever published. */
  private static final class Ring {
    private final Frame[] frames;
    private long published;

    Ring(int capacity) {
      this.frames = new Frame[capacity];
    }

    synchronized void publish(Frame frame) {
      frames[(int) (published % frames.length)] = frame;
      published++;
    }

    /** Returns the frame with sequence number {@code seq} (0-based), or null if gone or not yet. */
    synchronized Frame get(long seq) {
      if (seq < 0 || seq >= published || seq < published - frames.length) {
        return null;
      }
      return frames[(int) (seq % frames.length)];
    }

    synchronized long published() {
      return published;
    }

    /** Returns the sequence number of the newest KEY among the newest {@code within} frames, or -1. */
    synchronized long newestKey(int within) {
      long oldest = Math.max(published - Math.min(within, frames.length), 0);
      for (long seq = published - 1; seq >= oldest; seq--) {
        if (frames[(int) (seq % frames.length)].kind() == FrameKind.KEY) {
          return seq;
        }
      }
      return -1;
    }

    /** Returns the sequence number of the oldest frame still held. */
    synchronized long oldestHeld() {
      return Math.max(0, published - frames.length);
    }
  }

  private final class Reader implements FrameSource {
    private int rendition = -1;
    /** The sequence number of the next frame to return in {@link #rendition}. */
    private long next;

    /** Set by {@link #pollLocked} when a keyframe must be asked for, once the ring is released. */
    private boolean keyNeeded;

    @Override
    public Frame poll(int wanted) {
      if (wanted < 0 || wanted >= rings.length) {
        return null;
      }
      Ring ring = rings[wanted];
      Frame frame;
      // One consistent view of the ring: the producer must not publish between the look-ups.
      synchronized (ring) {
        frame = pollLocked(ring, wanted);
      }
      if (keyNeeded) {
        // Outside the ring's lock: the producer's callback may publish, or wait on a thread
        // that does.
        keyNeeded = false;
        requestKey(wanted);
      }
      return frame;
    }

    private Frame pollLocked(Ring ring, int wanted) {
      if (wanted != rendition) {
        long key = ring.newestKey(2);
        if (key < 0) {
          keyNeeded = true;
          return null;
        }
        rendition = wanted;
        next = key + 1;
        return view(ring.get(key));
      }
      long published = ring.published();
      if (next >= published) {
        return null;
      }
      Frame newest = ring.get(published - 1);
      if (newest != null && newest.kind() == FrameKind.KEY) {
        // Nothing before a keyframe is needed: jump to it.
        next = published;
        return view(newest);
      }
      if (next < ring.oldestHeld()) {
        // The frames this reader needs are gone: rejoin at a keyframe.
        long key = ring.newestKey(Integer.MAX_VALUE);
        if (key < 0 || key < next) {
          // The references are gone: rejoin only at a keyframe, like a new viewer.
          rendition = -1;
          keyNeeded = true;
          return null;
        }
        next = key + 1;
        return view(ring.get(key));
      }
      // In order; a reader more than one frame behind sheds disposable frames to catch up.
      while (next < published - 1) {
        Frame candidate = ring.get(next);
        if (candidate == null || candidate.kind() != FrameKind.DISPOSABLE) {
          break;
        }
        next++;
      }
      Frame frame = ring.get(next);
      next++;
      return frame == null ? null : view(frame);
    }

    @Override
    public void requestKeyFrame(int wanted) {
      requestKey(wanted);
    }

    private Frame view(Frame frame) {
      ByteBuffer readOnly = frame.payload().asReadOnlyBuffer();
      return Frame.of(readOnly, frame.captureTimeNanos(), frame.kind(), frame.rendition());
    }
  }
}
