package dev.edgepack.demo;

import android.graphics.Bitmap;
import dev.edgepack.demo.core.ClassMask;
import dev.edgepack.demo.core.MaskOverlay;
import dev.edgepack.demo.core.SegmentationPalette;

/**
 * Bitmap in, bitmap out around {@link MaskOverlay}: the drawing itself (nearest-neighbour mapping
 * of the mask onto the preview, colours, blending) is in {@code core} and JVM-tested; this only
 * copies pixels. Runs on {@link TorchThread}, never on the UI thread.
 */
final class SegmentationBitmaps {
  private SegmentationBitmaps() {}

  /**
   * A new ARGB_8888 bitmap of {@code preview}'s size: the preview with the mask's classes blended
   * over it. The mask covers the frame the model was given, which shows the same picture as the
   * preview at another size, so the classes land on their objects.
   */
  static Bitmap overlay(Bitmap preview, ClassMask mask, SegmentationPalette palette) {
    Bitmap src = preview;
    if (preview.getConfig() != Bitmap.Config.ARGB_8888) {
      src = preview.copy(Bitmap.Config.ARGB_8888, false);
      if (src == null) throw new IllegalStateException("could not convert the preview to ARGB_8888");
    }
    int w = src.getWidth();
    int h = src.getHeight();
    int[] pixels = new int[w * h];
    src.getPixels(pixels, 0, w, 0, 0, w, h); // straight (not premultiplied) ARGB, as core expects
    if (src != preview) src.recycle();
    int[] blended = MaskOverlay.blend(pixels, w, h, mask, palette);
    return Bitmap.createBitmap(blended, w, h, Bitmap.Config.ARGB_8888);
  }
}
