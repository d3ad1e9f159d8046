package dev.edgepack.demo;

import android.graphics.Bitmap;
import dev.edgepack.demo.core.Pixels;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.pytorch.Tensor;

/** Builds the model's input: a uint8 tensor [H, W, 4] of RGBA pixels. */
final class Tensors {
  private Tensors() {}

  /** A direct, native-order buffer of exactly {@code size} bytes (what Tensor.fromBlobUnsigned needs). */
  static ByteBuffer allocate(int size) {
    return ByteBuffer.allocateDirect(size).order(ByteOrder.nativeOrder());
  }

  /** The bitmap's pixels as a uint8 {@code [H, W, 4]} RGBA tensor. */
  static Tensor fromBitmap(Bitmap bitmap) {
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
    return Tensor.fromBlobUnsigned(buffer, new long[] {h, w, 4});
  }

  /** A uint8 {@code [H, W, 4]} tensor from RGBA bytes (the benchmark's synthetic image). */
  static Tensor fromRgba(byte[] rgba, int width, int height) {
    ByteBuffer buffer = allocate(Pixels.rgbaByteCount(width, height));
    buffer.put(rgba, 0, buffer.capacity());
    buffer.rewind();
    return Tensor.fromBlobUnsigned(buffer, new long[] {height, width, 4});
  }
}
