package dev.edgepack.demo.core;

/**
 * The rectangle of a model's per-class maps that shows the input frame. The model resized the frame
 * into its network input of {@code netWidth × netHeight} pixels and the maps are at that
 * resolution, so only this box of them corresponds to the photo:
 *
 * <ul>
 *   <li>squash: the whole map (the frame was stretched to fill it);
 *   <li>letterbox: the frame was scaled by {@code s = min(h / H, w / W)} to {@code (round(H s),
 *       round(W s))} and centred, with {@code pad_top = (h - rh) // 2} and {@code pad_left = (w -
 *       rw) // 2}; the padding shows nothing of the photo and must not be drawn on it.
 * </ul>
 *
 * <p>{@code round} is Python's (and TorchScript's): halves go to the even neighbour, so this uses
 * {@link Math#rint}, not {@link Math#round}, to land on the same pixel as the model's own
 * preprocessing.
 */
public final class MaskBox {
  public final int left;
  public final int top;
  public final int width;
  public final int height;

  public MaskBox(int left, int top, int width, int height) {
    if (left < 0 || top < 0 || width < 1 || height < 1) {
      throw new IllegalArgumentException("bad box " + left + "," + top + " " + width + "x" + height);
    }
    this.left = left;
    this.top = top;
    this.width = width;
    this.height = height;
  }

  /** The whole {@code width × height} map (a squashed frame, or a mask at the frame's resolution). */
  public static MaskBox whole(int width, int height) {
    return new MaskBox(0, 0, width, height);
  }

  /**
   * Where a {@code frameWidth × frameHeight} frame lies in a {@code netWidth × netHeight} network
   * input after letterboxing. A side that would round to 0 pixels (a frame far more elongated than
   * the network input) is kept at 1, the smallest box that still shows it.
   */
  public static MaskBox letterbox(int frameWidth, int frameHeight, int netWidth, int netHeight) {
    if (frameWidth < 1 || frameHeight < 1 || netWidth < 1 || netHeight < 1) {
      throw new IllegalArgumentException("sizes must be positive");
    }
    double s = Math.min((double) netHeight / frameHeight, (double) netWidth / frameWidth);
    int rh = clamp((int) Math.rint(frameHeight * s), netHeight);
    int rw = clamp((int) Math.rint(frameWidth * s), netWidth);
    return new MaskBox((netWidth - rw) / 2, (netHeight - rh) / 2, rw, rh);
  }

  /** The box for {@code policy}: {@link #whole} for squash, {@link #letterbox} for letterbox. */
  public static MaskBox forPolicy(
      SegmentationSpec.ResizePolicy policy, int frameWidth, int frameHeight, int netWidth, int netHeight) {
    return policy == SegmentationSpec.ResizePolicy.LETTERBOX
        ? letterbox(frameWidth, frameHeight, netWidth, netHeight)
        : whole(netWidth, netHeight);
  }

  private static int clamp(int side, int max) {
    return Math.max(1, Math.min(side, max));
  }

  @Override
  public boolean equals(Object o) {
    if (!(o instanceof MaskBox)) return false;
    MaskBox b = (MaskBox) o;
    return left == b.left && top == b.top && width == b.width && height == b.height;
  }

  @Override
  public int hashCode() {
    return ((left * 31 + top) * 31 + width) * 31 + height;
  }

  @Override
  public String toString() {
    return width + "x" + height + "+" + left + "+" + top;
  }
}
