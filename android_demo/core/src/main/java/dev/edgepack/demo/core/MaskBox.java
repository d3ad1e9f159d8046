package dev.edgepack.demo.core;

/**
 * A rectangle of pixels: where the input frame lies in the network input, or in the per-class maps
 * the network returns. The model resized the frame into its network input of {@code netWidth ×
 * netHeight} pixels and returns maps of {@code mapWidth × mapHeight}, which need not be the same
 * size (edgepack's light decoder returns stride-4 maps, 32×32 for a 128×128 input; smp and
 * torchvision models return maps at the input's size), so only one box of the maps shows the photo:
 *
 * <ul>
 *   <li>squash: the whole map (the frame was stretched to fill the input);
 *   <li>letterbox: the frame was scaled to fit, {@code (rh, rw) = (round(H / ratio), round(W /
 *       ratio))} with {@code ratio = max(H / net_h, W / net_w)}, and centred with {@code top =
 *       (net_h - rh) // 2} and {@code left = (net_w - rw) // 2} ({@link #letterbox}); that box, in
 *       network input pixels, then scales to map pixels by {@code h / net_h} vertically and {@code
 *       w / net_w} horizontally ({@link #scaledTo}). The padding shows nothing of the photo and
 *       must not be drawn on it.
 * </ul>
 *
 * <p>This is edgepack's {@code Predictor.frame_mask} (and the manifest's {@code
 * output.frame_mapping} text) to the bit: the same double arithmetic and Python's (and
 * TorchScript's) {@code round}, where halves go to the even neighbour, so {@link Math#rint} and not
 * {@link Math#round}. A pixel off at the edge of the box would shift the whole overlay.
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
   * input after letterboxing, in network input pixels.
   *
   * <p>The scaled size is computed as the model's preprocessing computes it (timm's {@code
   * ResizeKeepRatio}): {@code H / ratio} with {@code ratio = max(H / net_h, W / net_w)}, not as
   * {@code H * s} with {@code s = min(net_h / H, net_w / W)}. The two are equal on paper, but the
   * doubles differ in the last bit for some sizes, and when the exact value is a half that bit
   * decides the rounding: a 576×9 frame into a 224×224 input is {@code 9 / (576 / 224) =
   * 3.4999999999999996}, 3 rows, but {@code 9 * (224 / 576) = 3.5}, 4 rows.
   *
   * <p>A side that would round to 0 pixels (a frame far more elongated than the network input) is
   * kept at 1, as the model does.
   */
  public static MaskBox letterbox(int frameWidth, int frameHeight, int netWidth, int netHeight) {
    if (frameWidth < 1 || frameHeight < 1 || netWidth < 1 || netHeight < 1) {
      throw new IllegalArgumentException("sizes must be positive");
    }
    double ratio = Math.max((double) frameHeight / netHeight, (double) frameWidth / netWidth);
    int rh = clamp((int) Math.rint(frameHeight / ratio), netHeight);
    int rw = clamp((int) Math.rint(frameWidth / ratio), netWidth);
    return new MaskBox((netWidth - rw) / 2, (netHeight - rh) / 2, rw, rh);
  }

  /**
   * This box of a {@code netWidth × netHeight} network input, in the pixels of a {@code mapWidth ×
   * mapHeight} map of that input: each edge scaled by {@code mapHeight / netHeight} (rows) or
   * {@code mapWidth / netWidth} (columns) and rounded half to even, as {@code
   * mask[round(top*sy):round((top+rh)*sy), round(left*sx):round((left+rw)*sx)]} in Python.
   *
   * <p>Where the box is so thin that both its edges round to the same map row (or column), Python's
   * slice would be empty; the app keeps that one row (column) instead, the nearest the map has to
   * the frame (e.g. a 1920×16 frame into a 128×128 input with 32×32 maps: 1 input row, 63, which is
   * map rows 15.75 to 16, so map row 16).
   */
  public MaskBox scaledTo(int netWidth, int netHeight, int mapWidth, int mapHeight) {
    if (netWidth < 1 || netHeight < 1 || mapWidth < 1 || mapHeight < 1) {
      throw new IllegalArgumentException("sizes must be positive");
    }
    if (left + width > netWidth || top + height > netHeight) {
      throw new IllegalArgumentException("box " + this + " outside a " + netWidth + "x" + netHeight + " input");
    }
    double sy = (double) mapHeight / netHeight;
    double sx = (double) mapWidth / netWidth;
    int y0 = edge(top * sy, mapHeight);
    int y1 = edge((top + height) * sy, mapHeight);
    int x0 = edge(left * sx, mapWidth);
    int x1 = edge((left + width) * sx, mapWidth);
    y0 = Math.min(y0, mapHeight - 1);
    x0 = Math.min(x0, mapWidth - 1);
    return new MaskBox(x0, y0, Math.max(1, x1 - x0), Math.max(1, y1 - y0));
  }

  /**
   * The box of {@code mapWidth × mapHeight} per-class maps that shows a {@code frameWidth ×
   * frameHeight} frame, for a network input of {@code netWidth × netHeight} resized with {@code
   * policy}: {@link #whole} map for squash, {@link #letterbox} then {@link #scaledTo} for letterbox.
   */
  public static MaskBox forPolicy(
      SegmentationSpec.ResizePolicy policy, int frameWidth, int frameHeight,
      int netWidth, int netHeight, int mapWidth, int mapHeight) {
    if (policy != SegmentationSpec.ResizePolicy.LETTERBOX) return whole(mapWidth, mapHeight);
    return letterbox(frameWidth, frameHeight, netWidth, netHeight)
        .scaledTo(netWidth, netHeight, mapWidth, mapHeight);
  }

  private static int clamp(int side, int max) {
    return Math.max(1, Math.min(side, max));
  }

  /** A scaled edge rounded half to even, within 0..size. */
  private static int edge(double scaled, int size) {
    return (int) Math.max(0, Math.min(Math.rint(scaled), size));
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
