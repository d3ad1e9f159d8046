package dev.edgepack.demo.core;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * The manifest's {@code input}. For {@code kind == "image"}: a uint8 {@code [H, W, C]} tensor, C in
 * {@link #getChannels()}. For {@code kind == "tensor"}: a float tensor of {@link #getShape()} that
 * the user preprocesses themselves (the demo app refuses those).
 */
public final class InputSpec {
  public static final String KIND_IMAGE = "image";
  public static final String KIND_TENSOR = "tensor";
  /**
   * Not written by edgepack (its float input is "tensor"); refused with the same advice as
   * "tensor" should a manifest use it.
   */
  public static final String KIND_FLOAT = "float";

  private final String kind;
  private final String dtype;
  private final String layout;
  private final List<Integer> channels;
  private final String color;
  private final int minSide;
  private final int maxSide;
  private final boolean downscaleOk;
  private final List<Long> shape;

  InputSpec(
      String kind,
      String dtype,
      String layout,
      List<Integer> channels,
      String color,
      int minSide,
      int maxSide,
      boolean downscaleOk,
      List<Long> shape) {
    this.kind = kind;
    this.dtype = dtype;
    this.layout = layout;
    this.channels = Collections.unmodifiableList(new ArrayList<>(channels));
    this.color = color;
    this.minSide = minSide;
    this.maxSide = maxSide;
    this.downscaleOk = downscaleOk;
    this.shape = shape == null ? null : Collections.unmodifiableList(new ArrayList<>(shape));
  }

  /** "image", "tensor", or whatever a newer edgepack wrote (null if absent). */
  public String getKind() {
    return kind;
  }

  public boolean isImage() {
    return KIND_IMAGE.equals(kind);
  }

  /** "uint8" for image input (the default when absent), "float32" for tensor input. */
  public String getDtype() {
    return dtype;
  }

  /** "HWC" for image input (the default when absent), "NCHW" for tensor input. */
  public String getLayout() {
    return layout;
  }

  /** Accepted channel counts for image input; [3, 4] when absent. */
  public List<Integer> getChannels() {
    return channels;
  }

  public boolean acceptsChannels(int c) {
    return channels.contains(c);
  }

  /** Channel order of the first three channels; "RGB" when absent. */
  public String getColor() {
    return color;
  }

  /** Smallest accepted side in pixels (1 when absent). */
  public int getMinSide() {
    return minSide;
  }

  /** Largest accepted side in pixels ({@link Integer#MAX_VALUE} when absent). */
  public int getMaxSide() {
    return maxSide;
  }

  /** Whether the app may shrink large images before inference (false when absent). */
  public boolean isDownscaleOk() {
    return downscaleOk;
  }

  /** The fixed shape for tensor input, or null. */
  public List<Long> getShape() {
    return shape;
  }
}
