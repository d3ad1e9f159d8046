package dev.edgepack.demo.core;

/** Pixel packing helpers for the uint8 HWC input. */
public final class Pixels {
  private Pixels() {}

  /** Bytes of an RGBA image of the given size, checked against int overflow. */
  public static int rgbaByteCount(int width, int height) {
    long n = (long) width * height * 4L;
    if (width < 0 || height < 0 || n > Integer.MAX_VALUE) {
      throw new IllegalArgumentException("image too large: " + width + "x" + height);
    }
    return (int) n;
  }

  /**
   * Converts {@code Bitmap.getPixels()}-style ARGB ints (unpremultiplied, row-major) into RGBA
   * bytes, the layout of the model's {@code [H, W, 4]} input. Used for bitmaps with alpha, where
   * {@code copyPixelsToBuffer} would give premultiplied colours.
   */
  public static void argbToRgba(int[] argb, byte[] rgba) {
    if (rgba.length < argb.length * 4) {
      throw new IllegalArgumentException("output buffer too small");
    }
    for (int i = 0, j = 0; i < argb.length; i++, j += 4) {
      int c = argb[i];
      rgba[j] = (byte) (c >>> 16);
      rgba[j + 1] = (byte) (c >>> 8);
      rgba[j + 2] = (byte) c;
      rgba[j + 3] = (byte) (c >>> 24);
    }
  }

  /** Inverse of {@link #argbToRgba} for one pixel at byte offset {@code offset}. */
  public static int rgbaToArgb(byte[] rgba, int offset) {
    return ((rgba[offset + 3] & 0xff) << 24)
        | ((rgba[offset] & 0xff) << 16)
        | ((rgba[offset + 1] & 0xff) << 8)
        | (rgba[offset + 2] & 0xff);
  }
}
