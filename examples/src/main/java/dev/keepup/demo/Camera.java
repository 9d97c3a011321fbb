package dev.keepup.demo;

import dev.keepup.Frame;
import dev.keepup.FrameKind;
import dev.keepup.FrameSource;
import dev.keepup.Ladder;
import dev.keepup.LiveSource;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLongArray;
import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageWriteParam;
import javax.imageio.ImageWriter;
import javax.imageio.stream.MemoryCacheImageOutputStream;

/**
 * The synthetic live camera: draws the {@link Scene} once per frame for each rendition, encodes
 * it as JPEG with the JDK's ImageIO, and publishes it to one {@link LiveSource}, from which
 * every tab's sender reads: any number of tabs share this one encoder.
 *
 * <p>Each frame's payload is a {@value #HEADER_BYTES}-byte header and the JPEG:
 *
 * <pre>
 * offset  bytes  field (big-endian)
 *  0      8      capture time, epoch milliseconds (the page computes frame age from it)
 *  8      4      rendition index (0 = cheapest)
 * 12      4      frame number
 * 16      ...    JPEG
 * </pre>
 *
 * <p>Encodes on demand, to spare the CPU: encoding every rendition costs about 30 ms a frame
 * here, a whole core at 30 fps. While anyone watches, the cheapest rendition (up to {@value
 * #ALWAYS_ENCODED_MAX_WIDTH} pixels wide, about 2 ms) is always encoded, so a sender that has to
 * drop to it, perhaps at 1 fps, finds it at once; the others only while some tab's sender has
 * asked for them within the last 3 s (a sender polls the rendition its policy chose, and during
 * a switch the target too, so a switch to one not yet encoded waits a frame). Nobody watching
 * costs nothing. A rendition asked for again after a pause is encoded from the next frame on;
 * its reader never gets the frame left over from before the pause ({@link #newReader()}).
 */
final class Camera implements AutoCloseable {
  static final int HEADER_BYTES = 16;
  /** Renditions up to this width are encoded whenever anyone watches. */
  static final int ALWAYS_ENCODED_MAX_WIDTH = 320;
  /** How long a rendition is encoded after a sender last asked for it: longer than the slowest frame interval (1 s). */
  static final long WANTED_FOR_NANOS = TimeUnit.SECONDS.toNanos(3);

  /** One step of the ladder: a resolution and a JPEG quality. */
  record Spec(int width, int height, float quality) {
    String label() {
      return String.format(Locale.ROOT, "%dx%d q%.2f", width, height, quality);
    }
  }

  /** The ladder: from a thumbnail to 720p, cheapest first. */
  static final List<Spec> SPECS = List.of(
      new Spec(320, 180, 0.50f),
      new Spec(480, 270, 0.60f),
      new Spec(640, 360, 0.70f),
      new Spec(960, 540, 0.75f),
      new Spec(1280, 720, 0.80f));

  /** What the encoder does for one rendition; used only on the encoder thread. */
  private static final class Encoder {
    final Spec spec;
    final BufferedImage image;
    final ImageWriter writer;
    final ImageWriteParam param;

    Encoder(Spec spec) {
      this.spec = spec;
      // Measured here: drawing and encoding a little faster than TYPE_INT_RGB.
      this.image = new BufferedImage(spec.width(), spec.height(), BufferedImage.TYPE_3BYTE_BGR);
      this.writer = ImageIO.getImageWritersByFormatName("jpeg").next();
      this.param = writer.getDefaultWriteParam();
      param.setCompressionMode(ImageWriteParam.MODE_EXPLICIT);
      param.setCompressionQuality(spec.quality());
    }

    byte[] encode(Scene scene, long frameNumber, long captureMillis, int rendition) {
      Graphics2D g = image.createGraphics();
      try {
        scene.draw(g, spec.width(), spec.height(), frameNumber, captureMillis, spec.label());
      } finally {
        g.dispose();
      }
      ByteArrayOutputStream bytes = new ByteArrayOutputStream(64 << 10);
      try {
        DataOutputStream header = new DataOutputStream(bytes);
        header.writeLong(captureMillis);
        header.writeInt(rendition);
        header.writeInt((int) frameNumber);
        header.flush();
        try (MemoryCacheImageOutputStream out = new MemoryCacheImageOutputStream(bytes)) {
          writer.setOutput(out);
          writer.write(null, new IIOImage(image, null, null), param);
        }
      } catch (IOException e) {
        throw new UncheckedIOException("cannot encode " + spec.label(), e);
      }
      return bytes.toByteArray();
    }
  }

  private final double fps;
  private final Scene scene;
  private final List<Encoder> encoders = new ArrayList<>();
  private final LiveSource live;
  private final Ladder ladder;
  private final long[] measuredFrameBytes;
  private final ScheduledExecutorService thread;
  /** When each rendition was last asked for ({@link System#nanoTime()}), 0 if never. */
  private final AtomicLongArray wantedAt;
  /** The frame number of the last tick whose encoding finished. */
  private volatile long lastCompleteFrame = -1;
  private long frameNumber;
  private volatile int renditionsEncoded;
  private volatile double encodeMillisAvg;
  private volatile long framesEncoded;

