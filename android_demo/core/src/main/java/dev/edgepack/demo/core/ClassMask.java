package dev.edgepack.demo.core;

/**
 * A class index per pixel, {@code width × height}, row-major: what a segmentation model says about
 * an image. Backed by the model's own uint8 mask (no copy) or by the indices the app computed from
 * per-class maps ({@link #argmax}).
 *
 * <p>After {@link SegmentationOutput#decode} a mask covers exactly the input frame (the letterbox
 * padding cut away), whatever its resolution: frame pixel {@code (x, y)} is mask pixel {@code
 * (floor((x + 0.5) * width / W), floor((y + 0.5) * height / H))}, the nearest one, and so is a
 * pixel of any scaled preview of the frame ({@link MaskOverlay}).
 */
public final class ClassMask {
  private final int width;
  private final int height;
  private final byte[] bytes;
  private final int[] ints;

  private ClassMask(int width, int height, byte[] bytes, int[] ints) {
    if (width < 1 || height < 1) throw new IllegalArgumentException("empty mask " + width + "x" + height);
    long n = (long) width * height;
    int length = bytes != null ? bytes.length : ints.length;
    if (n != length) {
      throw new IllegalArgumentException(length + " values for a " + width + "x" + height + " mask");
    }
    this.width = width;
    this.height = height;
    this.bytes = bytes;
    this.ints = ints;
  }

  /** A uint8 mask (values 0..255 in Java's signed bytes), kept without copying. */
  public static ClassMask ofUint8(byte[] values, int width, int height) {
    return new ClassMask(width, height, values, null);
  }

  /** Class indices (each 0 or more), kept without copying. */
  public static ClassMask ofIndices(int[] values, int width, int height) {
    for (int v : values) {
      if (v < 0) throw new IllegalArgumentException("negative class index " + v);
    }
    return new ClassMask(width, height, null, values);
  }

  /**
   * The most likely class of each pixel of {@code [k, h, w]} per-class maps (row-major, map after
   * map): the index of the largest value, the lowest index on ties. With one sigmoid map ({@code
   * binarySigmoid}): class 1 where the value is above {@link SegmentationSpec#SIGMOID_THRESHOLD},
   * else 0. The values must be finite ({@link SegmentationOutput} checks that first).
   */
  public static ClassMask argmax(float[] maps, int k, int h, int w, boolean binarySigmoid) {
    if (k < 1 || h < 1 || w < 1) throw new IllegalArgumentException("bad map shape");
    int hw = Math.multiplyExact(h, w);
    if (maps.length != (long) k * hw) {
      throw new IllegalArgumentException(maps.length + " values for [" + k + ", " + h + ", " + w + "] maps");
    }
    int[] best = new int[hw];
    if (binarySigmoid) {
      if (k != 1) throw new IllegalArgumentException("a binary sigmoid output has one map, not " + k);
      for (int i = 0; i < hw; i++) best[i] = maps[i] > SegmentationSpec.SIGMOID_THRESHOLD ? 1 : 0;
      return new ClassMask(w, h, null, best);
    }
    // map by map, so each pass reads memory in order (k maps of h*w floats)
    float[] bestValue = new float[hw];
    System.arraycopy(maps, 0, bestValue, 0, hw);
    for (int c = 1; c < k; c++) {
      int offset = c * hw;
      for (int i = 0; i < hw; i++) {
        float v = maps[offset + i];
        if (v > bestValue[i]) {
          bestValue[i] = v;
          best[i] = c;
        }
      }
    }
    return new ClassMask(w, h, null, best);
  }

  public int getWidth() {
    return width;
  }

  public int getHeight() {
    return height;
  }

  /** The class of pixel {@code i} in row-major order. */
  public int get(int i) {
    return bytes != null ? bytes[i] & 0xff : ints[i];
  }

  /** The class at column {@code x}, row {@code y}. */
  public int classAt(int x, int y) {
    if (x < 0 || y < 0 || x >= width || y >= height) {
      throw new IndexOutOfBoundsException("(" + x + ", " + y + ") outside " + width + "x" + height);
    }
    return get(y * width + x);
  }

  /** The largest class index present. */
  public int maxClass() {
    int max = 0;
    int n = width * height;
    for (int i = 0; i < n; i++) max = Math.max(max, get(i));
    return max;
  }

  /** The part of the mask inside {@code box} (which must lie within it), as a mask of its own. */
  public ClassMask crop(MaskBox box) {
    if (box.left + box.width > width || box.top + box.height > height) {
      throw new IllegalArgumentException("box " + box + " outside a " + width + "x" + height + " mask");
    }
    if (box.left == 0 && box.top == 0 && box.width == width && box.height == height) return this;
    int[] out = new int[box.width * box.height];
    for (int y = 0; y < box.height; y++) {
      int src = (box.top + y) * width + box.left;
      for (int x = 0; x < box.width; x++) out[y * box.width + x] = get(src + x);
    }
    return new ClassMask(box.width, box.height, null, out);
  }
}
