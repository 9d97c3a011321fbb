package dev.keepup.demo;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.GradientPaint;
import java.awt.Graphics2D;
import java.awt.RadialGradientPaint;
import java.awt.RenderingHints;
import java.awt.geom.AffineTransform;
import java.awt.geom.Ellipse2D;
import java.awt.geom.Line2D;
import java.awt.geom.Path2D;
import java.awt.geom.Rectangle2D;
import java.time.Instant;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;

/**
 * A synthetic live camera picture drawn with Java2D: a moving scene (sky, scrolling checkered
 * floor, bouncing balls, a sweeping dial, a wave) with the wall clock, the frame number and the
 * rendition burned in, so a viewer can read the latency and see every skipped frame.
 *
 * <p>Drawn in a 1280 x 720 design space and scaled to each rendition's size, so every rendition
 * shows the same picture, only sharper or blurrier. The motion depends only on the frame number,
 * so a given frame looks the same whenever it is drawn. Not thread safe: one encoder thread draws.
 */
final class Scene {
  static final int DESIGN_WIDTH = 1280;
  static final int DESIGN_HEIGHT = 720;

  private static final DateTimeFormatter CLOCK =
      DateTimeFormatter.ofPattern("HH:mm:ss.SSS").withZone(ZoneId.systemDefault());
  private static final Font BIG = new Font(Font.MONOSPACED, Font.BOLD, 64);
  private static final Font MEDIUM = new Font(Font.MONOSPACED, Font.BOLD, 34);
  private static final Font SMALL = new Font(Font.SANS_SERIF, Font.BOLD, 24);
  private static final Color[] BALL_COLOURS = {
      new Color(0xff5a5f), new Color(0xffc145), new Color(0x3ddc97), new Color(0x4cc9f0), new Color(0xb388ff)};

  private final double fps;

  Scene(double fps) {
    this.fps = fps;
  }

  /**
   * Draws frame {@code frameNumber} into {@code g}, which covers {@code width} x {@code height}
   * pixels; {@code captureMillis} is the wall clock to burn in, {@code label} the rendition's name.
   */
  void draw(Graphics2D g, int width, int height, long frameNumber, long captureMillis, String label) {
    AffineTransform saved = g.getTransform();
    g.scale(width / (double) DESIGN_WIDTH, height / (double) DESIGN_HEIGHT);
    g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
    g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
    double t = frameNumber / fps;

    sky(g, t);
    floor(g, t);
    wave(g, t);
    dial(g, t);
    balls(g, t);
    overlay(g, frameNumber, captureMillis, label);
    g.setTransform(saved);
  }

  private static void sky(Graphics2D g, double t) {
    float hue = (float) ((t / 40) % 1.0);
    g.setPaint(new GradientPaint(0, 0, Color.getHSBColor(hue, 0.55f, 0.35f),
        0, 480, Color.getHSBColor((hue + 0.25f) % 1f, 0.6f, 0.75f)));
    g.fill(new Rectangle2D.Double(0, 0, DESIGN_WIDTH, 480));
  }

  /** A tiled floor scrolling sideways: detail that makes the sharper renditions cost more. */
  private static void floor(Graphics2D g, double t) {
    double tile = 80;
    double offset = (t * 120) % (2 * tile);
    g.setColor(new Color(0x3a3f4b));
    g.fill(new Rectangle2D.Double(0, 480, DESIGN_WIDTH, 240));
    g.setColor(new Color(0x565d6d));
    for (int row = 0; row < 3; row++) {
      double y = 480 + row * tile;
      double shift = (row % 2 == 0 ? 0 : tile) - offset;
      for (double x = shift; x < DESIGN_WIDTH; x += 2 * tile) {
        g.fill(new Rectangle2D.Double(x, y, tile, tile));
      }
    }
  }