  /**
   * Creates the camera and measures what each rendition costs, so that the ladder's bitrates are
   * the real ones; call {@link #start()} to run it.
   */
  Camera(double fps) {
    this.fps = fps;
    this.scene = new Scene(fps);
    ImageIO.setUseCache(false);
    for (Spec spec : SPECS) {
      encoders.add(new Encoder(spec));
    }
    this.measuredFrameBytes = measure();
    this.ladder = ladderOf(measuredFrameBytes, fps);
    // Independent frames (all KEY): a ring of 2 per rendition, no keyframe requests to serve.
    this.live = LiveSource.create(SPECS.size());
    this.wantedAt = new AtomicLongArray(SPECS.size());
    this.thread = Executors.newSingleThreadScheduledExecutor(task -> {
      Thread t = new Thread(task, "demo-camera");
      t.setDaemon(true);
      return t;
    });
  }

  /**
   * Encodes sample frames spread over the animation and returns each rendition's largest, in
   * bytes with the header: the ladder should state what a rendition may cost, not its average.
   */
  private long[] measure() {
    long[] largest = new long[SPECS.size()];
    long now = System.currentTimeMillis();
    // Also warms up the drawing and encoding code, so the first seconds of streaming are not slow.
    for (int sample = 0; sample < 24; sample++) {
      long frame = sample * 41L;
      for (int i = 0; i < encoders.size(); i++) {
        largest[i] = Math.max(largest[i], encoders.get(i).encode(scene, frame, now, i).length);
      }
    }
    return largest;
  }

  /** Bitrates at the top frame rate from the frame sizes, made strictly ascending as the ladder requires. */
  static Ladder ladderOf(long[] frameBytes, double fps) {
    Ladder.Builder builder = Ladder.builder();
    long previous = 0;
    for (int i = 0; i < frameBytes.length; i++) {
      long bitsPerSecond = Math.max(Math.round(frameBytes[i] * 8 * fps), previous + 1);
      builder.rendition(SPECS.get(i).label(), bitsPerSecond);
      previous = bitsPerSecond;
    }
    List<Double> rates = new ArrayList<>();
    rates.add(fps);
    for (double rate : Ladder.DEFAULT_FRAME_RATES) {
      if (rate < fps) {
        rates.add(rate);
      }
    }
    return builder.frameRates(rates.stream().mapToDouble(Double::doubleValue).toArray()).build();
  }

  void start() {
    long periodNanos = Math.round(1e9 / fps);
    thread.scheduleAtFixedRate(this::tick, 0, periodNanos, TimeUnit.NANOSECONDS);
  }

  private void tick() {
    try {
      long startNanos = System.nanoTime();
      long captureMillis = System.currentTimeMillis();
      long n = frameNumber;
      boolean anyWanted = false;
      for (int i = 0; i < encoders.size(); i++) {
        anyWanted |= wanted(i, startNanos);
      }
      if (!anyWanted) {
        renditionsEncoded = 0;
        return;
      }
      int encoded = 0;
      for (int i = 0; i < encoders.size(); i++) {
        if (SPECS.get(i).width() > ALWAYS_ENCODED_MAX_WIDTH && !wanted(i, startNanos)) {
          continue;
        }
        byte[] payload = encoders.get(i).encode(scene, n, captureMillis, i);
        // Published as soon as it is encoded: the cheap renditions go out first.
        live.publish(Frame.of(ByteBuffer.wrap(payload), startNanos, FrameKind.KEY, i));
        encoded++;
      }
      renditionsEncoded = encoded;
      frameNumber++;
      lastCompleteFrame = n;
      double millis = (System.nanoTime() - startNanos) / 1e6;
      encodeMillisAvg = framesEncoded == 0 ? millis : encodeMillisAvg * 0.9 + millis * 0.1;
      framesEncoded++;
    } catch (RuntimeException e) {
      // A failed frame must not cancel the periodic task.
      System.err.println("camera: frame failed: " + e);
    }
  }

  /**
   * Returns a new reader for one sender: the live source's, noting which renditions are asked
   * for, and passing over a frame that a newer finished frame has superseded (what was left in a
   * rendition's ring when nobody wanted it).
   */
  FrameSource newReader() {
    FrameSource reader = live.newReader();
    return new FrameSource() {
      @Override
      public Frame poll(int rendition) {
        want(rendition);
        Frame frame = reader.poll(rendition);
        if (frame != null && frameNumberOf(frame) < lastCompleteFrame) {
          return null;
        }
        return frame;
      }

      @Override
      public void requestKeyFrame(int rendition) {
        want(rendition);
      }
    };
  }

  private boolean wanted(int rendition, long now) {
    long at = wantedAt.get(rendition);
    return at != 0 && now - at <= WANTED_FOR_NANOS;
  }

  private void want(int rendition) {
    if (rendition >= 0 && rendition < wantedAt.length()) {
      wantedAt.set(rendition, System.nanoTime());
    }
  }

  /** The frame number in a payload's header. */
  static int frameNumberOf(Frame frame) {
    return frame.payload().getInt(frame.payload().position() + 12);
  }

  Ladder ladder() {
    return ladder;
  }

  double fps() {
    return fps;
  }

  /** Each rendition's largest sample frame, header included, in bytes. */
  long[] measuredFrameBytes() {
    return measuredFrameBytes.clone();
  }

  /** How many renditions the last frame was encoded in. */
  int renditionsEncoded() {
    return renditionsEncoded;
  }

  /** Milliseconds to draw and encode one frame in every rendition wanted, averaged. */
  double encodeMillis() {
    return encodeMillisAvg;
  }

  @Override
  public void close() {
    thread.shutdownNow();
    try {
      thread.awaitTermination(2, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    for (Encoder encoder : encoders) {
      encoder.writer.dispose();
    }
  }
}
