package dev.edgepack.demo.core;

/**
 * A deterministic synthetic RGBA image for benchmarks: the same bytes on every device and on the
 * desktop, so latencies compare like for like (input size matters: the model resizes inside).
 * R ramps left to right, G top to bottom, B is a 32-pixel checkerboard, alpha is opaque.
 */
public final class TestImage {
  public static final int DEFAULT_WIDTH = 640;
  public static final int DEFAULT_HEIGHT = 480;

  private TestImage() {}

  public static byte[] rgba(int width, int height) {
    if (width < 1 || height < 1) throw new IllegalArgumentException("size must be positive");
    byte[] out = new byte[Pixels.rgbaByteCount(width, height)];
    int i = 0;
    for (int y = 0; y < height; y++) {
      int g = height == 1 ? 0 : (int) ((long) y * 255 / (height - 1));
      for (int x = 0; x < width; x++) {
        int r = width == 1 ? 0 : (int) ((long) x * 255 / (width - 1));
        int b = (((x >> 5) + (y >> 5)) & 1) == 0 ? 32 : 224;
        out[i++] = (byte) r;
        out[i++] = (byte) g;
        out[i++] = (byte) b;
        out[i++] = (byte) 255;
      }
    }
    return out;
  }
}
