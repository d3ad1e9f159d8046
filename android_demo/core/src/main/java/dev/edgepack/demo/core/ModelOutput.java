package dev.edgepack.demo.core;

import java.util.Arrays;

/**
 * A copy of the tensor a model's {@code forward} returned, independent of the runtime that ran it
 * (ExecuTorch and PyTorch Lite each have their own {@code Tensor} class): its dtype, shape and
 * values. The checks ({@link OutputCheck}) and the segmentation code work on this, so they run on
 * the JVM without either runtime.
 *
 * <p>Only the dtypes edgepack files return are kept with their values: float32 (classifier scores,
 * embeddings, per-class maps) and uint8 (class masks). Any other dtype is kept by name only, so the
 * app can say what it got instead of failing inside a runtime's conversion.
 */
public final class ModelOutput {

  /** The element type. */
  public enum DType {
    FLOAT32,
    UINT8,
    /** Anything else; {@link #getDtypeName()} says what. */
    OTHER
  }

  private final DType dtype;
  private final String dtypeName;
  private final long[] shape;
  private final float[] floats;
  private final byte[] bytes;

  private ModelOutput(DType dtype, String dtypeName, long[] shape, float[] floats, byte[] bytes) {
    if (shape == null) throw new IllegalArgumentException("shape is required");
    int length = floats != null ? floats.length : bytes != null ? bytes.length : -1;
    if (length >= 0 && elementCount(shape) != length) {
      throw new IllegalArgumentException(length + " values for shape " + Arrays.toString(shape));
    }
    this.dtype = dtype;
    this.dtypeName = dtypeName;
    this.shape = shape.clone();
    this.floats = floats;
    this.bytes = bytes;
  }

  /** A float32 tensor; {@code values} is kept, not copied. */
  public static ModelOutput float32(long[] shape, float[] values) {
    if (values == null) throw new IllegalArgumentException("values are required");
    return new ModelOutput(DType.FLOAT32, "float32", shape, values, null);
  }

  /** A uint8 tensor (values 0..255 stored in Java's signed bytes); {@code values} is kept. */
  public static ModelOutput uint8(long[] shape, byte[] values) {
    if (values == null) throw new IllegalArgumentException("values are required");
    return new ModelOutput(DType.UINT8, "uint8", shape, null, values);
  }

  /** A tensor of a dtype the app does not read, e.g. "int64"; its values are not kept. */
  public static ModelOutput other(String dtypeName, long[] shape) {
    return new ModelOutput(DType.OTHER, dtypeName == null ? "unknown" : dtypeName, shape, null, null);
  }

  public DType getDtype() {
    return dtype;
  }

  /** "float32", "uint8", or the runtime's name for another dtype. */
  public String getDtypeName() {
    return dtypeName;
  }

  /** The tensor's shape (a copy). */
  public long[] getShape() {
    return shape.clone();
  }

  /** The shape as text, e.g. "[480, 640]". */
  public String shapeText() {
    return Arrays.toString(shape);
  }

  /** True when the shape is exactly {@code expected}. */
  public boolean hasShape(long... expected) {
    return Arrays.equals(shape, expected);
  }

  /** The number of values the shape names (-1 when negative sizes or overflow make it meaningless). */
  public long elementCount() {
    return elementCount(shape);
  }

  private static long elementCount(long[] shape) {
    long n = 1;
    for (long d : shape) {
      if (d < 0 || (d > 0 && n > Long.MAX_VALUE / d)) return -1;
      n *= d;
    }
    return n;
  }

  /** The float32 values (not a copy); null for other dtypes. */
  public float[] floats() {
    return floats;
  }

  /** The uint8 values as Java bytes (read with {@code & 0xff}; not a copy); null for other dtypes. */
  public byte[] bytes() {
    return bytes;
  }

  @Override
  public String toString() {
    return "ModelOutput(" + dtypeName + ", " + shapeText() + ")";
  }
}
