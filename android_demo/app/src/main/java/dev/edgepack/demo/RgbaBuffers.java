package dev.edgepack.demo;

import android.graphics.Bitmap;
import dev.edgepack.demo.core.Pixels;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The model's input for either runtime: a uint8 {@code [H, W, 4]} RGBA frame in a direct,
 * native-order buffer (what both {@code Tensor.fromBlobUnsigned(ByteBuffer, long[])} take; neither
 * copies it).
 */
final class RgbaBuffers {
  private RgbaBuffers() {}

  static ByteBuffer allocate(int size) {
    return ByteBuffer.allocateDirect(size).order(ByteOrder.nativeOrder());
  }

  /** The bitmap's pixels as RGBA bytes, straight (not premultiplied) colours. */
  static ByteBuffer fromBitmap(Bitmap bitmap) {
    Bitmap argb = bitmap;
    if (bitmap.getConfig() != Bitmap.Config.ARGB_8888) {
      // e.g. RGB_565 or HARDWARE bitmaps: convert, since only ARGB_8888 stores RGBA bytes
      argb = bitmap.copy(Bitmap.Config.ARGB_8888, false);
      if (argb == null) {
        throw new IllegalStateException("could not convert the image to ARGB_8888");
      }
    }
    int w = argb.getWidth();
    int h = argb.getHeight();
    ByteBuffer buffer = allocate(Pixels.rgbaByteCount(w, h));
    if (!argb.hasAlpha() && argb.getRowBytes() == w * 4) {
      // ARGB_8888 is stored as R, G, B, A bytes: copied as is, no per-pixel work in Java
      argb.copyPixelsToBuffer(buffer);
    } else {
      // with transparency copyPixelsToBuffer would give premultiplied colours; getPixels gives
      // the straight colours that a desktop image loader sees (the model ignores alpha)
      int[] pixels = new int[w * h];
      argb.getPixels(pixels, 0, w, 0, 0, w, h);
      byte[] rgba = new byte[pixels.length * 4];
      Pixels.argbToRgba(pixels, rgba);
      buffer.put(rgba);
    }
    buffer.rewind();
    if (argb != bitmap) {
      argb.recycle();
    }
    return buffer;
  }

  /** RGBA bytes (the benchmark's synthetic image) in a direct buffer. */
  static ByteBuffer fromRgba(byte[] rgba, int width, int height) {
    ByteBuffer buffer = allocate(Pixels.rgbaByteCount(width, height));
    buffer.put(rgba, 0, buffer.capacity());
    buffer.rewind();
    return buffer;
  }
}
