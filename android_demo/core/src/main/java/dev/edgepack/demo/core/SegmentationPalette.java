package dev.edgepack.demo.core;

/**
 * The colours of a segmentation overlay: one fixed colour per class index, the same on every
 * device and every run, so a class keeps its colour from photo to photo and between the overlay
 * and the legend.
 *
 * <p>Class 0 (by edgepack's convention "background") is transparent by default: the photo shows
 * through where the model found nothing. Classes 1 to 20 take Sasha Trubetskoy's 20 distinct
 * colours (chosen to be told apart, also by most colour-blind viewers, most saturated first); later
 * classes step round the hue circle by the golden angle, which keeps neighbours apart for any
 * count. Overlay colours carry {@link #DEFAULT_ALPHA} unless chosen otherwise: enough to see the
 * class at a glance, little enough to see the photo under it.
 */
public final class SegmentationPalette {
  /** About 55% opaque. */
  public static final int DEFAULT_ALPHA = 0x8C;
  /** The legend swatch of an undrawn (transparent) class: a neutral grey. */
  public static final int UNDRAWN_RGB = 0xFF9E9E9E;

  private static final int[] DISTINCT = {
    0xE6194B, 0x3CB44B, 0x4363D8, 0xFFE119, 0xF58231, 0x911EB4, 0x42D4F4, 0xF032E6, 0xBFEF45, 0xFABED4,
    0x469990, 0xDCBEFF, 0x9A6324, 0xFFFAC8, 0x800000, 0xAAFFC3, 0x808000, 0xFFD8B1, 0x000075, 0xA9A9A9,
  };
  private static final double GOLDEN_ANGLE_DEGREES = 137.50776405003785;

  private final int alpha;
  private final boolean backgroundTransparent;

  /**
   * @param alpha opacity of drawn classes, 0..255
   * @param backgroundTransparent whether class 0 is left undrawn
   */
  public SegmentationPalette(int alpha, boolean backgroundTransparent) {
    if (alpha < 0 || alpha > 255) throw new IllegalArgumentException("alpha must be 0..255: " + alpha);
    this.alpha = alpha;
    this.backgroundTransparent = backgroundTransparent;
  }

  /** {@link #DEFAULT_ALPHA}, class 0 transparent. */
  public static SegmentationPalette standard() {
    return new SegmentationPalette(DEFAULT_ALPHA, true);
  }

  public int getAlpha() {
    return alpha;
  }

  /** Whether class {@code index} is coloured on the overlay (false: the photo shows through). */
  public boolean isDrawn(int index) {
    return !(backgroundTransparent && index == 0) && alpha > 0;
  }

  /** The class's colour, opaque (0xFFRRGGBB): for legend swatches. */
  public int rgb(int index) {
    if (index < 0) throw new IllegalArgumentException("negative class index " + index);
    if (backgroundTransparent && index == 0) return UNDRAWN_RGB;
    int slot = backgroundTransparent ? index - 1 : index;
    return 0xFF000000 | (slot < DISTINCT.length ? DISTINCT[slot] : goldenAngleColour(slot));
  }

  /** The class's overlay colour (ARGB, alpha included); 0 (fully transparent) when not drawn. */
  public int argb(int index) {
    if (!isDrawn(index)) return 0;
    return (alpha << 24) | (rgb(index) & 0xFFFFFF);
  }

  /** {@link #argb} for classes 0 .. count - 1, for lookups in a pixel loop. */
  public int[] table(int count) {
    int[] t = new int[count];
    for (int i = 0; i < count; i++) t[i] = argb(i);
    return t;
  }

  /** Hue slot * golden angle, saturation 0.75, value 0.9: vivid, and distinct from its neighbours. */
  private static int goldenAngleColour(int slot) {
    double hue = (slot * GOLDEN_ANGLE_DEGREES) % 360.0;
    return hsvToRgb(hue, 0.75, 0.9);
  }

  static int hsvToRgb(double hueDegrees, double s, double v) {
    double c = v * s;
    double h = hueDegrees / 60.0;
    double x = c * (1 - Math.abs(h % 2 - 1));
    double r = 0;
    double g = 0;
    double b = 0;
    switch ((int) Math.floor(h) % 6) {
      case 0: r = c; g = x; break;
      case 1: r = x; g = c; break;
      case 2: g = c; b = x; break;
      case 3: g = x; b = c; break;
      case 4: r = x; b = c; break;
      default: r = c; b = x; break;
    }
    double m = v - c;
    return (channel(r + m) << 16) | (channel(g + m) << 8) | channel(b + m);
  }

  private static int channel(double unit) {
    return (int) Math.round(Math.max(0, Math.min(1, unit)) * 255);
  }
}