  private static void wave(Graphics2D g, double t) {
    Path2D.Double path = new Path2D.Double();
    for (int x = 0; x <= DESIGN_WIDTH; x += 8) {
      double y = 380 + 45 * Math.sin(x / 90.0 - t * 2.2) + 15 * Math.sin(x / 23.0 + t * 3.1);
      if (x == 0) {
        path.moveTo(x, y);
      } else {
        path.lineTo(x, y);
      }
    }
    g.setStroke(new BasicStroke(6f, BasicStroke.CAP_ROUND, BasicStroke.JOIN_ROUND));
    g.setColor(new Color(255, 255, 255, 170));
    g.draw(path);
  }

  private static void balls(Graphics2D g, double t) {
    for (int i = 0; i < BALL_COLOURS.length; i++) {
      double r = 36 + 10 * i;
      double x = bounce(t * (170 + 45 * i) + 300 * i, DESIGN_WIDTH - 2 * r) + r;
      double y = 500 - bounce(t * (260 + 30 * i) + 150 * i, 380 - 2 * r) - r;
      Color colour = BALL_COLOURS[i];
      g.setPaint(new RadialGradientPaint((float) (x - r / 3), (float) (y - r / 3), (float) (r * 1.3),
          new float[] {0f, 1f}, new Color[] {colour.brighter().brighter(), colour.darker().darker()}));
      g.fill(new Ellipse2D.Double(x - r, y - r, 2 * r, 2 * r));
    }
  }

  /** A triangle wave: goes from 0 to {@code span} and back as {@code distance} grows. */
  private static double bounce(double distance, double span) {
    double period = 2 * span;
    double d = distance % period;
    return d < span ? d : period - d;
  }

  /** A dial whose hand sweeps once every 2 s: a skipped frame shows as a jump. */
  private static void dial(Graphics2D g, double t) {
    double cx = 1110;
    double cy = 190;
    double r = 120;
    g.setColor(new Color(255, 255, 255, 215));
    g.fill(new Ellipse2D.Double(cx - r, cy - r, 2 * r, 2 * r));
    g.setColor(new Color(0x20232a));
    g.setStroke(new BasicStroke(4f));
    g.draw(new Ellipse2D.Double(cx - r, cy - r, 2 * r, 2 * r));
    for (int i = 0; i < 30; i++) {
      double a = i * Math.PI / 15;
      double inner = i % 5 == 0 ? r - 26 : r - 12;
      g.draw(new Line2D.Double(cx + inner * Math.sin(a), cy - inner * Math.cos(a),
          cx + (r - 4) * Math.sin(a), cy - (r - 4) * Math.cos(a)));
    }
    double a = (t % 2.0) / 2.0 * 2 * Math.PI;
    g.setColor(new Color(0xe63946));
    g.setStroke(new BasicStroke(7f, BasicStroke.CAP_ROUND, BasicStroke.JOIN_ROUND));
    g.draw(new Line2D.Double(cx, cy, cx + (r - 18) * Math.sin(a), cy - (r - 18) * Math.cos(a)));
    g.fill(new Ellipse2D.Double(cx - 10, cy - 10, 20, 20));
  }

  private static void overlay(Graphics2D g, long frameNumber, long captureMillis, String label) {
    g.setColor(new Color(0, 0, 0, 150));
    g.fill(new Rectangle2D.Double(24, 24, 520, 150));
    g.setColor(Color.WHITE);
    g.setFont(BIG);
    g.drawString(CLOCK.format(Instant.ofEpochMilli(captureMillis)), 40, 92);
    g.setFont(MEDIUM);
    g.drawString(String.format("frame %,d", frameNumber), 40, 150);

    g.setFont(SMALL);
    int textWidth = g.getFontMetrics().stringWidth(label);
    g.setColor(new Color(0, 0, 0, 150));
    g.fill(new Rectangle2D.Double(DESIGN_WIDTH - textWidth - 56, DESIGN_HEIGHT - 64, textWidth + 32, 40));
    g.setColor(Color.WHITE);
    g.drawString(label, DESIGN_WIDTH - textWidth - 40, DESIGN_HEIGHT - 35);
    g.drawString("keepup live demo", 40, DESIGN_HEIGHT - 35);
  }
}
