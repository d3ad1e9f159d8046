package dev.edgepack.demo.core;

/**
 * Draws a class mask over a photo, on ARGB int arrays (what Android's {@code Bitmap.getPixels} and
 * {@code setPixels} use: straight, not premultiplied, colours), so the drawing is JVM-tested and
 * the app only copies pixels in and out of bitmaps.
 *
 * <p>The mask and the photo may have different resolutions: the screen shows a scaled preview of
 * the photo, the mask is at the photo's or the network's resolution. Each photo pixel takes the
 * class of the nearest mask pixel, {@code floor((x + 0.5) * maskWidth / photoWidth)} (likewise for
 * rows), which is how an image scaled by pixel centres lines up: the overlay stays on the objects
 * at any preview size, and class boundaries stay hard (a class is never blended with its
 * neighbour).
 */
public final class MaskOverlay {
  private MaskOverlay() {}

  /**
   * For each of {@code dstSize} pixels along one axis, the nearest of {@code srcSize} pixels when
   * both span the same extent (pixel centres mapped, so both ends line up).
   */
  public static int[] nearest(int dstSize, int srcSize) {
    if (dstSize < 1 || srcSize < 1) throw new IllegalArgumentException("sizes must be positive");
    int[] map = new int[dstSize];
    for (int i = 0; i < dstSize; i++) {
      long src = ((2L * i + 1) * srcSize) / (2L * dstSize); // floor((i + 0.5) * src / dst), exact
      map[i] = (int) Math.min(src, srcSize - 1);
    }
    return map;
  }

  /** The mask's overlay colours, one ARGB int per mask pixel ({@link SegmentationPalette#argb}). */
  public static int[] colorize(ClassMask mask, SegmentationPalette palette) {
    int[] table = palette.table(mask.maxClass() + 1);
    int n = mask.getWidth() * mask.getHeight();
    int[] out = new int[n];
    for (int i = 0; i < n; i++) out[i] = table[mask.get(i)];
    return out;
  }

  /**
   * {@code photo} ({@code photoWidth × photoHeight}) with {@code overlay} ({@code overlayWidth ×
   * overlayHeight} ARGB, scaled to the photo by nearest neighbour) blended over it by each overlay
   * pixel's alpha. Returns a new array; the photo's own alpha is kept.
   */
  public static int[] blend(
      int[] photo, int photoWidth, int photoHeight, int[] overlay, int overlayWidth, int overlayHeight) {
    checkSize(photo, photoWidth, photoHeight, "photo");
    checkSize(overlay, overlayWidth, overlayHeight, "overlay");
    int[] xs = nearest(photoWidth, overlayWidth);
    int[] ys = nearest(photoHeight, overlayHeight);
    int[] out = new int[photo.length];
    for (int y = 0; y < photoHeight; y++) {
      int row = y * photoWidth;
      int src = ys[y] * overlayWidth;
      for (int x = 0; x < photoWidth; x++) out[row + x] = blendPixel(photo[row + x], overlay[src + xs[x]]);
    }
    return out;
  }

  /**
   * {@code photo} with the mask's classes blended over it in {@code palette}'s colours: the same as
   * {@link #blend(int[], int, int, int[], int, int)} with {@link #colorize}, without the
   * mask-sized colour array.
   */
  public static int[] blend(
      int[] photo, int photoWidth, int photoHeight, ClassMask mask, SegmentationPalette palette) {
    checkSize(photo, photoWidth, photoHeight, "photo");
    int[] table = palette.table(mask.maxClass() + 1);
    int maskWidth = mask.getWidth();
    int[] xs = nearest(photoWidth, maskWidth);
    int[] ys = nearest(photoHeight, mask.getHeight());
    int[] out = new int[photo.length];
    for (int y = 0; y < photoHeight; y++) {
      int row = y * photoWidth;
      int src = ys[y] * maskWidth;
      for (int x = 0; x < photoWidth; x++) {
        out[row + x] = blendPixel(photo[row + x], table[mask.get(src + xs[x])]);
      }
    }
    return out;
  }

  /**
   * One photo pixel under one overlay colour: {@code photo * (1 - a) + colour * a} per channel,
   * {@code a} the overlay's alpha, rounded; the photo's alpha is kept.
   */
  public static int blendPixel(int photo, int overlay) {
    int a = overlay >>> 24;
    if (a == 0) return photo;
    int inv = 255 - a;
    int r = mix((photo >>> 16) & 0xff, (overlay >>> 16) & 0xff, a, inv);
    int g = mix((photo >>> 8) & 0xff, (overlay >>> 8) & 0xff, a, inv);
    int b = mix(photo & 0xff, overlay & 0xff, a, inv);
    return (photo & 0xFF000000) | (r << 16) | (g << 8) | b;
  }

  private static int mix(int p, int c, int a, int inv) {
    return (p * inv + c * a + 127) / 255;
  }

  private static void checkSize(int[] pixels, int width, int height, String what) {
    if (width < 1 || height < 1 || (long) width * height != pixels.length) {
      throw new IllegalArgumentException(
          what + ": " + pixels.length + " pixels for " + width + "x" + height);
    }
  }
}
